#include "conformance/runner.h"

#include <httplib.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/text.h"
#include "base/url.h"
#include "conformance/runner_steps.h"

namespace cryo::conformance {
namespace detail {
namespace {

std::string join(const Problems& problems, size_t max = 12) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < max; ++i) out += (i ? "; " : "") + problems[i];
  if (problems.size() > max) out += "; ... (" + std::to_string(problems.size() - max) + " more)";
  return out;
}

constexpr size_t kShownBodyBytes = 2048;  // of each request and response body in a report

std::string bounded(const std::string& body) {
  if (body.size() <= kShownBodyBytes) return body;
  return body.substr(0, kShownBodyBytes) + "... (" + std::to_string(body.size()) + " bytes)";
}

// "POST /cds-services/x" and its headers and body; a bearer token is shown as its length only.
std::string describe_request(const std::string& method, const std::string& path,
                             const httplib::Headers& headers, const std::string& body) {
  std::string out = method + " " + path + "\n";
  for (const auto& [name, value] : headers) {
    if (iequals(name, "Authorization")) {
      out += name + ": Bearer <JWT of " + std::to_string(value.size() > 7 ? value.size() - 7 : 0) +
             " bytes, not shown>\n";
    } else {
      out += name + ": " + value + "\n";
    }
  }
  if (!body.empty()) out += "\n" + bounded(body);
  return out;
}

std::string describe_response(const httplib::Response& res) {
  std::string out = "HTTP " + std::to_string(res.status) + "\n";
  for (const auto& [name, value] : res.headers) out += name + ": " + value + "\n";
  if (!res.body.empty()) out += "\n" + bounded(res.body);
  return out;
}

bool parse_base_url(std::string url, Endpoint& ep) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  const std::string suffix = "/cds-services";
  if (url.ends_with(suffix)) url.resize(url.size() - suffix.size());
  std::optional<HttpUrl> parsed = parse_http_url(url);
  if (!parsed || parsed->query) return false;
  // The audience keeps the URL as given: the server compares it with its own configured base.
  ep.scheme_host_port = url.substr(0, url.size() - parsed->path.size());
  ep.prefix = parsed->path;
  ep.host = parsed->bare_host();
  return true;
}

std::string indented(const std::string& label, const std::string& text) {
  std::string out = "      " + label + ":\n";
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += "        " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string serialise(const Json& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

bool FhirServer::start() {
  server_.Get(R"(/fhir/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const Record> record;
    {
      MutexLock lock(mu_);
      record = record_;
    }
    std::string target = req.target.substr(std::string("/fhir/").size());
    Document out;
    if (record) record->query(target, out, out.GetAllocator());
    if (!record || out.IsNull()) {
      res.status = 404;
      res.set_content(
          R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]})",
          "application/fhir+json");
      return;
    }
    res.set_content(serialise(out), "application/fhir+json");
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) return false;
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

FhirServer::~FhirServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

Report Runner::run() {
  report_.base_url = opt_.base_url;
  if (!parse_base_url(opt_.base_url, endpoint_)) {
    add("setup", "setup: --base-url", false, "'" + opt_.base_url + "' is not an absolute URL");
    return finish();
  }
  if (!opt_.jwks_path.empty()) {
    SignerSettings settings{opt_.jwks_path, opt_.issuer, opt_.kid, opt_.alg, std::nullopt};
    if (opt_.send_jku) settings.jku = opt_.jku.empty() ? inferno_jku(opt_.issuer) : opt_.jku;
    auto signer = load_jwks_signer(settings);
    if (!signer) {
      add("setup", "setup: signing key", false, signer.error().to_string());
      return finish();
    }
    signer_ = std::move(*signer);
  }
  if (opt_.serve_fhir) {
    fhir_ = std::make_unique<FhirServer>();
    if (!fhir_->start()) {
      add("setup", "setup: FHIR server for scenario records", false, "cannot bind a port");
      fhir_.reset();
    }
  }
  discovery();
  scenarios();
  negatives();
  latency();
  return finish();
}

// ---- plumbing ----

void Runner::add(const std::string& group, const std::string& name, bool ok,
                 const std::string& reason, bool warn_only) {
  record(group, name,
         ok          ? Check::Outcome::kPass
         : warn_only ? Check::Outcome::kWarn
                     : Check::Outcome::kFail,
         reason);
}

// A check that could not run: reported as SKIP, never as a pass.
void Runner::skip(const std::string& group, const std::string& name, const std::string& why) {
  record(group, name, Check::Outcome::kSkip, why);
}

void Runner::record(const std::string& group, const std::string& name, Check::Outcome outcome,
                    const std::string& reason) {
  Check c;
  c.group = group;
  c.name = name;
  c.outcome = outcome;
  c.reason = reason;
  if (outcome == Check::Outcome::kFail && exchange_) {
    c.request = exchange_->request;
    c.response =
        exchange_->response.empty() ? "no answer: " + exchange_->error : exchange_->response;
  }
  if (out_) {
    const char* tag = outcome == Check::Outcome::kPass   ? "PASS"
                      : outcome == Check::Outcome::kWarn ? "WARN"
                      : outcome == Check::Outcome::kSkip ? "SKIP"
                                                         : "FAIL";
    *out_ << tag << "  " << name;
    if (!reason.empty()) *out_ << " — " << reason;
    *out_ << "\n";
    if (!c.request.empty()) *out_ << indented("request", c.request);
    if (!c.response.empty()) *out_ << indented("response", c.response);
  }
  report_.checks.push_back(std::move(c));
}

void Runner::add(const std::string& group, const std::string& name, const Problems& problems) {
  add(group, name, problems.empty(), join(problems));
}

// One client for the whole run: calls reuse its keep-alive connection (httplib reconnects
// when the server closed it). Each new TCP connection is counted.
httplib::Client& Runner::client() {
  if (!http_) {
    http_ = std::make_unique<httplib::Client>(endpoint_.scheme_host_port);
    http_->set_keep_alive(true);
    // A POST goes out as two writes (headers, body): without this the body waits for the
    // server's delayed ACK, about 40 ms a call.
    http_->set_tcp_nodelay(true);
    http_->set_connection_timeout(opt_.timeout_seconds, 0);
    http_->set_read_timeout(opt_.timeout_seconds, 0);
    http_->set_write_timeout(opt_.timeout_seconds, 0);
    if (!opt_.ca_cert_path.empty()) http_->set_ca_cert_path(opt_.ca_cert_path.c_str());
    http_->set_socket_options([this](socket_t) { ++report_.connections; });
  }
  return *http_;
}

std::string Runner::audience(const std::string& path) const {
  return endpoint_.scheme_host_port + endpoint_.prefix + path;
}

httplib::Headers Runner::headers(const std::string& path,
                                 std::optional<RequestSigner::Variant> variant) {
  httplib::Headers h{{"Accept", "application/json"}};
  if (signer_ && variant)
    h.emplace("Authorization", "Bearer " + signer_->token(audience(path), *variant));
  return h;
}

HttpAnswer Runner::get_json(const std::string& path) {
  HttpAnswer a;
  const std::string target = endpoint_.prefix + path;
  httplib::Headers h = headers(path, RequestSigner::Variant::kValid);
  a.request = describe_request("GET", target, h, "");
  auto start = std::chrono::steady_clock::now();
  auto res = client().Get(target.c_str(), h);
  a.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ++report_.http_calls;
  if (!res) {
    a.error = httplib::to_string(res.error());
    return a;
  }
  a.status = res->status;
  a.body = res->body;
  a.response = describe_response(*res);
  return a;
}

HttpAnswer Runner::post(const std::string& label, const std::string& path, const std::string& body,
                        std::optional<RequestSigner::Variant> variant,
                        const std::string& own_token) {
  HttpAnswer a;
  const std::string target = endpoint_.prefix + path;
  httplib::Headers h = headers(path, own_token.empty() ? variant : std::nullopt);
  if (!own_token.empty()) h.emplace("Authorization", "Bearer " + own_token);
  httplib::Headers shown = h;
  shown.emplace("Content-Type", "application/json");
  a.request = describe_request("POST", target, shown, body);
  auto start = std::chrono::steady_clock::now();
  auto res = client().Post(target.c_str(), h, body, "application/json");
  a.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ++report_.http_calls;
  if (res) {
    a.status = res->status;
    a.body = res->body;
    a.response = describe_response(*res);
  } else {
    a.error = httplib::to_string(res.error());
  }
  report_.calls.push_back({label, a.status, a.ms});
  return a;
}

}  // namespace detail

namespace {

const char* kUsage =
    "usage: crd-conformance --base-url URL [--scenarios DIR]\n"
    "                       [--jwks FILE --iss ISS [--kid KID] [--alg ES384|RS384]\n"
    "                        [--jku URL | --no-jku]]   (jku defaults to ISS/jwks.json, as "
    "Inferno)\n"
    "                       [--report FILE] [--junit FILE] [--no-fhir-server] [--timeout "
    "SECONDS]\n"
    "                       [--ca-cert FILE]   (CA certificates to trust for an https:// URL)\n";

}  // namespace

Report run(const Options& options, std::ostream* out) {
  return detail::Runner(options, out).run();
}

int run_conformance(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& target) {
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--base-url")
      ok = value(o.base_url);
    else if (arg == "--scenarios")
      ok = value(o.scenarios_dir);
    else if (arg == "--jwks")
      ok = value(o.jwks_path);
    else if (arg == "--iss")
      ok = value(o.issuer);
    else if (arg == "--kid")
      ok = value(o.kid);
    else if (arg == "--alg")
      ok = value(o.alg);
    else if (arg == "--jku")
      ok = value(o.jku);
    else if (arg == "--no-jku")
      o.send_jku = false;
    else if (arg == "--report")
      ok = value(o.report_path);
    else if (arg == "--junit")
      ok = value(o.junit_path);
    else if (arg == "--ca-cert")
      ok = value(o.ca_cert_path);
    else if (arg == "--no-fhir-server")
      o.serve_fhir = false;
    else if (arg == "--timeout") {
      std::string t;
      ok = value(t) && !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
      if (ok) o.timeout_seconds = std::stoi(t);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "unknown argument '" << arg << "'\n" << kUsage;
      return 2;
    }
    if (!ok) {
      std::cerr << arg << " needs a value\n" << kUsage;
      return 2;
    }
  }
  if (o.base_url.empty()) {
    std::cerr << "--base-url is required\n" << kUsage;
    return 2;
  }
  if (!o.jwks_path.empty() && o.issuer.empty()) {
    std::cerr << "--jwks needs --iss\n" << kUsage;
    return 2;
  }
  if (!o.alg.empty() && o.alg != "ES384" && o.alg != "RS384") {
    std::cerr << "--alg is ES384 or RS384\n" << kUsage;
    return 2;
  }
  Report r = run(o, &std::cout);
  std::cout << "latency: p50 " << r.p50 << " ms, p90 " << r.p90 << " ms, p99 " << r.p99
            << " ms over " << r.calls.size() << " service calls\n";
  std::cout << r.http_calls << " HTTP calls over " << r.connections << " connections\n";
  if (r.warnings() > 0) std::cout << r.warnings() << " warnings\n";
  std::cout << r.passed() << " passed, " << r.failed() << " failed, " << r.skipped()
            << " skipped\n";
  return r.failed() > 0 ? 1 : 0;
}

}  // namespace cryo::conformance
