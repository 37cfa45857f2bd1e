// Operator-written policy tests (config/policy.tests.toml): each [[case]] is
// a request plus what must happen to it. `dsgw policy test` and `dsgw check`
// run them, and a reload runs them before swapping a new policy in.
//
//   [[case]]
//   name = "card numbers stay on the device"
//   prompt = "my card is 4111 1111 1111 1111"
//   model = "deepseek-r1"
//   down = ["local"]                  # backends to treat as not usable
//   expect_error = "no_allowed_backend"
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "policies/decide.h"
#include "policies/policy.h"

namespace dsgw::policies {

// Backend state for decisions made offline (tests, `dsgw route explain`):
// each serves its configured models, is usable unless named in `down`, and
// has its policy's latency prior.
std::vector<BackendState> offline_states(const Policy& policy, const std::vector<BackendFacts>& backends,
                                         const std::string& model, const std::vector<std::string>& down = {});

struct PolicyTestReport {
  int cases = 0;
  std::vector<std::string> failures;  // file:line: case "name": what differed
};

// Errors: the tests file cannot be read or is malformed (unknown keys, bad
// names), reported like config errors.
Result<PolicyTestReport> run_policy_tests(const std::string& path, const Policy& policy,
                                          const std::vector<BackendFacts>& backends);

}  // namespace dsgw::policies
