// The red-flag rule engine (assistant/safety.h) on the shipped rules and on small hand-made rule
// files: folding, negation, suppressors, urgency, conversations, and refusals of bad files.
#include "assistant/safety.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace medassist::assistant {
namespace {

using Urgency = SafetyAssessment::Urgency;
using tokenizer::ChatMessage;

const SafetyPolicy& Shipped() {
  static const SafetyPolicy policy = [] {
    Result<SafetyPolicy> p = SafetyPolicy::Default();
    CHECK(p.ok()) << p.status().ToString();
    return *p;
  }();
  return policy;
}

std::vector<std::string> SignalNames(const SafetyAssessment& a) {
  std::vector<std::string> names;
  for (const SafetySignal& s : a.signals) names.push_back(s.signal);
  return names;
}

TEST(SafetyPolicy, ShippedRulesLoadWithTheirCategoriesInPriorityOrder) {
  std::vector<std::string> names;
  for (const SafetyCategory& c : Shipped().rules().categories) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"cardiac", "stroke", "anaphylaxis", "bleeding",
                                             "overdose", "self_harm", "infant_fever",
                                             "sepsis_meningitis", "unresponsive"}));
  EXPECT_FALSE(Shipped().rules().personal_disclaimer.empty());
  EXPECT_EQ(Shipped().rules().general_disclaimer, "");
}

TEST(SafetyPolicy, NormalizeFoldsCaseContractionsAndMisspellings) {
  EXPECT_EQ(Shipped().Normalize("  My Dad CANT breath  "), "my dad can't breathe");
  EXPECT_EQ(Shipped().Normalize("chest pian,  im scared"), "chest pain, i'm scared");
  EXPECT_EQ(Shipped().Normalize("his tounge is swelling, dont know why"),
            "his tongue is swelling, don't know why");
  EXPECT_EQ(Shipped().Normalize("It\xE2\x80\x99s a high temprature"), "it's a high temperature");
}

TEST(SafetyPolicy, IssueExamplesAreEmergenciesWithSignals) {
  SafetyAssessment a = Shipped().AssessText("my dad can't lift his arm and his face looks droopy");
  EXPECT_EQ(a.urgency, Urgency::kEmergency);
  EXPECT_EQ(a.category, "stroke");
  ASSERT_FALSE(a.signals.empty());
  EXPECT_EQ(a.signals[0].category, "stroke");
  EXPECT_EQ(a.signals[0].rule, "face_droop");
  EXPECT_EQ(a.signals[0].signal, "face_droop");
  EXPECT_EQ(a.signals[0].matched_text, "face looks droopy");
  EXPECT_EQ(a.escalation.rfind("This could be a stroke. Call emergency services", 0), 0u);
  EXPECT_EQ(a.disclaimer, "");

  SafetyAssessment pills = Shipped().AssessText("I took 30 tablets");
  EXPECT_EQ(pills.category, "overdose");
  EXPECT_EQ(SignalNames(pills), std::vector<std::string>{"took_many"});
}

TEST(SafetyPolicy, MisspelledChestPainWithBreathlessnessIsCardiac) {
  SafetyAssessment a = Shipped().AssessText("chest pian and i cant breath");
  EXPECT_EQ(a.category, "cardiac");
  EXPECT_EQ(SignalNames(a), (std::vector<std::string>{"chest_pain", "breathless"}));
  EXPECT_EQ(a.signals[1].matched_text, "can't breathe");
}

TEST(SafetyPolicy, TheMoreSpecificCategoryWinsOverCollapse) {
  EXPECT_EQ(Shipped().AssessText("my father is unconscious and not breathing").category,
            "unresponsive");
  SafetyAssessment a = Shipped().AssessText("boyfriend overdosed and he's not waking up");
  EXPECT_EQ(a.category, "overdose");
  EXPECT_EQ(SignalNames(a), std::vector<std::string>{"overdosed"});
}

TEST(SafetyPolicy, ChestPainAloneIsNotAnEmergency) {
  EXPECT_EQ(Shipped().AssessText("my chest hurts when I press on it").urgency, Urgency::kPersonal);
}

TEST(SafetyPolicy, NegatedSignalsDoNotCount) {
  EXPECT_NE(Shipped().AssessText("I don't have chest pain or shortness of breath").urgency,
            Urgency::kEmergency);
  EXPECT_NE(Shipped().AssessText("no fever, my neck is stiff from sleeping badly").urgency,
            Urgency::kEmergency);
  // The negation stops at "but": the second clause still counts.
  SafetyAssessment a = Shipped().AssessText("no chest pain but my mum's face is drooping");
  EXPECT_EQ(a.category, "stroke");
}

TEST(SafetyPolicy, NegationNeedsTheCueWithinTheWindow) {
  // "not" is far (more than 6 words) before "fever".
  SafetyAssessment a =
      Shipped().AssessText("the rash does not fade when I press a glass on it and he has a fever");
  EXPECT_EQ(a.category, "sepsis_meningitis");
}

TEST(SafetyPolicy, PseudoNegationIsNotACue) {
  SafetyAssessment a = Shipped().AssessText(
      "not sure what is happening my dad is slurring his "
      "words and his face is drooping");
  EXPECT_EQ(a.category, "stroke");
}

TEST(SafetyPolicy, ExamVignettesAreSuppressedAndNotPersonal) {
  SafetyAssessment a = Shipped().AssessText(
      "A 45-year-old man presents with crushing chest pain and shortness of breath. Which of the "
      "following is the most likely diagnosis?");
  EXPECT_EQ(a.urgency, Urgency::kNone);
  EXPECT_EQ(a.category, "");
  EXPECT_TRUE(a.signals.empty());
  EXPECT_EQ(a.suppressed_by, (std::vector<std::string>{"exam_vignette", "third_person_vignette"}));
}

TEST(SafetyPolicy, EducationalQuestionIsSuppressedUnlessPersonal) {
  SafetyAssessment edu = Shipped().AssessText("what is the treatment of a stroke with face droop");
  EXPECT_EQ(edu.urgency, Urgency::kNone);
  EXPECT_EQ(edu.suppressed_by, std::vector<std::string>{"educational_question"});
  SafetyAssessment mine = Shipped().AssessText("what do i do my dad's face is drooping");
  EXPECT_EQ(mine.category, "stroke");
}

TEST(SafetyPolicy, ResolvedPastEventsAreSuppressedButNotRecentOnes) {
  SafetyAssessment past = Shipped().AssessText("my face drooped when I had a stroke 2 years ago");
  EXPECT_EQ(past.urgency, Urgency::kPersonal);
  EXPECT_EQ(past.suppressed_by, std::vector<std::string>{"resolved_past"});
  SafetyAssessment again =
      Shipped().AssessText("I had a stroke 2 years ago and right now my face is drooping again");
  EXPECT_EQ(again.category, "stroke");
}

TEST(SafetyPolicy, PetsAndFictionAreSuppressed) {
  EXPECT_EQ(Shipped().AssessText("my dog's face is drooping on one side").urgency,
            Urgency::kPersonal);
  EXPECT_EQ(Shipped().AssessText("in my novel the hero wants to kill himself").urgency,
            Urgency::kNone);
  // Bitten by a dog is about a person.
  EXPECT_EQ(Shipped().AssessText("my dog bit me and the bleeding won't stop").category, "bleeding");
}

TEST(SafetyPolicy, SuppressorsScopedToACategoryStopOnlyThatCategory) {
  SafetyAssessment period = Shipped().AssessText("my period is really heavy, lots of bleeding");
  EXPECT_EQ(period.urgency, Urgency::kPersonal);
  EXPECT_EQ(period.suppressed_by, std::vector<std::string>{"menstrual"});
  // Its `unless`: soaking a pad every hour is an emergency.
  EXPECT_EQ(Shipped().AssessText("heavy bleeding on my period, soaking a pad every hour").category,
            "bleeding");
  // "period" does not stop another category.
  EXPECT_EQ(Shipped().AssessText("on my period and I want to kill myself").category, "self_harm");
}

TEST(SafetyPolicy, UrgencyAndDisclaimers) {
  SafetyAssessment personal = Shipped().AssessText("my knee hurts when I run");
  EXPECT_EQ(personal.urgency, Urgency::kPersonal);
  EXPECT_EQ(personal.disclaimer, Shipped().rules().personal_disclaimer);
  EXPECT_EQ(personal.escalation, "");
  // Third-person health questions without "I", "my", "we" are general knowledge.
  EXPECT_EQ(Shipped().AssessText("A six-year-old boy whose mother says he wheezes").urgency,
            Urgency::kNone);
  SafetyAssessment general = Shipped().AssessText("How does insulin work?");
  EXPECT_EQ(general.urgency, Urgency::kNone);
  EXPECT_EQ(general.disclaimer, "");
  EXPECT_EQ(UrgencyName(Urgency::kEmergency), "emergency");
}

TEST(SafetyPolicy, ConversationLooksAtTheLatestUserMessage) {
  std::vector<ChatMessage> chat = {
      {"system", "You are a medical assistant. I want to kill myself is an example."},
      {"user", "I want to kill myself"},
      {"assistant", "..."},
      {"user", "thanks, I'm safe now and talking to my sister. How does sleep affect mood?"}};
  EXPECT_EQ(Shipped().Assess(chat).urgency, Urgency::kPersonal);
  chat.push_back({"user", "my 6 week old has a fever of 38.5"});
  EXPECT_EQ(Shipped().Assess(chat).category, "infant_fever");
}

TEST(SafetyPolicy, ConversationJoinsSignalsSplitOverTwoTurns) {
  std::vector<ChatMessage> chat = {{"user", "my husband has a crushing pain in his chest"},
                                   {"assistant", "How long has it lasted?"},
                                   {"user", "20 minutes and now he can't catch his breath"}};
  SafetyAssessment a = Shipped().Assess(chat);
  EXPECT_EQ(a.category, "cardiac");
  EXPECT_EQ(SignalNames(a), (std::vector<std::string>{"chest_pain", "breathless"}));
}

TEST(SafetyPolicy, NoUserMessageIsNone) {
  std::vector<ChatMessage> chat = {{"system", "I want to kill myself"}};
  EXPECT_EQ(Shipped().Assess(chat).urgency, Urgency::kNone);
  EXPECT_EQ(Shipped().Assess({}).urgency, Urgency::kNone);
}

// A complete rules file of its own (no "extends").
const char* const kMinimalRules = R"({
  "version": 1,
  "macros": {"G": "[\\w' ]"},
  "normalize": [{"pattern": "\\bhedache\\b", "replace": "headache"}],
  "negation": {"cue": "\\b(no|not)\\b", "clause_break": "[.,]|\\bbut\\b", "window_words": 3},
  "personal": "\\b(i|my)\\b",
  "suppressors": [{"name": "quiz", "pattern": "\\bquiz\\b", "not_personal": true}],
  "signals": {"headache": "\\bheadache\\b", "vomit": "\\bvomit{{G}}{0,3}"},
  "disclaimers": {"personal": "See a doctor.", "general": "General info."},
  "categories": [{"name": "raised_pressure", "escalation": "Go now.",
                  "rules": [{"name": "both", "when": ["headache", ["vomit"]]}]}]
})";

TEST(SafetyRulesFile, ACompleteFileOfItsOwnReplacesTheShippedRules) {
  Result<SafetyPolicy> p = SafetyPolicy::FromJson(kMinimalRules, "mini.json");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  SafetyAssessment a = p->AssessText("Bad hedache and I vomited");
  EXPECT_EQ(a.category, "raised_pressure");
  EXPECT_EQ(a.escalation, "Go now.");
  EXPECT_EQ(p->AssessText("headache, no vomiting").urgency, Urgency::kNone);
  EXPECT_EQ(p->AssessText("headache, no vomiting").disclaimer, "General info.");
  EXPECT_EQ(p->AssessText("my quiz: headache and vomiting").urgency, Urgency::kNone);
  EXPECT_EQ(p->AssessText("my back hurts").disclaimer, "See a doctor.");
  // The shipped categories are gone.
  EXPECT_EQ(p->AssessText("I took 30 tablets").urgency, Urgency::kPersonal);
}

TEST(SafetyRulesFile, ADeploymentFileExtendsTheShippedRules) {
  medassist::testing::TempDir dir;
  std::string path = dir.WriteFile("site.json", R"({
    "version": 1,
    "extends": "default",
    "signals": {"heat": "\\b(heat ?stroke|in the heat|sunstroke)\\b",
                "hot_dry": "\\bskin\\b[\\w' ]{0,15}\\bhot and dry\\b"},
    "categories": [
      {"name": "heat_stroke", "escalation": "This could be heat stroke. Call emergency services now.",
       "rules": [{"name": "heat_collapse", "when": ["heat", ["collapse", "hot_dry", "confusion"]]}]},
      {"name": "stroke", "escalation": "Local stroke text.",
       "rules": [{"name": "vision", "when": ["sudden", "vision_gone"]}]}
    ],
    "disclaimers": {"personal": "Ask your GP."}
  })");
  // vision_gone is not defined: a clear error naming the rule.
  Result<SafetyPolicy> bad = SafetyPolicy::Load(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("site.json: category \"stroke\" rule \"vision\": "
                                        "unknown signal \"vision_gone\""),
            std::string::npos)
      << bad.status().message();

  path = dir.WriteFile("site2.json", R"({
    "version": 1, "extends": "default",
    "signals": {"heat": "\\b(heat ?stroke|in the heat|sunstroke)\\b",
                "vision_gone": "\\b(lost|can't see)\\b[\\w' ]{0,20}\\b(vision|sight|eye)\\b"},
    "categories": [
      {"name": "heat_stroke", "escalation": "Heat stroke: call now.",
       "rules": [{"name": "heat_collapse", "when": ["heat", ["collapse", "confusion"]]}]},
      {"name": "stroke", "escalation": "Local stroke text.",
       "rules": [{"name": "vision", "when": ["sudden", "vision_gone"]}]}
    ],
    "disclaimers": {"personal": "Ask your GP."}
  })");
  Result<SafetyPolicy> p = SafetyPolicy::Load(path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->rules().categories.size(), 10u);
  EXPECT_EQ(p->rules().categories.back().name, "heat_stroke");
  SafetyAssessment heat = p->AssessText("my son was running in the heat and collapsed");
  EXPECT_EQ(heat.category, "heat_stroke");
  EXPECT_EQ(heat.escalation, "Heat stroke: call now.");
  SafetyAssessment eye = p->AssessText("I suddenly can't see out of my left eye");
  EXPECT_EQ(eye.category, "stroke");
  EXPECT_EQ(eye.escalation, "Local stroke text.");
  EXPECT_EQ(p->AssessText("I took 30 tablets").category, "overdose");  // shipped rules still there
  EXPECT_EQ(p->AssessText("my knee hurts").disclaimer, "Ask your GP.");
}

// Each bad file is refused with an error that names the file, the entry and the problem.
struct BadRules {
  const char* name;
  std::string json;
  std::string expected;  // a part of the error message
  StatusCode code = StatusCode::kInvalidArgument;
};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  CHECK(pos != std::string::npos) << from;
  return text.replace(pos, from.size(), to);
}

class SafetyRulesBadFile : public ::testing::TestWithParam<BadRules> {};

TEST_P(SafetyRulesBadFile, IsRefusedWithAClearMessage) {
  Result<SafetyPolicy> p = SafetyPolicy::FromJson(GetParam().json, "rules.json");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), GetParam().code);
  EXPECT_NE(p.status().message().find(GetParam().expected), std::string::npos)
      << p.status().message();
  EXPECT_EQ(p.status().message().rfind("rules.json", 0), 0u) << p.status().message();
}

const std::string kGood = kMinimalRules;

INSTANTIATE_TEST_SUITE_P(
    Catalogue, SafetyRulesBadFile,
    ::testing::Values(
        BadRules{"not_json", "{\"version\": 1,", "rules.json", StatusCode::kDataLoss},
        BadRules{"bad_regex", Replace(kGood, R"("\\bheadache\\b")", R"("(headache")"),
                 "signal \"headache\": regex does not compile at offset 9"},
        BadRules{"unknown_signal", Replace(kGood, R"(["vomit"])", R"(["vomits"])"),
                 "category \"raised_pressure\" rule \"both\": unknown signal \"vomits\""},
        BadRules{"unknown_macro", Replace(kGood, "{{G}}", "{{H}}"),
                 "signal \"vomit\": unknown macro {{H}}"},
        BadRules{"unknown_key", Replace(kGood, "\"version\": 1,", "\"version\": 1, \"rulez\": 2,"),
                 "unknown key \"rulez\""},
        BadRules{"wrong_version", Replace(kGood, "\"version\": 1", "\"version\": 2"),
                 "\"version\": must be 1"},
        BadRules{"bad_group_ref",
                 Replace(kGood, "\"replace\": \"headache\"", "\"replace\": \"$2\""),
                 "normalize[0]: replacement refers to group $2 but the pattern has 0 groups"},
        BadRules{"empty_escalation", Replace(kGood, "\"Go now.\"", "\"\""),
                 "category \"raised_pressure\": \"escalation\" is empty"},
        BadRules{"empty_when", Replace(kGood, R"(["headache", ["vomit"]])", "[]"),
                 "rule \"both\": \"when\" must be a non-empty array"},
        BadRules{"bad_extends",
                 Replace(kGood, "\"version\": 1,", "\"version\": 1, \"extends\": \"x\","),
                 "\"extends\": the only accepted value is \"default\""},
        BadRules{"bad_window", Replace(kGood, "\"window_words\": 3", "\"window_words\": 0"),
                 "\"window_words\" must be an integer from 1 to 50"},
        BadRules{"suppressor_unknown_category",
                 Replace(kGood, R"("not_personal": true)", R"("categories": ["strok"])"),
                 "suppressor \"quiz\": unknown category \"strok\""},
        BadRules{"missing_personal", Replace(kGood, R"("personal": "\\b(i|my)\\b",)", ""),
                 "\"personal\" is missing"}),
    [](const ::testing::TestParamInfo<BadRules>& p) { return std::string(p.param.name); });

TEST(SafetyRulesFile, MissingFileIsNotFound) {
  Result<SafetyPolicy> p = SafetyPolicy::Load("/nonexistent/red_flags.json");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("/nonexistent/red_flags.json"), std::string::npos);
}

TEST(SafetyRegex, FindAllSkipsEmptyMatchesAndHandlesInvalidUtf8) {
  Result<SafetyRegex> r = SafetyRegex::Compile("a*");
  ASSERT_TRUE(r.ok());
  std::vector<RegexMatch> m = r->FindAll(
      "baa\xFF"
      "a");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].begin, 1u);
  EXPECT_EQ(m[0].end, 3u);
  EXPECT_EQ(m[1].begin, 4u);
  Result<SafetyRegex> plus = SafetyRegex::Compile("(a+)");
  ASSERT_TRUE(plus.ok());
  Result<std::string> s = plus->ReplaceAll("xaayA", "<$1>");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, "x<aa>y<A>");  // case-insensitive
  EXPECT_FALSE(plus->ReplaceAll("xay", "$2").ok());
}

}  // namespace
}  // namespace medassist::assistant
