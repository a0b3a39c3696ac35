// Errors: every bad argument that reaches the core becomes an exception with a message that names
// the argument and the shapes involved. The Python bindings map ValueError -> ValueError and
// TypeError -> TypeError; nothing reachable from Python may abort the process.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pocketcnn {

// A bad value or shape (Python ValueError).
class ValueError : public std::invalid_argument {
 public:
  explicit ValueError(const std::string& msg) : std::invalid_argument(msg) {}
};

// A bad type, e.g. a missing tensor where one is required (Python TypeError).
class TypeError : public std::invalid_argument {
 public:
  explicit TypeError(const std::string& msg) : std::invalid_argument(msg) {}
};

// An operation that is invalid in the current state, e.g. backward through a freed graph
// (Python RuntimeError).
class StateError : public std::runtime_error {
 public:
  explicit StateError(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<< into a string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

}  // namespace pocketcnn

// PCNN_CHECK(cond, "conv2d: input must be 4-D, got ", shape_str(s)) throws ValueError.
#define PCNN_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) throw ::pocketcnn::ValueError(::pocketcnn::str_cat(__VA_ARGS__)); \
  } while (0)

#define PCNN_CHECK_TYPE(cond, ...)                                                \
  do {                                                                            \
    if (!(cond)) throw ::pocketcnn::TypeError(::pocketcnn::str_cat(__VA_ARGS__)); \
  } while (0)
