#include "backends/local/tokenizer/stream_decoder.h"

#include "backends/local/tokenizer/utf8_codec.h"

namespace dsgw::local {

Result<std::string> StreamDecoder::feed(TokenId id) {
  auto bytes = tokenizer_->token_bytes(id);
  if (!bytes) {
    return make_error(ErrorCode::kInvalidRequest, "token id " + std::to_string(id) + " is not in the vocabulary");
  }
  if (skip_special_ && tokenizer_->is_special(id)) return std::string();
  pending_.append(*bytes);
  const size_t stable = utf8::stable_prefix_length(pending_);
  std::string out;
  utf8::append_lossy(out, std::string_view(pending_).substr(0, stable));
  pending_.erase(0, stable);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  utf8::append_lossy(out, pending_);
  pending_.clear();
  return out;
}

}  // namespace dsgw::local
