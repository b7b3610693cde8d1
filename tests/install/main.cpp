// Uses the installed headers: the README's ten-line example, checked, and gzip reading, which
// links zlib through the installed package.
#include <jepa/io/gzip.hpp>
#include <jepa/jepa.hpp>

#include <iostream>

using namespace jepa;

int main() {
  Generator gen(0);
  Tensor x = normal({8, 16}, 0.0, 1.0, gen);  // f32 on the CPU
  Tensor w = trunc_normal({4, 16}, 0.02, -2, 2, gen).requires_grad_();
  Tensor b = zeros({4}).requires_grad_();
  Tensor y = softmax(gelu(linear(x, w, b)), -1);  // (8, 4)
  Tensor loss = cross_entropy(y, from_vector(std::vector<int64_t>(8, 1), {8}));
  loss.backward();  // w.grad(), b.grad()
  std::cout << w.grad() << "\n";
  if (w.grad().shape() != Shape{4, 16} || b.grad().shape() != Shape{4}) return 1;
  const std::vector<uint8_t> empty_gzip = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  if (!gunzip(empty_gzip, "empty member").empty()) return 1;
  std::cout << "consumer ok\n";
  return 0;
}
