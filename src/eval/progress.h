// A one-line progress bar on stderr: items done of total, running accuracy, rate and time left.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace medassist::eval {

class ProgressBar {
 public:
  // Draws nothing when disabled (tests; stderr not a terminal). done_before: items resumed.
  ProgressBar(std::string label, int64_t total, int64_t done_before, bool enabled);
  void Update(int64_t done, int64_t correct);
  void Finish();  // ends the line

  // The line drawn for these counts (exposed for tests).
  static std::string Line(const std::string& label, int64_t done, int64_t total, int64_t correct,
                          double items_per_s, int width = 30);

 private:
  std::string label_;
  int64_t total_;
  int64_t done_before_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace medassist::eval
