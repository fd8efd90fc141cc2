#include "gguf_test_util.h"

#include <cstring>
#include <limits>

#include "formats/gguf_writer.h"

namespace medassist::formats::gguf_testing {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ4_0 = 2;

// A v3 file with one tensor described by (name, dims, type, offset), padded, then data_bytes zeros.
std::string OneTensor(std::string_view name, const std::vector<uint64_t>& dims, uint32_t type,
                      uint64_t offset, size_t data_bytes) {
  return GgufBytes()
      .Header(3, 1, 0)
      .TensorInfo(name, dims, type, offset)
      .PadTo(32)
      .Zeros(data_bytes)
      .str();
}

// A v3 file with one metadata pair whose key is "k" and whose type tag and value bytes follow.
GgufBytes OneKv(uint32_t type) { return GgufBytes().Header(3, 0, 1).Str("k").U32(type); }

// An ARRAY value nested `depth` levels deep (the innermost is an empty UINT8 array).
std::string NestedArrays(int depth) {
  GgufBytes b;
  b.Header(3, 0, 1).Str("k").U32(9);
  for (int i = 1; i < depth; ++i) b.U32(9).U64(1);
  b.U32(0).U64(0);
  return b.str();
}

void AddHeaderCases(std::vector<MalformedGguf>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  const StatusCode kUnimpl = StatusCode::kUnimplemented;
  const StatusCode kExhausted = StatusCode::kResourceExhausted;
  c.push_back({"empty", "", kLoss, "truncated: magic needs 4 bytes at byte 0, only 0 left"});
  c.push_back({"bad_magic", GgufBytes().Raw("GGML").U32(3).U64(0).U64(0).str(), kLoss,
               "not a GGUF file: magic is 'GGML', expected 'GGUF'"});
  c.push_back({"binary_magic", GgufBytes().U32(0x00ff0a7f).U32(3).str(), kLoss,
               "magic is '\\x7f\\x0a\\xff\\x00'"});
  c.push_back(
      {"version_1", GgufBytes().Header(1, 0, 0).str(), kUnimpl, "GGUF version 1 is not supported"});
  c.push_back({"version_4", GgufBytes().Header(4, 0, 0).str(), kUnimpl,
               "unsupported GGUF version 4 (this reader knows versions 2 and 3)"});
  c.push_back({"big_endian", GgufBytes().Header(0x03000000, 0, 0).str(), kUnimpl,
               "unsupported GGUF version 50331648 (a big-endian file?"});
  c.push_back({"truncated_version", GgufBytes().Raw("GGUF").U8(3).str(), kLoss,
               "truncated: version needs 4 bytes at byte 4, only 1 left"});
  c.push_back({"truncated_tensor_count", GgufBytes().Raw("GGUF").U32(3).U32(0).str(), kLoss,
               "truncated: tensor_count needs 8 bytes at byte 8, only 4 left"});
  c.push_back({"truncated_kv_count", GgufBytes().Raw("GGUF").U32(3).U64(0).U8(0).str(), kLoss,
               "truncated: kv_count needs 8 bytes at byte 16, only 1 left"});
  c.push_back({"absurd_tensor_count", GgufBytes().Header(3, uint64_t{1} << 62, 0).str(), kExhausted,
               "tensor_count 4611686018427387904 is over the limit of 1048576"});
  c.push_back({"absurd_kv_count", GgufBytes().Header(3, 0, kU64Max).str(), kExhausted,
               "kv_count 18446744073709551615 is over the limit of 1048576"});
  c.push_back({"kv_count_past_end", GgufBytes().Header(3, 0, 1000).KvU32("a", 1).str(), kLoss,
               "kv_count 1000 and tensor_count 0 cannot fit in the 17 bytes left in the file"});
  c.push_back({"tensor_count_past_end", GgufBytes().Header(3, 50, 0).Zeros(100).str(), kLoss,
               "kv_count 0 and tensor_count 50 cannot fit in the 100 bytes left"});
}

void AddMetadataCases(std::vector<MalformedGguf>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  // The kv_count check already needs 13 bytes per pair, so truncate the second pair's key length
  // after a first pair that is longer than that.
  c.push_back({"truncated_key_length",
               GgufBytes().Header(3, 0, 2).Str("abcdefghijklmnop").U32(0).U8(1).Zeros(3).str(),
               kLoss, "truncated: key of metadata pair 1 needs 8 bytes at byte 53, only 3 left"});
  c.push_back({"key_length_overflow", GgufBytes().Header(3, 0, 1).U64(kU64Max).Zeros(13).str(),
               kLoss,
               "key of metadata pair 0 has length 18446744073709551615 at byte 24, past the end "
               "of the file (13 bytes left)"});
  c.push_back({"key_length_past_end",
               GgufBytes().Header(3, 0, 1).U64(14).Raw("k").U32(4).U64(0).str(), kLoss,
               "key of metadata pair 0 has length 14 at byte 24, past the end"});
  c.push_back({"truncated_value_type", GgufBytes().Header(3, 0, 1).Str("abcdefgh").U8(4).str(),
               kLoss, "truncated: value type of metadata 'abcdefgh' needs 4 bytes"});
  c.push_back({"truncated_value", OneKv(4).U8(1).U8(0).U8(0).str(), kLoss,
               "truncated: value of metadata 'k' needs 4 bytes at byte 37, only 3 left"});
  c.push_back({"truncated_u64_value", OneKv(10).U32(1).str(), kLoss,
               "truncated: value of metadata 'k' needs 8 bytes"});
  c.push_back({"string_length_overflow", OneKv(8).U64(kU64Max - 3).str(), kLoss,
               "value of metadata 'k' has length 18446744073709551612 at byte 37, past the end"});
  c.push_back({"unknown_value_type", OneKv(13).U32(0).str(), kLoss,
               "metadata 'k' has unknown value type 13"});
  c.push_back({"unknown_array_type", OneKv(9).U32(99).U64(0).str(), kLoss,
               "array in metadata 'k' has unknown element type 99"});
  c.push_back({"truncated_array_count", OneKv(9).U32(4).U32(0).str(), kLoss,
               "truncated: element count of array in metadata 'k' needs 8 bytes"});
  c.push_back({"array_count_overflow", OneKv(9).U32(4).U64(uint64_t{1} << 62).U32(7).str(), kLoss,
               "array in metadata 'k' has 4611686018427387904 UINT32 elements, more than the 4 "
               "bytes left can hold"});
  c.push_back({"array_past_end", OneKv(9).U32(10).U64(3).U64(1).U64(2).str(), kLoss,
               "has 3 UINT64 elements, more than the 16 bytes left can hold"});
  c.push_back({"string_array_count", OneKv(9).U32(8).U64(kU64Max).Str("a").str(), kLoss,
               "has 18446744073709551615 STRING elements, more than the 9 bytes left can hold"});
  c.push_back({"string_array_element", OneKv(9).U32(8).U64(2).Str("a").U64(kU64Max).Zeros(4).str(),
               kLoss,
               "string element of array in metadata 'k' has length 18446744073709551615 at "
               "byte 58, past the end of the file (4 bytes left)"});
  c.push_back({"nested_array_count", OneKv(9).U32(9).U64(2).U32(0).U64(0).str(), kLoss,
               "has 2 ARRAY elements, more than the 12 bytes left can hold"});
  c.push_back({"nested_array_bad_type", OneKv(9).U32(9).U64(1).U32(77).U64(0).str(), kLoss,
               "array in metadata 'k' has unknown element type 77"});
  c.push_back({"nesting_too_deep", NestedArrays(kGgufMaxArrayDepth + 1), kLoss,
               "array in metadata 'k' is nested deeper than 8 levels"});
  c.push_back({"duplicate_key",
               GgufBytes().Header(3, 0, 2).KvU32("a.b", 1).KvString("a.b", "x").str(), kLoss,
               "duplicate metadata key 'a.b'"});
  c.push_back({"duplicate_binary_key",
               GgufBytes().Header(3, 0, 2).KvU32("\x01\xff", 1).KvU32("\x01\xff", 2).str(), kLoss,
               "duplicate metadata key '\\x01\\xff'"});
  c.push_back({"alignment_type",
               GgufBytes().Header(3, 0, 1).Str("general.alignment").U32(10).U64(32).str(), kLoss,
               "general.alignment must be UINT32, not UINT64"});
  c.push_back({"alignment_not_pow2",
               GgufBytes().Header(3, 0, 1).KvU32("general.alignment", 48).str(), kLoss,
               "general.alignment 48 is not a power of two"});
  c.push_back({"alignment_zero", GgufBytes().Header(3, 0, 1).KvU32("general.alignment", 0).str(),
               kLoss, "general.alignment 0 is not a power of two"});
}

void AddTensorInfoCases(std::vector<MalformedGguf>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  const std::string long_name(kGgufMaxTensorName + 1, 'w');
  // As for keys: the second name length is cut, after a first tensor info longer than 24 bytes.
  c.push_back(
      {"truncated_tensor_name",
       GgufBytes().Header(3, 2, 0).TensorInfo(std::string(40, 'a'), {4}, kF32, 0).Zeros(3).str(),
       kLoss, "truncated: name of tensor 1 needs 8 bytes at byte 96, only 3 left"});
  c.push_back({"tensor_name_past_end", GgufBytes().Header(3, 1, 0).U64(100).Zeros(16).str(), kLoss,
               "name of tensor 0 has length 100 at byte 24, past the end"});
  c.push_back({"tensor_name_too_long", OneTensor(long_name, {1}, kF32, 0, 4), kLoss,
               "tensor '" + long_name + "': name is 64 bytes, over the limit of 63"});
  c.push_back({"n_dims_5", OneTensor("w", {1, 1, 1, 1, 1}, kF32, 0, 4), kLoss,
               "tensor 'w': n_dims 5 exceeds the maximum of 4"});
  c.push_back({"n_dims_huge", GgufBytes().Header(3, 1, 0).Str("w").U32(0xffffffff).Zeros(16).str(),
               kLoss, "tensor 'w': n_dims 4294967295 exceeds the maximum of 4"});
  c.push_back({"truncated_dims",
               GgufBytes().Header(3, 1, 0).Str("w").U32(4).U64(1).U64(1).Zeros(4).str(), kLoss,
               "truncated: dims of tensor 'w' needs 8 bytes"});
  c.push_back({"truncated_type", GgufBytes().Header(3, 1, 0).Str("w").U32(1).U64(1).Zeros(3).str(),
               kLoss, "truncated: type of tensor 'w' needs 4 bytes"});
  c.push_back({"truncated_offset",
               GgufBytes().Header(3, 1, 0).Str("w").U32(1).U64(1).U32(0).U32(0).str(), kLoss,
               "truncated: offset of tensor 'w' needs 8 bytes"});
  c.push_back(
      {"dim_zero", OneTensor("w", {4, 0}, kF32, 0, 16), kLoss, "tensor 'w': dimension 1 is 0"});
  c.push_back({"dim_negative", OneTensor("w", {kU64Max}, kF32, 0, 16), kLoss,
               "tensor 'w': dimension 0 is 18446744073709551615 (negative as int64)"});
  c.push_back({"element_count_overflow", OneTensor("w", {1ull << 32, 1ull << 32}, kF32, 0, 16),
               kLoss, "tensor 'w': element count overflows int64"});
  c.push_back({"byte_size_overflow", OneTensor("w", {1ull << 62}, kF32, 0, 16), kLoss,
               "tensor 'w': byte size overflows uint64"});
  c.push_back({"not_block_multiple", OneTensor("w", {33, 2}, kQ4_0, 0, 64), kLoss,
               "tensor 'w': row length 33 is not a multiple of the Q4_0 block size 32"});
  c.push_back({"removed_tensor_type", OneTensor("w", {32}, 4, 0, 64), kLoss,
               "tensor 'w': unknown ggml type 4"});
  c.push_back({"unknown_tensor_type", OneTensor("w", {32}, 1000, 0, 64), kLoss,
               "tensor 'w': unknown ggml type 1000"});
  c.push_back({"duplicate_tensor",
               GgufBytes()
                   .Header(3, 2, 0)
                   .TensorInfo("w", {8}, kF32, 0)
                   .TensorInfo("w", {8}, kF32, 32)
                   .PadTo(32)
                   .Zeros(64)
                   .str(),
               kLoss, "duplicate tensor name 'w'"});
}

void AddTensorDataCases(std::vector<MalformedGguf>& c) {
  const StatusCode kLoss = StatusCode::kDataLoss;
  c.push_back({"offset_unaligned", OneTensor("w", {4}, kF32, 16, 64), kLoss,
               "tensor 'w': offset 16 is not a multiple of the alignment 32"});
  c.push_back({"offset_unaligned_custom",
               GgufBytes()
                   .Header(3, 1, 1)
                   .KvU32("general.alignment", 64)
                   .TensorInfo("w", {4}, kF32, 32)
                   .PadTo(64)
                   .Zeros(128)
                   .str(),
               kLoss, "tensor 'w': offset 32 is not a multiple of the alignment 64"});
  c.push_back({"data_truncated", OneTensor("w", {16}, kF32, 0, 63), kLoss,
               "tensor 'w': data at offset 0 + 64 bytes extends past the end of the file (the "
               "data section has 63 bytes)"});
  c.push_back({"data_section_missing",
               GgufBytes().Header(3, 1, 0).TensorInfo("w", {4}, kF32, 0).str(), kLoss,
               "data section has 0 bytes"});
  c.push_back({"offset_huge", OneTensor("w", {4}, kF32, kU64Max - 31, 64), kLoss,
               "tensor 'w': data at offset 18446744073709551584 + 16 bytes extends past the end"});
  c.push_back({"overlap",
               GgufBytes()
                   .Header(3, 2, 0)
                   .TensorInfo("a", {16}, kF32, 0)
                   .TensorInfo("b", {8}, kF32, 32)
                   .PadTo(32)
                   .Zeros(128)
                   .str(),
               kLoss, "tensors 'a' and 'b' overlap (offsets 0 + 64 bytes and 32)"});
  c.push_back({"same_offset",
               GgufBytes()
                   .Header(3, 2, 0)
                   .TensorInfo("b", {8}, kF32, 32)
                   .TensorInfo("a", {8}, kF32, 32)
                   .PadTo(32)
                   .Zeros(128)
                   .str(),
               kLoss, "overlap (offsets 32 + 32 bytes and 32)"});
}

}  // namespace

std::vector<MalformedGguf> MalformedGgufCases() {
  std::vector<MalformedGguf> cases;
  AddHeaderCases(cases);
  AddMetadataCases(cases);
  AddTensorInfoCases(cases);
  AddTensorDataCases(cases);
  return cases;
}

std::vector<std::pair<std::string, std::string>> GgufFuzzSeeds() {
  std::vector<std::pair<std::string, std::string>> seeds;
  auto add_written = [&seeds](std::string name, const GgufWriter& w) {
    Result<std::string> bytes = w.WriteToString();
    CHECK(bytes.ok()) << bytes.status().ToString();
    seeds.emplace_back(std::move(name), std::move(bytes).value());
  };

  GgufWriter empty;
  add_written("valid_empty.gguf", empty);

  GgufWriter meta;
  meta.AddString("general.architecture", "llama");
  meta.AddUint32("llama.block_count", 2);
  meta.AddFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  meta.AddBool("tokenizer.ggml.add_bos_token", true);
  const std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "a", "b", "\xe2\x96\x81the"};
  meta.AddStringArray("tokenizer.ggml.tokens", tokens);
  meta.AddFloat32Array("tokenizer.ggml.scores", std::vector<float>{0, 0, 0, -1, -2, -3});
  meta.AddInt32Array("tokenizer.ggml.token_type", std::vector<int32_t>{2, 3, 3, 1, 1, 1});
  meta.AddInt64("x.i64", -7);
  meta.AddUint64("x.u64", 1ull << 40);
  meta.AddFloat64("x.f64", 0.25);
  meta.AddInt8("x.i8", -1);
  meta.AddUint16("x.u16", 7);
  add_written("valid_metadata.gguf", meta);

  GgufWriter tensors;
  tensors.AddUint32("general.alignment", 64);
  const std::vector<uint8_t> f32(4 * 8, 0x3f);
  const std::vector<uint8_t> q8(34 * 2, 0x11);
  tensors.AddTensor("a", GgmlType::kF32, std::vector<uint64_t>{4, 2}, f32);
  tensors.AddTensor("b", GgmlType::kQ8_0, std::vector<uint64_t>{32, 2}, q8);
  tensors.AddTensor("c", GgmlType::kF16, std::vector<uint64_t>{2, 2, 2, 2},
                    std::vector<uint8_t>(32, 1));
  add_written("valid_tensors.gguf", tensors);

  // Once made the writer reserve 1 GiB for a header of 60 bytes (found by the fuzzer).
  GgufWriter huge_alignment;
  huge_alignment.AddUint32("general.alignment", 1u << 30);
  add_written("valid_huge_alignment.gguf", huge_alignment);

  seeds.emplace_back("valid_nested_arrays.gguf", NestedArrays(kGgufMaxArrayDepth));
  for (const MalformedGguf& c : MalformedGgufCases()) {
    if (c.name == "string_array_element" || c.name == "nesting_too_deep" || c.name == "overlap" ||
        c.name == "not_block_multiple" || c.name == "data_truncated" ||
        c.name == "alignment_not_pow2" || c.name == "duplicate_key") {
      seeds.emplace_back("bad_" + c.name + ".gguf", c.bytes);
    }
  }
  return seeds;
}

}  // namespace medassist::formats::gguf_testing
