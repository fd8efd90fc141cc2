// CHECK (always on) and DCHECK (debug builds only; the only kind allowed in hot loops) for bugs and
// broken invariants. A failed check prints the condition, the place and any streamed message, then
// aborts. What a user or a file can get wrong returns a Status instead (status.h).
#pragma once

#include <sstream>

namespace medassist::internal {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Makes `CHECK(x) << "msg"` a void expression usable in the ternary below.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace medassist::internal

// LibTorch's c10 logging defines CHECK and DCHECK too: in train/, which includes the torch headers
// first, ours replace theirs.
#undef CHECK
#undef DCHECK

// Not parenthesised on purpose: CHECK(x) << "message" must stream into the failure object.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CHECK(condition)                           \
  (condition) ? (void)0                            \
              : ::medassist::internal::Voidify() & \
                    ::medassist::internal::CheckFailure(#condition, __FILE__, __LINE__)

// NOLINTEND(bugprone-macro-parentheses)

#ifdef NDEBUG
#define DCHECK(condition) \
  while (false) CHECK(condition)
#else
#define DCHECK(condition) CHECK(condition)
#endif
