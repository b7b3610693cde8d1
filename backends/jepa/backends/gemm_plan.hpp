// One GEMM call's geometry as ops/matmul.hpp plans it and both backends take it:
// C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i], matrices at element offsets from each
// operand's data pointer.
#pragma once
#include <cstdint>
#include <vector>

namespace jepa {

struct GemmPlan {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
  std::vector<int64_t> a_offsets, b_offsets, c_offsets;
};

}  // namespace jepa
