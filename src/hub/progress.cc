#include "hub/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace medassist::hub {
namespace {

double Mb(int64_t bytes) { return static_cast<double>(bytes) / 1e6; }

}  // namespace

Progress::Progress(bool enabled) : enabled_(enabled), tty_(enabled && ::isatty(2) == 1) {}

void Progress::Begin(const std::string& name, int64_t total, int64_t already) {
  name_ = name;
  total_ = total;
  done_ = already;
  already_ = already;
  start_ = Clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
  if (tty_) Draw(false);
}

void Progress::Advance(int64_t bytes) {
  done_ += bytes;
  if (tty_ && Clock::now() - last_draw_ >= std::chrono::milliseconds(100)) Draw(false);
}

void Progress::Draw(bool final_draw) {
  last_draw_ = Clock::now();
  const double s = std::chrono::duration<double>(last_draw_ - start_).count();
  const double rate = s > 0 ? Mb(done_ - already_) / s : 0;
  std::string shown = name_.size() > 40 ? "..." + name_.substr(name_.size() - 37) : name_;
  if (total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * std::min<int64_t>(done_, total_) / total_);
    std::fprintf(stderr, "\r%-40s [%s%s] %3d%% %8.1f/%.1f MB %6.1f MB/s", shown.c_str(),
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), ' ').c_str(),
                 static_cast<int>(100 * std::min<int64_t>(done_, total_) / total_), Mb(done_),
                 Mb(total_), rate);
  } else {
    std::fprintf(stderr, "\r%-40s %8.1f MB %6.1f MB/s", shown.c_str(), Mb(done_), rate);
  }
  if (final_draw) std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::End(const char* verb) {
  if (!enabled_) return;
  if (tty_) {
    Draw(true);
    return;
  }
  const double s = std::chrono::duration<double>(Clock::now() - start_).count();
  spdlog::info("{} {} ({:.1f} MB in {:.1f} s)", verb, name_, Mb(done_), s);
}

}  // namespace medassist::hub
