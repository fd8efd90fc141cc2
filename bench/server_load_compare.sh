#!/usr/bin/env bash
# Side-by-side server throughput under load (docs/performance.md, "Server under load"):
# `medassist serve` and llama.cpp's `llama-server` on the same GGUF file, one after the other, each
# loaded by `medassist load` with the same closed-loop clients and the same prompts (a shared
# system prompt and a unique ~200-word user prompt per request, streaming, temperature 0).
# llama-server runs twice: `--parallel 4 -c 8192` (the setting of ANCHORS.md) and
# `--parallel 16 -c 16384` (a slot per client, its best case here).
#
# Usage: bench/server_load_compare.sh MODEL.gguf LLAMA_SERVER_BINARY
# Env:   MEDASSIST_BIN  medassist binary (default build/release/src/apps/medassist)
#        CLIENTS (16), SECONDS_PER_RUN (45), MAX_TOKENS (64), THREADS (2),
#        PORT (8190; each run takes the next port, so a socket of the last run never blocks it)
#        RUNS: which servers, in order (default "medassist llama-p4 llama-p16")
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model=$(realpath "$1")
llama_server=$(realpath "$2")
medassist=$(realpath "${MEDASSIST_BIN:-$repo/build/release/src/apps/medassist}")
clients=${CLIENTS:-16}
seconds=${SECONDS_PER_RUN:-45}
max_tokens=${MAX_TOKENS:-64}
threads=${THREADS:-2}
port=${PORT:-8190}
runs=${RUNS:-medassist llama-p4 llama-p16}
logs=$(mktemp -d)
server_pid=
trap '[[ -n "$server_pid" ]] && kill -KILL "$server_pid" 2>/dev/null; true' EXIT

health_status() {
  local code
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS=' ' read -r -t 5 _ code _ <&3 || true
  exec 3>&-
  echo "$code"
}

start_server() {  # name
  case "$1" in
    medassist)
      cmd=("$medassist" serve --model "$model" --host 127.0.0.1 --port "$port" --threads "$threads") ;;
    llama-p4)
      cmd=("$llama_server" -m "$model" --host 127.0.0.1 --port "$port" -t "$threads"
           --parallel 4 -c 8192) ;;
    llama-p16)
      cmd=("$llama_server" -m "$model" --host 127.0.0.1 --port "$port" -t "$threads"
           --parallel 16 -c 16384) ;;
    *) echo "unknown run '$1'" >&2; exit 2 ;;
  esac
  echo "\$ ${cmd[*]}"
  "${cmd[@]}" >"$logs/$1.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    [[ "$(health_status 2>/dev/null)" == 200 ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$1 did not become healthy; log: $logs/$1.log" >&2
  exit 2
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

for run in $runs; do
  echo "=== $run"
  url="http://127.0.0.1:$port"
  start_server "$run"
  # One short request first, so the first measured request does not pay for cold caches.
  "$medassist" load --url "$url" --clients 1 --duration 1 --max-tokens 4 >/dev/null 2>&1 || true
  load=("$medassist" load --url "$url" --clients "$clients" --duration "$seconds"
        --max-tokens "$max_tokens")
  echo "\$ ${load[*]}"
  "${load[@]}" || echo "($run: load reported errors)"
  stop_server
  port=$((port + 1))
done
echo "server logs: $logs"
