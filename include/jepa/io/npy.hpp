// NumPy .npy files: read format versions 1.0, 2.0 and 3.0; write 1.0.
// Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0),
// a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and ended by '\n', then the raw data in C order.
// Supported element types: <f4 (f32), <f8 (f64), <i8 (i64), and |u1 (uint8) read into f32 or i64.
// Every header field is checked, and the data must fill the rest of the file exactly.
// reference: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <jepa/io/atomic_file.hpp>
#include <jepa/io/file.hpp>
#include <jepa/io/text_scanner.hpp>
#include <jepa/jepa.hpp>

namespace jepa {

namespace detail {

inline constexpr char kNpyMagic[] = "\x93NUMPY";
inline constexpr size_t kNpyMagicSize = 6;

// The three header fields, parsed from the dict literal.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A parser for the subset of Python literals numpy writes in headers: a dict with string keys and
// values that are strings, True/False, or tuples of non-negative integers.
class NpyHeaderParser : TextScanner {
 public:
  NpyHeaderParser(std::string_view text, const InputFile& file) : TextScanner(text), file_(file) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!consume('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        check_new(seen_descr, key);
        h.descr = parse_string();
      } else if (key == "fortran_order") {
        check_new(seen_order, key);
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        check_new(seen_shape, key);
        h.shape = parse_shape();
      } else {
        error("unexpected key '", key, "' (expected descr, fortran_order, shape)");
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != s_.size()) error("unexpected text after the header dict");
    if (!seen_descr || !seen_order || !seen_shape)
      error("header lacks the key '", !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape", "'");
    return h;
  }

 private:
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    file_.fail("invalid header at character ", pos_, ": ", args..., " in ", s_);
  }
  void check_new(bool& seen, const std::string& key) {
    if (seen) error("duplicate key '", key, "'");
    seen = true;
  }
  void expect(char c) {
    if (!consume(c)) error("expected '", c, "'");
  }
  std::string parse_string() {
    skip_space();
    if (pos_ == s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) error("expected a quoted string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) error("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    if (out.find('\\') != std::string::npos) error("escapes are not supported in header strings");
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    error("expected True or False");
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    while (!consume(')')) {
      skip_space();
      const size_t start = pos_;
      int64_t d = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, s_[pos_] - '0', &d))
          error("dimension too large");
        ++pos_;
      }
      if (pos_ == start) error("expected a non-negative integer dimension");
      shape.push_back(d);
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const InputFile& file_;
};

}  // namespace detail

// Reads a .npy file. `as` converts the result to that dtype; uint8 files (|u1) need it (f32 or i64).
inline Tensor load_npy(const std::filesystem::path& path, std::optional<DType> as = std::nullopt) {
  InputFile file(path, "load_npy");
  constexpr size_t kPreamble = detail::kNpyMagicSize + 2;  // magic, major, minor
  if (file.size() < kPreamble) file.fail("too small for a .npy file (", file.size(), " bytes)");
  const std::vector<uint8_t> preamble = file.read(0, kPreamble);
  if (std::memcmp(preamble.data(), detail::kNpyMagic, detail::kNpyMagicSize) != 0)
    file.fail("not a .npy file (the magic string \\x93NUMPY is missing)");
  const int major = preamble[6], minor = preamble[7];
  if ((major < 1 || major > 3) || minor != 0)
    file.fail("unsupported .npy format version ", major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  const size_t length_bytes = major == 1 ? 2 : 4;
  if (file.size() < kPreamble + length_bytes) file.fail("truncated: the header length field is cut off");
  const std::vector<uint8_t> length_field = file.read(kPreamble, length_bytes);
  const uint64_t header_length =
      major == 1 ? load_le<uint16_t>(length_field.data()) : load_le<uint32_t>(length_field.data());
  const uint64_t data_offset = kPreamble + length_bytes + header_length;
  if (data_offset > file.size())
    file.fail("truncated: header of ", header_length, " bytes ends past the end of the file (", file.size(), " bytes)");
  const std::vector<uint8_t> header_bytes = file.read(kPreamble + length_bytes, header_length);
  const std::string_view header_text(reinterpret_cast<const char*>(header_bytes.data()), header_bytes.size());
  if (header_text.empty() || header_text.back() != '\n') file.fail("invalid header: it must end with a newline");
  const detail::NpyHeader header = detail::NpyHeaderParser(header_text, file).parse();

  if (header.fortran_order)
    file.fail("fortran_order is True; only C-order arrays are supported (save with np.ascontiguousarray)");
  DType native = DType::f32;
  bool is_u8 = false;
  if (header.descr == "<f4")
    native = DType::f32;
  else if (header.descr == "<f8")
    native = DType::f64;
  else if (header.descr == "<i8")
    native = DType::i64;
  else if (header.descr == "|u1" || header.descr == "<u1")
    is_u8 = true;
  else
    file.fail("unsupported dtype '", header.descr, "' (supported: <f4, <f8, <i8, |u1)");
  if (is_u8 && (!as || (*as != DType::f32 && *as != DType::i64)))
    file.fail("holds uint8 data: pass the dtype to read it as (f32 or i64)");

  const size_t itemsize = is_u8 ? 1 : jepa::itemsize(native);
  int64_t count = 1;
  for (const int64_t d : header.shape)
    if (__builtin_mul_overflow(count, d, &count)) file.fail("shape ", header.shape, " has too many elements");
  uint64_t data_bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(count), itemsize, &data_bytes))
    file.fail("shape ", header.shape, " has too many bytes");
  const uint64_t found = file.size() - data_offset;
  if (found < data_bytes) file.fail("truncated: expected ", data_bytes, " bytes of data, found ", found);
  if (found > data_bytes)
    file.fail("expected ", data_bytes, " bytes of data for shape ", header.shape, ", found ", found, " (",
              found - data_bytes, " trailing bytes)");

  if (is_u8) {
    const std::vector<uint8_t> bytes = file.read(data_offset, data_bytes);
    Tensor out = Tensor::empty(header.shape, *as);
    dispatch_all(*as, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* dst = out.data<T>();
      for (size_t i = 0; i < bytes.size(); ++i) dst[i] = convert<T>(static_cast<int64_t>(bytes[i]));
    });
    return out;
  }
  Tensor out = Tensor::empty(header.shape, native);
  file.read(data_offset, out.raw_data(), data_bytes);
  return as ? out.to(*as) : out;
}

// Writes `t` (f32, f64 or i64, any device and layout) as a version 1.0 .npy file, atomically.
inline void save_npy(const std::filesystem::path& path, const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::f32: descr = "<f4"; break;
    case DType::f64: descr = "<f8"; break;
    case DType::i64: descr = "<i8"; break;
    default: fail("save_npy", path.string(), ": cannot save dtype ", t.dtype(), " (supported: f32, f64, i64)");
  }
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.dim() == 1 ? ",)" : ")";  // Python's one-element tuple
  std::string header = detail::concat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape, ", }");
  // numpy pads so that the data starts at a multiple of 64 bytes, and ends the header with '\n'.
  const size_t unpadded = detail::kNpyMagicSize + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  JEPA_CHECK(header.size() <= 0xffff, "save_npy", path.string(), ": header of ", header.size(),
             " bytes is too long for format 1.0");

  std::string preamble(detail::kNpyMagic, detail::kNpyMagicSize);
  preamble += '\x01';
  preamble += '\x00';
  preamble += static_cast<char>(header.size() & 0xff);
  preamble += static_cast<char>(header.size() >> 8);
  const Tensor data = t.to(Device::cpu()).contiguous();
  AtomicFile file(path, "save_npy");
  file.write(preamble + header);
  file.write(data.raw_data(), static_cast<size_t>(data.numel()) * itemsize(data.dtype()));
  file.commit();
}

}  // namespace jepa
