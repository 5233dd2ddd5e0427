#include "conformance/record.h"

#include <cctype>
#include <set>

#include "base/text.h"
#include "conformance/json_access.h"

namespace cryo::conformance {
namespace {

using Json = rapidjson::Value;

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.emplace_back(s.substr(pos, next == std::string_view::npos ? s.npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

// "Patient/1", "http://x/fhir/Patient/1" -> {"Patient", "1"}.
std::pair<std::string, std::string> parse_reference(const std::string& ref) {
  auto parts = split(ref, '/');
  if (parts.size() < 2) return {"", ref};
  return {parts[parts.size() - 2], parts.back()};
}

bool reference_matches(const Json* ref_object, const std::string& wanted, std::string_view type) {
  if (!ref_object) return false;
  if (ref_object->IsArray()) {
    for (auto& r : ref_object->GetArray())
      if (reference_matches(&r, wanted, type)) return true;
    return false;
  }
  std::string ref = str(get(*ref_object, "reference"));
  if (ref.empty()) return false;
  auto [rt, rid] = parse_reference(ref);
  auto [wt, wid] = parse_reference(wanted);
  if (!wt.empty()) return rt == wt && rid == wid;
  return rid == wanted && (rt.empty() || rt == type);
}

bool token_matches_concept(const Json* cc, const std::string& token) {
  if (!cc) return false;
  if (cc->IsArray()) {
    for (auto& c : cc->GetArray())
      if (token_matches_concept(&c, token)) return true;
    return false;
  }
  std::string system, code = token;
  if (auto bar = token.find('|'); bar != std::string::npos) {
    system = token.substr(0, bar);
    code = token.substr(bar + 1);
  }
  const Json* codings = get(*cc, "coding");
  if (!codings || !codings->IsArray()) return false;
  for (auto& c : codings->GetArray()) {
    if (str(get(c, "code")) != code) continue;
    if (token.find('|') == std::string::npos || str(get(c, "system")) == system) return true;
  }
  return false;
}

bool matches(const Json& r, const std::string& name, const std::vector<std::string>& values) {
  const std::string type = str(get(r, "resourceType"));
  for (const auto& v : values) {
    if (name == "_id" && str(get(r, "id")) == v) return true;
    if (name == "patient" || name == "subject" || name == "beneficiary") {
      if (type == "Patient" && (str(get(r, "id")) == v || "Patient/" + str(get(r, "id")) == v))
        return true;
      for (const char* f : {"subject", "patient", "beneficiary"})
        if (reference_matches(get(r, f), v, "Patient")) return true;
    }
    if (name == "status" && str(get(r, "status")) == v) return true;
    if (name == "clinical-status" && token_matches_concept(get(r, "clinicalStatus"), v))
      return true;
    if (name == "code" && token_matches_concept(get(r, "code"), v)) return true;
    if (name == "category" && token_matches_concept(get(r, "category"), v)) return true;
    if (name == "type" && token_matches_concept(get(r, "type"), v)) return true;
  }
  return false;
}

bool narrows(const std::string& name) {
  static const std::set<std::string> kNarrowing = {"_id",         "patient",  "subject",
                                                   "beneficiary", "status",   "clinical-status",
                                                   "code",        "category", "type"};
  return kNarrowing.count(name) > 0;
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Record::Record() {
  doc_.SetArray();
}

Record::Record(const rapidjson::Value& resources) {
  doc_.SetArray();
  if (!resources.IsArray()) return;
  for (auto& r : resources.GetArray())
    if (r.IsObject()) doc_.PushBack(Json(r, doc_.GetAllocator()), doc_.GetAllocator());
}

size_t Record::size() const {
  return doc_.Size();
}

const Json* Record::find(std::string_view type, std::string_view id) const {
  for (auto& r : doc_.GetArray())
    if (str(get(r, "resourceType")) == type && str(get(r, "id")) == id) return &r;
  return nullptr;
}

void Record::query(std::string_view query, Json& out,
                   rapidjson::Document::AllocatorType& alloc) const {
  out.SetNull();
  size_t q = query.find('?');
  std::string path(query.substr(0, q));
  while (!path.empty() && path.front() == '/') path.erase(path.begin());
  auto segments = split(path, '/');
  if (q == std::string_view::npos && segments.size() == 2) {
    if (const Json* r = find(segments[0], segments[1])) out.CopyFrom(*r, alloc);
    return;
  }
  if (segments.size() != 1 || segments[0].empty()) return;
  const std::string type = segments[0];
  std::vector<std::pair<std::string, std::vector<std::string>>> filters;
  std::vector<std::string> includes;
  if (q != std::string_view::npos) {
    for (const auto& pair : split(query.substr(q + 1), '&')) {
      auto eq = pair.find('=');
      if (eq == std::string::npos) continue;
      std::string name = url_decode(pair.substr(0, eq));
      std::string value = url_decode(pair.substr(eq + 1));
      if (auto colon = name.find(':'); colon != std::string::npos && name[0] != '_')
        name = name.substr(0, colon);  // modifiers such as :exact are treated as equality
      if (name == "_include" || name == "_include:iterate") {
        includes.push_back(value);
      } else if (narrows(name)) {
        filters.push_back({name, split(value, ',')});
      }
    }
  }
  out.SetObject();
  out.AddMember("resourceType", "Bundle", alloc);
  out.AddMember("type", "searchset", alloc);
  Json entries(rapidjson::kArrayType);
  std::set<std::string> added;
  auto add = [&](const Json& r, const char* mode) {
    std::string key = str(get(r, "resourceType")) + "/" + str(get(r, "id"));
    if (!added.insert(key).second) return;
    Json entry(rapidjson::kObjectType);
    entry.AddMember("fullUrl", Json(("urn:conformance:" + key).c_str(), alloc), alloc);
    entry.AddMember("resource", Json(r, alloc), alloc);
    Json search(rapidjson::kObjectType);
    search.AddMember("mode", Json(mode, alloc), alloc);
    entry.AddMember("search", search, alloc);
    entries.PushBack(entry, alloc);
  };
  std::vector<const Json*> hits;
  for (auto& r : doc_.GetArray()) {
    if (str(get(r, "resourceType")) != type) continue;
    bool ok = true;
    for (auto& [name, values] : filters) ok = ok && matches(r, name, values);
    if (ok) hits.push_back(&r);
  }
  int total = static_cast<int>(hits.size());
  for (const Json* r : hits) add(*r, "match");
  for (const auto& inc : includes) {
    auto parts = split(inc, ':');
    if (parts.size() < 2 || parts[0] != type) continue;
    for (const Json* r : hits) {
      const Json* field = get(*r, parts[1]);
      if (!field) continue;
      std::vector<const Json*> refs;
      if (field->IsArray())
        for (auto& f : field->GetArray()) refs.push_back(&f);
      else
        refs.push_back(field);
      for (const Json* ref : refs) {
        auto [rt, rid] = parse_reference(str(get(*ref, "reference")));
        if (parts.size() > 2 && rt != parts[2]) continue;
        if (const Json* target = find(rt, rid)) add(*target, "include");
      }
    }
  }
  out.AddMember("total", total, alloc);
  out.AddMember("entry", entries, alloc);
  if (out["entry"].Empty()) out.RemoveMember("entry");
}

std::optional<std::string> fill_template(std::string_view tmpl,
                                         const std::map<std::string, std::string>& context) {
  auto user_token = [&](std::string_view prefix) -> std::optional<std::string> {
    auto it = context.find("userId");
    if (it == context.end()) return std::nullopt;
    std::string p = std::string(prefix) + "/";
    if (it->second.rfind(p, 0) != 0) return std::nullopt;
    return it->second.substr(p.size());
  };
  std::string out;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(pos));
      break;
    }
    out.append(tmpl.substr(pos, open - pos));
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) return std::nullopt;
    std::string token(tmpl.substr(open + 2, close - open - 2));
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    while (!token.empty() && token.back() == ' ') token.pop_back();
    std::optional<std::string> value;
    if (token.rfind("context.", 0) == 0) {
      auto it = context.find(token.substr(8));
      if (it != context.end() && !it->second.empty()) value = it->second;
    } else if (token == "userPractitionerId") {
      value = user_token("Practitioner");
    } else if (token == "userPractitionerRoleId") {
      value = user_token("PractitionerRole");
    } else if (token == "userPatientId") {
      value = user_token("Patient");
    } else if (token == "userRelatedPersonId") {
      value = user_token("RelatedPerson");
    }
    if (!value) return std::nullopt;
    out.append(*value);
    pos = close + 2;
  }
  return out;
}

rapidjson::Value collection_bundle(const rapidjson::Value* resources,
                                   rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value entries(rapidjson::kArrayType);
  if (resources != nullptr && resources->IsArray()) {
    for (const rapidjson::Value& r : resources->GetArray()) {
      rapidjson::Value entry(rapidjson::kObjectType);
      entry.AddMember("resource", rapidjson::Value(r, alloc), alloc);
      entries.PushBack(entry, alloc);
    }
  }
  rapidjson::Value bundle(rapidjson::kObjectType);
  bundle.AddMember("resourceType", "Bundle", alloc);
  bundle.AddMember("type", "collection", alloc);
  bundle.AddMember("entry", entries, alloc);
  return bundle;
}

}  // namespace cryo::conformance
