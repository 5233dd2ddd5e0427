#include "fhir/client/prefetch_fetcher.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include <httplib.h>

#include "base/thread_annotations.h"
#include "fhir/client/url.h"

namespace cryo::fhir::client {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string ms_text(Clock::duration d) {
  return std::to_string(duration_cast<milliseconds>(d).count()) + " ms";
}

// ---------------------------------------------------------------------------------------
// Keep-alive connections to one FHIR server origin. A connection (httplib::Client) serves one
// request at a time: it is taken out of the pool for a request and put back afterwards. The
// pool never holds credentials: headers are given per request.
class ConnectionPool {
 public:
  ConnectionPool(BaseUrl base, const FetchOptions& options)
      : origin_(base.origin()), https_(base.scheme == "https"), options_(options) {}

  struct Lease {
    std::unique_ptr<httplib::Client> client;
    bool reused = false;
  };

  Lease acquire() EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (!idle_.empty()) {
        Lease lease{std::move(idle_.back()), true};
        idle_.pop_back();
        return lease;
      }
    }
    auto client = std::make_unique<httplib::Client>(origin_);
    client->set_keep_alive(true);
    client->set_follow_location(false);  // a redirect must not carry the token elsewhere
    if (https_) {
      client->enable_server_certificate_verification(true);
      if (!options_.ca_cert_file.empty()) client->set_ca_cert_path(options_.ca_cert_file);
    }
    return Lease{std::move(client), false};
  }

  void release(std::unique_ptr<httplib::Client> client) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(client));
  }

  size_t idle() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return idle_.size();
  }

 private:
  const std::string origin_;
  const bool https_;
  const FetchOptions& options_;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_ GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------
// One fetch() call: the shared state of its worker threads.
struct CallState {
  Clock::time_point deadline;
  Mutex mu;
  CondVar cv;
  size_t next_task GUARDED_BY(mu) = 0;
  size_t finished GUARDED_BY(mu) = 0;
  bool cancelled GUARDED_BY(mu) = false;                // the budget is spent: abandon everything
  std::set<httplib::Client*> in_flight GUARDED_BY(mu);  // stopped on cancellation
  std::atomic<size_t> bytes{0};
  std::atomic<bool> reached{false};
};

struct HttpAnswer {
  std::optional<FetchError> error;  // transport-level failure
  int status = 0;
  std::string body;
};

struct Task {
  std::string target;         // request target: "/fhir/Coverage?patient=123"
  std::string expected_type;  // for reads: the resource type asked for
};

std::string outcome_text(const Json& outcome) {
  std::string text;
  for (const Json& issue : items(member(outcome, "issue"))) {
    std::string_view severity = string_or_empty(member(issue, "severity"));
    std::string_view what = string_or_empty(member(member(issue, "details"), "text"));
    if (what.empty()) what = string_or_empty(member(issue, "diagnostics"));
    if (what.empty()) what = string_or_empty(member(issue, "code"));
    if (!text.empty()) text += "; ";
    text += std::string(severity.empty() ? "issue" : severity) + ": " + std::string(what);
  }
  if (text.empty()) text = "OperationOutcome without issues";
  if (text.size() > 500) text = text.substr(0, 500) + "...";
  return text;
}

bool outcome_is_error(const Json& outcome) {
  for (const Json& issue : items(member(outcome, "issue"))) {
    std::string_view s = string_or_empty(member(issue, "severity"));
    if (s == "error" || s == "fatal") return true;
  }
  return false;
}

bool is_type(const Json& resource, std::string_view type) {
  return string_or_empty(member(resource, "resourceType")) == type;
}

bool valid_type(std::string_view t) {
  if (t.empty() || t.size() > 64 || t.front() < 'A' || t.front() > 'Z') return false;
  return std::all_of(t.begin(), t.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); });
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

// The url of the Bundle link with relation `relation`, or "".
std::string_view link_url(const Json& bundle, std::string_view relation) {
  for (const Json& link : items(member(bundle, "link"))) {
    if (string_or_empty(member(link, "relation")) == relation) {
      return string_or_empty(member(link, "url"));
    }
  }
  return {};
}

// Removes OperationOutcome entries from a searchset page; their texts go to `issues`.
// Returns whether any of them carried an error.
bool strip_outcome_entries(JsonDocument& page, std::vector<std::string>& issues) {
  bool error = false;
  auto it = page.FindMember("entry");
  if (it == page.MemberEnd() || !it->value.IsArray()) return false;
  Json& entries = it->value;
  for (auto e = entries.Begin(); e != entries.End();) {
    const Json* resource = member(*e, "resource");
    bool outcome_mode = string_or_empty(member(member(*e, "search"), "mode")) == "outcome";
    if (resource != nullptr && is_type(*resource, "OperationOutcome")) {
      issues.push_back(outcome_text(*resource));
      error |= outcome_is_error(*resource);
      e = entries.Erase(e);
    } else if (outcome_mode || resource == nullptr || !resource->IsObject()) {
      e = entries.Erase(e);  // an entry that holds no resource
    } else {
      ++e;
    }
  }
  return error;
}

size_t entry_count(const Json& bundle) {
  return items(member(bundle, "entry")).size();
}

// Appends the entries of `page` to `into` (deep copies into `into`'s allocator).
void append_entries(JsonDocument& into, const JsonDocument& page) {
  auto& alloc = into.GetAllocator();
  auto it = into.FindMember("entry");
  if (it == into.MemberEnd() || !it->value.IsArray()) {
    if (it != into.MemberEnd()) into.RemoveMember(it);
    into.AddMember("entry", Json(rapidjson::kArrayType), alloc);
    it = into.FindMember("entry");
  }
  for (const Json& e : items(member(page, "entry"))) it->value.PushBack(Json(e, alloc), alloc);
}

// Drops paging links from a gathered Bundle (its entries are no longer one page).
void drop_paging_links(JsonDocument& bundle) {
  auto it = bundle.FindMember("link");
  if (it == bundle.MemberEnd() || !it->value.IsArray()) return;
  for (auto l = it->value.Begin(); l != it->value.End();) {
    std::string_view rel = string_or_empty(member(*l, "relation"));
    if (rel == "self") {
      ++l;
    } else {
      l = it->value.Erase(l);
    }
  }
}

std::string user_token_value(std::string_view token, const Json* context) {
  static constexpr std::pair<std::string_view, std::string_view> kUserTokens[] = {
      {"userPractitionerId", "Practitioner"},
      {"userPractitionerRoleId", "PractitionerRole"},
      {"userPatientId", "Patient"},
      {"userRelatedPersonId", "RelatedPerson"},
  };
  for (auto [name, type] : kUserTokens) {
    if (token != name) continue;
    std::string_view user = string_or_empty(member(context, "userId"));
    std::string_view t, id;
    if (split_reference(user, t, id) && t == type) return std::string(id);
    return {};
  }
  return {};
}

bool is_user_token(std::string_view token) {
  return token == "userPractitionerId" || token == "userPractitionerRoleId" ||
         token == "userPatientId" || token == "userRelatedPersonId";
}

}  // namespace

// ---------------------------------------------------------------------------------------

std::string_view to_string(FetchErrorKind kind) {
  switch (kind) {
    case FetchErrorKind::kTimeout:
      return "timeout";
    case FetchErrorKind::kUnreachable:
      return "unreachable";
    case FetchErrorKind::kUnauthorized:
      return "unauthorized";
    case FetchErrorKind::kHttpError:
      return "http-error";
    case FetchErrorKind::kBadJson:
      return "bad-json";
    case FetchErrorKind::kTooLarge:
      return "too-large";
    case FetchErrorKind::kMissingData:
      return "missing-data";
    case FetchErrorKind::kNotQueryable:
      return "not-queryable";
  }
  return "unknown";
}

std::string FetchResult::describe() const {
  std::string out = key + ": ";
  if (error) {
    out += std::string(to_string(error->kind)) + ": " + error->message;
  } else {
    out += document ? "fetched" : "nothing fetched";
  }
  if (truncated) out += " (some pages left out)";
  return out;
}

std::vector<std::string> FetchReport::add_to(ResourceIndex& index) {
  std::vector<std::string> missing;
  for (FetchResult& r : results) {
    if (!r.document) {
      missing.push_back(r.key);
      continue;
    }
    const JsonDocument& doc = index.adopt(std::move(r.document));
    index.add(doc, r.url);
  }
  return missing;
}

std::vector<std::string> FetchReport::problems() const {
  std::vector<std::string> out;
  for (const FetchResult& r : results) {
    if (r.error) out.push_back(r.describe());
  }
  return out;
}

std::optional<std::string> expand_template(std::string_view query, const Json* context,
                                           std::string* why) {
  auto fail = [&](std::string message) -> std::optional<std::string> {
    if (why != nullptr) *why = std::move(message);
    return std::nullopt;
  };
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = query.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(query.substr(pos));
      break;
    }
    size_t close = query.find("}}", open + 2);
    if (close == std::string_view::npos) return fail("unterminated token in template");
    out.append(query.substr(pos, open - pos));
    std::string_view token = query.substr(open + 2, close - open - 2);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);

    std::string value;
    if (token.starts_with("context.")) {
      std::string_view field = token.substr(8);
      if (field.empty() || field.find_first_of(".()%|[") != std::string_view::npos) {
        return fail("token {{" + std::string(token) + "}} is not a root-level context field");
      }
      // A terminated copy: fhir::member() currently reads its name up to a NUL.
      const Json* v = member(context, std::string(field));
      if (v != nullptr && v->IsString()) {
        value = std::string(v->GetString(), v->GetStringLength());
      } else if (v != nullptr && (v->IsNumber() || v->IsBool())) {
        value = fhir::to_string(*v);
      } else if (v != nullptr && !v->IsNull()) {
        return fail("token {{" + std::string(token) + "}} is not a primitive context field");
      }
    } else if (is_user_token(token)) {
      value = user_token_value(token, context);
    } else {
      return fail("token {{" + std::string(token) + "}} is not supported");
    }
    if (value.empty())
      return fail("token {{" + std::string(token) + "}} has no value in this call");
    out += percent_encode(value);
    pos = close + 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------

struct PrefetchFetcher::Pools {
  Mutex mu;
  std::map<std::string, std::shared_ptr<ConnectionPool>> by_origin GUARDED_BY(mu);

  std::shared_ptr<ConnectionPool> get(const BaseUrl& base, const FetchOptions& options)
      EXCLUDES(mu) {
    MutexLock lock(mu);
    std::string origin = base.origin();
    auto it = by_origin.find(origin);
    if (it != by_origin.end()) return it->second;
    // Bound the number of origins remembered; a pool in use stays alive through its users.
    if (by_origin.size() >= 64) by_origin.erase(by_origin.begin());
    auto pool = std::make_shared<ConnectionPool>(base, options);
    by_origin.emplace(origin, pool);
    return pool;
  }
};

PrefetchFetcher::PrefetchFetcher(FetchOptions options)
    : options_(std::move(options)), pools_(std::make_unique<Pools>()) {
  if (options_.max_concurrency == 0) options_.max_concurrency = 1;
  if (options_.max_pages == 0) options_.max_pages = 1;
}

PrefetchFetcher::~PrefetchFetcher() = default;

namespace {

// One HTTP GET with the call's token, within `request_deadline`.
HttpAnswer http_get(ConnectionPool& pool, const std::string& target, std::string_view token,
                    Clock::time_point request_deadline, const FetchOptions& options,
                    CallState& state) {
  for (int attempt = 0;; ++attempt) {
    HttpAnswer answer;
    Clock::time_point now = Clock::now();
    if (now >= request_deadline) {
      answer.error = FetchError{FetchErrorKind::kTimeout, 0, "no time left before the request"};
      return answer;
    }
    ConnectionPool::Lease lease = pool.acquire();
    httplib::Client& client = *lease.client;
    auto remaining = duration_cast<std::chrono::microseconds>(request_deadline - now);
    time_t sec = static_cast<time_t>(remaining.count() / 1000000);
    time_t usec = static_cast<time_t>(remaining.count() % 1000000);
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);

    {
      MutexLock lock(state.mu);
      if (state.cancelled) {
        answer.error = FetchError{FetchErrorKind::kTimeout, 0, "the time budget is spent"};
        return answer;
      }
      state.in_flight.insert(&client);
    }

    httplib::Headers headers{{"Accept", "application/fhir+json"}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + std::string(token));
    bool too_large = false;
    bool expired = false;
    bool got_headers = false;
    auto result = client.Get(
        target, headers,
        [&](const httplib::Response& response) {
          got_headers = true;
          answer.status = response.status;
          if (response.has_header("Content-Length")) {
            size_t length =
                std::strtoull(response.get_header_value("Content-Length").c_str(), nullptr, 10);
            if (length > options.max_response_bytes) {
              too_large = true;
              return false;
            }
            answer.body.reserve(length);
          }
          return true;
        },
        [&](const char* data, size_t length) {
          if (answer.body.size() + length > options.max_response_bytes ||
              state.bytes.fetch_add(length) + length > options.max_total_bytes) {
            too_large = true;
            return false;
          }
          if (Clock::now() >= request_deadline) {
            expired = true;
            return false;
          }
          answer.body.append(data, length);
          return true;
        });

    bool cancelled;
    {
      MutexLock lock(state.mu);
      state.in_flight.erase(&client);
      cancelled = state.cancelled;
    }
    if (got_headers) state.reached = true;

    if (result) {
      answer.status = result->status;
      if (!cancelled) pool.release(std::move(lease.client));
      return answer;
    }

    // The connection is dropped (not returned to the pool) after any failure.
    httplib::Error err = result.error();
    now = Clock::now();
    bool out_of_time = expired || cancelled || now + milliseconds(20) >= request_deadline;
    if (too_large) {
      answer.error = FetchError{
          FetchErrorKind::kTooLarge, answer.status,
          "response larger than " + std::to_string(options.max_response_bytes) + " bytes"};
    } else if (out_of_time || err == httplib::Error::ConnectionTimeout) {
      answer.error = FetchError{FetchErrorKind::kTimeout, answer.status,
                                "no complete answer within " + ms_text(remaining)};
    } else if ((err == httplib::Error::Read || err == httplib::Error::Write) && lease.reused &&
               !got_headers && attempt == 0) {
      continue;  // the server closed an idle keep-alive connection: one fresh attempt
    } else {
      answer.error = FetchError{FetchErrorKind::kUnreachable, 0, httplib::to_string(err)};
    }
    return answer;
  }
}

void run_task(const Task& task, FetchResult& result, const BaseUrl& base, ConnectionPool& pool,
              std::string_view token, const FetchOptions& options, CallState& state) {
  const Clock::time_point started = Clock::now();
  std::string target = task.target;
  bool outcome_error = false;
  auto fail = [&](FetchErrorKind kind, int status, std::string message) {
    result.error = FetchError{kind, status, std::move(message)};
    if (result.document) result.truncated = true;
  };

  for (size_t page = 0;; ++page) {
    if (page == options.max_pages) {
      result.truncated = true;
      result.issues.push_back("stopped after " + std::to_string(page) + " pages");
      break;
    }
    Clock::time_point request_deadline =
        std::min(Clock::now() + options.per_request_timeout, state.deadline);
    HttpAnswer answer = http_get(pool, target, token, request_deadline, options, state);
    if (answer.error) {
      fail(answer.error->kind, answer.error->http_status, answer.error->message);
      break;
    }
    const int status = answer.status;

    auto doc = std::make_unique<JsonDocument>();
    std::optional<ParseError> parse_error;
    if (!answer.body.empty()) {
      ParseLimits limits{.max_bytes = options.max_response_bytes, .max_depth = options.max_depth};
      parse_error = parse_copy(answer.body, *doc, limits);
    }
    const bool parsed = !answer.body.empty() && !parse_error && doc->IsObject();
    const bool outcome = parsed && is_type(*doc, "OperationOutcome");

    if (status == 401 || status == 403) {
      fail(FetchErrorKind::kUnauthorized, status,
           "HTTP " + std::to_string(status) + (outcome ? ": " + outcome_text(*doc) : ""));
      break;
    }
    if (status == 404 || status == 410) {
      fail(FetchErrorKind::kMissingData, status,
           "HTTP " + std::to_string(status) + (outcome ? ": " + outcome_text(*doc) : " not found"));
      if (outcome) result.issues.push_back(outcome_text(*doc));
      break;
    }
    if (status < 200 || status > 299) {
      fail(FetchErrorKind::kHttpError, status,
           "HTTP " + std::to_string(status) + (outcome ? ": " + outcome_text(*doc) : ""));
      break;
    }
    if (!parsed) {
      if (parse_error && parse_error->kind == ParseError::kTooLarge) {
        fail(FetchErrorKind::kTooLarge, status, parse_error->message);
      } else {
        fail(FetchErrorKind::kBadJson, status,
             parse_error ? parse_error->message : "the answer is not a JSON object");
      }
      break;
    }
    if (outcome) {
      result.issues.push_back(outcome_text(*doc));
      fail(FetchErrorKind::kMissingData, status, "OperationOutcome: " + outcome_text(*doc));
      break;
    }
    std::string_view type = string_or_empty(member(*doc, "resourceType"));
    if (type.empty()) {
      fail(FetchErrorKind::kBadJson, status, "the answer is not a FHIR resource");
      break;
    }
    ++result.pages;

    if (type != "Bundle") {
      if (!task.expected_type.empty() && type != task.expected_type) {
        fail(FetchErrorKind::kBadJson, status,
             "expected " + task.expected_type + ", got " + std::string(type));
        break;
      }
      if (page == 0) result.document = std::move(doc);
      break;
    }

    outcome_error |= strip_outcome_entries(*doc, result.issues);
    std::string next(link_url(*doc, "next"));
    if (page == 0) {
      result.document = std::move(doc);
    } else {
      append_entries(*result.document, *doc);
    }
    if (next.empty()) break;
    std::optional<std::string> next_target = same_server_target(base, next);
    if (!next_target) {
      result.truncated = true;
      result.issues.push_back("next page link leaves the FHIR server; not followed");
      break;
    }
    target = *next_target;
  }

  if (result.document && is_type(*result.document, "Bundle")) {
    drop_paging_links(*result.document);
    // A search that brought only OperationOutcome errors brought no data.
    if (outcome_error && entry_count(*result.document) == 0 && !result.error) {
      result.document.reset();
      result.error = FetchError{FetchErrorKind::kMissingData, 200,
                                "the search answered only with OperationOutcome issues"};
    }
  }
  result.elapsed = duration_cast<milliseconds>(Clock::now() - started);
}

}  // namespace

FetchReport PrefetchFetcher::fetch(const FetchRequest& request) const {
  const Clock::time_point start = Clock::now();
  FetchReport report;
  const size_t n = request.templates.size() + request.references.size();
  report.results.resize(n);
  std::vector<std::optional<Task>> tasks(n);

  std::optional<BaseUrl> base = parse_base_url(request.fhir_server);
  for (size_t i = 0; i < n; ++i) {
    FetchResult& r = report.results[i];
    const bool is_template = i < request.templates.size();
    r.key =
        is_template ? request.templates[i].key : request.references[i - request.templates.size()];
    if (!base) {
      r.error =
          FetchError{FetchErrorKind::kNotQueryable, 0, "fhirServer is not an http(s) base URL"};
      continue;
    }
    Task task;
    if (is_template) {
      std::string why;
      std::optional<std::string> query =
          expand_template(request.templates[i].query, request.context, &why);
      if (!query) {
        r.error = FetchError{FetchErrorKind::kNotQueryable, 0, why};
        continue;
      }
      std::string_view q = *query;
      while (!q.empty() && q.front() == '/') q.remove_prefix(1);
      task.target = base->path + "/" + std::string(q);
    } else {
      std::string_view type, id;
      if (!split_reference(r.key, type, id) || !valid_type(type) || !valid_id(id)) {
        r.error = FetchError{FetchErrorKind::kNotQueryable, 0, "not a Type/id reference"};
        continue;
      }
      task.expected_type = std::string(type);
      task.target = base->path + "/" + std::string(type) + "/" + std::string(id);
    }
    r.url = base->origin() + task.target;
    tasks[i] = std::move(task);
  }

  std::vector<size_t> runnable;
  for (size_t i = 0; i < n; ++i) {
    if (tasks[i]) runnable.push_back(i);
  }
  if (!runnable.empty()) {
    std::shared_ptr<ConnectionPool> pool = pools_->get(*base, options_);
    CallState state;
    state.deadline = start + options_.total_budget;
    const std::string_view token = request.access_token;

    auto worker = [&] {
      while (true) {
        size_t k;
        {
          MutexLock lock(state.mu);
          if (state.next_task == runnable.size()) return;
          k = state.next_task++;
          if (state.cancelled) {
            report.results[runnable[k]].error = FetchError{
                FetchErrorKind::kTimeout, 0,
                "the time budget of " + ms_text(options_.total_budget) + " was spent first"};
            ++state.finished;
            state.cv.notify_all();
            continue;
          }
        }
        const size_t i = runnable[k];
        run_task(*tasks[i], report.results[i], *base, *pool, token, options_, state);
        MutexLock lock(state.mu);
        ++state.finished;
        state.cv.notify_all();
      }
    };

    const size_t workers = std::min(runnable.size(), options_.max_concurrency);
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(worker);
    {
      MutexLock lock(state.mu);
      if (!state.cv.wait_until(lock, state.deadline, [&]() REQUIRES(state.mu) {
            return state.finished == runnable.size();
          })) {
        // Budget spent: abort the requests still running; they report timeouts.
        state.cancelled = true;
        for (httplib::Client* c : state.in_flight) c->stop();
      }
    }
    for (std::thread& t : threads) t.join();
    report.reached = state.reached.load();
  }
  report.elapsed = duration_cast<milliseconds>(Clock::now() - start);
  return report;
}

FetchReport PrefetchFetcher::fetch_prefetch(std::string_view fhir_server,
                                            std::string_view access_token,
                                            std::span<const PrefetchTemplate> templates,
                                            std::span<const std::string> missing_keys,
                                            const Json* context) const {
  std::vector<PrefetchTemplate> wanted;
  for (const PrefetchTemplate& t : templates) {
    if (std::find(missing_keys.begin(), missing_keys.end(), t.key) != missing_keys.end()) {
      wanted.push_back(t);
    }
  }
  return fetch(FetchRequest{.fhir_server = fhir_server,
                            .access_token = access_token,
                            .context = context,
                            .templates = wanted,
                            .references = {}});
}

FetchReport PrefetchFetcher::fetch_references(std::string_view fhir_server,
                                              std::string_view access_token,
                                              std::span<const std::string> references) const {
  return fetch(FetchRequest{.fhir_server = fhir_server,
                            .access_token = access_token,
                            .context = nullptr,
                            .templates = {},
                            .references = references});
}

}  // namespace cryo::fhir::client
