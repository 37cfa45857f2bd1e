// The one interface every place a request can run sits behind: the local
// engine, and OpenAI-compatible upstreams (web, cloud, edge).
#pragma once

#include <string>
#include <vector>

#include "router/events.h"
#include "router/request.h"

namespace dsgw::backends {

struct BackendInfo {
  std::string name;          // unique, from config
  std::string kind;          // "openai" | "local"
  std::string jurisdiction;  // device | site | lan | a region code (cn, eu, us, ...)
  std::vector<std::string> models;  // the model names clients may ask for
};

struct Health {
  bool usable = true;
  std::string reason;  // why not, when !usable
};

// How busy a backend is, for routing decisions and /readyz.
struct LoadReport {
  int queued = 0;                // requests waiting to start
  int running = 0;               // requests generating
  double tokens_per_second = 0;  // recent generation rate (0 if unknown)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const BackendInfo& info() const = 0;
  virtual Health health() const = 0;
  virtual LoadReport load() const { return {}; }

  // Runs one generation to its end, streaming events into `sink`, and returns
  // when it is over. Emits exactly one terminal event (Finish or Failure)
  // unless the sink was cancelled. Blocking; thread-safe; never throws.
  virtual void generate(const router::Request& request, router::EventSink& sink) = 0;
};

}  // namespace dsgw::backends
