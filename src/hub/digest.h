// Content hashes the Hub names files by (OpenSSL EVP): sha256 for LFS files (the X-Linked-Etag of a
// download, the oid of an LFS upload) and git's blob sha1 for regular files (their ETag), in
// lower-case hex; and base64 for the commit API's inline file contents.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace medassist::hub {

// An incremental hash; Update any number of times, then Finish once.
class Digest {
 public:
  static Digest Sha256();
  static Digest Sha1();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  ~Digest();

  void Update(std::string_view bytes);
  std::string FinishHex();

  struct State;  // the OpenSSL context, kept out of this header

 private:
  explicit Digest(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view bytes);
// git's object id of a blob: sha1("blob <size>\0" + bytes).
std::string GitBlobSha1Hex(std::string_view bytes);

// The sha256 of a whole file, read in 1 MiB pieces (never the whole file in memory).
Result<std::string> Sha256OfFile(const std::string& path);
// Feeds the file's bytes [0, limit) (limit -1: all) to digest: a resumed download's hash starts
// from the part already on disk. DataLoss when the file is shorter than limit.
Status HashFilePrefix(const std::string& path, int64_t limit, Digest& digest);

std::string Base64Encode(std::string_view bytes);
// InvalidArgument on text that is not padded base64.
Result<std::string> Base64Decode(std::string_view text);

// 64 lower-case hex digits.
bool IsSha256Hex(std::string_view s);

}  // namespace medassist::hub
