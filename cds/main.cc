// cryo-crd: the Cryo CRD executable. It only wires the modules together:
//   serve            the CDS Hooks server
//   evaluate FILE    the same evaluation offline (--explain for a criteria table)
//   policies check   validate policy and mapping files (every problem, with line and column)
//   policies test    run the policy test cases beside each policy file
//   policies scenarios DIR   write the golden conformance scenarios from the test cases
//   policies replay  re-decide stored hook calls under candidate policies
//   store purge      delete audit records older than N days
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "audit/admin_auth.h"
#include "audit/store.h"
#include "base/log.h"
#include "cds/audit_recorder.h"
#include "cds/card_text.h"
#include "cds/catalog.h"
#include "cds/config.h"
#include "cds/coverage_service.h"
#include "cds/demo_routes.h"
#include "cds/http_server.h"
#include "cds/policy_replay.h"
#include "cds/policy_tests.h"
#include "cds/response_writer.h"
#include "conformance/runner.h"
#include "fhir/client/prefetch_fetcher.h"
#include "fhir/datetime.h"
#include "mappings/mapping_set.h"
#include "policies/data_hash.h"
#include "policies/policy_library.h"
#include "security/bind_address.h"
#include "security/cors.h"
#include "security/token_verifier.h"

namespace {

namespace fs = std::filesystem;
using namespace cryo;

constexpr const char* kUsage = R"(usage:
  cryo-crd serve [--config FILE] [--bind ADDR] [--port N] [--policies DIR] [--mappings DIR]
                 [--base-url URL] [--threads N] [--max-body BYTES] [--tls-cert FILE --tls-key FILE]
                 [--data DIR | --db postgresql://...] [--retention-days N] [--no-store]
  cryo-crd evaluate REQUEST.json [--explain] [--policies DIR] [--mappings DIR]
  cryo-crd policies check [DIR] [--mappings DIR]
  cryo-crd policies test [DIR] [--mappings DIR]
  cryo-crd policies scenarios OUT_DIR [--policies DIR] [--mappings DIR]
  cryo-crd policies replay --candidate DIR [--since YYYY-MM-DD] [--payer ID] [--report FILE]
                           [--config FILE] [--data DIR | --db postgresql://...] [--mappings DIR]
  cryo-crd store purge --older-than-days N [--config FILE] [--data DIR | --db postgresql://...]
  cryo-crd conformance --base-url URL [--scenarios DIR] [--jwks FILE --iss ISS --kid KID]
                       [--report FILE] [--junit FILE]     (test any CRD server; see conformance/)
)";

// Bundled data: next to the sources this binary was built from, unless told otherwise.
fs::path default_data(const char* sub) {
  if (const char* env = std::getenv("CRYO_CRD_HOME")) return fs::path(env) / sub;
  return fs::path(CRYO_SOURCE_DIR) / sub;
}

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // --name value
  std::vector<std::string> flags;                            // --name

  std::optional<std::string> get(std::string_view name) const {
    for (auto it = options.rbegin(); it != options.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    return std::nullopt;
  }
  bool has(std::string_view name) const {
    for (const auto& f : flags) {
      if (f == name) return true;
    }
    return false;
  }
};

Result<Args> parse_args(int argc, char** argv, int first,
                        std::initializer_list<std::string_view> flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      a.positional.push_back(arg);
      continue;
    }
    bool is_flag = false;
    for (auto f : flags) is_flag |= (arg == f);
    if (is_flag) {
      a.flags.push_back(arg);
      continue;
    }
    if (auto eq = arg.find('='); eq != std::string::npos) {
      a.options.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
      continue;
    }
    if (i + 1 >= argc) return Error{arg, "needs a value"};
    a.options.emplace_back(arg, argv[++i]);
  }
  return a;
}

struct Data {
  mappings::MappingSet mappings;
  policies::PolicyLibrary library;
};

Result<std::unique_ptr<Data>> load_data(const Args& args) {
  fs::path mappings_dir = args.get("--mappings").value_or(default_data("mappings/data").string());
  fs::path policies_dir = args.get("--policies").value_or(default_data("policies/data").string());
  auto m = mappings::MappingSet::load(mappings_dir);
  if (!m) return m.error();
  auto data = std::make_unique<Data>();
  data->mappings = std::move(*m);
  auto lib = policies::PolicyLibrary::load(policies_dir, data->mappings);
  if (!lib) return lib.error();
  data->library = std::move(*lib);
  auto hash = policies::data_hash(policies_dir, mappings_dir);
  if (!hash) return hash.error();
  data->library.set_data_hash(*hash);

  // The card wording (summary templates a policy analyst may edit), checked like the policies.
  auto text = cds::CardText::load(default_data("cds/data/card-text.json"));
  if (!text) return text.error();
  for (const auto& id : text->critical_policies()) {
    bool known = false;
    for (const auto& p : data->library.summaries()) known = known || p.id == id;
    if (!known)
      return Error{text->file() + ": not_covered_critical_policies",
                   "no loaded policy '" + id + "'"};
  }
  cds::install_card_text(std::move(*text));
  return data;
}

std::atomic<cryo::cds::HttpServer*> g_server{nullptr};
void on_signal(int) {
  if (auto* server = g_server.load()) server->stop();
}

// Deletes audit records older than the retention period, at start and then daily.
class RetentionPurger {
 public:
  RetentionPurger(audit::AuditStore& store, int days) : store_(store), days_(days) {
    if (days_ > 0) thread_ = std::thread([this] { run(); });
  }
  ~RetentionPurger() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto cutoff = std::chrono::time_point_cast<std::chrono::milliseconds>(audit::Clock::now()) -
                    std::chrono::hours(24) * days_;
      auto purged = store_.purge_before(cutoff);
      if (purged) {
        log::info("audit retention purge", {{"deleted_calls", std::to_string(*purged)},
                                            {"retention_days", std::to_string(days_)}});
      } else {
        log::error("audit retention purge failed", {{"error", purged.error().to_string()}});
      }
      lock.lock();
      wake_.wait_for(lock, std::chrono::hours(24), [this] { return stopping_; });
    }
  }
  audit::AuditStore& store_;
  int days_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

int serve(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--no-store"});
  if (!args) {
    std::cerr << "cryo-crd serve: " << args.error().to_string() << "\n" << kUsage;
    return 2;
  }
  cds::ServerConfig config;
  if (auto file = args->get("--config")) {
    auto loaded = cds::load_config(*file);
    if (!loaded) {
      std::cerr << "cryo-crd: refusing to start: " << loaded.error().to_string() << "\n";
      return 1;
    }
    config = std::move(*loaded);
  }
  if (auto s = cds::apply_overrides(config, args->options); !s) {
    std::cerr << "cryo-crd serve: " << s.error().to_string() << "\n" << kUsage;
    return 2;
  }
  if (args->has("--no-store")) config.store_enabled = false;
  if (!config.policies_dir.empty()) args->options.emplace_back("--policies", config.policies_dir);
  if (!config.mappings_dir.empty()) args->options.emplace_back("--mappings", config.mappings_dir);
  auto data = load_data(*args);
  if (!data) {
    std::cerr << "cryo-crd: refusing to start: " << data.error().to_string() << "\n";
    return 1;
  }

  // Trust: signed calls from configured CDS clients; unsigned calls only on loopback.
  const bool has_issuers = !config.trust.issuers.empty();
  std::unique_ptr<security::TokenVerifier> verifier;
  if (has_issuers) {
    auto v = security::TokenVerifier::create(config.trust);
    if (!v) {
      std::cerr << "cryo-crd: refusing to start: " << v.error().to_string() << "\n";
      return 1;
    }
    verifier = std::move(*v);
  } else if (!security::is_loopback_address(config.bind)) {
    std::cerr
        << "cryo-crd: refusing to start: no trusted CDS client is configured (trust.issuers), so "
           "unsigned calls would be accepted; that is allowed only on a loopback address, not "
        << config.bind << "\n";
    return 1;
  }

  cds::ServerOptions server_options;
  server_options.bind = config.bind;
  server_options.port = config.port;
  server_options.threads = static_cast<size_t>(config.threads);
  server_options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  server_options.read_timeout_seconds = config.read_timeout_seconds;
  server_options.write_timeout_seconds = config.write_timeout_seconds;
  server_options.tls_cert_file = config.tls_cert_file;
  server_options.tls_key_file = config.tls_key_file;

  // The store: every determination is durable before it is handed out.
  std::unique_ptr<audit::AuditStore> store;
  if (config.store_enabled) {
    auto opened =
        audit::open_store(config.database_url.empty() ? config.data_dir : config.database_url);
    if (!opened) {
      std::cerr << "cryo-crd: refusing to start: audit store: " << opened.error().to_string()
                << "\n";
      return 1;
    }
    store = std::move(*opened);
  }

  cds::ServiceOptions service_options;
  service_options.limits.max_bytes = server_options.max_body_bytes;
  // Stored determinations name the code version and the data that decided.
  service_options.service_version += " (data " + (*data)->library.data_hash() + ")";
  // The base URL needs the bound port when none is configured: it is set right after binding,
  // before any request is served.
  auto service_holder =
      std::make_unique<cds::CoverageService>((*data)->mappings, (*data)->library, service_options);
  // What prefetch did not bring is read from the EHR's FHIR server, concurrently, within the
  // configured budget (so the whole answer stays inside CRD's 5 seconds).
  std::unique_ptr<fhir::client::PrefetchFetcher> fetcher;
  if (config.query_missing_data) {
    fhir::client::FetchOptions fetch_options;
    fetch_options.per_request_timeout = std::chrono::milliseconds(config.fhir_request_timeout_ms);
    fetch_options.total_budget = std::chrono::milliseconds(config.fhir_total_budget_ms);
    fetch_options.max_pages = static_cast<size_t>(config.fhir_max_pages);
    fetcher = std::make_unique<fhir::client::PrefetchFetcher>(fetch_options);
    service_holder->set_fetcher([&fetcher](const cds::HookRequest& request,
                                           const cds::MissingData& missing,
                                           fhir::ResourceIndex& record) {
      std::vector<fhir::client::QueryTemplate> templates;
      for (const auto& t : missing.templates) templates.push_back({t.key, t.query});
      fhir::client::FetchRequest fetch;
      fetch.fhir_server = request.fhir_server;
      fetch.access_token = request.access_token;
      fetch.context = request.context;
      fetch.templates = templates;
      fetch.references = missing.references;
      fhir::client::FetchReport report = fetcher->fetch(fetch);
      cds::FetchReport out;
      out.reached = report.reached;
      out.missing = report.add_to(record);
      out.problems = report.problems();
      return out;
    });
  }
  cds::HttpServer server(*service_holder, server_options);
  if (verifier) {
    server.set_authenticator([&verifier](std::string_view header, std::string_view audience) {
      security::Verdict v = verifier->verify(header, audience);
      return cds::AuthDecision{v.ok, v.issuer, v.reason, v.kid, v.jti};
    });
  }
  if (!config.cors.allowed_origins.empty()) {
    auto cors = security::CorsPolicy::create(config.cors);
    if (!cors) {
      std::cerr << "cryo-crd: refusing to start: " << cors.error().to_string() << "\n";
      return 1;
    }
    server.set_cors(std::move(*cors));
  }
  if (store && verifier && store->backend() == "postgresql") {
    // Replicas on one database refuse a token another replica already accepted.
    verifier->set_shared_replay_check(cds::make_shared_replay_check(*store));
  }
  if (store) {
    server.set_recorder(cds::make_recorder(*store, service_options.service_version));
    if (!config.admin_token_sha256.empty()) {
      auto credential = audit::AdminCredential::from_sha256_hex(config.admin_token_sha256);
      if (!credential) {
        std::cerr << "cryo-crd: refusing to start: " << credential.error().to_string() << "\n";
        return 1;
      }
      cds::add_assertion_routes(server, *store, std::move(*credential));
    }
  }
  // The /demo try-it page: on by default only on loopback with unsigned calls (cds/demo_routes.h).
  const bool demo =
      config.demo_enabled.value_or(security::is_loopback_address(config.bind) && !has_issuers);
  if (demo) {
    if (auto s = cds::add_demo_routes(server, default_data("demo"),
                                      default_data("conformance/scenarios"));
        !s) {
      std::cerr << "cryo-crd: refusing to start: demo: " << s.error().to_string() << "\n";
      return 1;
    }
  }
  if (auto s = server.bind(); !s) {
    std::cerr << "cryo-crd: " << s.error().to_string() << "\n";
    return 1;
  }
  service_holder->set_base_url(cds::effective_base_url(config, server.bound_port()));
  std::optional<RetentionPurger> purger;
  if (store) purger.emplace(*store, config.retention_days);

  g_server = &server;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (!has_issuers) {
    log::warn(
        "NO TRUSTED CDS CLIENT IS CONFIGURED: accepting unsigned calls (loopback only). "
        "Configure trust.issuers before exposing this service.");
  }
  log::info("cryo-crd serving",
            {{"bind", server_options.bind},
             {"port", std::to_string(server.bound_port())},
             {"base_url", service_holder->options().base_url},
             {"tls", server_options.tls_cert_file.empty() ? "off" : "on"},
             {"store", store ? std::string(store->backend()) : std::string("off")},
             {"policies", std::to_string((*data)->library.summaries().size())},
             {"demo", demo ? "/demo" : "off"}});
  server.serve();
  g_server = nullptr;
  log::info("cryo-crd stopped");
  return 0;
}

int evaluate(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--explain"});
  if (!args || args->positional.size() != 1) {
    std::cerr << kUsage;
    return 2;
  }
  std::ifstream in(args->positional[0], std::ios::binary);
  if (!in) {
    std::cerr << "cryo-crd evaluate: cannot read " << args->positional[0] << "\n";
    return 2;
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto data = load_data(*args);
  if (!data) {
    std::cerr << "cryo-crd: " << data.error().to_string() << "\n";
    return 1;
  }
  cds::CoverageService service((*data)->mappings, (*data)->library, {});
  fhir::JsonDocument doc;
  if (auto err = fhir::parse_in_place(body, doc, service.options().limits)) {
    std::cerr << "cryo-crd evaluate: " << err->message << "\n";
    return 1;
  }
  std::string_view hook = fhir::string_or_empty(fhir::member(doc, "hook"));
  const cds::ServiceDefinition* definition = nullptr;
  for (const auto& s : cds::services()) {
    if (s.hook == hook) definition = &s;
  }
  if (definition == nullptr) {
    std::cerr << "cryo-crd evaluate: no service answers hook '" << hook << "'\n";
    return 1;
  }
  cds::HookOutcome out = service.call(*definition, doc, std::chrono::system_clock::now());
  if (args->has("--explain") && out.status == 200) {
    std::cout << cds::explain_text(out.orders);
  } else {
    std::cout << out.body << "\n";
  }
  if (out.status != 200) {
    std::cerr << "cryo-crd evaluate: HTTP " << out.status << ": " << out.error << "\n";
    return 1;
  }
  return 0;
}

int policies_check(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, {});
  if (!args || args->positional.size() > 1) {
    std::cerr << kUsage;
    return 2;
  }
  if (!args->positional.empty()) args->options.emplace_back("--policies", args->positional[0]);
  fs::path mappings_dir = args->get("--mappings").value_or(default_data("mappings/data").string());
  fs::path policies_dir = args->get("--policies").value_or(default_data("policies/data").string());
  auto m = mappings::MappingSet::load(mappings_dir);
  if (!m) {
    std::cerr << m.error().to_string() << "\n";
    return 1;
  }
  policies::MappingVocabulary vocabulary(*m);
  std::vector<policies::PolicyProblem> problems =
      policies::PolicyLibrary::check(policies_dir, vocabulary);
  for (const auto& p : problems) std::cerr << p.to_string() << "\n";
  if (!problems.empty()) {
    std::cerr << problems.size() << (problems.size() == 1 ? " problem" : " problems") << "\n";
    return 1;
  }
  auto lib = policies::PolicyLibrary::load(policies_dir, *m);
  if (!lib) {
    std::cerr << lib.error().to_string() << "\n";
    return 1;
  }
  for (const auto& p : lib->summaries()) {
    std::cout << "ok  " << p.id << "  (" << p.document << ", revision " << p.revision;
    if (!p.effective_from.empty() || !p.effective_to.empty())
      std::cout << ", in force " << (p.effective_from.empty() ? "…" : p.effective_from) << " to "
                << (p.effective_to.empty() ? "today" : p.effective_to);
    std::cout << "; payers";
    for (const auto& payer : p.payer_ids) std::cout << " " << payer;
    std::cout << "; codes";
    for (const auto& c : p.billing_codes) std::cout << " " << c;
    std::cout << ")\n";
  }
  return 0;
}

// Runs the test cases beside each policy file, like `opa test`: one line per case, then
// "N passed, M failed"; exit status 1 when any failed.
int policies_test(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, {});
  if (!args || args->positional.size() > 1) {
    std::cerr << kUsage;
    return 2;
  }
  if (!args->positional.empty()) args->options.emplace_back("--policies", args->positional[0]);
  fs::path policies_dir = args->get("--policies").value_or(default_data("policies/data").string());
  auto data = load_data(*args);
  if (!data) {
    std::cerr << data.error().to_string() << "\n";
    return 1;
  }
  cds::PolicyTestReport report =
      cds::run_policy_tests(policies_dir, (*data)->mappings, (*data)->library);
  for (const auto& e : report.errors) std::cout << "FAIL " << e << "\n";
  for (const auto& r : report.results) std::cout << r.line() << "\n";
  std::cout << report.passed() << " passed, " << report.failed() << " failed\n";
  if (report.results.empty() && report.errors.empty()) {
    std::cerr << "cryo-crd policies test: no test cases (*.tests.json) in " << policies_dir.string()
              << "\n";
    return 1;
  }
  return report.failed() == 0 ? 0 : 1;
}

// Writes the golden conformance scenarios (one file per test case with a FHIR record) into
// OUT_DIR, replacing the scenarios written before (verbatim "foreign-" examples are kept).
int policies_scenarios(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, {});
  if (!args || args->positional.size() != 1) {
    std::cerr << kUsage;
    return 2;
  }
  fs::path out_dir = args->positional[0];
  fs::path policies_dir = args->get("--policies").value_or(default_data("policies/data").string());
  auto data = load_data(*args);
  if (!data) {
    std::cerr << data.error().to_string() << "\n";
    return 1;
  }
  auto scenarios = cds::scenarios_from_cases(policies_dir, (*data)->mappings, (*data)->library);
  if (!scenarios) {
    std::cerr << scenarios.error().to_string() << "\n";
    return 1;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  for (const auto& e : fs::directory_iterator(out_dir, ec)) {
    std::string n = e.path().filename().string();
    if (e.path().extension() == ".json" && n.rfind("foreign-", 0) != 0) fs::remove(e.path(), ec);
  }
  for (const auto& [name, text] : *scenarios) {
    std::ofstream out(out_dir / (name + ".json"), std::ios::binary);
    out << text;
    if (!out) {
      std::cerr << "cryo-crd policies scenarios: cannot write " << (out_dir / name).string()
                << "\n";
      return 1;
    }
  }
  std::cout << scenarios->size() << " scenarios written to " << out_dir.string() << "\n";
  return 0;
}

// Re-decides the stored hook calls under candidate policies and reports what would change.
// Reads the store only.
int policies_replay(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, {});
  std::optional<std::string> candidate = args ? args->get("--candidate") : std::nullopt;
  if (!args || !args->positional.empty() || !candidate) {
    std::cerr << kUsage;
    return 2;
  }
  cds::ServerConfig config;
  if (auto file = args->get("--config")) {
    auto loaded = cds::load_config(*file);
    if (!loaded) {
      std::cerr << "cryo-crd policies replay: " << loaded.error().to_string() << "\n";
      return 1;
    }
    config = std::move(*loaded);
  }
  std::vector<std::pair<std::string, std::string>> store_options;
  for (const auto& [name, value] : args->options) {
    if (name == "--data" || name == "--db") store_options.emplace_back(name, value);
  }
  if (auto s = cds::apply_overrides(config, store_options); !s) {
    std::cerr << "cryo-crd policies replay: " << s.error().to_string() << "\n";
    return 2;
  }
  cds::ReplayOptions options;
  if (auto since = args->get("--since")) {
    auto day = fhir::parse_fhir_date(*since);
    if (!day || since->size() != 10) {
      std::cerr << "cryo-crd policies replay: --since: expected YYYY-MM-DD\n";
      return 2;
    }
    options.since = std::chrono::time_point_cast<std::chrono::milliseconds>(day->begin);
  }
  options.payer = args->get("--payer").value_or("");
  Args data_args = *args;
  data_args.options.emplace_back("--policies", *candidate);
  auto data = load_data(data_args);
  if (!data) {
    std::cerr << "cryo-crd policies replay: candidate: " << data.error().to_string() << "\n";
    return 1;
  }
  const std::string& where = config.database_url.empty() ? config.data_dir : config.database_url;
  const fs::path file = where.rfind("sqlite:", 0) == 0
                            ? fs::path(where.substr(7))
                            : fs::path(where.empty() ? "./var" : where) / "cryo-audit.sqlite3";
  if (config.database_url.empty() && !fs::exists(file)) {  // never create an empty store
    std::cerr << "cryo-crd policies replay: no audit store at " << file.string() << "\n";
    return 1;
  }
  auto store = audit::open_store(where);
  if (!store) {
    std::cerr << "cryo-crd policies replay: audit store: " << store.error().to_string() << "\n";
    return 1;
  }
  cds::CoverageService service((*data)->mappings, (*data)->library, cds::ServiceOptions{});
  if (::isatty(STDERR_FILENO)) {
    auto counted = (*store)->for_each_call(options.since, options.payer,
                                           [](const audit::HookRecord&) { return true; });
    options.total = counted ? *counted : 0;
    options.progress = [](std::int64_t done, std::int64_t total) {
      constexpr int kWidth = 40;
      int filled = total > 0 ? static_cast<int>(done * kWidth / total) : 0;
      std::cerr << "\rre-deciding [" << std::string(filled, '#')
                << std::string(kWidth - filled, '.') << "] " << done << "/" << total << std::flush;
      if (done == total) std::cerr << "\n";
    };
  }
  auto report = cds::replay_calls(**store, service, options);
  if (!report) {
    std::cerr << "cryo-crd policies replay: " << report.error().to_string() << "\n";
    return 1;
  }
  std::cout << cds::replay_text(*report);
  if (auto path = args->get("--report")) {
    std::ofstream out(*path, std::ios::binary);
    out << cds::replay_json(*report);
    if (!out) {
      std::cerr << "cryo-crd policies replay: cannot write " << *path << "\n";
      return 1;
    }
  }
  return 0;
}

// Deletes the hook calls received more than N days ago (what --retention-days does daily), for
// a cron job or a one-off clean-up. Safe while servers run on the same store.
int store_purge(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, {});
  std::optional<std::string> days_text = args ? args->get("--older-than-days") : std::nullopt;
  if (!args || !args->positional.empty() || !days_text) {
    std::cerr << kUsage;
    return 2;
  }
  cds::ServerConfig config;
  if (auto file = args->get("--config")) {
    auto loaded = cds::load_config(*file);
    if (!loaded) {
      std::cerr << "cryo-crd store purge: " << loaded.error().to_string() << "\n";
      return 1;
    }
    config = std::move(*loaded);
  }
  std::vector<std::pair<std::string, std::string>> store_options = {
      {"--retention-days", *days_text}};
  for (const auto& [name, value] : args->options) {
    if (name == "--data" || name == "--db") {
      store_options.emplace_back(name, value);
    } else if (name != "--older-than-days" && name != "--config") {
      std::cerr << "cryo-crd store purge: " << name << " is not an option of store purge\n"
                << kUsage;
      return 2;
    }
  }
  if (auto s = cds::apply_overrides(config, store_options); !s || config.retention_days < 1) {
    std::cerr << "cryo-crd store purge: "
              << (s ? "--older-than-days: must be at least 1" : s.error().to_string()) << "\n"
              << kUsage;
    return 2;
  }
  const std::string& where = config.database_url.empty() ? config.data_dir : config.database_url;
  const fs::path file = where.rfind("sqlite:", 0) == 0
                            ? fs::path(where.substr(7))
                            : fs::path(where.empty() ? "./var" : where) / "cryo-audit.sqlite3";
  if (config.database_url.empty() && !fs::exists(file)) {  // never create an empty store
    std::cerr << "cryo-crd store purge: no audit store at " << file.string() << "\n";
    return 1;
  }
  auto store = audit::open_store(where);
  if (!store) {
    std::cerr << "cryo-crd store purge: audit store: " << store.error().to_string() << "\n";
    return 1;
  }
  auto cutoff = std::chrono::time_point_cast<std::chrono::milliseconds>(audit::Clock::now()) -
                std::chrono::hours(24) * config.retention_days;
  auto purged = (*store)->purge_before(cutoff);
  if (!purged) {
    std::cerr << "cryo-crd store purge: " << purged.error().to_string() << "\n";
    return 1;
  }
  std::cout << "deleted " << *purged << (*purged == 1 ? " hook call" : " hook calls")
            << " received before " << audit::format_time(cutoff) << " (" << (*store)->backend()
            << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "serve") return serve(argc, argv);
  if (command == "evaluate") return evaluate(argc, argv);
  if (command == "policies" && argc > 2 && std::string(argv[2]) == "check")
    return policies_check(argc, argv);
  if (command == "policies" && argc > 2 && std::string(argv[2]) == "test")
    return policies_test(argc, argv);
  if (command == "policies" && argc > 2 && std::string(argv[2]) == "scenarios")
    return policies_scenarios(argc, argv);
  if (command == "policies" && argc > 2 && std::string(argv[2]) == "replay")
    return policies_replay(argc, argv);
  if (command == "store" && argc > 2 && std::string(argv[2]) == "purge")
    return store_purge(argc, argv);
  if (command == "conformance") return conformance::run_conformance(argc - 1, argv + 1);
  std::cerr << kUsage;
  return command.empty() || command == "--help" || command == "help" ? 0 : 2;
}
