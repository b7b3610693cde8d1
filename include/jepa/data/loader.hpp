// A batch loader that prepares the next batches on its own thread while training runs.
// Determinism: the order of epoch e is randperm(dataset_size) from a generator seeded by
// (seed, e), and batch s of epoch e holds positions [s * batch_size, (s + 1) * batch_size) of that
// order. make_batch receives the epoch, the step and the sample indices; augmentations seed a
// generator per sample with sample_generator(seed, epoch, index). So batch (e, s) is the same
// whatever the timing, the prefetch depth, or where the loader was started: starting at
// (start_epoch, start_step) resumes a run exactly.
// Epochs follow each other without end; the consumer decides when to stop.
// Threading: one worker fills a queue of at most `prefetch` batches. An exception in make_batch
// is delivered to the consumer by next(), after the batches made before it, and again on every
// later call. The destructor stops the worker (after the batch it is making) and joins it.
// The worker runs with autograd recording off and with `worker_threads` OpenMP threads (default
// one), so batch preparation does not compete with training for every core.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa {

// Mixes a seed with a stream number into an independent seed (splitmix64's finalizer on both).
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(seed ^ mix(stream));
}

namespace detail {
// Distinct streams for shuffling and for per-sample augmentation, so the two never share numbers.
inline constexpr uint64_t kShuffleStream = 1, kSampleStream = 2;
}  // namespace detail

// The generator for sample `index`'s augmentations in `epoch`.
inline Generator sample_generator(uint64_t seed, int64_t epoch, int64_t index) {
  const uint64_t per_epoch = derive_seed(derive_seed(seed, detail::kSampleStream), static_cast<uint64_t>(epoch));
  return Generator(derive_seed(per_epoch, static_cast<uint64_t>(index)));
}

// The sample order of `epoch`: a seeded permutation, or 0..n-1 without shuffling.
inline std::vector<int64_t> epoch_order(int64_t dataset_size, uint64_t seed, int64_t epoch, bool shuffle) {
  if (!shuffle) return arange(dataset_size).to_vector<int64_t>();
  Generator gen(derive_seed(derive_seed(seed, detail::kShuffleStream), static_cast<uint64_t>(epoch)));
  return randperm(dataset_size, gen);
}

struct LoaderOptions {
  int64_t dataset_size = 0;
  int64_t batch_size = 1;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;    // false: the last batch of an epoch may be smaller
  int64_t prefetch = 2;     // batches prepared ahead of the consumer
  int64_t start_epoch = 0;  // the first batch delivered is (start_epoch, start_step)
  int64_t start_step = 0;
  int worker_threads = 1;  // OpenMP threads for ops inside make_batch; training keeps the other cores

  int64_t steps_per_epoch() const {
    return drop_last ? dataset_size / batch_size : (dataset_size + batch_size - 1) / batch_size;
  }
};

// What make_batch is asked to build.
struct BatchPlan {
  int64_t epoch = 0;
  int64_t step = 0;              // within the epoch
  std::vector<int64_t> indices;  // dataset sample indices, in batch order
};

template <class Batch>
class BatchLoader {
 public:
  using MakeBatch = std::function<Batch(const BatchPlan&)>;

  struct Item {
    int64_t epoch;
    int64_t step;
    Batch batch;
  };

  BatchLoader(const LoaderOptions& options, MakeBatch make_batch)
      : options_(options), make_batch_(std::move(make_batch)) {
    const char* op = "BatchLoader";
    JEPA_CHECK(options.dataset_size > 0 && options.batch_size > 0 && options.prefetch > 0 && options.worker_threads > 0,
               op, "need dataset_size, batch_size, prefetch and worker_threads > 0, got ", options.dataset_size, ", ",
               options.batch_size, ", ", options.prefetch, ", ", options.worker_threads);
    JEPA_CHECK(options.steps_per_epoch() > 0, op, "a dataset of ", options.dataset_size,
               " samples gives no full batch of ", options.batch_size, " (drop_last is on)");
    JEPA_CHECK(options.start_epoch >= 0 && options.start_step >= 0 && options.start_step < options.steps_per_epoch(),
               op, "start (epoch ", options.start_epoch, ", step ", options.start_step, ") is outside the ",
               options.steps_per_epoch(), " steps of an epoch");
    worker_ = std::thread([this] { run(); });
  }

  ~BatchLoader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    space_.notify_all();
    worker_.join();
  }
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t steps_per_epoch() const { return options_.steps_per_epoch(); }

  // The next batch in order; waits for the worker when it is not ready yet.
  Item next() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    ready_.wait(lock, [&] { return !queue_.empty(); });
    Slot slot = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_.notify_one();
    if (slot.error) {
      error_ = slot.error;
      std::rethrow_exception(error_);
    }
    return Item{slot.epoch, slot.step, std::move(*slot.batch)};
  }

 private:
  struct Slot {
    int64_t epoch = 0, step = 0;
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void run() {
    NoGrad no_grad;
#ifdef _OPENMP
    omp_set_num_threads(options_.worker_threads);  // this thread's setting only
#endif
    const LoaderOptions& o = options_;
    for (int64_t epoch = o.start_epoch;; ++epoch) {
      const std::vector<int64_t> order = epoch_order(o.dataset_size, o.seed, epoch, o.shuffle);
      for (int64_t step = epoch == o.start_epoch ? o.start_step : 0; step < o.steps_per_epoch(); ++step) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          space_.wait(lock, [&] { return stopping_ || static_cast<int64_t>(queue_.size()) < o.prefetch; });
          if (stopping_) return;
        }
        BatchPlan plan{epoch, step, {}};
        const int64_t begin = step * o.batch_size, end = std::min(begin + o.batch_size, o.dataset_size);
        plan.indices.assign(order.begin() + begin, order.begin() + end);
        Slot slot{epoch, step, std::nullopt, nullptr};
        try {
          slot.batch.emplace(make_batch_(plan));
        } catch (...) {
          slot.error = std::current_exception();
        }
        const bool failed = slot.error != nullptr;
        push(std::move(slot));
        if (failed) return;
      }
    }
  }

  void push(Slot slot) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(slot));
    }
    ready_.notify_one();
  }

  LoaderOptions options_;
  MakeBatch make_batch_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Slot> queue_;
  bool stopping_ = false;
  std::exception_ptr error_;  // consumer side: the failure already delivered
  std::thread worker_;        // started in the constructor body, when every other member exists
};

}  // namespace jepa
