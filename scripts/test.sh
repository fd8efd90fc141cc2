#!/usr/bin/env bash
# The README's test command: installs what is missing, builds the release and debug (ASan + UBSan)
# presets, and runs the tests of both with CTest: every test in release; in debug every test but
# those labelled slow (minutes under the sanitizers, already run in release), plus the bounded
# fuzz targets.
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
  skip=()
  [[ "$preset" == debug ]] && skip=(-LE slow)
  ctest --preset "$preset" -j "$MEDASSIST_JOBS" "${skip[@]}" || status=1
  echo "=== tests $preset took $((SECONDS - start)) s"
done
exit $status
