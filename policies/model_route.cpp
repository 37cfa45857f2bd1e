#include "policies/model_route.h"

#include <algorithm>

namespace dsgw::policies {

Result<Decision> route_by_model(const router::Request& request,
                                const std::vector<std::shared_ptr<backends::Backend>>& backends) {
  std::string unusable;
  for (const auto& backend : backends) {
    const auto& models = backend->info().models;
    if (std::find(models.begin(), models.end(), request.model) == models.end()) continue;
    const backends::Health health = backend->health();
    if (health.usable) return Decision{backend, "model:" + request.model};
    if (!unusable.empty()) unusable += "; ";
    unusable += "backend \"" + backend->info().name + "\" is not usable: " + health.reason;
  }
  if (!unusable.empty()) return make_error(ErrorCode::kUnavailable, unusable);
  return make_error(ErrorCode::kNotFound,
                    "the model \"" + request.model +
                        "\" does not exist; GET /v1/models lists the models served",
                    "model", "model_not_found");
}

}  // namespace dsgw::policies
