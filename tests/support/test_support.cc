#include "support/test_support.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace medassist::testing {

std::string SharedDataPath(const std::string& relative) {
  return std::string(MEDASSIST_SHARED_DATA_DIR) + "/" + relative;
}

std::string ReadFileOrFail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read test file " << path;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadGzipOrFail(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    ADD_FAILURE() << "cannot open gzip test file " << path;
    return "";
  }
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) ADD_FAILURE() << "gzip read error in " << path;
  gzclose(f);
  return out;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "medassist-test-XXXXXX").string();
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::WriteFile(const std::string& name, const std::string& contents) const {
  std::string full = path_ + "/" + name;
  std::ofstream out(full, std::ios::binary);
  out << contents;
  if (!out) ADD_FAILURE() << "cannot write " << full;
  return full;
}

}  // namespace medassist::testing
