// Image augmentations on CPU f32 images, (C,H,W) or batches (B,C,H,W): RandomResizedCrop and
// Normalize, as torchvision defines them.
// RandomResizedCrop draws every random number from the jepa::Generator it is given, so a crop
// depends only on that generator's state (the loader seeds one per sample from (seed, epoch,
// index)). A batch draws one box per image, in batch order.
// The resize is bilinear with align_corners=False and no antialiasing, the semantics of
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
// reference: https://pytorch.org/vision/stable/generated/torchvision.transforms.RandomResizedCrop.html
//            https://pytorch.org/docs/stable/generated/torch.nn.functional.interpolate.html
#pragma once
#include <array>
#include <cmath>
#include <numeric>
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa {

// A crop window in pixels: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

namespace detail {

// For each output position along one axis: the two source positions and the weight of the second,
// sampled at (out + 0.5) * in / out - 0.5, clamped at 0, as PyTorch computes them.
struct LinearTaps {
  std::vector<int64_t> first, second;
  std::vector<float> weight;  // weight of `second`; `first` gets 1 - weight
};

inline LinearTaps linear_taps(int64_t in_size, int64_t out_size) {
  LinearTaps taps;
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    const float source = std::max(scale * (static_cast<float>(o) + 0.5f) - 0.5f, 0.0f);
    const int64_t first = std::min(static_cast<int64_t>(source), in_size - 1);
    taps.first.push_back(first);
    taps.second.push_back(first < in_size - 1 ? first + 1 : first);
    taps.weight.push_back(std::clamp(source - static_cast<float>(first), 0.0f, 1.0f));
  }
  return taps;
}

// Resizes the `box` window of `channels` planes of (height, width) at `src` to (out_h, out_w) at `dst`.
inline void resize_window(const float* src, int64_t channels, int64_t height, int64_t width, const CropBox& box,
                          float* dst, int64_t out_h, int64_t out_w) {
  const LinearTaps rows = linear_taps(box.height, out_h), cols = linear_taps(box.width, out_w);
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = src + c * height * width;
    for (int64_t y = 0; y < out_h; ++y) {
      const float* row0 = plane + (box.top + rows.first[y]) * width + box.left;
      const float* row1 = plane + (box.top + rows.second[y]) * width + box.left;
      const float wy = rows.weight[y];
      for (int64_t x = 0; x < out_w; ++x) {
        const int64_t x0 = cols.first[x], x1 = cols.second[x];
        const float wx = cols.weight[x];
        const float top = (1.0f - wx) * row0[x0] + wx * row0[x1];
        const float bottom = (1.0f - wx) * row1[x0] + wx * row1[x1];
        *dst++ = (1.0f - wy) * top + wy * bottom;
      }
    }
  }
}

// The input as a contiguous CPU f32 batch (B,C,H,W), and whether it came without the batch dim.
inline std::pair<Tensor, bool> as_image_batch(const Tensor& images, const char* op) {
  JEPA_CHECK(images.dim() == 3 || images.dim() == 4, op, "expected an image (C,H,W) or a batch (B,C,H,W), got shape ",
             images.shape());
  JEPA_CHECK(images.device().is_cpu() && images.dtype() == DType::f32, op, "expected a CPU f32 tensor, got ",
             images.dtype(), " on ", images.device());
  const bool single = images.dim() == 3;
  return {(single ? images.unsqueeze(0) : images).contiguous(), single};
}

}  // namespace detail

// Crops `box` out of every image and resizes it to (out_h, out_w) bilinearly.
inline Tensor resized_crop(const Tensor& images, const CropBox& box, int64_t out_h, int64_t out_w) {
  const char* op = "resized_crop";
  auto [batch, single] = detail::as_image_batch(images, op);
  const int64_t b = batch.size(0), c = batch.size(1), h = batch.size(2), w = batch.size(3);
  JEPA_CHECK(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 && box.top + box.height <= h &&
                 box.left + box.width <= w,
             op, "crop box (top ", box.top, ", left ", box.left, ", height ", box.height, ", width ", box.width,
             ") does not fit in an image of ", h, "x", w);
  JEPA_CHECK(out_h > 0 && out_w > 0, op, "output size must be positive, got ", out_h, "x", out_w);
  Tensor out = Tensor::empty({b, c, out_h, out_w});
  for (int64_t i = 0; i < b; ++i)
    detail::resize_window(batch.data<float>() + i * c * h * w, c, h, w, box, out.data<float>() + i * c * out_h * out_w,
                          out_h, out_w);
  return single ? out.squeeze(0) : out;
}

// torch.nn.functional.interpolate(images, size=(out_h, out_w), mode="bilinear", align_corners=False).
inline Tensor resize_bilinear(const Tensor& images, int64_t out_h, int64_t out_w) {
  return resized_crop(images, {0, 0, images.size(-2), images.size(-1)}, out_h, out_w);
}

class RandomResizedCrop {
 public:
  // `scale`: range of the crop's area as a fraction of the image; `ratio`: range of its
  // width/height, sampled log-uniformly. Defaults are I-JEPA's.
  explicit RandomResizedCrop(int64_t size, std::array<double, 2> scale = {0.3, 1.0},
                             std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0})
      : size_(size), scale_(scale), ratio_(ratio) {
    JEPA_CHECK(size > 0, "RandomResizedCrop", "size must be positive, got ", size);
    JEPA_CHECK(0 < scale[0] && scale[0] <= scale[1] && 0 < ratio[0] && ratio[0] <= ratio[1], "RandomResizedCrop",
               "need 0 < scale[0] <= scale[1] and 0 < ratio[0] <= ratio[1], got scale (", scale[0], ", ", scale[1],
               "), ratio (", ratio[0], ", ", ratio[1], ")");
  }

  // Up to ten tries for a box of random area and aspect ratio that fits the image, at a random
  // position; after ten misses, the largest centred box whose ratio is in range.
  CropBox sample_box(int64_t height, int64_t width, Generator& gen) const {
    const double area = static_cast<double>(height * width);
    const double log_lo = std::log(ratio_[0]), log_hi = std::log(ratio_[1]);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target_area = area * (scale_[0] + (scale_[1] - scale_[0]) * gen.uniform());
      const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.uniform());
      // nearbyint rounds half to even, like Python's round()
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
      if (0 < w && w <= width && 0 < h && h <= height) {
        const int64_t top = gen.randint(0, height - h + 1);
        const int64_t left = gen.randint(0, width - w + 1);
        return {top, left, h, w};
      }
    }
    const double image_ratio = static_cast<double>(width) / static_cast<double>(height);
    int64_t w = width, h = height;
    if (image_ratio < ratio_[0])
      h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio_[0]));
    else if (image_ratio > ratio_[1])
      w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio_[1]));
    return {(height - h) / 2, (width - w) / 2, h, w};
  }

  // (C,H,W) -> (C,size,size), or (B,C,H,W) -> (B,C,size,size) with one box per image, in order.
  Tensor operator()(const Tensor& images, Generator& gen) const {
    auto [batch, single] = detail::as_image_batch(images, "RandomResizedCrop");
    std::vector<int64_t> all(static_cast<size_t>(batch.size(0)));
    std::iota(all.begin(), all.end(), int64_t{0});
    Tensor out = crop_samples(batch, all, [&](int64_t) -> Generator& { return gen; });
    return single ? out.squeeze(0) : out;
  }

  // Gathers and crops: sample k of the result (B,C,size,size) is images[indices[k]] of (N,C,H,W),
  // its box drawn from generator_for(indices[k]) (a Generator or a reference to one). With the
  // loader's sample_generator this makes each sample's crop independent of batch and timing:
  //   crop.crop_samples(images, plan.indices, [&](int64_t i) { return sample_generator(seed, plan.epoch, i); })
  template <class GeneratorFor>
  Tensor crop_samples(const Tensor& images, const std::vector<int64_t>& indices, GeneratorFor&& generator_for) const {
    const char* op = "RandomResizedCrop";
    JEPA_CHECK(images.dim() == 4, op, "expected images (N,C,H,W), got shape ", images.shape());
    const Tensor source = detail::as_image_batch(images, op).first;
    const int64_t n = source.size(0), c = source.size(1), h = source.size(2), w = source.size(3);
    Tensor out = Tensor::empty({static_cast<int64_t>(indices.size()), c, size_, size_});
    for (size_t k = 0; k < indices.size(); ++k) {
      const int64_t i = indices[k];
      JEPA_CHECK(i >= 0 && i < n, op, "sample index ", i, " out of range for ", n, " images");
      auto&& gen = generator_for(i);
      detail::resize_window(source.data<float>() + i * c * h * w, c, h, w, sample_box(h, w, gen),
                            out.data<float>() + static_cast<int64_t>(k) * c * size_ * size_, size_, size_);
    }
    return out;
  }

  int64_t size() const { return size_; }

 private:
  int64_t size_;
  std::array<double, 2> scale_, ratio_;
};

// (x - mean[c]) / std[c] per channel, for (C,H,W) or (B,C,H,W) on any device.
class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
    JEPA_CHECK(!mean_.empty() && mean_.size() == std_.size(), "Normalize",
               "need one mean and one std per channel, got ", mean_.size(), " means and ", std_.size(), " stds");
    for (const double s : std_) JEPA_CHECK(s > 0, "Normalize", "std must be positive, got ", s);
  }

  Tensor operator()(const Tensor& images) const {
    const auto channels = static_cast<int64_t>(mean_.size());
    JEPA_CHECK((images.dim() == 3 || images.dim() == 4) && images.size(-3) == channels, "Normalize",
               "expected (C,H,W) or (B,C,H,W) with C = ", channels, ", got shape ", images.shape());
    const Tensor mean = from_vector(mean_, {channels, 1, 1}, images.dtype(), images.device());
    const Tensor std_dev = from_vector(std_, {channels, 1, 1}, images.dtype(), images.device());
    return (images - mean) / std_dev;
  }

 private:
  std::vector<double> mean_, std_;
};

}  // namespace jepa
