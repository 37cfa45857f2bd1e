#pragma once

#include <memory>

#include "backends/backend.h"
#include "common/status.h"
#include "daemon/config.h"

namespace dsgw::daemon {

// Creates the backend a [[backend]] table describes. Secrets are resolved
// here: a key file that cannot be read is an error; an unset key variable
// leaves the backend present but not usable, with the reason. A local backend
// loads its model here (seconds to minutes).
Result<std::shared_ptr<backends::Backend>> make_backend(const config::BackendConfig& config);

}  // namespace dsgw::daemon
