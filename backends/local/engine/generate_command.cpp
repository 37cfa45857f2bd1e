#include "backends/local/engine/generate_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>

#include "backends/local/engine/local_backend.h"
#include "backends/local/model/openblas_core.h"

namespace dsgw::local {

const char* const kGenerateUsage =
    "usage: generate --model DIR --prompt TEXT [options]\n\n"
    "Loads the Hugging Face model in DIR and generates an answer to TEXT (as a\n"
    "chat message; --raw: as a raw prompt), streaming it to stdout. Reasoning is\n"
    "printed between <think> and </think>; figures go to stderr.\n\n"
    "options:\n"
    "  --device cpu|cuda|cuda:N     where to run (default cpu)\n"
    "  --dtype auto|fp32|bf16|fp16  weights in memory (default auto)\n"
    "  --max-tokens N               at most N new tokens (default 256)\n"
    "  --temperature T              0 = greedy (default 0.6)\n"
    "  --top-p P, --top-k K, --seed S\n"
    "  --threads N                  CPU threads (default: every core)\n"
    "  --raw                        no chat template\n";

namespace {

// Prints events as they come.
class StdoutSink final : public router::EventSink {
 public:
  bool emit(router::Event event) override {
    std::lock_guard lock(mutex_);
    if (const auto* d = std::get_if<router::Delta>(&event)) {
      if (!d->reasoning.empty()) {
        if (!in_reasoning_) std::fputs("<think>\n", stdout);
        in_reasoning_ = true;
        std::fputs(d->reasoning.c_str(), stdout);
      }
      if (!d->content.empty()) {
        if (in_reasoning_) std::fputs("\n</think>\n", stdout);
        in_reasoning_ = false;
        std::fputs(d->content.c_str(), stdout);
      }
      std::fflush(stdout);
    } else if (const auto* u = std::get_if<router::Usage>(&event)) {
      usage = *u;
    } else if (const auto* f = std::get_if<router::Finish>(&event)) {
      if (in_reasoning_) std::fputs("\n</think>", stdout);
      std::fputs("\n", stdout);
      finish_reason = f->reason;
    } else if (const auto* e = std::get_if<router::Failure>(&event)) {
      error = e->error.message;
    }
    return true;
  }
  bool cancelled() const override { return false; }
  void on_cancel(std::function<void()>) override {}

  router::Usage usage;
  std::string finish_reason;
  std::string error;

 private:
  std::mutex mutex_;
  bool in_reasoning_ = false;
};

struct Args {
  std::map<std::string, std::string> values;
  bool raw = false;
  bool help = false;
};

bool parse(const std::vector<std::string>& words, Args& out, std::string& error) {
  static const char* kKeys[] = {"model",       "prompt", "device", "dtype", "max-tokens",
                                "temperature", "top-p",  "top-k",  "seed",  "threads"};
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--help" || w == "-h") {
      out.help = true;
      continue;
    }
    if (w == "--raw") {
      out.raw = true;
      continue;
    }
    bool known = false;
    for (const char* k : kKeys) known = known || w == std::string("--") + k;
    if (!known) {
      error = "unknown option " + w;
      return false;
    }
    if (i + 1 >= words.size()) {
      error = "option " + w + " needs a value";
      return false;
    }
    out.values[w.substr(2)] = words[++i];
  }
  return true;
}

}  // namespace

int run_generate_command(const std::vector<std::string>& words) {
  Args args;
  std::string error;
  if (!parse(words, args, error)) {
    std::cerr << "generate: " << error << "\n\n" << kGenerateUsage;
    return 2;
  }
  if (args.help || !args.values.count("model") || !args.values.count("prompt")) {
    (args.help ? std::cout : std::cerr) << kGenerateUsage;
    return args.help ? 0 : 2;
  }
  if (auto problem = rerun_with_fitting_openblas_core()) std::cerr << "generate: " << *problem << "\n";
  EngineOptions options;
  options.model_dir = args.values["model"];
  options.max_batch = 1;
  options.max_queue = 1;
  try {
    if (args.values.count("device")) {
      auto d = parse_device(args.values["device"]);
      if (!d) throw std::invalid_argument(d.error().message);
      options.device = *d;
    }
    if (args.values.count("dtype") && args.values["dtype"] != "auto") {
      auto d = parse_dtype(args.values["dtype"]);
      if (!d) throw std::invalid_argument(d.error().message);
      options.dtype = *d;
    }
    if (args.values.count("threads")) options.threads = std::stoi(args.values["threads"]);

    router::Request request;
    request.id = "cli";
    request.model = "local";
    if (args.raw) {
      request.endpoint = router::Endpoint::kCompletion;
      request.prompt = args.values["prompt"];
    } else {
      request.messages.push_back({"user", args.values["prompt"], ""});
    }
    auto& s = request.sampling;
    s.max_tokens = args.values.count("max-tokens") ? std::stoi(args.values["max-tokens"]) : 256;
    if (args.values.count("temperature")) s.temperature = std::stod(args.values["temperature"]);
    if (args.values.count("top-p")) s.top_p = std::stod(args.values["top-p"]);
    if (args.values.count("top-k")) s.top_k = std::stoi(args.values["top-k"]);
    if (args.values.count("seed")) s.seed = std::stoll(args.values["seed"]);

    const auto started = std::chrono::steady_clock::now();
    LocalBackend backend({"local", "local", "device", {"local"}}, options);
    if (auto h = backend.health(); !h.usable) {
      std::cerr << "generate: " << h.reason << "\n";
      return 1;
    }
    const auto loaded = std::chrono::steady_clock::now();
    StdoutSink sink;
    backend.generate(request, sink);
    const auto done = std::chrono::steady_clock::now();
    if (!sink.error.empty()) {
      std::cerr << "generate: " << sink.error << "\n";
      return 1;
    }
    const double gen_s = std::chrono::duration<double>(done - loaded).count();
    const auto stats = backend.stats();
    std::fprintf(stderr,
                 "load %.2f s | prompt %lld tokens | generated %lld tokens in %.2f s (%.2f tok/s) | finish %s"
                 " | weights %.1f MiB | kv cache %.1f MiB",
                 std::chrono::duration<double>(loaded - started).count(),
                 static_cast<long long>(sink.usage.prompt_tokens),
                 static_cast<long long>(sink.usage.completion_tokens), gen_s,
                 sink.usage.completion_tokens / std::max(gen_s, 1e-9), sink.finish_reason.c_str(),
                 stats ? stats->memory.weight_bytes / 1048576.0 : 0.0,
                 stats ? stats->memory.kv_cache_bytes / 1048576.0 : 0.0);
    if (stats && stats->memory.cuda_max_allocated_bytes) {
      std::fprintf(stderr, " | cuda max allocated %.1f MiB",
                   *stats->memory.cuda_max_allocated_bytes / 1048576.0);
    }
    std::fputs("\n", stderr);
    return 0;
  } catch (const std::exception& e) {  // std::stoi and friends on bad numbers
    std::cerr << "generate: bad option value: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace dsgw::local
