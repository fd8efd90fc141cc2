#include "eval/progress.h"

#include <fmt/format.h>

#include <cstdio>

namespace medassist::eval {

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t done_before, bool enabled)
    : label_(std::move(label)), total_(total), done_before_(done_before), enabled_(enabled) {}

std::string ProgressBar::Line(const std::string& label, int64_t done, int64_t total,
                              int64_t correct, double items_per_s, int width) {
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  std::string line = fmt::format("{} [{}] {}/{}", label, bar, done, total);
  if (done > 0) {
    line += fmt::format(" acc {:.1f}%",
                        100.0 * static_cast<double>(correct) / static_cast<double>(done));
  }
  if (items_per_s > 0) {
    const double eta = static_cast<double>(total - done) / items_per_s;
    line += fmt::format(" {:.2f} items/s, {:.0f} s left", items_per_s, eta);
  }
  return line;
}

void ProgressBar::Update(int64_t done, int64_t correct) {
  if (!enabled_) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done - done_before_) / seconds : 0.0;
  std::fprintf(stderr, "\r%s\x1b[K", Line(label_, done, total_, correct, rate).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace medassist::eval
