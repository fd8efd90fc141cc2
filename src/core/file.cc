#include "core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace medassist {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// Closes a file descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

Result<size_t> RegularFileSize(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError(path + ": cannot stat: " + ErrnoText());
  if (S_ISDIR(st.st_mode)) return InvalidArgument(path + ": is a directory, expected a file");
  return static_cast<size_t>(st.st_size);
}

// Opens path read-only: a descriptor, or NotFound / IoError naming the path.
Result<int> OpenForReading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno == ENOENT) return NotFound(path + ": no such file");
  return IoError(path + ": cannot open: " + ErrnoText());
}

}  // namespace

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  ASSIGN_OR_RETURN(int fd, OpenForReading(path));
  FdCloser closer{fd};
  ASSIGN_OR_RETURN(size_t size, RegularFileSize(fd, path));
  if (size > max_bytes) {
    return ResourceExhausted(path + ": file is " + std::to_string(size) +
                             " bytes, over the limit of " + std::to_string(max_bytes));
  }
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, out.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(path + ": read failed: " + ErrnoText());
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Result<MappedFile> MappedFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(int fd, OpenForReading(path));
  FdCloser closer{fd};
  ASSIGN_OR_RETURN(size_t size, RegularFileSize(fd, path));
  MappedFile file;
  file.path_ = path;
  if (size == 0) return file;  // mmap refuses length 0; an empty view is the right answer
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return IoError(path + ": mmap failed: " + ErrnoText());
  file.data_ = static_cast<const uint8_t*>(p);
  file.size_ = size;
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void ReleaseMappedPages(const uint8_t* data, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + n) / page * page;
  // Advice only: a failure leaves the pages resident, which costs memory, not correctness.
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Status CheckNewOutputFolder(const std::string& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(out, ec);
  if (!fs::exists(st)) return Status::Ok();
  if (!fs::is_directory(st)) {
    return InvalidArgument(out + ": exists and is not a folder; choose a new --out");
  }
  if (!fs::is_empty(out, ec) || ec) {
    return InvalidArgument(out + ": the folder is not empty; choose a new --out or empty it");
  }
  return Status::Ok();
}

Status CopyFileInto(const std::string& from, const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  constexpr fs::perms kFileMode = fs::perms::owner_read | fs::perms::owner_write |
                                  fs::perms::group_read | fs::perms::others_read;
  std::error_code ec;
  const std::string to = dir + "/" + name;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::permissions(to, kFileMode, ec);
  if (ec) return IoError(from + ": cannot copy into " + dir + ": " + ec.message());
  return Status::Ok();
}

}  // namespace medassist
