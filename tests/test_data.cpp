// Data pipeline: IDX files and Fashion-MNIST, image transforms against PyTorch references
// (tests/ref/make_io_reference.py), and the prefetching batch loader.
#include <doctest/doctest.h>
#include <png.h>

#include <jepa/data/idx.hpp>
#include <jepa/data/loader.hpp>
#include <jepa/data/transforms.hpp>
#include <jepa/io/json.hpp>
#include <jepa/io/npy.hpp>

#include <atomic>
#include <sstream>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include "test_files.hpp"

using namespace jepa;
using namespace jepa::test;

namespace {

// An IDX file: header for `type_code` and `dims`, then `payload` (already big-endian).
Bytes idx_file(uint8_t type_code, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type_code, static_cast<uint8_t>(dims.size())};
  for (const uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace

TEST_CASE("idx: element types, gzip, and every validation error") {
  const std::string path = temp_path("a.idx");
  write_bytes(path, idx_file(0x08, {2, 3}, {0, 1, 2, 253, 254, 255}));
  Tensor u8 = load_idx(path);
  CHECK(u8.shape() == Shape{2, 3});
  CHECK(u8.to_vector<double>() == std::vector<double>{0, 1, 2, 253, 254, 255});
  write_bytes(path, gzip_bytes(idx_file(0x08, {2, 3}, {0, 1, 2, 253, 254, 255})));
  CHECK(load_idx(path, DType::i64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 253, 254, 255});
  write_bytes(path, idx_file(0x09, {2}, {0x80, 0x7f}));
  CHECK(load_idx(path).to_vector<double>() == std::vector<double>{-128, 127});
  write_bytes(path, idx_file(0x0B, {2}, {0xff, 0xfe, 0x01, 0x00}));
  CHECK(load_idx(path).to_vector<double>() == std::vector<double>{-2, 256});
  write_bytes(path, idx_file(0x0C, {1}, {0x80, 0, 0, 0}));
  CHECK(load_idx(path, DType::f64).item() == -2147483648.0);
  write_bytes(path, idx_file(0x0D, {1}, {0x3f, 0xc0, 0, 0}));  // 1.5f
  CHECK(load_idx(path).item() == 1.5);
  write_bytes(path, idx_file(0x0E, {1, 1}, {0xc0, 0x04, 0, 0, 0, 0, 0, 0}));  // -2.5
  CHECK(load_idx(path, DType::f64).item() == -2.5);

  const std::string prefix = "[load_idx] " + path + ": ";
  auto load_error = [&](const Bytes& content) {
    write_bytes(path, content);
    return error_of([&] { load_idx(path); });
  };
  CHECK(load_error({0, 0, 8}) == prefix + "too small for an IDX file (3 bytes)");
  CHECK(load_error(Bytes{0, 1, 8, 1, 0, 0, 0, 1, 7}) == prefix + "not an IDX file (the first two bytes must be zero)");
  CHECK(load_error(idx_file(0x0A, {1}, {7})) == prefix + "unknown IDX element type code 0xa");
  CHECK(load_error(idx_file(0x08, {}, {})) == prefix + "an IDX file needs at least one dimension");
  CHECK(load_error(slice(idx_file(0x08, {2, 2}, {1, 2, 3, 4}), 0, 9)) ==
        prefix + "truncated: header of 2 dims cut off");
  CHECK(load_error(idx_file(0x08, {2, 2}, {1, 2, 3})) ==
        prefix + "truncated: expected 4 bytes of data for shape [2, 2], found 3");
  CHECK(load_error(idx_file(0x0B, {2}, {1, 2, 3, 4, 5})) ==
        prefix + "expected 4 bytes of data for shape [2], found 5 (1 trailing bytes)");
  CHECK(load_error(idx_file(0x08, {65536, 65536, 65536, 65536, 65536}, {})) ==
        prefix + "shape [65536, 65536, 65536, 65536, 65536] is too large");
  Bytes bad_gzip = gzip_bytes(idx_file(0x08, {1}, {7}));
  bad_gzip[bad_gzip.size() - 6] ^= 1;
  CHECK(load_error(bad_gzip) == "[gunzip] " + path + ": corrupt gzip data near compressed byte " +
                                    std::to_string(bad_gzip.size() - 4) + ": incorrect data check");
  CHECK(load_error(slice(bad_gzip, 0, bad_gzip.size() - 9)) ==
        "[gunzip] " + path + ": truncated: the data ends inside a gzip member (" + std::to_string(bad_gzip.size() - 9) +
            " bytes read)");
}

TEST_CASE("fashion-mnist: loads both splits and matches the Python reference") {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    MESSAGE("skipped: ", kFashionMnistDir, " is missing (sudo apt-get install dataset-fashion-mnist)");
    return;
  }
  const Bytes text = read_bytes(data_path("io/fashion_mnist_reference.json"));
  const json::Value ref = json::parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), "test",
                                      "fashion_mnist_reference.json");
  for (const char* split : {"train", "test"}) {
    CAPTURE(split);
    const json::Value& r = *ref.find(split);
    const FashionMnist data = load_fashion_mnist(kFashionMnistDir, split);
    const int64_t n = *r.find("count")->as_int64();
    REQUIRE(data.images.shape() == Shape{n, 1, 28, 28});
    REQUIRE(data.labels.shape() == Shape{n});
    CHECK(data.images.dtype() == DType::f32);
    CHECK(data.labels.dtype() == DType::i64);

    const std::vector<int64_t> labels = data.labels.to_vector<int64_t>();
    std::vector<int64_t> histogram(10, 0);
    for (const int64_t l : labels) ++histogram[static_cast<size_t>(l)];
    for (int c = 0; c < 10; ++c) CHECK(histogram[c] == *r.find("label_histogram")->items[c].as_int64());
    for (int i = 0; i < 20; ++i) CHECK(labels[i] == *r.find("first_labels")->items[i].as_int64());

    const float* pixels = data.images.data<float>();
    auto pixel_sum = [&](int64_t image) {
      int64_t sum = 0;
      for (int64_t k = 0; k < 28 * 28; ++k) {
        const float v = pixels[image * 28 * 28 + k];
        REQUIRE((v >= 0.0f && v <= 1.0f));
        sum += std::lround(v * 255.0f);
      }
      return sum;
    };
    for (int i = 0; i < 3; ++i) CHECK(pixel_sum(i) == *r.find("first_pixel_sums")->items[i].as_int64());
    CHECK(pixel_sum(n - 1) == *r.find("last_pixel_sum")->as_int64());
    for (int x = 0; x < 28; ++x)
      CHECK(pixels[14 * 28 + x] == static_cast<float>(*r.find("image0_row14")->items[x].as_int64()) / 255.0f);
  }
}

TEST_CASE("fashion-mnist: a missing dataset says how to install it") {
  const std::string message = error_of([] { load_fashion_mnist(temp_dir(), "train"); });
  CHECK(message.find("train-images-idx3-ubyte[.gz] not found in " + temp_dir()) != std::string::npos);
  CHECK(message.find("sudo apt-get install dataset-fashion-mnist") != std::string::npos);
  CHECK(message.find("--data") != std::string::npos);
  CHECK(error_of([] { load_fashion_mnist(temp_dir(), "validation"); }) ==
        "[load_fashion_mnist] unknown split 'validation' (expected train or test)");
}

// ---------------------------------------------------------------------------------------------
// transforms

namespace {
void check_close(const Tensor& actual, const Tensor& expected, double tolerance) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - e[i]));
  CHECK(worst <= tolerance);
}
}  // namespace

TEST_CASE("resize_bilinear and resized_crop match torch interpolate (bilinear, align_corners=False)") {
  const std::string dir = data_path("io/resize/");
  const Tensor x = load_npy(dir + "input.npy");  // (2,3,7,9)
  for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{5, 4}, {16, 13}, {7, 9}, {1, 1}, {3, 20}}) {
    CAPTURE(h);
    CAPTURE(w);
    check_close(resize_bilinear(x, h, w), load_npy(dir + "out_" + std::to_string(h) + "x" + std::to_string(w) + ".npy"),
                1e-6);
  }
  const Tensor crop = resized_crop(x, CropBox{1, 2, 5, 6}, 8, 8);
  check_close(crop, load_npy(dir + "crop_1_2_5_6_to_8x8.npy"), 1e-6);
  check_close(resized_crop(x.select(0, 1), CropBox{1, 2, 5, 6}, 8, 8), crop.select(0, 1), 0);  // (C,H,W) input
  CHECK_THROWS_WITH_AS(resized_crop(x, CropBox{3, 0, 5, 9}, 4, 4),
                       "[resized_crop] crop box (top 3, left 0, height 5, width 9) does not fit in an image of 7x9",
                       Error);
  CHECK_THROWS_WITH_AS(resize_bilinear(x.to(DType::f64), 4, 4),
                       "[resized_crop] expected a CPU f32 tensor, got f64 on cpu", Error);
}

TEST_CASE("RandomResizedCrop: boxes respect the scale and ratio bounds and are seeded") {
  const RandomResizedCrop crop(224);
  Generator gen(11);
  const int draws = 4000;
  double min_scale = 1, max_scale = 0, min_ratio = 10, max_ratio = 0, sum_log_ratio = 0, sum_scale = 0;
  for (int i = 0; i < draws; ++i) {
    const CropBox b = crop.sample_box(224, 224, gen);
    REQUIRE((b.top >= 0 && b.left >= 0 && b.top + b.height <= 224 && b.left + b.width <= 224));
    const double scale = static_cast<double>(b.height * b.width) / (224.0 * 224.0);
    const double ratio = static_cast<double>(b.width) / static_cast<double>(b.height);
    // w and h are rounded to whole pixels (>= 106 here), which moves area and ratio by < 1%
    CHECK(scale >= 0.3 * 0.99);
    CHECK(scale <= 1.0);
    CHECK(ratio >= 0.75 * 0.99);
    CHECK(ratio <= 4.0 / 3.0 * 1.01);
    min_scale = std::min(min_scale, scale);
    max_scale = std::max(max_scale, scale);
    min_ratio = std::min(min_ratio, ratio);
    max_ratio = std::max(max_ratio, ratio);
    sum_log_ratio += std::log(ratio);
    sum_scale += scale;
  }
  CHECK(min_scale < 0.31);
  CHECK(max_scale > 0.97);
  CHECK(min_ratio < 0.77);
  CHECK(max_ratio > 1.30);
  CHECK(std::abs(sum_log_ratio / draws) < 0.02);  // log-uniform on a symmetric range: mean 0 (sd 0.17/sqrt(n))
  // uniform on [0.3, 1] has mean 0.65; large boxes far from square do not fit and are redrawn
  CHECK(sum_scale / draws > 0.58);
  CHECK(sum_scale / draws < 0.66);

  Generator a(5), b(5), c(6);
  const CropBox ba = crop.sample_box(100, 80, a), bb = crop.sample_box(100, 80, b), bc = crop.sample_box(100, 80, c);
  CHECK((ba.top == bb.top && ba.left == bb.left && ba.height == bb.height && ba.width == bb.width));
  CHECK_FALSE((ba.top == bc.top && ba.left == bc.left && ba.height == bc.height && ba.width == bc.width));

  // A 28x4 image has no box of area >= 30% with ratio >= 3/4: the centred fallback, 4 wide, round(4 / 0.75) high.
  const CropBox fallback = crop.sample_box(28, 4, gen);
  CHECK(fallback.top == 11);
  CHECK(fallback.left == 0);
  CHECK(fallback.height == 5);
  CHECK(fallback.width == 4);

  Generator g1(9);
  const Tensor images = uniform({4, 1, 28, 28}, 0, 1, g1);
  Generator g2 = g1;
  const RandomResizedCrop small(16);
  const Tensor out1 = small(images, g1), out2 = small(images, g2);
  CHECK(out1.shape() == Shape{4, 1, 16, 16});
  CHECK(out1.to_vector<double>() == out2.to_vector<double>());
  CHECK(small(images.select(0, 0), g1).shape() == Shape{1, 16, 16});

  // Gathering by index with one generator per sample, as a loader's make_batch does.
  auto generator_for = [](int64_t i) { return sample_generator(7, 2, i); };
  const Tensor gathered = small.crop_samples(images, {3, 0, 3}, generator_for);
  CHECK(gathered.shape() == Shape{3, 1, 16, 16});
  Generator g3 = generator_for(3);
  CHECK(gathered.select(0, 0).to_vector<double>() == small(images.select(0, 3), g3).to_vector<double>());
  CHECK(gathered.select(0, 2).to_vector<double>() ==
        gathered.select(0, 0).to_vector<double>());  // same sample, same crop
  CHECK_THROWS_WITH_AS(small.crop_samples(images, {4}, generator_for),
                       "[RandomResizedCrop] sample index 4 out of range for 4 images", Error);
}

TEST_CASE("Normalize subtracts the mean and divides by the std per channel") {
  const Normalize normalize({0.5, 0.0}, {0.25, 2.0});
  const Tensor x = from_vector(std::vector<float>{1, 0.5, 4, -2}, {2, 1, 2});
  CHECK(normalize(x).to_vector<double>() == std::vector<double>{2, 0, 2, -1});
  CHECK(normalize(x.unsqueeze(0)).shape() == Shape{1, 2, 1, 2});
  CHECK_THROWS_WITH_AS(normalize(zeros({3, 2, 2})),
                       "[Normalize] expected (C,H,W) or (B,C,H,W) with C = 2, got shape [3, 2, 2]", Error);
  CHECK_THROWS_WITH_AS(Normalize({0.5}, {0.0}), "[Normalize] std must be positive, got 0", Error);
}

// ---------------------------------------------------------------------------------------------
// loader

namespace {

struct SampleBatch {
  int64_t epoch = 0, step = 0;
  std::vector<int64_t> indices;
  std::vector<int64_t> crop_tops;  // one augmentation draw per sample
};

// A make_batch that records its plan and draws a crop per sample, sleeping a random while so
// that timing differs between runs.
SampleBatch make_sample_batch(const BatchPlan& plan, uint64_t seed, bool jitter) {
  SampleBatch b{plan.epoch, plan.step, plan.indices, {}};
  const RandomResizedCrop crop(8);
  for (const int64_t index : plan.indices) {
    Generator gen = sample_generator(seed, plan.epoch, index);
    b.crop_tops.push_back(crop.sample_box(64, 64, gen).top);
  }
  if (jitter) std::this_thread::sleep_for(std::chrono::microseconds((plan.step * 7919 + plan.epoch * 104729) % 900));
  return b;
}

std::vector<SampleBatch> take(BatchLoader<SampleBatch>& loader, int n) {
  std::vector<SampleBatch> out;
  for (int i = 0; i < n; ++i) {
    auto item = loader.next();
    CHECK(item.epoch == item.batch.epoch);
    CHECK(item.step == item.batch.step);
    out.push_back(std::move(item.batch));
  }
  return out;
}

bool same(const std::vector<SampleBatch>& a, const std::vector<SampleBatch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].epoch != b[i].epoch || a[i].step != b[i].step || a[i].indices != b[i].indices ||
        a[i].crop_tops != b[i].crop_tops)
      return false;
  return true;
}

}  // namespace

TEST_CASE("loader: epochs are seeded permutations, batches are deterministic whatever the timing") {
  LoaderOptions o;
  o.dataset_size = 10;
  o.batch_size = 3;
  o.seed = 42;
  BatchLoader<SampleBatch> fast(o, [](const BatchPlan& p) { return make_sample_batch(p, 42, false); });
  CHECK(fast.steps_per_epoch() == 3);
  const std::vector<SampleBatch> reference = take(fast, 9);  // three epochs
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen;
    for (int s = 0; s < 3; ++s) {
      const SampleBatch& b = reference[epoch * 3 + s];
      CHECK(b.epoch == epoch);
      CHECK(b.step == s);
      CHECK(b.indices.size() == 3);
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
    std::sort(seen.begin(), seen.end());
    CHECK(std::unique(seen.begin(), seen.end()) == seen.end());  // drop_last: 9 distinct of 10
  }
  CHECK(reference[0].indices != reference[3].indices);  // each epoch reshuffles
  // the same sample gets other augmentations in another epoch
  CHECK(make_sample_batch({0, 0, {5}}, 42, false).crop_tops != make_sample_batch({1, 0, {5}}, 42, false).crop_tops);

  o.prefetch = 1;
  BatchLoader<SampleBatch> slow(o, [](const BatchPlan& p) { return make_sample_batch(p, 42, true); });
  CHECK(same(take(slow, 9), reference));

  o.prefetch = 4;
  o.start_epoch = 1;
  o.start_step = 2;  // resume: the 6th batch onwards
  BatchLoader<SampleBatch> resumed(o, [](const BatchPlan& p) { return make_sample_batch(p, 42, true); });
  CHECK(same(take(resumed, 4), std::vector<SampleBatch>(reference.begin() + 5, reference.end())));

  o.seed = 43;
  o.start_epoch = o.start_step = 0;
  BatchLoader<SampleBatch> other(o, [](const BatchPlan& p) { return make_sample_batch(p, 43, false); });
  CHECK_FALSE(same(take(other, 9), reference));
}

TEST_CASE("loader: without shuffle or drop_last, the last batch of an epoch is short") {
  LoaderOptions o;
  o.dataset_size = 10;
  o.batch_size = 4;
  o.shuffle = false;
  o.drop_last = false;
  BatchLoader<std::vector<int64_t>> loader(o, [](const BatchPlan& p) { return p.indices; });
  CHECK(loader.steps_per_epoch() == 3);
  CHECK(loader.next().batch == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(loader.next().batch == std::vector<int64_t>{4, 5, 6, 7});
  CHECK(loader.next().batch == std::vector<int64_t>{8, 9});
  const auto next_epoch = loader.next();
  CHECK(next_epoch.epoch == 1);
  CHECK(next_epoch.batch == std::vector<int64_t>{0, 1, 2, 3});
}

TEST_CASE("loader: an exception in make_batch reaches the consumer after the batches before it") {
  LoaderOptions o;
  o.dataset_size = 100;
  o.batch_size = 10;
  const int threads = cpu::max_threads();
  BatchLoader<int64_t> loader(o, [](const BatchPlan& p) -> int64_t {
    if (p.step == 2) fail("make_batch", "cannot decode sample ", p.indices[0]);
    JEPA_CHECK(!grad_enabled() && cpu::max_threads() == 1, "make_batch", "worker runs with grad or many threads");
    return p.step;
  });
  CHECK(loader.next().batch == 0);
  CHECK(loader.next().batch == 1);
  CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("[make_batch] cannot decode sample"), Error);
  CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("[make_batch] cannot decode sample"), Error);  // stays failed
  CHECK(cpu::max_threads() == threads);  // the worker's setting stayed on the worker
}

TEST_CASE("loader: the destructor stops a worker that is waiting or busy, and options are checked") {
  std::atomic<int> made{0};
  const auto start = std::chrono::steady_clock::now();
  {
    LoaderOptions o;
    o.dataset_size = 1000;
    o.batch_size = 1;
    BatchLoader<int> waiting(o, [&](const BatchPlan&) { return ++made; });  // fills its queue, then waits
    BatchLoader<int> busy(o, [](const BatchPlan&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      return 0;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(made.load() <= 2);  // never more than `prefetch` ahead
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));

  auto make = [](const BatchPlan&) { return 0; };
  LoaderOptions o;
  o.dataset_size = 5;
  o.batch_size = 8;
  CHECK(error_of([&] { BatchLoader<int> loader(o, make); }) ==
        "[BatchLoader] a dataset of 5 samples gives no full batch of 8 (drop_last is on)");
  o.batch_size = 2;
  o.start_step = 2;
  CHECK(error_of([&] { BatchLoader<int> loader(o, make); }) ==
        "[BatchLoader] start (epoch 0, step 2) is outside the 2 steps of an epoch");
}

// ---------------------------------------------------------------------------------------------
// the command-line tool's utilities (examples/jepa): PNG files and plots, metrics.jsonl, progress line

#include "../examples/jepa/metrics.hpp"
#include "../examples/jepa/plot.hpp"
#include "../examples/jepa/progress.hpp"

namespace {

// A PNG file read back by libpng, converted to 8-bit RGB whatever it holds.
tool::Image read_png(const std::string& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  REQUIRE_MESSAGE(png_image_begin_read_from_file(&png, path.c_str()), png.message);
  png.format = PNG_FORMAT_RGB;
  tool::Image image(static_cast<int>(png.width), static_cast<int>(png.height), {0, 0, 0});
  REQUIRE_MESSAGE(png_image_finish_read(&png, nullptr, image.rgb.data(), 0, nullptr), png.message);
  return image;
}

}  // namespace

TEST_CASE("png: write_png reads back through libpng with the same size and pixels") {
  tool::Image image(37, 23, {255, 255, 255});
  for (int y = 0; y < 23; ++y)
    for (int x = 0; x < 37; ++x)
      if (x < 12 || y > 15) image.set(x, y, {static_cast<uint8_t>(x * 7), static_cast<uint8_t>(y * 11), 200});
  image.set(-1, 3, {1, 2, 3});  // outside: ignored
  tool::fill_rect(image, 30, 2, 32, 3, {9, 8, 7});
  CHECK(image.get(32, 3) == tool::Rgb{9, 8, 7});
  CHECK(image.get(33, 3) == tool::Rgb{255, 255, 255});
  const std::string path = temp_path("pixels.png");
  tool::write_png(path, image);
  const tool::Image back = read_png(path);
  CHECK(back.width == 37);
  CHECK(back.height == 23);
  CHECK(back.rgb == image.rgb);

  CHECK(tool::encode_png(tool::Image(400, 300, {255, 255, 255}), "flat").size() < 400 * 300 * 3 / 100);
  CHECK(error_of([] { tool::encode_png(tool::Image(0, 5, {0, 0, 0}), "empty.png"); })
            .starts_with("[write_png] empty.png: libpng: "));
  CHECK(error_of([] { tool::write_png("/nonexistent-dir/x.png", tool::Image(2, 2, {0, 0, 0})); }) ==
        "[write_png] cannot create /nonexistent-dir/x.png.tmp: No such file or directory");
}

TEST_CASE("plot: curves, axes, log scale and gaps render into a valid PNG") {
  tool::Series loss{"train loss", {}, {}}, broken{"with gaps", {}, {}};
  for (int s = 0; s <= 1000; s += 10) {
    loss.x.push_back(s);
    loss.y.push_back(2.0 * std::exp(-s / 300.0) + 0.05);
    broken.x.push_back(s);
    broken.y.push_back(s % 200 == 0 ? std::nan("") : (s > 900 ? -1.0 : 1.0));  // NaN gaps; <= 0 is off a log axis
  }
  const tool::PlotOptions options{"loss", "step", "loss", true, 480, 320};
  const tool::Image image = tool::render_line_plot({loss, broken}, options);
  CHECK(image.width == 480);
  CHECK(image.height == 320);
  auto count = [&](tool::Rgb c) {
    int n = 0;
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x) n += image.get(x, y) == c;
    return n;
  };
  CHECK(count(tool::detail::kPalette[0]) > 300);  // the first curve, 2 pixels wide, plus its legend swatch
  CHECK(count(tool::detail::kPalette[1]) > 200);
  CHECK(count(tool::detail::kBlack) > 1000);  // frame, ticks, title
  const std::string path = temp_path("loss.png");
  tool::write_line_plot(path, {loss}, {"", "step", "", false, 200, 120});
  const tool::Image written = read_png(path);
  CHECK(written.width == 200);
  CHECK(written.height == 120);
  CHECK(written.get(0, 0) == tool::detail::kWhite);
  CHECK(tool::render_line_plot({}, options).width == 480);  // nothing to draw: an empty frame
  CHECK(tool::detail::linear_ticks(0, 1000, 8) == std::vector<double>{0, 200, 400, 600, 800, 1000});
  CHECK(tool::detail::log_ticks(0.06, 2.1) == std::vector<double>{0.1, 0.2, 0.5, 1, 2});
  CHECK(tool::detail::log_ticks(0.001, 50) == std::vector<double>{0.001, 0.01, 0.1, 1, 10});
}

TEST_CASE("metrics.jsonl: one flushed JSON object per line, appended across runs") {
  const std::string path = temp_path("metrics.jsonl");
  {
    tool::MetricsLog log(path);
    log.write(json::ObjectWriter().add("step", 1).add("loss", 0.25).add("phase", "train \"a\"").add("ok", true));
    CHECK(tool::read_metrics(path).size() == 1);  // on disk before the log closes
  }
  {
    tool::MetricsLog log(path);
    log.write(json::ObjectWriter().add("step", int64_t{2}).add("loss", std::nan("")).add("lr", 1e-4f));
  }
  std::vector<json::Value> lines = tool::read_metrics(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("step")->as_int64() == 1);
  CHECK(lines[0].find("loss")->as_double() == 0.25);
  CHECK(lines[0].find("phase")->text == "train \"a\"");
  CHECK(lines[0].find("ok")->boolean);
  CHECK(lines[1].find("loss")->kind == json::Value::Kind::null);
  CHECK(lines[1].members[0].first == "step");  // fields keep their order

  Bytes text = read_bytes(path);
  const Bytes partial = to_bytes("{\"step\":3,\"lo");
  text.insert(text.end(), partial.begin(), partial.end());
  write_bytes(path, text);
  CHECK(tool::read_metrics(path).size() == 2);  // a crash mid-line loses only that line
  write_bytes(path, to_bytes("{\"step\":1}\n{oops}\n{\"step\":3}\n"));
  CHECK_THROWS_WITH_AS(tool::read_metrics(path), doctest::Contains("metrics.jsonl line 2: invalid JSON at byte 1"),
                       Error);
}

TEST_CASE("progress: plain periodic lines off a terminal, throttled redraws on one") {
  using Clock = tool::ProgressBar::Clock;
  const Clock::time_point t0{};
  auto at = [&](double s) {
    return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };

  std::ostringstream log;
  tool::ProgressBar plain(100, log, false, {"img", 0.1, 10.0});
  plain.update(1, 0, {{"loss", 0.5}, {"lr", 0.001}}, 64, at(0));
  plain.update(2, 0, {{"loss", 0.4}}, 128, at(1));  // too soon: not shown
  plain.update(51, 1, {{"loss", 0.25}, {"lr", 0.0005}}, 51 * 64, at(10));
  plain.update(100, 1, {{"loss", 0.125}}, 6400, at(20));  // the last step always shows
  CHECK(log.str() ==
        "step 1/100 [........................]   1% | epoch 0 | loss 0.5 lr 0.001\n"
        "step 51/100 [############............]  51% | epoch 1 | loss 0.25 lr 0.0005 | 320.0 img/s | ETA 00:10\n"
        "step 100/100 [########################] 100% | epoch 1 | loss 0.125 | 316.8 img/s | ETA 00:00\n");

  std::ostringstream tty;
  tool::ProgressBar live(10, tty, true, {"img", 0.1, 10.0});
  live.update(1, 0, {}, 8, at(0));
  live.update(2, 0, {}, 16, at(0.05));  // within 0.1 s: not redrawn
  live.update(3, 0, {}, 24, at(0.2));
  live.message("checkpoint saved");
  live.update(10, 0, {}, 80, at(1.0));
  const std::string out = tty.str();
  CHECK(out.find("\rstep 1/10 ") == 0);
  CHECK(out.find("step 2/10") == std::string::npos);
  CHECK(out.find("\rstep 3/10 ") != std::string::npos);
  CHECK(out.find("\r\x1b[Kcheckpoint saved\nstep 3/10 ") != std::string::npos);  // message, then the line again
  CHECK(out.find("\rstep 10/10 [########################] 100%") != std::string::npos);
  CHECK(out.back() == '\n');
}
