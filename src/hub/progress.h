// Download / upload progress on stderr: a redrawn bar when stderr is a terminal, else one log
// line per finished file (a log file or CI output must not fill with carriage returns).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace medassist::hub {

class Progress {
 public:
  // enabled false: silent (tests, library callers that report themselves).
  explicit Progress(bool enabled);

  // A new file of `total` bytes (-1: unknown), `already` of them on disk (a resumed download).
  void Begin(const std::string& name, int64_t total, int64_t already);
  void Advance(int64_t bytes);
  // Ends the file's line; `verb` says what happened ("downloaded", "uploaded").
  void End(const char* verb);

 private:
  void Draw(bool final_draw);

  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool tty_;
  std::string name_;
  int64_t total_ = -1;
  int64_t done_ = 0;
  int64_t already_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace medassist::hub
