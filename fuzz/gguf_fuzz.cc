// libFuzzer target for the GGUF reader. Any input must either be refused with a Status or parse
// into a file whose every metadata value and tensor data byte can be read (the sanitizers catch a
// read outside the input). A parsed file must also survive a rewrite: copying it through
// GgufWriter and parsing the result gives the same metadata and tensor bytes, so the writer and
// the reader agree on what is valid.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"

namespace {

using medassist::Result;
using medassist::formats::GgufFile;
using medassist::formats::GgufKeyValue;
using medassist::formats::GgufTensorInfo;
using medassist::formats::GgufValue;
using medassist::formats::GgufValueType;
using medassist::formats::GgufWriter;

// Folds every byte and every decoded element of v into a checksum the optimiser cannot drop.
uint64_t Touch(const GgufValue& v) {
  uint64_t sum = static_cast<uint64_t>(v.type());
  for (uint8_t b : v.payload()) sum = sum * 31 + b;
  sum += v.AsUint64().value_or(0) + static_cast<uint64_t>(v.AsInt64().value_or(0));
  sum += static_cast<uint64_t>(v.AsFloat64().value_or(0.0) != 0.0);
  sum += v.AsString().value_or("").size() + v.AsBool().value_or(false);
  if (v.type() != GgufValueType::kArray) return sum;
  if (v.array_type() == GgufValueType::kString) {
    for (std::string_view s : v.Strings()) sum += s.size() + (s.empty() ? 0 : s.back());
  } else if (v.array_type() == GgufValueType::kArray) {
    for (const GgufValue& e : v.nested()) sum += Touch(e);
  } else {
    for (uint64_t i = 0; i < v.array_size(); ++i) sum += v.Element(i).AsUint64().value_or(1);
  }
  return sum;
}

uint64_t TouchAll(const GgufFile& f) {
  uint64_t sum = f.version() + f.alignment() + f.data_offset();
  for (const GgufKeyValue& kv : f.metadata()) {
    sum += kv.key.size() + Touch(kv.value);
    // The typed getters on every key: each either succeeds or returns a Status.
    sum += f.GetUint32(kv.key).ok() + f.GetFloat32(kv.key).ok() + f.GetString(kv.key).ok();
    sum += f.GetStringArray(kv.key).ok() + f.GetFloat32Array(kv.key).ok();
    sum += f.GetInt32Array(kv.key).ok() + f.GetBool(kv.key).ok() + f.GetUint64(kv.key).ok();
  }
  for (const GgufTensorInfo& t : f.tensors()) {
    sum += t.name.size() + t.n_elements + t.offset;
    for (uint8_t b : t.data) sum = sum * 31 + b;
  }
  return sum;
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

void CheckRewrite(const GgufFile& f) {
  GgufWriter w;
  for (const GgufKeyValue& kv : f.metadata()) w.AddValue(kv.key, kv.value);
  for (const GgufTensorInfo& t : f.tensors()) w.AddTensor(t.name, t.type, t.dims, t.data);
  Result<std::string> bytes = w.WriteToString();
  if (!bytes.ok()) Fail(("the writer refused a parsed file: " + bytes.status().ToString()).c_str());
  Result<GgufFile> again = GgufFile::Parse(
      {reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()}, "<rewrite>");
  if (!again.ok()) Fail(("the reader refused a rewrite: " + again.status().ToString()).c_str());
  if (again->metadata().size() != f.metadata().size()) Fail("rewrite: metadata count differs");
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    const GgufValue& a = f.metadata()[i].value;
    const GgufValue& b = again->metadata()[i].value;
    if (f.metadata()[i].key != again->metadata()[i].key) Fail("rewrite: key differs");
    if (a.type() != b.type() || a.array_type() != b.array_type())
      Fail("rewrite: value type differs");
    if (!std::equal(a.payload().begin(), a.payload().end(), b.payload().begin(),
                    b.payload().end())) {
      Fail("rewrite: value bytes differ");
    }
  }
  if (again->tensors().size() != f.tensors().size()) Fail("rewrite: tensor count differs");
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensorInfo& a = f.tensors()[i];
    const GgufTensorInfo& b = again->tensors()[i];
    if (a.name != b.name || a.type != b.type || a.dims != b.dims)
      Fail("rewrite: tensor info differs");
    if (!std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end())) {
      Fail("rewrite: tensor data differs");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<GgufFile> f = GgufFile::Parse(std::span<const uint8_t>(data, size), "<fuzz>");
  if (!f.ok()) {
    if (f.status().message().rfind("<fuzz>: ", 0) != 0) Fail("error without the source name");
    return 0;
  }
  volatile uint64_t sink = TouchAll(*f);
  (void)sink;
  CheckRewrite(*f);
  return 0;
}
