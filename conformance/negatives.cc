// The negative step: bad requests (malformed, incomplete, to an unknown service, without the
// declared prefetch) and, when the runner signs, bad or missing tokens, each of which the server
// must refuse.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <rapidjson/document.h>

#include "base/ids.h"
#include "conformance/json_access.h"
#include "conformance/runner_steps.h"
#include "conformance/validate.h"
#include "security/bind_address.h"
#include "security/token_signer.h"

namespace cryo::conformance::detail {

void Runner::expect_error(const std::string& name, const HttpAnswer& a, int status) {
  ExchangeScope scope(*this, a);
  if (a.status < 0) {
    add("negative", name, false, "no answer: " + a.error);
    return;
  }
  Problems problems;
  if (a.status != status)
    problems.push_back("status " + std::to_string(a.status) + ", expected " +
                       std::to_string(status));
  if (a.status >= 400 && a.status < 500 && !is_operation_outcome(a.body))
    problems.push_back("the " + std::to_string(a.status) + " body is not a FHIR OperationOutcome");
  add("negative", name, problems);
}

void Runner::negatives() {
  const Service* svc = service_for("order-sign", "");
  if (!svc && !services_.empty()) svc = &services_.front();
  if (!svc) {
    add("negative", "negative checks", false, "no service to call (discovery failed)");
    return;
  }
  // A valid request to start from: the first generated scenario, else a minimal one.
  Document base;
  const Service* used = nullptr;
  bool from_scenario = false;
  for (auto& s : load_scenarios_quiet()) {
    if (s.verbatim || str(get(*s.doc, "hook")) != svc->hook) continue;
    if (build_request(s, base, used, true, false) && used == svc) {
      from_scenario = true;
      if (fhir_) fhir_->set_record(nullptr);
      break;
    }
  }
  if (!from_scenario) {
    base.Parse(R"({"hook":"order-sign","hookInstance":"","context":{"userId":"Practitioner/p1",
      "patientId":"p1","draftOrders":{"resourceType":"Bundle","type":"collection","entry":[]}}})");
    base["hook"].SetString(svc->hook.c_str(), base.GetAllocator());
    base["hookInstance"].SetString(random_uuid().c_str(), base.GetAllocator());
  }
  const std::string path = "/cds-services/" + svc->id;
  expect_error("negative: malformed JSON answers 400 with an OperationOutcome",
               post("malformed JSON", path, "{\"hook\": \"order-sign\", \"context\": {"), 400);
  {
    Document r;
    r.CopyFrom(base, r.GetAllocator());
    r.RemoveMember("context");
    expect_error("negative: request without context answers 400 with an OperationOutcome",
                 post("missing context", path, serialise(r)), 400);
  }
  {
    Document r;
    r.CopyFrom(base, r.GetAllocator());
    r.RemoveMember("hookInstance");
    expect_error("negative: request without hookInstance answers 400 with an OperationOutcome",
                 post("missing hookInstance", path, serialise(r)), 400);
  }
  {
    Document r;
    r.CopyFrom(base, r.GetAllocator());
    const std::string unknown = "/cds-services/no-such-service-" + random_uuid();
    expect_error("negative: unknown service answers 404 with an OperationOutcome",
                 post("unknown service", unknown, serialise(r)), 404);
  }
  if (!svc->prefetch.empty() && from_scenario) {
    Document r;
    r.CopyFrom(base, r.GetAllocator());
    r.RemoveMember("prefetch");
    r.RemoveMember("fhirServer");
    r.RemoveMember("fhirAuthorization");
    expect_error("negative: declared prefetch missing and no fhirServer answers 412",
                 post("prefetch missing", path, serialise(r)), 412);
  } else {
    skip("negative", "negative: declared prefetch missing and no fhirServer answers 412",
         svc->prefetch.empty() ? "not applicable: the service declares no prefetch"
                               : "not applicable: no scenario to build a request from");
  }
  if (signer_) {
    Document r;
    r.CopyFrom(base, r.GetAllocator());
    const std::string body = serialise(r);
    expect_error("negative: call without a JWT answers 401",
                 post("no token", path, body, std::nullopt), 401);
    expect_error("negative: JWT with a bad signature answers 401",
                 post("bad signature", path, body, RequestSigner::Variant::kBadSignature), 401);
    expect_error("negative: expired JWT answers 401",
                 post("expired token", path, body, RequestSigner::Variant::kExpired), 401);
    unknown_key_behind_jku(path, body);
  }
}

// A token of the trusted issuer, signed by a key no configured set holds, whose `jku` points
// at a JWK Set the runner serves with that very key: the server must answer 401 and must
// not fetch the URL (a service that follows any jku trusts whoever signs).
void Runner::unknown_key_behind_jku(const std::string& path, const std::string& body) {
  const std::string name_401 = "negative: JWT by an unknown key behind its own jku answers 401";
  const std::string name_fetch = "negative: a jku the server was not given is never fetched";
  auto key = security::SigningKey::generate("ES384", "crd-conformance-unknown-" + random_uuid());
  if (!key) {
    add("negative", name_401, false, "cannot generate a key: " + key.error().to_string());
    return;
  }
  httplib::Server bait;
  std::atomic<int> fetches{0};
  const std::string jwks = security::public_jwk_set_json({&*key});
  bait.Get("/jwks.json", [&](const httplib::Request&, httplib::Response& res) {
    ++fetches;
    res.set_content(jwks, "application/json");
  });
  const int port = bait.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    skip("negative", name_401, "cannot bind a loopback port for the JWK Set");
    return;
  }
  std::thread serving([&] { bait.listen_after_bind(); });
  while (!bait.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  security::ClientTokenClaims claims;
  claims.iss = opt_.issuer;
  claims.aud = {audience(path)};
  claims.jku = "http://127.0.0.1:" + std::to_string(port) + "/jwks.json";
  auto token = security::sign_client_token(*key, claims);
  HttpAnswer a;
  if (token) a = post("unknown key behind jku", path, body, std::nullopt, *token);
  bait.stop();
  serving.join();
  if (!token) {
    add("negative", name_401, false, "cannot sign: " + token.error().to_string());
    return;
  }
  expect_error(name_401, a, 401);
  // Only a server on this machine could reach the runner's loopback address.
  const bool local = security::is_loopback_address(endpoint_.host);
  if (!local) {
    skip("negative", name_fetch,
         "the server is not on this machine, so it could not reach the runner's JWK Set");
    return;
  }
  add("negative", name_fetch, fetches.load() == 0,
      fetches.load() == 0
          ? ""
          : "the server fetched the token's jku " + std::to_string(fetches.load()) + " time(s)");
}

std::vector<Scenario> Runner::load_scenarios_quiet() {
  std::ostream* saved = out_;
  out_ = nullptr;
  size_t before = report_.checks.size();
  auto list = load_scenarios();
  report_.checks.resize(before);  // file problems were reported already
  out_ = saved;
  return list;
}

}  // namespace cryo::conformance::detail
