#include "train/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace medassist::train {
namespace {

constexpr double kWidth = 720, kHeight = 320;
constexpr double kLeft = 72, kRight = 16, kTop = 44, kBottom = 44;
// Colour-blind-safe palette (Okabe-Ito), one colour per series in order.
constexpr const char* kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#F0E442", "#000000"};

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    if (!std::isfinite(v)) return;
    v = std::clamp(v, -1e300, 1e300);  // room to widen and to subtract without overflow
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Where v lies in [lo, hi], as 0..1. Halved first so that a range as wide as the doubles allow
// (hostile input) cannot overflow to inf - inf.
double Fraction(double v, double lo, double hi) { return (v / 2 - lo / 2) / (hi / 2 - lo / 2); }

// Maps data coordinates to SVG user units inside the plot area.
struct Frame {
  double x_lo, x_hi, y_lo, y_hi;
  double X(double x) const { return kLeft + Fraction(x, x_lo, x_hi) * (kWidth - kLeft - kRight); }
  double Y(double y) const {
    return kHeight - kBottom - Fraction(y, y_lo, y_hi) * (kHeight - kTop - kBottom);
  }
};

const char* Color(size_t i) { return kColors[i % std::size(kColors)]; }

// Widens an empty or one-value range so that it has a visible height.
void Widen(Range& r) {
  if (r.empty()) r = {0, 1};
  if (r.hi == r.lo) {
    double pad = r.lo == 0 ? 1 : std::abs(r.lo) * 0.1;
    r.lo -= pad;
    r.hi += pad;
  }
}

Frame MakeFrame(const Chart& chart, std::vector<double>& x_ticks, std::vector<double>& y_ticks) {
  Range x, y;
  for (const ChartSeries& s : chart.series) {
    for (const auto& [px, py] : s.points) {
      if (!std::isfinite(py)) continue;
      x.Add(px);
      y.Add(py);
    }
  }
  if (chart.y_from_zero) y.Add(0);
  Widen(x);
  Widen(y);
  y_ticks = NiceTicks(y.lo, y.hi);
  x_ticks = NiceTicks(x.lo, x.hi, 6);
  std::erase_if(x_ticks, [&](double t) { return t < x.lo - 1e-9 || t > x.hi + 1e-9; });
  return {x.lo, x.hi, y_ticks.front(), y_ticks.back()};
}

void DrawAxes(const Chart& chart, const Frame& f, const std::vector<double>& x_ticks,
              const std::vector<double>& y_ticks, std::string& svg) {
  double x0 = kLeft, x1 = kWidth - kRight, y0 = kHeight - kBottom;
  for (double t : y_ticks) {
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"ytick\">{}</text>\n",
        x0, f.Y(t), x1, f.Y(t), x0 - 6, f.Y(t) + 4, EscapeHtml(FormatNumber(t)));
  }
  for (double t : x_ticks) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"axis\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" class=\"xtick\">{4}</text>\n",
        f.X(t), y0, y0 + 5, y0 + 18, EscapeHtml(FormatNumber(t)));
  }
  svg += fmt::format(
      "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"axis\"/>"
      "<line x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{3:.1f}\" y2=\"{2:.1f}\" class=\"axis\"/>\n",
      x0, kTop, y0, x1);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"xlabel\">{}</text>\n", (x0 + x1) / 2,
                     kHeight - 8, EscapeHtml(chart.x_label));
  svg += fmt::format(
      "<text transform=\"translate(16 {:.1f}) rotate(-90)\" class=\"ylabel\">{}</text>\n",
      (kTop + y0) / 2, EscapeHtml(chart.y_unit));
}

// "M x y L x y ...", starting a new piece after each non-finite value.
std::string LinePath(const ChartSeries& s, const Frame& f) {
  std::string d;
  bool pen_down = false;
  for (const auto& [x, y] : s.points) {
    if (!std::isfinite(y)) {
      pen_down = false;
      continue;
    }
    d += fmt::format("{}{:.1f} {:.1f}", pen_down ? " L" : (d.empty() ? "M" : " M"), f.X(x), f.Y(y));
    pen_down = true;
  }
  return d;
}

void DrawSeries(const ChartSeries& s, const Frame& f, const char* color, std::string& svg) {
  std::string d = LinePath(s, f);
  if (!d.empty()) {
    svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n", d,
                       color, s.markers ? 1 : 1.6, s.markers ? " stroke-dasharray=\"4 3\"" : "");
  }
  if (!s.markers) return;
  for (const auto& [x, y] : s.points) {
    if (!std::isfinite(y)) continue;
    svg += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{} at step {}: {}</title>"
        "</circle>\n",
        f.X(x), f.Y(y), color, EscapeHtml(s.label), FormatNumber(x), FormatNumber(y));
  }
}

void DrawLegend(const Chart& chart, std::string& svg) {
  double x = kWidth - kRight;
  for (size_t i = chart.series.size(); i-- > 0;) {
    const ChartSeries& s = chart.series[i];
    x -= 24 + 7.0 * static_cast<double>(s.label.size());
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"30\" x2=\"{:.1f}\" y2=\"30\" stroke=\"{}\" stroke-width=\"2\"{}/>"
        "<text x=\"{:.1f}\" y=\"34\" class=\"legend\">{}</text>\n",
        x, x + 16, Color(i), s.markers ? " stroke-dasharray=\"4 3\"" : "", x + 20,
        EscapeHtml(s.label));
  }
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(hi - lo)) return {lo, hi};  // no room for nice steps
  double raw = (hi - lo) / std::max(target, 1);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  double first = std::floor(lo / step) * step;
  for (int i = 0; i <= 100; ++i) {
    double t = first + i * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    if (t >= hi - step * 1e-9) break;
  }
  if (ticks.back() < hi || ticks.back() <= ticks.front()) return {lo, hi};  // beyond precision
  return ticks;
}

std::string FormatNumber(double v) { return fmt::format("{:.4g}", v); }

std::string RenderSvgChart(const Chart& chart) {
  std::vector<double> x_ticks, y_ticks;
  Frame f = MakeFrame(chart, x_ticks, y_ticks);
  std::string svg = fmt::format(
      "<svg viewBox=\"0 0 {} {}\" role=\"img\" "
      "aria-label=\"{}\">\n<text x=\"{}\" y=\"18\" class=\"title\">{}</text>\n",
      kWidth, kHeight, EscapeHtml(chart.title), kLeft, EscapeHtml(chart.title));
  DrawAxes(chart, f, x_ticks, y_ticks, svg);
  for (size_t i = 0; i < chart.series.size(); ++i) DrawSeries(chart.series[i], f, Color(i), svg);
  DrawLegend(chart, svg);
  svg += "</svg>\n";
  return svg;
}

}  // namespace medassist::train
