// libFuzzer target for the safetensors reader. Any input must either be refused with a Status that
// names the source, or parse into a file whose every tensor byte and metadata string can be read
// (the sanitizers catch a read outside the input) and whose tensors are consistent: each found by
// name, sized by its shape and dtype, inside the input, sorted by offset, and not overlapping.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "formats/safetensors_reader.h"

namespace {

using medassist::Result;
using medassist::formats::SafetensorsDtypeSize;
using medassist::formats::SafetensorsFile;
using medassist::formats::SafetensorsTensor;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "safetensors_fuzz: %s\n", what);
  std::abort();
}

uint64_t TouchAll(const SafetensorsFile& f, std::span<const uint8_t> input) {
  uint64_t sum = f.data_offset();
  for (const auto& [key, value] : f.metadata()) {
    for (char c : key) sum = sum * 31 + static_cast<uint8_t>(c);
    for (char c : value) sum = sum * 31 + static_cast<uint8_t>(c);
  }
  uint64_t prev_end = 0;
  for (const SafetensorsTensor& t : f.tensors()) {
    if (f.Find(t.name) != &t) Fail("Find does not return the listed tensor");
    if (t.data.size() != t.n_elements * SafetensorsDtypeSize(t.dtype)) Fail("size mismatch");
    if (!t.data.empty()) {
      if (t.data.data() < input.data() ||
          t.data.data() + t.data.size() > input.data() + input.size())
        Fail("tensor data outside the input");
      if (t.data_begin < prev_end) Fail("overlapping or unsorted tensors");
      prev_end = t.data_begin + t.data.size();
    }
    for (uint8_t b : t.data) sum = sum * 31 + b;
    for (uint64_t d : t.shape) sum += d;
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  Result<SafetensorsFile> f = SafetensorsFile::Parse(input, "<fuzz>");
  if (!f.ok()) {
    if (f.status().message().rfind("<fuzz>: ", 0) != 0) Fail("error without the source name");
    return 0;
  }
  volatile uint64_t sink = TouchAll(*f, input);
  (void)sink;
  return 0;
}
