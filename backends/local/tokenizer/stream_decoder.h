// Streaming detokenisation: feed ids one at a time as the engine samples
// them, get back the text they complete. A BPE token can end in the middle of
// a UTF-8 character (CJK and emoji often span tokens); those bytes are held
// back until the character completes, so every piece returned is valid UTF-8
// and the pieces concatenate to decode(all ids).
#pragma once

#include <string>

#include "backends/local/tokenizer/tokenizer.h"
#include "common/status.h"

namespace dsgw::local {

class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special) {}

  // The text `id` completes (often empty while a character is unfinished).
  // An unknown id is an error and changes nothing.
  Result<std::string> feed(TokenId id);

  // Ends the stream: bytes still held back (a character that never
  // completed) come out as U+FFFD. The decoder is then empty again.
  std::string finish();

  // Bytes held back, waiting for the rest of their character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace dsgw::local
