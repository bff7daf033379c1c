#!/usr/bin/env bash
# HTTP load benchmark: Wisp serving js-examples/hello, Wisp serving the Rust example component
# (rust-examples/edge-handler, precompiled with `wisp compile`), and a native hyper server with the
# same routes (the floor), in the same run, with wrk. Prints requests/s, p50 and p99 per route,
# Wisp's start time (process start to first 200) with a warm cache, and the component's cold
# start (its first request after the server started on a cached .cwasm).
#
#   benches/load.sh [DURATION_S] [CONNECTIONS]      (needs wrk: apt-get install wrk)
#
# With WORKERD=/path/to/workerd, Cloudflare's workerd serves the same routes
# (benches/peers/workerd) in the same run, as the peer to beat. It is not installed by the
# set-up; `npm install workerd` in a scratch directory fetches the binary
# (node_modules/@cloudflare/workerd-linux-64/bin/workerd).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release -q --bin wisp --example hyper-floor
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
(cd rust-examples/edge-handler && cargo build --release -q --target wasm32-wasip2 --target-dir "$target/wasm32-wasip2")
rust_wasm=$target/wasm32-wasip2/wasm32-wasip2/release/edge_handler.wasm
wisp=$target/release/wisp
floor=$target/release/examples/hyper-floor
cache=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$cache"' EXIT

post_lua=$(mktemp --suffix=.lua)
cat >"$post_lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"wisp","tags":["edge","wasm"],"n":42}'
wrk.headers["Content-Type"] = "application/json"
LUA

# Start times are taken with bash's own clock ($EPOCHREALTIME) and a raw-socket request
# (/dev/tcp), which also waits for the other servers: on this VM a `date` or `curl` process
# costs 4-13 ms to spawn, more than what is being measured.
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
probe() { # port: one GET /api/health; true on a 200
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  local line; read -r line <&3; exec 3<&-
  [[ $line == *" 200 "* ]]
}
wait_probe() { local t0; t0=$(now_us); until probe "$1" 2>/dev/null; do (( $(now_us) - t0 < 10000000 )) || { echo "port $1 did not come up" >&2; exit 1; }; done; }

# Warm the compiled-snapshot cache, then time cold process starts against it: five of them,
# as one start varies with what the machine is doing; the median is reported. The last one
# stays up for the load runs.
"$wisp" check js-examples/hello/index.js --cache-dir "$cache" --env EDGE_REGION=bench >/dev/null
starts=()
for i in 1 2 3 4 5; do
  t0=$(now_us)
  "$wisp" run js-examples/hello/index.js --listen 127.0.0.1:18080 --cache-dir "$cache" --env EDGE_REGION=bench --log-level warn >/dev/null &
  wait_probe 18080
  starts+=($(( ($(now_us) - t0) / 1000 )))
  if [ "$i" -lt 5 ]; then kill $! && wait $! 2>/dev/null || true; fi
done
start_ms=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 3p)
wisp_pid=$!

# The component: compiled ahead of time, then a fresh server; its first request is the cold start.
"$wisp" compile "$rust_wasm" -o "$cache/edge.cwasm" --cache-dir "$cache" 2>/dev/null
rust_out=$(mktemp)
t0=$(now_us)
"$wisp" run "$cache/edge.cwasm" --listen 127.0.0.1:18070 --cache-dir "$cache" --log-level warn >"$rust_out" &
rust_pid=$!
until grep -q serving "$rust_out"; do (( $(now_us) - t0 < 10000000 )) || { echo "the component server did not start" >&2; exit 1; }; done
t1=$(now_us)
probe 18070 || { echo "the component's first request failed" >&2; exit 1; }
t2=$(now_us)
rust_first_ms=$(awk -v us=$((t2 - t1)) 'BEGIN { printf "%.1f", us / 1000 }')
rust_start_ms=$(( (t2 - t0) / 1000 ))
rm -f "$rust_out"

EDGE_REGION=bench "$floor" 127.0.0.1:18090 >/dev/null &
floor_pid=$!
wait_probe 18090

if [ -n "${WORKERD:-}" ]; then
  "$WORKERD" serve benches/peers/workerd/config.capnp >/dev/null 2>&1 &
  workerd_pid=$!
  wait_probe 18060
fi

# CPU time (user + system, all threads) a process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))

run() { # name pid url [lua]
  local out before after lua=()
  [ -n "${4:-}" ] && lua=(-s "$4")
  # Two seconds of the same load first, not counted: every server is measured warm (Wisp's pool
  # slots mapped and their reset schedule settled, workerd's JIT done).
  wrk -t2 -c"$conns" -d2s "${lua[@]}" "$3" >/dev/null
  before=$(cpu_ticks "$2")
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency "${lua[@]}" "$3")
  after=$(cpu_ticks "$2")
  local rps p50 p99 requests cpu errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  # The server's own CPU time per request: what a request costs it, whatever share of the two
  # cores wrk leaves it (kernel time for its sockets included).
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(awk -v t=$(( (after - before) * tick_us )) -v n="$requests" 'BEGIN { if (n > 0) printf "%.1f", t / n }')
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '| %-28s | %10s | %8s | %8s | %11s | %s\n' "$1" "$rps" "$p50" "$p99" "$cpu" "${errors:-}"
}

echo "wrk -t2 -c$conns -d${duration}s, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '| %-28s | %10s | %8s | %8s | %11s |\n' server/route req/s p50 p99 "CPU µs/req"
run "wisp   GET /api/hello" "$wisp_pid" http://127.0.0.1:18080/api/hello
run "wisp-rust GET /api/hello" "$rust_pid" http://127.0.0.1:18070/api/hello
[ -n "${WORKERD:-}" ] && run "workerd GET /api/hello" "$workerd_pid" http://127.0.0.1:18060/api/hello
run "hyper  GET /api/hello" "$floor_pid" http://127.0.0.1:18090/api/hello
run "wisp   POST /api/transform" "$wisp_pid" http://127.0.0.1:18080/api/transform "$post_lua"
[ -n "${WORKERD:-}" ] && run "workerd POST /api/transform" "$workerd_pid" http://127.0.0.1:18060/api/transform "$post_lua"
run "hyper  POST /api/transform" "$floor_pid" http://127.0.0.1:18090/api/transform "$post_lua"
echo "wisp start (spawn -> first 200, warm cache): median ${start_ms} ms of ${starts[*]} ms"
echo "wisp-rust cold start: first request after start on a cached .cwasm ${rust_first_ms} ms; spawn -> first 200 ${rust_start_ms} ms"
echo "wisp RSS after load: $(( $(awk '/VmRSS/ {print $2}' /proc/$wisp_pid/status) / 1024 )) MiB"
rm -f "$post_lua"
