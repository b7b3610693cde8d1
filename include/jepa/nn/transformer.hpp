// The pre-norm transformer block of the ViTs used by every JEPA model:
//   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
// Attention: qkv = Linear(D, 3D) laid out [q | k | v] with heads contiguous inside each, scale
// dh^-0.5, softmax over keys (one fused kernel), proj = Linear(D, D). MLP: fc1 -> exact GELU -> fc2,
// with fc1's bias added inside the GELU pass (bias_gelu) instead of by the GEMM.
// Parameter names follow the official code: norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2.
#pragma once
#include <jepa/nn/layers.hpp>

namespace jepa::nn {

class MLP : public Module {
 public:
  MLP(int64_t dim, int64_t hidden, Generator& gen)
      : fc1(register_module("fc1", std::make_shared<Linear>(dim, hidden, true, gen))),
        fc2(register_module("fc2", std::make_shared<Linear>(hidden, dim, true, gen))) {}
  Tensor forward(const Tensor& x) const { return fc2->forward(bias_gelu(linear(x, fc1->weight), fc1->bias)); }

  std::shared_ptr<Linear> fc1, fc2;
};

class Attention : public Module {
 public:
  Attention(int64_t dim, int64_t heads, bool qkv_bias, Generator& gen)
      : heads_(heads),
        qkv(register_module("qkv", std::make_shared<Linear>(dim, 3 * dim, qkv_bias, gen))),
        proj(register_module("proj", std::make_shared<Linear>(dim, dim, true, gen))) {
    JEPA_CHECK(heads > 0 && dim % heads == 0, "Attention", "dim ", dim, " is not divisible by ", heads, " heads");
  }

  // x (B, N, D) -> (B, N, D)
  Tensor forward(const Tensor& x) const { return proj->forward(self_attention(qkv->forward(x), heads_)); }

 private:
  int64_t heads_;

 public:
  std::shared_ptr<Linear> qkv, proj;
};

class Block : public Module {
 public:
  Block(int64_t dim, int64_t heads, double mlp_ratio, bool qkv_bias, double eps, Generator& gen)
      : norm1(register_module("norm1", std::make_shared<LayerNorm>(dim, eps))),
        attn(register_module("attn", std::make_shared<Attention>(dim, heads, qkv_bias, gen))),
        norm2(register_module("norm2", std::make_shared<LayerNorm>(dim, eps))),
        mlp(register_module("mlp", std::make_shared<MLP>(dim, static_cast<int64_t>(dim * mlp_ratio), gen))) {}

  Tensor forward(const Tensor& x) const {
    Tensor h = x + attn->forward(norm1->forward(x));
    return h + mlp->forward(norm2->forward(h));
  }

  std::shared_ptr<LayerNorm> norm1;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<LayerNorm> norm2;
  std::shared_ptr<MLP> mlp;
};

}  // namespace jepa::nn
