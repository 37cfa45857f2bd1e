// An HTTP/1.1 exchange as handlers see it: the request read off the wire and
// the response they fill in, whole or streamed. dsgw's own small HTTP layer
// (common/http/server.h) reads and writes them; nothing here touches sockets.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsgw::http {

// ASCII case-insensitive equality, as header names and tokens compare.
bool equals_ignoring_case(std::string_view a, std::string_view b);

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Replaces every earlier value of `name`.
  void set(std::string_view name, std::string_view value);
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

struct Request {
  std::string method;
  std::string path;   // the target up to '?'
  std::string query;  // after '?', undecoded
  bool http_1_0 = false;
  Headers headers;
  std::string body;
  std::string remote_addr;
  int remote_port = 0;
  // The connection's socket, for noticing that the client left (poll only:
  // the server owns all reading and writing).
  int fd = -1;

  // The header's value, or "" when absent.
  std::string_view header(std::string_view name) const { return headers.get(name).value_or(""); }
};

// Where a streamed body goes, chunk by chunk, while the handler's producer runs.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Sends `data` now. False once the client is gone or the write timed out.
  virtual bool write(std::string_view data) = 0;
  // False once the client has closed its end.
  virtual bool client_alive() = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set for a streamed body: called once the head is sent; returns false to
  // end the connection without finishing the body (the client sees it cut).
  std::function<bool(BodySink&)> producer;
  // Called once the answer has been written (or the write failed): work that
  // must not delay it, such as access records.
  std::function<void()> on_sent;
  // Nobody to answer (the client left): close the connection, send nothing.
  bool drop_connection = false;

  void set_content(std::string content, std::string_view content_type);
  void set_producer(std::string_view content_type, std::function<bool(BodySink&)> produce);
};

// "OK", "Not Found", ... ("" for codes dsgw never sends).
std::string_view reason_phrase(int status);

}  // namespace dsgw::http
