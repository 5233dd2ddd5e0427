// The prefetch tokens of a template query, expanded from the hook's context.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fhir/client/prefetch_fetcher.h"
#include "fhir/client/url.h"

namespace cryo::fhir::client {
namespace {

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

}  // namespace cryo::fhir::client
