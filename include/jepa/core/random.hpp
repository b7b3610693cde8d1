// Seeded, counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
// Element i of a random tensor depends only on (seed, the generator's offset, i), never on the
// thread that computes it, so results are identical across runs, thread counts and devices.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

namespace jepa {

namespace detail {

inline std::array<uint32_t, 4> philox4x32(uint64_t counter, uint64_t key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c0, p1 = static_cast<uint64_t>(kMul1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0, n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform_from(uint32_t hi, uint32_t lo) {
  return static_cast<double>((static_cast<uint64_t>(hi) << 21) ^ (lo >> 11)) * 0x1.0p-53;
}

}  // namespace detail

// One stream of random numbers. `draw_block(i)` is the i-th block of four 32-bit words after the
// current offset; `advance(n)` moves past blocks another user consumed.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }

  std::array<uint32_t, 4> block(uint64_t index) const { return detail::philox4x32(offset_ + index, seed_); }
  // Reserves n blocks for a parallel consumer and returns the offset of the first.
  uint64_t advance(uint64_t n) {
    const uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  // Scalar draws, one block each.
  double uniform() {
    auto b = detail::philox4x32(advance(1), seed_);
    return detail::uniform_from(b[0], b[1]);
  }
  double normal() {
    auto b = detail::philox4x32(advance(1), seed_);
    return normal_from(b);
  }
  // Uniform integer in [lo, hi).
  int64_t randint(int64_t lo, int64_t hi) {
    auto b = detail::philox4x32(advance(1), seed_);
    const uint64_t r = (static_cast<uint64_t>(b[0]) << 32) | b[1];
    return lo + static_cast<int64_t>(r % static_cast<uint64_t>(hi - lo));
  }

  // Box-Muller on the block's two uniforms.
  static double normal_from(const std::array<uint32_t, 4>& b) {
    const double u1 = 1.0 - detail::uniform_from(b[0], b[1]);  // (0, 1]: log stays finite
    const double u2 = detail::uniform_from(b[2], b[3]);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The generator used when none is given.
inline Generator& default_generator() {
  thread_local Generator g(0);
  return g;
}

inline void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

}  // namespace jepa
