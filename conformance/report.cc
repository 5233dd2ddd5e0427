// The end of a run: the latency figures and their checks, the counts, and the JSON and JUnit
// reports.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "base/text.h"
#include "conformance/runner_steps.h"

namespace cryo::conformance {
namespace detail {
namespace {

constexpr double kCrdLimitMs = 5000;  // CRD: 5 s, 90% of the time
constexpr double kGuidanceMs = 500;   // CDS Hooks: "on the order of 500 ms"

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

}  // namespace

void Runner::latency() {
  std::vector<double> ms;
  for (auto& c : report_.calls)
    if (c.status >= 200 && c.status < 300) ms.push_back(c.ms);
  report_.p50 = percentile(ms, 50);
  report_.p90 = percentile(ms, 90);
  report_.p99 = percentile(ms, 99);
  const char* crd = "latency: p90 within the CRD limit of 5 s";
  const char* guidance = "latency: p90 within the CDS Hooks guidance of 500 ms (SHOULD)";
  if (ms.empty()) {
    const std::string why = "no successful service call to measure (" +
                            std::to_string(report_.calls.size()) + " calls, none answered 2xx)";
    skip("latency", crd, why);
    skip("latency", guidance, why);
    return;
  }
  char figures[160];
  std::snprintf(figures, sizeof figures,
                "%zu successful calls: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms", ms.size(),
                report_.p50, report_.p90, report_.p99);
  add("latency", crd, report_.p90 <= kCrdLimitMs, figures);
  add("latency", guidance, report_.p90 <= kGuidanceMs, figures, /*warn_only=*/true);
}

// ---- output ----

Report Runner::finish() {
  if (!opt_.report_path.empty()) write_json();
  if (!opt_.junit_path.empty()) write_junit();
  return std::move(report_);
}

void Runner::write_json() {
  Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("baseUrl", Json(report_.base_url.c_str(), a), a);
  d.AddMember("passed", report_.passed(), a);
  d.AddMember("failed", report_.failed(), a);
  d.AddMember("warnings", report_.warnings(), a);
  d.AddMember("skipped", report_.skipped(), a);
  d.AddMember("httpCalls", report_.http_calls, a);
  d.AddMember("connections", report_.connections, a);
  Json checks(rapidjson::kArrayType);
  for (auto& c : report_.checks) {
    Json o(rapidjson::kObjectType);
    o.AddMember("group", Json(c.group.c_str(), a), a);
    o.AddMember("name", Json(c.name.c_str(), a), a);
    const char* outcome = c.outcome == Check::Outcome::kPass   ? "pass"
                          : c.outcome == Check::Outcome::kFail ? "fail"
                          : c.outcome == Check::Outcome::kSkip ? "skip"
                                                               : "warn";
    o.AddMember("outcome", Json(outcome, a), a);
    if (!c.reason.empty()) o.AddMember("reason", Json(c.reason.c_str(), a), a);
    if (!c.request.empty()) o.AddMember("request", Json(c.request.c_str(), a), a);
    if (!c.response.empty()) o.AddMember("response", Json(c.response.c_str(), a), a);
    checks.PushBack(o, a);
  }
  d.AddMember("checks", checks, a);
  Json lat(rapidjson::kObjectType);
  lat.AddMember("p50Ms", report_.p50, a);
  lat.AddMember("p90Ms", report_.p90, a);
  lat.AddMember("p99Ms", report_.p99, a);
  lat.AddMember("crdLimitMs", kCrdLimitMs, a);
  lat.AddMember("guidanceMs", kGuidanceMs, a);
  Json calls(rapidjson::kArrayType);
  for (auto& c : report_.calls) {
    Json o(rapidjson::kObjectType);
    o.AddMember("label", Json(c.label.c_str(), a), a);
    o.AddMember("status", c.status, a);
    o.AddMember("ms", c.ms, a);
    calls.PushBack(o, a);
  }
  lat.AddMember("calls", calls, a);
  d.AddMember("latency", lat, a);
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  d.Accept(w);
  std::ofstream(opt_.report_path) << sb.GetString() << "\n";
}

void Runner::write_junit() {
  std::ofstream f(opt_.junit_path);
  f << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  f << "<testsuites name=\"crd-conformance\" tests=\"" << report_.checks.size() << "\" failures=\""
    << report_.failed() << "\" skipped=\"" << report_.skipped() << "\">\n";
  std::map<std::string, std::vector<const Check*>> groups;
  std::vector<std::string> order;
  for (auto& c : report_.checks) {
    if (!groups.count(c.group)) order.push_back(c.group);
    groups[c.group].push_back(&c);
  }
  for (auto& g : order) {
    int failures = 0, skipped = 0;
    for (auto* c : groups[g]) {
      failures += c->outcome == Check::Outcome::kFail;
      skipped += c->outcome == Check::Outcome::kSkip;
    }
    f << "  <testsuite name=\"" << html_escape(g) << "\" tests=\"" << groups[g].size()
      << "\" failures=\"" << failures << "\" skipped=\"" << skipped << "\">\n";
    for (auto* c : groups[g]) {
      f << "    <testcase classname=\"" << html_escape(g) << "\" name=\"" << html_escape(c->name)
        << "\"";
      if (c->outcome == Check::Outcome::kFail) {
        f << ">\n      <failure message=\"" << html_escape(c->reason) << "\"";
        if (c->request.empty() && c->response.empty()) {
          f << "/>\n";
        } else {
          f << ">" << html_escape("request:\n" + c->request + "\n\nresponse:\n" + c->response)
            << "</failure>\n";
        }
        f << "    </testcase>\n";
      } else if (c->outcome == Check::Outcome::kSkip) {
        f << ">\n      <skipped message=\"" << html_escape(c->reason) << "\"/>\n    </testcase>\n";
      } else if (c->outcome == Check::Outcome::kWarn) {
        f << ">\n      <system-out>" << html_escape("WARN: " + c->reason)
          << "</system-out>\n    </testcase>\n";
      } else {
        f << "/>\n";
      }
    }
    f << "  </testsuite>\n";
  }
  f << "</testsuites>\n";
}

}  // namespace detail

namespace {

int count(const std::vector<Check>& checks, Check::Outcome outcome) {
  return static_cast<int>(std::count_if(checks.begin(), checks.end(),
                                        [&](const Check& c) { return c.outcome == outcome; }));
}

}  // namespace

int Report::passed() const {
  return count(checks, Check::Outcome::kPass);
}
int Report::failed() const {
  return count(checks, Check::Outcome::kFail);
}
int Report::skipped() const {
  return count(checks, Check::Outcome::kSkip);
}
int Report::warnings() const {
  return count(checks, Check::Outcome::kWarn);
}

std::vector<const Check*> Report::failures(const std::string& name_part,
                                           const std::string& reason_part) const {
  std::vector<const Check*> out;
  for (auto& c : checks)
    if (c.outcome == Check::Outcome::kFail && c.name.find(name_part) != std::string::npos &&
        c.reason.find(reason_part) != std::string::npos)
      out.push_back(&c);
  return out;
}

}  // namespace cryo::conformance
