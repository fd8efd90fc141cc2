// Helpers for the GGUF tests: a raw byte builder (no validation, so tests can write what the
// GgufWriter refuses), the catalogue of malformed files, and the fuzz seed corpus.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "formats/gguf_reader.h"

namespace medassist::formats::gguf_testing {

// Appends little-endian GGUF pieces to a byte string.
class GgufBytes {
 public:
  GgufBytes& Raw(std::string_view s) {
    bytes_.append(s);
    return *this;
  }
  GgufBytes& U8(uint8_t v) { return Pod(v); }
  GgufBytes& U32(uint32_t v) { return Pod(v); }
  GgufBytes& U64(uint64_t v) { return Pod(v); }
  GgufBytes& F32(float v) { return Pod(v); }
  // A GGUF string: uint64 length + bytes.
  GgufBytes& Str(std::string_view s) { return U64(s.size()).Raw(s); }
  // "GGUF", version, tensor_count, kv_count.
  GgufBytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return Raw("GGUF").U32(version).U64(n_tensors).U64(n_kv);
  }
  GgufBytes& KvU32(std::string_view key, uint32_t v) { return Str(key).U32(4).U32(v); }
  GgufBytes& KvString(std::string_view key, std::string_view v) { return Str(key).U32(8).Str(v); }
  // name, n_dims, dims, ggml type, offset.
  GgufBytes& TensorInfo(std::string_view name, const std::vector<uint64_t>& dims, uint32_t type,
                        uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  GgufBytes& Zeros(size_t n) {
    bytes_.append(n, '\0');
    return *this;
  }
  GgufBytes& PadTo(size_t alignment) {
    return Zeros((alignment - bytes_.size() % alignment) % alignment);
  }
  const std::string& str() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  template <typename T>
  GgufBytes& Pod(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  std::string bytes_;
};

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline Result<GgufFile> ParseGguf(const std::string& bytes, std::string source = "test.gguf") {
  return GgufFile::Parse(AsBytes(bytes), std::move(source));
}

// One hand-made bad file and the refusal it must get.
struct MalformedGguf {
  std::string name;  // also the fuzz seed file name for the cases in the corpus
  std::string bytes;
  StatusCode code;
  std::string expected;  // substring of the error message
};

// gtest prints a parameter by this (test listings show the case name, not a byte dump).
inline void PrintTo(const MalformedGguf& c, std::ostream* os) { *os << c.name; }

// Every refusal the reader makes, at least once each.
std::vector<MalformedGguf> MalformedGgufCases();

// The fuzz seed corpus (fuzz/corpus/gguf_fuzz/): small valid files made with GgufWriter plus a few
// malformed cases, as (file name, bytes).
std::vector<std::pair<std::string, std::string>> GgufFuzzSeeds();

}  // namespace medassist::formats::gguf_testing
