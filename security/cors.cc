#include "security/cors.h"

#include <rapidjson/document.h>

#include "base/text.h"

namespace cryo::security {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<CorsPolicy> CorsPolicy::create(CorsConfig config) {
  // Re-run the file rules on a JSON rendering of the config, so both paths agree.
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto list = [&](const std::vector<std::string>& items) {
    rapidjson::Value arr(rapidjson::kArrayType);
    for (const auto& s : items) arr.PushBack(rapidjson::Value(s, a), a);
    return arr;
  };
  doc.AddMember("allowed_origins", list(config.allowed_origins), a);
  doc.AddMember("allowed_methods", list(config.allowed_methods), a);
  doc.AddMember("allowed_headers", list(config.allowed_headers), a);
  doc.AddMember("exposed_headers", list(config.exposed_headers), a);
  doc.AddMember("allow_credentials", config.allow_credentials, a);
  doc.AddMember("max_age_seconds", static_cast<int64_t>(config.max_age.count()), a);
  auto checked = parse_cors_config(json::Node(doc, "cors"));
  if (!checked) return checked.error();
  return CorsPolicy(std::move(*checked));
}

bool CorsPolicy::wildcard() const {
  return config_.allowed_origins.size() == 1 && config_.allowed_origins[0] == "*";
}

bool CorsPolicy::origin_allowed(std::string_view origin) const {
  if (origin.empty() || origin == "null") return false;
  if (wildcard()) return true;
  for (const auto& o : config_.allowed_origins) {
    if (o == origin) return true;
  }
  return false;
}

std::string CorsPolicy::join(const std::vector<std::string>& items) const {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::vector<HttpHeader> CorsPolicy::response_headers(std::string_view origin) const {
  std::vector<HttpHeader> out;
  if (!wildcard()) out.push_back({"Vary", "Origin"});
  if (!origin_allowed(origin)) return out;
  out.push_back({"Access-Control-Allow-Origin", wildcard() ? "*" : std::string(origin)});
  if (config_.allow_credentials) out.push_back({"Access-Control-Allow-Credentials", "true"});
  if (!config_.exposed_headers.empty()) {
    out.push_back({"Access-Control-Expose-Headers", join(config_.exposed_headers)});
  }
  return out;
}

CorsPolicy::PreflightAnswer CorsPolicy::preflight(std::string_view origin,
                                                  std::string_view request_method,
                                                  std::string_view request_headers) const {
  PreflightAnswer answer;
  if (!wildcard()) answer.headers.push_back({"Vary", "Origin"});
  if (!origin_allowed(origin)) return answer;

  bool method_ok = false;
  for (const auto& m : config_.allowed_methods) method_ok = method_ok || m == request_method;
  if (!method_ok) return answer;

  std::string_view rest = request_headers;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (name.empty()) continue;
    bool listed = false;
    for (const auto& h : config_.allowed_headers) listed = listed || iequals(h, name);
    if (!listed) return answer;
  }

  answer.allowed = true;
  answer.status = 204;
  answer.headers.push_back({"Access-Control-Allow-Origin", wildcard() ? "*" : std::string(origin)});
  if (config_.allow_credentials) {
    answer.headers.push_back({"Access-Control-Allow-Credentials", "true"});
  }
  answer.headers.push_back({"Access-Control-Allow-Methods", join(config_.allowed_methods)});
  if (!config_.allowed_headers.empty()) {
    answer.headers.push_back({"Access-Control-Allow-Headers", join(config_.allowed_headers)});
  }
  answer.headers.push_back({"Access-Control-Max-Age", std::to_string(config_.max_age.count())});
  return answer;
}

}  // namespace cryo::security
