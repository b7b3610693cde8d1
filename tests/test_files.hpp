// Helpers for tests that read and write files: reference data paths, a per-process scratch
// folder, byte-level edits used to make corrupt variants of good files, and gzip compression.
#pragma once
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <jepa/core/error.hpp>

namespace jepa::test {

using Bytes = std::vector<uint8_t>;

inline std::string data_path(const std::string& relative) { return std::string(JEPA_TEST_DATA_DIR) + "/" + relative; }

// A scratch folder for this test process, removed when the process ends.
inline std::string temp_dir() {
  struct Scratch {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("jepa-tests-" + std::to_string(::getpid()));
    Scratch() { std::filesystem::create_directories(path); }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Scratch scratch;
  return scratch.path.string();
}
inline std::string temp_path(const std::string& name) { return temp_dir() + "/" + name; }

inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test: cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
inline void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline Bytes slice(const Bytes& b, size_t begin, size_t end) { return Bytes(b.begin() + begin, b.begin() + end); }

// `b` with the first occurrence of `from` replaced by `to` of the same length (so offsets stay valid).
inline Bytes replaced(const Bytes& b, std::string_view from, std::string_view to) {
  if (from.size() != to.size()) throw std::logic_error("test: replaced() keeps lengths equal");
  const std::string text(b.begin(), b.end());
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("test: pattern not found: " + std::string(from));
  Bytes out = b;
  std::copy(to.begin(), to.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
  return out;
}

// `data` compressed by zlib as one gzip member.
inline Bytes gzip_bytes(const Bytes& data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("test: deflateInit2 failed");
  Bytes out(deflateBound(&stream, data.size()));
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("test: deflate did not finish");
  return out;
}

// The message of the jepa::Error that `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace jepa::test
