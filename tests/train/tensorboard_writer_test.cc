#include "train/tensorboard_writer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "event_file_decoder.h"
#include "support/test_support.h"

namespace medassist::train {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::TempDir;
using testing::DecodedEvent;
using testing::DecodeEventFile;
using testing::EventFilesIn;

std::vector<DecodedEvent> DecodeOrFail(const std::string& path) {
  std::vector<DecodedEvent> events;
  std::string error;
  EXPECT_TRUE(DecodeEventFile(ReadFileOrFail(path), &events, &error)) << error;
  return events;
}

TEST(TensorBoardWriterTest, WritesFileVersionThenScalars) {
  TempDir dir;
  Result<TensorBoardWriter> writer = TensorBoardWriter::Create(dir.path() + "/tb");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE(writer->AddScalar("train/loss", 1, 2.5f, 1700000000.25).ok());
  ASSERT_TRUE(writer->AddScalar("eval/loss", 10, 1.75f, 1700000001.5).ok());
  ASSERT_TRUE(writer->AddScalar("train/num_tokens", int64_t{1} << 40, 3e9f, 1700000002.0).ok());
  ASSERT_TRUE(writer->Close().ok());

  std::vector<std::string> files = EventFilesIn(dir.path() + "/tb");
  ASSERT_EQ(files.size(), 1u);
  std::string name = std::filesystem::path(files[0]).filename().string();
  EXPECT_TRUE(std::regex_match(name, std::regex(R"(events\.out\.tfevents\.\d{10}\..+\.(\d+)\.0)")))
      << name;
  EXPECT_TRUE(name.ends_with(fmt::format(".{}.0", getpid()))) << name;

  std::vector<DecodedEvent> events = DecodeOrFail(files[0]);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_GT(events[0].wall_time, 1.6e9);
  EXPECT_EQ(events[0].n_values, 0);
  EXPECT_EQ(events[1].tag, "train/loss");
  EXPECT_EQ(events[1].step, 1);
  EXPECT_EQ(events[1].simple_value, 2.5f);
  EXPECT_EQ(events[1].wall_time, 1700000000.25);
  EXPECT_EQ(events[1].n_values, 1);
  EXPECT_EQ(events[2].tag, "eval/loss");
  EXPECT_EQ(events[2].step, 10);
  EXPECT_EQ(events[2].simple_value, 1.75f);
  EXPECT_EQ(events[3].step, int64_t{1} << 40);  // a 6-byte varint
  EXPECT_EQ(events[3].simple_value, 3e9f);
  EXPECT_EQ(events[3].wall_time, 1700000002.0);
}

TEST(TensorBoardWriterTest, FlushMakesScalarsReadableWhileOpen) {
  TempDir dir;
  Result<TensorBoardWriter> writer = TensorBoardWriter::Create(dir.path());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->AddScalar("train/loss", 5, 0.5f, 1.0).ok());
  ASSERT_TRUE(writer->Flush().ok());
  std::vector<DecodedEvent> events = DecodeOrFail(writer->path());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].step, 5);
}

TEST(TensorBoardWriterTest, CorruptedByteFailsTheCrcCheck) {
  TempDir dir;
  Result<TensorBoardWriter> writer = TensorBoardWriter::Create(dir.path());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->AddScalar("train/loss", 1, 2.0f, 1.0).ok());
  ASSERT_TRUE(writer->Close().ok());
  std::string bytes = ReadFileOrFail(writer->path());
  std::vector<DecodedEvent> events;
  std::string error;
  ASSERT_TRUE(DecodeEventFile(bytes, &events, &error)) << error;

  std::string first_record = FrameTfRecord(EncodeFileVersionEvent(0, "brain.Event:2"));
  size_t second = first_record.size();  // the scalar record starts here
  std::string data_flipped = bytes;
  data_flipped[second + 12 + 3] ^= 0x01;  // a byte of the Event proto
  events.clear();
  EXPECT_FALSE(DecodeEventFile(data_flipped, &events, &error));
  EXPECT_EQ(error, "data crc mismatch");

  std::string length_flipped = bytes;
  length_flipped[second] ^= 0x01;  // the record's length
  events.clear();
  EXPECT_FALSE(DecodeEventFile(length_flipped, &events, &error));
  EXPECT_EQ(error, "length crc mismatch");
}

TEST(TensorBoardWriterTest, FramesARecordAsLengthCrcDataCrc) {
  std::string record = FrameTfRecord("abc");
  ASSERT_EQ(record.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, 3), "abc");
}

TEST(TensorBoardWriterTest, SecondWriterInTheSameFolderGetsItsOwnFile) {
  TempDir dir;
  Result<TensorBoardWriter> a = TensorBoardWriter::Create(dir.path());
  Result<TensorBoardWriter> b = TensorBoardWriter::Create(dir.path());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->path(), b->path());
  EXPECT_EQ(EventFilesIn(dir.path()).size(), 2u);
}

TEST(TensorBoardWriterTest, RefusesAFolderItCannotCreate) {
  TempDir dir;
  std::string file = dir.WriteFile("not-a-folder", "x");
  Result<TensorBoardWriter> writer = TensorBoardWriter::Create(file + "/tb");
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), StatusCode::kIoError);
  EXPECT_NE(writer.status().message().find("not-a-folder"), std::string::npos);
}

TEST(TensorBoardWriterTest, ClosedWriterRefusesScalars) {
  TempDir dir;
  Result<TensorBoardWriter> writer = TensorBoardWriter::Create(dir.path());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_FALSE(writer->AddScalar("train/loss", 1, 1.0f, 1.0).ok());
  EXPECT_TRUE(writer->Close().ok());  // closing twice is harmless
}

}  // namespace
}  // namespace medassist::train
