// jepa::Error and the helpers that build its messages.
// Every user mistake (shapes, dtypes, devices, dims, files) throws jepa::Error whose message starts
// with "[op] " and names the values involved; internal invariants use assert instead.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace jepa {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws jepa::Error("[op] " + args...).
template <class... Args>
[[noreturn]] void fail(const char* op, const Args&... args) {
  throw Error(detail::concat("[", op, "] ", args...));
}

}  // namespace jepa

// Checks a user-facing precondition; on failure throws jepa::Error naming the op.
#define JEPA_CHECK(cond, op, ...)                 \
  do {                                            \
    if (!(cond)) ::jepa::fail(op, __VA_ARGS__);   \
  } while (0)
