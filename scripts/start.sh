#!/usr/bin/env bash
# The README's run command: installs what is missing, builds the release preset, and runs medassist
# with the given arguments (e.g. `scripts/start.sh tokenize --tokenizer DIR "text"`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
scripts/build.sh release >&2
exec build/release/src/apps/medassist "$@"
