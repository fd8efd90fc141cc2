#!/usr/bin/env bash
# The README's test command: installs what is missing, builds the release and debug (ASan + UBSan)
# presets, and runs every test of both with CTest (the debug run includes the bounded fuzz targets).
set -euo pipefail
cd "$(dirname "$0")/.."
export MEDASSIST_JOBS="${MEDASSIST_JOBS:-$(nproc)}"

scripts/install-deps.sh
status=0
for preset in release debug; do
  echo "=== build: $preset"
  start=$SECONDS
  scripts/build.sh "$preset"
  echo "=== build $preset took $((SECONDS - start)) s"
  echo "=== test: $preset"
  start=$SECONDS
  ctest --preset "$preset" -j "$MEDASSIST_JOBS" || status=1
  echo "=== tests $preset took $((SECONDS - start)) s"
done
exit $status
