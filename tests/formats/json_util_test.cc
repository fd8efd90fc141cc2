#include "formats/json_util.h"

#include <gtest/gtest.h>

namespace medassist::formats {
namespace {

TEST(JsonUtilTest, ParsesObject) {
  auto r = ParseJson(R"({"a": "b"})", "x.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto s = GetString(*r, "a", "x.json");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "b");
}

TEST(JsonUtilTest, TruncatedJsonNamesFileAndOffset) {
  auto r = ParseJson(R"({"a": "b)", "tokenizer.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("tokenizer.json: invalid JSON at byte"), std::string::npos)
      << r.status().message();
}

TEST(JsonUtilTest, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep(100000, '[');
  auto r = ParseJson(deep, "deep.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper than"), std::string::npos);
}

TEST(JsonUtilTest, NulByteIsRefusedNotTreatedAsTheEnd) {
  auto r = ParseJson(std::string("{}\0{\"a\": 1}", 11), "n.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "n.json: NUL byte at offset 2 (JSON text cannot contain one)");
}

TEST(JsonUtilTest, WrongFieldTypeIsAClearError) {
  auto r = ParseJson(R"({"a": 3})", "c.json");
  ASSERT_TRUE(r.ok());
  auto s = GetString(*r, "a", "c.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "c.json: field 'a' must be a string");
  EXPECT_EQ(GetString(*r, "b", "c.json").status().message(), "c.json: missing field 'b'");
  EXPECT_FALSE(GetString(nlohmann::json::array(), "a", "c.json").ok());
}

}  // namespace
}  // namespace medassist::formats
