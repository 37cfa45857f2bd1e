// sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET. A no-op when
// not started by systemd with Type=notify.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace dsgw::daemon {

void sd_notify(std::string_view state);

// Half of $WATCHDOG_USEC when the watchdog is enabled for this process.
std::optional<std::chrono::milliseconds> watchdog_interval();

}  // namespace dsgw::daemon
