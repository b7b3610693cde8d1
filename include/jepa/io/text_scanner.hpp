// A cursor over a text for small hand-written parsers (the JSON parser, the .npy header parser):
// whitespace skipping and single-character matching. Derived parsers read s_ and move pos_.
#pragma once
#include <cstddef>
#include <string_view>

namespace jepa::detail {

class TextScanner {
 protected:
  explicit TextScanner(std::string_view text) : s_(text) {}

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  // Skips whitespace, then consumes `c` if it is next.
  bool consume(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace jepa::detail
