// Reading files for the parsers (npy, safetensors, IDX, gzip): an input file that knows its size
// and reads exact byte ranges, and unsigned integer fields of either byte order.
// Every failure throws jepa::Error "[op] PATH: what went wrong", so parsers never report a short
// read as garbage values. Tensor data on disk is little-endian; this library assumes a
// little-endian host and says so at compile time.
#pragma once
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <jepa/core/error.hpp>

namespace jepa {

static_assert(std::endian::native == std::endian::little,
              "jepa's file formats store little-endian data and read it without byte swapping");

// An unsigned integer of sizeof(T) bytes stored least (le) or most (be) significant byte first.
template <class T>
T load_le(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}
template <class T>
T load_be(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p[i]);
  return v;
}
template <class T>
void store_le(std::vector<uint8_t>& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

class InputFile {
 public:
  InputFile(std::filesystem::path path, const char* op) : path_(std::move(path)), op_(op) {
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec)) fail("is a directory, not a file");
    file_ = std::fopen(path_.c_str(), "rb");
    if (!file_) fail("cannot open: ", std::strerror(errno));
    const auto size = std::filesystem::file_size(path_, ec);
    if (ec) fail("cannot read its size: ", ec.message());
    size_ = size;
  }
  ~InputFile() {
    if (file_) std::fclose(file_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Reads bytes [offset, offset + n) into dst; the range must lie inside the file.
  void read(uint64_t offset, void* dst, uint64_t n) const {
    if (offset > size_ || n > size_ - offset)
      fail("truncated: expected ", n, " bytes at offset ", offset, ", the file has ", size_, " bytes");
    if (n == 0) return;
    if (fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0) fail("cannot seek: ", std::strerror(errno));
    if (std::fread(dst, 1, n, file_) != n) fail("read error at offset ", offset, ": ", std::strerror(errno));
  }
  std::vector<uint8_t> read(uint64_t offset, uint64_t n) const {
    if (offset > size_ || n > size_ - offset)  // checked before allocating n bytes
      fail("truncated: expected ", n, " bytes at offset ", offset, ", the file has ", size_, " bytes");
    std::vector<uint8_t> bytes(n);
    read(offset, bytes.data(), n);
    return bytes;
  }

  // Throws "[op] PATH: args...".
  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    jepa::fail(op_, path_.string(), ": ", args...);
  }

 private:
  std::filesystem::path path_;
  const char* op_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
};

inline std::vector<uint8_t> read_file(const std::filesystem::path& path, const char* op) {
  InputFile file(path, op);
  return file.read(0, file.size());
}

}  // namespace jepa
