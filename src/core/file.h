// Reading files: whole small files into memory, large ones memory-mapped read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace medassist {

// Reads a whole file. Refuses files larger than max_bytes before allocating anything.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = size_t{1} << 30);

bool FileExists(const std::string& path);

// OK when out can become a new output folder: it does not exist, or it is an empty folder
// (InvalidArgument otherwise, naming --out, the flag every writer of a folder takes).
Status CheckNewOutputFolder(const std::string& out);

// Copies from to dir/name as rw-r--r-- (a copy keeps its source's mode, and shared test data and
// Hub snapshots are read-only). IoError naming the file.
Status CopyFileInto(const std::string& from, const std::string& dir, const std::string& name);

// A read-only memory map of a whole file. Move-only; unmaps on destruction.
class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Drops the pages wholly inside [data, data + n) from this process's resident memory. Only for
// bytes of a MappedFile (a read-only file mapping): they stay readable and are read back from the
// file if touched again (on anonymous memory they would read back as zeros). Called once a mapped
// tensor has been converted into an owned copy, so that source and copy are not both resident.
void ReleaseMappedPages(const uint8_t* data, size_t n);

}  // namespace medassist
