// Status and Result<T>: how everything a user or a file can get wrong travels up the layers.
// Bugs and broken invariants use CHECK (check.h) instead.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/check.h"

namespace medassist {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong (bad text, bad flag value)
  kNotFound,           // a file, key or token that should exist does not
  kDataLoss,           // a file is malformed, truncated or inconsistent
  kUnimplemented,      // valid input that this build does not support (yet)
  kResourceExhausted,  // too big: a limit was hit before anything was allocated
  kIoError,            // the operating system refused (open, read, mmap)
  kUnavailable,        // a service we depend on is down, loading or overloaded: retry later
  kDeadlineExceeded,   // a service we depend on did not answer in time
  kUpstreamError,      // a service we depend on answered with an error or something malformed
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "DATA_LOSS: vocab.json: ..." for logs and CLI output.
  std::string ToString() const;
  // Returns a copy whose message is "context: message" (used to name the file or step).
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Shorthands that read well at the call site: return InvalidArgument("...").
inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status UpstreamError(std::string m) { return {StatusCode::kUpstreamError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    CHECK(!std::get<Status>(data_).ok()) << "Result built from an OK Status";
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & {
    CHECK(ok()) << status().ToString();
    return std::get<T>(data_);
  }
  const T& value() const& {
    CHECK(ok()) << status().ToString();
    return std::get<T>(data_);
  }
  T&& value() && {
    CHECK(ok()) << status().ToString();
    return std::get<T>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace medassist

#define MEDASSIST_CONCAT_INNER(a, b) a##b
#define MEDASSIST_CONCAT(a, b) MEDASSIST_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): returns the Status of expr from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::medassist::Status medassist_status_ = (expr);        \
    if (!medassist_status_.ok()) return medassist_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): lhs = value of the Result expr, or return its Status. lhs may be a
// declaration ("auto x"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(MEDASSIST_CONCAT(medassist_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
