// The engine thread: requests submitted from several threads stream the tokens EngineCore gives
// each alone; cancellation, abandoned streams and shutdown end requests cleanly.
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <thread>

#include "model/synthetic_qwen2.h"
#include "runtime/text_stream.h"

namespace medassist::runtime {
namespace {

using model::testing::SyntheticQwen2;

GenerationRequest Request(int32_t n_prompt, int32_t seed, int32_t max_new) {
  GenerationRequest r{.max_new_tokens = max_new};
  for (int32_t i = 0; i < n_prompt; ++i) r.prompt.push_back((seed * 131 + i * 197) % 1024);
  r.sampling.temperature = 0.7f;
  r.sampling.seed = static_cast<uint64_t>(seed);
  return r;
}

const EngineConfig kConfig{.n_kv_blocks = 24, .context = 96, .max_batch_tokens = 8};

std::vector<int32_t> Alone(const GenerationRequest& r) {
  Result<EngineCore> core = EngineCore::Create(SyntheticQwen2(), nullptr, kConfig);
  EXPECT_TRUE(core.ok());
  EXPECT_TRUE(core->Add(r).ok());
  std::vector<int32_t> tokens;
  std::vector<TokenEvent> events;
  while (!core->idle()) {
    events.clear();
    EXPECT_TRUE(core->Step(&events).ok());
    for (const TokenEvent& e : events) {
      if (e.has_token) tokens.push_back(e.token.id);
    }
  }
  return tokens;
}

std::vector<int32_t> Drain(RequestStream& stream, FinishReason* reason) {
  std::vector<int32_t> tokens;
  StreamEvent e;
  while (stream.Next(&e)) {
    if (e.has_token) tokens.push_back(e.token.id);
    if (e.finished) *reason = e.reason;
  }
  return tokens;
}

TEST(EngineTest, ConcurrentSubmittersGetTheirOwnTokens) {
  const std::vector<GenerationRequest> requests = {Request(7, 1, 10), Request(30, 2, 6),
                                                   Request(12, 3, 12)};
  Result<std::unique_ptr<Engine>> engine = Engine::Start(SyntheticQwen2(), nullptr, kConfig);
  ASSERT_TRUE(engine.ok());
  std::vector<std::vector<int32_t>> got(requests.size());
  std::vector<FinishReason> reasons(requests.size(), FinishReason::kError);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < requests.size(); ++i) {
    clients.emplace_back([&, i] {
      Result<std::shared_ptr<RequestStream>> s = (*engine)->Submit(requests[i]);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      got[i] = Drain(**s, &reasons[i]);
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(got[i], Alone(requests[i])) << "request " << i;
    EXPECT_EQ(reasons[i], FinishReason::kLength);
  }
  const EngineMetrics m = (*engine)->metrics();
  EXPECT_EQ(m.ttft_count, 3);
  EXPECT_EQ(m.itl_count, (10 - 1) + (6 - 1) + (12 - 1));
  EXPECT_GT(m.ttft_seconds_sum, 0.0);
  EXPECT_GT(m.itl_seconds_sum, 0.0);
  EXPECT_EQ(m.engine.generated_tokens, 10 + 6 + 12);
}

TEST(EngineTest, BadRequestsAreRefusedAtSubmit) {
  Result<std::unique_ptr<Engine>> engine = Engine::Start(SyntheticQwen2(), nullptr, kConfig);
  ASSERT_TRUE(engine.ok());
  EXPECT_EQ((*engine)->Submit({}).status().code(), StatusCode::kInvalidArgument);
  GenerationRequest huge = Request(10, 1, 10000);
  huge.max_new_tokens = 10000;  // capped at the context: fits
  EXPECT_TRUE((*engine)->Submit(huge).ok());
}

TEST(EngineTest, CancelAndAbandonEndRequests) {
  Result<std::unique_ptr<Engine>> engine = Engine::Start(SyntheticQwen2(), nullptr, kConfig);
  ASSERT_TRUE(engine.ok());
  Result<std::shared_ptr<RequestStream>> a = (*engine)->Submit(Request(10, 4, 80));
  ASSERT_TRUE(a.ok());
  StreamEvent e;
  ASSERT_TRUE((*a)->Next(&e));  // it is running
  (*a)->Cancel();
  FinishReason reason = FinishReason::kLength;
  const std::vector<int32_t> rest = Drain(**a, &reason);
  EXPECT_EQ(reason, FinishReason::kCancelled);
  EXPECT_LT(rest.size(), 70u);
  {
    Result<std::shared_ptr<RequestStream>> b = (*engine)->Submit(Request(10, 5, 80));
    ASSERT_TRUE(b.ok());
  }  // dropped at once: the engine notices and ends it
  for (int i = 0; i < 200 && (*engine)->stats().running + (*engine)->stats().waiting > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*engine)->stats().running, 0);
}

TEST(EngineTest, ShutdownEndsLiveRequests) {
  std::shared_ptr<RequestStream> s;
  {
    Result<std::unique_ptr<Engine>> engine = Engine::Start(SyntheticQwen2(), nullptr, kConfig);
    ASSERT_TRUE(engine.ok());
    Result<std::shared_ptr<RequestStream>> r = (*engine)->Submit(Request(10, 6, 80));
    ASSERT_TRUE(r.ok());
    s = *r;
  }  // the engine stops with the request running
  FinishReason reason = FinishReason::kLength;
  Drain(*s, &reason);
  EXPECT_EQ(reason, FinishReason::kCancelled);
}

// Text out of the engine: the whole text without stops, then a stop string taken from the middle
// of it (across a token boundary) cuts the text just before it, with finish reason kStop.
TEST(EngineTest, TextStreamCutsAtAStopStringSpanningTokens) {
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::Load(MEDASSIST_TOKENIZER_ASSETS_DIR);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  Result<std::unique_ptr<Engine>> engine = Engine::Start(SyntheticQwen2(), nullptr, kConfig);
  ASSERT_TRUE(engine.ok());
  const GenerationRequest request = Request(9, 12, 24);
  const auto run = [&](std::vector<std::string> stops, FinishReason* reason,
                       std::vector<std::string>* pieces) {
    Result<std::shared_ptr<RequestStream>> s = (*engine)->Submit(request);
    EXPECT_TRUE(s.ok());
    TextStream text(*s, *tok, std::move(stops));
    std::string all;
    TextEvent e;
    while (text.Next(&e)) {
      all += e.text;
      if (pieces != nullptr && e.has_token) pieces->push_back(e.text);
      if (e.finished) *reason = e.reason;
    }
    return all;
  };
  FinishReason reason = FinishReason::kError;
  std::vector<std::string> pieces;
  const std::string full = run({}, &reason, &pieces);
  EXPECT_EQ(reason, FinishReason::kLength);
  // A stop string from the end of one token's text to the start of a later one's.
  size_t at = 0, k = 0;
  while (k + 2 < pieces.size() && pieces[k].size() < 2) at += pieces[k++].size();
  ASSERT_LT(k + 2, pieces.size()) << "too few multi-byte pieces in: " << full;
  const size_t start = at + pieces[k].size() - 1;
  const std::string stop = full.substr(start, 1 + pieces[k + 1].size() + 1);
  const std::string cut = run({stop}, &reason, nullptr);
  EXPECT_EQ(reason, FinishReason::kStop);
  EXPECT_EQ(cut, full.substr(0, full.find(stop)));
}

}  // namespace
}  // namespace medassist::runtime
