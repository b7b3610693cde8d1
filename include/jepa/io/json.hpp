// A small JSON reader and the one writer of every JSON object the library and its programs emit
// (safetensors headers, metrics lines, result lines), ObjectWriter.
// Reading is strict RFC 8259: no comments, no trailing commas, no NaN. Objects keep their members
// in file order and reject duplicate keys. Numbers keep their source text, so integers are read
// exactly (int64) instead of through a double. Nesting is limited to kMaxDepth so hostile input
// cannot overflow the stack.
// Writing escapes every string, prints floating-point numbers as the shortest text that reads back
// exactly and non-finite ones as null (JSON has no NaN), and keeps members in the order added.
#pragma once
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <jepa/core/error.hpp>
#include <jepa/io/text_scanner.hpp>

namespace jepa::json {

struct Value {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;  // a string's contents, or a number's source text
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> members;

  // The destructor is defined after the class: clang (15, with libstdc++ 12) otherwise checks
  // std::pair<std::string, Value> while defining Value's implicit destructor, and rejects the
  // recursion. Declaring it means declaring the other special members too.
  Value() = default;
  Value(const Value&) = default;
  Value(Value&&) noexcept = default;
  Value& operator=(const Value&) = default;
  Value& operator=(Value&&) noexcept = default;
  ~Value();

  bool is_object() const { return kind == Kind::object; }
  bool is_array() const { return kind == Kind::array; }
  bool is_string() const { return kind == Kind::string; }

  const Value* find(std::string_view key) const {
    for (const auto& [k, v] : members)
      if (k == key) return &v;
    return nullptr;
  }
  // The value of an integer literal (no fraction, no exponent) that fits int64.
  std::optional<int64_t> as_int64() const {
    if (kind != Kind::number) return std::nullopt;
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
  }
  double as_double() const {
    double v = 0;
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
  }
};

inline Value::~Value() = default;

inline const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return "a boolean";
    case Value::Kind::number: return "a number";
    case Value::Kind::string: return "a string";
    case Value::Kind::array: return "an array";
    case Value::Kind::object: return "an object";
  }
  return "?";
}

namespace detail {

// The two-character escapes of JSON strings: the letter after the backslash and the character.
inline constexpr std::array<std::pair<char, char>, 8> kEscapes = {
    {{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', '\b'}, {'f', '\f'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}}};

class Parser : jepa::detail::TextScanner {
 public:
  static constexpr int kMaxDepth = 64;

  Parser(std::string_view text, const char* op, std::string_view context)
      : TextScanner(text), op_(op), context_(context) {}

  Value parse_document() {
    Value v = parse_value(0);
    skip_space();
    if (pos_ != s_.size()) error("unexpected '", s_[pos_], "' after the JSON value");
    return v;
  }

 private:
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail(op_, context_, ": invalid JSON at byte ", pos_, ": ", args...);
  }

  void expect(char c) {
    if (!consume(c)) {
      if (pos_ == s_.size()) error("expected '", c, "', found the end of the text");
      error("expected '", c, "', found '", s_[pos_], "'");
    }
  }
  void expect_word(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) error("expected '", word, "'");
    pos_ += word.size();
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting deeper than ", kMaxDepth, " levels");
    skip_space();
    if (pos_ == s_.size()) error("expected a value, found the end of the text");
    Value v;
    const char c = s_[pos_];
    if (c == '{') {
      v.kind = Value::Kind::object;
      ++pos_;
      if (consume('}')) return v;
      std::unordered_set<std::string> keys;  // not v.find(): linear per key is quadratic on big objects
      do {
        skip_space();
        if (pos_ == s_.size() || s_[pos_] != '"') error("expected a string key");
        std::string key = parse_string();
        if (!keys.insert(key).second) error("duplicate key \"", key, "\"");
        expect(':');
        v.members.emplace_back(std::move(key), parse_value(depth + 1));
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      v.kind = Value::Kind::array;
      ++pos_;
      if (consume(']')) return v;
      do v.items.push_back(parse_value(depth + 1));
      while (consume(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Value::Kind::string;
      v.text = parse_string();
    } else if (c == 't' || c == 'f') {
      v.kind = Value::Kind::boolean;
      v.boolean = c == 't';
      expect_word(v.boolean ? "true" : "false");
    } else if (c == 'n') {
      expect_word("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Value::Kind::number;
      v.text = parse_number();
    } else {
      error("unexpected '", c, "'");
    }
    return v;
  }

  bool digit_at(size_t i) const { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; }

  std::string parse_number() {
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (!digit_at(pos_)) error("a number needs digits");
    if (s_[pos_] == '0' && digit_at(pos_ + 1)) error("numbers may not have leading zeros");
    while (digit_at(pos_)) ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digit_at(pos_)) error("a fraction needs digits");
      while (digit_at(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit_at(pos_)) error("an exponent needs digits");
      while (digit_at(pos_)) ++pos_;
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<uint32_t>(h - 'A' + 10);
      else
        error("invalid hex digit '", h, "' in a \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ == s_.size()) error("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ == s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      if (e != 'u') {
        const auto* escape =
            std::find_if(kEscapes.begin(), kEscapes.end(), [&](const auto& p) { return p.first == e; });
        if (escape == kEscapes.end()) error("invalid escape '\\", e, "'");
        out += escape->second;
        continue;
      }
      uint32_t cp = parse_hex4();
      if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: a low one must follow
        if (s_.substr(pos_, 2) != "\\u") error("unpaired surrogate in a \\u escape");
        pos_ += 2;
        const uint32_t low = parse_hex4();
        if (low < 0xDC00 || low >= 0xE000) error("unpaired surrogate in a \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else if (cp >= 0xDC00 && cp < 0xE000) {
        error("unpaired surrogate in a \\u escape");
      }
      append_utf8(out, cp);
    }
  }

  const char* op_;
  std::string_view context_;
};

}  // namespace detail

// Parses a whole JSON text; errors read "[op] context: invalid JSON at byte N: reason".
inline Value parse(std::string_view text, const char* op, std::string_view context) {
  return detail::Parser(text, op, context).parse_document();
}

// `s` as a JSON string literal, quotes included.
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto* escape = std::find_if(detail::kEscapes.begin(), detail::kEscapes.end(),
                                      [&](const auto& p) { return p.second == c && p.first != '/'; });  // '/' may stay
    if (escape != detail::kEscapes.end()) {
      out += '\\';
      out += escape->first;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xF];
      out += kHex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + '"';
}

// The shortest text that reads back as exactly `v` (as a float for a float); JSON has no NaN or
// infinity, so those are null.
template <std::floating_point T>
std::string number(T v) {
  if (!std::isfinite(v)) return "null";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, result.ptr);
}
inline std::string number(int64_t v) { return std::to_string(v); }

// One JSON object under construction, printed on one line by str().
class ObjectWriter {
 public:
  template <class T>
  requires std::is_arithmetic_v<T> ObjectWriter& add(std::string_view key, T value) {
    if constexpr (std::is_same_v<T, bool>)
      return member(key, value ? "true" : "false");
    else if constexpr (std::is_integral_v<T>)
      return member(key, std::to_string(value));  // exact for uint64 too
    else
      return member(key, number(value));
  }
  ObjectWriter& add(std::string_view key, std::string_view text) { return member(key, quote(text)); }
  ObjectWriter& add(std::string_view key, const char* text) { return add(key, std::string_view(text)); }
  ObjectWriter& add(std::string_view key, std::nullptr_t) { return member(key, "null"); }
  ObjectWriter& add(std::string_view key, const ObjectWriter& object) { return member(key, object.str()); }
  ObjectWriter& add(std::string_view key, std::span<const int64_t> integers) {
    std::string array = "[";
    for (size_t i = 0; i < integers.size(); ++i) {
      if (i > 0) array += ',';
      array += std::to_string(integers[i]);
    }
    array += ']';
    return member(key, array);
  }

  std::string str() const { return "{" + body_ + "}"; }

 private:
  ObjectWriter& member(std::string_view key, std::string_view value) {
    if (!body_.empty()) body_ += ',';
    body_ += quote(key);
    body_ += ':';
    body_ += value;
    return *this;
  }
  std::string body_;
};

}  // namespace jepa::json
