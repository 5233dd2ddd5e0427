#include "fhir/client/paged_search.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace cryo::fhir::client::detail {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

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

// The body of `answer` parsed into `doc` within the fetch limits; nothing for an empty body.
std::optional<ParseError> parse_answer(const HttpAnswer& answer, JsonDocument& doc,
                                       const FetchOptions& options) {
  if (answer.body.empty()) return std::nullopt;
  ParseLimits limits{.max_bytes = options.max_response_bytes, .max_depth = options.max_depth};
  return parse_copy(answer.body, doc, limits);
}

// A gathered searchset loses its paging links; one that brought only OperationOutcome errors
// brought no data.
void finish_bundle(FetchResult& result, bool outcome_error) {
  if (!result.document || !is_type(*result.document, "Bundle")) return;
  drop_paging_links(*result.document);
  if (outcome_error && entry_count(*result.document) == 0 && !result.error) {
    result.document.reset();
    result.error = FetchError{FetchErrorKind::kMissingData, 200,
                              "the search answered only with OperationOutcome issues"};
  }
}

}  // namespace

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
    std::optional<ParseError> parse_error = parse_answer(answer, *doc, options);
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

  finish_bundle(result, outcome_error);
  result.elapsed = duration_cast<milliseconds>(Clock::now() - started);
}

}  // namespace cryo::fhir::client::detail
