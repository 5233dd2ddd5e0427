#include "security/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>

#include "security/openssl_util.h"

namespace cryo::security {

bool apply_server_tls_policy(SSL_CTX& ctx) {
  if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return false;
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE |
                                SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  // TLS 1.2: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only. TLS 1.3 suites are
  // all AEAD and keep OpenSSL's defaults.
  return SSL_CTX_set_cipher_list(&ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") == 1;
}

Status configure_server_context(SSL_CTX& ctx, const TlsServerOptions& options) {
  for (const std::string* file : {&options.cert_chain_file, &options.private_key_file}) {
    const char* what = file == &options.cert_chain_file ? "certificate" : "private key";
    if (file->empty()) return Error{"tls", std::string("no ") + what + " file configured"};
    if (!std::ifstream(*file)) return Error{*file, std::string("cannot read ") + what + " file"};
  }
  ERR_clear_error();
  if (!apply_server_tls_policy(ctx)) {
    return Error{"tls", detail::take_openssl_error("cannot apply the TLS policy")};
  }
  if (SSL_CTX_use_certificate_chain_file(&ctx, options.cert_chain_file.c_str()) != 1) {
    return Error{options.cert_chain_file,
                 "not a usable PEM certificate chain: " + detail::take_openssl_error("unreadable")};
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, options.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Error{options.private_key_file,
                   "private key does not match the certificate in " + options.cert_chain_file};
    }
    return Error{options.private_key_file, "not a usable unencrypted PEM private key: " +
                                               detail::take_openssl_error("unreadable")};
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) {
    ERR_clear_error();
    return Error{options.private_key_file,
                 "private key does not match the certificate in " + options.cert_chain_file};
  }
  return {};
}

Result<std::unique_ptr<httplib::SSLServer>> make_https_server(const TlsServerOptions& options) {
  for (const std::string* file : {&options.cert_chain_file, &options.private_key_file}) {
    const char* what = file == &options.cert_chain_file ? "certificate" : "private key";
    if (file->empty()) return Error{"tls", std::string("no ") + what + " file configured"};
    if (!std::ifstream(*file)) return Error{*file, std::string("cannot read ") + what + " file"};
  }
  Error failure;
  auto setup = [&](SSL_CTX& ctx) {
    Status s = configure_server_context(ctx, options);
    if (!s) failure = s.error();
    return static_cast<bool>(s);
  };
  auto server = std::make_unique<httplib::SSLServer>(setup);
  if (!server->is_valid()) {
    if (failure.message.empty()) failure = Error{"tls", "cannot create the TLS context"};
    return failure;
  }
  return server;
}

}  // namespace cryo::security
