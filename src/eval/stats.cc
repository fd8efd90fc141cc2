#include "eval/stats.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace medassist::eval {

Proportion WilsonInterval(int64_t k, int64_t n, double z) {
  CHECK(k >= 0 && k <= n) << "k=" << k << " n=" << n;
  Proportion out{.k = k, .n = n};
  if (n == 0) return out;
  const double kd = static_cast<double>(k);
  const double nd = static_cast<double>(n);
  const double z2 = z * z;
  out.p = kd / nd;
  const double center = (kd + z2 / 2) / (nd + z2);
  const double half = z * std::sqrt(kd * (nd - kd) / nd + z2 / 4) / (nd + z2);
  out.lo = std::max(0.0, center - half);
  out.hi = std::min(1.0, center + half);
  return out;
}

}  // namespace medassist::eval
