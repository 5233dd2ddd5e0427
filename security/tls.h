// HTTPS for the CDS endpoints (CDS Hooks and CRD: "SHALL use TLS").
//
// make_https_server() builds an httplib::SSLServer whose SSL_CTX allows TLS 1.2 and 1.3 only,
// with forward-secret AEAD cipher suites for TLS 1.2, no compression and no renegotiation.
// Certificate and key are PEM files; the chain file may hold intermediates after the leaf.
//
//   auto server = make_https_server({.cert_chain_file = "tls/cert.pem",
//                                    .private_key_file = "tls/key.pem"});
//   if (!server) { std::cerr << server.error().to_string() << "\n"; return 1; }
//   (*server)->Post("/cds-services/...", handler);
//   (*server)->listen("0.0.0.0", 8443);
//
// Thread safety: call once at start-up; the returned server is httplib's (its handlers run on
// its thread pool).
#pragma once

#include <memory>
#include <string>

#include <httplib.h>

#include "base/result.h"

namespace cryo::security {

struct TlsServerOptions {
  std::string cert_chain_file{};   // PEM: server certificate, then any intermediates
  std::string private_key_file{};  // PEM: the certificate's private key, unencrypted
};

// The configured server, or an Error naming the file that is missing, unreadable, not PEM, or
// whose key does not match the certificate.
Result<std::unique_ptr<httplib::SSLServer>> make_https_server(const TlsServerOptions& options);

// Applies the policy below and loads the certificate chain and key into `ctx` (what the CDS
// listener's TLS context uses); the Error names the unusable file.
Status configure_server_context(SSL_CTX& ctx, const TlsServerOptions& options);

// Applies the protocol and cipher policy above to an SSL_CTX (used by make_https_server()).
bool apply_server_tls_policy(SSL_CTX& ctx);

}  // namespace cryo::security
