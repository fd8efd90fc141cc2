// The reasoning split (assistant/reasoning.h): hand-written cases, then every chunking of the same
// text checked against a plain whole-text reference written from the contract.
#include "assistant/reasoning.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace medassist::assistant {
namespace {

const ReasoningMarkers kMedicalO1{"## Thinking", "## Final Response"};
const ReasoningMarkers kBrief{"Reasoning (brief):", "Final answer:"};

// Pushes each piece in turn, then finishes; returns everything that came out.
SplitDelta PushAll(ReasoningSplitter& splitter, const std::vector<std::string_view>& pieces) {
  SplitDelta all;
  for (std::string_view p : pieces) {
    SplitDelta d = splitter.Push(p);
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  SplitDelta last = splitter.Finish();
  all.reasoning += last.reasoning;
  all.content += last.content;
  return all;
}

// The text cut at the given ascending byte offsets.
std::vector<std::string_view> Cut(std::string_view text, const std::vector<size_t>& cuts) {
  std::vector<std::string_view> pieces;
  size_t from = 0;
  for (size_t at : cuts) {
    pieces.push_back(text.substr(from, at - from));
    from = at;
  }
  pieces.push_back(text.substr(from));
  return pieces;
}

bool IsSpace(char c) { return std::string_view(" \t\n\r\f\v").find(c) != std::string_view::npos; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The contract of reasoning.h on a whole text, written the obvious way.
SplitDelta ReferenceSplit(std::string_view text, const ReasoningMarkers& m, bool in_reasoning) {
  if (m.open.empty()) return {"", std::string(text)};
  std::string_view t = TrimLeft(text);
  if (!in_reasoning) {
    if (!t.starts_with(m.open)) return {"", std::string(t)};
    t = TrimLeft(t.substr(m.open.size()));
  }
  const size_t at = t.find(m.close);
  if (at == std::string_view::npos) return {std::string(TrimRight(t)), ""};
  return {std::string(TrimRight(t.substr(0, at))),
          std::string(TrimLeft(t.substr(at + m.close.size())))};
}

// Byte offsets that start a UTF-8 character (plus the end).
std::vector<size_t> CharBoundaries(std::string_view s) {
  std::vector<size_t> out;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

void ExpectSplit(const SplitDelta& got, std::string_view reasoning, std::string_view content) {
  EXPECT_EQ(got.reasoning, reasoning);
  EXPECT_EQ(got.content, content);
}

// ---- Markers: presets and specs ----

TEST(ReasoningMarkersTest, PresetsHaveTheDocumentedMarkers) {
  Result<ReasoningMarkers> o1 = ReasoningPreset("medical-o1");
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(o1->open, "## Thinking");
  EXPECT_EQ(o1->close, "## Final Response");
  Result<ReasoningMarkers> brief = ReasoningPreset("brief");
  ASSERT_TRUE(brief.ok());
  EXPECT_EQ(brief->open, "Reasoning (brief):");
  EXPECT_EQ(brief->close, "Final answer:");
  Result<ReasoningMarkers> none = ReasoningPreset("none");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->open.empty());
  EXPECT_EQ(ReasoningPresetNames(), (std::vector<std::string>{"medical-o1", "brief", "none"}));
}

TEST(ReasoningMarkersTest, UnknownPresetNamesTheAcceptedOnes) {
  Result<ReasoningMarkers> r = ReasoningPreset("medical-o2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("medical-o2"), std::string::npos);
  EXPECT_NE(r.status().message().find("medical-o1, brief, none"), std::string::npos);
}

TEST(ReasoningMarkersTest, SpecAcceptsPresetNames) {
  Result<ReasoningMarkers> r = ParseReasoningMarkers(" medical-o1 ");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->open, "## Thinking");
  EXPECT_EQ(r->close, "## Final Response");
  Result<ReasoningMarkers> none = ParseReasoningMarkers("none");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->open.empty());
}

TEST(ReasoningMarkersTest, SpecAcceptsCustomMarkersAndTrimsThem) {
  Result<ReasoningMarkers> r = ParseReasoningMarkers(" <think> | </think>\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->open, "<think>");
  EXPECT_EQ(r->close, "</think>");
  Result<ReasoningMarkers> spaced = ParseReasoningMarkers("Reasoning (brief):|Answer:");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(spaced->open, "Reasoning (brief):");
  EXPECT_EQ(spaced->close, "Answer:");
}

TEST(ReasoningMarkersTest, BadSpecsAreRefusedWithAHint) {
  const std::vector<std::string> bad = {"", "   ", "|x", "a|", "|", " | ", "a|b|c", "unknown"};
  for (const std::string& spec : bad) {
    Result<ReasoningMarkers> r = ParseReasoningMarkers(spec);
    ASSERT_FALSE(r.ok()) << "accepted \"" << spec << "\"";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(r.status().message().find("OPEN|CLOSE"), std::string::npos)
        << spec << ": " << r.status().message();
  }
  EXPECT_NE(ParseReasoningMarkers("unknown").status().message().find("medical-o1, brief, none"),
            std::string::npos);
}

// ---- The split on whole texts ----

TEST(ReasoningSplitTest, MedicalO1FullOutput) {
  const std::string text =
      "## Thinking\n\nFever, neck stiffness and photophobia suggest meningitis.\n"
      "A lumbar puncture is needed.\n\n## Final Response\n\nGo to the emergency department now.";
  ExpectSplit(SplitReasoning(text, kMedicalO1),
              "Fever, neck stiffness and photophobia suggest meningitis.\n"
              "A lumbar puncture is needed.",
              "Go to the emergency department now.");
}

TEST(ReasoningSplitTest, DirectAnswerIsAllContent) {
  ExpectSplit(SplitReasoning("Rest and drink fluids.\n", kMedicalO1), "",
              "Rest and drink fluids.\n");
  // Leading whitespace of the output is dropped also for a direct answer.
  ExpectSplit(SplitReasoning("\n\n  Rest.", kMedicalO1), "", "Rest.");
}

TEST(ReasoningSplitTest, LeadingWhitespaceBeforeTheOpenMarkerIsDropped) {
  ExpectSplit(SplitReasoning(" \n\t## Thinking\nWhy.\n## Final Response\nWhat.", kMedicalO1),
              "Why.", "What.");
}

TEST(ReasoningSplitTest, MissingCloseMarkerLeavesAllReasoning) {
  ExpectSplit(SplitReasoning("## Thinking\n\nConsider meningitis.\n\n## Final", kMedicalO1),
              "Consider meningitis.\n\n## Final", "");
  ExpectSplit(SplitReasoning("## Thinking\n\nConsider meningitis.\n\n", kMedicalO1),
              "Consider meningitis.", "");
}

TEST(ReasoningSplitTest, MarkersWithCrlf) {
  ExpectSplit(SplitReasoning("## Thinking\r\n\r\nA.\r\nB.\r\n\r\n## Final Response\r\n\r\nC.\r\n",
                             kMedicalO1),
              "A.\r\nB.", "C.\r\n");
}

TEST(ReasoningSplitTest, OpenMarkerLaterInADirectAnswerStaysContent) {
  const std::string text =
      "Answer first.\n## Thinking\nnot reasoning\n## Final Response\nstill content";
  ExpectSplit(SplitReasoning(text, kMedicalO1), "", text);
}

TEST(ReasoningSplitTest, EmptyAndWhitespaceOnlyOutputs) {
  ExpectSplit(SplitReasoning("", kMedicalO1), "", "");
  ExpectSplit(SplitReasoning(" \n\t\r\n ", kMedicalO1), "", "");
  ExpectSplit(SplitReasoning(" \n\t\r\n ", kMedicalO1, /*starts_in_reasoning=*/true), "", "");
  ExpectSplit(SplitReasoning("## Thinking\n\n", kMedicalO1), "", "");
  ReasoningSplitter nothing(kMedicalO1);
  EXPECT_TRUE(nothing.Finish().empty());
}

TEST(ReasoningSplitTest, EmptyReasoning) {
  ExpectSplit(SplitReasoning("## Thinking\n\n## Final Response\n\nRest.", kMedicalO1), "", "Rest.");
  ExpectSplit(SplitReasoning("## Thinking## Final Response", kMedicalO1), "", "");
}

TEST(ReasoningSplitTest, PrefixOfTheOpenMarkerAloneIsContent) {
  ExpectSplit(SplitReasoning("## Thin", kMedicalO1), "", "## Thin");
  ExpectSplit(SplitReasoning("  ##", kMedicalO1), "", "##");
  ExpectSplit(SplitReasoning("## Headache", kMedicalO1), "", "## Headache");
}

TEST(ReasoningSplitTest, NearMissOfTheCloseMarkerStaysReasoning) {
  ExpectSplit(SplitReasoning("## Thinking\nA ## Final Respons B\n## Final Response\nC", kMedicalO1),
              "A ## Final Respons B", "C");
}

TEST(ReasoningSplitTest, OnlyTheFirstCloseMarkerCounts) {
  ExpectSplit(
      SplitReasoning("## Thinking\nA\n## Final Response\nB\n## Final Response\nC", kMedicalO1), "A",
      "B\n## Final Response\nC");
}

TEST(ReasoningSplitTest, BriefPreset) {
  ExpectSplit(
      SplitReasoning("Reasoning (brief): Likely viral.\nFinal answer: Rest and fluids.", kBrief),
      "Likely viral.", "Rest and fluids.");
}

TEST(ReasoningSplitTest, StartsInReasoning) {
  ExpectSplit(SplitReasoning("\nLikely tension headache.\n\n## Final Response\n\nIbuprofen.",
                             kMedicalO1, /*starts_in_reasoning=*/true),
              "Likely tension headache.", "Ibuprofen.");
  ExpectSplit(SplitReasoning("Still thinking", kMedicalO1, /*starts_in_reasoning=*/true),
              "Still thinking", "");
}

TEST(ReasoningSplitTest, CustomMarkersFromASpec) {
  Result<ReasoningMarkers> m = ParseReasoningMarkers("<think>|</think>");
  ASSERT_TRUE(m.ok());
  ExpectSplit(SplitReasoning("<think>\nCheck dose.\n</think>\n\n500 mg.", *m), "Check dose.",
              "500 mg.");
}

TEST(ReasoningSplitTest, NoneIsAPassThrough) {
  const std::string text = "  ## Thinking\nx\n## Final Response\ny  ";
  ExpectSplit(SplitReasoning(text, ReasoningMarkers{}), "", text);
  ExpectSplit(SplitReasoning(text, ReasoningMarkers{}, /*starts_in_reasoning=*/true), "", text);
}

// ---- Streaming ----

TEST(ReasoningSplitterTest, EmitsAtOnceAndHoldsBackOnlyAPossibleMarker) {
  ReasoningSplitter s(kMedicalO1);
  ExpectSplit(s.Push("## Thi"), "", "");  // could be the opening marker
  ExpectSplit(s.Push("nking\n\nAbc def"), "Abc def", "");
  ExpectSplit(s.Push("\n\n## Fi"), "", "");      // may be whitespace before the closing marker
  ExpectSplit(s.Push("ne"), "\n\n## Fine", "");  // it was not
  ExpectSplit(s.Push(" \n"), "", "");
  ExpectSplit(s.Push("## Final Response\n"), "", "");
  ExpectSplit(s.Push("\nTake "), "", "Take ");
  ExpectSplit(s.Push("## Thinking"), "", "## Thinking");
  ExpectSplit(s.Finish(), "", "");
  EXPECT_TRUE(s.Finish().empty());  // a second Finish is harmless
}

TEST(ReasoningSplitterTest, DirectAnswerIsReleasedAsSoonAsItDiffersFromTheMarker) {
  ReasoningSplitter s(kMedicalO1);
  ExpectSplit(s.Push("\n#"), "", "");
  ExpectSplit(s.Push("# Head"), "", "## Head");
  ExpectSplit(s.Push("ache"), "", "ache");
}

TEST(ReasoningSplitterTest, FinishReturnsHeldBackReasoning) {
  ReasoningSplitter s(kMedicalO1, /*starts_in_reasoning=*/true);
  ExpectSplit(s.Push("Dose check\n\n## Final Resp"), "Dose check", "");
  ExpectSplit(s.Finish(), "\n\n## Final Resp", "");
}

TEST(ReasoningSplitterTest, PushAfterFinishIsABug) {
  ReasoningSplitter s(kMedicalO1);
  (void)s.Finish();
  EXPECT_DEATH((void)s.Push("x"), "after Finish");
}

// Every single cut and every pair of cuts give the result of the whole text.
void ExpectChunkingInvariant(std::string_view text, const ReasoningMarkers& m, bool in_reasoning) {
  const SplitDelta want = ReferenceSplit(text, m, in_reasoning);
  const SplitDelta whole = SplitReasoning(text, m, in_reasoning);
  ASSERT_EQ(whole.reasoning, want.reasoning) << text;
  ASSERT_EQ(whole.content, want.content) << text;
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      ReasoningSplitter s(m, in_reasoning);
      const SplitDelta got = PushAll(s, Cut(text, {i, j}));
      ASSERT_EQ(got.reasoning, want.reasoning) << "cuts " << i << "," << j << " of: " << text;
      ASSERT_EQ(got.content, want.content) << "cuts " << i << "," << j << " of: " << text;
    }
  }
}

TEST(ReasoningSplitterTest, EveryCutGivesTheWholeTextResult) {
  const std::vector<std::string> texts = {
      "## Thinking\n\nFièvre 39 °C, raideur 発熱 🤒.\n\n## Final Response\n\nUrgences 🏥.",
      "\r\n## Thinking\r\nA ## Final Respons B\r\n## Final Response\r\nC\r\n",
      "Direct 🤒 answer.\n## Thinking\nno\n## Final Response\nstill",
      "## Thinking\n\nunfinished é\n\n## Final Re",
      "## Thin",
      "  \n ",
      "## Thinking## Final Response## Final Response",
  };
  for (const std::string& text : texts) {
    ExpectChunkingInvariant(text, kMedicalO1, false);
    ExpectChunkingInvariant(text, kMedicalO1, true);
  }
  ExpectChunkingInvariant("Reasoning (brief):\nviral\nFinal answer: rest", kBrief, false);
  ExpectChunkingInvariant("«pensée» é «réponse» ü", ReasoningMarkers{"«pensée»", "«réponse»"},
                          false);
}

// Random texts built from marker pieces, whitespace and multi-byte characters, cut at random
// points; cuts on character boundaries must also give whole characters in every delta.
std::string RandomText(std::mt19937& rng, const ReasoningMarkers& m) {
  const std::vector<std::string> parts = {m.open,
                                          m.close,
                                          m.open.substr(0, m.open.size() / 2),
                                          m.close.substr(0, m.close.size() / 2),
                                          " ",
                                          "\n",
                                          "\r\n",
                                          "\t",
                                          "a",
                                          "dose",
                                          "é",
                                          "発熱",
                                          "🤒",
                                          "#",
                                          "##",
                                          "Final"};
  std::string text;
  const size_t n = std::uniform_int_distribution<size_t>(0, 14)(rng);
  for (size_t i = 0; i < n; ++i) {
    text += parts[std::uniform_int_distribution<size_t>(0, parts.size() - 1)(rng)];
  }
  return text;
}

std::vector<size_t> RandomCuts(std::mt19937& rng, const std::vector<size_t>& candidates) {
  std::vector<size_t> cuts;
  for (size_t at : candidates) {
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) cuts.push_back(at);
  }
  return cuts;
}

TEST(ReasoningSplitterTest, RandomChunkingsMatchTheReference) {
  std::mt19937 rng(20261128);
  const std::vector<ReasoningMarkers> marker_sets = {kMedicalO1, kBrief, {"«pensée»", "«réponse»"}};
  int n_checked = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    const ReasoningMarkers& m = marker_sets[iter % marker_sets.size()];
    const bool in_reasoning = (iter / 3) % 2 == 1;
    const std::string text = RandomText(rng, m);
    const SplitDelta want = ReferenceSplit(text, m, in_reasoning);
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < text.size(); ++i) every_byte.push_back(i);
    for (bool whole_chars : {false, true}) {
      const std::vector<size_t> cuts =
          RandomCuts(rng, whole_chars ? CharBoundaries(text) : every_byte);
      ReasoningSplitter s(m, in_reasoning);
      SplitDelta got;
      for (std::string_view piece : Cut(text, cuts)) {
        const SplitDelta d = s.Push(piece);
        if (whole_chars) {
          ASSERT_TRUE(IsValidUtf8(d.reasoning) && IsValidUtf8(d.content)) << text;
        }
        got.reasoning += d.reasoning;
        got.content += d.content;
      }
      const SplitDelta last = s.Finish();
      ASSERT_TRUE(IsValidUtf8(last.reasoning) && IsValidUtf8(last.content)) << text;
      got.reasoning += last.reasoning;
      got.content += last.content;
      ASSERT_EQ(got.reasoning, want.reasoning) << text;
      ASSERT_EQ(got.content, want.content) << text;
      ++n_checked;
    }
  }
  EXPECT_EQ(n_checked, 6000);
}

// ---- reasoning: "off" helpers ----

TEST(ReasoningOffTest, OpensReasoning) {
  EXPECT_TRUE(OpensReasoning("\n## Thinking", kMedicalO1));
  EXPECT_TRUE(OpensReasoning("## Thinking\nabc", kMedicalO1));
  EXPECT_FALSE(OpensReasoning("## Think", kMedicalO1));
  EXPECT_FALSE(OpensReasoning("Rest. ## Thinking", kMedicalO1));
  EXPECT_FALSE(OpensReasoning("## Thinking", ReasoningMarkers{}));
}

TEST(ReasoningOffTest, MayStartWithOpenMarker) {
  EXPECT_TRUE(MayStartWithOpenMarker("", kMedicalO1));
  EXPECT_TRUE(MayStartWithOpenMarker(" \n", kMedicalO1));
  EXPECT_TRUE(MayStartWithOpenMarker("## Th", kMedicalO1));
  EXPECT_TRUE(MayStartWithOpenMarker("## Thinking and more", kMedicalO1));
  EXPECT_FALSE(MayStartWithOpenMarker("## Tx", kMedicalO1));
  EXPECT_FALSE(MayStartWithOpenMarker("Rest.", kMedicalO1));
  EXPECT_FALSE(MayStartWithOpenMarker("", ReasoningMarkers{}));
}

}  // namespace
}  // namespace medassist::assistant
