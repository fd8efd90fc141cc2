#include "train/train_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "support/test_support.h"
#include "train/metrics_log.h"
#include "train/svg_chart.h"

namespace medassist::train {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::TempDir;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A short run as the trainer logs it: train metrics every step, eval every 10, system metrics
// of one GPU every 5.
void WriteRun(const std::string& run_dir) {
  Result<MetricsLog> log = MetricsLog::Open(run_dir, {.tensorboard = false});
  ASSERT_TRUE(log.ok());
  for (int64_t step = 1; step <= 20; ++step) {
    double s = static_cast<double>(step);
    ASSERT_TRUE(log->Log(step, {{"loss", 2.0 / s},
                                {"mean_token_accuracy", 0.5 + s / 100},
                                {"entropy", 1.5 - s / 40},
                                {"grad_norm", 1.0},
                                {"learning_rate", 2e-4 * (1 - s / 20)},
                                {"epoch", s / 20},
                                {"num_tokens", 4096 * s},
                                {"train_tokens_per_second", 1000 + s}})
                    .ok());
    if (step % 10 == 0) {
      ASSERT_TRUE(log->Log(step, {{"eval_loss", 2.5 / s},
                                  {"eval_mean_token_accuracy", 0.6},
                                  {"eval_entropy", 1.2},
                                  {"eval_runtime", 3.0}})
                      .ok());
    }
    if (step % 5 == 0) {
      ASSERT_TRUE(log->Log(step, {{"system/cpu_percent", 180},
                                  {"system/process_rss_mb", 2048},
                                  {"system/memory_used_percent", 40},
                                  {"system/gpu.0.utilization_percent", 95},
                                  {"system/gpu.0.memory_used_mb", 60000},
                                  {"system/gpu.0.temperature_c", 60},
                                  {"system/gpu.0.power_w", 500}})
                      .ok());
    }
  }
}

TEST(TrainReportTest, DrawsOneSvgPerChartWithEvalMarkers) {
  TempDir dir;
  WriteRun(dir.path());
  Result<TrainReport> report = RenderTrainReport(dir.path());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->html;
  // loss, accuracy, entropy, learning rate, grad norm, throughput, CPU, RSS, memory, 4 GPU charts
  EXPECT_EQ(report->n_charts, 13);
  EXPECT_EQ(Count(html, "<svg"), 13);
  for (const char* title : {"Loss", "Mean token accuracy", "Learning rate", "Gradient norm",
                            "Training throughput", "Process CPU", "GPU utilization", "GPU power"}) {
    EXPECT_NE(html.find(std::string("class=\"title\">") + title + "<"), std::string::npos) << title;
  }
  // Eval points are markers: eval_loss, eval_mean_token_accuracy, eval_entropy at steps 10, 20.
  EXPECT_EQ(Count(html, "<circle"), 6);
  EXPECT_NE(html.find("eval at step 20: 0.125"), std::string::npos);
  // Self-contained: nothing fetched, no script.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST(TrainReportTest, SummaryHasStepsLossesAndTokens) {
  TempDir dir;
  WriteRun(dir.path());
  Result<TrainReport> report = RenderTrainReport(dir.path());
  ASSERT_TRUE(report.ok());
  const std::string& html = report->html;
  EXPECT_NE(html.find("<th>steps</th><td>20</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>final loss</th><td>0.1000 (step 20)</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>best eval_loss</th><td>0.1250 (step 20)</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>tokens trained on</th><td>81920</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>epochs</th><td>1</td>"), std::string::npos);
}

TEST(TrainReportTest, LeavesOutChartsWithoutData) {
  TempDir dir;
  dir.WriteFile("metrics.jsonl", "{\"step\":1,\"loss\":2.0}\n{\"step\":2,\"loss\":1.0}\n");
  Result<TrainReport> report = RenderTrainReport(dir.path());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->n_charts, 1);
  EXPECT_EQ(Count(report->html, "<svg"), 1);
  EXPECT_EQ(Count(report->html, "<circle"), 0);
}

TEST(TrainReportTest, EscapesStringsFromRunConfig) {
  TempDir dir;
  dir.WriteFile("metrics.jsonl", "{\"step\":1,\"loss\":2.0}\n");
  dir.WriteFile("run_config.json",
                R"({"model": "<script>alert(1)</script>", "lora": {"r&d": "\"x\" 'y'"}})");
  Result<TrainReport> report = RenderTrainReport(dir.path());
  ASSERT_TRUE(report.ok());
  const std::string& html = report->html;
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("<th>model</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<th>lora.r&amp;d</th><td>&quot;x&quot; &#39;y&#39;</td>"),
            std::string::npos);
}

TEST(TrainReportTest, EscapesMetricNamesAndTheRunName) {
  TempDir dir;
  std::string run = dir.path() + "/<b>run";
  std::filesystem::create_directories(run);
  ReadFileOrFail(dir.WriteFile("<b>run/metrics.jsonl", "{\"step\":1,\"<i>\":1}\n"));
  Result<TrainReport> report = RenderTrainReport(run);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->html.find("<b>"), std::string::npos);
  EXPECT_EQ(report->html.find("<i>"), std::string::npos);
  EXPECT_NE(report->html.find("Training report: &lt;b&gt;run"), std::string::npos);
}

TEST(TrainReportTest, RefusesAMissingMetricsFile) {
  TempDir dir;
  Result<TrainReport> report = RenderTrainReport(dir.path());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  EXPECT_NE(report.status().message().find("metrics.jsonl"), std::string::npos);
}

TEST(TrainReportTest, NamesTheMalformedLine) {
  TempDir dir;
  dir.WriteFile("metrics.jsonl",
                "{\"step\":1,\"loss\":2.0}\n{\"step\":2,\"loss\":\n"
                "{\"step\":3,\"loss\":1.0}\n");
  Result<TrainReport> report = RenderTrainReport(dir.path());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(report.status().message().find("metrics.jsonl line 2:"), std::string::npos)
      << report.status().message();
}

TEST(TrainReportTest, RefusesLinesWithoutAStepOrWithTextValues) {
  Result<MetricsHistory> no_step = ParseMetricsJsonl("{\"loss\":1}\n", "m.jsonl");
  ASSERT_FALSE(no_step.ok());
  EXPECT_NE(no_step.status().message().find("m.jsonl line 1: missing integer \"step\""),
            std::string::npos);
  Result<MetricsHistory> text =
      ParseMetricsJsonl("\n{\"step\":1,\"loss\":1}\n{\"step\":2,\"loss\":\"high\"}\n", "m.jsonl");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("m.jsonl line 3: 'loss' must be a number"),
            std::string::npos)
      << text.status().message();
  EXPECT_FALSE(ParseMetricsJsonl("[1,2]\n", "m.jsonl").ok());
}

TEST(TrainReportTest, SkipsATruncatedLastLineWithAWarning) {
  Result<MetricsHistory> h = ParseMetricsJsonl(
      "{\"step\":1,\"loss\":2.0}\n{\"step\":2,\"loss\":1.0}\n{\"step\":3,\"lo", "m.jsonl");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->warnings.size(), 1u);
  EXPECT_NE(h->warnings[0].find("m.jsonl line 3"), std::string::npos);
  EXPECT_EQ(h->n_lines, 2);
  ASSERT_NE(h->Find("loss"), nullptr);
  EXPECT_EQ(h->Find("loss")->size(), 2u);
}

TEST(TrainReportTest, ALaterLineForTheSameStepWinsAndNullIsNaN) {
  Result<MetricsHistory> h = ParseMetricsJsonl(
      "{\"step\":1,\"time\":100.5,\"loss\":2.0}\n{\"step\":2,\"time\":101,\"loss\":null}\n"
      "{\"step\":1,\"time\":200.5,\"loss\":1.5}\n",
      "m.jsonl");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->Find("loss")->at(1), 1.5);
  EXPECT_TRUE(std::isnan(h->Find("loss")->at(2)));
  EXPECT_EQ(h->first_time, 100.5);
  EXPECT_EQ(h->last_time, 200.5);
  EXPECT_EQ(h->Find("time"), nullptr);
}

TEST(TrainReportTest, WritesReportHtmlInTheRunFolderByDefault) {
  TempDir dir;
  WriteRun(dir.path());
  Result<TrainReport> report = WriteTrainReport(dir.path(), "");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->path, dir.path() + "/report.html");
  EXPECT_EQ(ReadFileOrFail(report->path), report->html);
  Result<TrainReport> elsewhere = WriteTrainReport(dir.path(), dir.path() + "/other.html");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/other.html"));
}

TEST(SvgChartTest, NiceTicksCoverTheRangeInSteps125) {
  std::vector<double> ticks = NiceTicks(0, 1);
  ASSERT_EQ(ticks.size(), 6u);
  EXPECT_DOUBLE_EQ(ticks[1], 0.2);
  EXPECT_DOUBLE_EQ(ticks[5], 1.0);
  ticks = NiceTicks(0.13, 2.3);
  EXPECT_LE(ticks.front(), 0.13);
  EXPECT_GE(ticks.back(), 2.3);
  EXPECT_DOUBLE_EQ(ticks[1] - ticks[0], 0.5);
  ticks = NiceTicks(1e-6, 2e-4);
  EXPECT_DOUBLE_EQ(ticks.front(), 0.0);
  EXPECT_NEAR(ticks[1], 5e-5, 1e-18);
  EXPECT_EQ(FormatNumber(2e-5), "2e-05");
  EXPECT_EQ(FormatNumber(1500), "1500");
}

TEST(SvgChartTest, DrawsAFlatOrEmptySeriesWithoutDividingByZero) {
  Chart flat{.title = "flat",
             .y_unit = "u",
             .series = {{"a", {{1, 3.0}, {2, 3.0}}}},
             .y_from_zero = false};
  std::string svg = RenderSvgChart(flat);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  Chart one_point{.title = "one",
                  .y_unit = "u",
                  .series = {{"a", {{5, NAN}, {5, 1.0}}, true}},
                  .y_from_zero = false};
  svg = RenderSvgChart(one_point);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(Count(svg, "<circle"), 1);
}

TEST(SvgChartTest, SurvivesExtremeValues) {
  for (auto [a, b] : {std::pair{-1e308, 1e308}, std::pair{1e17, 1e17 + 16}, std::pair{0.0, 1e-300},
                      std::pair{1.7e308, 1.7e308}}) {
    Chart chart{
        .title = "t", .y_unit = "u", .series = {{"a", {{1, a}, {2, b}}}}, .y_from_zero = false};
    std::string svg = RenderSvgChart(chart);
    EXPECT_EQ(svg.find("nan"), std::string::npos) << a << " " << b;
    EXPECT_EQ(svg.find("inf"), std::string::npos) << a << " " << b;
  }
}

TEST(SvgChartTest, YFromZeroKeepsZeroOnTheAxis) {
  Chart chart{.title = "GPU utilization",
              .y_unit = "%",
              .series = {{"gpu 0", {{1, 93.0}, {2, 98.0}}}},
              .y_from_zero = false};
  EXPECT_EQ(RenderSvgChart(chart).find("class=\"ytick\">0<"), std::string::npos);
  chart.y_from_zero = true;
  EXPECT_NE(RenderSvgChart(chart).find("class=\"ytick\">0<"), std::string::npos);
}

TEST(SvgChartTest, EscapesHtml) {
  EXPECT_EQ(EscapeHtml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

}  // namespace
}  // namespace medassist::train
