#include "train/tensorboard_writer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "train/crc32c.h"

namespace medassist::train {
namespace {

// Field numbers, from tensorflow/core/util/event.proto:
//   message Event { double wall_time = 1; int64 step = 2;
//                   oneof what { string file_version = 3; ... Summary summary = 5; ... } }
// and tensorflow/core/framework/summary.proto:
//   message Summary { message Value { string tag = 1; oneof value { float simple_value = 2; ...} }
//                     repeated Value value = 1; }
constexpr int kEventWallTime = 1;
constexpr int kEventStep = 2;
constexpr int kEventFileVersion = 3;
constexpr int kEventSummary = 5;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1;
constexpr int kValueSimpleValue = 2;

// Protobuf wire types.
constexpr int kWireVarint = 0;
constexpr int kWireFixed64 = 1;
constexpr int kWireLengthDelimited = 2;
constexpr int kWireFixed32 = 5;

// The few protobuf encodings an Event needs; fixed-width values are little-endian.
class ProtoEncoder {
 public:
  void Varint(int field, uint64_t v) {
    Tag(field, kWireVarint);
    PutVarint(v);
  }
  void Double(int field, double v) {
    Tag(field, kWireFixed64);
    PutLittleEndian(std::bit_cast<uint64_t>(v), 8);
  }
  void Float(int field, float v) {
    Tag(field, kWireFixed32);
    PutLittleEndian(std::bit_cast<uint32_t>(v), 4);
  }
  void Bytes(int field, std::string_view bytes) {
    Tag(field, kWireLengthDelimited);
    PutVarint(bytes.size());
    out_.append(bytes);
  }
  std::string Take() { return std::move(out_); }

 private:
  void Tag(int field, int wire_type) { PutVarint((static_cast<uint64_t>(field) << 3) | wire_type); }
  void PutVarint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
    out_.push_back(static_cast<char>(v));
  }
  void PutLittleEndian(uint64_t v, int n_bytes) {
    for (int i = 0; i < n_bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }

  std::string out_;
};

void AppendLittleEndian(std::string& out, uint64_t v, int n_bytes) {
  for (int i = 0; i < n_bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

std::string FrameTfRecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  AppendLittleEndian(out, data.size(), 8);
  AppendLittleEndian(out, MaskCrc32c(Crc32c(out)), 4);
  out.append(data);
  AppendLittleEndian(out, MaskCrc32c(Crc32c(data)), 4);
  return out;
}

std::string EncodeFileVersionEvent(double wall_time, std::string_view file_version) {
  ProtoEncoder event;
  event.Double(kEventWallTime, wall_time);
  event.Bytes(kEventFileVersion, file_version);
  return event.Take();
}

std::string EncodeScalarEvent(double wall_time, int64_t step, std::string_view tag, float value) {
  ProtoEncoder summary_value;
  summary_value.Bytes(kValueTag, tag);
  summary_value.Float(kValueSimpleValue, value);
  ProtoEncoder summary;
  summary.Bytes(kSummaryValue, summary_value.Take());
  ProtoEncoder event;
  event.Double(kEventWallTime, wall_time);
  event.Varint(kEventStep, static_cast<uint64_t>(step));  // int64: two's complement varint
  event.Bytes(kEventSummary, summary.Take());
  return event.Take();
}

double WallTimeNow() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

Result<TensorBoardWriter> TensorBoardWriter::Create(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError(fmt::format("cannot create folder {}: {}", dir, ec.message()));
  double now = WallTimeNow();
  std::string stem = fmt::format("{}/events.out.tfevents.{}.{}.{}.", dir, static_cast<int64_t>(now),
                                 HostName(), getpid());
  TensorBoardWriter writer;
  for (int n = 0; writer.file_ == nullptr; ++n) {
    writer.path_ = stem + std::to_string(n);
    writer.file_ = std::fopen(writer.path_.c_str(), "wbx");  // x: never reuse an existing file
    if (writer.file_ == nullptr && (errno != EEXIST || n >= 1000)) {
      return IoError(fmt::format("cannot create {}: {}", writer.path_, std::strerror(errno)));
    }
  }
  RETURN_IF_ERROR(writer.WriteRecord(EncodeFileVersionEvent(now, "brain.Event:2")));
  RETURN_IF_ERROR(writer.Flush());
  return writer;
}

TensorBoardWriter::TensorBoardWriter(TensorBoardWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)) {}

TensorBoardWriter& TensorBoardWriter::operator=(TensorBoardWriter&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status TensorBoardWriter::WriteRecord(std::string_view data) {
  if (file_ == nullptr) return Internal("TensorBoard event file is closed");
  std::string record = FrameTfRecord(data);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    return IoError(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
  }
  return Status::Ok();
}

Status TensorBoardWriter::AddScalar(std::string_view tag, int64_t step, float value,
                                    double wall_time) {
  return WriteRecord(EncodeScalarEvent(wall_time, step, tag, value));
}

Status TensorBoardWriter::Flush() {
  if (file_ == nullptr) return Internal("TensorBoard event file is closed");
  if (std::fflush(file_) != 0) {
    return IoError(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
  }
  return Status::Ok();
}

Status TensorBoardWriter::Close() {
  if (file_ == nullptr) return Status::Ok();
  int rc = std::fclose(std::exchange(file_, nullptr));
  if (rc != 0) return IoError(fmt::format("cannot close {}: {}", path_, std::strerror(errno)));
  return Status::Ok();
}

}  // namespace medassist::train
