#!/usr/bin/env bash
# Installs what building Wisp needs on a Debian 12 machine that has rustup:
#   - clang and LLVM's archiver, to compile QuickJS (C) for WebAssembly,
#   - Debian's wasi-libc headers for that compile,
#   - the wasm32-wasip1 / wasm32-wasip2 Rust targets,
#   - npm, which the bundler's tests use to install the Hono and itty-router examples,
#   - redis-server, which the storage tests start on a free port (Wisp itself only needs a
#     Redis server when one is configured).
# Idempotent: it installs only what is missing. Uses sudo when not run as root.
set -euo pipefail

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

have_pkgs() { dpkg -s "$@" >/dev/null 2>&1; }

if ! have_pkgs clang-19 llvm-19 wasi-libc && ! have_pkgs clang llvm wasi-libc; then
  echo "setup: installing clang, llvm and wasi-libc (apt)"
  $sudo apt-get update -qq
  # clang-19 is what Wisp is tested with; Debian 12's default clang (14) works too.
  $sudo apt-get install -y -qq clang-19 llvm-19 wasi-libc >/dev/null \
    || $sudo apt-get install -y -qq clang llvm wasi-libc >/dev/null
fi

if ! command -v npm >/dev/null; then
  echo "setup: installing npm (apt)"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq npm >/dev/null
fi

if ! command -v redis-server >/dev/null; then
  echo "setup: installing redis-server (apt), for the storage tests"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq redis-server >/dev/null
  # The tests start their own servers; the packaged service is not needed.
  $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
fi

if ! command -v rustup >/dev/null; then
  echo "setup: rustup is required (https://rustup.rs)" >&2
  exit 1
fi
# rust-toolchain.toml pins the compiler; make sure it and the Wasm targets are there.
cd "$(dirname "$0")/.."
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install "$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)"
rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null
echo "setup: ok"
