// RGB images and PNG files of them through libpng (its simplified API), for the tool's plots and
// the examples' pictures. A file is encoded in memory, then written atomically, so a crash never
// leaves half a picture in place of the last good one.
// reference: http://www.libpng.org/pub/png/libpng-manual.txt ("Simplified API")
#pragma once
#include <png.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <jepa/core/error.hpp>
#include <jepa/io/atomic_file.hpp>

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

// The rectangle with corners (x0, y0) and (x1, y1), both inclusive.
inline void fill_rect(Image& image, int x0, int y0, int x1, int y1, Rgb color) {
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) image.set(x, y, color);
}

// The bytes of a PNG file (8-bit RGB) holding `image`; `what` names it in error messages.
inline std::string encode_png(const Image& image, const std::string& what) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  // On failure libpng frees its state itself and leaves the reason in png.message.
  png_alloc_size_t size = 0;
  if (!png_image_write_get_memory_size(png, size, 0, image.rgb.data(), 0, nullptr))
    fail("write_png", what, ": libpng: ", png.message);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, image.rgb.data(), 0, nullptr))
    fail("write_png", what, ": libpng: ", png.message);
  bytes.resize(size);
  return bytes;
}

inline void write_png(const std::filesystem::path& path, const Image& image) {
  write_file_atomically(path, encode_png(image, path.string()), "write_png");
}

}  // namespace jepa::tool
