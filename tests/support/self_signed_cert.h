// Test support: a throw-away TLS server certificate for HTTPS tests on loopback.
//
//   auto files = write_self_signed_certificate(temp_dir).value();
//   auto server = security::make_https_server({files.cert_file, files.key_file});
//
// The certificate is for CN=localhost with subjectAltName DNS:localhost and IP:127.0.0.1,
// valid from an hour ago for a day, signed by its own P-256 key.
//
// Thread safety: writes only the two files it names.
#pragma once

#include <filesystem>
#include <string>

#include "base/result.h"

namespace cryo::testing {

struct CertificateFiles {
  std::string cert_file{};  // PEM certificate
  std::string key_file{};   // PEM private key (PKCS#8, unencrypted)
};

Result<CertificateFiles> write_self_signed_certificate(const std::filesystem::path& dir);

}  // namespace cryo::testing
