#!/usr/bin/env bash
# Runs openai_client_test.mjs (the official `openai` npm client) against a real server:
#   openai_client_test.sh <medassist binary> <repo root> [chain]
# starts `medassist serve` with stories260K on a free loopback port and an API key, waits for
# /health, runs the client test, then stops the server with SIGTERM and checks it exits 0.
# With `chain`, the client talks to a second medassist in remote mode (--remote-protocol openai)
# forwarding to the first: the same answers must come through the remote backend.
# Exit 0: pass; 77: skipped (no node, or web/node_modules without openai: run
# scripts/install-deps.sh); anything else: fail.
set -u

medassist="${1:?usage: openai_client_test.sh <medassist binary> <repo root>}"
root="${2:?usage: openai_client_test.sh <medassist binary> <repo root>}"
mode="${3:-direct}"
model="$root/assets/demo/stories260K.gguf"
api_key="test-key"
upstream_key="upstream-key"

if ! command -v node >/dev/null; then
  echo "skipped: node is not installed (scripts/install-deps.sh installs nodejs)"
  exit 77
fi
if [[ ! -f "$root/web/node_modules/openai/package.json" ]]; then
  echo "skipped: $root/web/node_modules/openai is missing (run scripts/install-deps.sh)"
  exit 77
fi
[[ -x "$medassist" ]] || { echo "FAIL: $medassist is not an executable"; exit 1; }
[[ -f "$model" ]] || { echo "FAIL: $model is missing"; exit 1; }

log="$(mktemp)"
front_log="$(mktemp)"
server_pid=""
front_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  for pid in "${started_pid:-}" "$server_pid" "$front_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  done
  rm -f "$log" "$front_log"
}
trap cleanup EXIT

# Waits up to 20 s for GET /health to answer 200; fails early if the server exits.
wait_healthy() {
  local url="$1" pid="$2"
  for _ in $(seq 1 80); do
    kill -0 "$pid" 2>/dev/null || return 1
    if node -e "fetch(process.argv[1]).then(r => process.exit(r.status === 200 ? 0 : 1),
                                           () => process.exit(1))" "$url/health"; then
      return 0
    fi
    sleep 0.25
  done
  return 1
}

# Runs COMMAND... --host 127.0.0.1 --port PORT in the background, its output in LOG, on a free
# port (the kernel's choice; another process may take it before the server binds, so up to three
# tries), and waits until it is healthy: sets started_pid and started_url, or fails the test.
start_server() {
  local log_file="$1" what="$2"
  shift 2
  for attempt in 1 2 3; do
    local port
    port="$(node -e "const s = require('net').createServer();
                     s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")"
    started_url="http://127.0.0.1:$port"
    "$@" --host 127.0.0.1 --port "$port" >"$log_file" 2>&1 &
    started_pid=$!
    if wait_healthy "$started_url" "$started_pid"; then return 0; fi
    kill -KILL "$started_pid" 2>/dev/null
    wait "$started_pid" 2>/dev/null
    echo "$what did not become healthy on port $port (attempt $attempt); its log:"
    cat "$log_file"
  done
  echo "FAIL: $what never became healthy"
  exit 1
}

key="$api_key"
[[ "$mode" == chain ]] && key="$upstream_key"
start_server "$log" "the server" "$medassist" serve --model "$model" --api-key "$key"
server_pid="$started_pid"
url="$started_url"

if [[ "$mode" == chain ]]; then
  start_server "$front_log" "the remote-mode server" env HF_API_TOKEN="$upstream_key" \
    "$medassist" serve --backend remote --endpoint-url "$url/v1" --remote-protocol openai \
    --model-name "$model" --api-key "$api_key"
  front_pid="$started_pid"
  url="$started_url"
  if grep -q "$upstream_key" "$front_log"; then
    echo "FAIL: the upstream token appears in the remote-mode server's log"
    exit 1
  fi
fi

MEDASSIST_URL="$url" MEDASSIST_API_KEY="$api_key" MEDASSIST_MODEL="$model" \
  node "$root/tests/server/openai_client_test.mjs"
node_status=$?
if [[ -n "$front_pid" ]]; then
  kill -TERM "$front_pid"
  wait "$front_pid"
  front_status=$?
  front_pid=""
  if [[ $front_status -ne 0 ]]; then
    echo "FAIL: the remote-mode server exited with status $front_status; its log:"
    cat "$front_log"
    exit 1
  fi
  if [[ $node_status -ne 0 ]]; then
    echo "the remote-mode server's log:"
    cat "$front_log"
  fi
fi

# SIGTERM drains and stops the server; it must exit 0 within 30 s.
kill -TERM "$server_pid"
for _ in $(seq 1 120); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.25
done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: the server did not exit within 30 s of SIGTERM; its log:"
  cat "$log"
  exit 1
fi
wait "$server_pid"
server_status=$?
server_pid=""
if [[ $server_status -ne 0 ]]; then
  echo "FAIL: the server exited with status $server_status after SIGTERM; its log:"
  cat "$log"
  exit 1
fi
if [[ $node_status -ne 0 ]]; then
  echo "the server's log:"
  cat "$log"
fi
exit "$node_status"
