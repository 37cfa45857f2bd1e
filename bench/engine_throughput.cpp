// Throughput of the local engine's forward pass on one model directory, in
// fp32 and bf16 weights, against this machine's read bandwidth measured in
// the same run. Prints one markdown table (progress goes to stderr).
//
//   bench_engine_throughput MODEL_DIR [--dtype fp32|bf16|both] [--tokens 32]
//       [--warmup 4] [--prompt 512] [--streams 4,8,16] [--stream-tokens 48]
//       [--paired-rounds 6] [--threads 0] [--no-breakdown]
//
// Make the model with bench/run_engine_bench.sh (random weights in the exact
// R1-Distill-Qwen-1.5B shape). Drives dsgw::local::Transformer directly with
// token ids (no tokenizer, no sampler, no scheduler):
//   - read bandwidth: every thread sums its slice of a 1 GiB array with
//     512-bit (or 256-bit) loads; best of 7 passes, at the start, before
//     each dtype's decode and at the end; the roofline uses the best. Each
//     comes with its CPU share (thread CPU time / wall): below ~95%, other
//     load on the machine was taking the cores. For mapped (bf16) weights
//     also over the model files' own cached pages, as a diagnostic: on this
//     VM where those pages lie moves decode by up to a third.
//   - decode bytes: every weight the model holds except the embedding table
//     (of which decode reads one row), from Transformer::memory_usage().
//     Batch-1 decode reads all of them once per token, so
//     tokens/s <= bandwidth / decode bytes (the roofline).
//   - prefill: one prompt of --prompt tokens into an empty slot, timed once
//     (after a 16-token warm-up prefill in another slot).
//   - decode batch 1: --warmup steps, then --tokens timed steps, greedy.
//   - streams: Transformer::decode with batch B (slots 0..B-1) at different
//     positions (prompt - 8*s for stream s), their KV-cache prefixes copied
//     from the prefilled prompt; aggregate tokens/s over max(3, tokens / B)
//     steps (--stream-tokens) after one warm-up step.
//   - paired (--paired-rounds, 0 skips): batch 1 and the most streams again,
//     in alternating rounds of 2 batch-1 steps (in a slot of its own) and
//     one step of every stream, each side's tokens/s over the sum of its
//     steps. Both meet the same moments of the machine, so drift between
//     the sections above (this VM's speed swings by a third from one minute
//     to the next) cancels out of their ratio. Reported beside the
//     sections' own ratio, which the target row keeps using.
//   - memory: the engine's MemoryUsage, and peak RSS (getrusage ru_maxrss;
//     the peak is reset at the start of each dtype via /proc/self/clear_refs,
//     so it is the peak of that dtype's load and run, less the bandwidth
//     test's own 1 GiB), with how much of the resident memory is on 2 MB
//     pages (/proc/self/smaps_rollup; see MappedFile::huge_page_bytes).
//   - breakdown (--no-breakdown skips it): a decode step's matmuls alone,
//     through the engine's Linear::forward, on the model file's mapped
//     weights when their dtype is the run's (bf16 here), all layers, or else
//     on heap weights of the same shapes (on 2 MB pages, as the engine's
//     converted ones); the rest of a step is attention, norms, RoPE,
//     embedding and dispatch. Then the same matmuls with the work split over
//     all cores by a small pool in this program (the engine's gemv kernels
//     on Linear's blocks), and the step that would give.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define BENCH_X86 1
#endif

#include "backends/local/model/gemv.h"
#include "backends/local/model/kv_cache_storage.h"
#include "backends/local/model/linear.h"
#include "backends/local/model/openblas_core.h"
#include "backends/local/model/safetensors.h"
#include "backends/local/model/transformer.h"
#include "backends/local/model/weights.h"

namespace {

using Clock = std::chrono::steady_clock;
using dsgw::local::DType;
using dsgw::local::KvCache;
using dsgw::local::LoadOptions;
using dsgw::local::Transformer;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class... A>
void progress(const char* fmt, A... a) {
  std::fprintf(stderr, fmt, a...);
  std::fputc('\n', stderr);
}

// ---- read bandwidth ----------------------------------------------------

#ifdef BENCH_X86
__attribute__((target("avx512f"))) std::uint64_t sum_avx512(const std::uint64_t* p, std::size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 8));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 16));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 24));
  }
  // Stored, not _mm512_reduce_add_epi64: GCC 12's version trips -Wuninitialized.
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  std::uint64_t s = 0;
  for (auto l : lanes) s += l;
  for (; i < n; ++i) s += p[i];
  return s;
}

__attribute__((target("avx2"))) std::uint64_t sum_avx2(const std::uint64_t* p, std::size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  std::uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) s += p[i];
  return s;
}
#endif

const char* load_width() {
#ifdef BENCH_X86
  if (__builtin_cpu_supports("avx512f")) return "512-bit";
  if (__builtin_cpu_supports("avx2")) return "256-bit";
#endif
  return "scalar";
}

std::uint64_t sum_slice(const std::uint64_t* p, std::size_t n) {
#ifdef BENCH_X86
  if (__builtin_cpu_supports("avx512f")) return sum_avx512(p, n);
  if (__builtin_cpu_supports("avx2")) return sum_avx2(p, n);
#endif
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

struct Bandwidth {
  double gb_s = 0;
  double cpu_share = 0;  // of the best pass: thread CPU time / (wall x threads)
};

// Runs body(thread, begin, end) on `threads` threads, each over its own
// contiguous slice of [0, n) (slices a multiple of 32 words); returns the
// threads' CPU seconds in all.
template <class Body>
double for_each_slice(std::size_t n, int threads, Body&& body) {
  const std::size_t per = (n / static_cast<std::size_t>(threads)) / 32 * 32;
  std::vector<double> cpu(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const std::size_t b = static_cast<std::size_t>(t) * per;
    const std::size_t e = t + 1 == threads ? n : b + per;
    pool.emplace_back([&, t, b, e] {
      const double c0 = thread_cpu_seconds();
      body(static_cast<std::size_t>(t), b, e);
      cpu[static_cast<std::size_t>(t)] = thread_cpu_seconds() - c0;
    });
  }
  for (auto& th : pool) th.join();
  double total = 0;
  for (double c : cpu) total += c;
  return total;
}

// GB/s reading n words at p with `threads` threads, each summing its own
// slice; best of `passes`. The CPU share says how much of the cores the
// threads got (other load).
Bandwidth read_bandwidth_of(const std::uint64_t* p, std::size_t n, int threads, int passes) {
  std::vector<std::uint64_t> sums(static_cast<std::size_t>(threads));
  Bandwidth best;
  for (int pass = 0; pass < passes; ++pass) {
    auto t0 = Clock::now();
    const double cpu = for_each_slice(
        n, threads, [&](std::size_t t, std::size_t b, std::size_t e) { sums[t] = sum_slice(p + b, e - b); });
    const double wall = seconds_since(t0);
    const double gb_s = static_cast<double>(n * sizeof(std::uint64_t)) / wall / 1e9;
    if (gb_s > best.gb_s) best = {gb_s, cpu / (wall * threads)};
  }
  std::uint64_t total = 0;
  for (auto s : sums) total += s;
  if (total == 42) std::fputc(' ', stderr);  // keep the sums alive
  return best;
}

// The machine's read bandwidth: a fresh 1 GiB array, each slice first
// written by the thread that reads it (the roofline's yardstick).
Bandwidth read_bandwidth(int threads, int passes = 7) {
  constexpr std::size_t kBytes = std::size_t{1} << 30;
  constexpr std::size_t n = kBytes / sizeof(std::uint64_t);
  auto* p = static_cast<std::uint64_t*>(std::aligned_alloc(64, kBytes));
  if (p == nullptr) return {};
  for_each_slice(n, threads, [&](std::size_t, std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) p[i] = i & 7;
  });
  const Bandwidth bw = read_bandwidth_of(p, n, threads, passes);
  std::free(p);
  return bw;
}

// Read bandwidth over the page cache that holds the model's safetensors
// files, mapped as the engine maps them (MappedFile): the memory a mapped
// model's decode reads. On this VM it differs from the fresh array's by up
// to a third, with where the files' pages happen to lie (bench/RESULTS.md,
// 2026-11-29 09:15). Best of 3 passes per file, weighted by size.
std::optional<Bandwidth> model_file_read_bandwidth(const std::string& dir, int threads) {
  double bytes = 0, seconds = 0, share = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    auto file = dsgw::local::MappedFile::open(entry.path());
    if (!file) return std::nullopt;
    const std::size_t n = (*file)->size() / sizeof(std::uint64_t);
    if (n < 512) continue;  // too small to time
    // Page-aligned, so the sum's 64-byte loads are aligned.
    const auto* words = reinterpret_cast<const std::uint64_t*>((*file)->data());
    const Bandwidth b = read_bandwidth_of(words, n, threads, 3);
    const double file_bytes = static_cast<double>(n * sizeof(std::uint64_t));
    bytes += file_bytes;
    seconds += file_bytes / (b.gb_s * 1e9);
    share += b.cpu_share * file_bytes;
  }
  if (bytes == 0) return std::nullopt;
  return Bandwidth{bytes / seconds / 1e9, share / bytes};
}

// ---- memory --------------------------------------------------------------

// Resets the kernel's RSS high-water mark (VmHWM, which ru_maxrss reports).
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.close();
  return static_cast<bool>(f);
}

double peak_rss_gb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024 / 1e9;  // ru_maxrss is in KiB on Linux
}

// kB field of /proc/self/status or another such file, in GB.
double status_gb(const char* field, const char* file = "/proc/self/status") {
  std::ifstream f(file);
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + key.size(), nullptr) * 1024 / 1e9;
  }
  return 0;
}

// ---- the runs ------------------------------------------------------------

struct Options {
  std::string model_dir;
  std::vector<DType> dtypes{DType::kFloat32, DType::kBFloat16};
  int tokens = 32;
  int warmup = 4;
  int prompt = 512;
  std::vector<int> streams{4, 8, 16};
  int stream_tokens = 48;
  int paired_rounds = 6;
  int threads = 0;
  bool breakdown = true;
};

int stream_steps(const Options& o, int batch) { return std::max(3, (o.stream_tokens + batch - 1) / batch); }

std::int64_t kv_tokens(const Options& o) {
  int steps = 0;
  for (int b : o.streams) steps = std::max(steps, b > 0 ? 1 + stream_steps(o, b) : 0);
  return o.prompt + o.warmup + o.tokens + steps + 2 * o.paired_rounds + 8;
}

struct StreamResult {
  int batch = 0;
  double tok_s = 0;
  double step_ms = 0;
  double cores = 0;
};

struct Result {
  DType dtype{};
  double load_s = 0;
  double decode_bytes = 0;
  double weight_bytes = 0, mapped_bytes = 0, kv_bytes = 0;
  Bandwidth bandwidth;                      // measured just before this dtype's decode
  std::optional<Bandwidth> file_bandwidth;  // over the model files' cached pages (mapped weights only)
  double prefill_tok_s = 0;
  double decode_tok_s = 0;
  double decode_median_ms = 0;
  double decode_cores = 0;  // process CPU seconds per wall second while decoding
  std::vector<StreamResult> streams;
  std::optional<double> paired_one, paired_many;  // tok/s of batch 1 and of the most streams, paired
  double peak_rss = 0, rss_anon = 0, rss_file = 0;
  double huge_anon = 0, huge_file = 0;  // of which on 2 MB pages
  bool rss_reset = false;
  // Breakdown (see MatmulSet): matmul time per decode step, as the engine
  // runs it and split over all threads by this program.
  std::optional<double> mm1, mm1_split, mm_big, mm_big_split;
  bool mm_mapped = false;
  double widen_gb_s = 0;  // bf16 only
  std::string describe;
};

int argmax(std::span<const float> v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "engine_throughput: %s\n", what.c_str());
  std::exit(1);
}

// Sequences decoded greedily together, one token each per step.
struct Greedy {
  std::vector<int> slots;
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> positions;

  // `batch` streams in slots 0..batch-1, stream s from position prompt - 8*s
  // (a valid prefix of the same prompt).
  static Greedy streams(int batch, int prompt, std::int64_t vocab) {
    Greedy g;
    for (int s = 0; s < batch; ++s) {
      g.slots.push_back(s);
      g.tokens.push_back(static_cast<std::int32_t>((101 + 37 * s) % vocab));
      g.positions.push_back(std::max<std::int64_t>(1, prompt - 8 * s));
    }
    return g;
  }

  // One step of every sequence; its wall time in seconds.
  double step(Transformer& t, KvCache& cache) {
    const auto s0 = Clock::now();
    auto out = t.decode(cache, slots, tokens, positions);
    if (!out) die(out.error().message);
    const std::size_t v = static_cast<std::size_t>(t.vocab_size());
    for (std::size_t s = 0; s < slots.size(); ++s) tokens[s] = argmax(out->subspan(s * v, v));
    const double dt = seconds_since(s0);
    for (auto& p : positions) ++p;
    return dt;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// ---- where a decode step's time goes -----------------------------------

// A decode step's matmuls: 7 matrices per layer (q, k, v, o, gate, up, down)
// for some of the model's layers, plus the lm_head. Either the model file's
// own weights, mapped (what the engine uses when the file's dtype is the run's
// dtype), or synthetic heap tensors of the same shapes (3 layers' worth,
// cycled: more than the caches hold), which stand for weights the engine
// converted at load.
struct MatmulSet {
  std::vector<std::vector<at::Tensor>> layers;
  at::Tensor head;
  std::int64_t model_layers = 0;
  bool mapped = false;
  std::shared_ptr<dsgw::local::TensorStore> store;  // keeps the mapping
};

constexpr const char* kProjections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                        "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                        "mlp.down_proj"};

// Synthetic weights on the heap, on 2 MB pages like the engine's converted ones.
at::Tensor heap_weights(at::IntArrayRef shape, at::ScalarType st) {
  at::Tensor w = at::empty(shape, at::TensorOptions().dtype(st));
  dsgw::local::advise_huge_pages(w.data_ptr(), w.nbytes());
  return w.fill_(0.01);
}

MatmulSet matmul_set(const std::string& dir, const dsgw::local::ModelConfig& c, DType dtype) {
  const at::ScalarType st = dtype == DType::kBFloat16 ? at::kBFloat16 : at::kFloat;
  const auto want = dtype == DType::kBFloat16 ? dsgw::local::StDType::kBF16 : dsgw::local::StDType::kF32;
  MatmulSet m;
  m.model_layers = c.num_layers;
  if (auto store = dsgw::local::TensorStore::open(dir)) {
    m.store = std::make_shared<dsgw::local::TensorStore>(std::move(store).value());
    auto view = [&](const std::string& name) -> at::Tensor {
      const auto* info = m.store->find(name);
      if (info == nullptr || info->dtype != want ||
          reinterpret_cast<std::uintptr_t>(info->data) % dsgw::local::element_size(want) != 0)
        return at::Tensor();
      return at::from_blob(const_cast<std::byte*>(info->data), info->shape, at::TensorOptions().dtype(st));
    };
    bool ok = true;
    for (std::int64_t l = 0; l < c.num_layers && ok; ++l) {
      std::vector<at::Tensor> layer;
      for (const char* n : kProjections) {
        layer.push_back(view("model.layers." + std::to_string(l) + "." + n + ".weight"));
        ok = ok && layer.back().defined();
      }
      m.layers.push_back(std::move(layer));
    }
    m.head = view(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    if (ok && m.head.defined()) {
      m.mapped = true;
      return m;
    }
  }
  m = MatmulSet{};
  m.model_layers = c.num_layers;
  const std::int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  const std::int64_t ff = c.intermediate_size;
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{q, h},  {kv, h}, {kv, h}, {h, q},
                                                          {ff, h}, {ff, h}, {h, ff}};
  for (int l = 0; l < 3; ++l) {
    std::vector<at::Tensor> layer;
    for (const auto& [out, in] : shapes) layer.push_back(heap_weights({out, in}, st));
    m.layers.push_back(std::move(layer));
  }
  m.head = heap_weights({c.vocab_size, h}, st);
  return m;
}

// A minimal work-claiming pool: the caller and `threads - 1` workers take
// blocks from a shared counter; run() returns once every block is done, so a
// worker the OS has not scheduled yet (other load on these cores) holds
// nothing up, unlike an OpenMP barrier, which waits for every thread.
class BlockPool {
 public:
  explicit BlockPool(int threads) {
    for (int i = 1; i < threads; ++i)
      workers_.emplace_back([this] {
        omp_set_num_threads(1);  // ATen ops inside a block (bf16 widening) stay on this thread
        work_loop();
      });
  }
  ~BlockPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  void run(std::int64_t blocks, std::function<void(std::int64_t)> fn) {
    auto job = std::make_shared<Job>();
    job->fn = std::move(fn);
    job->blocks = blocks;
    if (!workers_.empty()) {
      {
        std::lock_guard lock(mutex_);
        job_ = job;
        ++generation_;
      }
      wake_.notify_all();
    }
    const int omp_threads = omp_get_max_threads();  // this thread's ICV only
    omp_set_num_threads(1);
    claim(*job);
    while (job->done.load(std::memory_order_acquire) < blocks) std::this_thread::yield();
    omp_set_num_threads(omp_threads);
  }

 private:
  struct Job {
    std::function<void(std::int64_t)> fn;
    std::int64_t blocks = 0;
    std::atomic<std::int64_t> next{0}, done{0};
  };

  static void claim(Job& j) {
    for (std::int64_t b = j.next.fetch_add(1); b < j.blocks; b = j.next.fetch_add(1)) {
      j.fn(b);
      j.done.fetch_add(1, std::memory_order_release);
    }
  }

  void work_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      claim(*job);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// y = x W^T as the engine does it: Linear::forward (pool == nullptr), or the
// same work split over all cores by this program's pool: for up to 8 rows the
// engine's gemv kernels over the blocks Linear::gemv would use, for more rows
// Linear::forward on blocks of output rows. What Linear would do if its own
// split ran on every thread.
void project(const at::Tensor& x, const at::Tensor& w, BlockPool* pool, int threads) {
  at::Tensor xi = x.narrow(1, 0, w.size(1)).contiguous();
  at::Tensor y = at::empty({x.size(0), w.size(0)}, at::kFloat);
  if (pool == nullptr) {
    dsgw::local::Linear linear;
    linear.forward(xi, w, at::Tensor(), y);
    return;
  }
  const std::int64_t out = w.size(0), in = w.size(1), rows = x.size(0);
  if (rows <= dsgw::local::kGemvMaxBatch) {
    dsgw::local::GemvArgs a;
    a.w = w.data_ptr();
    a.bf16 = w.scalar_type() == at::kBFloat16;
    a.in = in;
    a.x = xi.data_ptr<float>();
    a.x_stride = xi.stride(0);
    a.y = y.data_ptr<float>();
    a.y_stride = y.stride(0);
    a.batch = static_cast<int>(rows);
    a.call_id = dsgw::local::next_gemv_call_id();
    // Linear::gemv's blocks.
    const std::int64_t block = dsgw::local::gemv_block_rows(out, in, w.element_size(), threads);
    pool->run((out + block - 1) / block,
              [&](std::int64_t b) { dsgw::local::gemv_rows(a, b * block, std::min(out, (b + 1) * block)); });
    return;
  }
  // Linear::blocked_mm's blocks.
  std::int64_t block = std::max<std::int64_t>(16, 256 * 1536 / std::max<std::int64_t>(in, 1));
  block = std::min(block, std::max<std::int64_t>(16, (out + 4 * threads - 1) / (4 * threads)));
  pool->run((out + block - 1) / block, [&](std::int64_t b) {
    const std::int64_t o = b * block, n = std::min(block, out - o);
    at::Tensor part = y.narrow(1, o, n);
    dsgw::local::Linear linear;
    linear.forward(xi, w.narrow(0, o, n), at::Tensor(), part);
  });
}

// Milliseconds for one decode step's matmuls with `rows` rows: per pass,
// `layers_per_pass` layers' matmuls (cycling through the set's layers),
// scaled to the model's layer count, plus the lm_head. The fastest of
// `passes` passes: other load on these cores only ever adds time.
double step_matmul_ms(const MatmulSet& m, int rows, BlockPool* pool, int threads, int layers_per_pass,
                      int passes) {
  at::Tensor x = at::full({rows, m.layers[0][6].size(1)}, 0.5, at::kFloat);  // down_proj is the widest input
  // Warm-up: every matrix once (a fresh mapping faults its pages in).
  for (const auto& layer : m.layers)
    for (const auto& w : layer) project(x.narrow(0, 0, 1), w, pool, threads);
  project(x.narrow(0, 0, 1), m.head, pool, threads);
  double best = 0;
  std::size_t next = 0;
  for (int p = 0; p < passes; ++p) {
    auto t0 = Clock::now();
    for (int i = 0; i < layers_per_pass; ++i, ++next)
      for (const auto& w : m.layers[next % m.layers.size()]) project(x, w, pool, threads);
    const double layers = seconds_since(t0);
    t0 = Clock::now();
    project(x, m.head, pool, threads);
    const double ms =
        1e3 * (layers / layers_per_pass * static_cast<double>(m.model_layers) + seconds_since(t0));
    best = p == 0 ? ms : std::min(best, ms);
  }
  return best;
}

// GB/s of bf16 read when widening to fp32 with at::Tensor::copy_ in blocks
// of 256 rows, called from one thread (best of 3): what Linear's matmul path (more than 8 rows:
// prefill, large decode batches) does to every bf16 weight on every call.
double widen_gb_s(const at::Tensor& w) {
  if (w.scalar_type() != at::kBFloat16) return 0;
  const std::int64_t block = std::min<std::int64_t>(256, w.size(0)), in = w.size(1);
  const std::int64_t blocks = std::min<std::int64_t>(64, w.size(0) / block);
  at::Tensor scratch = at::empty({block, in}, at::kFloat);
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    auto t0 = Clock::now();
    for (std::int64_t b = 0; b < blocks; ++b) scratch.copy_(w.narrow(0, b * block, block));
    best = std::max(best, static_cast<double>(blocks * block * in * 2) / seconds_since(t0) / 1e9);
  }
  return best;
}

Result run_dtype(const Options& o, DType dtype) {
  Result r;
  r.dtype = dtype;
  r.rss_reset = reset_peak_rss();
  LoadOptions lo;
  lo.dtype = dtype;
  lo.threads = o.threads;
  lo.verify_checksums = false;
  progress("[%s] loading %s", std::string(dsgw::local::dtype_name(dtype)).c_str(), o.model_dir.c_str());
  auto t0 = Clock::now();
  auto loaded = Transformer::load(o.model_dir, lo);
  if (!loaded) die("load failed: " + loaded.error().message);
  Transformer& t = *loaded;
  r.load_s = seconds_since(t0);
  r.describe = t.describe();
  progress("  %s; load %.1f s", r.describe.c_str(), r.load_s);
  const auto& c = t.config();
  const int threads = at::get_num_threads();

  // Decode bytes: everything held except the embedding table (decode reads
  // one row of it). Tied embeddings are also the lm_head, read in full.
  const auto mem0 = t.memory_usage();
  const double elem = dtype == DType::kBFloat16 ? 2.0 : 4.0;
  const double embed_bytes = static_cast<double>(c.vocab_size) * static_cast<double>(c.hidden_size) * elem;
  r.decode_bytes = static_cast<double>(mem0.weight_bytes) - (c.tie_word_embeddings ? 0.0 : embed_bytes);

  const int max_streams =
      o.streams.empty() ? 1 : std::max(1, *std::max_element(o.streams.begin(), o.streams.end()));
  const int slots = max_streams + 1;  // the last for the paired batch-1 steps (and the warm-up)
  auto cache = t.make_kv_cache(slots, kv_tokens(o));
  if (!cache) die(cache.error().message);

  std::vector<std::int32_t> prompt(static_cast<std::size_t>(o.prompt));
  for (int i = 0; i < o.prompt; ++i)
    prompt[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((13 + i * 7919LL) % c.vocab_size);

  // Prefill: warm up (thread pools, BLAS, scratch buffers) in the last slot,
  // then the timed prompt in slot 0.
  {
    std::vector<std::int32_t> warm(prompt.begin(), prompt.begin() + std::min(16, o.prompt));
    if (auto w = t.forward(*cache, slots - 1, warm, 0); !w) die(w.error().message);
  }
  progress("  prefill %d tokens", o.prompt);
  t0 = Clock::now();
  auto logits = t.forward(*cache, 0, prompt, 0);
  const double prefill_s = seconds_since(t0);
  if (!logits) die(logits.error().message);
  r.prefill_tok_s = o.prompt / prefill_s;
  std::int32_t next = argmax(*logits);

  // The bandwidth test's 1 GiB array is not the engine's: keep it out of the peak.
  const double peak_before = peak_rss_gb();
  r.bandwidth = read_bandwidth(threads);
  if (mem0.mapped_weight_bytes > 0) r.file_bandwidth = model_file_read_bandwidth(o.model_dir, threads);
  r.rss_reset = reset_peak_rss() && r.rss_reset;
  progress("  read bandwidth %.1f GB/s; decode batch 1, %d + %d tokens", r.bandwidth.gb_s, o.warmup,
           o.tokens);

  // Batch-1 decode in slot 0, greedy.
  Greedy one{{0}, {next}, {o.prompt}};
  std::vector<double> steps;
  double timed = 0, cpu_timed = 0;
  for (int i = 0; i < o.warmup + o.tokens; ++i) {
    const double c0 = process_cpu_seconds();
    const double dt = one.step(t, *cache);
    if (i >= o.warmup) {
      steps.push_back(dt);
      timed += dt;
      cpu_timed += process_cpu_seconds() - c0;
    }
  }
  r.decode_tok_s = o.tokens / timed;
  r.decode_median_ms = 1e3 * median(steps);
  r.decode_cores = cpu_timed / timed;

  // Streams: every slot gets the prompt's keys and values, then stream s
  // decodes at position prompt - 8*s (a valid prefix of the same prompt).
  {
    at::NoGradGuard no_grad;
    auto& st = cache->storage();
    for (std::size_t l = 0; l < st.keys.size(); ++l) {
      for (int s = 1; s < slots; ++s) {
        st.keys[l].select(0, s).narrow(1, 0, o.prompt).copy_(st.keys[l].select(0, 0).narrow(1, 0, o.prompt));
        st.values[l]
            .select(0, s)
            .narrow(1, 0, o.prompt)
            .copy_(st.values[l].select(0, 0).narrow(1, 0, o.prompt));
      }
    }
  }
  for (int batch : o.streams) {
    if (batch < 1) continue;
    const int steps = stream_steps(o, batch);
    progress("  decode %d streams, 1 + %d steps", batch, steps);
    Greedy streams = Greedy::streams(batch, o.prompt, c.vocab_size);
    double total = 0, cpu_total = 0;
    std::vector<double> st;
    for (int i = 0; i < 1 + steps; ++i) {
      const double c0 = process_cpu_seconds();
      const double dt = streams.step(t, *cache);
      if (i >= 1) {
        total += dt;
        cpu_total += process_cpu_seconds() - c0;
        st.push_back(dt);
      }
    }
    r.streams.push_back({batch, batch * steps / total, 1e3 * median(st), cpu_total / total});
  }

  // Paired rounds: batch 1 in the last slot, from the end of the prompt, and
  // every stream as above, taking turns.
  if (max_streams > 1 && o.paired_rounds > 0) {
    progress("  paired: batch 1 and %d streams, %d rounds", max_streams, o.paired_rounds);
    Greedy alone{{slots - 1}, {one.tokens[0]}, {o.prompt}};
    Greedy streams = Greedy::streams(max_streams, o.prompt, c.vocab_size);
    double one_s = 0, many_s = 0;
    for (int round = 0; round < o.paired_rounds; ++round) {
      one_s += alone.step(t, *cache);
      one_s += alone.step(t, *cache);
      many_s += streams.step(t, *cache);
    }
    r.paired_one = 2.0 * o.paired_rounds / one_s;
    r.paired_many = static_cast<double>(max_streams) * o.paired_rounds / many_s;
  }

  const auto mem = t.memory_usage(&*cache);
  r.weight_bytes = static_cast<double>(mem.weight_bytes);
  r.mapped_bytes = static_cast<double>(mem.mapped_weight_bytes);
  r.kv_bytes = static_cast<double>(mem.kv_cache_bytes);
  r.peak_rss = std::max(peak_before, peak_rss_gb());
  r.rss_anon = status_gb("RssAnon");
  r.rss_file = status_gb("RssFile");
  r.huge_anon = status_gb("AnonHugePages", "/proc/self/smaps_rollup");
  r.huge_file = status_gb("FilePmdMapped", "/proc/self/smaps_rollup");

  if (o.breakdown) {
    progress("  timing the decode matmuls alone");
    const MatmulSet m = matmul_set(o.model_dir, c, dtype);
    r.mm_mapped = m.mapped;
    const int per_pass = m.mapped ? static_cast<int>(m.layers.size()) : 6;
    BlockPool pool(threads);
    r.mm1 = step_matmul_ms(m, 1, nullptr, threads, per_pass, 3);
    r.mm1_split = step_matmul_ms(m, 1, &pool, threads, per_pass, 3);
    if (max_streams > 1) {
      r.mm_big = step_matmul_ms(m, max_streams, nullptr, threads, per_pass, 2);
      r.mm_big_split = step_matmul_ms(m, max_streams, &pool, threads, per_pass, 2);
    }
    r.widen_gb_s = widen_gb_s(m.head);
  }
  return r;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  auto usage = [&] {
    std::fprintf(stderr,
                 "usage: %s MODEL_DIR [--dtype fp32|bf16|both] [--tokens 32] [--warmup 4] [--prompt 512]\n"
                 "          [--streams 4,8,16] [--stream-tokens 48] [--paired-rounds 6] [--threads 0]\n"
                 "          [--no-breakdown]\n",
                 argv[0]);
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--dtype") {
      const std::string v = value();
      o.dtypes.clear();
      if (v == "both") {
        o.dtypes = {DType::kFloat32, DType::kBFloat16};
      } else {
        auto d = dsgw::local::parse_dtype(v);
        if (!d) die(d.error().message);
        o.dtypes.push_back(*d);
      }
    } else if (a == "--tokens") {
      o.tokens = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--warmup") {
      o.warmup = std::max(0, std::atoi(value().c_str()));
    } else if (a == "--prompt") {
      o.prompt = std::max(16, std::atoi(value().c_str()));
    } else if (a == "--streams") {
      o.streams = parse_list(value());
    } else if (a == "--stream-tokens") {
      o.stream_tokens = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--paired-rounds") {
      o.paired_rounds = std::max(0, std::atoi(value().c_str()));
    } else if (a == "--threads") {
      o.threads = std::max(0, std::atoi(value().c_str()));
    } else if (a == "--no-breakdown") {
      o.breakdown = false;
    } else if (!a.empty() && a[0] == '-') {
      usage();
    } else if (o.model_dir.empty()) {
      o.model_dir = a;
    } else {
      usage();
    }
  }
  if (o.model_dir.empty()) usage();
  return o;
}

// llama.cpp on the reference box (DESIGN.md), 2 threads, same shape.
const char* llama_cpp(DType d, bool decode) {
  if (d == DType::kBFloat16) return decode ? "12.6" : "108";
  return decode ? "6.5" : "55";
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (auto problem = dsgw::local::rerun_with_fitting_openblas_core())
    std::fprintf(stderr, "%s\n", problem->c_str());
  const int threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto start = Clock::now();
  progress("read bandwidth: %d thread(s) and 1 thread", threads);
  const Bandwidth bw_start = read_bandwidth(threads);
  const Bandwidth bw_one = read_bandwidth(1);

  std::vector<Result> results;
  for (DType d : o.dtypes) results.push_back(run_dtype(o, d));
  const Bandwidth bw_end = read_bandwidth(threads);
  // The roofline uses the best measurement that had its cores (>= 90% CPU
  // share); with other load on a 2-core box the yardstick collapses towards
  // one core's bandwidth and would flatter a single-threaded engine.
  constexpr double kFullShare = 0.9;
  std::vector<Bandwidth> all{bw_start, bw_end};
  for (const auto& r : results) all.push_back(r.bandwidth);
  double bw = 0, bw_any = 0;
  for (const auto& b : all) {
    bw_any = std::max(bw_any, b.gb_s);
    if (b.cpu_share >= kFullShare) bw = std::max(bw, b.gb_s);
  }
  const bool yardstick_loaded = bw == 0;
  if (yardstick_loaded) bw = bw_any;

  std::printf("gemv kernel %s, %d intra-op threads; %s loads for the bandwidth; %.0f s in all\n",
              dsgw::local::gemv_kernel_name(), threads, load_width(), seconds_since(start));
  for (const auto& r : results) std::printf("%s\n", r.describe.c_str());
  // CPU share: how much of its cores a measurement got (the rest went to other load).
  std::printf("read bandwidth with %d threads (CPU share): %.1f GB/s (%.0f%%) at start", threads,
              bw_start.gb_s, 100 * bw_start.cpu_share);
  for (const auto& r : results)
    std::printf(", %.1f (%.0f%%) before %s decode", r.bandwidth.gb_s, 100 * r.bandwidth.cpu_share,
                std::string(dsgw::local::dtype_name(r.dtype)).c_str());
  std::printf(
      ", %.1f (%.0f%%) at end; 1 thread: %.1f GB/s (%.0f%%). Roofline uses the best with >= 90%% CPU "
      "share, %.1f GB/s.\n",
      bw_end.gb_s, 100 * bw_end.cpu_share, bw_one.gb_s, 100 * bw_one.cpu_share, bw);
  if (yardstick_loaded) {
    std::printf(
        "WARNING: every bandwidth measurement had < 90%% of its cores (other load): the roofline "
        "understates this machine and the %% of roofline overstates the engine. Rerun on a quiet "
        "machine.\n");
  }
  std::printf("\n");

  // The table: one column per dtype.
  std::printf("| measure |");
  for (const auto& r : results) std::printf(" %s |", std::string(dsgw::local::dtype_name(r.dtype)).c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < results.size(); ++i) std::printf("---|");
  std::printf("\n");
  auto row = [&](const char* name, auto&& cell) {
    std::printf("| %s |", name);
    for (const auto& r : results) std::printf(" %s |", cell(r).c_str());
    std::printf("\n");
  };
  auto fmt = [](const char* f, auto... v) {
    char buf[160];
    std::snprintf(buf, sizeof buf, f, v...);
    return std::string(buf);
  };
  auto stream = [](const Result& r, int b) -> const StreamResult* {
    for (const auto& s : r.streams)
      if (s.batch == b) return &s;
    return nullptr;
  };
  row("read bandwidth, all cores (GB/s, best in run)", [&](const Result&) { return fmt("%.1f", bw); });
  row("decode bytes per token (GB, weights less embedding)",
      [&](const Result& r) { return fmt("%.2f", r.decode_bytes / 1e9); });
  row("roofline = bandwidth / decode bytes (tok/s)",
      [&](const Result& r) { return fmt("%.2f", bw * 1e9 / r.decode_bytes); });
  row("**decode batch 1 (tok/s)**", [&](const Result& r) {
    return fmt("**%.2f** (median step %.0f ms; %.2f cores busy)", r.decode_tok_s, r.decode_median_ms,
               r.decode_cores);
  });
  // Against the best bandwidth of the run, and against the one measured just
  // before this decode (same load on the machine, within a minute).
  row("decode batch 1, % of roofline", [&](const Result& r) {
    const double eff = r.decode_tok_s * r.decode_bytes / 1e9;
    return fmt("%.0f%% (%.1f GB/s; %.0f%% of the %.1f GB/s measured just before)", 100 * eff / bw, eff,
               100 * eff / r.bandwidth.gb_s, r.bandwidth.gb_s);
  });
  row("read bandwidth over the model files' cached pages (GB/s)", [&](const Result& r) {
    if (!r.file_bandwidth) return std::string("- (weights not mapped)");
    const double eff = r.decode_tok_s * r.decode_bytes / 1e9;
    return fmt("%.1f (%.0f%% CPU share); batch 1 at %.0f%% of it", r.file_bandwidth->gb_s,
               100 * r.file_bandwidth->cpu_share, 100 * eff / r.file_bandwidth->gb_s);
  });
  row("llama.cpp decode, DESIGN.md (tok/s)",
      [&](const Result& r) { return std::string(llama_cpp(r.dtype, true)); });
  if (o.breakdown) {
    row("batch-1 median step: matmuls alone / rest (ms)", [&](const Result& r) {
      if (!r.mm1) return std::string("-");
      const double step = r.decode_median_ms;
      return fmt("%.0f / %.0f (matmuls at %.1f GB/s; %s weights)", *r.mm1, step - *r.mm1,
                 r.decode_bytes / (*r.mm1 * 1e6), r.mm_mapped ? "mapped" : "heap");
    });
    row(fmt("batch-1 matmuls split over %d threads by the bench's pool (ms)", threads).c_str(),
        [&](const Result& r) {
          if (!r.mm1 || !r.mm1_split) return std::string("-");
          // Projection: the step with its matmuls as fast as the split ones.
          const double step = r.decode_median_ms - *r.mm1 + *r.mm1_split;
          return fmt("%.0f (%.1f GB/s); step would be ~%.0f ms = %.2f tok/s, %.0f%% of roofline",
                     *r.mm1_split, r.decode_bytes / (*r.mm1_split * 1e6), step, 1e3 / step,
                     100 * (1e3 / step) * r.decode_bytes / (bw * 1e9));
        });
  }
  row(fmt("prefill %d tokens (tok/s)", o.prompt).c_str(),
      [&](const Result& r) { return fmt("%.1f", r.prefill_tok_s); });
  row("llama.cpp prefill 512, DESIGN.md (tok/s)",
      [&](const Result& r) { return std::string(llama_cpp(r.dtype, false)); });
  for (int b : o.streams) {
    row(fmt("decode %d streams, aggregate (tok/s)", b).c_str(), [&](const Result& r) {
      const StreamResult* s = stream(r, b);
      return s ? fmt("%.2f (%.2fx batch 1; step %.0f ms; %.2f cores)", s->tok_s, s->tok_s / r.decode_tok_s,
                     s->step_ms, s->cores)
               : std::string("-");
    });
  }
  const int max_streams = o.streams.empty() ? 0 : *std::max_element(o.streams.begin(), o.streams.end());
  if (o.breakdown && max_streams > 1) {
    row(fmt("%d-stream median step: matmuls alone / rest (ms)", max_streams).c_str(), [&](const Result& r) {
      const StreamResult* s = stream(r, max_streams);
      if (!r.mm_big || !s) return std::string("-");
      return fmt("%.0f / %.0f", *r.mm_big, s->step_ms - *r.mm_big);
    });
    row(fmt("%d-stream matmuls split over %d threads by the bench's pool (ms)", max_streams, threads).c_str(),
        [&](const Result& r) {
          const StreamResult* s = stream(r, max_streams);
          if (!r.mm_big || !r.mm_big_split || !r.mm1 || !r.mm1_split || !s) return std::string("-");
          const double step = s->step_ms - *r.mm_big + *r.mm_big_split;
          const double one = 1e3 / (r.decode_median_ms - *r.mm1 + *r.mm1_split);
          return fmt("%.0f; step would be ~%.0f ms = %.2f tok/s, %.2fx the projected batch 1",
                     *r.mm_big_split, step, max_streams * 1e3 / step, max_streams * 1e3 / step / one);
        });
  }
  if (o.breakdown) {
    row("bf16 -> fp32 widening, at::copy_ from 1 thread (GB/s of bf16)",
        [&](const Result& r) { return r.widen_gb_s > 0 ? fmt("%.2f", r.widen_gb_s) : std::string("-"); });
  }
  if (max_streams > 1 && o.paired_rounds > 0) {
    row(fmt("batch 1 / %d streams, paired rounds (tok/s)", max_streams).c_str(), [&](const Result& r) {
      if (!r.paired_one || !r.paired_many) return std::string("-");
      return fmt("%.2f / %.2f (%.2fx)", *r.paired_one, *r.paired_many, *r.paired_many / *r.paired_one);
    });
  }
  row("target: batch 1 >= 70% of roofline", [&](const Result& r) {
    const double pct = 100 * r.decode_tok_s * r.decode_bytes / (bw * 1e9);
    if (yardstick_loaded) return fmt("not judged (%.0f%%, yardstick under load)", pct);
    return fmt("%s (%.0f%%)", pct >= 70 ? "met" : "**missed**", pct);
  });
  row("target: 16 streams >= 6x batch 1", [&](const Result& r) {
    const StreamResult* s = stream(r, 16);
    if (!s) return std::string("not run");
    const double x = s->tok_s / r.decode_tok_s;
    return fmt("%s (%.2fx)", x >= 6 ? "met" : "**missed**", x);
  });
  row("engine: weights held (GB, mapped from file)",
      [&](const Result& r) { return fmt("%.2f (%.2f mapped)", r.weight_bytes / 1e9, r.mapped_bytes / 1e9); });
  row("engine: KV cache (MB)", [&](const Result& r) {
    return fmt("%.0f (%d slots x %d tokens)", r.kv_bytes / 1e6, std::max(1, max_streams) + 1,
               static_cast<int>(kv_tokens(o)));
  });
  row("peak RSS, ru_maxrss (GB)", [&](const Result& r) {
    return fmt("%.2f%s (at end: %.2f anon + %.2f file; on 2 MB pages: %.2f anon + %.2f file)", r.peak_rss,
               r.rss_reset ? "" : " (process peak)", r.rss_anon, r.rss_file, r.huge_anon, r.huge_file);
  });
  row("load time (s)", [&](const Result& r) { return fmt("%.1f", r.load_s); });
  return 0;
}
