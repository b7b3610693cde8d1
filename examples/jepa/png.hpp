// RGB images and a small PNG writer with no library behind it, for the tool's plots.
// The pixel data is compressed by a tiny deflate encoder: each row is Sub-filtered (flat colour
// becomes runs of zeros), then greedily matched against the previous pixel and the row above at
// the same column, and written with the fixed Huffman code. Plots, mostly flat colour, shrink
// 30-100x; the encoder makes no attempt to be good on photographs.
// reference: https://www.w3.org/TR/png/ (chunks, filters), https://www.rfc-editor.org/rfc/rfc1950 (zlib),
//            https://www.rfc-editor.org/rfc/rfc1951 (deflate, fixed Huffman code in 3.2.6)
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <jepa/io/atomic_file.hpp>
#include <jepa/io/gzip.hpp>

namespace jepa::tool {

using Rgb = std::array<uint8_t, 3>;

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel

  Image(int w, int h, Rgb background) : width(w), height(h), rgb(static_cast<size_t>(w) * h * 3) {
    for (size_t i = 0; i < rgb.size(); i += 3) std::copy(background.begin(), background.end(), rgb.begin() + i);
  }
  // Pixels outside the image are ignored, so drawing code need not clip.
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::copy(c.begin(), c.end(), rgb.begin() + (static_cast<size_t>(y) * width + x) * 3);
  }
  Rgb get(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
};

namespace detail {

// Writes bits least significant first, as deflate streams are packed.
class BitWriter {
 public:
  void bits(uint32_t value, int count) {
    buffer_ |= static_cast<uint64_t>(value) << count_;
    count_ += count;
    while (count_ >= 8) {
      out_.push_back(static_cast<uint8_t>(buffer_));
      buffer_ >>= 8;
      count_ -= 8;
    }
  }
  // A Huffman code: its bits go most significant first.
  void code(uint32_t code, int length) {
    uint32_t reversed = 0;
    for (int i = 0; i < length; ++i) reversed |= ((code >> i) & 1u) << (length - 1 - i);
    bits(reversed, length);
  }
  std::vector<uint8_t> finish() {
    if (count_ > 0) bits(0, 8 - count_);
    return std::move(out_);
  }

 private:
  std::vector<uint8_t> out_;
  uint64_t buffer_ = 0;
  int count_ = 0;
};

// Literal/length symbol `s` in the fixed Huffman code (RFC 1951 3.2.6).
inline void fixed_litlen(BitWriter& w, int s) {
  if (s < 144)
    w.code(0x30 + s, 8);
  else if (s < 256)
    w.code(0x190 + (s - 144), 9);
  else if (s < 280)
    w.code(s - 256, 7);
  else
    w.code(0xC0 + (s - 280), 8);
}

// One fixed-Huffman deflate block of `data`, with matches at the given candidate distances only.
inline std::vector<uint8_t> deflate_fixed(const std::vector<uint8_t>& data, const std::vector<size_t>& distances) {
  static const jepa::detail::DeflateTables tables;
  constexpr size_t kMinMatch = 3, kMaxMatch = 258;
  BitWriter w;
  w.bits(1, 1);  // final block
  w.bits(1, 2);  // fixed Huffman
  for (size_t i = 0; i < data.size();) {
    size_t best_length = 0, best_distance = 0;
    for (const size_t d : distances) {
      if (d > i || d > 32768) continue;
      size_t n = 0;
      while (n < kMaxMatch && i + n < data.size() && data[i + n] == data[i + n - d]) ++n;
      if (n > best_length) best_length = n, best_distance = d;
    }
    if (best_length < kMinMatch) {
      fixed_litlen(w, data[i++]);
      continue;
    }
    int li = 28;
    while (tables.length_base[li] > best_length) --li;
    fixed_litlen(w, 257 + li);
    w.bits(static_cast<uint32_t>(best_length - tables.length_base[li]), tables.length_extra[li]);
    int di = 29;
    while (tables.distance_base[di] > best_distance) --di;
    w.code(static_cast<uint32_t>(di), 5);
    w.bits(static_cast<uint32_t>(best_distance - tables.distance_base[di]), tables.distance_extra[di]);
    i += best_length;
  }
  fixed_litlen(w, 256);
  return w.finish();
}

inline uint32_t adler32(const std::vector<uint8_t>& data) {
  uint32_t a = 1, b = 0;
  for (const uint8_t byte : data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

inline void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(v >> shift);
}

inline void png_chunk(std::string& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> typed(type, type + 4);
  typed.insert(typed.end(), data.begin(), data.end());
  out.append(typed.begin(), typed.end());
  put_be32(out, crc32(typed));
}

}  // namespace detail

// The bytes of a PNG file (8-bit RGB, no interlace) holding `image`.
inline std::string encode_png(const Image& image) {
  const size_t stride = static_cast<size_t>(image.width) * 3;
  std::vector<uint8_t> filtered;  // each row: filter type 1 (Sub), then byte - byte one pixel left
  filtered.reserve((stride + 1) * image.height);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* row = image.rgb.data() + y * stride;
    filtered.push_back(1);
    for (size_t i = 0; i < stride; ++i) filtered.push_back(static_cast<uint8_t>(row[i] - (i >= 3 ? row[i - 3] : 0)));
  }
  std::vector<uint8_t> zlib = {0x78, 0x01};  // deflate, 32 KiB window, no dictionary
  const std::vector<uint8_t> deflated = detail::deflate_fixed(filtered, {1, 3, stride + 1});
  zlib.insert(zlib.end(), deflated.begin(), deflated.end());
  const uint32_t adler = detail::adler32(filtered);
  for (int shift = 24; shift >= 0; shift -= 8) zlib.push_back(static_cast<uint8_t>(adler >> shift));

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  detail::put_be32(header, static_cast<uint32_t>(image.width));
  detail::put_be32(header, static_cast<uint32_t>(image.height));
  header += std::string{8, 2, 0, 0, 0};  // bit depth 8, colour type RGB, deflate, adaptive filters, no interlace
  detail::png_chunk(png, "IHDR", std::vector<uint8_t>(header.begin(), header.end()));
  detail::png_chunk(png, "IDAT", zlib);
  detail::png_chunk(png, "IEND", {});
  return png;
}

inline void write_png(const std::filesystem::path& path, const Image& image) {
  write_file_atomically(path, encode_png(image), "write_png");
}

}  // namespace jepa::tool
