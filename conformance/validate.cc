#include "conformance/validate.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include <rapidjson/error/en.h>

#include "base/text.h"
#include "conformance/json_access.h"

namespace cryo::conformance {
namespace {

bool non_empty_string(const Json* v) {
  return v && v->IsString() && v->GetStringLength() > 0;
}

std::string quoted(const Json* v) {
  if (!v) return "absent";
  if (v->IsString()) return "'" + str(v) + "'";
  if (v->IsNull()) return "null";
  if (v->IsBool()) return v->GetBool() ? "true" : "false";
  if (v->IsNumber()) return "a number";
  if (v->IsArray()) return "an array";
  return "an object";
}

bool in(const std::set<std::string_view>& set, const std::string& value) {
  return set.count(value) > 0;
}

std::string join(const std::set<std::string_view>& set) {
  std::string out;
  for (auto s : set) out += (out.empty() ? "" : "|") + std::string(s);
  return out;
}

bool is_absolute_url(const std::string& url) {
  static const std::regex re(R"(^[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/?#]+[^\s]*$)");
  return std::regex_match(url, re);
}

bool is_fhir_date(const std::string& s) {
  static const std::regex re(R"(^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$)");
  return std::regex_match(s, re);
}

// Optional JSON values must not be null, "", [] or {} (CDS Hooks 2.0 "Use of JSON").
void find_empty_values(const Json& v, const std::string& path, Problems& problems) {
  if (v.IsNull()) {
    problems.push_back(path + " is null");
  } else if (v.IsString() && v.GetStringLength() == 0) {
    problems.push_back(path + " is an empty string");
  } else if (v.IsArray()) {
    if (v.Empty()) problems.push_back(path + " is an empty array");
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      find_empty_values(v[i], path + "[" + std::to_string(i) + "]", problems);
  } else if (v.IsObject()) {
    if (v.MemberCount() == 0) problems.push_back(path + " is an empty object");
    for (auto& m : v.GetObject())
      find_empty_values(m.value, path + "." + m.name.GetString(), problems);
  }
}

void validate_coding(const Json& coding, const std::string& path, bool need_display,
                     Problems& problems) {
  if (!coding.IsObject()) {
    problems.push_back(path + " is not a Coding object");
    return;
  }
  if (!non_empty_string(get(coding, "code"))) problems.push_back(path + ".code is missing");
  if (!non_empty_string(get(coding, "system"))) problems.push_back(path + ".system is missing");
  if (need_display && !non_empty_string(get(coding, "display")))
    problems.push_back(path + ".display is missing (required on override reasons)");
}

void validate_link(const Json& link, const std::string& path, Problems& problems) {
  if (!link.IsObject()) {
    problems.push_back(path + " is not an object");
    return;
  }
  if (!non_empty_string(get(link, "label"))) problems.push_back(path + ".label is missing");
  const std::string type = str(get(link, "type"));
  if (type != "absolute" && type != "smart")
    problems.push_back(path + ".type is " + quoted(get(link, "type")) +
                       " (must be absolute|smart)");
  const std::string url = str(get(link, "url"));
  if (url.empty())
    problems.push_back(path + ".url is missing");
  else if (!is_absolute_url(url))
    problems.push_back(path + ".url '" + url + "' is not an absolute URL");
  if (get(link, "appContext") && type != "smart")
    problems.push_back(path + ".appContext is only allowed on smart links");
  if (auto* a = get(link, "appContext"); a && !a->IsString())
    problems.push_back(path + ".appContext must be a string");
  if (auto* a = get(link, "autolaunchable"); a && !a->IsBool())
    problems.push_back(path + ".autolaunchable must be a boolean");
}

// What each CRD version's coverage-information allows: CRD 2.0.1 (published package), 2.1.0
// and 2.2.1 (FSH value sets and extension definitions).
struct VersionRules {
  std::string_view name;
  std::set<std::string_view> covered, pa_needed, doc_needed, doc_purpose, info_needed, reasons,
      detail_codes, detail_value_types;
  int doc_needed_max;             // 1 in 2.0.1
  bool response_allowed;          // `response` exists only in 2.0.1
  bool expiry_date_allowed;       // 2.1+
  bool detail_category;           // 2.2: detail.category 1..1
  bool conditional_needs_info;    // 2.1+ q3: any conditional -> info-needed
  bool info_needs_conditional;    // 2.0.1 q3: info-needed -> something conditional
  bool doc_purpose_needs_reason;  // 2.2 q8
};

const VersionRules kRules201 = {
    "2.0.1",
    {"covered", "not-covered", "conditional"},
    {"no-auth", "auth-needed", "satisfied", "performpa", "conditional"},
    {"clinical", "admin", "both", "conditional"},
    {"withpa", "withclaim", "withorder", "retain-doc", "OTH"},
    {"performer", "location", "timeframe", "contract-window", "OTH"},
    {"gold-card", "detail-code"},
    {"allowed-quantity", "allowed-period", "in-network-copay", "out-network-copay",
     "auth-out-network-only", "concurrent-review", "appropriate-use-needed"},
    {"valueBoolean", "valueString", "valuePeriod", "valueQuantity"},
    1,
    true,
    false,
    false,
    false,
    true,
    false};

const VersionRules kRules21 = {
    "2.1",
    {"covered", "not-covered", "conditional"},
    {"no-auth", "auth-needed", "satisfied", "performpa", "conditional"},
    {"clinical", "admin", "patient", "conditional"},
    {"withpa", "withclaim", "withorder", "retain-doc", "OTH"},
    {"performer", "location", "timeframe", "contract-window", "OTH"},
    {"gold-card", "detail-code"},
    {"allowed-quantity", "allowed-period", "in-network-copay", "out-network-copay",
     "auth-out-network-only", "concurrent-review", "appropriate-use-needed", "policy-link",
     "instructions", "instructions-clinical", "instructions-admin"},
    {"valueBoolean", "valueString", "valueUrl", "valuePeriod", "valueQuantity"},
    -1,
    false,
    true,
    false,
    true,
    false,
    false};

const VersionRules kRules22 = {
    "2.2",
    {"covered", "not-covered", "conditional", "indeterminate"},
    {"no-auth", "auth-needed", "satisfied", "performpa", "conditional", "indeterminate"},
    {"clinical", "admin", "patient", "conditional", "indeterminate"},
    {"withpa", "withclaim", "withorder", "retain-doc", "OTH"},
    {"performer", "location", "timeframe", "contract-window", "detail-code", "OTH"},
    {"gold-card", "no-member-found", "no-active-coverage", "coverage-not-found", "auth-out-network",
     "technical"},
    {"allowed-quantity", "allowed-period", "in-network-copay", "out-network-copay",
     "concurrent-review", "appropriate-use-needed", "policy-link", "instructions"},
    {"valueBoolean", "valueString", "valueUrl", "valuePeriod", "valueQuantity"},
    -1,
    false,
    true,
    true,
    true,
    false,
    true};

// "2.2", "2.2.1" -> 2.2; anything else (none requested) -> 2.0.1, the default of CRD servers.
const VersionRules& rules_for(std::string_view version) {
  if (version.substr(0, 3) == "2.2") return kRules22;
  if (version.substr(0, 3) == "2.1") return kRules21;
  return kRules201;
}

struct SubRule {
  std::string_view value_type;  // "valueCode", ...; "" for complex (detail)
  int min;
  int max;  // -1 = unbounded
};

const std::map<std::string_view, SubRule> kSubRules = {
    {"coverage", {"valueReference", 1, 1}},
    {"covered", {"valueCode", 1, 1}},
    {"pa-needed", {"valueCode", 0, 1}},
    {"doc-needed", {"valueCode", 0, -1}},
    {"doc-purpose", {"valueCode", 0, -1}},
    {"info-needed", {"valueCode", 0, -1}},
    {"billingCode", {"valueCoding", 0, -1}},
    {"reason", {"valueCodeableConcept", 0, -1}},
    {"detail", {"", 0, -1}},
    {"dependency", {"valueReference", 0, -1}},
    {"questionnaire", {"valueCanonical", 0, -1}},
    {"response", {"valueReference", 0, -1}},
    {"date", {"valueDate", 1, 1}},
    {"coverage-assertion-id", {"valueString", 1, 1}},
    {"satisfied-pa-id", {"valueString", 0, 1}},
    {"contact", {"", 0, -1}},
    {"expiry-date", {"valueDate", 0, 1}},
};

// The value[x] member of an extension, or nullptr.
const Json* value_x(const Json& ext, std::string* name = nullptr) {
  if (!ext.IsObject()) return nullptr;
  for (auto& m : ext.GetObject()) {
    std::string_view n(m.name.GetString(), m.name.GetStringLength());
    if (n.size() > 5 && n.substr(0, 5) == "value") {
      if (name) *name = std::string(n);
      return &m.value;
    }
  }
  return nullptr;
}

bool deep_equal(const Json& a, const Json& b) {
  return a == b;
}

}  // namespace

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

const Json* sub_value(const Json& extension, std::string_view url) {
  auto all = sub_values(extension, url);
  return all.empty() ? nullptr : all.front();
}

std::vector<const Json*> sub_values(const Json& extension, std::string_view url) {
  std::vector<const Json*> out;
  const Json* subs = get(extension, "extension");
  if (!subs || !subs->IsArray()) return out;
  for (auto& s : subs->GetArray()) {
    if (str(get(s, "url")) != url) continue;
    if (const Json* v = value_x(s)) out.push_back(v);
  }
  return out;
}

std::vector<const Json*> coverage_information_of(const Json& resource) {
  std::vector<const Json*> out;
  const Json* exts = get(resource, "extension");
  if (!exts || !exts->IsArray()) return out;
  for (auto& e : exts->GetArray())
    if (str(get(e, "url")) == kCoverageInfoUrl) out.push_back(&e);
  return out;
}

bool is_operation_outcome(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  if (str(get(doc, "resourceType")) != "OperationOutcome") return false;
  const Json* issues = get(doc, "issue");
  return issues && issues->IsArray() && !issues->Empty();
}

void validate_prefetch_template(std::string_view tmpl, Problems& problems) {
  static const std::set<std::string_view> kUserTokens = {
      "userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"};
  static const std::regex context_token(R"(^context\.[A-Za-z][A-Za-z0-9_]*$)");
  std::string query;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find("{{", pos);
    size_t stray = tmpl.find("}}", pos);
    if (stray != std::string_view::npos && (open == std::string_view::npos || stray < open)) {
      problems.push_back("stray '}}' in '" + std::string(tmpl) + "'");
      return;
    }
    if (open == std::string_view::npos) {
      query.append(tmpl.substr(pos));
      break;
    }
    query.append(tmpl.substr(pos, open - pos));
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) {
      problems.push_back("unterminated '{{' in '" + std::string(tmpl) + "'");
      return;
    }
    std::string token(tmpl.substr(open + 2, close - open - 2));
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (!kUserTokens.count(token) && !std::regex_match(token, context_token))
      problems.push_back("token '{{" + token +
                         "}}' is not a root-level context field or a user token (CDS Hooks 2.0)");
    query.append("tok");
    pos = close + 2;
  }
  static const std::regex read(R"(^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$)");
  static const std::regex search(
      R"(^[A-Z][A-Za-z]+(\?[A-Za-z_][A-Za-z0-9_\-.:]*=[^&=\s#]+(&[A-Za-z_][A-Za-z0-9_\-.:]*=[^&=\s#]+)*)?$)");
  if (!std::regex_match(query, read) && !std::regex_match(query, search))
    problems.push_back("'" + std::string(tmpl) +
                       "' is not a FHIR read (Type/id) or search (Type?name=value&...) query");
}

void validate_discovery(const Json& body, Problems& problems) {
  const Json* services = get(body, "services");
  if (!services || !services->IsArray()) {
    problems.push_back("`services` array is missing");
    return;
  }
  std::set<std::pair<std::string, std::string>> seen;
  for (rapidjson::SizeType i = 0; i < services->Size(); ++i) {
    const Json& s = (*services)[i];
    const std::string p = "services[" + std::to_string(i) + "]";
    if (!s.IsObject()) {
      problems.push_back(p + " is not an object");
      continue;
    }
    for (const char* f : {"hook", "id", "description"})
      if (!non_empty_string(get(s, f))) problems.push_back(p + "." + f + " is missing");
    if (auto* t = get(s, "title"); t && !t->IsString())
      problems.push_back(p + ".title must be a string");
    if (!seen.insert({str(get(s, "hook")), str(get(s, "id"))}).second)
      problems.push_back(p + " repeats hook/id " + str(get(s, "hook")) + "/" + str(get(s, "id")));
    if (const Json* prefetch = get(s, "prefetch")) {
      if (!prefetch->IsObject()) {
        problems.push_back(p + ".prefetch is not an object");
      } else {
        for (auto& m : prefetch->GetObject()) {
          const std::string kp = p + ".prefetch." + m.name.GetString();
          if (!m.value.IsString()) {
            problems.push_back(kp + " is not a string");
            continue;
          }
          Problems tp;
          validate_prefetch_template(m.value.GetString(), tp);
          for (auto& t : tp) problems.push_back(kp + ": " + t);
        }
      }
    }
    const Json* ext = get(s, "extension");
    if (ext && !ext->IsObject()) problems.push_back(p + ".extension is not an object");
    const Json* options = ext ? get(*ext, "davinci-crd.configuration-options") : nullptr;
    if (!options) continue;
    if (!options->IsArray()) {
      problems.push_back(p + ".extension[davinci-crd.configuration-options] is not an array");
      continue;
    }
    std::set<std::string> codes, names, descriptions;
    static const std::regex json_name(R"(^[A-Za-z_$][A-Za-z0-9_$\-.]*$)");
    for (rapidjson::SizeType j = 0; j < options->Size(); ++j) {
      const Json& o = (*options)[j];
      const std::string op = p + ".configuration-options[" + std::to_string(j) + "]";
      for (const char* f : {"code", "type", "name", "description"})
        if (!non_empty_string(get(o, f))) problems.push_back(op + "." + f + " is missing");
      const std::string code = str(get(o, "code"));
      const std::string type = str(get(o, "type"));
      if (!code.empty() && !std::regex_match(code, json_name))
        problems.push_back(op + ".code '" + code + "' is not a valid JSON property name");
      if (!code.empty() && !codes.insert(code).second)
        problems.push_back(op + ".code '" + code + "' is not unique");
      if (auto n = str(get(o, "name")); !n.empty() && !names.insert(n).second)
        problems.push_back(op + ".name '" + n + "' is not unique");
      if (auto d = str(get(o, "description")); !d.empty() && !descriptions.insert(d).second)
        problems.push_back(op + ".description is not unique");
      const Json* def = get(o, "default");
      if (type != "boolean" && type != "integer") {
        problems.push_back(op + ".type is " + quoted(get(o, "type")) +
                           " (must be boolean|integer)");
      } else if (!def) {
        problems.push_back(op + ".default is missing");
      } else if (type == "boolean" && !def->IsBool()) {
        problems.push_back(op + ".default is not a boolean");
      } else if (type == "integer" && !def->IsInt64()) {
        problems.push_back(op + ".default is not an integer");
      }
    }
  }
}

void validate_response_shape(const Json& body, Problems& problems) {
  if (!body.IsObject()) {
    problems.push_back("response body is not a JSON object");
    return;
  }
  const Json* cards = get(body, "cards");
  if (!cards)
    problems.push_back("`cards` is missing (required, may be empty)");
  else if (!cards->IsArray())
    problems.push_back("`cards` is not an array");
  const Json* actions = get(body, "systemActions");
  if (actions && !actions->IsArray()) problems.push_back("`systemActions` is not an array");
  for (auto& m : body.GetObject()) {
    std::string name = m.name.GetString();
    // `cards` may be empty, and so may `systemActions`: CRD requires the array on the primary
    // hooks even when there is nothing to say (as the Inferno CRD test kit checks).
    if ((name == "cards" || name == "systemActions") && m.value.IsArray()) {
      for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i)
        find_empty_values(m.value[i], name + "[" + std::to_string(i) + "]", problems);
    } else {
      find_empty_values(m.value, name, problems);
    }
  }
}

void validate_action(const Json& action, const std::string& path, Problems& problems,
                     std::string_view crd_version) {
  if (!action.IsObject()) {
    problems.push_back(path + " is not an object");
    return;
  }
  const std::string type = str(get(action, "type"));
  if (type != "create" && type != "update" && type != "delete")
    problems.push_back(path + ".type is " + quoted(get(action, "type")) +
                       " (must be create|update|delete)");
  if (!non_empty_string(get(action, "description")))
    problems.push_back(path + ".description is missing (required on every Action)");
  const Json* resource = get(action, "resource");
  if (type == "create" || type == "update") {
    if (!resource || !resource->IsObject())
      problems.push_back(path + ".resource is missing (required for " + type + ")");
    else if (!non_empty_string(get(*resource, "resourceType")))
      problems.push_back(path + ".resource has no resourceType");
    else if (type == "update" && !non_empty_string(get(*resource, "id")))
      problems.push_back(path + ".resource has no id (an update needs the resource's id)");
  }
  if (type == "delete") {
    const Json* rid = get(action, "resourceId");
    bool ok = non_empty_string(rid);
    if (rid && rid->IsArray() && !rid->Empty()) {
      ok = true;
      for (auto& r : rid->GetArray()) ok = ok && non_empty_string(&r);
    }
    if (!ok) problems.push_back(path + ".resourceId is missing (required for delete)");
  }
  if (resource && resource->IsObject()) {
    auto infos = coverage_information_of(*resource);
    for (size_t i = 0; i < infos.size(); ++i)
      validate_coverage_information(
          *infos[i], path + ".resource.coverage-information[" + std::to_string(i) + "]", problems,
          crd_version);
  }
}

void validate_card(const Json& card, const std::string& path, Problems& problems) {
  if (!card.IsObject()) {
    problems.push_back(path + " is not an object");
    return;
  }
  const Json* summary = get(card, "summary");
  if (!non_empty_string(summary)) {
    problems.push_back(path + ".summary is missing");
  } else if (size_t n = utf8_length(str(summary)); n >= 140) {
    problems.push_back(path + ".summary is " + std::to_string(n) + " characters (must be < 140)");
  }
  static const std::set<std::string_view> kIndicators = {"info", "warning", "critical"};
  if (!in(kIndicators, str(get(card, "indicator"))))
    problems.push_back(path + ".indicator is " + quoted(get(card, "indicator")) + " (must be " +
                       join(kIndicators) + ")");
  if (auto* d = get(card, "detail"); d && !d->IsString())
    problems.push_back(path + ".detail must be a markdown string");
  if (auto* u = get(card, "uuid"); u && !non_empty_string(u))
    problems.push_back(path + ".uuid must be a non-empty string");
  const Json* source = get(card, "source");
  if (!source || !source->IsObject()) {
    problems.push_back(path + ".source is missing");
  } else {
    if (!non_empty_string(get(*source, "label")))
      problems.push_back(path + ".source.label is missing");
    const Json* topic = get(*source, "topic");
    if (!topic)
      problems.push_back(path + ".source.topic is missing (CRD: SHALL be populated)");
    else
      validate_coding(*topic, path + ".source.topic", false, problems);
    if (auto* url = get(*source, "url"); url && !is_absolute_url(str(url)))
      problems.push_back(path + ".source.url is not an absolute URL");
  }
  const Json* suggestions = get(card, "suggestions");
  if (suggestions) {
    if (!suggestions->IsArray()) {
      problems.push_back(path + ".suggestions is not an array");
    } else {
      static const std::set<std::string_view> kSelection = {"at-most-one", "any"};
      if (!suggestions->Empty() && !in(kSelection, str(get(card, "selectionBehavior"))))
        problems.push_back(path + ".selectionBehavior is " +
                           quoted(get(card, "selectionBehavior")) +
                           " (must be at-most-one|any when suggestions are present)");
      for (rapidjson::SizeType i = 0; i < suggestions->Size(); ++i) {
        const Json& s = (*suggestions)[i];
        const std::string sp = path + ".suggestions[" + std::to_string(i) + "]";
        if (!non_empty_string(get(s, "label"))) problems.push_back(sp + ".label is missing");
        if (!non_empty_string(get(s, "uuid")))
          problems.push_back(sp + ".uuid is missing (CRD: every suggestion SHALL have a uuid)");
        if (auto* r = get(s, "isRecommended"); r && !r->IsBool())
          problems.push_back(sp + ".isRecommended must be a boolean");
        if (const Json* actions = get(s, "actions")) {
          if (!actions->IsArray()) {
            problems.push_back(sp + ".actions is not an array");
          } else {
            for (rapidjson::SizeType j = 0; j < actions->Size(); ++j)
              validate_action((*actions)[j], sp + ".actions[" + std::to_string(j) + "]", problems);
          }
        }
      }
    }
  }
  if (const Json* links = get(card, "links")) {
    if (!links->IsArray()) {
      problems.push_back(path + ".links is not an array");
    } else {
      for (rapidjson::SizeType i = 0; i < links->Size(); ++i)
        validate_link((*links)[i], path + ".links[" + std::to_string(i) + "]", problems);
    }
  }
  if (const Json* reasons = get(card, "overrideReasons")) {
    if (!reasons->IsArray()) {
      problems.push_back(path + ".overrideReasons is not an array");
    } else {
      for (rapidjson::SizeType i = 0; i < reasons->Size(); ++i)
        validate_coding((*reasons)[i], path + ".overrideReasons[" + std::to_string(i) + "]", true,
                        problems);
    }
  }
}

// One `detail` repetition: code (0..1 in 2.0.1, 1..1 later) and value, plus category in 2.2.
void validate_detail(const Json& detail, const std::string& path, const VersionRules& rules,
                     Problems& problems) {
  const Json* subs = get(detail, "extension");
  if (!subs || !subs->IsArray()) {
    problems.push_back(path + " has no sub-extensions");
    return;
  }
  std::map<std::string, int> counts;
  for (const Json& s : subs->GetArray()) {
    const std::string url = str(get(s, "url"));
    ++counts[url];
    std::string vname;
    const Json* v = value_x(s, &vname);
    if (url == "code") {
      std::string code;
      if (const Json* codings = v ? get(*v, "coding") : nullptr; codings && codings->IsArray())
        for (auto& c : codings->GetArray())
          if (str(get(c, "system")) == "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp")
            code = str(get(c, "code"));
      if (!code.empty() && !in(rules.detail_codes, code))
        problems.push_back(path + ".code '" + code + "' is not a CRD " + std::string(rules.name) +
                           " detail code");
    } else if (url == "value") {
      if (!in(rules.detail_value_types, vname))
        problems.push_back(path + ".value carries " + (vname.empty() ? "no value" : vname) +
                           ", not allowed in CRD " + std::string(rules.name));
    } else if (url == "category") {
      if (!rules.detail_category)
        problems.push_back(path + ".category does not exist in CRD " + std::string(rules.name));
      else if (!in({"cat-limitation", "cat-decisional", "cat-other"}, str(v)))
        problems.push_back(path + ".category '" + str(v) + "' is not a detail category");
    } else if (url != "qualification") {
      problems.push_back(path + "." + url + " is not a sub-extension of detail");
    }
  }
  if (counts["value"] != 1) problems.push_back(path + " must carry exactly one value");
  if (rules.name != "2.0.1" && counts["code"] != 1)
    problems.push_back(path + " must carry exactly one code");
  if (rules.detail_category && counts["category"] != 1)
    problems.push_back(path + " must carry exactly one category (CRD 2.2)");
}

// The value of one known sub-extension `s` (at `sp`) whose value[x] has the expected type.
void validate_sub_extension_value(const Json& v, const std::string& url, const std::string& sp,
                                  const VersionRules& rules, Problems& problems) {
  const std::string code = str(&v);
  const std::pair<const char*, const std::set<std::string_view>*> code_sets[] = {
      {"covered", &rules.covered},         {"pa-needed", &rules.pa_needed},
      {"doc-needed", &rules.doc_needed},   {"doc-purpose", &rules.doc_purpose},
      {"info-needed", &rules.info_needed},
  };
  for (const auto& [name, codes] : code_sets)
    if (url == name && !in(*codes, code))
      problems.push_back(sp + " '" + code + "' is not in " + join(*codes));
  if ((url == "date" || url == "expiry-date") && !is_fhir_date(code))
    problems.push_back(sp + " '" + code + "' is not a FHIR date");
  if ((url == "coverage-assertion-id" || url == "satisfied-pa-id") && code.empty())
    problems.push_back(sp + " is empty");
  if (url == "coverage") {
    const std::string ref = str(get(v, "reference"));
    if (ref.empty())
      problems.push_back(sp + " has no reference");
    else if (ref.rfind("Coverage/", 0) != 0 && ref.find("/Coverage/") == std::string::npos)
      problems.push_back(sp + " '" + ref + "' does not reference a Coverage");
  }
  if (url == "reason") {
    bool from_vs = false;
    if (const Json* codings = get(v, "coding"); codings && codings->IsArray())
      for (auto& c : codings->GetArray())
        from_vs = from_vs || in(rules.reasons, str(get(c, "code")));
    if (!from_vs && !non_empty_string(get(v, "text")))
      problems.push_back(sp + " has neither a coverageAssertionReasons code nor text (q7)");
  }
}

// Each sub-extension of `subs` is known, allowed in this CRD version and carries a valid
// value. Returns how many times each known one occurs.
std::map<std::string, int> validate_sub_extensions(const Json& subs, const std::string& path,
                                                   const VersionRules& rules, Problems& problems) {
  std::map<std::string, int> counts;
  for (rapidjson::SizeType i = 0; i < subs.Size(); ++i) {
    const Json& s = subs[i];
    const std::string url = str(get(s, "url"));
    const std::string sp =
        path + "." + (url.empty() ? "extension[" + std::to_string(i) + "]" : url);
    auto rule = kSubRules.find(url);
    if (rule == kSubRules.end()) {
      problems.push_back(sp + " is not a sub-extension of ext-coverage-information");
      continue;
    }
    ++counts[url];
    std::string vname;
    const Json* v = value_x(s, &vname);
    if (url == "detail") validate_detail(s, sp, rules, problems);
    if (url == "response" && !rules.response_allowed)
      problems.push_back(sp + " was removed after CRD 2.0.1");
    if (url == "expiry-date" && !rules.expiry_date_allowed)
      problems.push_back(sp + " does not exist in CRD 2.0.1");
    if (rule->second.value_type.empty()) continue;  // complex sub-extension
    if (!v || vname != rule->second.value_type) {
      problems.push_back(sp + " must carry " + std::string(rule->second.value_type) +
                         (v ? " (found " + vname + ")" : ""));
      continue;
    }
    validate_sub_extension_value(*v, url, sp, rules, problems);
  }
  return counts;
}

// Every required sub-extension is present and none repeats beyond its maximum.
void validate_sub_extension_counts(std::map<std::string, int>& counts, const std::string& path,
                                   const VersionRules& rules, Problems& problems) {
  for (auto& [name, rule] : kSubRules) {
    int n = counts.count(std::string(name)) ? counts[std::string(name)] : 0;
    if (n < rule.min)
      problems.push_back(path + " lacks the required sub-extension '" + std::string(name) + "'");
    int max = name == "doc-needed" ? rules.doc_needed_max : rule.max;
    if (max >= 0 && n > max)
      problems.push_back(path + " repeats '" + std::string(name) + "' " + std::to_string(n) +
                         " times (max " + std::to_string(max) + ")");
  }
}

// The rules across sub-extensions (q1 to q9).
void validate_coverage_combinations(const Json& ext, const std::string& path,
                                    const VersionRules& rules, Problems& problems) {
  const std::string covered = str(sub_value(ext, "covered"));
  const std::string pa = str(sub_value(ext, "pa-needed"));
  std::set<std::string> docs, purposes, infos;
  for (auto* v : sub_values(ext, "doc-needed")) docs.insert(str(v));
  for (auto* v : sub_values(ext, "doc-purpose")) purposes.insert(str(v));
  for (auto* v : sub_values(ext, "info-needed")) infos.insert(str(v));
  if (!sub_values(ext, "questionnaire").empty() && docs.empty())
    problems.push_back(path + ": questionnaire without doc-needed (q1)");
  if (covered == "not-covered" && sub_value(ext, "pa-needed"))
    problems.push_back(path + ": not-covered with pa-needed '" + pa + "' (q2)");
  const bool conditional =
      covered == "conditional" || pa == "conditional" || docs.count("conditional");
  if (rules.conditional_needs_info && conditional && infos.empty())
    problems.push_back(path + ": conditional without info-needed (q3)");
  if (rules.info_needs_conditional && !infos.empty() && !conditional)
    problems.push_back(path + ": info-needed without a conditional value (CRD 2.0.1 q3)");
  if (rules.name == "2.0.1" && covered != "not-covered" && pa.empty())
    problems.push_back(path + ": pa-needed is required unless not-covered (CRD 2.0.1 q2)");
  if (rules.doc_purpose_needs_reason && sub_values(ext, "reason").empty())
    for (const auto& purpose : purposes)
      if (purpose != "conditional") {
        problems.push_back(path + ": doc-purpose without a reason (q8)");
        break;
      }
  if (pa == "satisfied" && purposes.count("withpa"))
    problems.push_back(path + ": pa-needed satisfied with doc-purpose withpa (q4)");
  if ((pa == "satisfied") != (sub_value(ext, "satisfied-pa-id") != nullptr))
    problems.push_back(path +
                       ": satisfied-pa-id must be present exactly when pa-needed is "
                       "satisfied (q5)");
  if (infos.count("OTH") && sub_values(ext, "reason").empty())
    problems.push_back(path + ": info-needed OTH without a reason (q6)");
  if ((covered == "indeterminate" || pa == "indeterminate" || docs.count("indeterminate")) &&
      sub_values(ext, "reason").empty())
    problems.push_back(path + ": indeterminate without a reason (q9)");
}

// Independent of the server's typed CoverageInformation on purpose: checks the codes on the wire.
void validate_coverage_information(const Json& ext, const std::string& path, Problems& problems,
                                   std::string_view crd_version) {
  const VersionRules& rules = rules_for(crd_version);
  const Json* subs = get(ext, "extension");
  if (!subs || !subs->IsArray()) {
    problems.push_back(path + " has no sub-extensions");
    return;
  }
  if (get(ext, "valueCode") || value_x(ext))
    problems.push_back(path + " is a complex extension and must not carry value[x]");
  std::map<std::string, int> counts = validate_sub_extensions(*subs, path, rules, problems);
  validate_sub_extension_counts(counts, path, rules, problems);
  validate_coverage_combinations(ext, path, rules, problems);
}

void validate_assertion_ids(const Json& response, Problems& problems) {
  std::map<std::string, std::set<std::string>> ids_by_coverage;
  std::map<std::string, std::set<std::string>> coverages_by_id;
  auto visit = [&](const Json& action) {
    const Json* resource = get(action, "resource");
    if (!resource) return;
    for (const Json* ext : coverage_information_of(*resource)) {
      const Json* cov = sub_value(*ext, "coverage");
      std::string ref = cov ? str(get(*cov, "reference")) : "";
      std::string id = str(sub_value(*ext, "coverage-assertion-id"));
      if (ref.empty() || id.empty()) continue;
      ids_by_coverage[ref].insert(id);
      coverages_by_id[id].insert(ref);
    }
  };
  if (const Json* actions = get(response, "systemActions"); actions && actions->IsArray())
    for (auto& a : actions->GetArray()) visit(a);
  if (const Json* cards = get(response, "cards"); cards && cards->IsArray())
    for (auto& c : cards->GetArray())
      if (const Json* s = get(c, "suggestions"); s && s->IsArray())
        for (auto& sg : s->GetArray())
          if (const Json* acts = get(sg, "actions"); acts && acts->IsArray())
            for (auto& a : acts->GetArray()) visit(a);
  for (auto& [ref, ids] : ids_by_coverage)
    if (ids.size() > 1)
      problems.push_back("coverage " + ref + " has " + std::to_string(ids.size()) +
                         " different coverage-assertion-ids in one response (must be one)");
  for (auto& [id, refs] : coverages_by_id)
    if (refs.size() > 1)
      problems.push_back("coverage-assertion-id '" + id + "' is shared by different coverages");
}

void validate_order_preserved(const Json& original, const Json& updated, const std::string& path,
                              Problems& problems) {
  if (!original.IsObject() || !updated.IsObject()) {
    problems.push_back(path + " is not a resource object");
    return;
  }
  auto non_coverage_ext = [](const Json& r) {
    std::vector<const Json*> out;
    if (const Json* e = get(r, "extension"); e && e->IsArray())
      for (auto& x : e->GetArray())
        if (str(get(x, "url")) != kCoverageInfoUrl) out.push_back(&x);
    return out;
  };
  for (auto& m : original.GetObject()) {
    std::string name = m.name.GetString();
    if (name == "extension") continue;
    const Json* u = get(updated, name);
    if (!u)
      problems.push_back(path + "." + name + " of the draft order was dropped");
    else if (!deep_equal(m.value, *u))
      problems.push_back(path + "." + name + " differs from the draft order");
  }
  for (auto& m : updated.GetObject()) {
    std::string name = m.name.GetString();
    if (name != "extension" && !get(original, name))
      problems.push_back(path + "." + name + " was added (only coverage-information may be)");
  }
  auto before = non_coverage_ext(original);
  auto after = non_coverage_ext(updated);
  for (const Json* b : before) {
    bool found =
        std::any_of(after.begin(), after.end(), [&](const Json* a) { return deep_equal(*a, *b); });
    if (!found)
      problems.push_back(path + ".extension '" + str(get(*b, "url")) +
                         "' of the draft order was dropped or changed");
  }
  if (after.size() > before.size())
    problems.push_back(path + ".extension gained entries other than coverage-information");
}

void validate_crd_service_request(const Json& r, const std::string& path, Problems& problems) {
  if (str(get(r, "resourceType")) != "ServiceRequest") return;
  for (const char* f : {"status", "intent", "authoredOn"})
    if (!non_empty_string(get(r, f)))
      problems.push_back(path + "." + f + " is missing (CRD ServiceRequest profile)");
  for (const char* f : {"code", "subject", "requester"})
    if (const Json* v = get(r, f); !v || !v->IsObject() || v->MemberCount() == 0)
      problems.push_back(path + "." + f + " is missing (CRD ServiceRequest profile)");
}

}  // namespace cryo::conformance

namespace cryo::conformance {

std::string classify_card(const Json& card) {
  const Json* links = get(card, "links");
  const Json* suggestions = get(card, "suggestions");
  const bool has_links = links && links->IsArray() && !links->Empty();
  const bool has_suggestions = suggestions && suggestions->IsArray() && !suggestions->Empty();
  if (!has_links && !has_suggestions) return "instructions";
  if (has_suggestions) return "suggestions";
  bool all_absolute = true, all_smart = true;
  for (const Json& l : links->GetArray()) {
    all_absolute = all_absolute && str(get(l, "type")) == "absolute";
    all_smart = all_smart && str(get(l, "type")) == "smart";
  }
  if (all_absolute) return "external-reference";
  if (all_smart) return "launch-smart";
  return "other";
}

}  // namespace cryo::conformance
