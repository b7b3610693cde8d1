// Element types. f32 and f64 compute on every backend; bf16 and f16 are storage types here
// (conversion to and from f32; GPU backends compute in them); i64 holds indices and labels.
// Kernels are templates over the element type; each op reaches them through one dispatch call
// whose op name feeds the error message when the dtype is not supported.
#pragma once
#include <cstdint>
#include <cstring>
#include <ostream>
#include <type_traits>

#include <jepa/core/error.hpp>

namespace jepa {

enum class DType : uint8_t { f32, f64, bf16, f16, i64 };

// bfloat16: the top 16 bits of an IEEE float32; conversion rounds to nearest even.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  explicit bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it quiet and non-zero
      bits = static_cast<uint16_t>((u >> 16) | 0x40);
      return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    bits = static_cast<uint16_t>(u >> 16);
  }
  explicit operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

// IEEE 754 binary16; conversion rounds to nearest even and handles subnormals, inf and NaN.
struct f16 {
  uint16_t bits = 0;
  f16() = default;
  explicit f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) { bits = static_cast<uint16_t>(sign | 0x7e00u); return; }
    if (abs >= 0x477ff000u) { bits = static_cast<uint16_t>(sign | 0x7c00u); return; }  // rounds to inf
    if (abs < 0x38800000u) {  // result is subnormal or zero: round abs * 2^24 to an integer
      float a;
      std::memcpy(&a, &abs, 4);
      const float scaled = a * 16777216.0f;  // exact: a power-of-two scale
      uint32_t m = static_cast<uint32_t>(scaled);
      const float rest = scaled - static_cast<float>(m);
      if (rest > 0.5f || (rest == 0.5f && (m & 1u))) ++m;
      bits = static_cast<uint16_t>(sign | m);
      return;
    }
    uint32_t e = ((abs >> 23) - 112u) << 10;  // rebias 127 -> 15
    uint32_t m = (abs >> 13) & 0x3ffu;
    uint32_t h = e | m;
    const uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    bits = static_cast<uint16_t>(sign | h);
  }
  explicit operator float() const {
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t e = (bits >> 10) & 0x1fu, m = bits & 0x3ffu;
    uint32_t u;
    if (e == 0x1fu) {
      u = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
      float f = static_cast<float>(m) / 16777216.0f;
      std::memcpy(&u, &f, 4);
      u |= sign;
    } else {
      u = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i64: return "i64";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

inline bool is_floating(DType t) { return t != DType::i64; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<f16> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <class T> inline constexpr DType dtype_v = dtype_of<T>::value;

// A value carrying a C++ element type, passed to dispatch lambdas: `using T = typename decltype(tag)::type;`
template <class T> struct TypeTag { using type = T; };

// Calls f(TypeTag<T>) for the compute types f32 and f64; any other dtype throws naming the op.
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: fail(op, "expected a tensor of dtype f32 or f64, got ", t);
  }
}

// Calls f(TypeTag<T>) for every dtype (copies, conversions, fills, printing).
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::bf16: return f(TypeTag<bf16>{});
    case DType::f16: return f(TypeTag<f16>{});
    case DType::i64: return f(TypeTag<int64_t>{});
  }
  fail("dispatch", "unknown dtype");
}

// Converts between any two element types through float or double.
template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, bf16> || std::is_same_v<From, f16>) {
    return convert<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bf16> || std::is_same_v<To, f16>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace jepa
