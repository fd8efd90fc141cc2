// Helpers shared by the test suites: where test data lives, reading it, temporary folders.
#pragma once

#include <string>

namespace medassist::testing {

// ../shared/data (see its SOURCES.md); tests that need it are labelled "golden".
std::string SharedDataPath(const std::string& relative);

// Reads a file or fails the current test (returns "" then).
std::string ReadFileOrFail(const std::string& path);
// Reads a gzip file into memory (the shared tokenizer.json is stored gzip'd) or fails the test.
std::string ReadGzipOrFail(const std::string& path);

// A fresh empty folder under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes contents to path()/name and returns the full path.
  std::string WriteFile(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

}  // namespace medassist::testing
