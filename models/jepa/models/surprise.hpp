// The intuitive-physics test of V-JEPA (Garrido et al., 2025) on the physics world
// (data/physics_clips.hpp). For each impossible event (a ball vanishes behind the occluder,
// teleports, or reverses without a collision), N scenes are rendered twice: as they happen, and
// with the event at frame e. The twins are identical before e, so the model gets the same context:
// the tubelets wholly before e. Its surprise at a clip is the predictor's L1 error against the
// layer-normed target-encoder features of every later tubelet (VJEPA::prediction_error). The score
// of a kind is the AUC (Mann-Whitney) of telling impossible from possible clips by that error, and
// the fraction of twin pairs where the impossible one is the more surprising.
// Three more figures per kind say whether the test can work at all: the twin gap (how far the
// twins' target features are apart after the event, mean L1 per feature) against the predictor's
// error on the possible clips, and the error of a forecast that knows no balls: the target
// features of the possible clip with every ball erased from the first predicted frame on (occluder
// and background only). An impossible event can only stand out when the gap is well above the
// error, since the error of every possible clip is noise the event must rise above; and a
// predictor whose error is not below the ball-free one has not learnt to forecast the balls, so its
// error measures how much ball is in view rather than how surprising it is.
// The clips are made once (surprise_clips, on the host) and can test any number of models.
#pragma once
#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include <jepa/data/physics_clips.hpp>
#include <jepa/models/vjepa.hpp>

namespace jepa::models {

// The twin pairs of one event kind.
struct SurpriseClips {
  Event kind = Event::none;
  int64_t tubelet = 1;                     // frames per tubelet of the models it tests
  Tensor possible, impossible, ball_free;  // (n, 1, T, H, W), normalized; clip i of each is scene i
  std::vector<int64_t> context_steps;      // per pair: the tubelets wholly before the event
};

namespace detail {

// The clips with every ball erased from frame first_frame[i] of clip i on: only the background and
// the clip's occluder, drawn by the world's own renderer.
inline Tensor erase_balls(const ClipBatch& clips, const PhysicsConfig& world, const std::vector<int64_t>& first_frame) {
  Tensor out = clips.frames.clone();
  const int64_t n = out.size(0), T = world.frames, plane = world.height * world.width;
  const std::vector<int64_t> occluder = clips.occluder.to_vector<int64_t>();
  std::vector<float> empty(static_cast<size_t>(plane));
  for (int64_t i = 0; i < n; ++i) {
    const physics::Occluder bar{occluder[static_cast<size_t>(2 * i)], occluder[static_cast<size_t>(2 * i + 1)],
                                world.occluder_grey};
    physics::World(world.height, world.width, 0, bar, {}).render(world.background, empty.data());
    float* clip = out.data<float>() + i * T * plane;
    for (int64_t t = first_frame[static_cast<size_t>(i)]; t < T; ++t)
      std::copy(empty.begin(), empty.end(), clip + t * plane);
  }
  return out;
}

}  // namespace detail

// `pairs` scenes of the run seeded `run_seed` (its surprise stream), twinned with each event kind
// the world allows (vanish needs the occluder), for models of `tubelet` frames per tubelet.
inline std::vector<SurpriseClips> surprise_clips(const PhysicsConfig& world, uint64_t run_seed, int64_t pairs,
                                                 int64_t tubelet) {
  JEPA_CHECK(pairs > 0 && tubelet > 0, "surprise_clips", "needs pairs and a tubelet > 0, got ", pairs, " and ", tubelet);
  const PixelStats stats = pixel_stats(world, run_seed);
  const std::vector<uint64_t> seeds = clip_seeds(run_seed, ClipStream::surprise, 0, pairs);
  const ClipBatch possible = generate_batch(world, seeds);
  const Tensor possible_frames = normalize_clips(possible.frames, stats);
  std::vector<Event> kinds{Event::teleport, Event::reverse};
  if (world.occluder) kinds.insert(kinds.begin(), Event::vanish);  // a ball can only vanish behind it
  std::vector<SurpriseClips> out;
  for (const Event kind : kinds) {
    const ClipBatch impossible = generate_batch(world, seeds, kind);
    SurpriseClips twins{kind, tubelet, possible_frames, normalize_clips(impossible.frames, stats), {}, {}};
    std::vector<int64_t> first_predicted_frame;
    for (const int64_t e : impossible.event_frame.to_vector<int64_t>()) {
      twins.context_steps.push_back(e / tubelet);
      first_predicted_frame.push_back(twins.context_steps.back() * tubelet);
    }
    twins.ball_free = normalize_clips(detail::erase_balls(possible, world, first_predicted_frame), stats);
    out.push_back(std::move(twins));
  }
  return out;
}

struct EventSurprise {
  Event kind = Event::none;
  double auc = 0;            // P(an impossible clip's error > a possible one's), ties one half
  double pair_accuracy = 0;  // fraction of twin pairs whose impossible clip is the more surprising
  double twin_gap = 0;       // mean L1 between the twins' target features after the event
  double possible_error = 0, ball_free_error = 0;  // mean errors of the predictor and of the ball-free forecast
};

// P(a random impossible error > a random possible one), ties counting one half.
inline double mann_whitney_auc(const std::vector<double>& impossible, const std::vector<double>& possible) {
  double wins = 0;
  for (const double a : impossible)
    for (const double b : possible) wins += a > b ? 1.0 : a == b ? 0.5 : 0.0;
  return wins / static_cast<double>(impossible.size() * possible.size());
}

namespace detail {

// Fraction of twin pairs whose impossible clip is the more surprising, ties counting one half.
inline double pair_accuracy(const std::vector<double>& impossible, const std::vector<double>& possible) {
  double wins = 0;
  for (size_t i = 0; i < impossible.size(); ++i)
    wins += impossible[i] > possible[i] ? 1.0 : impossible[i] == possible[i] ? 0.5 : 0.0;
  return wins / static_cast<double>(impossible.size());
}

inline double average(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

struct PairErrors {
  std::vector<double> possible, impossible, twin_gap, ball_free;
};

// The surprise of every clip of both sets, and the error of the ball-free forecast. Pairs are
// grouped by their number of context tubelets, so that each batch has rectangular masks.
inline PairErrors pair_errors(const VJEPA& model, int64_t mask_index, const SurpriseClips& twins, int64_t batch) {
  const Device device = model.target_encoder->parameters().at(0).device();
  const ViTConfig& c = model.config().encoder;
  const int64_t plane = c.grid() * c.grid(), tokens = c.num_patches(), n = twins.possible.size(0);
  const auto per_clip = [n] { return std::vector<double>(static_cast<size_t>(n)); };
  PairErrors out{per_clip(), per_clip(), per_clip(), per_clip()};
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) groups[twins.context_steps[static_cast<size_t>(i)]].push_back(i);
  for (const auto& [steps, members] : groups) {
    const int64_t kept = steps * plane;
    for (size_t first = 0; first < members.size(); first += static_cast<size_t>(batch)) {
      const size_t last = std::min(members.size(), first + static_cast<size_t>(batch));
      const std::vector<int64_t> part(members.begin() + static_cast<std::ptrdiff_t>(first),
                                      members.begin() + static_cast<std::ptrdiff_t>(last));
      const auto b = static_cast<int64_t>(part.size());
      const Tensor idx = from_vector(part, {b});
      const auto pick = [&](const Tensor& clips) { return index_select(clips, 0, idx).to(device); };
      const Tensor clips = cat({pick(twins.possible), pick(twins.impossible)});  // (2b, 1, T, H, W)
      const MaskPair masks{
          arange(kept).unsqueeze(0).expand({2 * b, kept}).contiguous().to(device),
          arange(kept, tokens, 1, DType::i64).unsqueeze(0).expand({2 * b, tokens - kept}).contiguous().to(device)};
      const Tensor features = model.target_features(cat({clips, pick(twins.ball_free)}));  // (3b, N, D)
      const Tensor targets = apply_masks(features.narrow(0, 0, 2 * b), {masks.target});     // (2b, Kp, D)
      const Tensor free_targets = apply_masks(features.narrow(0, 2 * b, b), {masks.target.narrow(0, 0, b)});
      const std::vector<double> errors = model.prediction_error(clips, masks, mask_index, targets).to_vector<double>();
      const Tensor possible_targets = targets.narrow(0, 0, b);
      const std::vector<double> gaps =
          mean(abs(possible_targets - targets.narrow(0, b, b)), {1, 2}).to_vector<double>();
      const std::vector<double> free = mean(abs(free_targets - possible_targets), {1, 2}).to_vector<double>();
      for (int64_t k = 0; k < b; ++k) {
        const auto at = static_cast<size_t>(part[k]);
        out.possible[at] = errors[static_cast<size_t>(k)];
        out.impossible[at] = errors[static_cast<size_t>(b + k)];
        out.twin_gap[at] = gaps[static_cast<size_t>(k)];
        out.ball_free[at] = free[static_cast<size_t>(k)];
      }
    }
  }
  return out;
}

}  // namespace detail

// The test of `model` (on any device) on each kind's twins, `batch` pairs per forward pass, with
// the predictor's mask token `mask_index` (the future-prediction mask's, when the run trained one).
inline std::vector<EventSurprise> evaluate_surprise(const VJEPA& model, const std::vector<SurpriseClips>& clips,
                                                    int64_t mask_index, int64_t batch = 32) {
  const int64_t mask_tokens = model.config().predictor.num_mask_tokens;
  JEPA_CHECK(batch > 0, "evaluate_surprise", "needs a batch size > 0, got ", batch);
  JEPA_CHECK(0 <= mask_index && mask_index < mask_tokens, "evaluate_surprise", "mask token ", mask_index,
             " is not one of the predictor's ", mask_tokens);
  std::vector<EventSurprise> out;
  for (const SurpriseClips& twins : clips) {
    JEPA_CHECK(twins.tubelet == model.config().encoder.tubelet, "evaluate_surprise", "the ", event_name(twins.kind),
               " clips were cut for tubelets of ", twins.tubelet, " frames, the model's are ",
               model.config().encoder.tubelet);
    const detail::PairErrors errors = detail::pair_errors(model, mask_index, twins, batch);
    out.push_back({twins.kind, mann_whitney_auc(errors.impossible, errors.possible),
                   detail::pair_accuracy(errors.impossible, errors.possible), detail::average(errors.twin_gap),
                   detail::average(errors.possible), detail::average(errors.ball_free)});
  }
  return out;
}

}  // namespace jepa::models
