// Added tokens (tokenizer.json's "added_tokens": specials such as
// <｜end▁of▁sentence｜> and user-defined ones such as <think>) and the matcher
// that finds them in text before normalisation and BPE, as HF tokenizers'
// AddedVocabulary does: leftmost-longest matches, lstrip/rstrip swallowing
// the white space beside a match, single_word refusing matches inside words.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsgw::local {

using TokenId = int32_t;

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false;     // control token: skipped by decode(skip_special)
  bool normalized = false;  // matched against normalised text (else raw text)
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

class AddedTokenMatcher {
 public:
  struct Match {
    size_t begin = 0;  // byte range in the text, including stripped white space
    size_t end = 0;
    const AddedToken* token = nullptr;
  };

  // `token` must outlive the matcher.
  void add(const AddedToken& token);
  bool empty() const { return nodes_.size() <= 1; }

  // Appends the matches in `text` (valid UTF-8), left to right, not
  // overlapping.
  void find_all(std::string_view text, std::vector<Match>& matches) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    const AddedToken* token = nullptr;                        // set when a token ends here
  };
  int32_t child(int32_t node, unsigned char byte) const;

  std::vector<Node> nodes_{Node{}};
  std::bitset<256> first_bytes_;
};

}  // namespace dsgw::local
