#include "hub/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/check.h"

namespace medassist::hub {

struct Digest::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

namespace {

std::unique_ptr<Digest::State> NewState(const EVP_MD* md) {
  auto s = std::make_unique<Digest::State>();
  s->ctx = EVP_MD_CTX_new();
  CHECK(s->ctx != nullptr && EVP_DigestInit_ex(s->ctx, md, nullptr) == 1) << "EVP init failed";
  return s;
}

}  // namespace

Digest::Digest(std::unique_ptr<State> state) : state_(std::move(state)) {}
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;
Digest::~Digest() = default;

Digest Digest::Sha256() { return Digest(NewState(EVP_sha256())); }
Digest Digest::Sha1() { return Digest(NewState(EVP_sha1())); }

void Digest::Update(std::string_view bytes) {
  CHECK(EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) == 1);
}

std::string Digest::FinishHex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  CHECK(EVP_DigestFinal_ex(state_->ctx, md, &n) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  Digest d = Digest::Sha256();
  d.Update(bytes);
  return d.FinishHex();
}

std::string GitBlobSha1Hex(std::string_view bytes) {
  Digest d = Digest::Sha1();
  const std::string header = "blob " + std::to_string(bytes.size());
  d.Update(std::string_view(header.c_str(), header.size() + 1));  // with its '\0'
  d.Update(bytes);
  return d.FinishHex();
}

Status HashFilePrefix(const std::string& path, int64_t limit, Digest& digest) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError("cannot open " + path);
  std::vector<char> buf(1 << 20);
  int64_t left = limit;
  while (limit < 0 || left > 0) {
    size_t want = limit < 0 ? buf.size() : static_cast<size_t>(std::min<int64_t>(left, buf.size()));
    size_t got = std::fread(buf.data(), 1, want, f);
    digest.Update(std::string_view(buf.data(), got));
    left -= static_cast<int64_t>(got);
    if (got < want) break;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IoError("cannot read " + path);
  if (limit >= 0 && left > 0) return DataLoss(path + ": shorter than expected");
  return Status::Ok();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  Digest d = Digest::Sha256();
  RETURN_IF_ERROR(HashFilePrefix(path, -1, d));
  return d.FinishHex();
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgument("base64 text length is not a multiple of 4");
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return InvalidArgument("invalid base64");
  // EVP_DecodeBlock counts the '=' padding as zero bytes.
  size_t pad = 0;
  if (text.ends_with("==")) {
    pad = 2;
  } else if (text.ends_with('=')) {
    pad = 1;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace medassist::hub
