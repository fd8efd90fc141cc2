// GgufWriter -> GgufFile round trips of every value type and of tensors, the typed getters and
// their errors, the writer's refusals, and writing to / opening from disk.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "gguf_test_util.h"
#include "support/test_support.h"

namespace medassist::formats {
namespace {

using gguf_testing::AsBytes;
using gguf_testing::GgufBytes;
using gguf_testing::ParseGguf;

template <typename T>
std::vector<uint8_t> BytesOf(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Writes w to a string and parses it; the string is kept in *storage for the file's views.
GgufFile RoundTrip(const GgufWriter& w, std::string* storage) {
  Result<std::string> bytes = w.WriteToString();
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  *storage = bytes.ok() ? *bytes : "";
  Result<GgufFile> file = ParseGguf(*storage, "roundtrip.gguf");
  CHECK(file.ok()) << file.status().ToString();
  return std::move(file).value();
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  w.AddUint8("u8", 255);
  w.AddInt8("i8", -128);
  w.AddUint16("u16", 65535);
  w.AddInt16("i16", -32768);
  w.AddUint32("u32", 4294967295u);
  w.AddInt32("i32", -2147483647 - 1);
  w.AddFloat32("f32", -0.1f);
  w.AddBool("bool_t", true);
  w.AddBool("bool_f", false);
  w.AddString("str", std::string("nul\0and \xff bytes", 15));
  w.AddString("empty", "");
  w.AddUint64("u64", std::numeric_limits<uint64_t>::max());
  w.AddInt64("i64", std::numeric_limits<int64_t>::min());
  w.AddFloat64("f64", 1e300);
  std::string storage;
  GgufFile f = RoundTrip(w, &storage);

  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  ASSERT_EQ(f.metadata().size(), 14u);
  const char* kOrder[] = {"u8",     "i8",     "u16", "i16",   "u32", "i32", "f32",
                          "bool_t", "bool_f", "str", "empty", "u64", "i64", "f64"};
  for (size_t i = 0; i < 14; ++i) EXPECT_EQ(f.metadata()[i].key, kOrder[i]);
  const GgufValueType kTypes[] = {
      GgufValueType::kUint8,   GgufValueType::kInt8,   GgufValueType::kUint16,
      GgufValueType::kInt16,   GgufValueType::kUint32, GgufValueType::kInt32,
      GgufValueType::kFloat32, GgufValueType::kBool,   GgufValueType::kBool,
      GgufValueType::kString,  GgufValueType::kString, GgufValueType::kUint64,
      GgufValueType::kInt64,   GgufValueType::kFloat64};
  for (size_t i = 0; i < 14; ++i) EXPECT_EQ(f.metadata()[i].value.type(), kTypes[i]) << kOrder[i];

  EXPECT_EQ(*f.Find("u8")->AsUint64(), 255u);
  EXPECT_EQ(*f.Find("i8")->AsInt64(), -128);
  EXPECT_EQ(*f.Find("u16")->AsUint64(), 65535u);
  EXPECT_EQ(*f.Find("i16")->AsInt64(), -32768);
  EXPECT_EQ(*f.GetUint32("u32"), 4294967295u);
  EXPECT_EQ(*f.Find("i32")->AsInt64(), -2147483648LL);
  EXPECT_EQ(*f.GetFloat32("f32"), -0.1f);
  EXPECT_TRUE(*f.GetBool("bool_t"));
  EXPECT_FALSE(*f.GetBool("bool_f"));
  EXPECT_EQ(*f.GetString("str"), std::string_view("nul\0and \xff bytes", 15));
  EXPECT_EQ(*f.GetString("empty"), "");
  EXPECT_EQ(*f.GetUint64("u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*f.Find("i64")->AsInt64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*f.Find("f64")->AsFloat64(), 1e300);
  EXPECT_EQ(f.Find("absent"), nullptr);
  EXPECT_TRUE(f.tensors().empty());
}

TEST(GgufRoundTrip, EveryArrayType) {
  GgufWriter w;
  w.AddArray<uint8_t>("u8", std::vector<uint8_t>{0, 255});
  w.AddArray<int8_t>("i8", std::vector<int8_t>{-128, 127});
  w.AddArray<uint16_t>("u16", std::vector<uint16_t>{1, 65535});
  w.AddArray<int16_t>("i16", std::vector<int16_t>{-32768, 5});
  w.AddArray<uint32_t>("u32", std::vector<uint32_t>{7, 2147483647});
  w.AddInt32Array("i32", std::vector<int32_t>{-1, 0, 2147483647});
  w.AddFloat32Array("f32", std::vector<float>{1.5f, -2.25f, 0.0f});
  const bool bools[] = {true, false, true};
  w.AddArray<bool>("bool", bools);
  w.AddStringArray("str", std::vector<std::string>{"a", "", std::string("\0z", 2)});
  w.AddStringArray("str_views", std::vector<std::string_view>{"x", "yz"});
  w.AddArray<uint64_t>("u64", std::vector<uint64_t>{std::numeric_limits<uint64_t>::max()});
  w.AddArray<int64_t>("i64", std::vector<int64_t>{-5, 6});
  w.AddArray<double>("f64", std::vector<double>{0.5, -1e-300});
  w.AddFloat32Array("f32_empty", std::vector<float>{});
  w.AddStringArray("str_empty", std::vector<std::string>{});
  std::string storage;
  GgufFile f = RoundTrip(w, &storage);

  const GgufValue* u8 = f.Find("u8");
  ASSERT_NE(u8, nullptr);
  EXPECT_EQ(u8->type(), GgufValueType::kArray);
  EXPECT_EQ(u8->array_type(), GgufValueType::kUint8);
  EXPECT_EQ(u8->array_size(), 2u);
  EXPECT_EQ(*u8->Element(1).AsUint64(), 255u);
  EXPECT_EQ(*f.Find("i8")->Element(0).AsInt64(), -128);
  EXPECT_EQ(*f.Find("u16")->Element(1).AsUint64(), 65535u);
  EXPECT_EQ(*f.Find("i16")->Element(0).AsInt64(), -32768);
  EXPECT_EQ(*f.GetInt32Array("u32"), (std::vector<int32_t>{7, 2147483647}));
  EXPECT_EQ(*f.GetInt32Array("i32"), (std::vector<int32_t>{-1, 0, 2147483647}));
  EXPECT_EQ(*f.GetInt32Array("i16"), (std::vector<int32_t>{-32768, 5}));
  EXPECT_EQ(*f.GetFloat32Array("f32"), (std::vector<float>{1.5f, -2.25f, 0.0f}));
  EXPECT_EQ(*f.GetFloat32Array("f64"), (std::vector<float>{0.5f, -0.0f}));
  EXPECT_EQ(*f.Find("f64")->Element(1).AsFloat64(), -1e-300);
  const GgufValue* b = f.Find("bool");
  EXPECT_EQ(b->array_type(), GgufValueType::kBool);
  EXPECT_TRUE(*b->Element(0).AsBool());
  EXPECT_FALSE(*b->Element(1).AsBool());
  EXPECT_TRUE(*b->Element(2).AsBool());
  EXPECT_EQ(*f.GetStringArray("str"),
            (std::vector<std::string_view>{"a", "", std::string_view("\0z", 2)}));
  EXPECT_EQ(*f.GetStringArray("str_views"), (std::vector<std::string_view>{"x", "yz"}));
  EXPECT_EQ(*f.Find("u64")->Element(0).AsUint64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*f.GetInt32Array("i64"), (std::vector<int32_t>{-5, 6}));
  EXPECT_TRUE(f.GetFloat32Array("f32_empty")->empty());
  EXPECT_TRUE(f.GetStringArray("str_empty")->empty());
}

// Nested arrays cannot be built with the typed adders; they come from a hand-made file and are
// carried over with AddValue, which must copy every value type verbatim.
TEST(GgufRoundTrip, AddValueCopiesEveryValueIncludingNestedArrays) {
  const std::string source = GgufBytes()
                                 .Header(2, 0, 3)
                                 .Str("nested")
                                 .U32(9)
                                 .U32(9)
                                 .U64(2)  // ARRAY of 2 ARRAYs:
                                 .U32(8)
                                 .U64(2)
                                 .Str("p")
                                 .Str("qr")  //   [STRING "p", "qr"]
                                 .U32(5)
                                 .U64(1)
                                 .U32(42)  //   [INT32 42]
                                 .KvString("s", "text")
                                 .KvU32("general.alignment", 16)
                                 .str();
  Result<GgufFile> in = ParseGguf(source, "in.gguf");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->version(), 2u);
  const GgufValue* nested = in->Find("nested");
  ASSERT_EQ(nested->nested().size(), 2u);
  EXPECT_EQ(nested->nested()[0].Strings(), (std::vector<std::string_view>{"p", "qr"}));
  EXPECT_EQ(*nested->nested()[1].Element(0).AsInt64(), 42);

  GgufWriter w;
  for (const GgufKeyValue& kv : in->metadata()) w.AddValue(kv.key, kv.value);
  w.AddTensor("t", GgmlType::kF32, std::vector<uint64_t>{2}, std::vector<uint8_t>(8, 1));
  EXPECT_EQ(w.alignment(), 16u);
  std::string storage;
  GgufFile out = RoundTrip(w, &storage);
  EXPECT_EQ(out.alignment(), 16u);
  ASSERT_EQ(out.metadata().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const GgufValue& a = in->metadata()[i].value;
    const GgufValue& b = out.metadata()[i].value;
    EXPECT_EQ(in->metadata()[i].key, out.metadata()[i].key);
    EXPECT_EQ(a.type(), b.type());
    EXPECT_EQ(a.array_size(), b.array_size());
    EXPECT_TRUE(
        std::equal(a.payload().begin(), a.payload().end(), b.payload().begin(), b.payload().end()));
  }
  EXPECT_EQ(out.Find("nested")->nested()[0].Strings()[1], "qr");
}

TEST(GgufRoundTrip, TensorsOfSeveralTypesAtAlignedOffsets) {
  GgufWriter w;
  w.AddUint32("general.alignment", 64);
  const std::vector<float> f32 = {1, 2, 3, 4, 5, 6};
  w.AddTensor("f32", GgmlType::kF32, std::vector<uint64_t>{3, 2}, BytesOf(f32));
  std::vector<uint8_t> q4k(144 * 3);
  for (size_t i = 0; i < q4k.size(); ++i) q4k[i] = static_cast<uint8_t>(i);
  w.AddTensor("q4k", GgmlType::kQ4_K, std::vector<uint64_t>{256, 3}, q4k);
  w.AddTensor("q8", GgmlType::kQ8_0, std::vector<uint64_t>{64}, std::vector<uint8_t>(68, 8));
  w.AddTensor("bf16", GgmlType::kBF16, std::vector<uint64_t>{1, 1, 1, 5},
              std::vector<uint8_t>(10, 3));
  std::string storage;
  GgufFile f = RoundTrip(w, &storage);

  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  const GgufTensorInfo* t = f.FindTensor("f32");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::kF32);
  EXPECT_EQ(t->dims, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(t->n_elements, 6u);
  EXPECT_EQ(t->n_bytes, 24u);
  EXPECT_EQ(t->offset, 0u);
  std::vector<float> back(6);
  std::memcpy(back.data(), t->data.data(), 24);
  EXPECT_EQ(back, f32);

  const GgufTensorInfo* q = f.FindTensor("q4k");
  EXPECT_EQ(q->offset, 64u);
  EXPECT_EQ(q->n_bytes, 432u);
  EXPECT_EQ(std::vector<uint8_t>(q->data.begin(), q->data.end()), q4k);
  EXPECT_EQ(f.FindTensor("q8")->offset, 64u + 448u);
  EXPECT_EQ(f.FindTensor("q8")->n_elements, 64u);
  EXPECT_EQ(f.FindTensor("bf16")->dims.size(), 4u);
  EXPECT_EQ(f.FindTensor("bf16")->data[9], 3);
  EXPECT_EQ(f.FindTensor("absent"), nullptr);
  for (const GgufTensorInfo& ti : f.tensors()) {
    EXPECT_EQ(ti.offset % 64, 0u) << ti.name;
    EXPECT_EQ(ti.data.data(),
              reinterpret_cast<const uint8_t*>(storage.data()) + f.data_offset() + ti.offset);
  }
}

// Found by the fuzzer: a file with no tensors and general.alignment = 2^31 is valid, and rewriting
// it must not pad the header to 2 GiB.
TEST(GgufRoundTrip, NoTensorsMeansNoPaddingEvenWithAHugeAlignment) {
  GgufWriter w;
  w.AddUint32("general.alignment", 1u << 31);
  w.AddString("s", "x");
  std::string storage;
  GgufFile f = RoundTrip(w, &storage);
  EXPECT_EQ(storage.size(), 24u + (8 + 17 + 4 + 4) + (8 + 1 + 4 + 8 + 1));
  EXPECT_EQ(f.alignment(), 1u << 31);
  EXPECT_EQ(f.data_offset(), uint64_t{1} << 31);
  EXPECT_TRUE(f.tensors().empty());
}

TEST(GgufRoundTrip, LargeTokenListIsWrittenAndReadBack) {
  std::vector<std::string> tokens(151936);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = "tok" + std::to_string(i);
  std::vector<float> scores(tokens.size(), -1.0f);
  GgufWriter w;
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddFloat32Array("tokenizer.ggml.scores", scores);
  std::string storage;
  GgufFile f = RoundTrip(w, &storage);
  Result<std::vector<std::string_view>> back = f.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), tokens.size());
  EXPECT_EQ((*back)[0], "tok0");
  EXPECT_EQ((*back)[151935], "tok151935");
  EXPECT_EQ(f.GetFloat32Array("tokenizer.ggml.scores")->size(), scores.size());
}

// A file for the getter tests: one key of each shape the getters meet.
GgufWriter GetterFixture() {
  GgufWriter w;
  w.AddUint8("u8", 200);
  w.AddInt32("neg", -5);
  w.AddInt32("pos", 77);
  w.AddUint64("big", uint64_t{1} << 32);
  w.AddFloat64("f64", 0.125);
  w.AddString("s", "hello");
  w.AddBool("b", true);
  w.AddFloat32Array("floats", std::vector<float>{1, 2});
  w.AddArray<uint32_t>("too_big", std::vector<uint32_t>{1, 4294967295u});
  w.AddStringArray("strings", std::vector<std::string>{"x"});
  return w;
}

TEST(GgufGetters, ConvertWhatFits) {
  std::string storage;
  GgufFile f = RoundTrip(GetterFixture(), &storage);
  EXPECT_EQ(*f.GetUint32("u8"), 200u);
  EXPECT_EQ(*f.GetUint32("pos"), 77u);
  EXPECT_EQ(*f.GetUint64("big"), uint64_t{1} << 32);
  EXPECT_EQ(*f.GetFloat32("f64"), 0.125f);
  EXPECT_EQ(*f.GetString("s"), "hello");
  EXPECT_TRUE(*f.GetBool("b"));
  EXPECT_EQ(*f.GetFloat32Array("floats"), (std::vector<float>{1, 2}));
}

TEST(GgufGetters, ErrorsNameTheSourceKeyAndTypes) {
  std::string storage;
  GgufFile f = RoundTrip(GetterFixture(), &storage);
  struct Case {
    Status status;
    StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {f.GetString("nope").status(), StatusCode::kNotFound,
       "roundtrip.gguf: metadata key 'nope' not found"},
      {f.GetUint32("neg").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'neg' is -5, expected an unsigned integer"},
      {f.GetUint32("big").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'big' is 4294967296, which does not fit in uint32"},
      {f.GetUint32("s").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 's' is STRING, expected an unsigned integer"},
      {f.GetUint64("f64").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'f64' is FLOAT64, expected an unsigned integer"},
      {f.GetFloat32("pos").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'pos' is INT32, expected FLOAT32"},
      {f.GetBool("u8").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'u8' is UINT8, expected BOOL"},
      {f.GetString("strings").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'strings' is ARRAY of STRING, expected STRING"},
      {f.GetStringArray("floats").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'floats' is ARRAY of FLOAT32, expected ARRAY of STRING"},
      {f.GetStringArray("s").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 's' is STRING, expected ARRAY of STRING"},
      {f.GetFloat32Array("strings").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'strings' is ARRAY of STRING, expected ARRAY of FLOAT32"},
      {f.GetInt32Array("floats").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'floats' is ARRAY of FLOAT32, expected ARRAY of INT32"},
      {f.GetInt32Array("too_big").status(), StatusCode::kDataLoss,
       "roundtrip.gguf: metadata 'too_big' element 1 is 4294967295, which does not fit in "
       "int32"},
      {f.GetInt32Array("nope").status(), StatusCode::kNotFound,
       "roundtrip.gguf: metadata key 'nope' not found"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), c.code) << c.status.ToString();
    EXPECT_EQ(c.status.message(), c.message);
  }
}

TEST(GgufValue, DefaultAndMismatchedReadsAreEmpty) {
  const GgufValue v;
  EXPECT_FALSE(v.AsUint64().has_value());
  EXPECT_FALSE(v.AsBool().has_value());
  EXPECT_TRUE(v.Strings().empty());
  std::string storage;
  GgufFile f = RoundTrip(GetterFixture(), &storage);
  EXPECT_FALSE(f.Find("s")->AsUint64().has_value());
  EXPECT_FALSE(f.Find("neg")->AsUint64().has_value());
  EXPECT_EQ(*f.Find("neg")->AsInt64(), -5);
  EXPECT_FALSE(f.Find("u8")->AsFloat64().has_value());
  EXPECT_FALSE(f.Find("floats")->AsString().has_value());
}

TEST(GgmlTypes, GeometryAndComputeSupport) {
  EXPECT_EQ(FindGgmlTypeTraits(0)->type_size, 4u);
  EXPECT_EQ(FindGgmlTypeTraits(14)->name, "Q6_K");
  EXPECT_EQ(FindGgmlTypeTraits(14)->type_size, 210u);
  EXPECT_EQ(FindGgmlTypeTraits(15)->type_size, 292u);
  EXPECT_EQ(FindGgmlTypeTraits(30)->name, "BF16");
  EXPECT_EQ(FindGgmlTypeTraits(4), nullptr);
  EXPECT_EQ(FindGgmlTypeTraits(31), nullptr);
  EXPECT_EQ(GgmlTypeName(GgmlType::kQ5_1), "Q5_1");
  EXPECT_TRUE(GgufTypeIsSupportedForCompute(GgmlType::kF32));
  EXPECT_TRUE(GgufTypeIsSupportedForCompute(GgmlType::kF16));
  EXPECT_TRUE(GgufTypeIsSupportedForCompute(GgmlType::kBF16));
  EXPECT_FALSE(GgufTypeIsSupportedForCompute(GgmlType::kQ8_0));
  Result<GgmlTensorSize> q6 = ComputeGgmlTensorSize(14, std::vector<uint64_t>{512, 3});
  ASSERT_TRUE(q6.ok());
  EXPECT_EQ(q6->n_elements, 1536u);
  EXPECT_EQ(q6->n_bytes, 6u * 210u);
  Result<GgmlTensorSize> scalar = ComputeGgmlTensorSize(0, {});
  EXPECT_EQ(scalar->n_elements, 1u);
  EXPECT_EQ(scalar->n_bytes, 4u);
}

TEST(GgufWriterErrors, FirstErrorIsKeptAndReturned) {
  struct Case {
    std::function<void(GgufWriter&)> add;
    std::string message;
  };
  const std::vector<uint8_t> four(4);
  const std::vector<Case> cases = {
      {[](GgufWriter& w) {
         w.AddUint32("k", 1);
         w.AddString("k", "x");
       },
       "GGUF writer: duplicate metadata key 'k'"},
      {[](GgufWriter& w) { w.AddUint32("general.alignment", 48); },
       "GGUF writer: general.alignment 48 is not a power of two"},
      {[](GgufWriter& w) { w.AddUint64("general.alignment", 64); },
       "GGUF writer: general.alignment must be UINT32, not UINT64"},
      {[&](GgufWriter& w) {
         w.AddTensor("t", GgmlType::kF32, std::vector<uint64_t>{1}, four);
         w.AddTensor("t", GgmlType::kF32, std::vector<uint64_t>{1}, four);
       },
       "GGUF writer: duplicate tensor name 't'"},
      {[&](GgufWriter& w) { w.AddTensor("t", GgmlType::kF32, std::vector<uint64_t>{2}, four); },
       "GGUF writer: tensor 't': data is 4 bytes, expected 8 for F32 of 2 elements"},
      {[&](GgufWriter& w) { w.AddTensor("t", GgmlType::kQ8_0, std::vector<uint64_t>{16}, four); },
       "GGUF writer: tensor 't': row length 16 is not a multiple of the Q8_0 block size 32"},
      {[&](GgufWriter& w) {
         w.AddTensor("t", GgmlType::kF32, std::vector<uint64_t>{1, 1, 1, 1, 1}, four);
       },
       "GGUF writer: tensor 't': n_dims 5 exceeds the maximum of 4"},
      {[&](GgufWriter& w) {
         w.AddTensor(std::string(64, 'n'), GgmlType::kF32, std::vector<uint64_t>{1}, four);
       },
       "name is 64 bytes, over the limit of 63"},
      {[&](GgufWriter& w) { w.AddTensor("t", static_cast<GgmlType>(5), {}, four); },
       "GGUF writer: tensor 't': unknown ggml type 5"},
      {[](GgufWriter& w) { w.AddValue("v", GgufValue()); },
       "GGUF writer: metadata 'v': the value holds no UINT8"},
  };
  for (const Case& c : cases) {
    GgufWriter w;
    c.add(w);
    w.AddUint32("after.the.error", 1);  // ignored: the first error sticks
    ASSERT_FALSE(w.status().ok()) << c.message;
    EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(w.status().message().find(c.message), std::string::npos) << w.status().message();
    EXPECT_EQ(w.WriteToString().status().message(), w.status().message());
    EXPECT_EQ(w.WriteToFile("/nonexistent/never.gguf").message(), w.status().message());
  }
}

TEST(GgufFiles, WriteToFileThenOpenMapsTheSameBytes) {
  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/model.gguf";
  dir.WriteFile("model.gguf", "an older file that the rename replaces");
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddUint32("general.alignment", 128);
  w.AddTensor("t", GgmlType::kF16, std::vector<uint64_t>{3},
              std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(w.WriteToFile(path).ok());
  EXPECT_EQ(medassist::testing::ReadFileOrFail(path), *w.WriteToString());
  size_t n_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++n_files;
  }
  EXPECT_EQ(n_files, 1u) << "the temporary file must be gone";

  Result<GgufFile> f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  GgufFile moved = std::move(f).value();  // views stay valid: they point into the mapping
  EXPECT_EQ(moved.source(), path);
  EXPECT_EQ(moved.alignment(), 128u);
  EXPECT_EQ(*moved.GetString("general.architecture"), "llama");
  EXPECT_EQ(moved.FindTensor("t")->data[5], 6);
}

TEST(GgufFiles, OpenAndWriteErrorsNameThePath) {
  Result<GgufFile> missing = GgufFile::Open("/nonexistent/model.gguf");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "/nonexistent/model.gguf: no such file");

  medassist::testing::TempDir dir;
  const std::string bad = dir.WriteFile("bad.gguf", "GGUF\x01");
  EXPECT_EQ(GgufFile::Open(bad).status().message(),
            bad + ": truncated: version needs 4 bytes at byte 4, only 1 left");
  const std::string empty = dir.WriteFile("empty.gguf", "");
  EXPECT_EQ(GgufFile::Open(empty).status().message(),
            empty + ": truncated: magic needs 4 bytes at byte 0, only 0 left");

  GgufWriter w;
  const Status st = w.WriteToFile("/nonexistent/dir/out.gguf");
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("/nonexistent/dir/out.gguf: cannot create a temporary file"),
            std::string::npos)
      << st.message();
}

TEST(GgufTensorSources, ViewsAreNotCopiedAndProducersRunAtWriteTime) {
  std::vector<float> viewed = {1, 2, 3, 4};
  std::vector<uint64_t> dims = {2, 2};
  GgufWriter w;
  w.AddTensorView("view", GgmlType::kF32, dims,
                  {reinterpret_cast<const uint8_t*>(viewed.data()), viewed.size() * 4});
  w.AddTensor("owned", GgmlType::kF32, std::vector<uint64_t>{1}, BytesOf(std::vector<float>{9}));
  int n_calls = 0;
  w.AddTensorProducer("made", GgmlType::kBF16, std::vector<uint64_t>{3},
                      [&](std::span<uint8_t> out) {
                        ++n_calls;
                        EXPECT_EQ(out.size(), 6u);
                        for (uint8_t b : out) EXPECT_EQ(b, 0) << "the buffer starts zeroed";
                        for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i);
                        return Status::Ok();
                      });
  ASSERT_TRUE(w.status().ok()) << w.status().ToString();
  EXPECT_EQ(n_calls, 0) << "produced only when written";
  viewed[3] = 40;  // a view is read at write time: the change must show in the file

  medassist::testing::TempDir dir;
  const std::string path = dir.path() + "/t.gguf";
  ASSERT_TRUE(w.WriteToFile(path).ok());
  EXPECT_EQ(n_calls, 1);
  Result<GgufFile> f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufTensorInfo* view = f->FindTensor("view");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->dims, dims);
  float last;
  std::memcpy(&last, view->data.data() + 12, 4);
  EXPECT_EQ(last, 40.0f);
  const GgufTensorInfo* made = f->FindTensor("made");
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(made->type, GgmlType::kBF16);
  EXPECT_EQ(std::vector<uint8_t>(made->data.begin(), made->data.end()),
            (std::vector<uint8_t>{0, 1, 2, 3, 4, 5}));
  for (const GgufTensorInfo& t : f->tensors()) EXPECT_EQ(t.offset % f->alignment(), 0u);
  // WriteToString gives the same bytes (and runs the producer again).
  EXPECT_EQ(medassist::testing::ReadFileOrFail(path), *w.WriteToString());
  EXPECT_EQ(n_calls, 2);
}

TEST(GgufTensorSources, ProducerErrorsAbortTheWriteAndLeaveNoFile) {
  GgufWriter w;
  w.AddTensorProducer("bad", GgmlType::kF32, std::vector<uint64_t>{4},
                      [](std::span<uint8_t>) { return DataLoss("source.safetensors: torn"); });
  medassist::testing::TempDir dir;
  const Status st = w.WriteToFile(dir.path() + "/out.gguf");
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_EQ(st.message(), "GGUF writer: tensor 'bad': source.safetensors: torn");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "no file, no temporary file";
  EXPECT_EQ(w.WriteToString().status().code(), StatusCode::kDataLoss);
}

TEST(GgufTensorSources, RefusalsAreStickyLikeAddTensor) {
  const std::vector<uint8_t> four(4, 0);
  GgufWriter wrong_size;
  wrong_size.AddTensorView("v", GgmlType::kF32, std::vector<uint64_t>{2}, four);
  EXPECT_EQ(wrong_size.status().message(),
            "GGUF writer: tensor 'v': data is 4 bytes, expected 8 for F32 of 2 elements");
  GgufWriter no_producer;
  no_producer.AddTensorProducer("p", GgmlType::kF32, std::vector<uint64_t>{1}, nullptr);
  EXPECT_EQ(no_producer.status().message(), "GGUF writer: tensor 'p': no producer");
  GgufWriter duplicate;
  duplicate.AddTensorView("t", GgmlType::kF32, std::vector<uint64_t>{1}, four);
  duplicate.AddTensorProducer("t", GgmlType::kF32, std::vector<uint64_t>{1},
                              [](std::span<uint8_t>) { return Status::Ok(); });
  EXPECT_EQ(duplicate.status().message(), "GGUF writer: duplicate tensor name 't'");
  GgufWriter bad_dims;
  bad_dims.AddTensorProducer("q", GgmlType::kQ8_0, std::vector<uint64_t>{16},
                             [](std::span<uint8_t>) { return Status::Ok(); });
  EXPECT_FALSE(bad_dims.status().ok());
  EXPECT_FALSE(bad_dims.WriteToString().ok());
}

}  // namespace
}  // namespace medassist::formats
