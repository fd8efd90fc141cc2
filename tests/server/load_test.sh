#!/usr/bin/env bash
# Bounded load test (label server-slow): a real `medassist serve` with the tiny demo model, 64
# closed-loop streaming chat clients (`medassist load`) for MEDASSIST_LOAD_SECONDS (default 30).
# Passes when
#   - every request succeeds (load exits 0: no non-200, no error event, every stream ends [DONE]),
#   - the server's RSS 5 s after the load is at most its idle RSS (after one warm-up request)
#     + max(32 MiB, 10% of idle): memory of finished requests is given back,
#   - SIGTERM then stops the server with exit status 0 within 40 s.
# Usage: load_test.sh MEDASSIST_BINARY REPO_ROOT
set -euo pipefail

medassist=$1
repo=$2
seconds=${MEDASSIST_LOAD_SECONDS:-30}
clients=64
work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- server log (last 30 lines)" >&2
  tail -n 30 "$work/server.log" >&2 || true
  exit 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
# Running, not exited (an exited child stays a zombie until waited for, and kill -0 still succeeds).
alive() { [[ -r "/proc/$server_pid/status" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$server_pid/status"; }

# Port 0: the server picks a free port and logs it, so parallel tests never collide. A small KV
# cache (the demo model needs 1.25 KiB a token; 16 running requests of ~700 tokens use 14 MiB) keeps
# the idle RSS small, so the memory bound below is tight (the default 1024 MiB is resident).
"$medassist" serve --model "$repo/assets/demo/stories260K.gguf" --host 127.0.0.1 --port 0 \
  --kv-cache-mib 64 >"$work/server.log" 2>&1 &
server_pid=$!

port=
for _ in $(seq 1 300); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/server.log" | head -n 1)
  [[ -n "$port" ]] && break
  alive || fail "the server exited before listening"
  sleep 0.1
done
[[ -n "$port" ]] || fail "the server did not log its port within 30 s"
url="http://127.0.0.1:$port"

# GET /health over bash's /dev/tcp (no curl needed); prints the status code.
health_status() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS=' ' read -r -t 5 _ line _ <&3 || true
  exec 3>&-
  echo "$line"
}
ready=0
for _ in $(seq 1 300); do
  if [[ "$(health_status 2>/dev/null)" == 200 ]]; then ready=1; break; fi
  alive || fail "the server exited while loading the model"
  sleep 0.1
done
[[ $ready == 1 ]] || fail "/health did not answer 200 within 30 s"

# Default prompts: 200 words, about 680 tokens with the demo model's 512-token vocabulary (its
# context is 2048).
load_args=(--url "$url" --max-tokens 32)

"$medassist" load "${load_args[@]}" --clients 1 --duration 1 >"$work/warmup.txt" 2>&1 ||
  { cat "$work/warmup.txt" >&2; fail "the warm-up request failed"; }
sleep 1
idle_kib=$(rss_kib)

echo "load: $clients clients for $seconds s against $url"
if ! "$medassist" load "${load_args[@]}" --clients "$clients" --duration "$seconds" \
  >"$work/load.txt" 2>"$work/load.err"; then
  cat "$work/load.txt" "$work/load.err" >&2
  fail "medassist load reported errors"
fi
cat "$work/load.txt"
peak_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")
sleep 5
after_kib=$(rss_kib)
slack_kib=$((idle_kib / 10))
((slack_kib < 32768)) && slack_kib=32768
echo "server RSS: idle ${idle_kib} KiB, peak ${peak_kib} KiB, 5 s after the load ${after_kib} KiB" \
  "(limit $((idle_kib + slack_kib)) KiB)"
((after_kib <= idle_kib + slack_kib)) ||
  fail "RSS after the load (${after_kib} KiB) exceeds idle (${idle_kib} KiB) + ${slack_kib} KiB"

start=$SECONDS
kill -TERM "$server_pid"
for _ in $(seq 1 400); do
  alive || break
  sleep 0.1
done
alive && fail "the server did not stop within 40 s of SIGTERM"
status=0
wait "$server_pid" || status=$?
server_pid=
echo "server stopped in $((SECONDS - start)) s with status $status"
[[ "$status" == 0 ]] || fail "the server exited with status $status after SIGTERM"
echo "PASS"
