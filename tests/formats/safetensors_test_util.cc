#include "safetensors_test_util.h"

#include <cstring>

#include "formats/safetensors_writer.h"

namespace medassist::formats::safetensors_testing {
namespace {

// A tensor entry from raw JSON fragments.
std::string Entry(std::string_view dtype, std::string_view shape, std::string_view offsets) {
  return "{\"dtype\": " + std::string(dtype) + ", \"shape\": " + std::string(shape) +
         ", \"data_offsets\": " + std::string(offsets) + "}";
}

// A file whose only tensor "w" has the given raw entry, followed by n_data zero bytes.
std::string OneTensor(std::string_view entry, size_t n_data = 16) {
  return SafetensorsBytes("{\"w\": " + std::string(entry) + "}", std::string(n_data, '\0'));
}

// A file with tensor "w" F32 of the given raw shape and offsets.
std::string F32Tensor(std::string_view shape, std::string_view offsets, size_t n_data = 16) {
  return OneTensor(Entry("\"F32\"", shape, offsets), n_data);
}

std::string Nested(int depth) {
  return "{\"w\": " + std::string(static_cast<size_t>(depth - 1), '[') +
         std::string(static_cast<size_t>(depth - 1), ']') + "}";
}

void AddFramingCases(std::vector<MalformedSafetensors>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  const StatusCode kExhausted = StatusCode::kResourceExhausted;
  c.push_back({"empty", "", kLoss, "file is 0 bytes, too short for the 8-byte header length"});
  c.push_back({"seven_bytes", std::string(7, '\0'), kLoss, "file is 7 bytes, too short"});
  c.push_back({"length_past_end", SafetensorsBytes("{}", "", 100), kLoss,
               "header length 100 is past the end of the file (2 bytes after the length)"});
  c.push_back({"length_one_past_end", SafetensorsBytes("{}", "", 3), kLoss,
               "header length 3 is past the end of the file (2 bytes after the length)"});
  c.push_back({"length_absurd", SafetensorsBytes("{}", "", uint64_t{1} << 40), kExhausted,
               "header length 1099511627776 is over the limit of 100000000 bytes"});
  c.push_back({"length_max", SafetensorsBytes("{}", "", ~uint64_t{0}), kExhausted,
               "header length 18446744073709551615 is over the limit"});
  c.push_back({"length_zero", SafetensorsBytes("", "{}"), kLoss, "header: invalid JSON at byte"});
  c.push_back(
      {"invalid_json", SafetensorsBytes("{\"w\": "), kLoss, "header: invalid JSON at byte"});
  c.push_back({"trailing_garbage", SafetensorsBytes("{} x"), kLoss, "header: invalid JSON"});
  c.push_back({"nul_padding", SafetensorsBytes(std::string("{}") + std::string(2, '\0')), kLoss,
               "header has a NUL byte at header byte 2 (not valid JSON text)"});
  c.push_back({"nul_hides_text", SafetensorsBytes(std::string("{}") + '\0' + "{\"w\": 1}"), kLoss,
               "header has a NUL byte at header byte 2"});
  c.push_back(
      {"invalid_utf8_key", SafetensorsBytes("{\"\xff\": 1}"), kLoss, "header: invalid JSON"});
  c.push_back({"too_deep", SafetensorsBytes(Nested(17)), kLoss,
               "header: JSON nested deeper than 16 levels"});
  c.push_back({"header_array", SafetensorsBytes("[]"), kLoss,
               "header is an array, expected a JSON object of tensor entries"});
  c.push_back({"header_string", SafetensorsBytes("\"x\""), kLoss, "header is the string 'x'"});
  c.push_back({"header_null", SafetensorsBytes("null"), kLoss, "header is null"});
}

void AddDuplicateAndMetadataCases(std::vector<MalformedSafetensors>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  const std::string e = Entry("\"F32\"", "[2]", "[0, 8]");
  c.push_back({"duplicate_tensor",
               SafetensorsBytes("{\"w\": " + e + ", \"w\": " + e + "}", "01234567"), kLoss,
               "header: duplicate key 'w' in a JSON object"});
  c.push_back({"duplicate_field",
               OneTensor("{\"dtype\": \"F32\", \"dtype\": \"F16\", \"shape\": [1], "
                         "\"data_offsets\": [0, 4]}"),
               kLoss, "header: duplicate key 'dtype' in a JSON object"});
  c.push_back({"duplicate_metadata_key",
               SafetensorsBytes("{\"__metadata__\": {\"k\": \"a\", \"k\": \"b\"}}"), kLoss,
               "header: duplicate key 'k' in a JSON object"});
  c.push_back({"duplicate_metadata",
               SafetensorsBytes("{\"__metadata__\": {}, \"__metadata__\": {}}"), kLoss,
               "header: duplicate key '__metadata__'"});
  c.push_back({"metadata_array", SafetensorsBytes("{\"__metadata__\": [\"a\"]}"), kLoss,
               "__metadata__ is an array, expected an object of strings"});
  c.push_back({"metadata_string", SafetensorsBytes("{\"__metadata__\": \"pt\"}"), kLoss,
               "__metadata__ is the string 'pt', expected an object of strings"});
  c.push_back({"metadata_number_value", SafetensorsBytes("{\"__metadata__\": {\"k\": 1}}"), kLoss,
               "__metadata__ 'k' is 1, expected a string"});
  c.push_back({"metadata_object_value",
               SafetensorsBytes("{\"__metadata__\": {\"format\": {\"a\": \"b\"}}}"), kLoss,
               "__metadata__ 'format' is an object, expected a string"});
}

void AddEntryCases(std::vector<MalformedSafetensors>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  c.push_back({"entry_number", SafetensorsBytes("{\"w\": 3}"), kLoss,
               "tensor 'w': entry is 3, expected an object with dtype, shape and data_offsets"});
  c.push_back({"entry_array", SafetensorsBytes("{\"w\": [\"F32\", [1], [0, 4]]}"), kLoss,
               "tensor 'w': entry is an array, expected an object"});
  c.push_back({"missing_dtype", OneTensor("{\"shape\": [1], \"data_offsets\": [0, 4]}"), kLoss,
               "tensor 'w': missing 'dtype'"});
  c.push_back({"dtype_number", OneTensor(Entry("7", "[1]", "[0, 4]")), kLoss,
               "tensor 'w': 'dtype' is 7, expected a string"});
  c.push_back({"dtype_unknown", OneTensor(Entry("\"F4\"", "[1]", "[0, 4]")), kLoss,
               "tensor 'w': unknown dtype 'F4'"});
  c.push_back({"dtype_lowercase", OneTensor(Entry("\"f32\"", "[1]", "[0, 4]")), kLoss,
               "tensor 'w': unknown dtype 'f32'"});
  c.push_back({"unprintable_name",
               SafetensorsBytes("{\"\\u0001\": " + Entry("\"Q4\"", "[1]", "[0, 1]") + "}", "x"),
               kLoss, "tensor '\\x01': unknown dtype 'Q4'"});
  c.push_back({"missing_shape", OneTensor("{\"dtype\": \"F32\", \"data_offsets\": [0, 4]}"), kLoss,
               "tensor 'w': missing 'shape'"});
  c.push_back({"shape_string", F32Tensor("\"2\"", "[0, 8]"), kLoss,
               "tensor 'w': 'shape' is the string '2', expected an array of dims"});
  c.push_back({"shape_null", F32Tensor("null", "[0, 8]"), kLoss, "tensor 'w': 'shape' is null"});
  c.push_back({"dim_negative", F32Tensor("[2, -3]", "[0, 8]"), kLoss,
               "tensor 'w': shape[1] is -3, expected a non-negative integer"});
  c.push_back({"dim_fraction", F32Tensor("[2.5]", "[0, 8]"), kLoss,
               "tensor 'w': shape[0] is 2.5, expected a non-negative integer"});
  c.push_back({"dim_float_integral", F32Tensor("[2.0]", "[0, 8]"), kLoss,
               "tensor 'w': shape[0] is 2.0, expected a non-negative integer"});
  c.push_back({"dim_over_u64", F32Tensor("[18446744073709551616]", "[0, 8]"), kLoss,
               "tensor 'w': shape[0] is 1.8446744073709552e+19, expected a non-negative integer"});
  c.push_back({"dim_string", F32Tensor("[\"2\"]", "[0, 8]"), kLoss,
               "tensor 'w': shape[0] is the string '2'"});
  c.push_back(
      {"dim_nested", F32Tensor("[[2]]", "[0, 8]"), kLoss, "tensor 'w': shape[0] is an array"});
  std::string ones = "[1";
  for (int i = 1; i < 33; ++i) ones += ", 1";
  c.push_back({"too_many_dims", F32Tensor(ones + "]", "[0, 4]"), kLoss,
               "tensor 'w': shape has 33 dims, over the limit of 32"});
  c.push_back({"element_count_overflow", F32Tensor("[4294967296, 4294967296]", "[0, 8]"), kLoss,
               "tensor 'w': element count of shape [4294967296, 4294967296] overflows 64 bits"});
  c.push_back({"byte_size_overflow",
               OneTensor(Entry("\"F64\"", "[2305843009213693952, 2]", "[0, 8]")), kLoss,
               "tensor 'w': byte size of F64 shape [2305843009213693952, 2] overflows 64 bits"});
}

void AddOffsetCases(std::vector<MalformedSafetensors>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  const std::string kNotPair = "tensor 'w': 'data_offsets' must be [begin, end], two non-negative";
  c.push_back({"missing_offsets", OneTensor("{\"dtype\": \"F32\", \"shape\": [1]}"), kLoss,
               "tensor 'w': missing 'data_offsets'"});
  c.push_back({"offsets_number", F32Tensor("[1]", "4"), kLoss, kNotPair});
  c.push_back({"offsets_one", F32Tensor("[1]", "[4]"), kLoss, kNotPair});
  c.push_back({"offsets_three", F32Tensor("[1]", "[0, 4, 8]"), kLoss, kNotPair});
  c.push_back({"offsets_negative", F32Tensor("[1]", "[-4, 0]"), kLoss, kNotPair});
  c.push_back({"offsets_float", F32Tensor("[1]", "[0, 4.0]"), kLoss, kNotPair});
  c.push_back({"offsets_strings", F32Tensor("[1]", "[\"0\", \"4\"]"), kLoss, kNotPair});
  c.push_back({"offsets_reversed", F32Tensor("[1]", "[8, 4]"), kLoss,
               "tensor 'w': data_offsets [8, 4] have begin after end"});
  c.push_back({"offsets_past_end", F32Tensor("[4]", "[0, 16]", 8), kLoss,
               "tensor 'w': data_offsets end 16 is past the end of the data section (8 bytes)"});
  c.push_back({"offsets_max", F32Tensor("[1]", "[18446744073709551611, 18446744073709551615]"),
               kLoss, "data_offsets end 18446744073709551615 is past the end of the data section"});
  c.push_back({"size_short", F32Tensor("[2, 2]", "[0, 12]"), kLoss,
               "tensor 'w': data_offsets [0, 12] hold 12 bytes, but F32 shape [2, 2] needs 16"});
  c.push_back({"size_long", F32Tensor("[3]", "[0, 16]"), kLoss,
               "tensor 'w': data_offsets [0, 16] hold 16 bytes, but F32 shape [3] needs 12"});
  c.push_back({"size_dtype", OneTensor(Entry("\"BF16\"", "[4]", "[0, 16]")), kLoss,
               "hold 16 bytes, but BF16 shape [4] needs 8"});
  c.push_back(
      {"size_scalar", F32Tensor("[]", "[0, 8]"), kLoss, "hold 8 bytes, but F32 shape [] needs 4"});
  c.push_back({"size_zero_dim", F32Tensor("[4, 0]", "[0, 4]"), kLoss,
               "hold 4 bytes, but F32 shape [4, 0] needs 0"});
}

void AddOverlapCases(std::vector<MalformedSafetensors>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  auto two = [](std::string_view a_offsets, std::string_view b_shape, std::string_view b_offsets) {
    return SafetensorsBytes("{\"a\": " + Entry("\"U8\"", "[8]", a_offsets) +
                                ", \"b\": " + Entry("\"U8\"", b_shape, b_offsets) + "}",
                            std::string(24, 'x'));
  };
  c.push_back({"overlap_partial", two("[0, 8]", "[8]", "[4, 12]"), kLoss,
               "tensors 'a' and 'b' overlap (data_offsets [0, 8] and [4, 12])"});
  c.push_back({"overlap_identical", two("[8, 16]", "[8]", "[8, 16]"), kLoss,
               "tensors 'a' and 'b' overlap (data_offsets [8, 16] and [8, 16])"});
  c.push_back({"overlap_contained", two("[4, 12]", "[2]", "[6, 8]"), kLoss,
               "tensors 'a' and 'b' overlap (data_offsets [4, 12] and [6, 8])"});
  c.push_back({"overlap_one_byte", two("[0, 8]", "[16]", "[7, 23]"), kLoss,
               "tensors 'a' and 'b' overlap (data_offsets [0, 8] and [7, 23])"});
}

}  // namespace

std::string SafetensorsBytes(std::string_view header, std::string_view data,
                             std::optional<uint64_t> length) {
  const uint64_t n = length.value_or(header.size());
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  out.append(header);
  out.append(data);
  return out;
}

std::vector<MalformedSafetensors> MalformedSafetensorsCases() {
  std::vector<MalformedSafetensors> c;
  AddFramingCases(c);
  AddDuplicateAndMetadataCases(c);
  AddEntryCases(c);
  AddOffsetCases(c);
  AddOverlapCases(c);
  return c;
}

std::string SmallValidSafetensors() {
  SafetensorsWriter w;
  w.SetMetadata("format", "pt");
  w.SetMetadata("source", "safetensors_test_util");
  std::vector<uint8_t> bytes(64);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  const std::span<const uint8_t> b(bytes);
  w.AddTensor("embed.weight", SafetensorsDtype::kF32, {2, 3}, b.first(24));
  w.AddTensor("norm.weight", SafetensorsDtype::kBF16, {3}, b.subspan(24, 6));
  w.AddTensor("empty", SafetensorsDtype::kF16, {0, 5}, {});
  w.AddTensor("scale", SafetensorsDtype::kF64, {}, b.subspan(30, 8));
  w.AddTensor("mask", SafetensorsDtype::kBool, {3}, b.subspan(38, 3));
  return *w.WriteToString();
}

std::vector<std::pair<std::string, std::string>> SafetensorsFuzzSeeds() {
  std::vector<std::pair<std::string, std::string>> seeds;
  seeds.emplace_back("valid_small.safetensors", SmallValidSafetensors());
  seeds.emplace_back("valid_empty.safetensors", SafetensorsBytes("{}"));
  seeds.emplace_back(
      "valid_unaligned_gaps.safetensors",
      SafetensorsBytes("{\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[6,10]},"
                       "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                       "\"z\":{\"dtype\":\"F8_E5M2\",\"shape\":[0],\"data_offsets\":[1,1]}}",
                       "abcdefghijkl"));
  for (const MalformedSafetensors& c : MalformedSafetensorsCases()) {
    if (c.name == "duplicate_tensor" || c.name == "overlap_partial" || c.name == "size_short" ||
        c.name == "offsets_past_end" || c.name == "dim_negative" || c.name == "too_deep" ||
        c.name == "metadata_number_value" || c.name == "element_count_overflow") {
      seeds.emplace_back("bad_" + c.name + ".safetensors", c.bytes);
    }
  }
  return seeds;
}

}  // namespace medassist::formats::safetensors_testing
