// Whether a listening address stays on this machine.
//
// The server accepts unsigned CDS calls only when no issuer is configured AND it listens on
// loopback; anything reachable from the network must verify client tokens.
//
//   if (config.trust.issuers.empty() && !is_loopback_address(bind_host)) refuse_to_start();
//
// Thread safety: pure function.
#pragma once

#include <string_view>

namespace cryo::security {

// True for 127.0.0.0/8 in dotted-quad form, ::1 (also "[::1]" and ::ffff:127.x.y.z), and
// "localhost" (any case, optional trailing dot). False for everything else, including
// 0.0.0.0, ::, empty strings, host names and shorthand forms such as "127.1".
bool is_loopback_address(std::string_view host);

}  // namespace cryo::security
