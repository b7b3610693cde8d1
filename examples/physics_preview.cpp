// Writes a PNG filmstrip of one synthetic physics clip and its three impossible twins, one row each
// (possible, vanish, teleport, reverse; frames left to right, the event frame framed in red), then
// times batch generation and prints one JSON line of figures.
//   physics_preview [out.png] [seed] [image size] [pixels per image pixel]
// With `agent` first, the agent world instead: per level (reach, rooms, push) one random-action
// training clip, then an episode's start frame and, framed in green, its goal image.
//   physics_preview agent [out.png] [seed]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <jepa/data/agent_world.hpp>
#include <jepa/data/physics_world.hpp>
#include <jepa/io/json.hpp>

#include "jepa/png.hpp"

namespace {

// Draws a grey image (h, w) with values in [0, 1] at (x0, y0), each pixel as a scale x scale block.
void blit(jepa::tool::Image& canvas, int x0, int y0, const float* image, int h, int w, int scale) {
  for (int y = 0; y < h * scale; ++y)
    for (int x = 0; x < w * scale; ++x) {
      const float value = std::clamp(image[(y / scale) * w + x / scale], 0.0f, 1.0f);
      const auto v = static_cast<uint8_t>(std::lround(value * 255));
      canvas.set(x0 + x, y0 + y, {v, v, v});
    }
}

// Batch generation speed: the median time of 7 calls.
template <class Generate>
double median_ms(Generate generate) {
  std::vector<double> ms;
  for (int run = 0; run < 7; ++run) {
    const auto start = std::chrono::steady_clock::now();
    generate(run);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(ms.begin(), ms.begin() + 3, ms.end());
  return ms[3];
}

constexpr int64_t kBatch = 64;

void preview_agent(const std::string& out_path, uint64_t seed) {
  const jepa::AgentConfig cfg;
  const std::vector<jepa::Level> rows{jepa::Level::reach, jepa::Level::rooms, jepa::Level::push};
  const int T = static_cast<int>(cfg.frames), H = static_cast<int>(cfg.height), W = static_cast<int>(cfg.width);
  const int scale = 4, gap = 6, cell_h = H * scale + gap, cell_w = W * scale + gap;
  jepa::tool::Image canvas((T + 2) * cell_w + 2 * gap, static_cast<int>(rows.size()) * cell_h + gap, {40, 48, 72});
  jepa::json::ObjectWriter steered, clips_per_s;
  for (size_t r = 0; r < rows.size(); ++r) {
    const jepa::AgentBatch clip = jepa::generate_agent_batch(cfg, rows[r], std::vector<uint64_t>{seed});
    const std::vector<float> frames = clip.frames.contiguous().to_vector<float>();  // (1, 1, T, H, W)
    const int y0 = static_cast<int>(r) * cell_h + gap;
    for (int t = 0; t < T; ++t) blit(canvas, t * cell_w + gap, y0, frames.data() + t * H * W, H, W, scale);
    const jepa::AgentEpisode episode(cfg, rows[r], seed);
    const int x_start = T * cell_w + 2 * gap, x_goal = x_start + cell_w;
    blit(canvas, x_start, y0, episode.observation().frame.to_vector<float>().data(), H, W, scale);
    jepa::tool::fill_rect(canvas, x_goal - gap / 2, y0 - gap / 2, x_goal + W * scale + gap / 2 - 1,
                          y0 + H * scale + gap / 2 - 1, {40, 200, 80});
    blit(canvas, x_goal, y0, episode.goal().to_vector<float>().data(), H, W, scale);
    const std::string name = jepa::level_name(rows[r]);
    steered.add(name, static_cast<int64_t>(clip.steered.item()));
    const double ms = median_ms([&](int run) {
      std::vector<uint64_t> seeds(kBatch);
      std::iota(seeds.begin(), seeds.end(), seed + 1000 * (run + 1));
      jepa::generate_agent_batch(cfg, rows[r], seeds);
    });
    clips_per_s.add(name, kBatch * 1000.0 / ms);
  }
  jepa::tool::write_png(out_path, canvas);
  std::printf("%s\n", jepa::json::ObjectWriter()
                          .add("example", "physics_preview")
                          .add("world", "agent")
                          .add("png", out_path)
                          .add("seed", seed)
                          .add("frames", T)
                          .add("steered", steered)
                          .add("batch", kBatch)
                          .add("clips_per_s", clips_per_s)
                          .add("threads", jepa::cpu::max_threads())
                          .str()
                          .c_str());
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc > 1 && std::string(argv[1]) == "agent") {
    preview_agent(argc > 2 ? argv[2] : "agent_preview.png", argc > 3 ? std::stoull(argv[3]) : 7);
    return 0;
  }
  const std::string out_path = argc > 1 ? argv[1] : "physics_preview.png";
  const uint64_t seed = argc > 2 ? std::stoull(argv[2]) : 7;
  jepa::PhysicsConfig cfg;
  cfg.height = cfg.width = argc > 3 ? std::stoll(argv[3]) : 32;
  const int T = static_cast<int>(cfg.frames), H = static_cast<int>(cfg.height), W = static_cast<int>(cfg.width);
  const int scale = argc > 4 ? std::stoi(argv[4]) : std::max(1, 128 / W);

  const std::vector<jepa::Event> rows{jepa::Event::none, jepa::Event::vanish, jepa::Event::teleport, jepa::Event::reverse};
  const int gap = 6, cell_h = H * scale + gap, cell_w = W * scale + gap;
  jepa::tool::Image canvas(T * cell_w + gap, static_cast<int>(rows.size()) * cell_h + gap, {40, 48, 72});
  jepa::json::ObjectWriter events;
  int64_t balls = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const jepa::Clip clip = jepa::generate_clip(cfg, seed, rows[r]);
    balls = clip.num_balls;
    const std::vector<float> frames = clip.frames.contiguous().to_vector<float>();  // (1, T, H, W)
    const int y0 = static_cast<int>(r) * cell_h + gap;
    for (int t = 0; t < T; ++t) {
      const int x0 = t * cell_w + gap;
      if (t == clip.event_frame)
        jepa::tool::fill_rect(canvas, x0 - gap / 2, y0 - gap / 2, x0 + W * scale + gap / 2 - 1,
                              y0 + H * scale + gap / 2 - 1, {220, 40, 40});
      blit(canvas, x0, y0, frames.data() + t * H * W, H, W, scale);
    }
    if (rows[r] != jepa::Event::none)
      events.add(jepa::event_name(rows[r]),
                 jepa::json::ObjectWriter().add("frame", clip.event_frame).add("ball", clip.event_ball));
  }
  jepa::tool::write_png(out_path, canvas);

  const double ms = median_ms([&](int run) { jepa::generate_batch(cfg, seed + 1000 * (run + 1), kBatch); });
  std::printf("%s\n", jepa::json::ObjectWriter()
                          .add("example", "physics_preview")
                          .add("png", out_path)
                          .add("seed", seed)
                          .add("frames", T)
                          .add("size", H)
                          .add("balls", balls)
                          .add("events", events)
                          .add("batch", kBatch)
                          .add("batch_ms", ms)
                          .add("clips_per_s", kBatch * 1000.0 / ms)
                          .add("threads", jepa::cpu::max_threads())
                          .str()
                          .c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "physics_preview: %s\n", e.what());
  return 1;
}
