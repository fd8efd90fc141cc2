#include "event_file_decoder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace medassist::train::testing {
namespace {

// Bit at a time, straight from the definition (reflected polynomial 0x82F63B78).
uint32_t BitwiseCrc32c(const char* data, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= static_cast<uint8_t>(data[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

bool Fail(std::string* error, const char* message) {
  *error = message;
  return false;
}

uint32_t Masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint64_t LittleEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

struct Reader {
  const char* p;
  const char* end;
  bool ok = true;

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) break;
      uint8_t b = static_cast<uint8_t>(*p++);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }
  uint64_t Fixed(int n) {
    if (end - p < n) {
      ok = false;
      return 0;
    }
    uint64_t v = LittleEndian(p, n);
    p += n;
    return v;
  }
  std::string Bytes() {
    uint64_t n = Varint();
    if (!ok || n > static_cast<uint64_t>(end - p)) {
      ok = false;
      return {};
    }
    std::string s(p, n);
    p += n;
    return s;
  }
  // Skips a field of an unexpected number.
  void Skip(int wire_type) {
    if (wire_type == 0) Varint();
    if (wire_type == 1) Fixed(8);
    if (wire_type == 2) Bytes();
    if (wire_type == 5) Fixed(4);
    if (wire_type != 0 && wire_type != 1 && wire_type != 2 && wire_type != 5) ok = false;
  }
};

// Summary.Value { string tag = 1; float simple_value = 2; }
bool ParseValue(const std::string& bytes, DecodedEvent& e) {
  Reader r{bytes.data(), bytes.data() + bytes.size()};
  while (r.ok && r.p < r.end) {
    uint64_t key = r.Varint();
    if (key == ((1 << 3) | 2)) {
      e.tag = r.Bytes();
    } else if (key == ((2 << 3) | 5)) {
      uint32_t bits = static_cast<uint32_t>(r.Fixed(4));
      std::memcpy(&e.simple_value, &bits, 4);
    } else {
      r.Skip(static_cast<int>(key & 7));
    }
  }
  return r.ok;
}

// Summary { repeated Value value = 1; }
bool ParseSummary(const std::string& bytes, DecodedEvent& e) {
  Reader r{bytes.data(), bytes.data() + bytes.size()};
  while (r.ok && r.p < r.end) {
    uint64_t key = r.Varint();
    if (key == ((1 << 3) | 2)) {
      if (++e.n_values == 1 && !ParseValue(r.Bytes(), e)) return false;
    } else {
      r.Skip(static_cast<int>(key & 7));
    }
  }
  return r.ok;
}

// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
bool ParseEvent(const std::string& bytes, DecodedEvent& e) {
  Reader r{bytes.data(), bytes.data() + bytes.size()};
  while (r.ok && r.p < r.end) {
    uint64_t key = r.Varint();
    if (key == ((1 << 3) | 1)) {
      uint64_t bits = r.Fixed(8);
      std::memcpy(&e.wall_time, &bits, 8);
    } else if (key == ((2 << 3) | 0)) {
      e.step = static_cast<int64_t>(r.Varint());
    } else if (key == ((3 << 3) | 2)) {
      e.file_version = r.Bytes();
    } else if (key == ((5 << 3) | 2)) {
      if (!ParseSummary(r.Bytes(), e)) return false;
    } else {
      r.Skip(static_cast<int>(key & 7));
    }
  }
  return r.ok;
}

}  // namespace

bool DecodeEventFile(const std::string& bytes, std::vector<DecodedEvent>* events,
                     std::string* error) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 12) return Fail(error, "truncated header");
    const char* header = bytes.data() + pos;
    uint64_t length = LittleEndian(header, 8);
    if (LittleEndian(header + 8, 4) != Masked(BitwiseCrc32c(header, 8))) {
      return Fail(error, "length crc mismatch");
    }
    if (bytes.size() - pos - 12 < length + 4) return Fail(error, "truncated record");
    const char* data = header + 12;
    if (LittleEndian(data + length, 4) != Masked(BitwiseCrc32c(data, length))) {
      return Fail(error, "data crc mismatch");
    }
    DecodedEvent e;
    if (!ParseEvent(std::string(data, length), e)) return Fail(error, "bad protobuf");
    events->push_back(e);
    pos += 12 + length + 4;
  }
  return true;
}

std::vector<std::string> EventFilesIn(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("events.out.tfevents.")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace medassist::train::testing
