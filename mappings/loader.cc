// MappingSet::load: reads and validates mappings/data/*.json.
#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include "mappings/detail/model.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

struct System {
  std::string url;
  bool families = false;
  std::vector<std::string> also;  // other URLs of the same system (e.g. its OID)
};

// Validation context for one file: records the first problem with its JSON path.
class FileReader {
 public:
  explicit FileReader(std::string file) : file_(std::move(file)) {}

  bool fail(const std::string& path, std::string message) {
    if (!error_) error_ = Error{path.empty() ? file_ : file_ + ": " + path, std::move(message)};
    return false;
  }
  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }

  // Rejects members other than `allowed` (catches misspelt field names).
  bool only(const Json& object, const std::string& path,
            std::initializer_list<std::string_view> allowed) {
    if (!object.IsObject()) return fail(path, "expected an object");
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (name == "about") continue;  // free text for readers, everywhere
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return fail(join(path, name), "unknown field '" + std::string(name) + "'");
      }
    }
    return true;
  }

  bool string(const Json& object, const std::string& path, std::string_view name, std::string& out,
              bool required = true) {
    const Json* v = member(object, name);
    if (v == nullptr) return required ? fail(join(path, name), "missing") : true;
    if (!v->IsString() || v->GetStringLength() == 0) {
      return fail(join(path, name), "must be a non-empty string");
    }
    out.assign(v->GetString(), v->GetStringLength());
    return true;
  }

  const Json* array(const Json& object, const std::string& path, std::string_view name,
                    bool required = true) {
    const Json* v = member(object, name);
    if (v == nullptr) {
      if (required) fail(join(path, name), "missing");
      return nullptr;
    }
    if (!v->IsArray()) {
      fail(join(path, name), "must be an array");
      return nullptr;
    }
    return v;
  }

  bool strings(const Json& object, const std::string& path, std::string_view name,
               std::vector<std::string>& out, bool required = true) {
    const Json* a = array(object, path, name, required);
    if (a == nullptr) return !failed();
    size_t i = 0;
    for (const Json& v : fhir::items(a)) {
      if (!v.IsString() || v.GetStringLength() == 0) {
        return fail(index(join(path, name), i), "must be a non-empty string");
      }
      out.emplace_back(v.GetString(), v.GetStringLength());
      ++i;
    }
    return true;
  }

  static std::string join(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : path + "." + std::string(name);
  }
  static std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

 private:
  std::string file_;
  std::optional<Error> error_;
};

class Loader {
 public:
  explicit Loader(MappingSet::Data& d) : d_(d) {}

  Status run(const std::filesystem::path& dir);

 private:
  struct File {
    std::string name;  // shown in errors
    std::string text;
    fhir::JsonDocument doc;
  };

  bool code(FileReader& r, const std::string& path, std::string_view text, fhir::Code& out);
  bool codes(FileReader& r, const Json& object, const std::string& path, std::string_view name,
             fhir::CodeSet& out, bool required = true);
  // Adds `c` and its copies under the system's other URLs (systems.json `also`).
  void add_code(fhir::CodeSet& out, fhir::Code c) const;
  bool pattern(FileReader& r, const Json& object, const std::string& path,
               std::vector<detail::ConditionPattern>& out);
  bool load_systems(FileReader& r, const Json& root);
  bool load_reading_rules(FileReader& r, const Json& root);
  bool load_organs(FileReader& r, const Json& root);
  bool load_coverage(FileReader& r, const Json& root);
  bool load_prefetch(FileReader& r, const Json& root);
  // "system|code,system|code,…": every Observation code a fact source reads, in data order,
  // once each, in the systems' primary URLs (the form FHIR token search takes).
  std::string observation_code_list() const;
  bool load_codesystem(FileReader& r, const File& file);
  bool load_facts(FileReader& r, const Json& root);
  bool load_fact(FileReader& r, const Json& f, const std::string& path);
  bool load_source(FileReader& r, const Json& s, const std::string& path, detail::FactDef& fact,
                   detail::Source& out);
  bool field_rules(FileReader& r, const Json& object, const std::string& path,
                   std::string_view name, std::vector<detail::FieldRule>& out);
  bool member_list(FileReader& r, const Json& object, const std::string& path,
                   std::string_view name, const detail::FactDef& fact,
                   std::vector<std::string>& out);

  MappingSet::Data& d_;
  std::map<std::string, System, std::less<>> systems_;
  std::map<std::string, std::vector<std::string>, std::less<>> also_;  // url -> other urls
  std::set<std::string, std::less<>> criteria_codes_;
  bool have_codesystem_ = false;
  // Deferred checks: crit codes used before the CodeSystem was read; sizeFact references.
  struct PendingCrit {
    std::string file, path, code;
  };
  std::vector<PendingCrit> crit_uses_;
  struct PendingFactRef {
    std::string file, path, id;
    size_t fact, source;
  };
  std::vector<PendingFactRef> fact_refs_;
  std::vector<size_t> pending_code_queries_;  // prefetch templates that get the code= list
  std::string current_file_;
};

bool Loader::code(FileReader& r, const std::string& path, std::string_view text, fhir::Code& out) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return r.fail(path, "'" + std::string(text) + "' is not of the form 'system:code'");
  }
  std::string_view alias = text.substr(0, colon);
  std::string_view value = text.substr(colon + 1);
  auto it = systems_.find(alias);
  if (it == systems_.end()) {
    return r.fail(path, "unknown code system '" + std::string(alias) + "' (see systems.json)");
  }
  out.system = it->second.url;
  out.prefix = it->second.families;
  if (value.ends_with('*')) {
    value.remove_suffix(1);
    out.prefix = true;
    if (value.empty()) return r.fail(path, "a '*' family needs a code before it");
  }
  out.code = std::string(value);
  if (out.system == d_.criteria_system && !d_.criteria_system.empty()) {
    crit_uses_.push_back({current_file_, path, out.code});
  }
  return true;
}

bool Loader::codes(FileReader& r, const Json& object, const std::string& path,
                   std::string_view name, fhir::CodeSet& out, bool required) {
  const Json* a = r.array(object, path, name, required);
  if (a == nullptr) return !r.failed();
  if (a->Empty() && required) return r.fail(FileReader::join(path, name), "must not be empty");
  size_t i = 0;
  for (const Json& v : fhir::items(a)) {
    std::string p = FileReader::index(FileReader::join(path, name), i++);
    if (!v.IsString()) return r.fail(p, "must be a string 'system:code'");
    fhir::Code c;
    if (!code(r, p, std::string_view(v.GetString(), v.GetStringLength()), c)) return false;
    add_code(out, std::move(c));
  }
  return true;
}

void Loader::add_code(fhir::CodeSet& out, fhir::Code c) const {
  auto it = also_.find(c.system);
  if (it != also_.end()) {
    for (const std::string& url : it->second) out.add(fhir::Code{url, c.code, c.prefix});
  }
  out.add(std::move(c));
}

bool Loader::pattern(FileReader& r, const Json& object, const std::string& path,
                     std::vector<detail::ConditionPattern>& out) {
  const Json* list = r.array(object, path, "postCoordinated", false);
  if (list == nullptr) return !r.failed();
  size_t i = 0;
  for (const Json& pj : fhir::items(list)) {
    std::string pp = FileReader::index(path + ".postCoordinated", i++);
    detail::ConditionPattern cp;
    if (!r.only(pj, pp, {"codes", "morphology", "bodySites", "bodySiteOrgan"}) ||
        !codes(r, pj, pp, "codes", cp.codes) ||
        !codes(r, pj, pp, "morphology", cp.morphology, false) ||
        !codes(r, pj, pp, "bodySites", cp.body_sites, false)) {
      return false;
    }
    if (member(pj, "bodySiteOrgan") != nullptr) {
      std::string id;
      if (!r.string(pj, pp, "bodySiteOrgan", id)) return false;
      const detail::Organ* organ = nullptr;
      for (const auto& o : d_.organs) {
        if (o.id == id) organ = &o;
      }
      if (organ == nullptr) {
        return r.fail(pp + ".bodySiteOrgan", "unknown organ '" + id + "' (see organs.json)");
      }
      for (const fhir::Code& c : organ->locations.codes()) cp.body_sites.add(c);
    }
    if (cp.morphology.empty() && cp.body_sites.empty()) {
      return r.fail(
          pp, "needs 'morphology' or 'bodySites'/'bodySiteOrgan' (else list the code in 'codes')");
    }
    out.push_back(std::move(cp));
  }
  return true;
}

bool Loader::load_systems(FileReader& r, const Json& root) {
  const Json* list = r.array(root, "", "systems");
  if (list == nullptr) return false;
  size_t i = 0;
  for (const Json& s : fhir::items(list)) {
    std::string p = FileReader::index("systems", i++);
    std::string alias;
    System sys;
    if (!r.only(s, p, {"alias", "url", "families", "also"}) || !r.string(s, p, "alias", alias) ||
        !r.string(s, p, "url", sys.url) || !r.strings(s, p, "also", sys.also, false)) {
      return false;
    }
    if (!sys.also.empty()) also_[sys.url] = sys.also;
    d_.known_systems.push_back(sys.url);
    d_.known_systems.insert(d_.known_systems.end(), sys.also.begin(), sys.also.end());
    if (const Json* f = member(s, "families")) {
      if (!f->IsBool()) return r.fail(p + ".families", "must be true or false");
      sys.families = f->GetBool();
    }
    if (alias.find(':') != std::string::npos) return r.fail(p + ".alias", "must not contain ':'");
    if (!systems_.emplace(alias, sys).second) {
      return r.fail(p + ".alias", "alias '" + alias + "' defined twice");
    }
  }
  return true;
}

bool Loader::field_rules(FileReader& r, const Json& object, const std::string& path,
                         std::string_view name, std::vector<detail::FieldRule>& out) {
  const Json* list = r.array(object, path, name, false);
  if (list == nullptr) return !r.failed();
  size_t i = 0;
  for (const Json& f : fhir::items(list)) {
    std::string p = FileReader::index(FileReader::join(path, name), i++);
    detail::FieldRule rule;
    if (!r.only(f, p, {"field", "values"}) || !r.string(f, p, "field", rule.field) ||
        !r.strings(f, p, "values", rule.values)) {
      return false;
    }
    if (rule.values.empty()) return r.fail(p + ".values", "must not be empty");
    out.push_back(std::move(rule));
  }
  return true;
}

bool Loader::load_reading_rules(FileReader& r, const Json& root) {
  if (const Json* list = r.array(root, "", "statusRules", false)) {
    size_t i = 0;
    for (const Json& s : fhir::items(list)) {
      std::string p = FileReader::index("statusRules", i++);
      detail::StatusRule rule;
      if (!r.only(s, p, {"resourceType", "use", "voidWhen", "validOnly", "unconfirmedWhen"}) ||
          !r.string(s, p, "resourceType", rule.resource_type) ||
          !r.string(s, p, "use", rule.use, false) ||
          !field_rules(r, s, p, "voidWhen", rule.void_when) ||
          !field_rules(r, s, p, "validOnly", rule.valid_only) ||
          !field_rules(r, s, p, "unconfirmedWhen", rule.unconfirmed_when)) {
        return false;
      }
      if (rule.void_when.empty() && rule.valid_only.empty() && rule.unconfirmed_when.empty()) {
        return r.fail(p, "needs 'voidWhen', 'validOnly' or 'unconfirmedWhen'");
      }
      d_.status_rules.push_back(std::move(rule));
    }
  }
  if (r.failed()) return false;
  if (const Json* answers = member(root, "booleanAnswers")) {
    if (!r.only(*answers, "booleanAnswers", {"yes", "no"}) ||
        !codes(r, *answers, "booleanAnswers", "yes", d_.yes) ||
        !codes(r, *answers, "booleanAnswers", "no", d_.no)) {
      return false;
    }
  }
  if (const Json* list = r.array(root, "", "unitConversions", false)) {
    size_t i = 0;
    for (const Json& c : fhir::items(list)) {
      std::string p = FileReader::index("unitConversions", i++);
      fhir::UnitConversion conv;
      if (!r.only(c, p, {"from", "to", "factor"}) || !r.string(c, p, "from", conv.from) ||
          !r.string(c, p, "to", conv.to)) {
        return false;
      }
      const Json* factor = member(c, "factor");
      if (factor == nullptr || !factor->IsNumber() || factor->GetDouble() <= 0) {
        return r.fail(p + ".factor", "must be a positive number");
      }
      conv.factor = factor->GetDouble();
      d_.conversions.push_back(std::move(conv));
    }
  }
  if (r.failed()) return false;
  if (member(root, "morphologyExtension") != nullptr &&
      !r.string(root, "", "morphologyExtension", d_.morphology_extension)) {
    return false;
  }
  if (const Json* list = r.array(root, "", "documentCategories", false)) {
    size_t i = 0;
    for (const Json& c : fhir::items(list)) {
      std::string p = FileReader::index("documentCategories", i++);
      detail::DocumentCategory dc;
      fhir::CodeSet type;
      if (!r.only(c, p, {"resourceType", "categories", "documentType"}) ||
          !r.string(c, p, "resourceType", dc.resource_type) ||
          !codes(r, c, p, "categories", dc.categories)) {
        return false;
      }
      if (dc.resource_type != "DiagnosticReport") {
        return r.fail(p + ".resourceType", "only DiagnosticReport categories are read");
      }
      const Json* t = member(c, "documentType");
      fhir::Code tc;
      if (t == nullptr || !t->IsString())
        return r.fail(p + ".documentType", "must be a code 'loinc:…'");
      if (!code(r, p + ".documentType", t->GetString(), tc)) return false;
      dc.document_type = tc.code;
      d_.document_categories.push_back(std::move(dc));
    }
  }
  if (r.failed()) return false;
  if (const Json* qa = member(root, "questionnaireAnswers")) {
    const std::string p = "questionnaireAnswers";
    detail::QuestionnaireAnswers& q = d_.questionnaire_answers;
    if (!r.only(*qa, p, {"statuses", "documentLinkIdPrefix"}) ||
        !r.strings(*qa, p, "statuses", q.statuses) ||
        !r.string(*qa, p, "documentLinkIdPrefix", q.document_prefix)) {
      return false;
    }
    if (q.statuses.empty()) return r.fail(p + ".statuses", "must not be empty");
    for (const std::string& s : q.statuses) {
      if (s != "completed" && s != "amended" && s != "in-progress")
        return r.fail(p + ".statuses", "'" + s + "' is not a QuestionnaireResponse status to read");
    }
    q.enabled = true;
  }
  if (member(root, "documentTypeSystem") != nullptr) {
    std::string alias;
    if (!r.string(root, "", "documentTypeSystem", alias)) return false;
    auto it = systems_.find(alias);
    if (it == systems_.end()) {
      return r.fail("documentTypeSystem", "unknown code system '" + alias + "'");
    }
    d_.document_system = it->second.url;
  }
  return true;
}

bool Loader::load_organs(FileReader& r, const Json& root) {
  const Json* list = r.array(root, "", "organs");
  if (list == nullptr) return false;
  size_t i = 0;
  for (const Json& o : fhir::items(list)) {
    std::string p = FileReader::index("organs", i++);
    detail::Organ organ;
    if (!r.only(o, p, {"id", "label", "billingCodes", "lesionLocations"}) ||
        !r.string(o, p, "id", organ.id) || !r.string(o, p, "label", organ.label) ||
        !codes(r, o, p, "billingCodes", organ.billing) ||
        !codes(r, o, p, "lesionLocations", organ.locations, false)) {
      return false;
    }
    for (const auto& other : d_.organs) {
      if (other.id == organ.id) return r.fail(p + ".id", "organ '" + organ.id + "' defined twice");
    }
    d_.organs.push_back(std::move(organ));
  }
  return codes(r, root, "", "otherLocations", d_.other_locations, false);
}

bool Loader::load_coverage(FileReader& r, const Json& root) {
  const Json* c = member(root, "coverage");
  const std::string p = "coverage";
  if (!r.only(*c, p, {"planClass", "typeSystems", "typePrefixes", "default"})) return false;
  const Json* plan = member(*c, "planClass");
  if (plan == nullptr) return r.fail(p + ".planClass", "missing");
  if (!r.only(*plan, p + ".planClass", {"system", "code"}) ||
      !r.string(*plan, p + ".planClass", "system", d_.coverage.plan_system) ||
      !r.string(*plan, p + ".planClass", "code", d_.coverage.plan_code) ||
      !r.strings(*c, p, "typeSystems", d_.coverage.type_systems) ||
      !r.string(*c, p, "default", d_.coverage.default_line)) {
    return false;
  }
  const Json* prefixes = r.array(*c, p, "typePrefixes");
  if (prefixes == nullptr) return false;
  size_t i = 0;
  for (const Json& e : fhir::items(prefixes)) {
    std::string ep = FileReader::index(p + ".typePrefixes", i++);
    std::string prefix, line;
    if (!r.only(e, ep, {"prefix", "lineOfBusiness"}) || !r.string(e, ep, "prefix", prefix) ||
        !r.string(e, ep, "lineOfBusiness", line)) {
      return false;
    }
    d_.coverage.type_prefixes.emplace_back(prefix, line);
  }
  // Longest prefix first, so "11" (Medicare Advantage) is tried before "1" (Medicare).
  std::stable_sort(d_.coverage.type_prefixes.begin(), d_.coverage.type_prefixes.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return true;
}

bool Loader::load_prefetch(FileReader& r, const Json& root) {
  static constexpr std::string_view kTokens[] = {
      "context.patientId",      "context.userId", "context.encounterId", "userPractitionerId",
      "userPractitionerRoleId", "userPatientId",  "userRelatedPersonId"};
  const Json* list = r.array(root, "", "prefetch");
  if (list == nullptr) return false;
  size_t i = 0;
  for (const Json& t : fhir::items(list)) {
    std::string p = FileReader::index("prefetch", i++);
    PrefetchTemplate tpl;
    if (!r.only(t, p, {"key", "query", "codesRead", "optional"}) ||
        !r.string(t, p, "key", tpl.key) || !r.string(t, p, "query", tpl.query)) {
      return false;
    }
    if (const Json* optional = fhir::member(t, "optional")) {
      if (!optional->IsBool()) return r.fail(p + ".optional", "must be true or false");
      tpl.optional = optional->GetBool();
    }
    std::string codes_read;
    if (!r.string(t, p, "codesRead", codes_read, false)) return false;
    if (!codes_read.empty()) {
      if (codes_read != "Observation") {
        return r.fail(p + ".codesRead", "only 'Observation' codes are generated");
      }
      if (!tpl.query.starts_with("Observation?")) {
        return r.fail(p + ".query", "'codesRead' needs an Observation search");
      }
      pending_code_queries_.push_back(d_.prefetch.size());
    } else if (tpl.query.starts_with("Observation?") &&
               tpl.query.find("code=") == std::string::npos &&
               tpl.query.find("category=") == std::string::npos) {
      return r.fail(p + ".query",
                    "an Observation search needs 'code=' or 'category=' (EHRs such as Epic refuse "
                    "patient-only Observation searches); or set \"codesRead\": \"Observation\"");
    }
    for (size_t pos = tpl.query.find("{{"); pos != std::string::npos;
         pos = tpl.query.find("{{", pos + 2)) {
      size_t end = tpl.query.find("}}", pos);
      if (end == std::string::npos) return r.fail(p + ".query", "unclosed '{{'");
      std::string_view token(tpl.query.data() + pos + 2, end - pos - 2);
      if (std::find(std::begin(kTokens), std::end(kTokens), token) == std::end(kTokens)) {
        return r.fail(p + ".query",
                      "'{{" + std::string(token) + "}}' is not a CDS Hooks 2.0 prefetch token");
      }
    }
    for (const auto& other : d_.prefetch) {
      if (other.key == tpl.key) return r.fail(p + ".key", "key '" + tpl.key + "' used twice");
    }
    d_.prefetch.push_back(std::move(tpl));
  }
  return true;
}

std::string Loader::observation_code_list() const {
  std::vector<std::string> seen;
  std::set<std::string> other_urls;
  for (const auto& [url, others] : also_) other_urls.insert(others.begin(), others.end());
  auto add = [&](const fhir::CodeSet& set) {
    for (const fhir::Code& c : set.codes()) {
      if (c.prefix && c.system != fhir::kIcd10Cm) continue;  // a family cannot be searched
      if (other_urls.count(c.system) != 0) continue;         // the OID copy of a code
      std::string token = c.system + "|" + c.code;
      if (std::find(seen.begin(), seen.end(), token) == seen.end()) seen.push_back(token);
    }
  };
  using detail::Rule;
  for (const detail::FactDef& f : d_.facts) {
    for (const detail::Source& src : f.sources) {
      switch (src.rule) {
        case Rule::kBooleanObservation:
        case Rule::kCodedObservation:
        case Rule::kFindingObservation:
        case Rule::kLatestQuantity:
        case Rule::kOrdinalObservation:
          add(src.codes);
          break;
        case Rule::kLargestLesion:
          for (const auto& p : src.sizes) add(p.code);
          break;
        case Rule::kLesionCount:
          add(src.count_codes);
          break;
        default:
          break;
      }
    }
  }
  std::string out;
  for (const std::string& t : seen) out += (out.empty() ? "" : ",") + t;
  return out;
}

bool Loader::load_codesystem(FileReader& r, const File& file) {
  const Json& root = file.doc;
  std::string url;
  if (!r.string(root, "", "url", url)) return false;
  if (url != d_.criteria_system) {
    return r.fail("url", "'" + url + "' differs from the 'crit' system in systems.json ('" +
                             d_.criteria_system + "')");
  }
  const Json* concepts = r.array(root, "", "concept");
  if (concepts == nullptr) return false;
  size_t i = 0;
  for (const Json& c : fhir::items(concepts)) {
    std::string p = FileReader::index("concept", i++);
    CriteriaConcept item;
    if (!r.string(c, p, "code", item.code) || !r.string(c, p, "display", item.display) ||
        !r.string(c, p, "definition", item.definition)) {
      return false;
    }
    if (!criteria_codes_.insert(item.code).second) {
      return r.fail(p + ".code", "code '" + item.code + "' defined twice");
    }
    d_.concepts.push_back(std::move(item));
  }
  d_.criteria_codesystem_json = file.text;
  have_codesystem_ = true;
  return true;
}

bool is_member(FileReader& r, const std::string& path, const detail::FactDef& fact,
               const std::string& id) {
  bool known = std::any_of(fact.members.begin(), fact.members.end(),
                           [&](const detail::Member& m) { return m.id == id; });
  return known || r.fail(path, "'" + id + "' is not a member of fact '" + fact.id + "'");
}

bool Loader::member_list(FileReader& r, const Json& object, const std::string& path,
                         std::string_view name, const detail::FactDef& fact,
                         std::vector<std::string>& out) {
  if (!r.strings(object, path, name, out, false)) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    bool known = std::any_of(fact.members.begin(), fact.members.end(),
                             [&](const detail::Member& m) { return m.id == out[i]; });
    if (!known) {
      return r.fail(FileReader::index(FileReader::join(path, name), i),
                    "'" + out[i] + "' is not a member of fact '" + fact.id + "'");
    }
  }
  return true;
}

bool Loader::load_source(FileReader& r, const Json& s, const std::string& p, detail::FactDef& fact,
                         detail::Source& out) {
  using detail::Rule;
  static const std::map<std::string, Rule, std::less<>> kRules = {
      {"boolean-observation", Rule::kBooleanObservation},
      {"coded-observation", Rule::kCodedObservation},
      {"finding-observation", Rule::kFindingObservation},
      {"condition-presence", Rule::kConditionPresence},
      {"order-reason", Rule::kOrderReason},
      {"condition-classification", Rule::kConditionClassification},
      {"latest-quantity", Rule::kLatestQuantity},
      {"largest-lesion", Rule::kLargestLesion},
      {"lesion-count", Rule::kLesionCount},
      {"ordinal-observation", Rule::kOrdinalObservation},
      {"condition-category", Rule::kConditionCategory},
  };
  std::string rule_name;
  if (!r.string(s, p, "rule", rule_name)) return false;
  auto it = kRules.find(rule_name);
  if (it == kRules.end()) return r.fail(p + ".rule", "unknown rule '" + rule_name + "'");
  out.rule = it->second;

  auto kind_is = [&](FactKind k, const char* what) {
    if (fact.kind == k) return true;
    return r.fail(p + ".rule", "rule '" + rule_name + "' needs a " + what + " fact");
  };
  auto organ = [&]() {
    std::string id;
    if (!r.string(s, p, "organ", id)) return false;
    for (size_t i = 0; i < d_.organs.size(); ++i) {
      if (d_.organs[i].id == id) {
        out.organ = i;
        return true;
      }
    }
    return r.fail(p + ".organ", "unknown organ '" + id + "' (see organs.json)");
  };

  switch (out.rule) {
    case Rule::kConditionPresence:
      return r.only(s, p, {"rule", "codes", "postCoordinated"}) &&
             kind_is(FactKind::kBoolean, "boolean") && codes(r, s, p, "codes", out.codes) &&
             pattern(r, s, p, out.post_coordinated);
    case Rule::kBooleanObservation:
    case Rule::kFindingObservation:
    case Rule::kOrderReason:
      return r.only(s, p, {"rule", "codes"}) && kind_is(FactKind::kBoolean, "boolean") &&
             codes(r, s, p, "codes", out.codes);
    case Rule::kCodedObservation:
      return r.only(s, p, {"rule", "codes", "true", "false"}) &&
             kind_is(FactKind::kBoolean, "boolean") && codes(r, s, p, "codes", out.codes) &&
             codes(r, s, p, "true", out.true_codes) && codes(r, s, p, "false", out.false_codes);
    case Rule::kConditionClassification:
      return r.only(s, p, {"rule", "family", "true", "false"}) &&
             kind_is(FactKind::kBoolean, "boolean") && codes(r, s, p, "family", out.family) &&
             codes(r, s, p, "true", out.true_codes) && codes(r, s, p, "false", out.false_codes);
    case Rule::kLatestQuantity:
      return r.only(s, p, {"rule", "codes"}) && kind_is(FactKind::kMeasure, "measure") &&
             codes(r, s, p, "codes", out.codes);
    case Rule::kOrdinalObservation:
      return r.only(s, p, {"rule", "codes"}) && kind_is(FactKind::kOrdinal, "ordinal") &&
             codes(r, s, p, "codes", out.codes);
    case Rule::kLargestLesion: {
      if (!r.only(s, p, {"rule", "organ", "sizeObservations"}) ||
          !kind_is(FactKind::kMeasure, "measure") || !organ()) {
        return false;
      }
      const Json* sizes = r.array(s, p, "sizeObservations");
      if (sizes == nullptr) return false;
      if (sizes->Empty()) return r.fail(p + ".sizeObservations", "must not be empty");
      size_t i = 0;
      for (const Json& z : fhir::items(sizes)) {
        std::string zp = FileReader::index(p + ".sizeObservations", i++);
        detail::SizePattern pattern;
        if (!r.only(z, zp, {"code", "component"})) return false;
        for (const char* name : {"code", "component"}) {
          const Json* v = member(z, name);
          if (v == nullptr) {
            if (std::string_view(name) == "code") return r.fail(zp + ".code", "missing");
            continue;
          }
          if (!v->IsString()) return r.fail(zp + "." + name, "must be a string 'system:code'");
          fhir::Code c;
          if (!code(r, zp + "." + name, v->GetString(), c)) return false;
          add_code(std::string_view(name) == "code" ? pattern.code : pattern.component,
                   std::move(c));
        }
        out.sizes.push_back(std::move(pattern));
      }
      return true;
    }
    case Rule::kLesionCount: {
      if (!r.only(s, p, {"rule", "organ", "countObservations", "sizeFact"}) ||
          !kind_is(FactKind::kMeasure, "measure") || !organ() ||
          !codes(r, s, p, "countObservations", out.count_codes)) {
        return false;
      }
      std::string size_fact;
      if (!r.string(s, p, "sizeFact", size_fact)) return false;
      fact_refs_.push_back(
          {current_file_, p + ".sizeFact", size_fact, d_.facts.size(), fact.sources.size()});
      return true;
    }
    case Rule::kConditionCategory: {
      if (!r.only(s, p, {"rule", "diagnoses", "metastases"}) ||
          !kind_is(FactKind::kCategory, "category")) {
        return false;
      }
      const Json* diagnoses = r.array(s, p, "diagnoses");
      if (diagnoses == nullptr) return false;
      size_t i = 0;
      for (const Json& dj : fhir::items(diagnoses)) {
        std::string dp = FileReader::index(p + ".diagnoses", i++);
        detail::Diagnosis dx;
        if (!r.only(dj, dp,
                    {"codes", "member", "unknown", "yieldsToDefinite", "postCoordinated"}) ||
            !codes(r, dj, dp, "codes", dx.codes) || !r.string(dj, dp, "member", dx.member, false) ||
            !member_list(r, dj, dp, "unknown", fact, dx.unknown) ||
            !pattern(r, dj, dp, dx.post_coordinated)) {
          return false;
        }
        if (dx.member.empty() == dx.unknown.empty()) {
          return r.fail(dp, "needs exactly one of 'member' (definite) or 'unknown'");
        }
        if (!dx.member.empty() && !is_member(r, dp + ".member", fact, dx.member)) return false;
        if (const Json* y = member(dj, "yieldsToDefinite")) {
          if (!y->IsBool()) return r.fail(dp + ".yieldsToDefinite", "must be true or false");
          dx.yields_to_definite = y->GetBool();
        }
        out.diagnoses.push_back(std::move(dx));
      }
      if (const Json* m = member(s, "metastases")) {
        std::string mp = p + ".metastases";
        detail::Metastases& mets = out.metastases;
        mets.present = true;
        if (!r.only(*m, mp,
                    {"codes", "primaryExtensions", "primaries", "unknownPrimary",
                     "undeterminedYieldsToDefinite", "postCoordinated"}) ||
            !codes(r, *m, mp, "codes", mets.codes) ||
            !r.strings(*m, mp, "primaryExtensions", mets.extension_urls) ||
            !member_list(r, *m, mp, "unknownPrimary", fact, mets.unknown_primary) ||
            !pattern(r, *m, mp, mets.post_coordinated)) {
          return false;
        }
        if (mets.extension_urls.empty()) {
          return r.fail(mp + ".primaryExtensions", "must not be empty");
        }
        if (const Json* y = member(*m, "undeterminedYieldsToDefinite")) {
          if (!y->IsBool()) {
            return r.fail(mp + ".undeterminedYieldsToDefinite", "must be true or false");
          }
          mets.undetermined_yields = y->GetBool();
        }
        const Json* primaries = r.array(*m, mp, "primaries");
        if (primaries == nullptr) return false;
        size_t j = 0;
        for (const Json& pj : fhir::items(primaries)) {
          std::string pp = FileReader::index(mp + ".primaries", j++);
          detail::PrimaryClass pc;
          if (!r.only(pj, pp, {"member", "codes"}) || !r.string(pj, pp, "member", pc.member) ||
              !codes(r, pj, pp, "codes", pc.codes)) {
            return false;
          }
          if (!is_member(r, pp + ".member", fact, pc.member)) return false;
          mets.primaries.push_back(std::move(pc));
        }
      }
      return true;
    }
  }
  return false;
}

bool Loader::load_fact(FileReader& r, const Json& f, const std::string& p) {
  detail::FactDef fact;
  std::string kind;
  if (!r.only(f, p,
              {"id", "label", "kind", "unit", "closedWorld", "members", "scale", "values",
               "sources"}) ||
      !r.string(f, p, "id", fact.id) || !r.string(f, p, "label", fact.label) ||
      !r.string(f, p, "kind", kind)) {
    return false;
  }
  if (d_.fact_index.count(fact.id) != 0) {
    return r.fail(p + ".id", "fact '" + fact.id + "' defined twice");
  }
  if (kind == "boolean") {
    fact.kind = FactKind::kBoolean;
  } else if (kind == "measure") {
    fact.kind = FactKind::kMeasure;
    if (!r.string(f, p, "unit", fact.unit)) return false;
  } else if (kind == "ordinal") {
    fact.kind = FactKind::kOrdinal;
  } else if (kind == "category") {
    fact.kind = FactKind::kCategory;
  } else {
    return r.fail(p + ".kind", "'" + kind + "' is not one of boolean, measure, ordinal, category");
  }
  if (fact.kind != FactKind::kMeasure && member(f, "unit") != nullptr) {
    return r.fail(p + ".unit", "only measure facts have a unit");
  }
  if (const Json* cw = member(f, "closedWorld")) {
    if (!cw->IsBool()) return r.fail(p + ".closedWorld", "must be true or false");
    if (fact.kind != FactKind::kBoolean && cw->GetBool()) {
      return r.fail(p + ".closedWorld", "only boolean facts can be closed-world");
    }
    fact.closed_world = cw->GetBool();
  }
  if (fact.kind == FactKind::kCategory) {
    const Json* members = r.array(f, p, "members");
    if (members == nullptr) return false;
    if (members->Empty()) return r.fail(p + ".members", "must not be empty");
    size_t i = 0;
    for (const Json& m : fhir::items(members)) {
      std::string mp = FileReader::index(p + ".members", i++);
      detail::Member mem;
      if (!r.only(m, mp, {"id", "label"}) || !r.string(m, mp, "id", mem.id) ||
          !r.string(m, mp, "label", mem.label)) {
        return false;
      }
      fact.members.push_back(std::move(mem));
    }
  } else if (member(f, "members") != nullptr) {
    return r.fail(p + ".members", "only category facts have members");
  }
  if (fact.kind == FactKind::kOrdinal) {
    if (!r.strings(f, p, "scale", fact.scale)) return false;
    if (fact.scale.empty()) return r.fail(p + ".scale", "must not be empty");
    auto rank = [&](const std::string& v) -> std::optional<double> {
      auto it = std::find(fact.scale.begin(), fact.scale.end(), v);
      if (it == fact.scale.end()) return std::nullopt;
      return static_cast<double>(it - fact.scale.begin());
    };
    const Json* values = r.array(f, p, "values");
    if (values == nullptr) return false;
    size_t i = 0;
    for (const Json& v : fhir::items(values)) {
      std::string vp = FileReader::index(p + ".values", i++);
      detail::OrdinalValue ov;
      if (!r.only(v, vp, {"value", "codes", "range", "unknown"}) ||
          !r.string(v, vp, "value", ov.value) || !codes(r, v, vp, "codes", ov.codes)) {
        return false;
      }
      const Json* unknown = member(v, "unknown");
      if (unknown != nullptr && !unknown->IsBool()) {
        return r.fail(vp + ".unknown", "must be true or false");
      }
      if (unknown != nullptr && unknown->GetBool()) {
        if (member(v, "range") != nullptr)
          return r.fail(vp, "'unknown' and 'range' exclude each other");
      } else if (member(v, "range") != nullptr) {
        std::vector<std::string> range;
        if (!r.strings(v, vp, "range", range)) return false;
        if (range.size() != 2) return r.fail(vp + ".range", "must name [lowest, highest]");
        auto lo = rank(range[0]);
        auto hi = rank(range[1]);
        if (!lo || !hi || *lo > *hi) {
          return r.fail(vp + ".range", "must name two values of 'scale', lowest first");
        }
        ov.ranks = fhir::Interval{*lo, *hi, true, true};
      } else {
        auto at = rank(ov.value);
        if (!at) {
          return r.fail(vp + ".value",
                        "'" + ov.value + "' is not on the scale; give a 'range' or 'unknown'");
        }
        ov.ranks = fhir::Interval::point(*at);
      }
      fact.values.push_back(std::move(ov));
    }
  } else if (member(f, "scale") != nullptr || member(f, "values") != nullptr) {
    return r.fail(p, "only ordinal facts have 'scale' and 'values'");
  }
  const Json* sources = r.array(f, p, "sources");
  if (sources == nullptr) return false;
  if (sources->Empty()) return r.fail(p + ".sources", "must not be empty");
  size_t i = 0;
  for (const Json& s : fhir::items(sources)) {
    std::string sp = FileReader::index(p + ".sources", i++);
    detail::Source source;
    if (!load_source(r, s, sp, fact, source)) return false;
    fact.sources.push_back(std::move(source));
  }
  if (fact.kind == FactKind::kMeasure && fact.sources.size() != 1) {
    return r.fail(p + ".sources", "a measure fact takes exactly one source");
  }
  d_.fact_index.emplace(fact.id, d_.facts.size());
  d_.facts.push_back(std::move(fact));
  return true;
}

bool Loader::load_facts(FileReader& r, const Json& root) {
  const Json* list = r.array(root, "", "facts");
  if (list == nullptr) return false;
  size_t i = 0;
  for (const Json& f : fhir::items(list)) {
    if (!load_fact(r, f, FileReader::index("facts", i++))) return false;
  }
  return true;
}

Status Loader::run(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> paths;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json") paths.push_back(it->path());
  }
  if (ec) return Error{dir.string(), "cannot read the mappings directory: " + ec.message()};
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) return Error{dir.string(), "no mapping files (*.json)"};

  std::vector<File> files(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    File& f = files[i];
    f.name = paths[i].string();
    std::ifstream in(paths[i], std::ios::binary);
    if (!in) return Error{f.name, "cannot open"};
    std::stringstream ss;
    ss << in.rdbuf();
    f.text = ss.str();
    fhir::ParseLimits limits;
    limits.max_bytes = 16 * 1024 * 1024;
    if (auto err = fhir::parse_copy(f.text, f.doc, limits)) return Error{f.name, err->message};
    if (!f.doc.IsObject()) return Error{f.name, "must hold a JSON object"};
  }

  // Each top-level section is read in dependency order, wherever it is.
  using Step = bool (Loader::*)(FileReader&, const Json&);
  const std::pair<const char*, Step> kSections[] = {
      {"systems", &Loader::load_systems},   {"statusRules", &Loader::load_reading_rules},
      {"organs", &Loader::load_organs},     {"coverage", &Loader::load_coverage},
      {"prefetch", &Loader::load_prefetch},
  };
  std::map<std::string, std::string> section_file;
  for (const File& f : files) {
    for (auto it = f.doc.MemberBegin(); it != f.doc.MemberEnd(); ++it) {
      std::string name(it->name.GetString(), it->name.GetStringLength());
      static const std::set<std::string> kKnown = {"about",
                                                   "systems",
                                                   "statusRules",
                                                   "booleanAnswers",
                                                   "unitConversions",
                                                   "documentTypeSystem",
                                                   "organs",
                                                   "coverage",
                                                   "prefetch",
                                                   "facts",
                                                   "otherLocations",
                                                   "morphologyExtension",
                                                   "documentCategories",
                                                   "questionnaireAnswers"};
      bool codesystem = string_or_empty(member(f.doc, "resourceType")) == "CodeSystem";
      if (!codesystem && kKnown.count(name) == 0) {
        return Error{f.name + ": " + name, "unknown section"};
      }
      if (name != "facts" && name != "about" && !codesystem &&
          !section_file.emplace(name, f.name).second) {
        return Error{f.name + ": " + name, "section also defined in " + section_file[name]};
      }
    }
  }
  for (const auto& [section, step] : kSections) {
    for (const File& f : files) {
      bool present = member(f.doc, section) != nullptr;
      if (std::string_view(section) == "statusRules") {
        // The reading rules file: any of its sections may appear without the others.
        for (const char* also :
             {"booleanAnswers", "unitConversions", "documentTypeSystem", "morphologyExtension",
              "documentCategories", "questionnaireAnswers"}) {
          present = present || member(f.doc, also) != nullptr;
        }
      }
      if (!present) continue;
      FileReader r(f.name);
      current_file_ = f.name;
      if (!(this->*step)(r, f.doc)) return r.error();
    }
    if (std::string_view(section) == "systems") {
      auto crit = systems_.find("crit");
      if (crit == systems_.end()) {
        return Error{dir.string(), "systems.json must define the 'crit' criteria code system"};
      }
      d_.criteria_system = crit->second.url;
    }
  }
  for (const char* required : {"systems", "statusRules", "booleanAnswers", "unitConversions",
                               "organs", "coverage", "prefetch"}) {
    if (section_file.count(required) == 0) {
      return Error{dir.string(), std::string("no file defines '") + required + "'"};
    }
  }
  for (const File& f : files) {
    if (string_or_empty(member(f.doc, "resourceType")) != "CodeSystem") continue;
    FileReader r(f.name);
    if (!load_codesystem(r, f)) return r.error();
  }
  if (!have_codesystem_) {
    return Error{dir.string(), "no criteria CodeSystem (resourceType CodeSystem) found"};
  }
  for (const File& f : files) {
    if (member(f.doc, "facts") == nullptr) continue;
    FileReader r(f.name);
    current_file_ = f.name;
    if (!load_facts(r, f.doc)) return r.error();
  }
  if (d_.facts.empty()) return Error{dir.string(), "no facts defined"};
  for (const PendingCrit& use : crit_uses_) {
    if (criteria_codes_.count(use.code) == 0) {
      return Error{use.file + ": " + use.path,
                   "'crit:" + use.code + "' is not a concept of the criteria CodeSystem"};
    }
  }
  for (const PendingFactRef& ref : fact_refs_) {
    const detail::FactDef* target = d_.fact(ref.id);
    bool ok = target != nullptr && target->sources.size() == 1 &&
              target->sources[0].rule == detail::Rule::kLargestLesion;
    if (!ok) {
      return Error{ref.file + ": " + ref.path,
                   "'" + ref.id + "' is not a fact with a largest-lesion source"};
    }
    d_.facts[ref.fact].sources[ref.source].size_fact = d_.fact_index.at(ref.id);
  }
  if (d_.document_system.empty()) d_.document_system = std::string(fhir::kLoinc);
  if (!pending_code_queries_.empty()) {
    std::string list = observation_code_list();
    if (list.empty()) return Error{dir.string(), "no fact reads Observation codes to query"};
    for (size_t i : pending_code_queries_) d_.prefetch[i].query += "&code=" + list;
  }
  return Status::Ok();
}

}  // namespace

Result<MappingSet> MappingSet::load(const std::filesystem::path& dir) {
  MappingSet set;
  Loader loader(*set.data_);
  Status s = loader.run(dir);
  if (!s) return s.error();
  return set;
}

}  // namespace cryo::mappings
