// Unicode Normalization Form C (UAX #15) for the tokenizer's NFC normalizer.
#pragma once

#include <string>
#include <string_view>

namespace dsgw::local {

// True when the NFC quick check answers Yes: `text` (valid UTF-8) is already
// in NFC. False means "No" or "Maybe"; nfc_normalize() then decides.
bool is_nfc_quick_yes(std::string_view text);

// The NFC form of `text`, which must be valid UTF-8.
std::string nfc_normalize(std::string_view text);

}  // namespace dsgw::local
