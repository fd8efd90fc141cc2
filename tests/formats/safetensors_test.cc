// safetensors reader and writer round trips, what the reader accepts beyond the strictest writers,
// and SafetensorsModel on single-file and sharded folders (including every refusal of a bad index).
#include <gtest/gtest.h>

#include <cstring>

#include "formats/safetensors_model.h"
#include "formats/safetensors_writer.h"
#include "safetensors_test_util.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

using safetensors_testing::AsBytes;
using safetensors_testing::ParseSafetensors;
using safetensors_testing::SafetensorsBytes;
using safetensors_testing::SmallValidSafetensors;

std::vector<uint8_t> Iota(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + i);
  return v;
}

bool SameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

TEST(SafetensorsDtype, NamesSizesAndComputeSupport) {
  const std::vector<std::pair<std::string_view, size_t>> expected = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  int supported = 0;
  for (const auto& [name, size] : expected) {
    std::optional<SafetensorsDtype> d = ParseSafetensorsDtype(name);
    ASSERT_TRUE(d.has_value()) << name;
    EXPECT_EQ(SafetensorsDtypeName(*d), name);
    EXPECT_EQ(SafetensorsDtypeSize(*d), size) << name;
    supported += SafetensorsDtypeIsComputeSupported(*d);
  }
  EXPECT_EQ(supported, 3);
  EXPECT_TRUE(SafetensorsDtypeIsComputeSupported(SafetensorsDtype::kBF16));
  EXPECT_FALSE(SafetensorsDtypeIsComputeSupported(SafetensorsDtype::kF64));
  EXPECT_FALSE(ParseSafetensorsDtype("bf16").has_value());
  EXPECT_FALSE(ParseSafetensorsDtype("").has_value());
}

TEST(SafetensorsRoundTrip, WriterOutputReadsBack) {
  const std::string bytes = SmallValidSafetensors();
  Result<SafetensorsFile> r = ParseSafetensors(bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SafetensorsFile& f = *r;
  EXPECT_EQ(f.source(), "test.safetensors");
  EXPECT_EQ(f.data_offset() % 8, 0u) << "the writer pads the header to 8 bytes";
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{
                              {"format", "pt"}, {"source", "safetensors_test_util"}}));
  // Sorted by offset; "empty" (zero-size, at offset 30) sorts before "scale" (also at 30).
  std::vector<std::string> names;
  for (const SafetensorsTensor& t : f.tensors()) names.push_back(t.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"embed.weight", "norm.weight", "empty", "scale", "mask"}));
  const std::vector<uint8_t> src = [] {
    std::vector<uint8_t> v(64);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 7 + 1);
    return v;
  }();
  const std::span<const uint8_t> s(src);

  const SafetensorsTensor* embed = f.Find("embed.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, SafetensorsDtype::kF32);
  EXPECT_EQ(embed->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(embed->n_elements, 6u);
  EXPECT_EQ(embed->data_begin, 0u);
  EXPECT_TRUE(SameBytes(embed->data, s.first(24)));
  EXPECT_EQ(embed->data.data(), AsBytes(bytes).data() + f.data_offset()) << "a view, not a copy";

  const SafetensorsTensor* norm = f.Find("norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->dtype, SafetensorsDtype::kBF16);
  EXPECT_EQ(norm->data_begin, 24u);
  EXPECT_TRUE(SameBytes(norm->data, s.subspan(24, 6)));

  const SafetensorsTensor* empty = f.Find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->shape, (std::vector<uint64_t>{0, 5}));
  EXPECT_EQ(empty->n_elements, 0u);
  EXPECT_TRUE(empty->data.empty());

  const SafetensorsTensor* scale = f.Find("scale");
  ASSERT_NE(scale, nullptr);
  EXPECT_TRUE(scale->shape.empty());
  EXPECT_EQ(scale->n_elements, 1u);
  EXPECT_TRUE(SameBytes(scale->data, s.subspan(30, 8)));

  const SafetensorsTensor* mask = f.Find("mask");
  ASSERT_NE(mask, nullptr);
  EXPECT_EQ(mask->dtype, SafetensorsDtype::kBool);
  EXPECT_TRUE(SameBytes(mask->data, s.subspan(38, 3)));
  EXPECT_EQ(f.Find("missing"), nullptr);
  EXPECT_EQ(f.Find("__metadata__"), nullptr);
}

TEST(SafetensorsRoundTrip, OpenMapsAFileAndNamesItInErrors) {
  testing::TempDir dir;
  const std::string path = dir.WriteFile("m.safetensors", SmallValidSafetensors());
  Result<SafetensorsFile> r = SafetensorsFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source(), path);
  ASSERT_EQ(r->tensors().size(), 5u);
  SafetensorsFile moved = std::move(*r);  // views stay valid: they point into the mapping
  EXPECT_EQ(moved.Find("mask")->data[0], static_cast<uint8_t>(38 * 7 + 1));

  const std::string bad = dir.WriteFile("bad.safetensors", "1234");
  Result<SafetensorsFile> b = SafetensorsFile::Open(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(),
            bad + ": file is 4 bytes, too short for the 8-byte header length");
  EXPECT_FALSE(SafetensorsFile::Open(dir.path() + "/absent.safetensors").ok());
}

// Gaps between tensors, bytes after the last one, JSON order unlike offset order, unknown entry
// fields and an unaligned data section are all accepted; zero-size tensors may sit anywhere.
TEST(SafetensorsLenient, GapsUnalignedDataAndZeroSizeTensors) {
  const std::string header =
      "{\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[6,10],\"extra\":1},"
      "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
      "\"z\":{\"dtype\":\"F32\",\"shape\":[4,0],\"data_offsets\":[7,7]},"
      "\"e\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[12,12]}}";
  ASSERT_NE((8 + header.size()) % 2, 0u) << "keep the data section unaligned";
  const std::string bytes = SafetensorsBytes(header, "abcdefghijkl");
  Result<SafetensorsFile> r = ParseSafetensors(bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tensors().size(), 4u);
  EXPECT_EQ(r->tensors()[0].name, "a");
  EXPECT_EQ(r->tensors()[1].name, "b");
  EXPECT_EQ(r->tensors()[2].name, "z");  // inside b's span, but covers no bytes
  EXPECT_EQ(r->tensors()[3].name, "e");  // at the very end of the data section
  const SafetensorsTensor* b = r->Find("b");
  EXPECT_EQ(std::string(b->data.begin(), b->data.end()), "ghij");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data.data()) % 2, 1u) << "an unaligned I16 span";
  int16_t first = 0;
  std::memcpy(&first, b->data.data(), sizeof first);  // how consumers must load
  EXPECT_EQ(first, 'g' | ('h' << 8));
  EXPECT_TRUE(r->metadata().empty());
}

TEST(SafetensorsWriter, RefusesInconsistentTensors) {
  const std::vector<uint8_t> eight = Iota(8);
  auto error = [](const SafetensorsWriter& w) { return w.WriteToString().status().message(); };
  SafetensorsWriter size;
  size.AddTensor("w", SafetensorsDtype::kF32, {3}, eight);
  EXPECT_EQ(error(size),
            "safetensors writer: tensor 'w': 8 bytes of data do not match its shape and dtype");
  SafetensorsWriter dup;
  dup.AddTensor("w", SafetensorsDtype::kU8, {8}, eight);
  dup.AddTensor("w", SafetensorsDtype::kU8, {8}, eight);
  EXPECT_EQ(error(dup), "safetensors writer: tensor 'w': added twice");
  SafetensorsWriter reserved;
  reserved.AddTensor("__metadata__", SafetensorsDtype::kU8, {8}, eight);
  EXPECT_EQ(error(reserved), "safetensors writer: tensor '__metadata__': the name is reserved");
  SafetensorsWriter overflow;
  overflow.AddTensor("w", SafetensorsDtype::kF32, {uint64_t{1} << 62, 4}, {});
  EXPECT_NE(error(overflow).find("do not match"), std::string::npos);
  SafetensorsWriter utf8;
  utf8.AddTensor("\xff", SafetensorsDtype::kU8, {8}, eight);
  EXPECT_NE(error(utf8).find("safetensors writer: "), std::string::npos);
  SafetensorsWriter empty;
  Result<std::string> bytes = empty.WriteToString();
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, SafetensorsBytes("{}      "));
}

}  // namespace
}  // namespace medassist::formats
