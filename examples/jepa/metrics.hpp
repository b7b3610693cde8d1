// metrics.jsonl: one JSON object per line, appended and flushed line by line, so a crash loses at
// most the line being written and every earlier line stays readable. read_metrics() skips an
// unfinished last line for that reason, and rejects malformed lines anywhere else.
// Non-finite numbers (a diverged loss) are written as null, JSON having no NaN.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <jepa/io/file.hpp>
#include <jepa/io/json.hpp>

namespace jepa::tool {

// One line under construction: fields keep the order they were added in.
class MetricsRecord {
 public:
  template <class T>
  requires std::is_arithmetic_v<T> MetricsRecord& add(std::string_view key, T value) {
    if constexpr (std::is_same_v<T, bool>)
      return field(key, value ? "true" : "false");
    else if constexpr (std::is_integral_v<T>)
      return field(key, json::number(static_cast<int64_t>(value)));
    else
      return field(key, json::number(static_cast<double>(value)));
  }
  MetricsRecord& add(std::string_view key, std::string_view text) { return field(key, json::quote(text)); }
  MetricsRecord& add(std::string_view key, const char* text) { return add(key, std::string_view(text)); }

  std::string json() const { return "{" + body_ + "}"; }

 private:
  MetricsRecord& field(std::string_view key, const std::string& value) {
    if (!body_.empty()) body_ += ',';
    body_ += json::quote(key);
    body_ += ':';
    body_ += value;
    return *this;
  }
  std::string body_;
};

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

  void write(const MetricsRecord& record) {
    const std::string line = record.json() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
      fail("MetricsLog", "cannot write to ", path_.string(), ": ", std::strerror(errno));
  }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

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
