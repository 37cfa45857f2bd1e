// The classify stage: turns a native Request into the facts the policy looks
// at. Runs the PII detector over every message; the findings keep positions
// and types, never values.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "policies/decide.h"
#include "policies/pii/detector.h"
#include "router/request.h"

namespace dsgw::policies {

// Errors: kInvalidRequest when the data-class hint names no class of the policy.
Result<RequestFacts> extract_facts(const router::Request& request, const Policy& policy, const pii::Detector& detector);

// Runs the detector over everything of `request` that can reach a backend:
// each message as it will be forwarded (every string of its JSON, decoded),
// the raw prompt, the stop strings and the pass-through fields. Findings'
// offsets are relative to the string they were found in.
void scan_request(const router::Request& request, const pii::Detector& detector, std::vector<pii::Finding>& out);

// A cheap prompt-size estimate: ASCII at ~4 bytes per token, every other
// character (CJK mostly) one token each. Within ~30% of BPE on mixed text.
int64_t estimate_tokens(std::string_view text);

}  // namespace dsgw::policies
