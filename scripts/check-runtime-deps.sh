#!/usr/bin/env bash
# Checks that every shared library the given binary loads comes from a package in
# `scripts/install-deps.sh --runtime`'s list, so the container's slim final stage can run it.
# Usage: scripts/check-runtime-deps.sh build/release/src/apps/medassist
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$1"
mapfile -t allowed < <(scripts/install-deps.sh --list-runtime)
status=0
while read -r lib; do
  pkg=""
  for candidate in "$lib" "$(readlink -f "$lib")" "/usr$lib" "$(readlink -f "/usr$lib" || true)"; do
    pkg=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n "$pkg" ]] && break
  done
  if [[ -z "$pkg" ]]; then
    echo "check-runtime-deps: $lib belongs to no Debian package" >&2
    status=1
  elif ! printf '%s\n' "${allowed[@]}" | grep -qx "$pkg"; then
    echo "check-runtime-deps: $lib comes from $pkg, missing from RUNTIME_PACKAGES in scripts/install-deps.sh" >&2
    status=1
  else
    echo "ok  $lib ($pkg)"
  fi
done < <(ldd "$binary" | awk '/=>/ {print $3}')
exit $status
