// Appends a JSON object to a string member by member. For the replies on the
// request path: building them as an nlohmann DOM cost tens of microseconds
// per reply, this costs a few.
//
//   std::string out;
//   {
//     JsonObjectWriter j(out);                 // writes '{'
//     j.string("id", id).number("n", 3);
//     JsonObjectWriter(j.member("usage")).number("tokens", 7);
//   }                                          // each writer's end writes its '}'
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace dsgw {

class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  ~JsonObjectWriter() { out_.push_back('}'); }
  JsonObjectWriter(const JsonObjectWriter&) = delete;
  JsonObjectWriter& operator=(const JsonObjectWriter&) = delete;

  JsonObjectWriter& string(std::string_view key, std::string_view value);
  JsonObjectWriter& number(std::string_view key, int64_t value);
  // The shortest text that reads back as `value` (which must be finite).
  JsonObjectWriter& real(std::string_view key, double value);
  JsonObjectWriter& null(std::string_view key);
  // `json` is a complete JSON value, written as it is.
  JsonObjectWriter& raw(std::string_view key, std::string_view json);
  // The members of `object_json`, a JSON object's text (fields passed
  // through), copied as they are, except those named in `except`. "", "{}"
  // and text that is not an object add nothing.
  JsonObjectWriter& members_of(std::string_view object_json, std::initializer_list<std::string_view> except = {});
  // Starts a member whose value the caller appends to out() next.
  std::string& member(std::string_view key);

 private:
  void key(std::string_view key);

  std::string& out_;
  bool first_ = true;
};

// Calls `fn` with the key (as written, unescaped quotes aside) and the value's
// text of each top-level member of the JSON object text `object_json`, in
// order; members of nested values don't count. Meant for text a JSON library
// wrote: on malformed text it stops where the text stops making sense.
void for_each_member(std::string_view object_json,
                     const std::function<void(std::string_view key, std::string_view value)>& fn);

// Whether `object_json` has a top-level member `key` (a key with no
// characters to escape).
bool has_member(std::string_view object_json, std::string_view key);

}  // namespace dsgw
