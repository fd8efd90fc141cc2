#include "eval/runner.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "eval/backend_call.h"
#include "eval/extract_answer.h"
#include "eval/loglikelihood.h"
#include "eval/progress.h"
#include "eval/prompts.h"

namespace medassist::eval {
namespace {

std::string Key(const std::string& set, const std::string& id) { return set + '\x1f' + id; }

// FNV-1a of the item's key mixed with the run's seed: an item gets the same sampling seed whatever
// order it runs in and whether or not the run was resumed. 31 bits: OpenAI-compatible servers
// take a signed 64-bit seed, llama.cpp's a 32-bit one.
uint64_t ItemSeed(uint64_t seed, const EvalItem& item) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (char c : Key(item.set, item.id)) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h & 0x7fffffffULL;
}

Result<ItemResult> ScoreLoglikelihood(server::Backend& backend, const EvalItem& item,
                                      const std::atomic<bool>* cancel) {
  const LoglikelihoodPrompt prompt = BuildLoglikelihoodPrompt(item);
  ItemResult r{
      .set = item.set, .id = item.id, .prompt = prompt.context, .answer = item.answer_index};
  ASSIGN_OR_RETURN(ChoiceScores scores, ScoreChoices(backend, prompt, cancel));
  r.output = prompt.continuations[static_cast<size_t>(scores.pred)];
  r.pred = scores.pred;
  r.pred_norm = scores.pred_norm;
  r.logprobs = std::move(scores.logprobs);
  r.correct = r.pred == r.answer;
  r.correct_norm = r.pred_norm == r.answer;
  return r;
}

Result<ItemResult> ScoreGenerate(server::Backend& backend, const EvalItem& item,
                                 const RunnerOptions& o, const std::atomic<bool>* cancel) {
  ItemResult r{.set = item.set,
               .id = item.id,
               .prompt = BuildGeneratePrompt(item),
               .answer = item.answer_index};
  server::BackendRequest request{.is_chat = true, .messages = {{"user", r.prompt}}};
  request.request.temperature = o.temperature;
  request.request.top_p = o.top_p;
  // Only temperature and top_p, as HuatuoGPT-o1's eval: not the model's generation_config
  // (Qwen2.5's top_k 20 and repetition_penalty 1.05 would otherwise apply).
  request.request.top_k = 0;
  request.request.min_p = 0.0f;
  request.request.repetition_penalty = 1.0f;
  request.request.presence_penalty = 0.0f;
  request.request.frequency_penalty = 0.0f;
  request.request.max_new_tokens = o.max_new_tokens;
  request.request.seed = ItemSeed(o.seed, item);
  ASSIGN_OR_RETURN(std::unique_ptr<server::BackendStream> s,
                   StartRequest(backend, request, cancel));
  ASSIGN_OR_RETURN(Completion c, ReadToEnd(*s, cancel));
  r.output = std::move(c.text);
  const ExtractedAnswer a = ExtractAnswer(r.output, item.choices);
  r.pred = a.index;
  r.extraction = ExtractionRuleName(a.rule);
  r.correct = r.pred >= 0 && r.pred == r.answer;
  return r;
}

// The rows already in the results file, by key; refuses another model's or protocol's rows.
Result<std::map<std::string, ItemResult>> ResumedRows(const RunnerOptions& o) {
  std::map<std::string, ItemResult> done;
  if (o.results_path.empty()) return done;
  ASSIGN_OR_RETURN(std::vector<StoredRow> rows, LoadResultRows(o.results_path));
  for (StoredRow& row : rows) {
    if (row.protocol != ProtocolName(o.protocol) || row.model != o.model) {
      return InvalidArgument(fmt::format(
          "{} holds {} results of model '{}'; this run is {} of '{}'. Use another --out folder "
          "(or remove the file) to start afresh",
          o.results_path, row.protocol, row.model, ProtocolName(o.protocol), o.model));
    }
    done.try_emplace(Key(row.result.set, row.result.id), std::move(row.result));
  }
  return done;
}

// What the worker threads share.
struct RunState {
  std::span<const EvalItem> items = {};
  std::vector<size_t> todo = {};  // indices into items not yet scored
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // guards everything below
  std::map<std::string, ItemResult> done;
  std::optional<Status> error;
  std::unique_ptr<ResultsWriter> writer;
  int64_t n_new = 0;
  int64_t n_correct = 0;
  int64_t n_refused = 0;   // items the backend refused
  int64_t n_answered = 0;  // items it did not
  std::unique_ptr<ProgressBar> bar;
};

// Records one scored item: appended to the file, counted, shown.
void Record(RunState& st, const RunnerOptions& o, ItemResult r) {
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.error || (o.stop_after >= 0 && st.n_new >= o.stop_after)) return;
  if (st.writer) {
    if (Status s = st.writer->Append(ItemResultLine(r, o.protocol, o.model)); !s.ok()) {
      st.error = s;
      st.stop = true;
      return;
    }
  }
  ++st.n_new;
  st.n_answered += r.error.empty();
  st.n_correct += r.correct;
  const std::string key = Key(r.set, r.id);
  st.done.insert_or_assign(key, std::move(r));
  st.bar->Update(static_cast<int64_t>(st.done.size()), st.n_correct);
  if (o.stop_after >= 0 && st.n_new >= o.stop_after) st.stop = true;
}

// A refused item is recorded (scored wrong) unless every item so far was refused: then the
// refusal is systematic (a parameter the backend does not take) and the run stops on it.
constexpr int64_t kMaxRefusedBeforeAnyAnswer = 8;

void RecordRefused(RunState& st, const RunnerOptions& o, const EvalItem& item, const Status& why) {
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    if (++st.n_refused >= kMaxRefusedBeforeAnyAnswer && st.n_answered == 0) {
      if (!st.error) {
        st.error =
            why.WithContext(fmt::format("the backend refused the first {} items ({} item {})",
                                        st.n_refused, item.set, item.id));
      }
      st.stop = true;
      return;
    }
  }
  const std::string prompt = o.protocol == Protocol::kGenerate
                                 ? BuildGeneratePrompt(item)
                                 : BuildLoglikelihoodPrompt(item).context;
  Record(st, o,
         ItemResult{.set = item.set,
                    .id = item.id,
                    .prompt = prompt,
                    .answer = item.answer_index,
                    .error = why.message()});
}

void Fail(RunState& st, Status s) {
  std::lock_guard<std::mutex> lock(st.mutex);
  if (!st.error) st.error = std::move(s);
  st.stop = true;
}

void Worker(server::Backend& backend, RunState& st, const RunnerOptions& o) {
  while (!st.stop) {
    const size_t n = st.next.fetch_add(1);
    if (n >= st.todo.size()) return;
    const EvalItem& item = st.items[st.todo[n]];
    Result<ItemResult> r = ScoreItem(backend, item, o, &st.stop);
    if (r.ok()) {
      Record(st, o, std::move(r).value());
    } else if (r.status().code() == StatusCode::kInvalidArgument) {
      // The backend refused this item (its prompt is longer than the context): kept, scored wrong.
      RecordRefused(st, o, item, r.status());
    } else if (!IsInterrupted(r.status())) {
      Fail(st, r.status().WithContext(fmt::format("{} item {}", item.set, item.id)));
    }
  }
}

}  // namespace

Result<ItemResult> ScoreItem(server::Backend& backend, const EvalItem& item,
                             const RunnerOptions& options, const std::atomic<bool>* cancel) {
  if (options.protocol == Protocol::kGenerate) return ScoreGenerate(backend, item, options, cancel);
  return ScoreLoglikelihood(backend, item, cancel);
}

Result<RunOutcome> RunEval(server::Backend& backend, std::span<const EvalItem> items,
                           const RunnerOptions& o) {
  RunState st;
  st.items = items;
  using Done = std::map<std::string, ItemResult>;
  ASSIGN_OR_RETURN(Done resumed, ResumedRows(o));
  int64_t n_resumed = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    auto it = resumed.find(Key(items[i].set, items[i].id));
    if (it == resumed.end()) {
      st.todo.push_back(i);
      continue;
    }
    st.n_correct += it->second.correct;
    st.done.insert(std::move(*it));
    ++n_resumed;
  }
  if (!o.results_path.empty()) {
    ASSIGN_OR_RETURN(st.writer, ResultsWriter::Open(o.results_path));
  }
  st.bar = std::make_unique<ProgressBar>(ProtocolName(o.protocol),
                                         static_cast<int64_t>(items.size()), n_resumed, o.progress);
  st.bar->Update(n_resumed, st.n_correct);
  std::vector<std::thread> workers;
  const size_t n_workers = std::min<size_t>(static_cast<size_t>(std::max(1, o.concurrency)),
                                            std::max<size_t>(st.todo.size(), 1));
  for (size_t i = 0; i < n_workers; ++i) {
    workers.emplace_back([&] { Worker(backend, st, o); });
  }
  // This thread passes the caller's cancel flag on to the workers' stop flag.
  while (true) {
    bool all_done = st.next.load() >= st.todo.size() + n_workers || st.stop;
    if (o.cancel != nullptr && o.cancel->load()) st.stop = true;
    if (all_done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (std::thread& t : workers) t.join();
  st.bar->Finish();
  if (st.error) return *st.error;
  RunOutcome out{.n_resumed = n_resumed, .n_new = st.n_new};
  for (const EvalItem& item : items) {
    auto it = st.done.find(Key(item.set, item.id));
    if (it != st.done.end()) out.results.push_back(std::move(it->second));
  }
  out.interrupted = out.results.size() < items.size();
  return out;
}

}  // namespace medassist::eval
