// Modules, position tables, the I-JEPA model's shapes and names, flat buffers and optimizers.
#include <doctest/doctest.h>

#include <jepa/models/ijepa.hpp>
#include <jepa/models/vjepa.hpp>
#include <jepa/models/attentive_probe.hpp>
#include <jepa/models/checkpoint.hpp>
#include <jepa/models/linear_probe.hpp>
#include <jepa/models/trainer.hpp>
#include <jepa/optim/adamw.hpp>
#include <jepa/optim/clip.hpp>
#include <jepa/optim/ema.hpp>

#include "../examples/jepa/training_run.hpp"
#include "test_files.hpp"

using namespace jepa;

TEST_CASE("ViT state_dict names and order follow the official checkpoints") {
  Generator gen(0);
  models::ViTConfig c = models::vit_config("vit_tiny", 28, 4, 1);
  c.depth = 2;
  models::VisionTransformer vit(c, gen);
  auto sd = vit.state_dict();
  CHECK(sd[0].first == "pos_embed");
  CHECK(sd[0].second.shape() == Shape{1, 49, 192});
  CHECK(sd[1].first == "patch_embed.proj.weight");
  CHECK(sd[1].second.shape() == Shape{192, 1, 4, 4});
  CHECK(sd[3].first == "blocks.0.norm1.weight");
  CHECK(sd[5].first == "blocks.0.attn.qkv.weight");
  CHECK(sd[5].second.shape() == Shape{576, 192});
  CHECK(sd.back().first == "norm.bias");
  CHECK(vit.named_parameters().size() == sd.size() - 1);  // pos_embed is a fixed buffer
  Tensor x = uniform({3, 1, 28, 28}, 0, 1, gen);
  CHECK(vit.forward(x).shape() == Shape{3, 49, 192});
  Tensor m = from_vector(std::vector<int64_t>{0, 5, 9, 1, 2, 3, 48, 47, 46}, {3, 3});
  CHECK(vit.forward(x, {m, m}).shape() == Shape{6, 3, 192});
}

TEST_CASE("ViT outputs of the last blocks: the last is forward(x); probes pool and concatenate them") {
  Generator gen(1);
  models::ViTConfig c = models::vit_config("vit_tiny", 8, 4, 1);
  c.depth = 3;
  models::VisionTransformer vit(c, gen);
  const Tensor x = uniform({2, 1, 8, 8}, 0, 1, gen);
  NoGrad no_grad;
  const std::vector<Tensor> last_two = vit.forward_last_blocks(x, 2);
  REQUIRE(last_two.size() == 2);
  const auto whole = vit.forward(x).to_vector<double>(), last = last_two[1].to_vector<double>();
  for (size_t i = 0; i < whole.size(); ++i) CHECK(last[i] == doctest::Approx(whole[i]).epsilon(1e-6));
  const std::vector<Tensor> all = vit.forward_last_blocks(x, 0);
  REQUIRE(all.size() == 3);
  CHECK(max(abs(all[1] - last_two[0])).item() == 0.0);
  CHECK(max(abs(all[0] - all[1])).item() > 1e-3);  // different blocks, different features
  const Tensor pooled = models::pooled_features(vit, x, 0, 1);  // batch of one image: the concatenation
  CHECK(pooled.shape() == Shape{2, 3 * 192});
  const auto p = pooled.to_vector<double>(), first_block = mean(all[0], {1}).to_vector<double>();
  for (int64_t d = 0; d < 192; ++d) CHECK(p[static_cast<size_t>(d)] == doctest::Approx(first_block[static_cast<size_t>(d)]).epsilon(1e-6));
  CHECK_THROWS_WITH(vit.forward_last_blocks(x, 4), doctest::Contains("between 0 (all) and the depth 3, got 4"));
}

TEST_CASE("residual-branch init is scaled by 1/sqrt(2 l) and load_state_dict checks names and shapes") {
  Generator gen(1);
  models::ViTConfig c = models::vit_config("vit_small", 32, 8, 3);
  c.depth = 3;
  models::VisionTransformer vit(c, gen);
  auto std_of = [](const Tensor& t) { return std::sqrt(mean(pow(t, 2)).item()); };
  CHECK(std_of(vit.blocks[0]->attn->qkv->weight) == doctest::Approx(0.02).epsilon(0.05));
  CHECK(std_of(vit.blocks[2]->mlp->fc2->weight) == doctest::Approx(0.02 / std::sqrt(6.0)).epsilon(0.05));
  auto sd = vit.state_dict();
  sd.pop_back();
  CHECK_THROWS_WITH_AS(vit.load_state_dict(sd), "[load_state_dict] missing tensor 'norm.bias' (expected shape [384])",
                       Error);
  sd = vit.state_dict();
  sd[1].second = zeros({2});
  CHECK_THROWS_WITH_AS(vit.load_state_dict(sd),
                       "[load_state_dict] tensor 'patch_embed.proj.weight' has shape [2], the model expects [384, 3, 8, 8]",
                       Error);
}

TEST_CASE("patch embedding equals a strided convolution") {
  Generator gen(2);
  nn::PatchEmbed pe(2, 3, 2, gen);
  Tensor x = uniform({1, 2, 4, 6}, -1, 1, gen);
  Tensor y = pe.forward(x);  // (1, 6, 3)
  const auto xv = x.to_vector<double>(), w = pe.proj->weight.to_vector<double>(), b = pe.proj->bias.to_vector<double>();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t d = 0; d < 3; ++d) {
        double acc = b[d];
        for (int64_t c = 0; c < 2; ++c)
          for (int64_t u = 0; u < 2; ++u)
            for (int64_t v = 0; v < 2; ++v)
              acc += w[((d * 2 + c) * 2 + u) * 2 + v] * xv[(c * 4 + 2 * i + u) * 6 + 2 * j + v];
        CHECK(y.at({0, i * 3 + j, d}) == doctest::Approx(acc).epsilon(1e-5));
      }
}

TEST_CASE("sin-cos tables: I-JEPA puts the column first, V-JEPA time-row-column truncated to D") {
  Tensor t = nn::sincos_2d_ijepa(8, 3, 3);
  // token (row 1, col 2) = 5: first half encodes column 2, second half row 1
  const double w1 = std::pow(10000.0, -0.5);
  CHECK(t.at({5, 0}) == doctest::Approx(std::sin(2.0)));
  CHECK(t.at({5, 1}) == doctest::Approx(std::sin(2.0 * w1)));
  CHECK(t.at({5, 2}) == doctest::Approx(std::cos(2.0)));
  CHECK(t.at({5, 4}) == doctest::Approx(std::sin(1.0)));
  CHECK(t.at({5, 7}) == doctest::Approx(std::cos(1.0 * w1)));
  Tensor v = nn::sincos_3d_vjepa(10, 2, 2, 2);  // each axis ceil(10/6)*2 = 4 dims, cut to 10
  CHECK(v.shape() == Shape{8, 10});
  // token (t=1, i=0, j=1) = 5: [sin t, sin t w, cos t, cos t w | row ... | col (first 2 of 4)]
  CHECK(v.at({5, 0}) == doctest::Approx(std::sin(1.0)));
  CHECK(v.at({5, 4}) == doctest::Approx(0.0));
  CHECK(v.at({5, 6}) == doctest::Approx(1.0));
  CHECK(v.at({5, 8}) == doctest::Approx(std::sin(1.0)));
}

TEST_CASE("I-JEPA loss runs forward and backward with the official batch layout") {
  Generator gen(3);
  models::IJEPAConfig cfg;
  cfg.encoder = models::vit_config("vit_tiny", 16, 4, 1);
  cfg.encoder.depth = 2;
  cfg.predictor = models::predictor_for(cfg.encoder, 96, 2);
  models::IJEPA model(cfg, gen);
  Tensor images = uniform({2, 1, 16, 16}, 0, 1, gen);
  Tensor ctx = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9}, {2, 6});
  Tensor t1 = from_vector(std::vector<int64_t>{10, 11, 14, 15}, {2, 2});
  Tensor t2 = from_vector(std::vector<int64_t>{12, 13, 0, 1}, {2, 2});
  Tensor z = model.predictor->forward(model.encoder->forward(images, {ctx}), {ctx}, {t1, t2});
  CHECK(z.shape() == Shape{4, 2, 192});
  Tensor loss = model.loss(images, {ctx}, {t1, t2});
  CHECK(loss.dim() == 0);
  CHECK(loss.item() > 0);
  loss.backward();
  CHECK(model.encoder->blocks[0]->attn->qkv->weight.grad().defined());
  CHECK(model.predictor->mask_tokens[0].grad().defined());
  CHECK(!model.target_encoder->blocks[0]->attn->qkv->weight.grad().defined());
  // The target encoder starts as an exact copy of the context encoder.
  CHECK(model.target_encoder->norm->weight.to_vector<double>() == model.encoder->norm->weight.to_vector<double>());
}

TEST_CASE("flat buffers rebind parameters; EMA and clipping act on them") {
  Generator gen(4);
  nn::Linear a(3, 2, true, gen), b(3, 2, true, gen);
  auto fa = std::make_shared<optim::FlatParameters>(a.named_parameters());
  optim::FlatParameters fb(b.named_parameters(), false);
  CHECK(fa->numel() == 8);
  CHECK(a.weight.impl().storage == fa->values().impl().storage);
  CHECK(a.bias.offset() == 6);
  sum(a.forward(ones({1, 3}))).backward();
  CHECK(fa->grads().to_vector<double>() == std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1});
  const auto before_a = fa->values().to_vector<double>(), before_b = fb.values().to_vector<double>();
  optim::ema_update(fb, *fa, 0.75);
  const auto after = b.weight.to_vector<double>();
  for (int i = 0; i < 6; ++i) CHECK(after[i] == doctest::Approx(0.75 * before_b[i] + 0.25 * before_a[i]));
  const double norm = optim::clip_grad_norm({fa}, 1.0);
  CHECK(norm == doctest::Approx(std::sqrt(8.0)));
  CHECK(a.weight.grad().at({0, 0}) == doctest::Approx(1.0 / (std::sqrt(8.0) + 1e-6)));
}

TEST_CASE("V-JEPA: tubelet tokens, zero-init mask tokens per config, L1 (and loss_exp) loss over configs") {
  Generator gen(5);
  models::VJEPAConfig cfg;
  cfg.encoder = models::vit_config("vit_tiny", 16, 8, 1);
  cfg.encoder.depth = 1;
  cfg.encoder.frames = 4;
  cfg.predictor = models::predictor_for(cfg.encoder, 48, 1);
  cfg.predictor.num_mask_tokens = 2;
  models::VJEPA model(cfg, gen);
  CHECK(model.encoder->pos_embed.shape() == Shape{1, 8, 192});  // 2 x 2 x 2 tubelets
  CHECK(model.predictor->mask_tokens.size() == 2);
  CHECK(max(abs(model.predictor->mask_tokens[1])).item() == 0);
  auto names = model.predictor->state_dict();
  CHECK(names[0].first == "mask_tokens.0");
  Tensor clips = uniform({2, 1, 4, 16, 16}, 0, 1, gen);
  models::MaskPair a{from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5}, {2, 3}),
                     from_vector(std::vector<int64_t>{6, 7, 6, 7}, {2, 2})};
  models::MaskPair b{from_vector(std::vector<int64_t>{7, 6}, {2, 1}), from_vector(std::vector<int64_t>{0, 1, 2, 3}, {2, 2})};
  Tensor loss = model.loss(clips, {a, b});
  CHECK(loss.item() > 0);
  loss.backward();
  CHECK(model.predictor->mask_tokens[1].grad().defined());
  CHECK(model.encoder->patch_embed->proj->weight.grad().defined());
  // The per-clip surprise is the loss's L1 term, clip by clip: their mean is the one-config loss.
  const Tensor error = model.prediction_error(clips, a, 0);
  CHECK(error.shape() == Shape{2});
  CHECK(mean(error).item() == doctest::Approx(model.loss(clips, {a}).item()).epsilon(1e-6));

  // loss_exp p: mean |z - h|^p / p per config, averaged over configs. Non-zero mask tokens, so the
  // two configs' predictions differ.
  cfg.loss_exp = 2;
  models::VJEPA squared(cfg, gen);
  for (Tensor& token : squared.predictor->mask_tokens) token.detach().copy_(uniform(token.shape(), -1, 1, gen));
  const Tensor features = squared.target_features(clips);
  double expected = 0;
  for (int64_t i = 0; i < 2; ++i) {
    const models::MaskPair& m = i == 0 ? a : b;
    const Tensor diff = squared.predict(clips, m, i) - models::apply_masks(features, {m.target});
    expected += mean(diff * diff).item() / 2 / 2;
  }
  CHECK(squared.loss(clips, {a, b}).item() == doctest::Approx(expected).epsilon(1e-5));
  cfg.loss_exp = 0.5;
  CHECK_THROWS_WITH_AS(models::VJEPA(cfg, gen), doctest::Contains("loss_exp must be >= 1"), Error);
}

TEST_CASE("attentive probe: shapes, names, gradients reach the query token") {
  Generator gen(6);
  models::AttentiveProbe probe(16, 2, 5, gen);
  auto names = probe.state_dict();
  CHECK(names[0].first == "pooler.query_tokens");
  CHECK(names[3].first == "pooler.cross_attention_block.xattn.q.weight");
  CHECK(names.back().first == "linear.bias");
  Tensor feats = uniform({3, 7, 16}, -1, 1, gen);
  Tensor out = probe.forward(feats);
  CHECK(out.shape() == Shape{3, 5});
  sum(out).backward();
  CHECK(probe.pooler->query_tokens.grad().defined());
  // Permuting the tokens does not change the pooled result (no positions inside the probe).
  Tensor perm = index_select(feats, 1, from_vector(std::vector<int64_t>{6, 5, 4, 3, 2, 1, 0}, {7}));
  NoGrad ng;
  const auto a = probe.forward(feats).to_vector<double>(), b = probe.forward(perm).to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-5));
}

TEST_CASE("linear probe: separable classes are read off an encoder's pooled features and off pixels") {
  // Two classes of 8 x 8 images: the bright half is the left one or the right one, plus noise.
  Generator gen(9);
  const auto images = [&](int64_t n) {
    std::vector<float> pixels;
    std::vector<int64_t> labels;
    const std::vector<float> noise = uniform({n, 64}, -0.1, 0.1, gen).to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      labels.push_back(i % 2);
      for (int64_t p = 0; p < 64; ++p)
        pixels.push_back(((p % 8 < 4) == (i % 2 == 0) ? 1.0f : 0.0f) + noise[static_cast<size_t>(i * 64 + p)]);
    }
    return models::LabelledImages{from_vector(pixels, {n, 1, 8, 8}), from_vector(labels, {n})};
  };
  const models::LabelledImages train = images(64), test = images(32);
  models::ViTConfig c = models::vit_config("vit_tiny", 8, 4, 1);
  c.depth = 2;
  const models::VisionTransformer encoder(c, gen);
  const models::ProbeOptions options{20, 16, 1e-2, 1e-4, 0};
  std::vector<std::string> calls;
  const models::ProbeResult r = models::evaluate_linear_probe(
      encoder, train, test, 1, options,
      [&](const char* split, int64_t done, int64_t total) {
        calls.push_back(std::string(split) + " " + std::to_string(done) + "/" + std::to_string(total));
      });
  CHECK(calls == std::vector<std::string>{"train 0/64", "train 64/64", "test 0/32", "test 32/32"});
  CHECK(r.test_accuracy == 1.0);
  // The same as probing the last block's pooled features by hand.
  const models::ProbeResult by_hand = models::linear_probe(models::pooled_features(encoder, train.images, 1),
                                                           train.labels, models::pooled_features(encoder, test.images, 1),
                                                           test.labels, options);
  CHECK(r.train_accuracy == by_hand.train_accuracy);
  const models::ProbeResult pixels =
      models::linear_probe(train.images.flatten(1), train.labels, test.images.flatten(1), test.labels, options);
  CHECK(pixels.test_accuracy == 1.0);
}

namespace {

// A one-block I-JEPA on 8x8 images of 4x4 patches and one batch of two images, for trainer tests.
struct TinyIJEPA {
  static models::IJEPAConfig config() {
    models::IJEPAConfig cfg;
    cfg.encoder = models::vit_config("vit_tiny", 8, 4, 1);
    cfg.encoder.depth = 1;
    cfg.predictor = models::predictor_for(cfg.encoder, 48, 1);
    return cfg;
  }
  Generator gen{7};
  const models::IJEPAConfig cfg = config();
  models::IJEPA model{cfg, gen};
  const Tensor images = uniform({2, 1, 8, 8}, 0, 1, gen);
  const Tensor ctx = from_vector(std::vector<int64_t>{0, 1, 0, 2}, {2, 2}), tgt = from_vector(std::vector<int64_t>{3, 3}, {2, 1});

  Tensor loss() { return model.loss(images, {ctx}, {tgt}); }
};

}  // namespace

TEST_CASE("trainer: one step follows the schedules, updates by AdamW, moves the target by EMA") {
  TinyIJEPA tiny;
  models::IJEPA& model = tiny.model;
  models::TrainRecipe recipe;
  recipe.epochs = 2;
  recipe.iterations_per_epoch = 5;
  recipe.warmup_epochs = 1;
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, recipe);
  const double target_before = model.target_encoder->norm->bias.at({0});
  auto stats = trainer.step([&] { return tiny.loss(); });
  CHECK(stats.step == 1);
  CHECK(stats.lr == doctest::Approx(2e-4 + (1e-3 - 2e-4) / 5));
  CHECK(stats.momentum == doctest::Approx(0.996));
  // EMA: the target moved 0.4% of the way to the updated encoder.
  const double enc = model.encoder->norm->bias.at({0});
  CHECK(model.target_encoder->norm->bias.at({0}) == doctest::Approx(0.996 * target_before + 0.004 * enc));
  CHECK_THROWS_WITH_AS(trainer.step([&] { return tiny.loss() * NAN; }),
                       "[train] loss is nan at step 2; stopping before the update (the last checkpoint is intact)",
                       Error);
}

namespace {

std::vector<double> qkv_weights(const models::IJEPA& model) {
  return model.encoder->blocks[0]->attn->qkv->weight.to_vector<double>();
}

}  // namespace

TEST_CASE("checkpoint: saved, loaded and resumed, a run goes on as if never stopped") {
  TinyIJEPA tiny;
  models::TrainRecipe recipe;
  recipe.epochs = 2;
  recipe.iterations_per_epoch = 5;
  models::JepaTrainer trainer(tiny.model.encoder, tiny.model.predictor, tiny.model.target_encoder, recipe);
  trainer.step([&] { return tiny.loss(); });
  const nn::NamedTensors state = models::training_state(trainer);
  CHECK(state.front().first == "encoder.pos_embed");
  CHECK(state.back().first == "optimizer.adamw.step");
  const std::string path = test::temp_path("resume.safetensors");
  models::save_checkpoint(path, trainer, {models::kIJEPACheckpointFormat, {{"seed", "7"}}, "/runs/easy"});

  const models::Checkpoint saved = models::load_checkpoint(path, models::kIJEPACheckpointFormat);
  CHECK(saved.step == 1);
  CHECK(saved.info.format == "jepa-cpp/ijepa-train/1");
  CHECK(saved.info.init_from == "/runs/easy");
  CHECK(saved.info.settings == std::map<std::string, std::string>{{"seed", "7"}});  // format keys apart
  REQUIRE(saved.tensors.size() == state.size());
  for (size_t i = 0; i < state.size(); ++i) CHECK(saved.tensors[i].first == state[i].first);

  models::IJEPA other(tiny.cfg, tiny.gen);
  models::JepaTrainer resumed(other.encoder, other.predictor, other.target_encoder, recipe);
  REQUIRE(qkv_weights(other) != qkv_weights(tiny.model));
  models::resume(resumed, saved);
  CHECK(resumed.steps_taken() == 1);
  CHECK(qkv_weights(other) == qkv_weights(tiny.model));
  const models::StepStats a = trainer.step([&] { return tiny.loss(); });
  const models::StepStats b = resumed.step([&] { return other.loss(tiny.images, {tiny.ctx}, {tiny.tgt}); });
  CHECK(a.loss == b.loss);  // the AdamW moments came back too: the second updates agree
  CHECK(other.predictor->predictor_proj->weight.to_vector<double>() ==
        tiny.model.predictor->predictor_proj->weight.to_vector<double>());
}

TEST_CASE("checkpoint: warm_start takes the three modules' weights and leaves the optimizer fresh") {
  TinyIJEPA trained, fresh;
  models::TrainRecipe recipe;
  recipe.iterations_per_epoch = 5;
  models::JepaTrainer first(trained.model.encoder, trained.model.predictor, trained.model.target_encoder, recipe);
  first.step([&] { return trained.loss(); });
  const std::string path = test::temp_path("warm.safetensors");
  models::save_checkpoint(path, first, {models::kIJEPACheckpointFormat, {}, ""});
  models::JepaTrainer second(fresh.model.encoder, fresh.model.predictor, fresh.model.target_encoder, recipe);
  REQUIRE(qkv_weights(fresh.model) != qkv_weights(trained.model));  // the step moved the trained copy away
  models::warm_start(second, models::load_checkpoint(path, models::kIJEPACheckpointFormat));
  CHECK(second.steps_taken() == 0);
  const nn::NamedTensors a = models::training_state(first), b = models::training_state(second);
  REQUIRE(a.size() == b.size());
  int modules_tensors = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].first == b[i].first);
    if (a[i].first.rfind("optimizer.", 0) == 0) continue;
    CHECK(a[i].second.to_vector<double>() == b[i].second.to_vector<double>());
    ++modules_tensors;
  }
  CHECK(modules_tensors > 0);
}

TEST_CASE("checkpoint: a file written to the documented format (docs/checkpoints.md) resumes") {
  // Names spelled out as another program writing the format would, not through training_state.
  TinyIJEPA tiny;
  nn::NamedTensors tensors;
  for (const auto& [prefix, module] : std::vector<std::pair<std::string, const nn::Module*>>{
           {"encoder.", tiny.model.encoder.get()},
           {"predictor.", tiny.model.predictor.get()},
           {"target_encoder.", tiny.model.target_encoder.get()}})
    for (const auto& [name, t] : module->state_dict()) tensors.emplace_back(prefix + name, t);
  const int64_t encoder_size = tiny.model.encoder->num_parameters();
  const int64_t predictor_size = tiny.model.predictor->num_parameters();
  tensors.emplace_back("optimizer.adamw.0.m", full({encoder_size}, 0.5));
  tensors.emplace_back("optimizer.adamw.0.v", full({encoder_size}, 0.25));
  tensors.emplace_back("optimizer.adamw.1.m", full({predictor_size}, 0.5));
  tensors.emplace_back("optimizer.adamw.1.v", full({predictor_size}, 0.25));
  tensors.emplace_back("optimizer.adamw.step", from_vector(std::vector<int64_t>{12}, {1}));
  const std::string path = test::temp_path("documented.safetensors");
  save_safetensors(path, tensors, {{"format", "jepa-cpp/ijepa-train/1"}, {"step", "12"}, {"lr", "0.001"}});

  const models::Checkpoint saved = models::load_checkpoint(path, models::kIJEPACheckpointFormat);
  CHECK(saved.step == 12);
  CHECK(saved.info.init_from.empty());
  CHECK(saved.info.settings.at("lr") == "0.001");
  TinyIJEPA other;
  models::TrainRecipe recipe;
  recipe.iterations_per_epoch = 20;
  models::JepaTrainer trainer(other.model.encoder, other.model.predictor, other.model.target_encoder, recipe);
  models::resume(trainer, saved);
  CHECK(trainer.steps_taken() == 12);
  const nn::NamedTensors moments = trainer.optimizer().state_dict();
  REQUIRE(moments[3].first == "adamw.1.v");
  CHECK(moments[3].second.to_vector<double>() == std::vector<double>(static_cast<size_t>(predictor_size), 0.25));
}

TEST_CASE("checkpoint: other kinds, other versions and broken metadata are refused by name") {
  TinyIJEPA tiny;
  models::TrainRecipe recipe;
  models::JepaTrainer trainer(tiny.model.encoder, tiny.model.predictor, tiny.model.target_encoder, recipe);
  const std::string path = test::temp_path("kinds.safetensors");
  models::save_checkpoint(path, trainer, {models::kIJEPACheckpointFormat, {}, ""});
  CHECK_THROWS_WITH_AS(models::load_checkpoint(path, models::kVJEPACheckpointFormat),
                       ("[checkpoint] " + path +
                        " is not a jepa-cpp/vjepa-train/1 checkpoint (its format is jepa-cpp/ijepa-train/1)").c_str(),
                       Error);
  CHECK_THROWS_WITH_AS(models::load_checkpoint(path, "jepa-cpp/ijepa-train/2"),
                       ("[checkpoint] " + path + " is version 1 of the jepa-cpp/ijepa-train format; this build "
                        "reads version 2").c_str(),
                       Error);
  CHECK_THROWS_WITH_AS(models::save_checkpoint(path, trainer, {models::kIJEPACheckpointFormat, {{"step", "3"}}, ""}),
                       ("[save_checkpoint] the run's settings may not use the format's key 'step' (" + path + ")").c_str(),
                       Error);

  const nn::NamedTensors state = models::training_state(trainer);
  const auto write = [&](const std::map<std::string, std::string>& metadata) {
    save_safetensors(path, state, metadata);
    return path;
  };
  CHECK_THROWS_WITH_AS(models::load_checkpoint(write({{"seed", "0"}}), models::kIJEPACheckpointFormat),
                       ("[checkpoint] " + path +
                        " is not a jepa-cpp/ijepa-train/1 checkpoint: its metadata has no format tag").c_str(),
                       Error);
  CHECK_THROWS_WITH_AS(models::load_checkpoint(write({{"format", "jepa-cpp/ijepa-train/1"}}), models::kIJEPACheckpointFormat),
                       ("[checkpoint] " + path + " records no step in its metadata").c_str(), Error);
  CHECK_THROWS_WITH_AS(
      models::load_checkpoint(write({{"format", "jepa-cpp/ijepa-train/1"}, {"step", "3x"}}), models::kIJEPACheckpointFormat),
      ("[checkpoint] " + path + ": its step metadata '3x' is not a step number").c_str(), Error);
  // The metadata's step and the optimizer's own count must agree, or a resumed run's schedules
  // would start at the wrong step.
  const models::Checkpoint mismatched =
      models::load_checkpoint(write({{"format", "jepa-cpp/ijepa-train/1"}, {"step", "3"}}), models::kIJEPACheckpointFormat);
  CHECK_THROWS_WITH_AS(models::resume(trainer, mismatched),
                       ("[checkpoint] " + path + " records step 3 but its optimizer state is at step 0").c_str(), Error);
}

TEST_CASE("train-* commands: when no batch can be made, the run stops with the steps done saved") {
  TinyIJEPA tiny;
  models::IJEPA& model = tiny.model;
  models::TrainRecipe recipe;
  recipe.iterations_per_epoch = 20;
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, recipe);
  LoaderOptions options;
  options.dataset_size = 40;
  options.batch_size = 2;
  // Like a physics world whose clip generation gives up on one seed, late in a long epoch.
  BatchLoader<int> loader(options, [](const BatchPlan& plan) {
    JEPA_CHECK(plan.step < 3, "generate_clip", "no scene for step ", plan.step + 1);
    return 0;
  });
  tool::TrainingRun run;
  run.out = test::temp_path("loader-failure");
  run.checkpoint.format = "test-run/1";
  run.batch_size = 2;
  run.steps_per_epoch = run.total_steps = 20;  // the regular checkpoint would come at step 20
  CHECK_THROWS_WITH_AS(
      tool::run_training<int>(trainer, loader, [&](const int&) { return tiny.loss(); }, run),
      "[generate_clip] no scene for step 4", Error);
  CHECK(trainer.steps_taken() == 3);
  const models::Checkpoint saved = models::load_checkpoint(models::checkpoint_in(run.out), run.checkpoint.format);
  CHECK(saved.step == 3);
  models::IJEPA other(tiny.cfg, tiny.gen);
  models::JepaTrainer resumed(other.encoder, other.predictor, other.target_encoder, recipe);
  models::resume(resumed, saved);
  CHECK(resumed.steps_taken() == 3);
  CHECK(qkv_weights(other) == qkv_weights(model));
}
