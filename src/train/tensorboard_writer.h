// TensorBoard event files written without TensorFlow or protobuf: TFRecord framing around
// hand-encoded tensorflow.Event protos holding scalar summaries. TensorBoard, tensorboardX readers
// and `wandb sync --sync-tensorboard` read the result.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/status.h"

namespace medassist::train {

// One record as TFRecord frames it: uint64 length (little-endian), uint32 masked crc32c of those 8
// bytes, the data, uint32 masked crc32c of the data.
std::string FrameTfRecord(std::string_view data);

// Event{wall_time, file_version} and Event{wall_time, step, summary{value{tag, simple_value}}},
// serialized as protobuf wire format.
std::string EncodeFileVersionEvent(double wall_time, std::string_view file_version);
std::string EncodeScalarEvent(double wall_time, int64_t step, std::string_view tag, float value);

// Seconds since the Unix epoch, with sub-second precision (TensorBoard's wall_time).
double WallTimeNow();

// Appends scalar events to a new event file in a folder. Move-only; closes on destruction.
class TensorBoardWriter {
 public:
  // Creates dir if needed and the file events.out.tfevents.<unix_seconds>.<hostname>.<pid>.<n>
  // (n = 0, or the next free number when that name is taken), whose first record is
  // Event{file_version: "brain.Event:2"}.
  static Result<TensorBoardWriter> Create(const std::string& dir);

  TensorBoardWriter() = default;
  TensorBoardWriter(TensorBoardWriter&& other) noexcept;
  TensorBoardWriter& operator=(TensorBoardWriter&& other) noexcept;
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;
  ~TensorBoardWriter();

  // Buffered; call Flush() after each group of scalars of one step.
  Status AddScalar(std::string_view tag, int64_t step, float value, double wall_time);
  Status Flush();
  Status Close();

  bool is_open() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }

 private:
  Status WriteRecord(std::string_view data);

  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace medassist::train
