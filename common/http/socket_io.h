// Blocking socket I/O shared by the HTTP server and client (plain TCP; the
// client's TLS goes through OpenSSL instead).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace dsgw::http {

inline constexpr std::size_t kReadChunk = 16 << 10;

// SO_RCVTIMEO or SO_SNDTIMEO.
void set_socket_timeout(int fd, int option, std::chrono::milliseconds timeout);

// Sends all of `data` (MSG_NOSIGNAL). False if the peer left or the send
// timeout passed.
bool send_all(int fd, std::string_view data);

// Appends what the socket has, up to kReadChunk bytes, waiting for it (read
// through the stack: growing the string by a chunk would zero it and make a
// large allocation every time). > 0: bytes read; 0: the peer closed; < 0:
// error or receive timeout.
ssize_t recv_some(int fd, std::string& buffer);

}  // namespace dsgw::http
