// JSON Web Key Sets (RFC 7517): the public keys a CDS client signs its tokens with.
//
// parse_jwk_set() turns a JWK Set document into verification keys (EVP_PKEY built from the
// JWK parameters with EVP_PKEY_fromdata). Only public parameters are used; private members
// such as "d" are ignored (and reported, so an operator learns the file holds secrets). Keys
// that cannot verify JWS tokens here are skipped, not fatal: other key types, curves other
// than P-256/P-384, RSA below 2048 bits, and keys whose "use"/"key_ops" exclude verification.
//
// JwksSource is one cached set, loaded from a file or fetched from a URL:
//
//   auto source = JwksSource::from_url("https://ehr.example.org/jwks.json", options);
//   std::shared_ptr<const JwkSet> keys = source->current();   // loads on first use
//   if (keys->find(kid, "ES384").empty() && source->refresh()) keys = source->current();
//
// refresh() reloads at most once per `min_refresh_interval` (attempts, successful or not,
// count), so a flood of tokens with unknown `kid` cannot turn into a flood of fetches, while
// a rotated key is picked up without a restart. A failed reload keeps the previous set.
//
// Thread safety: JwkSet is immutable once built; share it freely. JwksSource is safe to use
// from any number of threads: readers take a short lock to copy a shared_ptr, loads run
// outside that lock (one load at a time per source), and nothing is locked during signature
// verification.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "base/result.h"
#include "base/thread_annotations.h"

namespace cryo::security {

// A public key usable to verify JWS signatures.
struct VerificationKey {
  std::string kid;
  std::string kty;  // "EC" or "RSA"
  std::string crv;  // "P-256" or "P-384" for EC keys, empty for RSA
  std::string alg;  // the JWK's "alg" member when present
  std::shared_ptr<EVP_PKEY> pkey;

  // Whether this key may verify a token signed with JWS algorithm `jws_alg` (ES384 needs an
  // EC P-384 key, ES256 P-256, RS256/RS384 RSA; a JWK "alg" must then equal `jws_alg`).
  bool can_verify(std::string_view jws_alg) const;
};

struct JwkSet {
  std::vector<VerificationKey> keys;
  size_t skipped = 0;                 // entries that cannot verify (see file comment)
  bool had_private_material = false;  // some entry carried "d" (or other private members)

  // Keys with this `kid` that can verify `jws_alg`; usually zero or one.
  std::vector<const VerificationKey*> find(std::string_view kid, std::string_view jws_alg) const;
};

// Parses a JWK Set document ({"keys": [...]}). `where` names it in errors (a path or a URL).
// A document that is not a JWK Set, or a recognised key with broken parameters (bad base64url,
// wrong coordinate length, a point not on its curve), is an Error.
Result<JwkSet> parse_jwk_set(std::string_view json, std::string_view where);

// Limits for one HTTP fetch of a JWK Set.
struct FetchOptions {
  std::chrono::seconds timeout{5};  // connect, and then each read
  size_t max_bytes = 1 << 20;       // larger bodies are refused
};

// GETs `url` (https://, or http:// for loopback) without following redirects; the body of a
// 200 answer, or an Error naming the URL.
Result<std::string> fetch_jwks_document(const std::string& url, const FetchOptions& options);

class JwksSource {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  struct Options {
    std::chrono::seconds min_refresh_interval{30};
    std::chrono::seconds max_age{3600};  // current() reloads (rate-limited) when older
    FetchOptions fetch;
    Clock clock;  // defaults to the system clock
  };

  static std::shared_ptr<JwksSource> from_file(std::string path, Options options);
  static std::shared_ptr<JwksSource> from_url(std::string url, Options options);

  // Loads now, ignoring the rate limit; for start-up checks of files.
  Status load_now() EXCLUDES(load_mu_, state_mu_);

  // The cached set: loads on first use, and reloads in the background of this call when it is
  // older than max_age (only if no other thread is loading). Null while nothing ever loaded.
  std::shared_ptr<const JwkSet> current() EXCLUDES(load_mu_, state_mu_);

  // Reloads unless a load was attempted less than min_refresh_interval ago; waits for a load
  // another thread is running. Returns true when this call loaded a new set successfully.
  bool refresh() EXCLUDES(load_mu_, state_mu_);

  const std::string& location() const { return location_; }
  // How many loads were attempted (for tests and metrics).
  uint64_t load_attempts() const EXCLUDES(state_mu_);

 private:
  JwksSource(std::string location, bool is_url, Options options);
  std::chrono::system_clock::time_point now() const;
  bool load_locked() REQUIRES(load_mu_) EXCLUDES(state_mu_);

  const std::string location_;
  const bool is_url_;
  const Options options_;

  Mutex load_mu_ ACQUIRED_BEFORE(state_mu_);  // one load at a time
  mutable Mutex state_mu_;
  std::shared_ptr<const JwkSet> set_ GUARDED_BY(state_mu_);
  std::chrono::system_clock::time_point loaded_at_ GUARDED_BY(state_mu_){};
  std::chrono::system_clock::time_point last_attempt_ GUARDED_BY(state_mu_){};
  bool attempted_ GUARDED_BY(state_mu_) = false;
  uint64_t attempts_ GUARDED_BY(state_mu_) = 0;
};

}  // namespace cryo::security
