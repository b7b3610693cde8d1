// A training progress display: step/total with a bar, epoch, named metrics (loss, lr, ...),
// items per second and the time left.
// On a terminal the line is redrawn in place ('\r', then clear to the end of the line) at most
// every `redraw_interval` seconds; anywhere else (CI logs, pipes, files) it prints a plain line
// every `log_interval` seconds, so logs stay short and readable. The last step is always shown.
// Rate and ETA count from the first update, so a resumed run is not credited with earlier steps.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace jepa::tool {

struct ProgressOptions {
  std::string unit = "img";      // what items are, for the rate
  double redraw_interval = 0.1;  // seconds between redraws on a terminal
  double log_interval = 10.0;    // seconds between plain lines elsewhere
};

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;
  using Metrics = std::vector<std::pair<std::string, double>>;
  using Options = ProgressOptions;

  ProgressBar(int64_t total_steps, std::ostream& out, bool terminal, Options options)
      : total_(total_steps), out_(out), terminal_(terminal), options_(std::move(options)) {}
  // Writes to standard output, redrawing in place when it is a terminal.
  explicit ProgressBar(int64_t total_steps, Options options = {})
      : ProgressBar(total_steps, std::cout, ::isatty(STDOUT_FILENO) != 0, std::move(options)) {}

  // Reports that `step` steps of the total are done, `items` items in all (e.g. images).
  void update(int64_t step, int64_t epoch, const Metrics& metrics, int64_t items,
              Clock::time_point now = Clock::now()) {
    if (!started_) {
      started_ = true;
      first_time_ = last_shown_ = now;
      first_step_ = step;
      first_items_ = items;
    }
    const double since_shown = seconds(last_shown_, now);
    const bool last = step >= total_;
    const bool due = terminal_ ? since_shown >= options_.redraw_interval : since_shown >= options_.log_interval;
    if (!due && !last && step != first_step_) return;
    last_shown_ = now;
    const std::string text = line(step, epoch, metrics, items, now);
    if (terminal_) {
      out_ << '\r' << text << "\x1b[K";
      if (last) out_ << '\n';
      drawn_ = !last;
    } else {
      out_ << text << '\n';
    }
    out_.flush();
  }

  // Prints a message on its own line without breaking the progress line on a terminal.
  void message(const std::string& text) {
    if (terminal_ && drawn_) out_ << "\r\x1b[K";
    out_ << text << '\n';
    if (terminal_ && drawn_) out_ << last_line_ << "\x1b[K";
    out_.flush();
  }

 private:
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  static std::string format_duration(double s) {
    if (!std::isfinite(s) || s < 0) return "--:--";
    const auto total = static_cast<int64_t>(s + 0.5);
    char buffer[32];
    if (total >= 3600)
      std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                    static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
    else
      std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld", static_cast<long long>(total / 60),
                    static_cast<long long>(total % 60));
    return buffer;
  }

  std::string line(int64_t step, int64_t epoch, const Metrics& metrics, int64_t items, Clock::time_point now) {
    constexpr int kBarWidth = 24;
    const double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(step) / static_cast<double>(total_)) : 1.0;
    const int filled = static_cast<int>(fraction * kBarWidth);
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), " %3d%%", static_cast<int>(fraction * 100));
    std::string s = "step " + std::to_string(step) + "/" + std::to_string(total_) + " [" + std::string(filled, '#') +
                    std::string(kBarWidth - filled, '.') + "]" + buffer + " | epoch " + std::to_string(epoch);
    for (size_t i = 0; i < metrics.size(); ++i) {
      std::snprintf(buffer, sizeof(buffer), "%.4g", metrics[i].second);
      s += i == 0 ? " | " : " ";
      s += metrics[i].first;
      s += ' ';
      s += buffer;
    }
    const double elapsed = seconds(first_time_, now);
    if (elapsed > 0 && step > first_step_) {
      std::snprintf(buffer, sizeof(buffer), "%.1f", static_cast<double>(items - first_items_) / elapsed);
      const double eta = static_cast<double>(total_ - step) * elapsed / static_cast<double>(step - first_step_);
      s += " | " + std::string(buffer) + " " + options_.unit + "/s | ETA " + format_duration(eta);
    }
    last_line_ = s;
    return s;
  }

  int64_t total_;
  std::ostream& out_;
  bool terminal_;
  Options options_;
  bool started_ = false, drawn_ = false;
  Clock::time_point first_time_, last_shown_;
  int64_t first_step_ = 0, first_items_ = 0;
  std::string last_line_;
};

}  // namespace jepa::tool
