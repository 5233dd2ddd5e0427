// The credential for the payer staff's admin look-up (assertion pages, JSON look-ups).
//
// The service is configured with the SHA-256 of the admin bearer token (64 hex digits), never
// the token itself. A presented token is hashed and compared in constant time.
//
//   auto cred = AdminCredential::from_sha256_hex(config.admin_token_sha256);
//   if (!cred) { fail(cred.error()); }
//   auto token = bearer_token(request.get_header_value("Authorization"));
//   if (!token || !cred->accepts(*token)) { return http_401(); }
//
// Generate a token and its hash:
//   token=$(openssl rand -hex 32); printf %s "$token" | sha256sum
//
// Thread safety: an AdminCredential is immutable; accepts() may run on any thread.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "base/result.h"

namespace cryo::audit {

class AdminCredential {
 public:
  // `hex`: 64 hexadecimal digits, either case.
  static Result<AdminCredential> from_sha256_hex(std::string_view hex);

  // Whether SHA-256(token) equals the configured hash; an empty token never matches.
  bool accepts(std::string_view token) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

// The token of an "Authorization: Bearer <token>" header value (scheme case-insensitive).
std::optional<std::string_view> bearer_token(std::string_view authorization_header);

}  // namespace cryo::audit
