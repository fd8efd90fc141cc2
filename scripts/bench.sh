#!/usr/bin/env bash
# Benchmarks (not tests): Google Benchmark micro-benchmarks and side-by-side comparisons.
# Usage: scripts/bench.sh [tokenizer|kernels]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-tokenizer}"
scripts/build.sh release >/dev/null
case "$what" in
  tokenizer)
    build/release/bench/tokenizer_bench
    bench/tokenizer_compare.sh
    ;;
  kernels)
    build/release/bench/membw
    build/release/bench/kernels_bench
    build/release/bench/quant_bench
    ;;
  *) echo "unknown benchmark '$what' (tokenizer, kernels)" >&2; exit 2 ;;
esac
