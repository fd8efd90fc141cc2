// Stop strings matched across token boundaries and never emitted (runtime/stop_matcher.h).
#include "runtime/stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace medassist::runtime {
namespace {

// Feeds pieces until a stop; returns everything emitted (plus Flush when no stop came).
std::string FeedAll(StopMatcher& m, const std::vector<std::string>& pieces, bool* stopped) {
  std::string out;
  *stopped = false;
  for (const std::string& p : pieces) {
    const StopMatcher::Step s = m.Feed(p);
    out += s.text;
    if (s.stopped) {
      *stopped = true;
      return out;
    }
  }
  return out + m.Flush();
}

TEST(StopMatcherTest, StopSplitOverTokensIsFoundAndNotEmitted) {
  StopMatcher m({"\nUser:"});
  bool stopped = false;
  EXPECT_EQ(FeedAll(m, {"Take aspirin", ".\nUs", "er: thanks"}, &stopped), "Take aspirin.");
  EXPECT_TRUE(stopped);
}

TEST(StopMatcherTest, PossiblePrefixIsHeldBackThenReleased) {
  StopMatcher m({"###"});
  StopMatcher::Step a = m.Feed("Dose: 5 mg #");
  EXPECT_EQ(a.text, "Dose: 5 mg ");  // "#" might start "###"
  StopMatcher::Step b = m.Feed("#1");
  EXPECT_EQ(b.text, "##1");  // it did not
  EXPECT_FALSE(b.stopped);
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, HeldTextComesOutOnFlush) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.Feed("the EN").text, "the ");
  EXPECT_EQ(m.Flush(), "EN");
}

TEST(StopMatcherTest, EarliestStopWinsAndNothingFollowsIt) {
  StopMatcher m({"zz", "b"});
  const StopMatcher::Step s = m.Feed("aabzz");
  EXPECT_EQ(s.text, "aa");
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(m.Feed("more").text, "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, OverlappingPrefixes) {
  StopMatcher m({"aab"});
  bool stopped = false;
  EXPECT_EQ(FeedAll(m, {"a", "a", "a", "b", "c"}, &stopped), "a");
  EXPECT_TRUE(stopped);
}

TEST(StopMatcherTest, StopAtTheVeryStartEmitsNothing) {
  StopMatcher m({"<|im_end|>"});
  bool stopped = false;
  EXPECT_EQ(FeedAll(m, {"<|im_", "end|>", "x"}, &stopped), "");
  EXPECT_TRUE(stopped);
}

TEST(StopMatcherTest, NoStopsPassesEverythingThrough) {
  StopMatcher m({"", ""});
  EXPECT_EQ(m.max_holdback(), 0u);
  EXPECT_EQ(m.Feed("abc").text, "abc");
  EXPECT_EQ(m.Feed("").text, "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, MultiByteTextIsNeverSplitInsideACharacter) {
  StopMatcher m({"é!"});  // C3 A9 21
  const StopMatcher::Step s = m.Feed("caf\xC3\xA9");
  EXPECT_EQ(s.text, "caf");  // "é" held back whole, as the start of "é!"
  EXPECT_EQ(m.Feed(" ok").text, "\xC3\xA9 ok");
}

}  // namespace
}  // namespace medassist::runtime
