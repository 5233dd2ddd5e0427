// The steps of a conformance run, shared by the files that define them: runner.cc (setup, HTTP
// plumbing and the order of the steps), discovery.cc, scenarios.cc, negatives.cc and report.cc
// (latency and the written reports). Private to the conformance module.
#pragma once

#include <httplib.h>

#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "base/thread_annotations.h"
#include "conformance/record.h"
#include "conformance/runner.h"
#include "conformance/signer.h"
#include "conformance/validate.h"

namespace cryo::conformance::detail {

using rapidjson::Document;

std::string serialise(const Json& v);

struct HttpAnswer {
  int status = -1;  // -1: no answer
  std::string body;
  std::string error;
  double ms = 0;
  std::string request;   // what was sent, for failure output (token elided, bounded)
  std::string response;  // what came back, for failure output (bounded)
};

// The server's address split into what httplib needs.
struct Endpoint {
  std::string scheme_host_port;  // "http://127.0.0.1:8080"
  std::string prefix;            // "" or "/crd"
  std::string host;              // "127.0.0.1", "::1": without IPv6 brackets
};

// Serves the current scenario's record over FHIR REST so the server can query what prefetch
// did not bring, as it would against the EHR.
class FhirServer {
 public:
  bool start();
  ~FhirServer();
  void set_record(std::shared_ptr<const Record> record) {
    MutexLock lock(mu_);
    record_ = std::move(record);
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/fhir"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  Mutex mu_;
  std::shared_ptr<const Record> record_ GUARDED_BY(mu_);
};

struct Service {
  std::string id;
  std::string hook;
  std::map<std::string, std::string> prefetch;
  struct Option {
    std::string code, type;
  };
  std::vector<Option> options;
};

struct Scenario {
  std::string file;
  std::string name;
  std::shared_ptr<Document> doc;
  bool verbatim = false;
};

// Every CRD hook and version, from each order-sign scenario's record and orders: order-sign
// asking for CRD 2.1 and 2.2, then order-select, order-dispatch, appointment-book,
// encounter-start and encounter-discharge (CRD 2.0.1), each answer checked like the
// scenario's own. The referenced orders and the Encounter are served from the scenario's
// FHIR endpoint (and prefetch), so variants need the runner's FHIR server.
struct HookVariant {
  std::string hook, version;
};

class Runner {
 public:
  Runner(const Options& options, std::ostream* out) : opt_(options), out_(out) {}

  Report run();

 private:
  // ---- plumbing (runner.cc) ----

  void add(const std::string& group, const std::string& name, bool ok, const std::string& reason,
           bool warn_only = false);
  void skip(const std::string& group, const std::string& name, const std::string& why);
  void record(const std::string& group, const std::string& name, Check::Outcome outcome,
              const std::string& reason);

  // While one exists, failing checks show this HTTP exchange (the call they judge).
  class ExchangeScope {
   public:
    ExchangeScope(Runner& runner, const HttpAnswer& answer)
        : runner_(runner), saved_(runner.exchange_) {
      runner_.exchange_ = &answer;
    }
    ~ExchangeScope() { runner_.exchange_ = saved_; }
    ExchangeScope(const ExchangeScope&) = delete;
    ExchangeScope& operator=(const ExchangeScope&) = delete;

   private:
    Runner& runner_;
    const HttpAnswer* saved_;
  };

  void add(const std::string& group, const std::string& name, const Problems& problems);
  // Parses a 200 answer's body into `res`; a body that is not JSON is a failed check.
  bool parse_answer(const std::string& group, const std::string& name, const std::string& body,
                    Document& res);
  httplib::Client& client();
  std::string audience(const std::string& path) const;
  httplib::Headers headers(const std::string& path, std::optional<RequestSigner::Variant> variant);
  HttpAnswer get_json(const std::string& path);
  HttpAnswer post(const std::string& label, const std::string& path, const std::string& body,
                  std::optional<RequestSigner::Variant> variant = RequestSigner::Variant::kValid,
                  const std::string& own_token = "");

  // ---- discovery (discovery.cc) ----

  void discovery();
  const Service* service_for(const std::string& hook, const std::string& id) const;

  // ---- scenarios and hook variants (scenarios.cc) ----

  std::vector<Scenario> load_scenarios();
  bool build_request(const Scenario& s, Document& req, const Service*& svc, bool with_prefetch,
                     bool with_fhir_server);
  void scenarios();
  void run_hook_variants(const Scenario& s);
  void run_hook_variant(const Scenario& s, const HookVariant& v);
  void check_card_types();
  void run_scenario(const Scenario& s);
  void validate_full_response(const std::string& group, const std::string& n, const Json& req,
                              const Json& res, const Json* variant = nullptr);
  void check_expected(const std::string& group, const std::string& n, const Json& sc,
                      const Json& req, const Json& res);
  void check_configuration(const std::string& group, const std::string& n, const Scenario& s,
                           const Json& req, const Json& res, const std::string& path);

  // ---- negative checks (negatives.cc) ----

  void expect_error(const std::string& name, const HttpAnswer& a, int status);
  void negatives();
  void unknown_key_behind_jku(const std::string& path, const std::string& body);
  std::vector<Scenario> load_scenarios_quiet();

  // ---- latency and output (report.cc) ----

  void latency();
  Report finish();
  void write_json();
  void write_junit();

  const Options& opt_;
  std::ostream* out_;
  Report report_;
  Endpoint endpoint_;
  std::unique_ptr<RequestSigner> signer_;
  std::unique_ptr<httplib::Client> http_;
  const HttpAnswer* exchange_ = nullptr;  // see ExchangeScope
  std::unique_ptr<FhirServer> fhir_;
  std::set<std::string> card_types_;  // response types seen (CRD 2.0.1 answers)
  std::vector<Service> services_;
  std::set<std::string> configured_;
};

}  // namespace cryo::conformance::detail
