// Atomic file replacement: readers of PATH see either its old contents or the complete new ones,
// never a half-written file, even if the writer crashes or the machine loses power.
// Bytes go to PATH.tmp; commit() flushes them to disk (fsync), renames PATH.tmp over PATH and
// fsyncs the directory so the rename itself is durable. An AtomicFile destroyed without commit()
// (an exception while writing) removes PATH.tmp and leaves PATH untouched.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <jepa/core/error.hpp>

namespace jepa {

class AtomicFile {
 public:
  AtomicFile(std::filesystem::path target, const char* op)
      : target_(std::move(target)), temporary_(target_.string() + ".tmp"), op_(op) {
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_errno("cannot create ", temporary_.string());
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporary_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t written = ::write(fd_, p, n);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) fail_errno("cannot write ", temporary_.string());
      p += written;
      n -= static_cast<size_t>(written);
    }
  }
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  void commit() {
    if (::fsync(fd_) != 0) fail_errno("cannot flush ", temporary_.string(), " to disk");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail_errno("cannot close ", temporary_.string());
    if (::rename(temporary_.c_str(), target_.c_str()) != 0)
      fail_errno("cannot rename ", temporary_.string(), " to ", target_.string());
    committed_ = true;
    const std::filesystem::path parent = target_.parent_path().empty() ? "." : target_.parent_path();
    const int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {  // durability of the rename; the file itself is already complete
      ::fsync(dir);
      ::close(dir);
    }
  }

 private:
  template <class... Args>
  [[noreturn]] void fail_errno(const Args&... args) const {
    const int err = errno;
    fail(op_, args..., ": ", std::strerror(err));
  }

  std::filesystem::path target_, temporary_;
  const char* op_;
  int fd_ = -1;
  bool committed_ = false;
};

// Replaces PATH with `bytes` atomically.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, const char* op) {
  AtomicFile file(path, op);
  file.write(bytes);
  file.commit();
}

}  // namespace jepa
