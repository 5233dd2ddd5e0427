// Tells systemd how the service is doing (sd_notify protocol, without libsystemd): a
// datagram with "READY=1", "RELOADING=1", "STOPPING=1" or "STATUS=..." to the socket named by
// $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). Without $NOTIFY_SOCKET (not
// started by a Type=notify unit) nothing is sent.
//
//   cds::notify_systemd("READY=1\nSTATUS=serving on 127.0.0.1:8080");
//
// Thread safety: may be called from any thread (not from a signal handler).
#pragma once

#include <string_view>

namespace cryo::cds {

// True when the message was sent; false when there is no socket or sending failed.
bool notify_systemd(std::string_view state);

}  // namespace cryo::cds
