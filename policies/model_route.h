// The decide stage until the policy engine lands: the requested model name
// picks the backend. Among backends serving the name, the first usable one in
// config order wins.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "common/status.h"
#include "router/request.h"

namespace dsgw::policies {

struct Decision {
  std::shared_ptr<backends::Backend> backend;
  std::string rule;  // which rule chose it (X-Dsgw-Rule)
};

Result<Decision> route_by_model(const router::Request& request,
                                const std::vector<std::shared_ptr<backends::Backend>>& backends);

}  // namespace dsgw::policies
