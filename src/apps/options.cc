#include "apps/options.h"

#include <cstring>
#include <sstream>

#include "core/check.h"
#include "runtime/sampling_defaults.h"

namespace medassist::apps {
namespace {

constexpr OptionSpec kOptions[] = {
    {"--log-level", "MEDASSIST_LOG_LEVEL", "info", "all",
     "Log level: trace, debug, info, warn, error or off. Logs go to stderr."},
    {"--tokenizer", "MEDASSIST_TOKENIZER", "",
     "tokenize, detokenize, tokenize-bench, export-gguf, quantize, generate, chat, serve",
     "Tokenizer to load: a model folder (tokenizer.json, or vocab.json + merges.txt, with "
     "tokenizer_config.json), a tokenizer.json file, or a .gguf file. export-gguf, quantize, "
     "generate and chat default to the model's own (its folder, or the .gguf file)."},
    {"--ids", "", "", "tokenize", "Print token ids separated by spaces (the default output)."},
    {"--tokens", "", "", "tokenize",
     "Print one token per line: id, vocabulary form, and text as a JSON string (tab-separated)."},
    {"--parse-special", "", "off", "tokenize",
     "Turn the text of control tokens (\"<|im_start|>\") into those tokens. Off by default, so "
     "untrusted text never becomes control tokens."},
    {"--add-bos", "", "off", "tokenize", "Put the BOS token first when the tokenizer has one."},
    {"--skip-special", "", "off", "detokenize", "Leave control tokens out of the text."},
    {"--jsonl", "", "", "tokenize-bench", "JSON-lines corpus to encode."},
    {"--fields", "", "Question,Complex_CoT,Response", "tokenize-bench",
     "Comma-separated string fields of each row; each is one document."},
    {"--repeat", "", "5", "tokenize-bench", "Timed passes after one warm-up pass."},
    {"--dump-ids", "", "", "tokenize-bench",
     "Write the ids of each document to this file, one line per document."},
    {"--config", "", "", "synth-model",
     "config.json of a Qwen2 or Llama checkpoint whose shapes the random weights take; a "
     "generation_config.json beside it is copied too."},
    {"--out", "", "", "synth-model, export-gguf, logits",
     "synth-model: model folder to create; it must not exist or be empty. export-gguf: the .gguf "
     "file to write. Built under a temporary name beside it and renamed at the end, so a failure "
     "leaves nothing. logits: the JSON file to write (default: stdout)."},
    {"--token-ids", "", "", "logits",
     "Comma-separated token ids run as one prompt, e.g. 1,403,407; logits are printed for every "
     "position."},
    {"--dtype", "", "bf16", "synth-model", "Weight type of model.safetensors: bf16 or f32."},
    {"--dtype", "", "keep", "generate, chat, logits, bench, serve, eval",
     "Convert the weight matrices after loading (quantize on load): keep (as stored), f32, f16, "
     "bf16, q8_0, q4_0, q4_k (Q4_K wherever the rows are whole 256-element blocks) or q4_k_m "
     "(llama.cpp's mix, as `quantize --type Q4_K_M` writes it). Norms and biases are not "
     "converted. A model already quantised (GGUF) is not requantised to another block type."},
    {"--seed", "", "0", "synth-model",
     "Seed of the random weights; the same seed always writes the same bytes."},
    {"--tokenizer-files", "MEDASSIST_TOKENIZER_FILES", "", "synth-model",
     "Folder whose vocab.json, merges.txt and tokenizer_config.json are copied into the model; "
     "empty means the Qwen2.5 tokenizer bundled in assets/qwen2.5-tokenizer."},
    {"--model", "", "", "export-gguf, generate, chat, logits, bench, kl-divergence, eval",
     "Hugging Face model folder (config.json of a Qwen2ForCausalLM or LlamaForCausalLM, "
     "model.safetensors or an index and its shards). generate, chat, logits, bench and "
     "kl-divergence also take a .gguf file, or a repo id ORG/NAME[@REVISION] from the Hugging "
     "Face cache (downloaded there first when missing, unless HF_HUB_OFFLINE=1)."},
    {"--lora", "MEDASSIST_LORA", "", "generate, chat, logits, bench, kl-divergence, serve, eval",
     "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) merged into the "
     "weights after loading, before --dtype: W + lora_alpha / r * B @ A, in each matrix's stored "
     "type (kl-divergence: applied to --model, not --base). Empty: none."},
    {"--base", "", "", "merge",
     "Base model: a Hugging Face safetensors folder (or cached repo id) the adapter was trained "
     "on. A .gguf base is refused: load it with --lora instead."},
    {"--adapter", "", "", "merge",
     "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to merge."},
    {"--out", "", "", "merge",
     "Model folder to create (must not exist or be empty): the merged weights in the base's "
     "types, config.json, generation_config.json and the tokenizer files. Built under a "
     "temporary name beside it and renamed at the end."},
    {"--gguf", "", "", "merge", "Also write the merged model as this GGUF file (as export-gguf)."},
    {"--max-shard-size", "", "5GB", "merge",
     "Largest safetensors shard, as transformers' save_pretrained: 5GB, 500MB, 2GiB or bytes. "
     "Past it the weights are split into model-00001-of-0000N.safetensors with "
     "model.safetensors.index.json."},
    {"--out-type", "", "keep", "export-gguf",
     "Type of the exported matrices: keep (as stored), f32, f16, bf16, q8_0, q4_0, q4_k or "
     "q4_k_m (per-tensor mixes as in `quantize`). Norms and biases are always f32, as llama.cpp "
     "expects."},
    {"--type", "", "", "quantize",
     "Type of the output's matrices (any case): Q8_0, Q4_0, Q4_K, Q4_K_M (Q4_K with Q6_K for the "
     "output head and some attn_v / ffn_down, as llama.cpp; rows that are not whole 256-element "
     "blocks fall back as llama.cpp's do, Q4_K to Q5_0 and Q6_K to Q8_0), F16, BF16 or F32. Norms "
     "and biases are always F32."},
    {"--allow-requantize", "", "off", "quantize",
     "Allow converting tensors that are already block-quantised to another block type. Off by "
     "default: the second rounding adds to the first, so quantising the original F32/F16/BF16 "
     "weights is always better."},
    {"--prompt", "", "", "generate",
     "Text to continue. Without --chat it is encoded as is (with BOS when the tokenizer adds one; "
     "empty: start from BOS alone); with --chat it is one user message."},
    {"--max-tokens", "", "256", "generate, chat", "Most tokens generated for one reply."},
    {"--context", "MEDASSIST_CONTEXT", "4096", "generate, chat, serve, eval",
     "Tokens (prompt and reply) the KV cache holds; capped at the model's "
     "max_position_embeddings. A chat conversation that outgrows it must be /reset."},
    {"--chat", "", "off", "generate",
     "Wrap the prompt in the model's chat template as a user message and generate the reply "
     "(the plain \"User: ...\\nAssistant:\" fallback, with a warning, when it has none)."},
    {"--system", "", "", "chat", "System message that starts every conversation."},
    {"-p,--n-prompt", "", "512", "bench",
     "Prompt tokens processed in one batch (pp test); 0 skips it."},
    {"-n,--n-gen", "", "128", "bench",
     "Tokens generated one at a time from an empty context (tg test); 0 skips it."},
    {"-r,--repetitions", "", "5", "bench",
     "Timed repetitions of each test (after one untimed warm-up); reported as mean ± stdev."},
    {"-d,--n-depth", "", "0", "bench",
     "Context already in the KV cache before each test (as llama-bench -d): measures attention "
     "cost at long contexts, e.g. -n 128 -d 4096."},
    {"-c,--concurrency", "", "1", "bench",
     "Sequences generating at once through the engine's continuous batching: with N > 1 the "
     "bench runs N requests of -p prompt and -n generated tokens together and reports the "
     "aggregate decode tokens/s, time to first token and inter-token latency, beside the same "
     "with one request, then the time to first token of two requests sharing their -p prompt "
     "tokens (the second reuses the first's KV blocks through the prefix cache)."},
    {"--output", "", "md", "bench, kl-divergence, load",
     "Result format: md (a markdown table) or json."},
    {"--threads", "MEDASSIST_THREADS", "0",
     "generate, chat, bench, kl-divergence, serve, eval, merge",
     "Threads for the kernels, the calling thread included; 0: one per physical core."},
    {"--reference", "", "off", "generate, chat, bench",
     "Run the scalar F32 reference forward pass instead of the fast kernels (slow; the oracle "
     "the fast path is tested against)."},
    {"--host", "HOST", "0.0.0.0", "serve", "Address the HTTP server listens on."},
    {"--port", "PORT", "8000", "serve", "TCP port of the HTTP server (0: any free port)."},
    {"--api-key", "API_KEY", "", "serve",
     "Key clients must send as `Authorization: Bearer KEY` or `X-API-Key: KEY` on every route "
     "but /, /health and the API docs. Empty: the API is open (a warning is logged)."},
    {"--model", "MODEL", "diyorarti/med-mixed-merged", "serve",
     "Model to serve: a Hugging Face folder, a .gguf file, or a repo id ORG/NAME[@REVISION] from "
     "the Hugging Face cache (downloaded there first when missing, unless HF_HUB_OFFLINE=1). The "
     "default is the original fine-tune; offline, "
     "assets/demo/stories260K.gguf is a tiny demo model (it tells children's stories, it knows no "
     "medicine)."},
    {"--model-name", "MODEL_NAME", "", "serve",
     "Name /v1/models lists and answers carry when a request names none (default: --model)."},
    {"--backend", "BACKEND", "", "serve",
     "local (run the model here) or remote (forward to --endpoint-url). Empty: remote when "
     "HF_ENDPOINT_URL is set, else local."},
    {"--endpoint-url", "HF_ENDPOINT_URL", "", "serve, eval",
     "Remote backend: the upstream's base URL (a Hugging Face Inference Endpoint, TGI, vLLM, "
     "llama.cpp's server, ...). Several, comma-separated, are used in turn with failover."},
    {"--endpoint-token", "HF_API_TOKEN", "", "serve, eval",
     "Remote backend: token sent upstream as `Authorization: Bearer TOKEN` (never logged)."},
    {"--remote-protocol", "MEDASSIST_REMOTE_PROTOCOL", "tgi", "serve",
     "Remote backend: tgi (TGI's native /generate_stream; chats rendered with the chat template "
     "of --tokenizer, else Qwen2.5's ChatML) or openai (/v1/chat/completions and /v1/completions "
     "of any OpenAI-compatible server)."},
    {"--remote-model", "MEDASSIST_REMOTE_MODEL", "", "serve, eval",
     "Remote backend, openai protocol: the `model` sent upstream (default: \"tgi\", which TGI "
     "and vLLM's single-model servers accept)."},
    {"--remote-connect-timeout", "MEDASSIST_REMOTE_CONNECT_TIMEOUT", "5", "serve",
     "Remote backend: seconds to connect to an upstream before trying the next."},
    {"--remote-idle-timeout", "MEDASSIST_REMOTE_IDLE_TIMEOUT", "120", "serve",
     "Remote backend: seconds without a byte from the upstream (before the first token or "
     "between two) before the request fails (504, or an error event once streaming)."},
    {"--remote-retries", "MEDASSIST_REMOTE_RETRIES", "3", "serve",
     "Remote backend: retries of a request whose answer has not started (connection errors, "
     "502/503/504, 429), with exponential backoff and jitter; never once streaming started."},
    {"--remote-cold-start-wait", "MEDASSIST_REMOTE_COLD_START_WAIT", "300", "serve",
     "Remote backend: seconds to wait for a scaled-to-zero endpoint that answers 503 with "
     "`estimated_time` while it loads."},
    {"--remote-breaker-failures", "MEDASSIST_REMOTE_BREAKER_FAILURES", "3", "serve",
     "Remote backend: failures in a row that open an upstream's circuit breaker (it then fails "
     "fast, and others take its requests)."},
    {"--remote-breaker-open", "MEDASSIST_REMOTE_BREAKER_OPEN", "10", "serve",
     "Remote backend: seconds a circuit breaker stays open before one request tests the "
     "upstream again."},
    {"--remote-health-interval", "MEDASSIST_REMOTE_HEALTH_INTERVAL", "15", "serve",
     "Remote backend: seconds between probes of each upstream's /health (shown by our /health); "
     "0: never."},
    {"--safety", "MEDASSIST_SAFETY", "on", "serve",
     "The red-flag check before every generation (docs/safety.md): on, or off (evaluation runs: "
     "no escalation, no disclaimer, no `safety` object)."},
    {"--safety-rules", "MEDASSIST_SAFETY_RULES", "", "serve",
     "A red-flag rules file (JSON; with \"extends\": \"default\" it adds to the shipped rules) "
     "instead of the shipped assets/safety/red_flags.json."},
    {"--safety-disclaimers", "MEDASSIST_SAFETY_DISCLAIMERS", "on", "serve",
     "The short disclaimer after answers to personal health questions: on or off (red flags "
     "are escalated either way while --safety is on)."},
    {"--safety-generate-prefix", "MEDASSIST_SAFETY_GENERATE_PREFIX", "off", "serve",
     "On a red flag, /v1/generate's output_text also begins with the escalation (by default it "
     "only carries the `safety` object beside the model's text)."},
    {"--kv-cache-mib", "MEDASSIST_KV_CACHE_MIB", "1024", "serve, eval",
     "Memory for the KV cache of all running requests, in MiB; a request that does not fit waits."},
    {"--max-batch-tokens", "MEDASSIST_MAX_BATCH_TOKENS", "256", "serve, eval",
     "Tokens per forward step: every running decode plus chunks of prompts being read."},
    {"--max-running", "MEDASSIST_MAX_RUNNING", "16", "serve, eval",
     "Sequences generating at once."},
    {"--max-pending", "MEDASSIST_MAX_PENDING", "256", "serve",
     "Requests running or waiting at once; more get 503 with Retry-After."},
    {"--system-prompt", "SYSTEM_PROMPT", "", "serve",
     "System message for conversations that have none (default: the chat template's own)."},
    {"--reasoning-markers", "MEDASSIST_REASONING_MARKERS", "medical-o1", "serve",
     "How chat answers are split into reasoning_content and content: a preset (medical-o1: "
     "\"## Thinking\" ... \"## Final Response\"; brief: \"Reasoning (brief):\" ... \"Final "
     "answer:\"; none) or \"OPEN|CLOSE\"."},
    {"--strict-model-names", "MEDASSIST_STRICT_MODEL_NAMES", "off", "serve",
     "Answer a request naming another model than --model-name with 404 model_not_found (by "
     "default any name is accepted and echoed back)."},
    {"--cors-origins", "CORS_ORIGINS", "", "serve",
     "Comma-separated origins allowed to call the API from a browser (\"*\": any); empty: none."},
    {"--max-body-mib", "MEDASSIST_MAX_BODY_MIB", "8", "serve",
     "Largest request body in MiB; larger ones get 413."},
    {"--http-threads", "MEDASSIST_HTTP_THREADS", "256", "serve",
     "Connections served at once (each open stream holds one thread)."},
    {"--shutdown-timeout", "MEDASSIST_SHUTDOWN_TIMEOUT", "30", "serve",
     "On SIGTERM / SIGINT: seconds to let requests in flight finish before cancelling them."},
    {"--kv-type", "MEDASSIST_KV_TYPE", "f16", "bench, serve, eval",
     "Element type of the KV cache: f16 (half the memory and the bytes attention reads; keys and "
     "values rounded to nearest even, as llama.cpp's default cache) or f32 (the reference's "
     "precision)."},
    {"--base", "", "", "kl-divergence",
     "The reference model (a .gguf file, folder or cached repo id), normally the F32 or BF16 "
     "original of --model; both must share one tokenizer."},
    {"--text", "", "", "kl-divergence", "Plain-text file scored as one token stream."},
    {"--sft-jsonl", "", "", "kl-divergence",
     "JSON-lines file of Question, Complex_CoT and Response rows scored as one token stream: per "
     "row the three fields joined by a blank line, rows joined by a blank line."},
    {"--ctx", "", "512", "kl-divergence",
     "Tokens per chunk (as llama-perplexity -c): each chunk starts from an empty KV cache and "
     "the predictions of its second half are scored."},
    {"--chunks", "", "0", "kl-divergence",
     "Most chunks scored, from the start of the text; 0: every whole chunk."},
    {"--url", "", "http://127.0.0.1:8000", "load",
     "Server to load: http://HOST:PORT[/PREFIX] of any OpenAI-compatible API (ours, llama.cpp's "
     "llama-server, ...); requests go to PREFIX/v1/chat/completions."},
    {"--api-key", "", "", "load", "Key sent as `Authorization: Bearer KEY` (empty: none)."},
    {"--clients", "", "16", "load",
     "Closed-loop clients, each on its own keep-alive connection: a client sends its next "
     "streaming chat request as soon as the last one ends."},
    {"--duration", "", "30", "load",
     "Seconds during which clients start new requests; requests in flight then run to their end "
     "and are counted (tokens/s is over the whole time)."},
    {"--max-tokens", "", "64", "load",
     "max_tokens of each request. Answers may end earlier on EOS; tokens are counted from the "
     "server's usage.completion_tokens."},
    {"--prompt-tokens", "", "200", "load",
     "Length of each unique user prompt, in short common words (about one token each with a "
     "BPE vocabulary like Qwen2.5's), after a short system prompt shared by all requests. The "
     "report gives the server's own count (usage.prompt_tokens)."},
    {"--repo-type", "", "model", "pull, push",
     "Kind of Hugging Face repo: model or dataset (data sets live under /datasets/ on the Hub "
     "and in datasets--ORG--NAME folders of the cache)."},
    {"--revision", "", "main", "pull, push",
     "pull: branch, tag or commit hash to download (ORG/NAME@REV in the repo id wins). push: the "
     "branch the commit goes to."},
    {"--include", "", "", "pull",
     "Comma-separated glob patterns of the files to download, e.g. \"*.safetensors,*.json\" "
     "('*' also matches '/', as huggingface_hub's allow_patterns); empty: every file."},
    {"--private", "", "off", "push", "Create the repo as private (when push creates it)."},
    {"--message", "", "Upload folder using medassist", "push", "Summary of the commit."},
    {"--sets", "", "medqa_4op,medmcqa,pubmedqa,mmlu", "eval",
     "Comma-separated evaluation sets: medqa_4op, medqa_5op, medmcqa, pubmedqa, mmlu_anatomy, "
     "mmlu_clinical_knowledge, mmlu_college_biology, mmlu_college_medicine, "
     "mmlu_medical_genetics, mmlu_professional_medicine, medqa_zh_4op, cmexam, medical_o1_demo; "
     "or the groups mmlu (its six subjects), en (the English sets) and all."},
    {"--protocol", "", "loglikelihood", "eval",
     "loglikelihood (each option's log-likelihood after the prompt, zero-shot, acc and acc_norm "
     "as lm-evaluation-harness; a remote endpoint must return prompt logprobs with echo) or "
     "generate (a chat answer sampled at temperature 0.5, top_p 0.9, then the chosen option "
     "extracted, as HuatuoGPT-o1's evaluation). Reported separately, never mixed."},
    {"--data-dir", "MEDASSIST_EVAL_DATA", "../shared/data", "eval",
     "Folder holding medical-eval/ and medical-o1-sft/ (the shared data folder, SOURCES.md "
     "section 5)."},
    {"--limit", "", "0", "eval",
     "Items per set, drawn at random with --seed (same seed, same items); 0: every item."},
    {"--seed", "", "0", "eval",
     "Seed of the --limit draw and of the generate protocol's sampling (each item's seed derives "
     "from it and the item's id)."},
    {"--out", "", "eval-results", "eval",
     "Folder for items-PROTOCOL.jsonl (one row per item, appended as items finish; a rerun skips "
     "the items already there, so an interrupted run resumes), summary-PROTOCOL.md / .json and "
     "report-PROTOCOL.html."},
    {"-c,--concurrency", "", "16", "eval",
     "Items in flight at once: the local engine batches their requests (continuous batching), a "
     "remote endpoint gets them in parallel."},
    {"--max-tokens", "", "2000", "eval",
     "generate protocol: most tokens of each answer (HuatuoGPT-o1's evaluation uses 2,000)."},
    // train (docs/training.md): the defaults are the original recipe's.
    {"--model", "", "", "train",
     "Base model to fine-tune: a Hugging Face folder (config.json + safetensors) or a cached "
     "repo id (downloaded when missing, as `medassist pull`)."},
    {"--data", "", "", "train",
     "Training rows in the medical-o1-reasoning-SFT format (Question, Complex_CoT, Response): "
     "a JSON array or JSON lines."},
    {"--output-dir", "", "", "train",
     "Run folder: adapter/ (PEFT), checkpoint-STEP/, metrics.jsonl, tensorboard/, "
     "run_config.json."},
    {"--question-field", "", "Question", "train", "Field of a row holding the user's question."},
    {"--cot-field", "", "Complex_CoT", "train", "Field holding the reasoning."},
    {"--response-field", "", "Response", "train", "Field holding the final answer."},
    {"--bad-rows", "", "skip", "train",
     "A malformed row (not an object, a missing or non-string field): skip (reported with its "
     "line) or refuse (stop with its line)."},
    {"--reasoning-share", "", "0.3", "train",
     "Share of examples whose target is reasoning plus answer (the rest: the answer only), "
     "chosen per row from --seed."},
    {"--reasoning-template", "", "## Thinking\\n\\n{cot}\\n\\n## Final Response\\n\\n{response}",
     "train",
     "Assistant target of a reasoning example; placeholders {question}, {cot}, {response}; \\n "
     "is a newline."},
    {"--answer-template", "", "{response}", "train", "Assistant target of an answer-only example."},
    {"--train-system-prompt", "", "", "train",
     "System message of every example (empty: the chat template's default)."},
    {"--max-length", "", "2048", "train", "Tokens per example, prompt included."},
    {"--overlong", "", "truncate", "train",
     "An example over --max-length: truncate (cut the reply) or drop."},
    {"--eval-share", "", "0.05", "train", "Share of rows held out for evaluation."},
    {"--eval-count", "", "-1", "train",
     "Exactly this many rows held out for evaluation (>= 0 overrides --eval-share)."},
    {"--lora-r", "", "16", "train", "LoRA rank."},
    {"--lora-alpha", "", "32", "train", "LoRA alpha: the update is scaled by alpha / r."},
    {"--lora-dropout", "", "0.05", "train", "Dropout on the LoRA branch's input."},
    {"--lora-targets", "", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "train",
     "Comma-separated projections that get an adapter."},
    {"--rslora", "", "off", "train", "Scale by alpha / sqrt(r) (rank-stabilised LoRA)."},
    {"--epochs", "", "1", "train", "Passes over the training examples."},
    {"--max-steps", "", "0", "train", "Optimizer steps to run (> 0 overrides --epochs)."},
    {"--batch-size", "", "8", "train", "Examples per process per micro-step."},
    {"--grad-accum", "", "4", "train",
     "Micro-steps per optimizer step: the global batch is batch-size x grad-accum x processes."},
    {"--learning-rate", "", "2e-4", "train", "Peak learning rate (AdamW)."},
    {"--lr-scheduler", "", "cosine", "train", "cosine, linear or constant, after the warmup."},
    {"--warmup-ratio", "", "0.05", "train", "Share of the steps spent warming up linearly from 0."},
    {"--weight-decay", "", "0", "train", "AdamW's decoupled weight decay."},
    {"--max-grad-norm", "", "1", "train", "Gradient clipping by global norm (0: none)."},
    {"--bf16", "", "on", "train",
     "on: base weights held in BF16 and matmuls autocast to BF16 (LoRA weights and the optimizer "
     "stay F32); off: everything in F32."},
    {"--seed", "", "42", "train",
     "Seed of the LoRA initialisation, the target mix, the eval split, the data order and "
     "dropout."},
    {"--logging-steps", "", "10", "train", "Log the training metrics every N optimizer steps."},
    {"--eval-steps", "", "0", "train", "Evaluate every N steps (0: at the end only)."},
    {"--eval-batch-size", "", "8", "train", "Examples per process per evaluation batch."},
    {"--save-steps", "", "0", "train", "Write a checkpoint every N steps (0: at the end only)."},
    {"--save-total-limit", "", "2", "train",
     "Checkpoints kept: the newest, and always the one with the lowest eval_loss."},
    {"--resume", "", "", "train",
     "Continue from a checkpoint folder, or `latest` under --output-dir."},
    {"--nproc", "", "1", "train",
     "Data-parallel processes to start on this machine (Gloo); each gets --threads / nproc "
     "threads."},
    {"--dist-init-file", "MEDASSIST_DIST_INIT_FILE", "", "train",
     "Rendezvous file of a data-parallel run started by hand (with RANK and WORLD_SIZE set); "
     "empty: a TCP store at MASTER_ADDR:MASTER_PORT."},
    {"--no-progress", "", "", "train", "No progress line on stderr (log lines instead)."},
    {"--device", "MEDASSIST_TRAIN_DEVICE", "cpu", "train",
     "cpu, cuda (each process takes GPU LOCAL_RANK) or cuda:N. CUDA needs medassist-train built "
     "against a CUDA build of LibTorch; Debian's is CPU-only (tested path: cpu)."},
    {"--out", "", "", "train-report", "HTML file to write (empty: RUN_DIR/report.html)."},
};

void FillOption(CLI::Option* opt, const OptionSpec& spec) {
  if (spec.env[0] != '\0') opt->envname(spec.env);
}

}  // namespace

std::span<const OptionSpec> AllOptions() { return kOptions; }

const OptionSpec& FindOption(const char* flag, std::string_view command) {
  const OptionSpec* found = nullptr;
  for (const OptionSpec& o : kOptions) {
    if (std::strcmp(o.flag, flag) != 0) continue;
    // A flag declared twice (--dtype) has one entry per set of commands.
    if (found == nullptr || std::string_view(o.commands).find(command) != std::string_view::npos) {
      found = &o;
    }
  }
  if (found != nullptr) return *found;
  CHECK(false) << "option " << flag << " is not declared in options.cc";
  return kOptions[0];
}

CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, std::string& target) {
  const OptionSpec& spec = FindOption(flag, app.get_name());
  target = spec.default_value;
  CLI::Option* opt = app.add_option(flag, target, spec.help);
  if (target.empty()) {
    FillOption(opt, spec);
  } else {
    FillOption(opt->capture_default_str(), spec);
  }
  return opt;
}

CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, int& target) {
  const OptionSpec& spec = FindOption(flag, app.get_name());
  target = std::stoi(spec.default_value);
  CLI::Option* opt = app.add_option(flag, target, spec.help)->capture_default_str();
  FillOption(opt, spec);
  return opt;
}

CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, double& target) {
  const OptionSpec& spec = FindOption(flag, app.get_name());
  target = std::stod(spec.default_value);
  CLI::Option* opt = app.add_option(flag, target, spec.help)->capture_default_str();
  FillOption(opt, spec);
  return opt;
}

CLI::Option* AddDeclaredOption(CLI::App& app, const char* flag, int64_t& target) {
  const OptionSpec& spec = FindOption(flag, app.get_name());
  target = std::stoll(spec.default_value);
  CLI::Option* opt = app.add_option(flag, target, spec.help)->capture_default_str();
  FillOption(opt, spec);
  return opt;
}

CLI::Option* AddDeclaredFlag(CLI::App& app, const char* flag, bool& target) {
  const OptionSpec& spec = FindOption(flag, app.get_name());
  target = false;
  CLI::Option* opt = app.add_flag(flag, target, spec.help);
  FillOption(opt, spec);
  return opt;
}

// Table cells cannot hold a bare '|'.
static std::string EscapeCell(const char* s) {
  std::string out;
  for (const char* p = s; *p != '\0'; ++p) {
    if (*p == '|') out += '\\';
    out += *p;
  }
  return out;
}

std::string ConfigurationMarkdown() {
  std::ostringstream md;
  md << "# Configuration reference\n\n"
     << "Generated by `medassist config-doc` from the option table in `src/apps/options.cc`; a "
        "test "
        "fails when this page and the table disagree. Where an environment variable is listed, it "
        "sets the option when the flag is not given.\n\n"
     << "| flag | environment | default | used by | what it does |\n"
     << "|---|---|---|---|---|\n";
  for (const OptionSpec& o : kOptions) {
    auto cell = [](const char* s) {
      return s[0] == '\0' ? std::string() : "`" + EscapeCell(s) + "`";
    };
    md << "| `" << o.flag << "` | " << cell(o.env) << " | " << cell(o.default_value) << " | "
       << o.commands << " | " << EscapeCell(o.help) << " |\n";
  }
  md << "\n## Sampling defaults\n\n"
     << "Each sampling value of a request comes from the first of these that sets it (the local "
        "engine and the remote backends resolve requests the same way, "
        "`runtime/sampling_defaults.h`):\n\n"
     << runtime::kSamplingDefaultsTable;
  return md.str();
}

}  // namespace medassist::apps
