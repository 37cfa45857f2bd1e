// Renders a decision for people: the body of POST /v1/route/explain and
// `dsgw route explain`, and the decision part of each audit-log line. Types of
// findings only; never values or prompt text.
#pragma once

#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "common/json_object_writer.h"
#include "policies/decide.h"

namespace dsgw::policies {

// Every candidate with its verdict and reason, the class and where it came
// from, the matched rules, the estimates and the policy revision.
nlohmann::json explain_json(const Policy& policy, const RequestFacts& facts, const Decision& decision,
                            std::span<const BackendState> backends);

// An audit-log line's decision members, appended to `line`: class, PII types,
// matched rules, the deciding rule, candidates with verdicts, policy revision.
void write_audit_members(JsonObjectWriter& line, const Policy& policy, const Decision& decision);

// Why `c` was kept or eliminated, in a sentence.
std::string candidate_reason(const Policy& policy, const Decision& decision, const Candidate& c,
                             const BackendState& state, const RequestFacts& facts);

// The PII type names in `mask`.
nlohmann::json pii_names(PiiMask mask);

}  // namespace dsgw::policies
