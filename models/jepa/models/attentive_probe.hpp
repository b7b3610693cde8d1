// Attentive probe (V-JEPA's evaluation head): learned query tokens cross-attend to frozen encoder
// features, then a linear head. As official: the queries are NOT normalized, only the keys and
// values are (norm1); cross-attention has no output projection; then an MLP with its own norm.
//   q = query + xattn(query, norm1(x));  q = q + mlp(norm2(q));  out = linear(q)
// Names: pooler.query_tokens, pooler.cross_attention_block.{norm1, xattn.q, xattn.kv, norm2,
// mlp.fc1, mlp.fc2}, linear.
#pragma once
#include <jepa/nn.hpp>

namespace jepa::models {

class CrossAttention : public nn::Module {
 public:
  CrossAttention(int64_t dim, int64_t heads, Generator& gen)
      : heads_(heads),
        q(register_module("q", std::make_shared<nn::Linear>(dim, dim, true, gen))),
        kv(register_module("kv", std::make_shared<nn::Linear>(dim, 2 * dim, true, gen))) {
    JEPA_CHECK(dim % heads == 0, "CrossAttention", "dim ", dim, " is not divisible by ", heads, " heads");
  }

  // queries (B, Q, D), x (B, N, D) -> (B, Q, D)
  Tensor forward(const Tensor& queries, const Tensor& x) const {
    const int64_t B = x.size(0), N = x.size(1), D = x.size(2), Q = queries.size(1), dh = D / heads_;
    Tensor qh = q->forward(queries).reshape({B, Q, heads_, dh}).transpose(1, 2);               // (B, H, Q, dh)
    Tensor kvh = kv->forward(x).reshape({B, N, 2, heads_, dh}).permute({2, 0, 3, 1, 4});      // (2, B, H, N, dh)
    Tensor out = scaled_dot_product_attention(qh, kvh.select(0, 0), kvh.select(0, 1));       // (B, H, Q, dh)
    return out.transpose(1, 2).reshape({B, Q, D});
  }

 private:
  int64_t heads_;

 public:
  std::shared_ptr<nn::Linear> q, kv;
};

class CrossAttentionBlock : public nn::Module {
 public:
  CrossAttentionBlock(int64_t dim, int64_t heads, double mlp_ratio, Generator& gen)
      : norm1(register_module("norm1", std::make_shared<nn::LayerNorm>(dim))),
        xattn(register_module("xattn", std::make_shared<CrossAttention>(dim, heads, gen))),
        norm2(register_module("norm2", std::make_shared<nn::LayerNorm>(dim))),
        mlp(register_module("mlp", std::make_shared<nn::MLP>(dim, static_cast<int64_t>(dim * mlp_ratio), gen))) {}

  Tensor forward(const Tensor& queries, const Tensor& x) const {
    Tensor q = queries + xattn->forward(queries, norm1->forward(x));
    return q + mlp->forward(norm2->forward(q));
  }

  std::shared_ptr<nn::LayerNorm> norm1;
  std::shared_ptr<CrossAttention> xattn;
  std::shared_ptr<nn::LayerNorm> norm2;
  std::shared_ptr<nn::MLP> mlp;
};

class AttentivePooler : public nn::Module {
 public:
  AttentivePooler(int64_t dim, int64_t heads, int64_t num_queries, Generator& gen) {
    query_tokens = register_parameter("query_tokens", trunc_normal({1, num_queries, dim}, nn::kInitStd, -2.0, 2.0, gen));
    cross_attention_block =
        register_module("cross_attention_block", std::make_shared<CrossAttentionBlock>(dim, heads, 4.0, gen));
  }
  // x (B, N, D) -> (B, Q, D)
  Tensor forward(const Tensor& x) const {
    return cross_attention_block->forward(query_tokens.expand({x.size(0), query_tokens.size(1), query_tokens.size(2)}), x);
  }

  Tensor query_tokens;
  std::shared_ptr<CrossAttentionBlock> cross_attention_block;
};

class AttentiveProbe : public nn::Module {
 public:
  AttentiveProbe(int64_t dim, int64_t heads, int64_t outputs, Generator& gen)
      : pooler(register_module("pooler", std::make_shared<AttentivePooler>(dim, heads, 1, gen))),
        linear(register_module("linear", std::make_shared<nn::Linear>(dim, outputs, true, gen))) {}

  // features (B, N, D) -> (B, outputs)
  Tensor forward(const Tensor& features) const { return linear->forward(pooler->forward(features).squeeze(1)); }

  std::shared_ptr<AttentivePooler> pooler;
  std::shared_ptr<nn::Linear> linear;
};

}  // namespace jepa::models
