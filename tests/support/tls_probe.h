// A TLS client pinned to chosen protocol versions, for checking what a server accepts.
//
//   TlsHandshake h = tls_handshake(port, TLS1_1_VERSION, TLS1_1_VERSION);
//   EXPECT_FALSE(h.ok);   // the server refused TLS 1.1
//
// The client runs at OpenSSL security level 0 so that it is willing to speak TLS 1.0/1.1: a
// refusal then comes from the server, not from the client's own policy.
#pragma once

namespace cryo::testing {

struct TlsHandshake {
  bool ok = false;
  int version = 0;          // negotiated, when ok
  unsigned long error = 0;  // first OpenSSL error, when not ok
};

// Connects to 127.0.0.1:port and attempts a handshake within [min_version, max_version].
TlsHandshake tls_handshake(int port, int min_version, int max_version);

}  // namespace cryo::testing
