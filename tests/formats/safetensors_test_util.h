// Helpers for the safetensors tests: a raw file builder (no validation, so tests can write what
// SafetensorsWriter refuses), the catalogue of malformed files, and the fuzz seed corpus.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "formats/safetensors_reader.h"

namespace medassist::formats::safetensors_testing {

// The 8-byte little-endian header length (header.size() unless length is given), the header text,
// then data.
std::string SafetensorsBytes(std::string_view header, std::string_view data = "",
                             std::optional<uint64_t> length = std::nullopt);

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline Result<SafetensorsFile> ParseSafetensors(const std::string& bytes,
                                                std::string source = "test.safetensors") {
  return SafetensorsFile::Parse(AsBytes(bytes), std::move(source));
}

// One hand-made bad file and the refusal it must get.
struct MalformedSafetensors {
  std::string name;  // also the fuzz seed file name for the cases in the corpus
  std::string bytes;
  StatusCode code;
  std::string expected;  // substring of the error message
};

// gtest prints a parameter by this (test listings show the case name, not a byte dump).
inline void PrintTo(const MalformedSafetensors& c, std::ostream* os) { *os << c.name; }

// Every refusal the reader makes, at least once each.
std::vector<MalformedSafetensors> MalformedSafetensorsCases();

// A small valid file with metadata and tensors of several dtypes, shapes and sizes (one scalar,
// one zero-size), made with SafetensorsWriter.
std::string SmallValidSafetensors();

// The fuzz seed corpus (fuzz/corpus/safetensors_fuzz/): small valid files plus a few malformed
// cases, as (file name, bytes). Valid ones are named "valid_*".
std::vector<std::pair<std::string, std::string>> SafetensorsFuzzSeeds();

}  // namespace medassist::formats::safetensors_testing
