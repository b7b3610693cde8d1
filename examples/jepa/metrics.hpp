// metrics.jsonl: one JSON object per line, appended and flushed line by line, so a crash loses at
// most the line being written and every earlier line stays readable. read_metrics() skips an
// unfinished last line for that reason, and rejects malformed lines anywhere else.
// Lines are json::ObjectWriter objects: a diverged (non-finite) loss is written as null.
// Also the result line each evaluation command ends with, printed and saved beside the run.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <jepa/io/atomic_file.hpp>
#include <jepa/io/file.hpp>
#include <jepa/io/json.hpp>

namespace jepa::tool {

class MetricsLog {
 public:
  // Opens `path` for appending (creating it), so a resumed run continues the same file.
  explicit MetricsLog(std::filesystem::path path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "a");
    if (!file_) fail("MetricsLog", "cannot open ", path_.string(), " for appending: ", std::strerror(errno));
  }
  ~MetricsLog() { std::fclose(file_); }
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const json::ObjectWriter& record) {
    const std::string line = record.str() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
      fail("MetricsLog", "cannot write to ", path_.string(), ": ", std::strerror(errno));
  }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// Ends an evaluation command: `result` goes to `file` (atomically) and to stdout, one line each.
inline void write_result(const std::filesystem::path& file, const json::ObjectWriter& result, const char* op) {
  const std::string line = result.str();
  write_file_atomically(file, line + "\n", op);
  std::cout << line << std::endl;
}

// Every complete line of a metrics.jsonl file, parsed.
inline std::vector<json::Value> read_metrics(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file(path, "read_metrics");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<json::Value> records;
  size_t start = 0;
  for (size_t line = 1; start < text.size(); ++line) {
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;  // unfinished last line: the writer stopped mid-line
    const std::string_view content = text.substr(start, end - start);
    if (!content.empty())
      records.push_back(json::parse(content, "read_metrics", path.string() + " line " + std::to_string(line)));
    start = end + 1;
  }
  return records;
}

}  // namespace jepa::tool
