// How much latency dsgw adds to a small non-streamed chat completion.
//
// Starts a minimal OpenAI-compatible upstream in this process and the real
// dsgw binary in front of it, then drives both at a fixed request rate
// (open loop: latency is measured from each request's scheduled time, so a
// stall shows up instead of being hidden). The direct run is the yardstick:
// added latency = dsgw percentile - direct percentile, in the same run.
// A second yardstick is a bare proxy on a general-purpose HTTP library: a
// cpp-httplib forwarder in this process (server and keep-alive client, no
// parsing, no policy, no accounting) in front of the same upstream. dsgw was
// built on cpp-httplib until its own HTTP layer (common/http/) replaced it.
// Finally it raises the rate until more than 1% of requests fail or the
// offered rate can no longer be held.
//
// usage: bench_gateway_overhead [--dsgw build/dsgw] [--rate 1000] [--seconds 10]
//                               [--connections 8]
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::microseconds;

constexpr const char* kRequestBody =
    R"({"model":"bench","messages":[{"role":"user","content":"Say hi."}],"max_tokens":8})";
constexpr const char* kUpstreamAnswer =
    R"({"id":"x","object":"chat.completion","created":0,"model":"up","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";

struct Options {
  std::string dsgw = "build/dsgw";
  double rate = 1000;
  double seconds = 10;
  int connections = 8;
};

struct RunResult {
  double offered_rate;
  double achieved_rate;
  size_t errors = 0;
  std::vector<double> latencies_us;  // successful requests, sorted

  double percentile(double p) const {
    if (latencies_us.empty()) return 0;
    const size_t i = std::min(latencies_us.size() - 1, static_cast<size_t>(p * latencies_us.size()));
    return latencies_us[i];
  }
  double error_rate() const {
    const double total = static_cast<double>(errors + latencies_us.size());
    return total == 0 ? 1.0 : errors / total;
  }
};

// Open-loop load: each connection sends its share of the rate on a fixed schedule.
RunResult drive(int port, double rate, double seconds, int connections) {
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const double interval_s = connections / rate;
  const size_t per_connection = static_cast<size_t>(seconds / interval_s);
  std::vector<std::vector<double>> latencies(connections);
  std::atomic<size_t> errors{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(std::chrono::seconds(2));
      latencies[c].reserve(per_connection);
      const auto offset = duration<double>(interval_s * c / connections);
      for (size_t i = 0; i < per_connection; ++i) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     offset + duration<double>(interval_s * static_cast<double>(i)));
        std::this_thread::sleep_until(due);
        auto res = client.Post("/v1/chat/completions", kRequestBody, "application/json");
        const auto done = Clock::now();
        if (!res || res->status != 200) {
          errors.fetch_add(1);
          continue;
        }
        latencies[c].push_back(std::chrono::duration<double, std::micro>(done - due).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = duration<double>(Clock::now() - start).count();
  RunResult r;
  r.offered_rate = rate;
  r.errors = errors.load();
  for (auto& l : latencies) r.latencies_us.insert(r.latencies_us.end(), l.begin(), l.end());
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  r.achieved_rate = static_cast<double>(r.latencies_us.size()) / elapsed;
  return r;
}

// The least a cpp-httplib proxy can do: relay the body to the upstream over a
// kept-alive connection per worker and relay the answer back.
class BareForwarder {
 public:
  explicit BareForwarder(int upstream_port) : upstream_port_(upstream_port) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server_.set_keep_alive_max_count(1'000'000);
    server_.set_tcp_nodelay(true);
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      thread_local httplib::Client client = [this] {
        httplib::Client c("127.0.0.1", upstream_port_);
        c.set_keep_alive(true);
        c.set_tcp_nodelay(true);
        return c;
      }();
      auto up = client.Post("/v1/chat/completions", req.body, "application/json");
      if (!up) {
        res.status = 502;
        return;
      }
      res.status = up->status;
      res.set_content(up->body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~BareForwarder() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int upstream_port_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// The real daemon, as a child process, configured to front `upstream_port`.
class Daemon {
 public:
  Daemon(const std::string& binary, int upstream_port, const std::filesystem::path& dir) {
    const auto config = dir / "dsgw.toml";
    std::ofstream(config) << "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 64\nmax_inflight = 48\n"
                             "[[backend]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:"
                          << upstream_port << "/v1\"\nmodel = \"up\"\nmodels = [\"bench\"]\njurisdiction = \"site\"\n";
    log_ = dir / "dsgw.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string cfg = config.string();
    char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("serve"), const_cast<char*>("--config"),
                    const_cast<char*>(cfg.c_str()), nullptr};
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Daemon() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }

  // The port from the "server.listening" log line, or 0.
  int wait_for_port() const {
    for (int i = 0; i < 100 && pid_ > 0; ++i) {
      std::ifstream in(log_);
      std::string line;
      while (std::getline(in, line)) {
        const auto at = line.find("\"server.listening\"");
        const auto port = line.find("\"port\":");
        if (at != std::string::npos && port != std::string::npos) return std::stoi(line.substr(port + 7));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dsgw") o.dsgw = v;
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--seconds") o.seconds = std::stod(v);
    else if (k == "--connections") o.connections = std::stoi(v);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);

  httplib::Server upstream;
  upstream.new_task_queue = [] { return new httplib::ThreadPool(64); };
  upstream.set_keep_alive_max_count(1'000'000);
  upstream.set_tcp_nodelay(true);
  upstream.Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kUpstreamAnswer, "application/json");
  });
  const int upstream_port = upstream.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { upstream.listen_after_bind(); });

  const auto dir = std::filesystem::temp_directory_path() / ("dsgw-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  int status = 0;
  {
    Daemon daemon(opt.dsgw, upstream_port, dir);
    const int dsgw_port = daemon.wait_for_port();
    if (dsgw_port == 0) {
      std::cerr << "dsgw did not start; see " << (dir / "dsgw.log") << "\n";
      status = 1;
    } else {
      BareForwarder bare(upstream_port);
      drive(upstream_port, opt.rate, 1, opt.connections);  // warm-up
      drive(bare.port(), opt.rate, 1, opt.connections);
      drive(dsgw_port, opt.rate, 1, opt.connections);
      const RunResult direct = drive(upstream_port, opt.rate, opt.seconds, opt.connections);
      const RunResult forwarded = drive(bare.port(), opt.rate, opt.seconds, opt.connections);
      const RunResult through = drive(dsgw_port, opt.rate, opt.seconds, opt.connections);

      std::printf("| path | offered req/s | achieved req/s | errors | p50 us | p99 us |\n");
      std::printf("|---|---|---|---|---|---|\n");
      const std::pair<const char*, const RunResult*> rows[] = {
          {"direct to upstream", &direct}, {"bare cpp-httplib forwarder", &forwarded}, {"through dsgw", &through}};
      for (const auto& [name, r] : rows) {
        std::printf("| %s | %.0f | %.0f | %zu | %.0f | %.0f |\n", name, r->offered_rate, r->achieved_rate, r->errors,
                    r->percentile(0.50), r->percentile(0.99));
      }
      std::printf("| **added by the bare forwarder** | | | | %.0f | %.0f |\n",
                  forwarded.percentile(0.50) - direct.percentile(0.50),
                  forwarded.percentile(0.99) - direct.percentile(0.99));
      std::printf("| **added by dsgw** | | | | **%.0f** | **%.0f** |\n\n",
                  through.percentile(0.50) - direct.percentile(0.50),
                  through.percentile(0.99) - direct.percentile(0.99));

      std::printf("| offered req/s through dsgw | achieved | error rate | p50 us | p99 us |\n|---|---|---|---|---|\n");
      double held = 0;
      for (double rate = opt.rate; rate <= 64 * opt.rate; rate *= 1.5) {
        const RunResult r = drive(dsgw_port, rate, 3, std::max(opt.connections, static_cast<int>(rate / 250)));
        std::printf("| %.0f | %.0f | %.2f%% | %.0f | %.0f |\n", rate, r.achieved_rate, 100 * r.error_rate(),
                    r.percentile(0.50), r.percentile(0.99));
        if (r.error_rate() >= 0.01 || r.achieved_rate < 0.95 * rate) break;
        held = rate;
      }
      std::printf("\nhighest rate held with < 1%% errors: %.0f req/s\n", held);
    }
  }
  upstream.stop();
  serving.join();
  std::filesystem::remove_all(dir);
  return status;
}
