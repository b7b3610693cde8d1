// gzip files through zlib: one or more members in a row (as `cat a.gz b.gz` makes), each checked
// by zlib against its CRC-32 and length. Corrupt, truncated or trailing input throws jepa::Error
// "[gunzip] NAME: what is wrong", NAME being the file (or what the caller calls the input).
// reference: https://www.zlib.net/manual.html (inflateInit2: windowBits 16 + 15 reads gzip)
#pragma once
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include <jepa/core/error.hpp>
#include <jepa/io/file.hpp>

namespace jepa {

inline bool is_gzip(std::span<const uint8_t> data) { return data.size() >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

namespace detail {

// A zlib inflate stream that ends itself, however decoding stops.
class GzipInflater {
 public:
  explicit GzipInflater(std::string_view what) : what_(what) {
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) fail("gunzip", what_, ": zlib cannot start: out of memory");
  }
  ~GzipInflater() { inflateEnd(&stream_); }
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  std::vector<uint8_t> run(std::span<const uint8_t> in) {
    std::vector<uint8_t> out;
    // A member's last four bytes are its length mod 2^32; deflate expands at most 1032-fold.
    const size_t hint = in.size() >= 4 ? load_le<uint32_t>(in.data() + in.size() - 4) : 0;
    out.resize(std::max<size_t>(std::min(hint, in.size() * 1032), 4096));
    size_t consumed = 0, produced = 0;
    while (true) {
      if (produced == out.size()) out.resize(out.size() * 2);
      // zlib counts in uInt and never writes through next_in, which its API leaves non-const.
      stream_.next_in = const_cast<Bytef*>(in.data() + consumed);
      stream_.avail_in = static_cast<uInt>(std::min<size_t>(in.size() - consumed, UINT_MAX));
      stream_.next_out = out.data() + produced;
      stream_.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT_MAX));
      const uInt given_in = stream_.avail_in, given_out = stream_.avail_out;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      consumed += given_in - stream_.avail_in;
      produced += given_out - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        if (consumed == in.size()) break;
        if (!is_gzip(in.subspan(consumed)))
          error(in.size() - consumed, " trailing bytes after the gzip member that ends at byte ", consumed,
                " are not another member");
        inflateReset(&stream_);
      } else if (rc == Z_DATA_ERROR) {
        error("corrupt gzip data near compressed byte ", consumed, ": ", stream_.msg ? stream_.msg : "invalid data");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error("zlib failed: ", stream_.msg ? stream_.msg : zError(rc));
      } else if (consumed == in.size() && produced < out.size()) {  // zlib wants input there is no more of
        error("truncated: the data ends inside a gzip member (", in.size(), " bytes read)");
      }
    }
    out.resize(produced);
    return out;
  }

 private:
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail("gunzip", what_, ": ", args...);
  }

  z_stream stream_{};
  std::string_view what_;
};

}  // namespace detail

// Decompresses gzip data; `what` names the input in error messages.
inline std::vector<uint8_t> gunzip(std::span<const uint8_t> in, std::string_view what) {
  if (!is_gzip(in)) fail("gunzip", what, ": not gzip data (it does not start with the bytes 1f 8b)");
  return detail::GzipInflater(what).run(in);
}

// Reads a file, decompressing it when it is gzip (by its magic bytes, not its name).
inline std::vector<uint8_t> read_maybe_gzipped(const std::filesystem::path& path, const char* op) {
  std::vector<uint8_t> bytes = read_file(path, op);
  return is_gzip(bytes) ? gunzip(bytes, path.string()) : bytes;
}

}  // namespace jepa
