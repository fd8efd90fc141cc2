// Accuracy with a 95% confidence interval.
//
// The Wilson score interval, not the normal ("Wald") one p ± z·sqrt(p(1-p)/n): Wald's collapses to
// zero width at 0% and 100% and leaves [0, 1] near them, and undercovers badly for the small n of a
// --limit subset, while Wilson's keeps close to 95% coverage at any n and p (Brown, Cai and
// DasGupta 2001, "Interval Estimation for a Binomial Proportion"). For n in the thousands the two
// agree to a few tenths of a point.
#pragma once

#include <cstdint>

namespace medassist::eval {

// z of a two-sided 95% interval: the 0.975 quantile of the standard normal.
inline constexpr double kZ95 = 1.959963984540054;

struct Proportion {
  int64_t k = 0;    // successes
  int64_t n = 0;    // trials
  double p = 0.0;   // k / n (0 when n == 0)
  double lo = 0.0;  // Wilson interval; [0, 1] when n == 0
  double hi = 1.0;
};

// p~ = (k + z²/2) / (n + z²), half-width = z·sqrt(k(n-k)/n + z²/4) / (n + z²).
Proportion WilsonInterval(int64_t k, int64_t n, double z = kZ95);

}  // namespace medassist::eval
