#!/usr/bin/env bash
# Side-by-side tokenizer throughput: medassist (C++) vs the Hugging Face JS reference
# (@huggingface/tokenizers 0.2.0, bench/tokenizer-js/encode.mjs), Qwen2.5 tokenizer.
#
# Corpus: data/medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl; for each row, in order, the
# fields Question, Complex_CoT, Response are separate documents (594), encoded without special
# tokens. Each side loads the tokenizer (load ms), does a warm-up pass, then 5 timed
# single-thread passes; MB/s = UTF-8 bytes / 1e6 / s for the best and the median pass. Both
# sides dump ids (one line per document, ids joined by ' ') and the dumps must be identical.
#
# Usage: bench/tokenizer_compare.sh   (from any directory)
# Env:   MEDASSIST_BIN          medassist binary (default build/release/src/apps/medassist,
#                               relative paths are taken from the repo root)
#        MEDASSIST_SHARED_DATA  shared data folder (default <repo>/../shared/data)
# Exit:  0 ids identical, 1 ids differ, 2 a side could not run.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
data="${MEDASSIST_SHARED_DATA:-$repo/../shared/data}"
bin="${MEDASSIST_BIN:-build/release/src/apps/medassist}"
tok_dir="$data/qwen-tokenizer"
corpus="$data/medical-o1-sft/huatuogpt-o1_demo_sft_198.jsonl"
repeat=5
js_dir="$repo/bench/tokenizer-js"

for f in "$tok_dir/tokenizer.json.gz" "$tok_dir/tokenizer_config.json" "$corpus"; do
  [[ -f "$f" ]] || { echo "tokenizer_compare: missing $f (set MEDASSIST_SHARED_DATA)" >&2; exit 2; }
done

if [[ ! -d "$js_dir/node_modules/@huggingface/tokenizers" ]]; then
  echo "tokenizer_compare: installing JS reference (npm ci)" >&2
  (cd "$js_dir" && npm ci --no-audit --no-fund >&2)
fi

tmp="$(mktemp -d)"
keep_tmp=0
trap '[[ $keep_tmp == 1 ]] || rm -rf "$tmp"' EXIT
gunzip -c "$tok_dir/tokenizer.json.gz" > "$tmp/tokenizer.json"

echo "tokenizer_compare: JS reference ..." >&2
js_json="$(node "$js_dir/encode.mjs" --tokenizer-json "$tmp/tokenizer.json" \
  --tokenizer-config "$tok_dir/tokenizer_config.json" --jsonl "$corpus" \
  --repeat "$repeat" --dump-ids "$tmp/js_ids.txt")"
echo "$js_json" >&2

cpp_json=""
if [[ ! -x "$bin" ]]; then
  echo "tokenizer_compare: medassist binary not found at '$bin' (build it with scripts/build.sh release," \
       "or set MEDASSIST_BIN); only the JS side was measured." >&2
else
  echo "tokenizer_compare: medassist ..." >&2
  if ! cpp_out="$("$bin" tokenize-bench --tokenizer "$tok_dir" --jsonl "$corpus" \
        --fields Question,Complex_CoT,Response --repeat "$repeat" \
        --dump-ids "$tmp/cpp_ids.txt" 2>"$tmp/cpp_stderr.txt")"; then
    echo "tokenizer_compare: '$bin tokenize-bench' failed (does this build have the tokenize-bench" \
         "command?); its stderr:" >&2
    tail -n 20 "$tmp/cpp_stderr.txt" >&2
  else
    cpp_json="$(printf '%s\n' "$cpp_out" | grep '^{' | tail -n 1 || true)"
    [[ -n "$cpp_json" ]] || echo "tokenizer_compare: tokenize-bench printed no JSON object" >&2
    echo "$cpp_json" >&2
  fi
fi

same="n/a"
if [[ -n "$cpp_json" ]]; then
  if [[ -f "$tmp/cpp_ids.txt" ]] && cmp "$tmp/js_ids.txt" "$tmp/cpp_ids.txt" >&2; then
    same="yes"
  else
    same="no"; keep_tmp=1
    echo "tokenizer_compare: id dumps differ (line N = document N); kept in $tmp" >&2
  fi
fi

# Markdown table (node is already required for the JS side).
# shellcheck disable=SC2016  # the ${...} below are JS template literals
JS="$js_json" CPP="$cpp_json" SAME="$same" node -e '
  const rows = [JSON.parse(process.env.JS)];
  if (process.env.CPP) rows.push(JSON.parse(process.env.CPP));
  console.log("| impl | load ms | MB/s best | MB/s median | tokens |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of rows)
    console.log(`| ${r.impl} | ${r.load_ms} | ${r.best_mb_s} | ${r.median_mb_s} | ${r.tokens} |`);
  console.log("");
  console.log(`documents: ${rows[0].docs ?? "?"}, bytes: ${rows[0].bytes}, timed passes: ${rows[0].repeat}`);
  if (rows.length === 2) {
    const [js, cpp] = rows;
    const x = (a, b) => (a / b).toFixed(2) + "x";
    console.log(`speed ratio medassist/js: best ${x(cpp.best_mb_s, js.best_mb_s)},` +
                ` median ${x(cpp.median_mb_s, js.median_mb_s)}`);
    if (cpp.bytes !== js.bytes) console.log(`WARNING: byte counts differ (js ${js.bytes}, medassist ${cpp.bytes})`);
  }
  console.log(`ids identical: ${process.env.SAME}`);
'

case "$same" in
  yes) exit 0 ;;
  no) exit 1 ;;
  *) exit 2 ;;
esac
