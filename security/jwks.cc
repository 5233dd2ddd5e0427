#include "security/jwks.h"

#include <httplib.h>
#include <openssl/core_names.h>
#include <rapidjson/error/en.h>

#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/url.h"
#include "security/base64url.h"
#include "security/jwk_import.h"
#include "security/openssl_util.h"

namespace cryo::security {

namespace detail {

const char* ec_group_for_crv(std::string_view crv) {
  if (crv == "P-384") return "secp384r1";
  if (crv == "P-256") return "prime256v1";
  return nullptr;
}

namespace {

Result<std::string> member_bytes(const rapidjson::Value& jwk, const char* name,
                                 std::string_view where) {
  std::string w = std::string(where) + ": " + name;
  if (!jwk.HasMember(name)) return Error{w, "is required"};
  const auto& v = jwk[name];
  if (!v.IsString()) return Error{w, "must be a base64url string"};
  auto bytes = base64url_decode(std::string_view(v.GetString(), v.GetStringLength()));
  if (!bytes || bytes->empty()) return Error{w, "is not valid base64url"};
  return *bytes;
}

Status push_bn(OSSL_PARAM_BLD* bld, const char* key, std::string_view bytes,
               std::vector<BnPtr>& keep) {
  BnPtr bn = bn_from_bytes(bytes);
  if (!bn || OSSL_PARAM_BLD_push_BN(bld, key, bn.get()) != 1) {
    return Error{"", take_openssl_error("cannot build key parameter")};
  }
  keep.push_back(std::move(bn));
  return Status::Ok();
}

Result<std::shared_ptr<EVP_PKEY>> from_params(const char* type, OSSL_PARAM_BLD* bld,
                                              bool want_private, std::string_view where) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, want_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        params.get()) != 1) {
    return Error{std::string(where), "unusable key: " + take_openssl_error("rejected")};
  }
  auto pkey = share_pkey(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return Error{std::string(where),
                 "public key fails validation: " + take_openssl_error("invalid")};
  }
  if (want_private && EVP_PKEY_pairwise_check(check.get()) != 1) {
    return Error{std::string(where),
                 "private key does not match the public key: " + take_openssl_error("invalid")};
  }
  return pkey;
}

}  // namespace

Result<std::shared_ptr<EVP_PKEY>> import_jwk(const rapidjson::Value& jwk, bool want_private,
                                             std::string_view where) {
  if (!jwk.IsObject()) return Error{std::string(where), "must be an object"};
  if (!jwk.HasMember("kty") || !jwk["kty"].IsString()) {
    return Error{std::string(where) + ": kty", "is required"};
  }
  std::string_view kty = jwk["kty"].GetString();
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return Error{std::string(where), "out of memory"};
  std::vector<BnPtr> keep;

  if (kty == "EC") {
    if (!jwk.HasMember("crv") || !jwk["crv"].IsString()) {
      return Error{std::string(where) + ": crv", "is required"};
    }
    std::string_view crv = jwk["crv"].GetString();
    const char* group = ec_group_for_crv(crv);
    if (!group) return Error{std::string(where) + ": crv", "unsupported curve"};
    size_t size = crv == "P-384" ? 48 : 32;
    auto x = member_bytes(jwk, "x", where);
    if (!x) return x.error();
    auto y = member_bytes(jwk, "y", where);
    if (!y) return y.error();
    if (x->size() != size || y->size() != size) {
      return Error{std::string(where), "x and y must each be " + std::to_string(size) + " bytes"};
    }
    std::string point = "\x04" + *x + *y;
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return Error{std::string(where), take_openssl_error("cannot build key parameters")};
    }
    if (want_private) {
      auto d = member_bytes(jwk, "d", where);
      if (!d) return d.error();
      if (d->size() != size) {
        return Error{std::string(where) + ": d", "must be " + std::to_string(size) + " bytes"};
      }
      if (auto s = push_bn(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, *d, keep); !s) {
        return Error{std::string(where), s.error().message};
      }
    }
    return from_params("EC", bld.get(), want_private, where);
  }

  if (kty == "RSA") {
    auto n = member_bytes(jwk, "n", where);
    if (!n) return n.error();
    auto e = member_bytes(jwk, "e", where);
    if (!e) return e.error();
    size_t lead = n->find_first_not_of('\0');
    size_t n_bits = lead == std::string::npos ? 0 : (n->size() - lead) * 8;
    if (n_bits < 2048 || n_bits > 16384 + 7) {
      return Error{std::string(where) + ": n", "RSA modulus must be 2048 to 16384 bits"};
    }
    if (e->size() > 8) return Error{std::string(where) + ": e", "exponent too large"};
    if (auto s = push_bn(bld.get(), OSSL_PKEY_PARAM_RSA_N, *n, keep); !s) {
      return Error{std::string(where), s.error().message};
    }
    if (auto s = push_bn(bld.get(), OSSL_PKEY_PARAM_RSA_E, *e, keep); !s) {
      return Error{std::string(where), s.error().message};
    }
    if (want_private) {
      auto d = member_bytes(jwk, "d", where);
      if (!d) return d.error();
      if (auto s = push_bn(bld.get(), OSSL_PKEY_PARAM_RSA_D, *d, keep); !s) {
        return Error{std::string(where), s.error().message};
      }
      static const std::pair<const char*, const char*> kCrt[] = {
          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
          {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
          {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
          {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
          {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
      bool all = true;
      for (const auto& [name, _] : kCrt) all = all && jwk.HasMember(name);
      if (all) {
        for (const auto& [name, param] : kCrt) {
          auto v = member_bytes(jwk, name, where);
          if (!v) return v.error();
          if (auto s = push_bn(bld.get(), param, *v, keep); !s) {
            return Error{std::string(where), s.error().message};
          }
        }
      }
    }
    auto pkey = from_params("RSA", bld.get(), want_private, where);
    if (pkey && EVP_PKEY_get_bits(pkey->get()) < 2048) {
      return Error{std::string(where) + ": n", "RSA modulus must be at least 2048 bits"};
    }
    return pkey;
  }
  return Error{std::string(where) + ": kty", "unsupported key type"};
}

}  // namespace detail

namespace {

bool string_member_is(const rapidjson::Value& obj, const char* name, std::string_view value) {
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsString() &&
         std::string_view(it->value.GetString(), it->value.GetStringLength()) == value;
}

// Whether the JWK's "use" and "key_ops" allow verifying signatures.
bool allows_verify(const rapidjson::Value& jwk) {
  if (jwk.HasMember("use") && !string_member_is(jwk, "use", "sig")) return false;
  auto ops = jwk.FindMember("key_ops");
  if (ops != jwk.MemberEnd()) {
    if (!ops->value.IsArray()) return false;
    for (const auto& op : ops->value.GetArray()) {
      if (op.IsString() && std::string_view(op.GetString()) == "verify") return true;
    }
    return false;
  }
  return true;
}

bool has_private_members(const rapidjson::Value& jwk) {
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.HasMember(m)) return true;
  }
  return false;
}

}  // namespace

bool VerificationKey::can_verify(std::string_view jws_alg) const {
  if (!alg.empty() && alg != jws_alg) return false;
  if (jws_alg == "ES384") return kty == "EC" && crv == "P-384";
  if (jws_alg == "ES256") return kty == "EC" && crv == "P-256";
  if (jws_alg == "RS384" || jws_alg == "RS256") return kty == "RSA";
  return false;
}

std::vector<const VerificationKey*> JwkSet::find(std::string_view kid,
                                                 std::string_view jws_alg) const {
  std::vector<const VerificationKey*> out;
  for (const auto& k : keys) {
    if (k.kid == kid && k.can_verify(jws_alg)) out.push_back(&k);
  }
  return out;
}

Result<JwkSet> parse_jwk_set(std::string_view json, std::string_view where) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                    json.size());
  if (doc.HasParseError()) {
    return Error{std::string(where), std::string("not valid JSON: ") +
                                         rapidjson::GetParseError_En(doc.GetParseError())};
  }
  if (!doc.IsObject() || !doc.HasMember("keys") || !doc["keys"].IsArray()) {
    return Error{std::string(where), "not a JWK Set (an object with a \"keys\" array)"};
  }
  JwkSet set;
  const auto& keys = doc["keys"];
  for (rapidjson::SizeType i = 0; i < keys.Size(); ++i) {
    const auto& jwk = keys[i];
    std::string w = std::string(where) + ": keys[" + std::to_string(i) + "]";
    if (!jwk.IsObject()) return Error{w, "must be an object"};
    if (has_private_members(jwk)) set.had_private_material = true;
    auto kty = jwk.FindMember("kty");
    auto kid = jwk.FindMember("kid");
    auto crv = jwk.FindMember("crv");
    bool usable_type =
        kty != jwk.MemberEnd() && kty->value.IsString() &&
        (string_member_is(jwk, "kty", "RSA") ||
         (string_member_is(jwk, "kty", "EC") && crv != jwk.MemberEnd() && crv->value.IsString() &&
          detail::ec_group_for_crv(crv->value.GetString()) != nullptr));
    if (!usable_type || kid == jwk.MemberEnd() || !kid->value.IsString() ||
        kid->value.GetStringLength() == 0 || !allows_verify(jwk)) {
      ++set.skipped;
      continue;
    }
    VerificationKey key;
    key.kid = kid->value.GetString();
    key.kty = kty->value.GetString();
    if (key.kty == "EC") key.crv = crv->value.GetString();
    if (auto alg = jwk.FindMember("alg"); alg != jwk.MemberEnd() && alg->value.IsString()) {
      key.alg = alg->value.GetString();
    }
    auto pkey = detail::import_jwk(jwk, /*want_private=*/false, w);
    if (!pkey) {
      // Small RSA keys are skipped like other keys we cannot use; broken parameters are not.
      if (key.kty == "RSA" && pkey.error().message.find("RSA modulus") != std::string::npos) {
        ++set.skipped;
        continue;
      }
      return pkey.error();
    }
    key.pkey = std::move(*pkey);
    set.keys.push_back(std::move(key));
  }
  return set;
}

Result<std::string> fetch_jwks_document(const std::string& url, const FetchOptions& options) {
  auto parsed = parse_http_url(url);
  if (!parsed) return Error{url, "not an http(s) URL"};
  httplib::Client client(parsed->origin());
  client.set_connection_timeout(options.timeout.count(), 0);
  client.set_read_timeout(options.timeout.count(), 0);
  client.set_write_timeout(options.timeout.count(), 0);
  client.set_follow_location(false);
  client.set_keep_alive(false);
  int status = 0;
  bool too_large = false;
  std::string body;
  auto res = client.Get(
      parsed->target(), httplib::Headers{{"Accept", "application/json"}},
      [&](const httplib::Response& r) {
        status = r.status;
        return r.status == 200;
      },
      [&](const char* data, size_t n) {
        if (body.size() + n > options.max_bytes) {
          too_large = true;
          return false;
        }
        body.append(data, n);
        return true;
      });
  if (too_large) return Error{url, "JWK Set larger than " + std::to_string(options.max_bytes)};
  if (status != 0 && status != 200) return Error{url, "HTTP status " + std::to_string(status)};
  if (!res) return Error{url, "fetch failed: " + httplib::to_string(res.error())};
  return body;
}

std::shared_ptr<JwksSource> JwksSource::from_file(std::string path, Options options) {
  return std::shared_ptr<JwksSource>(new JwksSource(std::move(path), false, std::move(options)));
}

std::shared_ptr<JwksSource> JwksSource::from_url(std::string url, Options options) {
  return std::shared_ptr<JwksSource>(new JwksSource(std::move(url), true, std::move(options)));
}

JwksSource::JwksSource(std::string location, bool is_url, Options options)
    : location_(std::move(location)), is_url_(is_url), options_(std::move(options)) {}

std::chrono::system_clock::time_point JwksSource::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

uint64_t JwksSource::load_attempts() const {
  MutexLock lock(state_mu_);
  return attempts_;
}

bool JwksSource::load_locked() {
  {
    MutexLock lock(state_mu_);
    attempted_ = true;
    last_attempt_ = now();
    ++attempts_;
  }
  Result<std::string> text = Error{};
  if (is_url_) {
    text = fetch_jwks_document(location_, options_.fetch);
  } else {
    std::ifstream in(location_, std::ios::binary);
    if (!in) {
      text = Error{location_, "cannot read file"};
    } else {
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
  }
  Result<JwkSet> set = text ? parse_jwk_set(*text, location_) : Result<JwkSet>(text.error());
  if (!set) {
    log::warn("JWK Set not loaded", {{"source", location_}, {"error", set.error().message}});
    return false;
  }
  if (set->had_private_material) {
    log::warn("JWK Set contains private key material; only public parameters are used",
              {{"source", location_}});
  }
  auto shared = std::make_shared<const JwkSet>(std::move(*set));
  MutexLock lock(state_mu_);
  set_ = std::move(shared);
  loaded_at_ = now();
  return true;
}

Status JwksSource::load_now() {
  MutexLock load(load_mu_);
  if (!load_locked()) return Error{location_, "JWK Set could not be loaded (see log)"};
  return Status::Ok();
}

std::shared_ptr<const JwkSet> JwksSource::current() {
  {
    MutexLock lock(state_mu_);
    if (set_ && now() - loaded_at_ < options_.max_age) return set_;
    if (attempted_ && now() - last_attempt_ < options_.min_refresh_interval) return set_;
  }
  // Never loaded, or stale. If nothing is loaded yet, wait for a concurrent first load; if a
  // stale set exists, let the thread already loading finish and use the stale set meanwhile.
  MutexLock load(load_mu_, std::defer_lock);
  bool have_stale;
  {
    MutexLock lock(state_mu_);
    have_stale = set_ != nullptr;
  }
  if (have_stale) {
    if (!load.try_lock()) {
      MutexLock lock(state_mu_);
      return set_;
    }
  } else {
    load.lock();
  }
  {
    MutexLock lock(state_mu_);
    bool fresh = set_ && now() - loaded_at_ < options_.max_age;
    bool limited = attempted_ && now() - last_attempt_ < options_.min_refresh_interval;
    if (fresh || limited) return set_;
  }
  load_locked();
  MutexLock lock(state_mu_);
  return set_;
}

bool JwksSource::refresh() {
  MutexLock load(load_mu_);
  {
    MutexLock lock(state_mu_);
    if (attempted_ && now() - last_attempt_ < options_.min_refresh_interval) return false;
  }
  return load_locked();
}

}  // namespace cryo::security
