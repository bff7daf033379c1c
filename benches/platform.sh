#!/usr/bin/env bash
# Platform benchmark for `wisp serve`:
#  1. deploy to live for a ~50 KB bundle (a TypeScript project of two modules, new code each
#     time so nothing comes from the cache): the server's stage timings and the wall time from
#     the upload to the first 200 from the new version;
#  2. N small functions (default 1000) deployed on one server: all must answer correctly; the
#     server's RSS and the data directory's size; then a restart with everything cached: time
#     from process start to "all N serve".
#
#   benches/platform.sh [N]         (needs curl and jq)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
command -v jq >/dev/null || { echo "jq is needed: apt-get install jq" >&2; exit 1; }
cargo build --release -q --bin wisp
target=${CARGO_TARGET_DIR:-target}
wisp=$(realpath "$target/release/wisp")
work=$(mktemp -d)
data=$work/data
token=bench-token
port=18180
admin=18181
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
export WISP_ADMIN_TOKEN=$token

start() {
  "$wisp" serve --data-dir "$data" --listen 127.0.0.1:$port --admin-listen 127.0.0.1:$admin \
    --log-level info >"$work/stdout" 2>>"$work/stderr" &
  pid=$!
  for _ in $(seq 1 3000); do
    curl -fs http://127.0.0.1:$port/_wisp/health >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "wisp serve did not come up" >&2; cat "$work/stderr" >&2; exit 1
}
deploy() { # name file-or-tgz
  curl -fsS -X PUT -H "Authorization: Bearer $token" --data-binary @"$2" \
    "http://127.0.0.1:$admin/_wisp/api/v1/functions/$1"
}
rss_kib() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }

start_ns=$(date +%s%N)
start
echo "empty server: start to first health 200 in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"

# 1. Deploy to live, ~50 KB bundle.
proj=$work/proj
mkdir -p "$proj"
echo "== deploy to live (~50 KB bundle, TypeScript project, uncached each time)"
for run in 1 2 3 4 5; do
  {
    echo "export const table: Record<string, number> = {"
    for i in $(seq 1 2600); do echo "  key_${run}_$i: $i,"; done
    echo "};"
  } >"$proj/data.ts"
  cat >"$proj/index.ts" <<TS
import { table } from './data';
export default { fetch(req: Request): Response { return new Response('run $run ' + Object.keys(table).length); } };
TS
  tar -czf "$work/proj.tgz" -C "$proj" .
  t0=$(date +%s%N)
  report=$(deploy big "$work/proj.tgz")
  until [ "$(curl -fs http://127.0.0.1:$port/big/)" = "run $run 2600" ]; do sleep 0.001; done
  live_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "run $run: live after $live_ms ms (upload $(stat -c %s "$work/proj.tgz") B);" \
    "server: $(echo "$report" | jq -r '[.stages[] | "\(.stage) \(.ms)"] | join(", ")'), total $(echo "$report" | jq .total_ms) ms"
done
bundle_bytes=$(curl -fsS -H "Authorization: Bearer $token" http://127.0.0.1:$admin/_wisp/api/v1/functions/big | jq '.versions[-1].bundle_bytes')
echo "bundle size: $bundle_bytes bytes"

# 2. N small functions.
echo "== $n small functions"
t0=$(date +%s%N)
for i in $(seq 1 "$n"); do
  printf "addEventListener('fetch', (e) => e.respondWith(new Response('fn %s')));\n" "$i" >"$work/f.js"
  deploy "f-$i" "$work/f.js" >/dev/null
done
deploy_s=$(( ($(date +%s%N) - t0) / 1000000000 ))
echo "deployed $n functions in $deploy_s s"
bad=0
for i in $(seq 1 "$n"); do
  [ "$(curl -fs http://127.0.0.1:$port/f-$i/)" = "fn $i" ] || bad=$((bad + 1))
done
echo "wrong answers: $bad of $n"
echo "server RSS after deploying and calling all: $(( $(rss_kib) / 1024 )) MiB"
echo "data dir: $(du -sh "$data" | cut -f1) (registry $(du -sh "$data/functions" | cut -f1), compiled cache $(du -sh "$data/cache" | cut -f1))"

kill -TERM $pid; wait $pid || true
start_ns=$(date +%s%N)
start
up_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
[ "$(curl -fs http://127.0.0.1:$port/f-$n/)" = "fn $n" ] || { echo "f-$n wrong after restart" >&2; exit 1; }
echo "restart with $n+1 functions cached: serving after $up_ms ms; $(grep -o 'from_cache=[0-9]*' "$work/stderr" | tail -1 || true)"
bad=0
for i in $(seq 1 "$n"); do
  [ "$(curl -fs http://127.0.0.1:$port/f-$i/)" = "fn $i" ] || bad=$((bad + 1))
done
echo "wrong answers after restart: $bad of $n"
echo "server RSS after restart and calling all: $(( $(rss_kib) / 1024 )) MiB"
