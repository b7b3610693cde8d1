// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed, and the Fashion-MNIST
// loader built on them.
// IDX layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
// 0x0D float32, 0x0E float64), the number of dims, each dim as a big-endian uint32, then the
// elements big-endian in C order. The element count must fill the rest of the file exactly.
// reference: http://yann.lecun.com/exdb/mnist/ (bottom of the page), https://github.com/zalandoresearch/fashion-mnist
#pragma once
#include <array>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <jepa/io/gzip.hpp>
#include <jepa/jepa.hpp>

namespace jepa {

namespace detail {

struct IdxType {
  uint8_t code;
  const char* name;
  size_t size;
};
inline constexpr std::array<IdxType, 6> kIdxTypes = {{{0x08, "uint8", 1},
                                                      {0x09, "int8", 1},
                                                      {0x0B, "int16", 2},
                                                      {0x0C, "int32", 4},
                                                      {0x0D, "float32", 4},
                                                      {0x0E, "float64", 8}}};

// The big-endian element at `p` of an IDX type, as a double (exact for every IDX type).
inline double idx_element(const uint8_t* p, uint8_t code) {
  switch (code) {
    case 0x08: return p[0];
    case 0x09: return static_cast<int8_t>(p[0]);
    case 0x0B: return static_cast<int16_t>(load_be<uint16_t>(p));
    case 0x0C: return static_cast<int32_t>(load_be<uint32_t>(p));
    case 0x0D: return std::bit_cast<float>(load_be<uint32_t>(p));
    default: return std::bit_cast<double>(load_be<uint64_t>(p));
  }
}

}  // namespace detail

// An IDX file's decoded header and its element bytes (still big-endian).
struct IdxFile {
  uint8_t type_code = 0;
  const char* type_name = "";
  size_t element_size = 0;
  Shape shape;
  std::vector<uint8_t> bytes;  // the whole (decompressed) file
  size_t data_offset = 0;      // where the elements start in `bytes`
};

inline IdxFile read_idx(const std::filesystem::path& path) {
  const char* op = "load_idx";
  IdxFile f;
  f.bytes = read_maybe_gzipped(path, op);
  const std::string name = path.string();
  const std::vector<uint8_t>& b = f.bytes;
  if (b.size() < 4) fail(op, name, ": too small for an IDX file (", b.size(), " bytes)");
  if (b[0] != 0 || b[1] != 0) fail(op, name, ": not an IDX file (the first two bytes must be zero)");
  const detail::IdxType* type = nullptr;
  for (const auto& t : detail::kIdxTypes)
    if (t.code == b[2]) type = &t;
  if (!type) fail(op, name, ": unknown IDX element type code 0x", std::hex, int(b[2]));
  const size_t ndim = b[3];
  if (ndim == 0) fail(op, name, ": an IDX file needs at least one dimension");
  f.data_offset = 4 + 4 * ndim;
  if (b.size() < f.data_offset) fail(op, name, ": truncated: header of ", ndim, " dims cut off");
  for (size_t d = 0; d < ndim; ++d) f.shape.push_back(load_be<uint32_t>(&b[4 + 4 * d]));
  uint64_t expected = type->size;  // bytes of data
  for (const int64_t size : f.shape)
    if (__builtin_mul_overflow(expected, static_cast<uint64_t>(size), &expected))
      fail(op, name, ": shape ", f.shape, " is too large");
  const uint64_t found = b.size() - f.data_offset;
  if (found < expected)
    fail(op, name, ": truncated: expected ", expected, " bytes of data for shape ", f.shape, ", found ", found);
  if (found > expected)
    fail(op, name, ": expected ", expected, " bytes of data for shape ", f.shape, ", found ", found, " (",
         found - expected, " trailing bytes)");
  f.type_code = type->code;
  f.type_name = type->name;
  f.element_size = type->size;
  return f;
}

// Reads an IDX file into a tensor of `dtype` with the file's shape (values unscaled).
inline Tensor load_idx(const std::filesystem::path& path, DType dtype = DType::f32) {
  const IdxFile f = read_idx(path);
  Tensor host = Tensor::empty(f.shape, DType::f64);
  double* dst = host.data<double>();
  const uint8_t* src = f.bytes.data() + f.data_offset;
  for (int64_t i = 0; i < host.numel(); ++i) dst[i] = detail::idx_element(src + i * f.element_size, f.type_code);
  return host.to(dtype);
}

// The ten Fashion-MNIST classes, by label.
inline constexpr std::array<const char*, 10> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct FashionMnist {
  Tensor images;  // (N,1,28,28) f32 in [0, 1]: pixel / 255
  Tensor labels;  // (N,) i64 in 0..9
};

namespace detail {

// The path of `stem` in `dir`, gzip-compressed or not, or a user-facing error listing what was tried.
inline std::filesystem::path find_fashion_mnist_file(const std::filesystem::path& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem})
    if (std::filesystem::is_regular_file(dir / name)) return dir / name;
  fail("load_fashion_mnist", "Fashion-MNIST file ", stem, "[.gz] not found in ", dir.string(),
       ". Install the dataset with `sudo apt-get install dataset-fashion-mnist` (it goes to ", kFashionMnistDir,
       "), or point --data at a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
       "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (from "
       "https://github.com/zalandoresearch/fashion-mnist).");
}

}  // namespace detail

// Loads the "train" (60000 images) or "test" (10000) split from `dir`.
inline FashionMnist load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDir,
                                       std::string_view split = "train") {
  const char* op = "load_fashion_mnist";
  JEPA_CHECK(split == "train" || split == "test", op, "unknown split '", split, "' (expected train or test)");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const auto images_path = detail::find_fashion_mnist_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = detail::find_fashion_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  const IdxFile images = read_idx(images_path), labels = read_idx(labels_path);
  JEPA_CHECK(images.type_code == 0x08 && images.shape.ndim() == 3 && images.shape[1] == 28 && images.shape[2] == 28, op,
             images_path.string(), ": expected uint8 images of shape [N, 28, 28], got ", images.type_name, " ",
             images.shape);
  JEPA_CHECK(labels.type_code == 0x08 && labels.shape.ndim() == 1, op, labels_path.string(),
             ": expected uint8 labels of shape [N], got ", labels.type_name, " ", labels.shape);
  JEPA_CHECK(images.shape[0] == labels.shape[0], op, images_path.string(), " holds ", images.shape[0], " images but ",
             labels_path.string(), " holds ", labels.shape[0], " labels");

  const int64_t n = images.shape[0];
  FashionMnist out{Tensor::empty({n, 1, 28, 28}, DType::f32), Tensor::empty({n}, DType::i64)};
  const uint8_t* pixels = images.bytes.data() + images.data_offset;
  float* image_data = out.images.data<float>();
  for (int64_t i = 0; i < n * 28 * 28; ++i) image_data[i] = static_cast<float>(pixels[i]) / 255.0f;
  const uint8_t* label_bytes = labels.bytes.data() + labels.data_offset;
  int64_t* label_data = out.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    JEPA_CHECK(label_bytes[i] < 10, op, labels_path.string(), ": label ", int(label_bytes[i]), " of sample ", i,
               " is not a class in 0..9");
    label_data[i] = label_bytes[i];
  }
  return out;
}

}  // namespace jepa
