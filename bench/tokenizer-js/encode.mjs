// Reference tokenizer throughput: @huggingface/tokenizers 0.2.0 (pure JS) on a JSONL corpus.
//
// What it measures: single-thread encode throughput (no special tokens added) of the
// Hugging Face JS tokenizer. Documents are built in row order; for each row, one document
// per field (default Question, Complex_CoT, Response), each encoded separately.
//   load_ms   read + JSON.parse of both files + new Tokenizer(...)
//   bytes     sum of UTF-8 lengths of all documents; tokens = sum of ids over all documents
//   passes    1 untimed warm-up pass, then --repeat N timed passes (process.hrtime.bigint)
//   MB/s      bytes / 1e6 / seconds, for the fastest pass (best) and the median pass
// Note: the library keeps a per-word BPE LRU cache (10k entries), so timed passes after the
// warm-up mostly hit it. --clear-cache empties it before every pass (cold-cache figure).
//
// Usage: node encode.mjs --tokenizer-json PATH --tokenizer-config PATH --jsonl PATH
//                        [--repeat N (5)] [--fields A,B,C] [--dump-ids OUT] [--clear-cache]
// Prints one JSON object on stdout. --dump-ids writes one line per document: ids joined by ' '.

import { readFileSync, writeFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

function parseArgs(argv) {
  const a = { repeat: 5, fields: "Question,Complex_CoT,Response", clearCache: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${k}`);
      return argv[++i];
    };
    if (k === "--tokenizer-json") a.tokenizerJson = next();
    else if (k === "--tokenizer-config") a.tokenizerConfig = next();
    else if (k === "--jsonl") a.jsonl = next();
    else if (k === "--repeat") a.repeat = Number.parseInt(next(), 10);
    else if (k === "--fields") a.fields = next();
    else if (k === "--dump-ids") a.dumpIds = next();
    else if (k === "--clear-cache") a.clearCache = true;
    else throw new Error(`unknown argument: ${k}`);
  }
  if (!a.tokenizerJson || !a.tokenizerConfig || !a.jsonl)
    throw new Error("required: --tokenizer-json PATH --tokenizer-config PATH --jsonl PATH");
  if (!(a.repeat >= 1)) throw new Error("--repeat must be >= 1");
  return a;
}

const args = parseArgs(process.argv.slice(2));

// Load the tokenizer.
const t0 = process.hrtime.bigint();
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(args.tokenizerJson, "utf8")),
  JSON.parse(readFileSync(args.tokenizerConfig, "utf8")),
);
const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;

// Build the documents: for each row, for each field in order.
const fields = args.fields.split(",");
const docs = [];
for (const line of readFileSync(args.jsonl, "utf8").split("\n")) {
  if (line.trim() === "") continue;
  const row = JSON.parse(line);
  for (const f of fields) {
    if (typeof row[f] !== "string") throw new Error(`row ${docs.length / fields.length}: field ${f} is not a string`);
    docs.push(row[f]);
  }
}
const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d, "utf8"), 0);

const opts = { add_special_tokens: false };
function pass(keep) {
  if (args.clearCache) tokenizer.model.clear_cache();
  let tokens = 0;
  const all = keep ? [] : null;
  for (const d of docs) {
    const ids = tokenizer.encode(d, opts).ids;
    tokens += ids.length;
    if (keep) all.push(ids);
  }
  return { tokens, all };
}

const warm = pass(Boolean(args.dumpIds)); // warm-up, untimed; also the ids for --dump-ids
const secs = [];
for (let r = 0; r < args.repeat; r++) {
  const s = process.hrtime.bigint();
  const { tokens } = pass(false);
  secs.push(Number(process.hrtime.bigint() - s) / 1e9);
  if (tokens !== warm.tokens) throw new Error(`token count changed between passes: ${tokens} vs ${warm.tokens}`);
}
secs.sort((x, y) => x - y);
const mid = secs.length >> 1;
const medianS = secs.length % 2 ? secs[mid] : (secs[mid - 1] + secs[mid]) / 2;
const mbs = (s) => Number((bytes / 1e6 / s).toFixed(3));

if (args.dumpIds) writeFileSync(args.dumpIds, warm.all.map((ids) => ids.join(" ") + "\n").join(""));

console.log(JSON.stringify({
  impl: "hf-tokenizers-js 0.2.0",
  load_ms: Number(loadMs.toFixed(1)),
  docs: docs.length,
  bytes,
  tokens: warm.tokens,
  best_mb_s: mbs(secs[0]),
  median_mb_s: mbs(medianS),
  repeat: args.repeat,
  ...(args.clearCache ? { clear_cache: true } : {}),
}));
