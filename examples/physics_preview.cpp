// Writes a PNG filmstrip of one synthetic physics clip and its three impossible twins, one row each
// (possible, vanish, teleport, reverse; frames left to right, the event frame framed in red), then
// times batch generation and prints one JSON line of figures.
//   physics_preview [out.png] [seed] [image size] [pixels per image pixel]
// With `agent` first, the agent world instead: per level (reach, rooms, push) one random-action
// training clip, then an episode's start frame and, framed in green, its goal image.
//   physics_preview agent [out.png] [seed]
#include <png.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <jepa/data/agent_world.hpp>
#include <jepa/data/physics_world.hpp>

namespace {

struct Rgb {
  uint8_t r, g, b;
};

class Canvas {
 public:
  Canvas(int64_t height, int64_t width, Rgb fill) : height_(height), width_(width), pixels_(height * width, fill) {}

  void set(int64_t y, int64_t x, Rgb c) {
    if (y >= 0 && y < height_ && x >= 0 && x < width_) pixels_[y * width_ + x] = c;
  }
  void fill_rect(int64_t y0, int64_t x0, int64_t h, int64_t w, Rgb c) {
    for (int64_t y = y0; y < y0 + h; ++y)
      for (int64_t x = x0; x < x0 + w; ++x) set(y, x, c);
  }
  // A grey image (h, w) with values in [0, 1], each pixel drawn as a scale x scale block.
  void blit(int64_t y0, int64_t x0, const float* image, int64_t h, int64_t w, int64_t scale) {
    for (int64_t y = 0; y < h * scale; ++y)
      for (int64_t x = 0; x < w * scale; ++x) {
        const auto v = static_cast<uint8_t>(std::lround(std::clamp(image[(y / scale) * w + x / scale], 0.0f, 1.0f) * 255));
        set(y0 + y, x0 + x, {v, v, v});
      }
  }

  void write_png(const std::string& path) const {
    FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) throw jepa::Error("[physics_preview] cannot open " + path + " for writing");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
      png_destroy_write_struct(&png, &info);
      std::fclose(file);
      throw jepa::Error("[physics_preview] libpng failed writing " + path);
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, static_cast<png_uint_32>(width_), static_cast<png_uint_32>(height_), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < height_; ++y)
      png_write_row(png, reinterpret_cast<png_const_bytep>(pixels_.data() + y * width_));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
  }

 private:
  int64_t height_, width_;
  std::vector<Rgb> pixels_;
};

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
  const int64_t T = cfg.frames, H = cfg.height, W = cfg.width, scale = 4, gap = 6;
  const int64_t cell_h = H * scale + gap, cell_w = W * scale + gap;
  Canvas canvas(static_cast<int64_t>(rows.size()) * cell_h + gap, (T + 2) * cell_w + 2 * gap, {40, 48, 72});
  std::string steered_json, timing_json;
  for (size_t r = 0; r < rows.size(); ++r) {
    const jepa::AgentBatch clip = jepa::generate_agent_batch(cfg, rows[r], std::vector<uint64_t>{seed});
    const std::vector<float> frames = clip.frames.contiguous().to_vector<float>();  // (1, 1, T, H, W)
    const int64_t y0 = static_cast<int64_t>(r) * cell_h + gap;
    for (int64_t t = 0; t < T; ++t) canvas.blit(y0, t * cell_w + gap, frames.data() + t * H * W, H, W, scale);
    const jepa::AgentEpisode episode(cfg, rows[r], seed);
    const int64_t x_start = T * cell_w + 2 * gap, x_goal = x_start + cell_w;
    canvas.blit(y0, x_start, episode.observation().frame.to_vector<float>().data(), H, W, scale);
    canvas.fill_rect(y0 - gap / 2, x_goal - gap / 2, H * scale + gap, W * scale + gap, {40, 200, 80});
    canvas.blit(y0, x_goal, episode.goal().to_vector<float>().data(), H, W, scale);
    const std::string name = jepa::level_name(rows[r]), comma = r ? "," : "";
    steered_json += comma + "\"" + name + "\":" + std::to_string(static_cast<int64_t>(clip.steered.item()));
    const double ms = median_ms([&](int run) {
      std::vector<uint64_t> seeds(kBatch);
      std::iota(seeds.begin(), seeds.end(), seed + 1000 * (run + 1));
      jepa::generate_agent_batch(cfg, rows[r], seeds);
    });
    timing_json += comma + "\"" + name + "\":" + std::to_string(std::lround(kBatch * 1000.0 / ms));
  }
  canvas.write_png(out_path);
  std::printf("{\"example\":\"physics_preview\",\"world\":\"agent\",\"png\":\"%s\",\"seed\":%llu,\"frames\":%lld,"
              "\"steered\":{%s},\"batch\":%lld,\"clips_per_s\":{%s},\"threads\":%d}\n",
              out_path.c_str(), static_cast<unsigned long long>(seed), static_cast<long long>(T), steered_json.c_str(),
              static_cast<long long>(kBatch), timing_json.c_str(), jepa::cpu::max_threads());
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
  const int64_t scale = argc > 4 ? std::stoll(argv[4]) : std::max<int64_t>(1, 128 / cfg.width);

  const std::vector<jepa::Event> rows{jepa::Event::none, jepa::Event::vanish, jepa::Event::teleport, jepa::Event::reverse};
  const int64_t T = cfg.frames, H = cfg.height, W = cfg.width, gap = 6;
  const int64_t cell_h = H * scale + gap, cell_w = W * scale + gap;
  Canvas canvas(static_cast<int64_t>(rows.size()) * cell_h + gap, T * cell_w + gap, {40, 48, 72});
  std::string events_json;
  int64_t balls = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const jepa::Clip clip = jepa::generate_clip(cfg, seed, rows[r]);
    balls = clip.num_balls;
    const std::vector<float> frames = clip.frames.contiguous().to_vector<float>();  // (1, T, H, W)
    const int64_t y0 = static_cast<int64_t>(r) * cell_h + gap;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t x0 = t * cell_w + gap;
      if (t == clip.event_frame) canvas.fill_rect(y0 - gap / 2, x0 - gap / 2, H * scale + gap, W * scale + gap, {220, 40, 40});
      canvas.blit(y0, x0, frames.data() + t * H * W, H, W, scale);
    }
    if (rows[r] != jepa::Event::none)
      events_json += std::string(events_json.empty() ? "" : ",") + "\"" + jepa::event_name(rows[r]) + "\":{\"frame\":" +
                     std::to_string(clip.event_frame) + ",\"ball\":" + std::to_string(clip.event_ball) + "}";
  }
  canvas.write_png(out_path);

  const double ms = median_ms([&](int run) { jepa::generate_batch(cfg, seed + 1000 * (run + 1), kBatch); });
  std::printf(
      "{\"example\":\"physics_preview\",\"png\":\"%s\",\"seed\":%llu,\"frames\":%lld,\"size\":%lld,\"balls\":%lld,"
      "\"events\":{%s},\"batch\":%lld,\"batch_ms\":%.2f,\"clips_per_s\":%.0f,\"threads\":%d}\n",
      out_path.c_str(), static_cast<unsigned long long>(seed), static_cast<long long>(T), static_cast<long long>(H),
      static_cast<long long>(balls), events_json.c_str(), static_cast<long long>(kBatch), ms, kBatch * 1000.0 / ms,
      jepa::cpu::max_threads());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "physics_preview: %s\n", e.what());
  return 1;
}
