// cryo-crd: the Cryo CRD executable. It only wires the modules together:
//   serve            the CDS Hooks server (metrics, health, SIGHUP reload, systemd readiness)
//   evaluate FILE    the same evaluation offline (--explain for a criteria table)
//   policies check   validate policy and mapping files (every problem, with line and column)
//   policies test    run the policy test cases beside each policy file
//   policies scenarios DIR   write the golden conformance scenarios from the test cases
//   policies replay  re-decide stored hook calls under candidate policies
//   store purge      delete audit records older than N days
//   --version        the version and the hash of the policy and mapping data
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <atomic>
#include <thread>

#include <pthread.h>

#include "audit/admin_auth.h"
#include "audit/store.h"
#include "base/data_dir.h"
#include "base/log.h"
#include "base/thread_annotations.h"
#include "cds/audit_recorder.h"
#include "cds/card_text.h"
#include "cds/catalog.h"
#include "cds/config.h"
#include "cds/coverage_service.h"
#include "cds/demo_routes.h"
#include "cds/dtr.h"
#include "cds/hook_body.h"
#include "cds/http_server.h"
#include "cds/operation_outcome.h"
#include "cds/policy_replay.h"
#include "cds/policy_tests.h"
#include "cds/response_writer.h"
#include "cds/service_metrics.h"
#include "cds/systemd_notify.h"
#include "fhir/client/patient_data_cache.h"
#include "fhir/client/prefetch_fetcher.h"
#include "fhir/datetime.h"
#include "mappings/mapping_set.h"
#include "metrics/registry.h"
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
                 [--log-level debug|info|warn|error] [--log-format text|json]
  cryo-crd evaluate REQUEST.json [--explain] [--policies DIR] [--mappings DIR]
  cryo-crd policies check [DIR] [--mappings DIR]
  cryo-crd policies test [DIR] [--mappings DIR]
  cryo-crd policies scenarios OUT_DIR [--policies DIR] [--mappings DIR]
  cryo-crd policies replay --candidate DIR [--since YYYY-MM-DD] [--payer ID] [--report FILE]
                           [--config FILE] [--data DIR | --db postgresql://...] [--mappings DIR]
  cryo-crd store purge --older-than-days N [--config FILE] [--data DIR | --db postgresql://...]
  cryo-crd conformance --base-url URL [--scenarios DIR] [--jwks FILE --iss ISS --kid KID]
                       [--report FILE] [--junit FILE]     (test any CRD server; see conformance/)
  cryo-crd --version [--config FILE] [--policies DIR] [--mappings DIR]
  cryo-crd COMMAND --help
)";

constexpr const char* kServeHelp = R"(usage: cryo-crd serve [options]

Serves the CDS Hooks services over HTTP(S) until SIGTERM or SIGINT. SIGHUP re-reads the
policies, mappings and trust settings (a broken file keeps the running set).

  --config FILE          JSON configuration (sections server, tls, trust, cors, store, admin,
                         fhir, log); paths in it are relative to the file
  --bind ADDR            address to listen on (default 127.0.0.1)
  --port N               port (default 8080; 0 picks a free one)
  --base-url URL         public URL clients call (card links, token audiences)
  --policies DIR         policy files (default: the installed or build tree data directory)
  --mappings DIR         mapping files (same default)
  --threads N            worker threads (default 32 with a store, 8 with --no-store)
  --max-body BYTES       largest request body (default 5 MiB)
  --tls-cert FILE        certificate chain (PEM) for HTTPS, with --tls-key FILE
  --data DIR             audit store directory (SQLite; default ./var)
  --db URL               audit store in PostgreSQL (postgresql://...)
  --retention-days N     delete hook calls older than N days (daily)
  --no-store             keep no audit records (testing only)
  --log-level LEVEL      debug, info (default), warn or error
  --log-format FORMAT    text (default) or json
Paths on the command line are relative to the working directory. Options override the file.
)";

constexpr const char* kEvaluateHelp =
    R"(usage: cryo-crd evaluate REQUEST.json [--explain] [--policies DIR] [--mappings DIR]

Runs one CDS Hooks request through the same evaluation the server runs, offline, and prints
the response (or, with --explain, a table of each criterion and its evidence).
)";

constexpr const char* kPoliciesCheckHelp = R"(usage: cryo-crd policies check [DIR] [--mappings DIR]

Loads and validates every policy file of DIR (default: the bundled policies) against the
mappings; prints one line per policy, or the file, field and problem and exits 1.
)";

constexpr const char* kStorePurgeHelp =
    R"(usage: cryo-crd store purge --older-than-days N [--config FILE] [--data DIR | --db URL]

Deletes the hook calls (and their determinations) received more than N days ago. Safe while
servers run on the same store.
)";

bool wants_help(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return true;
  }
  return false;
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

// The policy and mapping directories: explicit option or configuration, else the installed
// or build tree data directory (base/data_dir.h).
struct DataPaths {
  fs::path policies;
  fs::path mappings;
};

Result<DataPaths> data_paths(const std::string& policies_dir, const std::string& mappings_dir) {
  auto policies = find_data_dir("policies", policies_dir);
  if (!policies) return policies.error();
  auto mappings = find_data_dir("mappings", mappings_dir);
  if (!mappings) return mappings.error();
  return DataPaths{*policies, *mappings};
}

Result<std::shared_ptr<const cds::ServiceData>> load_data(const DataPaths& paths) {
  auto hash = policies::data_hash(paths.policies, paths.mappings);
  if (!hash) return hash.error();
  auto m = mappings::MappingSet::load(paths.mappings);
  if (!m) return m.error();
  auto mapping_set = std::make_shared<const mappings::MappingSet>(std::move(*m));
  auto lib = policies::PolicyLibrary::load(paths.policies, *mapping_set);
  if (!lib) return lib.error();
  lib->set_data_hash(*hash);
  // The card wording (summary templates a policy analyst may edit), checked like the policies.
  auto card_text_dir = find_data_dir("card-text");
  if (!card_text_dir) return card_text_dir.error();
  auto text = cds::CardText::load(*card_text_dir / "card-text.json");
  if (!text) return text.error();
  for (const auto& id : text->critical_policies()) {
    bool known = false;
    for (const auto& p : lib->summaries()) known = known || p.id == id;
    if (!known)
      return Error{text->file() + ": not_covered_critical_policies",
                   "no loaded policy '" + id + "'"};
  }
  cds::install_card_text(std::move(*text));
  auto data = std::make_shared<cds::ServiceData>();
  data->mappings = std::move(mapping_set);
  data->library = std::make_shared<const policies::PolicyLibrary>(std::move(*lib));
  data->hash = std::move(*hash);
  return std::shared_ptr<const cds::ServiceData>(std::move(data));
}

Result<std::shared_ptr<const cds::ServiceData>> load_data(const Args& args) {
  auto paths = data_paths(args.get("--policies").value_or(""), args.get("--mappings").value_or(""));
  if (!paths) return paths.error();
  return load_data(*paths);
}

std::atomic<cryo::cds::HttpServer*> g_server{nullptr};
std::atomic<bool> g_draining{false};
void on_signal(int) {
  g_draining.store(true);
  if (auto* server = g_server.load()) server->stop();
}

// The CDS clients the server trusts: a verifier replaced as a whole on reload. Verifiers
// replaced within a token lifetime are kept, so that a token accepted before a reload cannot
// be replayed after it (each remembers the jti values it accepted).
class Trust {
 public:
  explicit Trust(std::shared_ptr<security::TokenVerifier> verifier)
      : current_(std::move(verifier)) {}

  cds::AuthDecision verify(std::string_view header, std::string_view audience) {
    std::shared_ptr<security::TokenVerifier> v = current_.load();
    if (!v) return cds::AuthDecision{};  // no trusted client: unsigned calls (loopback only)
    security::Verdict verdict = v->verify(header, audience);
    if (verdict.ok && has_retired_.load(std::memory_order_acquire)) {
      std::vector<std::shared_ptr<security::TokenVerifier>> earlier;
      {
        MutexLock lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        std::erase_if(retired_, [now](const auto& r) { return now > r.first; });
        for (const auto& r : retired_) earlier.push_back(r.second);
        if (retired_.empty()) has_retired_.store(false, std::memory_order_release);
      }
      for (const auto& old : earlier) {
        security::Verdict before = old->verify(header, audience);
        if (!before.ok && before.reason.starts_with("jti replayed")) {
          return {false, verdict.issuer, before.reason, verdict.kid, verdict.jti};
        }
      }
    }
    return {verdict.ok, verdict.issuer, verdict.reason, verdict.kid, verdict.jti};
  }

  void replace(std::shared_ptr<security::TokenVerifier> verifier, std::chrono::seconds keep_old) {
    std::shared_ptr<security::TokenVerifier> old = current_.exchange(std::move(verifier));
    if (!old) return;
    MutexLock lock(mutex_);
    retired_.emplace_back(std::chrono::steady_clock::now() + keep_old, std::move(old));
    has_retired_.store(true, std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<security::TokenVerifier>> current_;
  std::atomic<bool> has_retired_{false};
  Mutex mutex_;
  std::vector<
      std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<security::TokenVerifier>>>
      retired_ GUARDED_BY(mutex_);
};

// Builds the verifier a configuration asks for: null when no issuer is configured, which is
// allowed only on a loopback address. Replicas on one PostgreSQL store share the replay check.
Result<std::shared_ptr<security::TokenVerifier>> make_verifier(const cds::ServerConfig& config,
                                                               audit::AuditStore* store) {
  if (config.trust.issuers.empty()) {
    if (!security::is_loopback_address(config.bind)) {
      return Error{"trust.issuers",
                   "no trusted CDS client is configured, so unsigned calls would be accepted; "
                   "that is allowed only on a loopback address, not " +
                       config.bind};
    }
    return std::shared_ptr<security::TokenVerifier>();
  }
  auto v = security::TokenVerifier::create(config.trust);
  if (!v) return v.error();
  if (store != nullptr && store->backend() == "postgresql") {
    // Replicas on one database refuse a token another replica already accepted.
    (*v)->set_shared_replay_check(cds::make_shared_replay_check(*store));
  }
  return std::shared_ptr<security::TokenVerifier>(std::move(*v));
}

// The configuration file named by --config, or the defaults without one.
Result<cds::ServerConfig> config_file(const Args& args) {
  if (auto file = args.get("--config")) return cds::load_config(*file);
  return cds::ServerConfig{};
}

// The configuration of `serve`: the file (if any) with the command line on top.
Result<cds::ServerConfig> serve_config(const Args& args) {
  auto loaded = config_file(args);
  if (!loaded) return loaded.error();
  cds::ServerConfig config = std::move(*loaded);
  if (auto s = cds::apply_overrides(config, args.options); !s) return s.error();
  if (args.has("--no-store")) config.store_enabled = false;
  return config;
}

// Runs `reload` on every SIGHUP, in its own thread (SIGHUP is blocked in every other thread:
// construct before starting any thread).
class HangupListener {
 public:
  explicit HangupListener(std::function<void()> reload) : reload_(std::move(reload)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  void start() {
    thread_ = std::thread([this] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        if (stopping_.load()) return;
        reload_();
      }
    });
  }
  // Waits for a reload in progress to finish; no reload runs after this.
  void stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    pthread_kill(thread_.native_handle(), SIGHUP);
    thread_.join();
  }
  ~HangupListener() { stop(); }

 private:
  std::function<void()> reload_;
  sigset_t set_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Deletes audit records older than the retention period, at start and then daily.
class RetentionPurger {
 public:
  RetentionPurger(audit::AuditStore& store, int days) : store_(store), days_(days) {
    if (days_ > 0) thread_ = std::thread([this] { run(); });
  }
  ~RetentionPurger() {
    {
      MutexLock lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    MutexLock lock(mutex_);
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
      wake_.wait_for(lock, std::chrono::hours(24), [this]() REQUIRES(mutex_) { return stopping_; });
    }
  }
  audit::AuditStore& store_;
  int days_;
  Mutex mutex_;
  CondVar wake_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

// Default worker pools. With a store each hook call's worker waits for the group commit that
// makes its record durable, so the pool bounds how many calls share one commit: measured on
// 2 cores at 32 clients, 32 workers answered 40-55% more calls than 8 on SQLite and 83% more
// on PostgreSQL; without a store the work is all CPU and 8 did as well or better.
constexpr size_t kWorkersWithStore = 32;
constexpr size_t kWorkersWithoutStore = 8;

// The server's options from its configuration.
cds::ServerOptions server_options_for(const cds::ServerConfig& config) {
  cds::ServerOptions o;
  o.bind = config.bind;
  o.port = config.port;
  o.threads = config.threads > 0     ? static_cast<size_t>(config.threads)
              : config.store_enabled ? kWorkersWithStore
                                     : kWorkersWithoutStore;
  o.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  o.read_timeout_seconds = config.read_timeout_seconds;
  o.write_timeout_seconds = config.write_timeout_seconds;
  o.tls_cert_file = config.tls_cert_file;
  o.tls_key_file = config.tls_key_file;
  o.io_threads = static_cast<size_t>(config.io_threads);
  o.max_header_bytes = static_cast<size_t>(config.max_header_bytes);
  o.max_body_memory_bytes = static_cast<size_t>(config.max_body_memory_bytes);
  o.header_timeout_seconds = config.header_timeout_seconds;
  o.keep_alive_seconds = config.keep_alive_seconds;
  o.max_connections = static_cast<size_t>(config.max_connections);
  o.retry_after_seconds = config.retry_after_seconds;
  o.drain_timeout_seconds = config.drain_timeout_seconds;
  o.max_draft_orders = static_cast<size_t>(config.max_draft_orders);
  o.max_resources = static_cast<size_t>(config.max_resources);
  o.max_references = static_cast<size_t>(config.max_references);
  return o;
}

// What prefetch did not bring, read from the EHR's FHIR server (or what the patient data
// cache kept of it), with the fetch metrics.
cds::MissingDataFetcher make_fetcher(fhir::client::PrefetchFetcher& fetcher,
                                     fhir::client::PatientDataCache& patient_cache,
                                     cds::ServiceMetrics& service_metrics) {
  return [&fetcher, &patient_cache, &service_metrics](const cds::HookRequest& request,
                                                      const cds::MissingData& missing,
                                                      fhir::ResourceIndex& record) {
    const std::vector<fhir::PrefetchTemplate>& wanted = missing.templates;
    const fhir::client::PatientDataCache::Key key{std::string(request.client),
                                                  std::string(request.fhir_server),
                                                  std::string(request.patient_id)};
    std::vector<fhir::PrefetchTemplate> templates =
        patient_cache.serve(key, wanted, request.context, record);
    if (patient_cache.enabled()) {
      for (const auto& t : wanted) {
        if (!fhir::client::PatientDataCache::cacheable(t.query)) continue;
        bool fetched = std::any_of(templates.begin(), templates.end(),
                                   [&t](const auto& f) { return f.key == t.key; });
        service_metrics.patient_cache_lookup(cds::ServiceMetrics::resource_type_of(t.query),
                                             !fetched);
      }
    }
    fhir::FetchSummary out;
    if (templates.empty() && missing.references.empty()) {
      out.reached = true;  // everything came from what this client fetched moments ago
      return out;
    }
    fhir::client::FetchRequest fetch;
    fetch.fhir_server = request.fhir_server;
    fetch.access_token = request.access_token;
    fetch.context = request.context;
    fetch.templates = templates;
    fetch.references = missing.references;
    fhir::client::FetchReport report = fetcher.fetch(fetch);
    for (size_t i = 0; i < report.results.size(); ++i) {
      const auto& r = report.results[i];
      std::string type = cds::ServiceMetrics::resource_type_of(
          i < templates.size() ? std::string_view(templates[i].query) : std::string_view(r.key));
      service_metrics.observe_fetch(
          type, static_cast<double>(r.elapsed.count()) / 1000.0,
          r.error ? fhir::client::to_string(r.error->kind) : std::string_view());
    }
    if (request.hook == "encounter-start")
      patient_cache.keep(key, templates, request.context, report);
    return report.hand_to(record);
  };
}

// An exit code when serving must stop there; nullopt to go on.
using Step = std::optional<int>;

Step refuse(const std::string& why) {
  std::cerr << "cryo-crd: refusing to start: " << why << "\n";
  return 1;
}

// `cryo-crd serve`, in its steps: load the configuration, build the data snapshot, open the
// store and trust, build the service, set up the routes, run the listener, drain.
class Serve {
 public:
  int run(int argc, char** argv) {
    if (Step s = load_configuration(argc, argv)) return *s;
    if (Step s = build_snapshot()) return *s;
    if (Step s = open_store()) return *s;
    build_service();
    if (Step s = set_up_routes()) return *s;
    if (Step s = run_listener()) return *s;
    drain();
    return 0;
  }

 private:
  // The configuration file (if any) with the command line on top; logging as it says.
  Step load_configuration(int argc, char** argv) {
    auto parsed = parse_args(argc, argv, 2, {"--no-store"});
    if (!parsed) {
      std::cerr << "cryo-crd serve: " << parsed.error().to_string() << "\n" << kUsage;
      return 2;
    }
    args_ = std::move(*parsed);
    auto loaded = serve_config(args_);
    if (!loaded) {
      refuse(loaded.error().to_string());
      return args_.get("--config") ? 1 : 2;
    }
    config_ = std::move(*loaded);
    log::set_min_level(*log::parse_level(config_.log_level));
    log::set_format(*log::parse_format(config_.log_format));
    return std::nullopt;
  }

  // The policies and mappings calls are answered with (replaced as a whole on reload).
  Step build_snapshot() {
    auto paths = data_paths(config_.policies_dir, config_.mappings_dir);
    auto data =
        paths ? load_data(*paths) : Result<std::shared_ptr<const cds::ServiceData>>(paths.error());
    if (!data) return refuse(data.error().to_string());
    data_ = std::move(*data);
    if (config_.trust.issuers.empty() && !security::is_loopback_address(config_.bind)) {
      // Refused before anything is opened (the verifier below says the same).
      return refuse(make_verifier(config_, nullptr).error().to_string());
    }
    server_options_ = server_options_for(config_);
    return std::nullopt;
  }

  // The store (every determination is durable before it is handed out), the trusted CDS
  // clients (unsigned calls only on loopback) and the admin credential.
  Step open_store() {
    if (config_.store_enabled) {
      audit::StoreOptions store_options;
      store_options.deadline = std::chrono::milliseconds(config_.store_deadline_ms);
      store_options.on_group_committed = [this](std::size_t records) {
        service_metrics_.store_group(records);
      };
      auto opened = audit::open_store(
          config_.database_url.empty() ? config_.data_dir : config_.database_url, store_options);
      if (!opened) return refuse("audit store: " + opened.error().to_string());
      store_ = std::move(*opened);
    }
    auto initial_verifier = make_verifier(config_, store_.get());
    if (!initial_verifier) return refuse(initial_verifier.error().to_string());
    has_issuers_ = *initial_verifier != nullptr;
    trust_.emplace(std::move(*initial_verifier));
    if (!config_.admin_token_sha256.empty()) {
      auto credential = audit::AdminCredential::from_sha256_hex(config_.admin_token_sha256);
      if (!credential) return refuse(credential.error().to_string());
      admin_ = std::move(*credential);
    }
    return std::nullopt;
  }

  // The coverage service, with the FHIR queries for what prefetch did not bring (concurrent,
  // within the configured budget, so the whole answer stays inside CRD's 5 seconds).
  void build_service() {
    cds::ServiceOptions service_options;
    service_options.limits.max_bytes = server_options_.max_body_bytes;
    // Stored determinations name the code version and the data that decided (audit_recorder).
    service_options.service_version = CRYO_VERSION;
    service_options.dtr_launch_url = config_.dtr_launch_url;
    // The base URL needs the bound port when none is configured: it is set right after
    // binding, before any request is served.
    service_ = std::make_unique<cds::CoverageService>(data_, service_options);
    if (!config_.query_missing_data) return;
    fhir::client::FetchOptions fetch_options;
    fetch_options.per_request_timeout = std::chrono::milliseconds(config_.fhir_request_timeout_ms);
    fetch_options.total_budget = std::chrono::milliseconds(config_.fhir_total_budget_ms);
    fetch_options.max_pages = static_cast<size_t>(config_.fhir_max_pages);
    fetcher_ = std::make_unique<fhir::client::PrefetchFetcher>(fetch_options);
    // What encounter-start read is kept briefly for the order hooks that follow (per client,
    // FHIR server and patient).
    fhir::client::PatientDataCacheOptions cache_options;
    cache_options.ttl = std::chrono::seconds(config_.cache_ttl_seconds);
    cache_options.max_entries = static_cast<size_t>(config_.cache_max_entries);
    cache_options.max_bytes = static_cast<size_t>(config_.cache_max_bytes);
    patient_cache_ = std::make_unique<fhir::client::PatientDataCache>(cache_options);
    service_->set_fetcher(make_fetcher(*fetcher_, *patient_cache_, service_metrics_));
  }

  Step set_up_routes() {
    server_ = std::make_unique<cds::HttpServer>(*service_, server_options_);
    if (Step s = set_up_hook_routes()) return s;
    if (store_) set_up_store_routes();
    set_up_watch_routes();
    set_up_reload();
    return set_up_demo();
  }

  // Hook calls: authenticated, observed (metrics, log line), CORS as configured.
  Step set_up_hook_routes() {
    server_->set_authenticator([this](std::string_view header, std::string_view audience) {
      cds::AuthDecision d = trust_->verify(header, audience);
      if (!d.ok) service_metrics_.token_refused(d.reason);
      return d;
    });
    server_->set_call_observer([this](const cds::CallSummary& call) {
      service_metrics_.observe_call(call);
      cds::log_call(call);
    });
    if (!config_.cors.allowed_origins.empty()) {
      auto cors = security::CorsPolicy::create(config_.cors);
      if (!cors) return refuse(cors.error().to_string());
      server_->set_cors(std::move(*cors));
    }
    return std::nullopt;
  }

  // What needs the store: recording each call, the admin look-up, DTR, revising assertions.
  void set_up_store_routes() {
    cds::HookRecorder recorder = cds::make_recorder(*store_, service_->options().service_version);
    auto record = recorder.record;
    recorder.record = [record, this](const cds::HookOutcome& outcome, const fhir::Json& request,
                                     std::string_view issuer, std::string_view service_id) {
      auto start = std::chrono::steady_clock::now();
      auto stored = record(outcome, request, issuer, service_id);
      std::chrono::duration<double> waited = std::chrono::steady_clock::now() - start;
      service_metrics_.store_commit(waited.count(), stored.ok());
      store_committing_.store(stored.ok(), std::memory_order_relaxed);
      return stored;
    };
    server_->set_recorder(std::move(recorder));
    if (admin_) cds::add_assertion_routes(*server_, *store_, *admin_);
    // DTR: the questions for conditional determinations (needs the stored hook calls).
    cds::add_dtr_routes(
        *server_, *service_, *store_,
        [this](std::string_view client, std::string_view fhir_server, std::string_view patient_id) {
          // What was kept of the patient's record no longer shows the answers the
          // EHR stores next: the next order-sign reads it again.
          if (patient_cache_)
            patient_cache_->forget(
                {std::string(client), std::string(fhir_server), std::string(patient_id)});
        });
    // An order-sign with the answers to those questions revises the assertion they answer,
    // when the store confirms it was handed out for that order, patient and client.
    service_->set_assertion_check(
        [&audit_store = *store_](std::string_view id, std::string_view order_ref,
                                 std::string_view patient_id, std::string_view issuer) {
          auto found = audit_store.find_assertion(id);
          if (!found)
            return false;  // the store does not answer: a new id (the call needs it anyway)
          return std::any_of(found->begin(), found->end(), [&](const audit::AssertionRecord& r) {
            return r.determination.order_ref == order_ref && r.call.patient_id == patient_id &&
                   r.call.client_iss == issuer;
          });
        });
  }

  // Watching it: metrics (admin token), liveness and readiness (no token: for probes).
  void set_up_watch_routes() {
    add_gauges();
    server_->add_get("/metrics", [this](const std::string&,
                                        const std::map<std::string, std::string>&,
                                        std::string_view authorization, std::string_view) {
      if (!admin_) {
        return cds::HttpServer::Reply{
            404, "application/fhir+json",
            cds::operation_outcome("not-found", "metrics are off until admin.token_sha256 is set")};
      }
      auto token = audit::bearer_token(authorization);
      if (!token || !admin_->accepts(*token)) {
        return cds::HttpServer::Reply{401, "application/fhir+json",
                                      cds::operation_outcome("login", "admin token required")};
      }
      return cds::HttpServer::Reply{200, "text/plain; version=0.0.4; charset=utf-8",
                                    registry_.expose()};
    });
    server_->add_get(
        "/health/live", [](const std::string&, const std::map<std::string, std::string>&,
                           std::string_view, std::string_view) {
          return cds::HttpServer::Reply{200, "application/json", R"({"status":"live"})"};
        });
    server_->add_get("/health/ready",
                     [this](const std::string&, const std::map<std::string, std::string>&,
                            std::string_view, std::string_view) { return readiness(); });
  }

  void add_gauges() {
    registry_.gauge("cryo_crd_build_info", "The running service's version.", {"version"}, [] {
      return std::vector<metrics::GaugeSample>{{{CRYO_VERSION}, 1}};
    });
    registry_.gauge("cryo_crd_data_info", "The loaded policy and mapping data, by hash.", {"hash"},
                    [this] {
                      return std::vector<metrics::GaugeSample>{{{service_->data()->hash}, 1}};
                    });
    registry_.gauge("cryo_crd_connections", "Client connections the listener holds, by state.",
                    {"state"}, [this] {
                      cds::ListenerStats st = server_->listener_stats();
                      return std::vector<metrics::GaugeSample>{
                          {{"open"}, static_cast<double>(st.open_connections)},
                          {{"idle"}, static_cast<double>(st.idle_connections)}};
                    });
    registry_.gauge("cryo_crd_connections_refused",
                    "Connections refused over the connection limit since start.", {}, [this] {
                      return std::vector<metrics::GaugeSample>{
                          {{}, static_cast<double>(server_->listener_stats().refused_connections)}};
                    });
    if (!patient_cache_) return;
    registry_.gauge("cryo_crd_patient_cache_size",
                    "What the patient data cache holds: entries (client, FHIR server, patient) "
                    "and bytes of JSON.",
                    {"unit"}, [this] {
                      auto st = patient_cache_->stats();
                      return std::vector<metrics::GaugeSample>{
                          {{"entries"}, static_cast<double>(st.entries)},
                          {{"bytes"}, static_cast<double>(st.bytes)}};
                    });
    registry_.gauge("cryo_crd_patient_cache_dropped",
                    "Patient data cache entries evicted over its bounds and documents expired, "
                    "since start.",
                    {"reason"}, [this] {
                      auto st = patient_cache_->stats();
                      return std::vector<metrics::GaugeSample>{
                          {{"evicted"}, static_cast<double>(st.evictions)},
                          {{"expired"}, static_cast<double>(st.expired)}};
                    });
  }

  // GET /health/ready: policies and mappings loaded, store writable, not draining.
  cds::HttpServer::Reply readiness() const {
    auto current = service_->data();
    bool policies_ok = current && current->library && !current->library->summaries().empty();
    bool mappings_ok = current && current->mappings;
    bool store_ok = true;
    if (store_)
      store_ok = store_committing_.load(std::memory_order_relaxed) &&
                 store_->card_exists("health-probe").ok();
    bool draining = g_draining.load();
    auto word = [](bool ok) { return ok ? std::string("\"ok\"") : std::string("\"failing\""); };
    std::string body =
        std::string(R"({"status":")") +
        (policies_ok && mappings_ok && store_ok && !draining ? "ready" : "not-ready") +
        R"(","checks":{"policies":)" + word(policies_ok) + R"(,"mappings":)" + word(mappings_ok) +
        R"(,"store":)" + (store_ ? word(store_ok) : std::string("\"off\"")) + R"(,"draining":)" +
        (draining ? "true" : "false") + "}}";
    return cds::HttpServer::Reply{policies_ok && mappings_ok && store_ok && !draining ? 200 : 503,
                                  "application/json", body};
  }

  // Reload (SIGHUP): policies, mappings and trust from the same files; a broken file keeps
  // the running set and is logged. Calls in flight finish on the data they started with.
  void set_up_reload() {
    reload_action_ = [this] { reload(); };
  }

  void reload() {
    MutexLock lock(reload_mutex_);
    cds::notify_systemd("RELOADING=1");
    log::info("reloading policies, mappings and trust");
    auto fail = [&](const Error& e) {
      log::error("reload failed; still serving the previous set", {{"error", e.to_string()}});
      service_metrics_.reload(false);
      cds::notify_systemd("READY=1\nSTATUS=reload failed: still serving the previous set");
    };
    auto fresh = serve_config(args_);
    if (!fresh) return fail(fresh.error());
    auto fresh_paths = data_paths(fresh->policies_dir, fresh->mappings_dir);
    if (!fresh_paths) return fail(fresh_paths.error());
    auto fresh_data = load_data(*fresh_paths);
    if (!fresh_data) return fail(fresh_data.error());
    fresh->bind = config_.bind;  // the listener stays where it is
    auto fresh_verifier = make_verifier(*fresh, store_.get());
    if (!fresh_verifier) return fail(fresh_verifier.error());
    const std::string hash = (*fresh_data)->hash;
    const size_t count = (*fresh_data)->library->summaries().size();
    service_->replace_data(std::move(*fresh_data));
    trust_->replace(std::move(*fresh_verifier),
                    fresh->trust.max_token_lifetime + 2 * fresh->trust.clock_skew);
    service_metrics_.reload(true);
    log::info("reloaded", {{"policies", std::to_string(count)}, {"data_hash", hash}});
    cds::notify_systemd("READY=1\nSTATUS=serving (reloaded)");
  }

  // The /demo try-it page: on by default only on loopback with unsigned calls
  // (cds/demo_routes.h).
  Step set_up_demo() {
    demo_ =
        config_.demo_enabled.value_or(security::is_loopback_address(config_.bind) && !has_issuers_);
    if (!demo_) return std::nullopt;
    auto demo_dir = find_data_dir("demo");
    auto scenario_dir = find_data_dir("scenarios");
    if (!demo_dir || !scenario_dir) {
      return refuse("demo: " + (demo_dir ? scenario_dir.error() : demo_dir.error()).to_string());
    }
    if (auto s = cds::add_demo_routes(*server_, *demo_dir, *scenario_dir); !s) {
      return refuse("demo: " + s.error().to_string());
    }
    return std::nullopt;
  }

  // Binds, then serves until SIGTERM or SIGINT; returns once the listener has drained.
  Step run_listener() {
    if (auto s = server_->bind(); !s) {
      std::cerr << "cryo-crd: " << s.error().to_string() << "\n";
      return 1;
    }
    service_->set_base_url(cds::effective_base_url(config_, server_->bound_port()));
    if (store_) purger_.emplace(*store_, config_.retention_days);
    g_server = server_.get();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    // A full disk or `ulimit -f` makes a store write fail (answered 503), never kills the
    // server.
    std::signal(SIGXFSZ, SIG_IGN);
    std::signal(SIGPIPE, SIG_IGN);
    // Large request bodies are mapped and returned to the system when freed, so a burst of
    // them does not leave the process holding their memory.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    hangups_.start();
    if (!has_issuers_) {
      log::warn(
          "NO TRUSTED CDS CLIENT IS CONFIGURED: accepting unsigned calls (loopback only). "
          "Configure trust.issuers before exposing this service.");
    }
    log::info("cryo-crd serving",
              {{"bind", server_options_.bind},
               {"port", std::to_string(server_->bound_port())},
               {"base_url", service_->options().base_url},
               {"tls", server_options_.tls_cert_file.empty() ? "off" : "on"},
               {"store", store_ ? std::string(store_->backend()) : std::string("off")},
               {"policies", std::to_string(data_->library->summaries().size())},
               {"data_hash", data_->hash},
               {"version", CRYO_VERSION},
               {"demo", demo_ ? "/demo" : "off"}});
    cds::notify_systemd("READY=1\nSTATUS=serving on " + server_options_.bind + ":" +
                        std::to_string(server_->bound_port()));
    server_->serve();
    return std::nullopt;
  }

  // After the listener drained: no reload runs any more.
  void drain() {
    cds::notify_systemd("STOPPING=1");
    hangups_.stop();
    g_server = nullptr;
    log::info("cryo-crd stopped");
  }

  // Before any thread exists: SIGHUP is taken by the reload thread only.
  std::function<void()> reload_action_;
  HangupListener hangups_{[this] {
    if (reload_action_) reload_action_();
  }};
  Args args_;
  cds::ServerConfig config_;
  std::shared_ptr<const cds::ServiceData> data_;
  metrics::Registry registry_;
  cds::ServiceMetrics service_metrics_{registry_};
  cds::ServerOptions server_options_;
  std::unique_ptr<audit::AuditStore> store_;
  bool has_issuers_ = false;
  std::optional<Trust> trust_;
  std::optional<audit::AdminCredential> admin_;
  std::unique_ptr<cds::CoverageService> service_;
  std::unique_ptr<fhir::client::PrefetchFetcher> fetcher_;
  std::unique_ptr<fhir::client::PatientDataCache> patient_cache_;
  std::unique_ptr<cds::HttpServer> server_;
  std::atomic<bool> store_committing_{true};  // whether the store took its last commit
  Mutex reload_mutex_;                        // one reload at a time
  bool demo_ = false;
  std::optional<RetentionPurger> purger_;
};

int serve(int argc, char** argv) {
  if (wants_help(argc, argv, 2)) {
    std::cout << kServeHelp;
    return 0;
  }
  Serve process;
  return process.run(argc, argv);
}

int evaluate(int argc, char** argv) {
  if (wants_help(argc, argv, 2)) {
    std::cout << kEvaluateHelp;
    return 0;
  }
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
  cds::CoverageService service(*data, {});
  fhir::JsonDocument doc;
  if (auto refused = cds::parse_hook_body(body, doc, {.parse = service.options().limits})) {
    std::cerr << "cryo-crd evaluate: " << refused->message << "\n";
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

// The policy and mapping directories of `policies check` and `policies test`: [DIR] (the
// policies) or --policies/--mappings, else the bundled ones. nullopt with `failed` set to the
// exit code, after saying why.
std::optional<DataPaths> policy_command_paths(int argc, char** argv, int& failed) {
  auto args = parse_args(argc, argv, 3, {});
  if (!args || args->positional.size() > 1) {
    std::cerr << kUsage;
    failed = 2;
    return std::nullopt;
  }
  if (!args->positional.empty()) args->options.emplace_back("--policies", args->positional[0]);
  auto paths =
      data_paths(args->get("--policies").value_or(""), args->get("--mappings").value_or(""));
  if (!paths) {
    std::cerr << paths.error().to_string() << "\n";
    failed = 1;
    return std::nullopt;
  }
  return std::move(*paths);
}

int policies_check(int argc, char** argv) {
  if (wants_help(argc, argv, 3)) {
    std::cout << kPoliciesCheckHelp;
    return 0;
  }
  int failed = 0;
  auto paths = policy_command_paths(argc, argv, failed);
  if (!paths) return failed;
  const fs::path policies_dir = paths->policies, mappings_dir = paths->mappings;
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
  auto hash = policies::data_hash(policies_dir, mappings_dir);
  if (!hash) {
    std::cerr << hash.error().to_string() << "\n";
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
  // What every determination made with these files records.
  std::cout << "data " << *hash << "\n";
  return 0;
}

// Runs the test cases beside each policy file, like `opa test`: one line per case, then
// "N passed, M failed"; exit status 1 when any failed.
int policies_test(int argc, char** argv) {
  int failed = 0;
  auto paths = policy_command_paths(argc, argv, failed);
  if (!paths) return failed;
  const fs::path policies_dir = paths->policies;
  auto data = load_data(*paths);
  if (!data) {
    std::cerr << data.error().to_string() << "\n";
    return 1;
  }
  cds::PolicyTestReport report =
      cds::run_policy_tests(policies_dir, *(*data)->mappings, *(*data)->library);
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
  auto paths =
      data_paths(args->get("--policies").value_or(""), args->get("--mappings").value_or(""));
  if (!paths) {
    std::cerr << paths.error().to_string() << "\n";
    return 1;
  }
  const fs::path policies_dir = paths->policies;
  auto data = load_data(*paths);
  if (!data) {
    std::cerr << data.error().to_string() << "\n";
    return 1;
  }
  auto scenarios = cds::scenarios_from_cases(policies_dir, *(*data)->mappings, *(*data)->library);
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

// Opens the audit store a configuration names, for tools that read or trim it: an SQLite file
// that does not exist yet is an error (a tool never creates an empty store).
Result<std::unique_ptr<audit::AuditStore>> open_existing_store(const cds::ServerConfig& config) {
  const std::string& where = config.database_url.empty() ? config.data_dir : config.database_url;
  const fs::path file = where.rfind("sqlite:", 0) == 0
                            ? fs::path(where.substr(7))
                            : fs::path(where.empty() ? "./var" : where) / "cryo-audit.sqlite3";
  if (config.database_url.empty() && !fs::exists(file)) {
    return Error{file.string(), "no audit store here"};
  }
  auto store = audit::open_store(where);
  if (!store) return Error{"audit store", store.error().to_string()};
  return store;
}

// The configuration of a command that works on the audit store: the configuration file, then
// `overrides` and the store the command line names (--data, --db). 0, or the exit code after
// saying why.
int store_command_config(const Args& args, std::string_view command,
                         std::vector<std::pair<std::string, std::string>> overrides,
                         cds::ServerConfig& config) {
  auto loaded = config_file(args);
  if (!loaded) {
    std::cerr << "cryo-crd " << command << ": " << loaded.error().to_string() << "\n";
    return 1;
  }
  config = std::move(*loaded);
  for (const auto& [name, value] : args.options) {
    if (name == "--data" || name == "--db") overrides.emplace_back(name, value);
  }
  if (auto s = cds::apply_overrides(config, overrides); !s) {
    std::cerr << "cryo-crd " << command << ": " << s.error().to_string() << "\n" << kUsage;
    return 2;
  }
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
  if (int failed = store_command_config(*args, "policies replay", {}, config)) return failed;
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
  auto store = open_existing_store(config);
  if (!store) {
    std::cerr << "cryo-crd policies replay: " << store.error().to_string() << "\n";
    return 1;
  }
  cds::CoverageService service(*(*data)->mappings, *(*data)->library, cds::ServiceOptions{});
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
  if (wants_help(argc, argv, 3)) {
    std::cout << kStorePurgeHelp;
    return 0;
  }
  auto args = parse_args(argc, argv, 3, {});
  std::optional<std::string> days_text = args ? args->get("--older-than-days") : std::nullopt;
  if (!args || !args->positional.empty() || !days_text) {
    std::cerr << kUsage;
    return 2;
  }
  for (const auto& [name, value] : args->options) {
    if (name != "--data" && name != "--db" && name != "--older-than-days" && name != "--config") {
      std::cerr << "cryo-crd store purge: " << name << " is not an option of store purge\n"
                << kUsage;
      return 2;
    }
  }
  cds::ServerConfig config;
  if (int failed =
          store_command_config(*args, "store purge", {{"--retention-days", *days_text}}, config))
    return failed;
  if (config.retention_days < 1) {
    std::cerr << "cryo-crd store purge: --older-than-days: must be at least 1\n" << kUsage;
    return 2;
  }
  auto store = open_existing_store(config);
  if (!store) {
    std::cerr << "cryo-crd store purge: " << store.error().to_string() << "\n";
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

// The service version and the identity of the data it would serve with.
int version(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--version"});
  std::cout << "cryo-crd " << CRYO_VERSION << "\n";
  if (!args) {
    std::cerr << "cryo-crd --version: " << args.error().to_string() << "\n";
    return 2;
  }
  auto loaded = config_file(*args);
  if (!loaded) {
    std::cerr << "cryo-crd: " << loaded.error().to_string() << "\n";
    return 1;
  }
  cds::ServerConfig config = std::move(*loaded);
  std::vector<std::pair<std::string, std::string>> data_options;
  for (const auto& o : args->options) {
    if (o.first == "--policies" || o.first == "--mappings") data_options.push_back(o);
  }
  if (auto s = cds::apply_overrides(config, data_options); !s) {
    std::cerr << "cryo-crd --version: " << s.error().to_string() << "\n";
    return 2;
  }
  auto paths = data_paths(config.policies_dir, config.mappings_dir);
  auto data =
      paths ? load_data(*paths) : Result<std::shared_ptr<const cds::ServiceData>>(paths.error());
  if (!data) {
    std::cerr << "cryo-crd: data not loaded: " << data.error().to_string() << "\n";
    return 1;
  }
  std::cout << "data " << (*data)->hash << "\n"
            << "policies " << paths->policies.string() << " ("
            << (*data)->library->summaries().size() << " policies)\n"
            << "mappings " << paths->mappings.string() << "\n";
  return 0;
}

// `cryo-crd conformance ARGS`: the conformance runner, a program of its own installed beside
// this one (crd-conformance), with the same arguments; the server carries no test client.
int run_conformance_program(int argc, char** argv) {
  std::string name = "crd-conformance";
  std::vector<char*> args{name.data()};
  for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = self.parent_path() / name;
    if (::access(beside.c_str(), X_OK) == 0) ::execv(beside.c_str(), args.data());
  }
  ::execvp(name.c_str(), args.data());  // elsewhere on PATH
  std::cerr << "cryo-crd: cannot run " << name
            << " (installed beside cryo-crd or on PATH): " << std::strerror(errno) << "\n";
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "--version" || command == "version") return version(argc, argv);
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
  if ((command == "policies" || command == "store") && wants_help(argc, argv, 2)) {
    std::cout << (command == "policies" ? kPoliciesCheckHelp : kStorePurgeHelp);
    return 0;
  }
  if (command == "conformance") return run_conformance_program(argc - 2, argv + 2);
  std::cerr << kUsage;
  return command.empty() || command == "--help" || command == "-h" || command == "help" ? 0 : 2;
}
