#include "tests/support/self_signed_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

namespace cryo::testing {

Result<CertificateFiles> write_self_signed_certificate(const std::filesystem::path& dir) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  if (!key || !cert) return Error{"", "cannot create key or certificate"};

  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  if (!san) return Error{"", "cannot build subjectAltName"};
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Error{"", "cannot sign certificate"};
  }

  CertificateFiles files{(dir / "server-cert.pem").string(), (dir / "server-key.pem").string()};
  FILE* c = std::fopen(files.cert_file.c_str(), "w");
  if (!c) return Error{files.cert_file, "cannot write"};
  bool ok = PEM_write_X509(c, cert.get()) == 1;
  std::fclose(c);
  FILE* k = std::fopen(files.key_file.c_str(), "w");
  if (!k) return Error{files.key_file, "cannot write"};
  ok = PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1 && ok;
  std::fclose(k);
  if (!ok) return Error{files.cert_file, "cannot write PEM"};
  return files;
}

}  // namespace cryo::testing
