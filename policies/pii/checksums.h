// Check-digit validation for the numbers the detector reports: a pattern alone is not enough.
#pragma once

#include <string_view>

namespace dsgw::policies::pii {

// Luhn (ISO/IEC 7812-1) over ASCII digits, the check digit last. False for fewer than two
// characters or any non-digit.
bool luhn_valid(std::string_view ascii_digits);

// The IBAN length (ISO 13616) registered for a two-letter upper-case country code, 0 when the
// country has no IBAN in our table (the SWIFT registry's countries: all of SEPA and most others).
int iban_length(std::string_view country);

// A compact, upper-case IBAN: a known country, exactly that country's length, check digits
// 02..98, [A-Z0-9] only, and ISO 7064 MOD 97-10 of the rearranged number == 1. Lower case,
// spaces, or an unknown country -> false.
bool iban_valid(std::string_view compact_upper);

// A Chinese resident identity number (GB 11643-1999), 18 characters: a region code whose first
// digit is 1-9, a real birth date YYYYMMDD (year 1900..2100, leap years honoured) at positions
// 7-14, a 3-digit sequence, and a MOD 11-2 check character (0-9, or X/x for 10).
bool cn_resident_id_valid(std::string_view id18);

// True for a valid Gregorian date in [1900-01-01, 2100-12-31] (exposed for tests).
bool valid_birth_date(int year, int month, int day);

}  // namespace dsgw::policies::pii
