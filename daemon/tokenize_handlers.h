// POST /tokenize and /detokenize, shaped like llama.cpp's server, so that apps
// can count tokens before they pay for them. Served by the local backends'
// tokenizers.
#pragma once

#include "daemon/runtime.h"
#include "common/http/message.h"


namespace dsgw::daemon {

// {"content": str, "add_special": bool, "model"?: str} -> {"tokens": [int]}
void handle_tokenize(const LiveConfig& live, const http::Request& req, http::Response& res);
// {"tokens": [int], "model"?: str} -> {"content": str}
void handle_detokenize(const LiveConfig& live, const http::Request& req, http::Response& res);

}  // namespace dsgw::daemon
