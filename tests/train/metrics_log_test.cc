#include "train/metrics_log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "event_file_decoder.h"
#include "support/test_support.h"

namespace medassist::train {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::TempDir;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<testing::DecodedEvent> DecodeAll(const std::string& tensorboard_dir) {
  std::vector<testing::DecodedEvent> events;
  for (const std::string& file : testing::EventFilesIn(tensorboard_dir)) {
    std::string error;
    EXPECT_TRUE(testing::DecodeEventFile(ReadFileOrFail(file), &events, &error)) << error;
  }
  return events;
}

TEST(MetricsLogTest, RewritesTagsAsTheHuggingFaceTensorBoardCallback) {
  EXPECT_EQ(TensorBoardTag("loss"), "train/loss");
  EXPECT_EQ(TensorBoardTag("learning_rate"), "train/learning_rate");
  EXPECT_EQ(TensorBoardTag("train_tokens_per_second"), "train/train_tokens_per_second");
  EXPECT_EQ(TensorBoardTag("eval_loss"), "eval/loss");
  EXPECT_EQ(TensorBoardTag("eval_mean_token_accuracy"), "eval/mean_token_accuracy");
  EXPECT_EQ(TensorBoardTag("test_loss"), "test/loss");
  EXPECT_EQ(TensorBoardTag("evaluation"), "train/evaluation");  // no "eval_" prefix
  EXPECT_EQ(TensorBoardTag("system/cpu_percent"), "system/cpu_percent");
  EXPECT_EQ(TensorBoardTag(GpuMetricName(1, kGpuPowerW)), "system/gpu.1.power_w");
}

TEST(MetricsLogTest, WritesOneJsonLinePerLogInTheOrderGiven) {
  TempDir dir;
  Result<MetricsLog> log = MetricsLog::Open(dir.path() + "/run");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  double nan = std::numeric_limits<double>::quiet_NaN();
  ASSERT_TRUE(log->Log(10, {{"loss", 1.5}, {"learning_rate", 2e-5}, {"grad_norm", nan}}).ok());
  ASSERT_TRUE(log->Log(10, {{"eval_loss", 1.25}, {"eval_entropy", INFINITY}}).ok());
  ASSERT_TRUE(log->Close().ok());

  std::vector<std::string> lines = Lines(ReadFileOrFail(dir.path() + "/run/metrics.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].starts_with("{\"step\":10,\"time\":")) << lines[0];
  EXPECT_TRUE(lines[0].ends_with(",\"loss\":1.5,\"learning_rate\":2e-05,\"grad_norm\":null}"))
      << lines[0];
  EXPECT_TRUE(lines[1].ends_with(",\"eval_loss\":1.25,\"eval_entropy\":null}")) << lines[1];
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_GT(first["time"].get<double>(), 1.6e9);
}

TEST(MetricsLogTest, WritesTheSameValuesToTensorBoardWithRewrittenTags) {
  TempDir dir;
  Result<MetricsLog> log = MetricsLog::Open(dir.path());
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->Log(3, {{"loss", 2.25}, {"system/cpu_percent", 150.0}}).ok());
  ASSERT_TRUE(log->Log(4, {{"eval_loss", 2.0}}).ok());
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->tensorboard_dir(), dir.path() + "/tensorboard");

  std::vector<testing::DecodedEvent> events = DecodeAll(dir.path() + "/tensorboard");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[1].tag, "train/loss");
  EXPECT_EQ(events[1].step, 3);
  EXPECT_EQ(events[1].simple_value, 2.25f);
  EXPECT_EQ(events[2].tag, "system/cpu_percent");
  EXPECT_EQ(events[2].simple_value, 150.0f);
  EXPECT_EQ(events[3].tag, "eval/loss");
  EXPECT_EQ(events[3].step, 4);
  EXPECT_EQ(events[1].wall_time, events[2].wall_time);  // one Log() call, one time
}

TEST(MetricsLogTest, AResumedRunAppendsAndTruncateStartsAfresh) {
  TempDir dir;
  for (int64_t step : {1, 2}) {
    Result<MetricsLog> log = MetricsLog::Open(dir.path());
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->Log(step, {{"loss", 1.0 / static_cast<double>(step)}}).ok());
  }
  std::vector<std::string> lines = Lines(ReadFileOrFail(dir.path() + "/metrics.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].starts_with("{\"step\":1,"));
  EXPECT_TRUE(lines[1].starts_with("{\"step\":2,"));
  EXPECT_EQ(testing::EventFilesIn(dir.path() + "/tensorboard").size(), 2u);

  Result<MetricsLog> fresh = MetricsLog::Open(dir.path(), {.truncate = true, .tensorboard = false});
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(fresh->Log(7, {{"loss", 0.5}}).ok());
  lines = Lines(ReadFileOrFail(dir.path() + "/metrics.jsonl"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].starts_with("{\"step\":7,"));
  EXPECT_EQ(testing::EventFilesIn(dir.path() + "/tensorboard").size(), 2u);
}

TEST(MetricsLogTest, RefusesReservedNames) {
  TempDir dir;
  Result<MetricsLog> log = MetricsLog::Open(dir.path());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->Log(1, {{"step", 1.0}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Log(1, {{"time", 1.0}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFileOrFail(dir.path() + "/metrics.jsonl"), "");
}

}  // namespace
}  // namespace medassist::train
