// The size users train on: a synthetic ~74 MB medical-o1-style JSON (the size of
// medical_o1_sft.json) pulled from the stand-in hub. The download streams to disk: the process's
// peak memory grows far less than the file, and the sha256 matches. Label "slow".
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "datasets/sft_reader.h"
#include "hub/digest.h"
#include "hub/snapshot.h"
#include "hub_test_util.h"

namespace medassist::hub::testing {
namespace {

constexpr int64_t kFileBytes = 74 * 1000 * 1000;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Fixed-width records, so any byte is computable from its offset (the stand-in serves the file
// without holding it): "[\n" + records + padding spaces + "\n]".
const std::string& Record() {
  static const std::string r =
      "{\"Question\": \"A 45-year-old presents with chest pain radiating to the left arm. What is "
      "the next step?\", \"Complex_CoT\": \"Chest pain radiating to the arm suggests an acute "
      "coronary syndrome; an ECG within ten minutes comes first.\", \"Response\": \"Obtain a "
      "12-lead ECG immediately and call emergency services.\"},\n";
  return r;
}

void Generate(int64_t offset, char* out, size_t n) {
  const std::string& r = Record();
  const auto rec = static_cast<int64_t>(r.size());
  const int64_t n_records = (kFileBytes - 4) / rec;
  const int64_t body_end = 2 + n_records * rec;
  for (size_t i = 0; i < n; ++i) {
    const int64_t at = offset + static_cast<int64_t>(i);
    char c;
    if (at < 2) {
      c = "[\n"[at];
    } else if (at < body_end) {
      int64_t k = (at - 2) % rec;
      // The last record has no comma: a valid JSON array.
      c = (at - 2) / rec == n_records - 1 && k == rec - 2 ? ' ' : r[static_cast<size_t>(k)];
    } else if (at < kFileBytes - 2) {
      c = ' ';
    } else {
      c = "\n]"[at - (kFileBytes - 2)];
    }
    out[i] = c;
  }
}

// Peak resident memory (VmHWM) in bytes; Reset makes the current size the new peak.
int64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

TEST_F(HubTest, Pulls74MbJsonStreamingToDisk) {
  hub_.AddRepo(
      RepoType::kDataset, "FreedomIntelligence/medical-o1-reasoning-SFT",
      {{.path = "medical_o1_sft.json", .generated_size = kFileBytes, .generate = Generate}});
  ResetPeakRss();
  const int64_t before = PeakRss();
  SnapshotOptions o;
  o.show_progress = false;
  Result<std::string> dir = DownloadSnapshot(
      Config(), *ParseRepoRef("FreedomIntelligence/medical-o1-reasoning-SFT", RepoType::kDataset),
      o);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  const int64_t growth = PeakRss() - before;
  std::printf("peak resident memory grew by %.1f MB during the pull\n",
              static_cast<double>(growth) / 1e6);
  const std::string file = *dir + "/medical_o1_sft.json";
  EXPECT_EQ(static_cast<int64_t>(std::filesystem::file_size(file)), kFileBytes);
  // Well under the file's size: nothing holds the whole body (the stand-in generates it). Not
  // under AddressSanitizer, whose quarantine keeps every freed buffer resident for a while.
  if (!kAddressSanitizer) {
    EXPECT_LT(growth, 32 << 20) << "peak memory grew by " << growth << " bytes";
  }
  std::string expected_sha;
  {
    Digest d = Digest::Sha256();
    std::string buf(1 << 20, '\0');
    for (int64_t off = 0; off < kFileBytes; off += static_cast<int64_t>(buf.size())) {
      const auto n = static_cast<size_t>(std::min<int64_t>(buf.size(), kFileBytes - off));
      Generate(off, buf.data(), n);
      d.Update(std::string_view(buf.data(), n));
    }
    expected_sha = d.FinishHex();
  }
  EXPECT_EQ(*Sha256OfFile(file), expected_sha);
  EXPECT_EQ(std::filesystem::read_symlink(file).filename().string(), expected_sha);
  // The head of the file is the JSON array users parse.
  std::ifstream in(file);
  std::string head(2, '\0');
  in.read(head.data(), 2);
  EXPECT_EQ(head, "[\n");

  // The training data reader streams the pulled file through the cache's symlink, one row in
  // memory at a time: every record, and memory still bounded.
  ResetPeakRss();
  const int64_t before_read = PeakRss();
  int64_t rows = 0;
  Result<datasets::SftReadStats> read = datasets::ReadSftRows(
      file, {.on_malformed = datasets::MalformedRows::kRefuse}, [&](datasets::SftRow row) {
        rows += row.response.starts_with("Obtain a 12-lead ECG") ? 1 : 0;
        return true;
      });
  const int64_t read_growth = PeakRss() - before_read;
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(rows, (kFileBytes - 4) / static_cast<int64_t>(Record().size()));
  EXPECT_EQ(read->rows, rows);
  if (!kAddressSanitizer) {
    EXPECT_LT(read_growth, 16 << 20) << "peak memory grew by " << read_growth << " bytes";
  }
}

}  // namespace
}  // namespace medassist::hub::testing
