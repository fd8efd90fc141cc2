// The red-flag check on the routes (server/safety_notice.h) with a scripted backend: the
// escalation first in chat answers, streamed before any model token; the disclaimer after
// personal questions; `safety` beside /v1/generate's text; nothing for general questions or
// with the check off.
#include <gtest/gtest.h>

#include "test_server.h"

namespace medassist::server::testing {
namespace {

using nlohmann::json;

constexpr const char* kEmergency = "my dad's face is drooping and he can't lift his arm";
constexpr const char* kPersonal = "I have had a mild headache for two days, should I worry?";
constexpr const char* kGeneral = "What is the first-line treatment of hypertension?";

ServerOptions WithSafety(bool prefix_generate = false) {
  Result<assistant::SafetyPolicy> policy = assistant::SafetyPolicy::Default();
  EXPECT_TRUE(policy.ok()) << policy.status().message();
  ServerOptions o{.reasoning = {}};
  o.safety = std::make_shared<const assistant::SafetyPolicy>(std::move(policy).value());
  o.safety_prefix_generate = prefix_generate;
  return o;
}

std::shared_ptr<ScriptedBackend> Model() {
  return std::make_shared<ScriptedBackend>(std::vector<std::string>{"Model", " answer."},
                                           runtime::FinishReason::kEos);
}

std::string Chat(const std::string& message, bool stream = false) {
  return json{{"messages", {{{"role", "user"}, {"content", message}}}}, {"stream", stream}}.dump();
}

TEST(ServerSafetyTest, AnEmergencyChatBeginsWithTheEscalation) {
  TestServer server(WithSafety(), Model());
  Response r = Post(server.port(), "/v1/chat/completions", Chat(kEmergency));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string content = r.json["choices"][0]["message"]["content"];
  EXPECT_EQ(r.json["safety"]["urgency"], "emergency");
  EXPECT_EQ(r.json["safety"]["category"], "stroke");
  EXPECT_FALSE(r.json["safety"]["signals"].empty());
  EXPECT_NE(content.find("emergency"), std::string::npos) << content;
  EXPECT_TRUE(content.ends_with("\n\nModel answer.")) << content;
  EXPECT_LT(content.find("emergency"), content.find("Model answer."));
}

TEST(ServerSafetyTest, TheEscalationIsStreamedBeforeAnyModelToken) {
  TestServer server(WithSafety(), Model());
  Response r = Post(server.port(), "/v1/chat/completions", Chat(kEmergency, true));
  ASSERT_EQ(r.status, 200);
  std::vector<std::string> data = SseData(r.body);
  ASSERT_GE(data.size(), 4u);
  json role = json::parse(data[0]), first_content = json::parse(data[1]);
  EXPECT_EQ(role["safety"]["category"], "stroke");
  const std::string escalation = first_content["choices"][0]["delta"]["content"];
  EXPECT_NE(escalation.find("emergency"), std::string::npos);
  EXPECT_EQ(json::parse(data[2])["choices"][0]["delta"]["content"], "Model");
}

TEST(ServerSafetyTest, PersonalQuestionsGetTheDisclaimerGeneralOnesNothing) {
  TestServer server(WithSafety(), Model());
  Response personal = Post(server.port(), "/v1/chat/completions", Chat(kPersonal));
  ASSERT_EQ(personal.status, 200);
  const std::string content = personal.json["choices"][0]["message"]["content"];
  EXPECT_TRUE(content.starts_with("Model answer.\n\n")) << content;
  EXPECT_GT(content.size(), std::string("Model answer.\n\n").size() + 20);
  EXPECT_EQ(personal.json["safety"]["urgency"], "personal");
  Response general = Post(server.port(), "/v1/chat/completions", Chat(kGeneral));
  EXPECT_EQ(general.json["choices"][0]["message"]["content"], "Model answer.");
  EXPECT_FALSE(general.json.contains("safety"));
}

TEST(ServerSafetyTest, GenerateCarriesTheObjectAndKeepsTheText) {
  TestServer server(WithSafety(), Model());
  Response r = Post(server.port(), "/v1/generate", json{{"prompt", kEmergency}}.dump());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["output_text"], "Model answer.");
  EXPECT_EQ(r.json["safety"]["category"], "stroke");
  Response exam = Post(server.port(), "/v1/generate",
                       json{{"prompt",
                             "A 67-year-old man presents with sudden left arm weakness "
                             "and slurred speech. What is the next step?"}}
                           .dump());
  EXPECT_FALSE(exam.json.contains("safety")) << exam.body;
}

TEST(ServerSafetyTest, TheDeploymentCanAskForThePrefixOnGenerate) {
  TestServer server(WithSafety(/*prefix_generate=*/true), Model());
  Response r = Post(server.port(), "/v1/generate", json{{"prompt", kEmergency}}.dump());
  const std::string text = r.json["output_text"];
  EXPECT_TRUE(text.ends_with("\n\nModel answer.")) << text;
  EXPECT_NE(text.find("emergency"), std::string::npos);
  Response streamed =
      Post(server.port(), "/v1/generate", json{{"prompt", kEmergency}, {"stream", true}}.dump());
  json first = json::parse(SseData(streamed.body).at(0));
  EXPECT_EQ(first["safety"]["category"], "stroke");
  EXPECT_NE(first["text"].get<std::string>().find("emergency"), std::string::npos);
}

TEST(ServerSafetyTest, OffMeansNothingIsAdded) {
  TestServer server(ServerOptions{.reasoning = {}}, Model());
  Response r = Post(server.port(), "/v1/chat/completions", Chat(kEmergency));
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], "Model answer.");
  EXPECT_FALSE(r.json.contains("safety"));
}

}  // namespace
}  // namespace medassist::server::testing
