// Line charts as inline SVG, drawn without JavaScript or external files, for the training report:
// axes with "nice" ticks, a title, the y unit, a legend, and series drawn either as a line (train
// metrics, logged every few steps) or as markers joined by a dashed line (eval metrics).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/html.h"

namespace medassist::train {

struct ChartSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y); a non-finite y breaks the line
  bool markers = false;
};

struct Chart {
  std::string title;
  std::string y_unit;
  std::string x_label = "step";
  std::vector<ChartSeries> series;
  bool y_from_zero = false;  // keep 0 on the y axis (utilization, throughput) instead of zooming in
};

// <svg ...>...</svg>, 720 x 320 user units, scaling to the page width. Every text is HTML-escaped.
std::string RenderSvgChart(const Chart& chart);

// Evenly spaced values 1, 2 or 5 x 10^k apart covering [lo, hi] with about `target` intervals;
// the first tick is <= lo and the last >= hi.
std::vector<double> NiceTicks(double lo, double hi, int target = 5);
// A tick label: up to 4 significant digits ("0.25", "1500", "2e-05").
std::string FormatNumber(double v);

// Text in the SVG and HTML is escaped with EscapeHtml (core/html.h).

}  // namespace medassist::train
