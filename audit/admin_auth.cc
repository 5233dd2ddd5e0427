#include "audit/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace cryo::audit {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<AdminCredential> AdminCredential::from_sha256_hex(std::string_view hex) {
  AdminCredential c;
  if (hex.size() != 2 * c.digest_.size()) {
    return Error{"admin token hash", "expected 64 hex digits (SHA-256)"};
  }
  for (std::size_t i = 0; i < c.digest_.size(); ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Error{"admin token hash", "not hexadecimal"};
    c.digest_[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return c;
}

bool AdminCredential::accepts(std::string_view token) const {
  if (token.empty()) return false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest_.size()) {
    return false;
  }
  return CRYPTO_memcmp(digest.data(), digest_.data(), digest_.size()) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace cryo::audit
