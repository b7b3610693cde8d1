// The two tensor utilities the official JEPA code builds its masking on:
// - apply_masks(x, masks): for each (B, K) index tensor, the tokens x[b, idx[b, k]], and the
//   results for all masks concatenated along the batch: (len(masks) * B, K, D).
// - repeat_interleave_batch(x, B, r): split x into chunks of B along dim 0 and repeat each chunk
//   r times in place: [c0, c1] -> [c0 x r, c1 x r].
#pragma once
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa::models {

inline Tensor apply_masks(const Tensor& x, const std::vector<Tensor>& masks) {
  JEPA_CHECK(x.dim() == 3, "apply_masks", "expected tokens (B, N, D), got shape ", x.shape());
  std::vector<Tensor> parts;
  parts.reserve(masks.size());
  for (const Tensor& m : masks) {
    JEPA_CHECK(m.dim() == 2 && m.size(0) == x.size(0), "apply_masks", "mask of shape ", m.shape(),
               " does not match tokens of shape ", x.shape(), " (expected (B, K) with B = ", x.size(0), ")");
    parts.push_back(gather(x, 1, m.unsqueeze(-1).expand({m.size(0), m.size(1), x.size(2)})));
  }
  return parts.size() == 1 ? parts[0] : cat(parts, 0);
}

inline Tensor repeat_interleave_batch(const Tensor& x, int64_t batch, int64_t repeats) {
  JEPA_CHECK(batch > 0 && x.size(0) % batch == 0, "repeat_interleave_batch", "dim 0 of shape ", x.shape(),
             " is not a multiple of batch ", batch);
  if (repeats == 1) return x;
  const int64_t chunks = x.size(0) / batch;
  Shape split = x.shape(), expanded, merged = x.shape();
  split[0] = batch;
  split.insert(split.begin(), {chunks, 1});
  expanded = split;
  expanded[1] = repeats;
  merged[0] = chunks * repeats * batch;
  return x.reshape(split).expand(expanded).reshape(merged);
}

}  // namespace jepa::models
