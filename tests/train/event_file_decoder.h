// A TensorBoard event file reader written for the tests, independently of the writer: its own
// bitwise CRC-32C, TFRecord framing and protobuf parsing of the Event fields the writer emits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace medassist::train::testing {

struct DecodedEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  // set on the first event only
  std::string tag;           // summary.value[0].tag
  float simple_value = 0;    // summary.value[0].simple_value
  int n_values = 0;          // summary values in the event
};

// Decodes every record of an event file's bytes. Returns false with *error set on a bad length,
// a crc mismatch ("length crc" / "data crc") or a malformed protobuf.
bool DecodeEventFile(const std::string& bytes, std::vector<DecodedEvent>* events,
                     std::string* error);

// The events.out.tfevents.* files in a folder, sorted by name.
std::vector<std::string> EventFilesIn(const std::string& dir);

}  // namespace medassist::train::testing
