// Uses the installed headers: a tiny graph forward and backward.
#include <jepa/jepa.hpp>
#include <jepa/nn.hpp>

#include <iostream>

int main() {
  jepa::Tensor x = jepa::tensor({1, 2, 3}).requires_grad_();
  jepa::sum(x * x).backward();
  const auto g = x.grad().to_vector<double>();
  if (g != std::vector<double>{2, 4, 6}) return 1;
  std::cout << "consumer ok: " << x.grad() << "\n";
  return 0;
}
