#include "common/json_object_writer.h"

#include <charconv>

#include "common/json_escape.h"

namespace dsgw {

void JsonObjectWriter::key(std::string_view key) {
  if (!first_) out_.push_back(',');
  first_ = false;
  append_json_string(out_, key);
  out_.push_back(':');
}

JsonObjectWriter& JsonObjectWriter::string(std::string_view key, std::string_view value) {
  this->key(key);
  append_json_string(out_, value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::number(std::string_view key, int64_t value) {
  this->key(key);
  out_ += std::to_string(value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::real(std::string_view key, double value) {
  this->key(key);
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, ec == std::errc() ? end : buf);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::null(std::string_view key) { return raw(key, "null"); }

JsonObjectWriter& JsonObjectWriter::raw(std::string_view key, std::string_view json) {
  this->key(key);
  out_.append(json);
  return *this;
}

std::string& JsonObjectWriter::member(std::string_view key) {
  this->key(key);
  return out_;
}

JsonObjectWriter& JsonObjectWriter::members_of(std::string_view object_json,
                                               std::initializer_list<std::string_view> except) {
  for_each_member(object_json, [&](std::string_view key, std::string_view value) {
    for (std::string_view skip : except) {
      if (key == skip) return;
    }
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(key);
    out_.append("\":");
    out_.append(value);
  });
  return *this;
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

size_t skip_space(std::string_view text, size_t i) {
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

// From the opening quote at `i`: the index just past the closing quote, or npos.
size_t skip_string(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// From the start of a value at `i`: the index of the ',' or '}' that ends it
// at this level, or npos.
size_t skip_value(std::string_view text, size_t i) {
  int depth = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      i = skip_string(text, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (depth == 0) return c == '}' ? i : std::string_view::npos;
      --depth;
    }
    if (c == ',' && depth == 0) return i;
    ++i;
  }
  return std::string_view::npos;
}

}  // namespace

void for_each_member(std::string_view text,
                     const std::function<void(std::string_view key, std::string_view value)>& fn) {
  size_t i = skip_space(text, 0);
  if (i >= text.size() || text[i] != '{') return;
  for (i = skip_space(text, i + 1); i < text.size() && text[i] == '"'; i = skip_space(text, i + 1)) {
    const size_t key_end = skip_string(text, i);
    if (key_end == std::string_view::npos) return;
    size_t colon = skip_space(text, key_end);
    if (colon >= text.size() || text[colon] != ':') return;
    const size_t value_start = skip_space(text, colon + 1);
    const size_t value_end = skip_value(text, value_start);
    if (value_end == std::string_view::npos) return;
    size_t trimmed = value_end;
    while (trimmed > value_start && is_space(text[trimmed - 1])) --trimmed;
    if (trimmed == value_start) return;
    fn(text.substr(i + 1, key_end - i - 2), text.substr(value_start, trimmed - value_start));
    if (text[value_end] == '}') return;
    i = value_end;
  }
}

bool has_member(std::string_view object_json, std::string_view key) {
  bool found = false;
  for_each_member(object_json, [&](std::string_view k, std::string_view) { found = found || k == key; });
  return found;
}

}  // namespace dsgw
