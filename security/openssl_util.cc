#include "security/openssl_util.h"

#include <openssl/err.h>

namespace cryo::security::detail {

std::shared_ptr<EVP_PKEY> share_pkey(EVP_PKEY* raw) {
  return std::shared_ptr<EVP_PKEY>(raw, PkeyFree{});
}

std::string take_openssl_error(std::string_view fallback) {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = buf;
  } else {
    text = std::string(fallback);
  }
  ERR_clear_error();
  return text;
}

BnPtr bn_from_bytes(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

const EVP_MD* digest_for_alg(std::string_view alg) {
  if (alg == "ES384" || alg == "RS384") return EVP_sha384();
  if (alg == "ES256" || alg == "RS256") return EVP_sha256();
  return nullptr;
}

size_t ec_coordinate_size(std::string_view alg) {
  if (alg == "ES384") return 48;
  if (alg == "ES256") return 32;
  return 0;
}

}  // namespace cryo::security::detail
