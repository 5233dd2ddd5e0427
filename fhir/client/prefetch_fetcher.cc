#include "fhir/client/prefetch_fetcher.h"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include <httplib.h>

#include "base/thread_annotations.h"
#include "fhir/client/connection_pool.h"
#include "fhir/client/paged_search.h"
#include "fhir/client/url.h"

namespace cryo::fhir::client {
namespace {

using detail::CallState;
using detail::Clock;
using detail::ConnectionPool;
using detail::ms_text;
using detail::run_task;
using detail::Task;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

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

}  // namespace

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

FetchSummary FetchReport::hand_to(ResourceIndex& index) {
  FetchSummary summary;
  summary.reached = reached;
  summary.missing = add_to(index);
  summary.problems = problems();
  return summary;
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
