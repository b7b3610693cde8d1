// Line plots as PNG files, for loss curves: axes with "nice" tick values (1, 2, 5 x 10^k),
// gridlines, tick labels, axis labels, a title, a legend, and an optional logarithmic y axis.
// Non-finite points (and non-positive ones on a log axis) break a curve instead of bending it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "font.hpp"
#include "png.hpp"

namespace jepa::tool {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct PlotOptions {
  std::string title;
  std::string x_label = "step";
  std::string y_label;
  bool log_y = false;
  int width = 960, height = 600;
};

namespace detail {

inline constexpr Rgb kWhite = {255, 255, 255}, kBlack = {0, 0, 0}, kGrid = {225, 225, 225}, kText = {40, 40, 40};
inline constexpr std::array<Rgb, 6> kPalette = {
    {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}}};

inline int text_width(const std::string& s, int scale) {
  return static_cast<int>(s.size()) * (kGlyphWidth + 1) * scale - scale;
}

// Draws `s` with its top-left corner at (x, y); `vertical` turns it 90 degrees to read bottom-up,
// with (x, y) then its bottom-left corner.
inline void draw_text(Image& image, int x, int y, const std::string& s, int scale, Rgb color, bool vertical = false) {
  for (size_t i = 0; i < s.size(); ++i) {
    const int origin = static_cast<int>(i) * (kGlyphWidth + 1) * scale;
    for (int row = 0; row < kGlyphHeight + kGlyphDescent; ++row)
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!glyph_ink(s[i], col, row)) continue;
        for (int dy = 0; dy < scale; ++dy)
          for (int dx = 0; dx < scale; ++dx) {
            const int u = origin + col * scale + dx, v = row * scale + dy;  // along and across the text
            if (vertical)
              image.set(x + v, y - u, color);
            else
              image.set(x + u, y + v, color);
          }
      }
  }
}

// A 2-pixel-wide line from (x0, y0) to (x1, y1) (Bresenham, stamping 2x2 squares).
inline void draw_line(Image& image, int x0, int y0, int x1, int y1, Rgb color) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int error = dx + dy;
  while (true) {
    fill_rect(image, x0, y0, x0 + 1, y0 + 1, color);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * error;
    if (e2 >= dy) error += dy, x0 += sx;
    if (e2 <= dx) error += dx, y0 += sy;
  }
}

// Tick values covering [lo, hi]: multiples of 1, 2 or 5 x 10^k, about `target` of them.
inline std::vector<double> linear_ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

// Ticks for a log axis over [lo, hi] (both > 0): powers of ten, or 1-2-5 steps when that gives
// too few, or linear ticks inside a single decade.
inline std::vector<double> log_ticks(double lo, double hi) {
  for (const std::vector<double>& mantissas : {std::vector<double>{1}, std::vector<double>{1, 2, 5}}) {
    std::vector<double> ticks;
    for (double decade = std::pow(10.0, std::floor(std::log10(lo))); decade <= hi; decade *= 10)
      for (const double m : mantissas)
        if (m * decade >= lo * (1 - 1e-9) && m * decade <= hi * (1 + 1e-9)) ticks.push_back(m * decade);
    if (ticks.size() >= 3) return ticks;
  }
  return linear_ticks(lo, hi, 5);
}

inline std::string tick_label(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", v);
  return buffer;
}

}  // namespace detail

inline Image render_line_plot(const std::vector<Series>& series, const PlotOptions& options) {
  using namespace detail;
  Image image(options.width, options.height, kWhite);
  const int left = 110, right = options.width - 40, top = 60, bottom = options.height - 70;
  auto usable = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!options.log_y || y > 0); };

  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.x[i], s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        const double y = options.log_y ? std::log10(s.y[i]) : s.y[i];
        y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
      }
  if (!(x_lo <= x_hi)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // nothing to draw: an empty frame
  if (x_hi - x_lo < 1e-12) x_lo -= 0.5, x_hi += 0.5;
  if (y_hi - y_lo < 1e-12) y_lo -= 0.5, y_hi += 0.5;
  const double y_pad = 0.04 * (y_hi - y_lo);  // keep curves off the frame
  y_lo -= y_pad, y_hi += y_pad;
  auto px = [&](double x) { return left + static_cast<int>(std::lround((x - x_lo) / (x_hi - x_lo) * (right - left))); };
  auto py = [&](double y) {  // y already in axis units (log10 on a log axis)
    return bottom - static_cast<int>(std::lround((y - y_lo) / (y_hi - y_lo) * (bottom - top)));
  };

  const int scale = 2, glyph_h = kGlyphHeight * scale;
  for (const double t : linear_ticks(x_lo, x_hi, 8)) {
    const int x = px(t);
    fill_rect(image, x, top, x, bottom, kGrid);
    fill_rect(image, x, bottom, x, bottom + 5, kBlack);
    const std::string label = tick_label(t);
    draw_text(image, x - text_width(label, scale) / 2, bottom + 10, label, scale, kText);
  }
  const std::vector<double> y_ticks =
      options.log_y ? log_ticks(std::pow(10.0, y_lo), std::pow(10.0, y_hi)) : linear_ticks(y_lo, y_hi, 6);
  for (const double t : y_ticks) {
    const int y = py(options.log_y ? std::log10(t) : t);
    fill_rect(image, left, y, right, y, kGrid);
    fill_rect(image, left - 5, y, left, y, kBlack);
    const std::string label = tick_label(t);
    draw_text(image, left - 10 - text_width(label, scale), y - glyph_h / 2, label, scale, kText);
  }
  for (const auto& [x0, y0, x1, y1] : {std::array{left, top, right, top}, std::array{left, bottom, right, bottom},
                                       std::array{left, top, left, bottom}, std::array{right, top, right, bottom}})
    fill_rect(image, x0, y0, x1, y1, kBlack);

  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    bool pen_down = false;
    int last_x = 0, last_y = 0;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        pen_down = false;
        continue;
      }
      const int x = px(s.x[i]), y = py(options.log_y ? std::log10(s.y[i]) : s.y[i]);
      if (pen_down)
        draw_line(image, last_x, last_y, x, y, kPalette[k % kPalette.size()]);
      else
        fill_rect(image, x, y, x + 1, y + 1, kPalette[k % kPalette.size()]);
      pen_down = true;
      last_x = x, last_y = y;
    }
  }

  // Legend in the top-right corner of the plot area, one row per named series.
  int legend_y = top + 10;
  for (size_t k = 0; k < series.size(); ++k) {
    if (series[k].name.empty()) continue;
    const int w = text_width(series[k].name, scale);
    fill_rect(image, right - w - 44, legend_y - 3, right - 8, legend_y + glyph_h + 2, kWhite);
    fill_rect(image, right - w - 38, legend_y + glyph_h / 2 - 1, right - w - 18, legend_y + glyph_h / 2 + 1,
              kPalette[k % kPalette.size()]);
    draw_text(image, right - w - 12, legend_y, series[k].name, scale, kText);
    legend_y += glyph_h + 8;
  }

  const int title_scale = text_width(options.title, 3) <= options.width - 20 ? 3 : 2;  // long titles: smaller
  draw_text(image, (options.width - text_width(options.title, title_scale)) / 2, 16, options.title, title_scale,
            kBlack);
  draw_text(image, (left + right - text_width(options.x_label, scale)) / 2, options.height - 32, options.x_label, scale,
            kText);
  const std::string y_label = options.log_y && !options.y_label.empty() ? options.y_label + " (log)" : options.y_label;
  draw_text(image, 14, (top + bottom + text_width(y_label, scale)) / 2, y_label, scale, kText, true);
  return image;
}

inline void write_line_plot(const std::filesystem::path& path, const std::vector<Series>& series,
                            const PlotOptions& options) {
  write_png(path, render_line_plot(series, options));
}

}  // namespace jepa::tool
