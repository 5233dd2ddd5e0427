// MappingSet::load: reads and validates mappings/data/*.json (format: docs/mappings-format.md).
//
// Every file is read by base/json_file.h: a syntax error, a duplicate key, a misspelt or
// missing key is refused with the file, line, column and field. Reading stops at the first
// problem. Each function below reads one part of the format and returns the problem with the
// JSON path of its field; run() locates it in its file.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>

#include "base/json_file.h"
#include "mappings/detail/model.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings {
namespace {

using json::index_path;
using json::into;
using json::join_path;
using json::Node;
using json::Object;

struct System {
  std::string url;
  bool families = false;
  std::vector<std::string> also;  // other URLs of the same system (e.g. its OID)
};

// An object of a mapping file: its keys checked; an "about" text for readers is allowed
// everywhere.
Result<Object> object(const Node& node, std::initializer_list<std::string_view> keys) {
  std::vector<std::string_view> all(keys);
  all.push_back("about");
  return Object::of(node, all);
}

// The first failure of steps already run in order.
Status first_error(std::initializer_list<Status> steps) {
  for (const Status& s : steps) {
    if (!s) return s;
  }
  return Status::Ok();
}

// The sections a mapping file may hold, each defined by one file only ("facts" may be split).
constexpr std::string_view kSections[] = {"about",
                                          "systems",
                                          "status_rules",
                                          "boolean_answers",
                                          "unit_conversions",
                                          "document_type_system",
                                          "organs",
                                          "coverage",
                                          "prefetch",
                                          "facts",
                                          "other_locations",
                                          "morphology_extension",
                                          "document_categories",
                                          "questionnaire_answers"};
constexpr std::string_view kSystems[] = {"systems"};
constexpr std::string_view kOrgans[] = {"organs"};  // other_locations is read with it
constexpr std::string_view kCoverage[] = {"coverage"};
constexpr std::string_view kPrefetch[] = {"prefetch"};
// The sections of the reading rules file: any may appear without the others.
constexpr std::string_view kReadingRules[] = {
    "status_rules",         "boolean_answers",     "unit_conversions",     "document_type_system",
    "morphology_extension", "document_categories", "questionnaire_answers"};

class Loader {
 public:
  explicit Loader(MappingSet::Data& d) : d_(d) {}

  Status run(const std::filesystem::path& dir);

 private:
  struct File {
    json::File json;
    bool codesystem = false;  // the criteria CodeSystem: FHIR, not this format
  };
  // A check that waits for every file: a crit code used before the CodeSystem was read, a
  // size_fact naming a fact of another file.
  struct PendingCrit {
    size_t file;
    std::string path, code;
  };
  struct PendingFactRef {
    size_t file;
    std::string path, id;
    size_t fact, source;
  };

  Status read_files(const std::filesystem::path& dir);
  Status check_sections() const;
  Status load_sections(const std::filesystem::path& dir);
  Status load_codesystems(const std::filesystem::path& dir);
  Status load_all_facts(const std::filesystem::path& dir);
  Status resolve_pending(const std::filesystem::path& dir);
  Error located(size_t file, const Error& e) const { return files_[file].json.locate(e); }

  Status code(const Node& node, fhir::Code& out);
  Status codes(const Object& o, std::string_view key, fhir::CodeSet& out, bool required = true);
  // Adds `c` and its copies under the system's other URLs (systems.json `also`).
  void add_code(fhir::CodeSet& out, fhir::Code c) const;
  Status pattern(const Object& o, std::vector<detail::ConditionPattern>& out);
  Status load_systems(const Object& root);
  Status field_rules(const Object& o, std::string_view key, std::vector<detail::FieldRule>& out);
  Status load_reading_rules(const Object& root);
  Status load_status_rules(const Object& root);
  Status load_unit_conversions(const Object& root);
  Status load_document_categories(const Object& root);
  Status load_questionnaire_answers(const Object& root);
  Status load_organs(const Object& root);
  Status load_coverage(const Object& root);
  Status load_prefetch(const Object& root);
  Status load_prefetch_template(const Node& node);
  // "system|code,system|code,…": every Observation code a fact source reads, in data order,
  // once each, in the systems' primary URLs (the form FHIR token search takes).
  std::string observation_code_list() const;
  Status load_codesystem(const File& file);
  Status load_facts(const Object& root);
  Status load_fact(const Node& node);
  Status fact_kind(const Object& f, detail::FactDef& fact);
  Status fact_members(const Object& f, detail::FactDef& fact);
  Status fact_scale(const Object& f, detail::FactDef& fact);
  Status ordinal_value(const Node& node, const detail::FactDef& fact, detail::OrdinalValue& out);
  Status fact_sources(const Object& f, detail::FactDef& fact);
  Status load_source(const Node& node, detail::FactDef& fact, detail::Source& out);
  Status source_organ(const Object& s, detail::Source& out);
  Status largest_lesion(const Object& s, detail::Source& out);
  Status lesion_count(const Object& s, const detail::FactDef& fact, detail::Source& out);
  Status condition_category(const Object& s, const detail::FactDef& fact, detail::Source& out);
  Status diagnosis(const Node& node, const detail::FactDef& fact, detail::Diagnosis& out);
  Status metastases(const Node& node, const detail::FactDef& fact, detail::Metastases& out);
  Status member_list(const Object& o, std::string_view key, const detail::FactDef& fact,
                     std::vector<std::string>& out);

  MappingSet::Data& d_;
  std::vector<File> files_;
  std::map<std::string, size_t, std::less<>> section_file_;  // section -> file defining it
  std::map<std::string, System, std::less<>> systems_;
  std::map<std::string, std::vector<std::string>, std::less<>> also_;  // url -> other urls
  std::set<std::string, std::less<>> criteria_codes_;
  bool have_codesystem_ = false;
  std::vector<PendingCrit> crit_uses_;
  std::vector<PendingFactRef> fact_refs_;
  std::vector<size_t> pending_code_queries_;  // prefetch templates that get the code= list
  size_t current_file_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Codes

Status Loader::code(const Node& node, fhir::Code& out) {
  if (!node->IsString()) return node.error("must be a string 'system:code'");
  std::string_view text(node->GetString(), node->GetStringLength());
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return node.error("'" + std::string(text) + "' is not of the form 'system:code'");
  }
  std::string_view alias = text.substr(0, colon);
  std::string_view value = text.substr(colon + 1);
  auto it = systems_.find(alias);
  if (it == systems_.end()) {
    return node.error("unknown code system '" + std::string(alias) + "' (see systems.json)");
  }
  out.system = it->second.url;
  out.prefix = it->second.families;
  if (value.ends_with('*')) {
    value.remove_suffix(1);
    out.prefix = true;
    if (value.empty()) return node.error("a '*' family needs a code before it");
  }
  out.code = std::string(value);
  if (out.system == d_.criteria_system && !d_.criteria_system.empty()) {
    crit_uses_.push_back({current_file_, node.path(), out.code});
  }
  return Status::Ok();
}

Status Loader::codes(const Object& o, std::string_view key, fhir::CodeSet& out, bool required) {
  Result<Node> list = required ? o.array(key) : o.optional_array(key);
  if (!list) return list.error();
  if (list->size() == 0 && required) return list->error("must not be empty");
  for (const Node& n : list->elements()) {
    fhir::Code c;
    if (Status s = code(n, c); !s) return s;
    add_code(out, std::move(c));
  }
  return Status::Ok();
}

void Loader::add_code(fhir::CodeSet& out, fhir::Code c) const {
  auto it = also_.find(c.system);
  if (it != also_.end()) {
    for (const std::string& url : it->second) out.add(fhir::Code{url, c.code, c.prefix});
  }
  out.add(std::move(c));
}

Status Loader::pattern(const Object& o, std::vector<detail::ConditionPattern>& out) {
  Result<Node> list = o.optional_array("post_coordinated");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto pj = object(n, {"codes", "morphology", "body_sites", "body_site_organ"});
    if (!pj) return pj.error();
    detail::ConditionPattern cp;
    if (Status s = first_error({codes(*pj, "codes", cp.codes),
                                codes(*pj, "morphology", cp.morphology, false),
                                codes(*pj, "body_sites", cp.body_sites, false)});
        !s) {
      return s;
    }
    if (pj->has("body_site_organ")) {
      auto id = pj->string("body_site_organ");
      if (!id) return id.error();
      const detail::Organ* organ = nullptr;
      for (const auto& candidate : d_.organs) {
        if (candidate.id == *id) organ = &candidate;
      }
      if (organ == nullptr) {
        return pj->error("body_site_organ", "unknown organ '" + *id + "' (see organs.json)");
      }
      for (const fhir::Code& c : organ->locations.codes()) cp.body_sites.add(c);
    }
    if (cp.morphology.empty() && cp.body_sites.empty()) {
      return pj->error(
          "needs 'morphology' or 'body_sites'/'body_site_organ' (else list the code in 'codes')");
    }
    out.push_back(std::move(cp));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// systems.json, reading-rules.json, organs.json, coverage.json, prefetch.json

Status Loader::load_systems(const Object& root) {
  auto list = root.array("systems");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto s = object(n, {"alias", "url", "families", "also"});
    if (!s) return s.error();
    std::string alias;
    System sys;
    if (Status st = first_error({into(s->string("alias"), alias), into(s->string("url"), sys.url),
                                 into(s->optional_strings("also"), sys.also),
                                 into(s->optional_bool("families", false), sys.families)});
        !st) {
      return st;
    }
    if (!sys.also.empty()) also_[sys.url] = sys.also;
    d_.known_systems.push_back(sys.url);
    d_.known_systems.insert(d_.known_systems.end(), sys.also.begin(), sys.also.end());
    if (alias.find(':') != std::string::npos) return s->error("alias", "must not contain ':'");
    if (!systems_.emplace(alias, sys).second) {
      return s->error("alias", "alias '" + alias + "' defined twice");
    }
  }
  return Status::Ok();
}

Status Loader::field_rules(const Object& o, std::string_view key,
                           std::vector<detail::FieldRule>& out) {
  auto list = o.optional_array(key);
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto f = object(n, {"field", "values"});
    if (!f) return f.error();
    detail::FieldRule rule;
    if (Status s = first_error(
            {into(f->string("field"), rule.field), into(f->strings("values"), rule.values)});
        !s) {
      return s;
    }
    if (rule.values.empty()) return f->error("values", "must not be empty");
    out.push_back(std::move(rule));
  }
  return Status::Ok();
}

Status Loader::load_status_rules(const Object& root) {
  auto list = root.optional_array("status_rules");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto s = object(n, {"resource_type", "use", "void_when", "valid_only", "unconfirmed_when"});
    if (!s) return s.error();
    detail::StatusRule rule;
    if (Status st = first_error({into(s->string("resource_type"), rule.resource_type),
                                 into(s->optional_nonempty_string("use"), rule.use),
                                 field_rules(*s, "void_when", rule.void_when),
                                 field_rules(*s, "valid_only", rule.valid_only),
                                 field_rules(*s, "unconfirmed_when", rule.unconfirmed_when)});
        !st) {
      return st;
    }
    if (rule.void_when.empty() && rule.valid_only.empty() && rule.unconfirmed_when.empty()) {
      return s->error("needs 'void_when', 'valid_only' or 'unconfirmed_when'");
    }
    d_.status_rules.push_back(std::move(rule));
  }
  return Status::Ok();
}

Status Loader::load_unit_conversions(const Object& root) {
  auto list = root.optional_array("unit_conversions");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto c = object(n, {"from", "to", "factor"});
    if (!c) return c.error();
    fhir::UnitConversion conv;
    if (Status s =
            first_error({into(c->string("from"), conv.from), into(c->string("to"), conv.to)});
        !s) {
      return s;
    }
    const json::Value* factor = c->find("factor");
    if (factor == nullptr || !factor->IsNumber() || factor->GetDouble() <= 0) {
      return c->error("factor", "must be a positive number");
    }
    conv.factor = factor->GetDouble();
    d_.conversions.push_back(std::move(conv));
  }
  return Status::Ok();
}

Status Loader::load_document_categories(const Object& root) {
  auto list = root.optional_array("document_categories");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto c = object(n, {"resource_type", "categories", "document_type"});
    if (!c) return c.error();
    detail::DocumentCategory dc;
    if (Status s = first_error({into(c->string("resource_type"), dc.resource_type),
                                codes(*c, "categories", dc.categories)});
        !s) {
      return s;
    }
    if (dc.resource_type != "DiagnosticReport") {
      return c->error("resource_type", "only DiagnosticReport categories are read");
    }
    std::optional<Node> type = c->get("document_type");
    if (!type || !(*type)->IsString()) {
      return c->error("document_type", "must be a code 'loinc:…'");
    }
    fhir::Code tc;
    if (Status s = code(*type, tc); !s) return s;
    dc.document_type = tc.code;
    d_.document_categories.push_back(std::move(dc));
  }
  return Status::Ok();
}

Status Loader::load_questionnaire_answers(const Object& root) {
  std::optional<Node> node = root.get("questionnaire_answers");
  if (!node) return Status::Ok();
  auto qa = object(*node, {"statuses", "document_link_id_prefix"});
  if (!qa) return qa.error();
  detail::QuestionnaireAnswers& q = d_.questionnaire_answers;
  if (Status s = first_error({into(qa->strings("statuses"), q.statuses),
                              into(qa->string("document_link_id_prefix"), q.document_prefix)});
      !s) {
    return s;
  }
  if (q.statuses.empty()) return qa->error("statuses", "must not be empty");
  for (const std::string& s : q.statuses) {
    if (s != "completed" && s != "amended" && s != "in-progress")
      return qa->error("statuses", "'" + s + "' is not a QuestionnaireResponse status to read");
  }
  q.enabled = true;
  return Status::Ok();
}

Status Loader::load_reading_rules(const Object& root) {
  if (Status s = load_status_rules(root); !s) return s;
  if (std::optional<Node> answers = root.get("boolean_answers")) {
    auto a = object(*answers, {"yes", "no"});
    if (!a) return a.error();
    if (Status s = first_error({codes(*a, "yes", d_.yes), codes(*a, "no", d_.no)}); !s) return s;
  }
  if (Status s = first_error(
          {load_unit_conversions(root),
           into(root.optional_nonempty_string("morphology_extension"), d_.morphology_extension),
           load_document_categories(root), load_questionnaire_answers(root)});
      !s) {
    return s;
  }
  if (root.has("document_type_system")) {
    auto alias = root.string("document_type_system");
    if (!alias) return alias.error();
    auto it = systems_.find(*alias);
    if (it == systems_.end()) {
      return root.error("document_type_system", "unknown code system '" + *alias + "'");
    }
    d_.document_system = it->second.url;
  }
  return Status::Ok();
}

Status Loader::load_organs(const Object& root) {
  auto list = root.array("organs");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    auto o = object(n, {"id", "label", "billing_codes", "lesion_locations"});
    if (!o) return o.error();
    detail::Organ organ;
    if (Status s =
            first_error({into(o->string("id"), organ.id), into(o->string("label"), organ.label),
                         codes(*o, "billing_codes", organ.billing),
                         codes(*o, "lesion_locations", organ.locations, false)});
        !s) {
      return s;
    }
    for (const auto& other : d_.organs) {
      if (other.id == organ.id) return o->error("id", "organ '" + organ.id + "' defined twice");
    }
    d_.organs.push_back(std::move(organ));
  }
  return codes(root, "other_locations", d_.other_locations, false);
}

Status Loader::load_coverage(const Object& root) {
  auto c = root.object(
      "coverage", {"plan_class", "type_systems", "type_prefixes", "default", "coverage_types"});
  if (!c) return c.error();
  detail::CoverageRules& rules = d_.coverage;
  auto plan = c->object("plan_class", {"system", "code"});
  if (!plan) return plan.error();
  if (Status s = first_error({into(plan->string("system"), rules.plan_system),
                              into(plan->string("code"), rules.plan_code),
                              into(c->strings("coverage_types"), rules.types),
                              into(c->strings("type_systems"), rules.type_systems),
                              into(c->string("default"), rules.default_line)});
      !s) {
    return s;
  }
  if (rules.types.empty()) return c->error("coverage_types", "must not be empty");
  auto known = [&](const std::string& line) {
    return std::find(rules.types.begin(), rules.types.end(), line) != rules.types.end();
  };
  if (!known(rules.default_line)) {
    return c->error("default", "'" + rules.default_line + "' is not one of 'coverage_types'");
  }
  auto prefixes = c->array("type_prefixes");
  if (!prefixes) return prefixes.error();
  for (const Node& n : prefixes->elements()) {
    auto e = object(n, {"prefix", "line_of_business"});
    if (!e) return e.error();
    std::string prefix, line;
    if (Status s = first_error(
            {into(e->string("prefix"), prefix), into(e->string("line_of_business"), line)});
        !s) {
      return s;
    }
    if (!known(line)) {
      return e->error("line_of_business", "'" + line + "' is not one of 'coverage_types'");
    }
    rules.type_prefixes.emplace_back(prefix, line);
  }
  // Longest prefix first, so "11" (Medicare Advantage) is tried before "1" (Medicare).
  std::stable_sort(rules.type_prefixes.begin(), rules.type_prefixes.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return Status::Ok();
}

Status Loader::load_prefetch_template(const Node& node) {
  static constexpr std::string_view kTokens[] = {
      "context.patientId",      "context.userId", "context.encounterId", "userPractitionerId",
      "userPractitionerRoleId", "userPatientId",  "userRelatedPersonId"};
  auto t = object(node, {"key", "query", "codes_read", "optional"});
  if (!t) return t.error();
  PrefetchTemplate tpl;
  std::string codes_read;
  if (Status s = first_error({into(t->string("key"), tpl.key), into(t->string("query"), tpl.query),
                              into(t->optional_bool("optional", false), tpl.optional),
                              into(t->optional_nonempty_string("codes_read"), codes_read)});
      !s) {
    return s;
  }
  if (!codes_read.empty()) {
    if (codes_read != "Observation") {
      return t->error("codes_read", "only 'Observation' codes are generated");
    }
    if (!tpl.query.starts_with("Observation?")) {
      return t->error("query", "'codes_read' needs an Observation search");
    }
    pending_code_queries_.push_back(d_.prefetch.size());
  } else if (tpl.query.starts_with("Observation?") &&
             tpl.query.find("code=") == std::string::npos &&
             tpl.query.find("category=") == std::string::npos) {
    return t->error("query",
                    "an Observation search needs 'code=' or 'category=' (EHRs such as Epic refuse "
                    "patient-only Observation searches); or set \"codes_read\": \"Observation\"");
  }
  for (size_t pos = tpl.query.find("{{"); pos != std::string::npos;
       pos = tpl.query.find("{{", pos + 2)) {
    size_t end = tpl.query.find("}}", pos);
    if (end == std::string::npos) return t->error("query", "unclosed '{{'");
    std::string_view token(tpl.query.data() + pos + 2, end - pos - 2);
    if (std::find(std::begin(kTokens), std::end(kTokens), token) == std::end(kTokens)) {
      return t->error("query",
                      "'{{" + std::string(token) + "}}' is not a CDS Hooks 2.0 prefetch token");
    }
  }
  for (const auto& other : d_.prefetch) {
    if (other.key == tpl.key) return t->error("key", "key '" + tpl.key + "' used twice");
  }
  d_.prefetch.push_back(std::move(tpl));
  return Status::Ok();
}

Status Loader::load_prefetch(const Object& root) {
  auto list = root.array("prefetch");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    if (Status s = load_prefetch_template(n); !s) return s;
  }
  return Status::Ok();
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

// The criteria CodeSystem is a FHIR resource, served as written: only what is read is checked.
Status Loader::load_codesystem(const File& file) {
  std::vector<Error> elements;  // any FHIR element may appear
  auto root = Object::of(file.json.root(), std::span<const std::string_view>(), elements);
  if (!root) return root.error();
  std::string url;
  if (Status s = into(root->string("url"), url); !s) return s;
  if (url != d_.criteria_system) {
    return root->error("url", "'" + url + "' differs from the 'crit' system in systems.json ('" +
                                  d_.criteria_system + "')");
  }
  auto concepts = root->array("concept");
  if (!concepts) return concepts.error();
  for (const Node& n : concepts->elements()) {
    auto c = Object::of(n, std::span<const std::string_view>(), elements);
    if (!c) return c.error();
    CriteriaConcept item;
    if (Status s = first_error({into(c->string("code"), item.code),
                                into(c->string("display"), item.display),
                                into(c->string("definition"), item.definition)});
        !s) {
      return s;
    }
    if (!criteria_codes_.insert(item.code).second) {
      return c->error("code", "code '" + item.code + "' defined twice");
    }
    d_.concepts.push_back(std::move(item));
  }
  d_.criteria_codesystem_json = file.json.text();
  have_codesystem_ = true;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Facts

Status Loader::member_list(const Object& o, std::string_view key, const detail::FactDef& fact,
                           std::vector<std::string>& out) {
  if (Status s = into(o.optional_strings(key), out); !s) return s;
  for (size_t i = 0; i < out.size(); ++i) {
    bool known = std::any_of(fact.members.begin(), fact.members.end(),
                             [&](const detail::Member& m) { return m.id == out[i]; });
    if (!known) {
      return Error{index_path(o.at(key), i),
                   "'" + out[i] + "' is not a member of fact '" + fact.id + "'"};
    }
  }
  return Status::Ok();
}

Status is_member(const Object& o, std::string_view key, const detail::FactDef& fact,
                 const std::string& id) {
  bool known = std::any_of(fact.members.begin(), fact.members.end(),
                           [&](const detail::Member& m) { return m.id == id; });
  if (known) return Status::Ok();
  return o.error(key, "'" + id + "' is not a member of fact '" + fact.id + "'");
}

Status Loader::source_organ(const Object& s, detail::Source& out) {
  auto id = s.string("organ");
  if (!id) return id.error();
  for (size_t i = 0; i < d_.organs.size(); ++i) {
    if (d_.organs[i].id == *id) {
      out.organ = i;
      return Status::Ok();
    }
  }
  return s.error("organ", "unknown organ '" + *id + "' (see organs.json)");
}

Status Loader::largest_lesion(const Object& s, detail::Source& out) {
  if (Status st = source_organ(s, out); !st) return st;
  auto sizes = s.array("size_observations");
  if (!sizes) return sizes.error();
  if (sizes->size() == 0) return sizes->error("must not be empty");
  for (const Node& n : sizes->elements()) {
    auto z = object(n, {"code", "component"});
    if (!z) return z.error();
    detail::SizePattern pattern;
    auto code_node = z->require("code");
    if (!code_node) return code_node.error();
    fhir::Code c;
    if (Status st = code(*code_node, c); !st) return st;
    add_code(pattern.code, std::move(c));
    if (std::optional<Node> component = z->get("component")) {
      fhir::Code cc;
      if (Status st = code(*component, cc); !st) return st;
      add_code(pattern.component, std::move(cc));
    }
    out.sizes.push_back(std::move(pattern));
  }
  return Status::Ok();
}

Status Loader::lesion_count(const Object& s, const detail::FactDef& fact, detail::Source& out) {
  std::string size_fact;
  if (Status st =
          first_error({source_organ(s, out), codes(s, "count_observations", out.count_codes),
                       into(s.string("size_fact"), size_fact)});
      !st) {
    return st;
  }
  fact_refs_.push_back(
      {current_file_, s.at("size_fact"), size_fact, d_.facts.size(), fact.sources.size()});
  return Status::Ok();
}

Status Loader::diagnosis(const Node& node, const detail::FactDef& fact, detail::Diagnosis& dx) {
  auto d = object(node, {"codes", "member", "unknown", "yields_to_definite", "post_coordinated"});
  if (!d) return d.error();
  if (Status s = first_error(
          {codes(*d, "codes", dx.codes), into(d->optional_nonempty_string("member"), dx.member),
           member_list(*d, "unknown", fact, dx.unknown), pattern(*d, dx.post_coordinated)});
      !s) {
    return s;
  }
  if (dx.member.empty() == dx.unknown.empty()) {
    return d->error("needs exactly one of 'member' (definite) or 'unknown'");
  }
  if (!dx.member.empty()) {
    if (Status s = is_member(*d, "member", fact, dx.member); !s) return s;
  }
  return into(d->optional_bool("yields_to_definite", dx.yields_to_definite), dx.yields_to_definite);
}

Status Loader::metastases(const Node& node, const detail::FactDef& fact, detail::Metastases& mets) {
  auto m = object(node, {"codes", "primary_extensions", "primaries", "unknown_primary",
                         "undetermined_yields_to_definite", "post_coordinated"});
  if (!m) return m.error();
  mets.present = true;
  if (Status s = first_error({codes(*m, "codes", mets.codes),
                              into(m->strings("primary_extensions"), mets.extension_urls),
                              member_list(*m, "unknown_primary", fact, mets.unknown_primary),
                              pattern(*m, mets.post_coordinated)});
      !s) {
    return s;
  }
  if (mets.extension_urls.empty()) return m->error("primary_extensions", "must not be empty");
  if (Status s = into(m->optional_bool("undetermined_yields_to_definite", mets.undetermined_yields),
                      mets.undetermined_yields);
      !s) {
    return s;
  }
  auto primaries = m->array("primaries");
  if (!primaries) return primaries.error();
  for (const Node& n : primaries->elements()) {
    auto p = object(n, {"member", "codes"});
    if (!p) return p.error();
    detail::PrimaryClass pc;
    if (Status s =
            first_error({into(p->string("member"), pc.member), codes(*p, "codes", pc.codes)});
        !s) {
      return s;
    }
    if (Status s = is_member(*p, "member", fact, pc.member); !s) return s;
    mets.primaries.push_back(std::move(pc));
  }
  return Status::Ok();
}

Status Loader::condition_category(const Object& s, const detail::FactDef& fact,
                                  detail::Source& out) {
  auto diagnoses = s.array("diagnoses");
  if (!diagnoses) return diagnoses.error();
  for (const Node& n : diagnoses->elements()) {
    detail::Diagnosis dx;
    if (Status st = diagnosis(n, fact, dx); !st) return st;
    out.diagnoses.push_back(std::move(dx));
  }
  if (std::optional<Node> m = s.get("metastases")) return metastases(*m, fact, out.metastases);
  return Status::Ok();
}

Status Loader::load_source(const Node& node, detail::FactDef& fact, detail::Source& out) {
  using detail::Rule;
  // Each rule: the fact kind it needs and the keys its source takes.
  struct RuleInfo {
    Rule rule;
    FactKind kind;
    std::vector<std::string_view> keys;
  };
  static const std::map<std::string, RuleInfo, std::less<>> kRules = {
      {"boolean-observation", {Rule::kBooleanObservation, FactKind::kBoolean, {"rule", "codes"}}},
      {"coded-observation",
       {Rule::kCodedObservation, FactKind::kBoolean, {"rule", "codes", "true", "false"}}},
      {"finding-observation", {Rule::kFindingObservation, FactKind::kBoolean, {"rule", "codes"}}},
      {"condition-presence",
       {Rule::kConditionPresence, FactKind::kBoolean, {"rule", "codes", "post_coordinated"}}},
      {"order-reason", {Rule::kOrderReason, FactKind::kBoolean, {"rule", "codes"}}},
      {"condition-classification",
       {Rule::kConditionClassification, FactKind::kBoolean, {"rule", "family", "true", "false"}}},
      {"latest-quantity", {Rule::kLatestQuantity, FactKind::kMeasure, {"rule", "codes"}}},
      {"largest-lesion",
       {Rule::kLargestLesion, FactKind::kMeasure, {"rule", "organ", "size_observations"}}},
      {"lesion-count",
       {Rule::kLesionCount,
        FactKind::kMeasure,
        {"rule", "organ", "count_observations", "size_fact"}}},
      {"ordinal-observation", {Rule::kOrdinalObservation, FactKind::kOrdinal, {"rule", "codes"}}},
      {"condition-category",
       {Rule::kConditionCategory, FactKind::kCategory, {"rule", "diagnoses", "metastases"}}},
  };
  if (!node->IsObject()) return node.error("expected an object");
  std::vector<Error> unknown;  // reported once the rule says which keys it takes
  auto first = Object::of(node, std::span<const std::string_view>(), unknown);
  auto rule_name = first->string("rule");
  if (!rule_name) return rule_name.error();
  auto it = kRules.find(*rule_name);
  if (it == kRules.end()) return first->error("rule", "unknown rule '" + *rule_name + "'");
  const RuleInfo& info = it->second;
  out.rule = info.rule;
  std::vector<std::string_view> keys = info.keys;
  keys.push_back("about");
  auto s = Object::of(node, keys);
  if (!s) return s.error();
  static const std::map<FactKind, const char*> kKindNames = {{FactKind::kBoolean, "boolean"},
                                                             {FactKind::kMeasure, "measure"},
                                                             {FactKind::kOrdinal, "ordinal"},
                                                             {FactKind::kCategory, "category"}};
  if (fact.kind != info.kind) {
    return s->error("rule",
                    "rule '" + *rule_name + "' needs a " + kKindNames.at(info.kind) + " fact");
  }
  switch (out.rule) {
    case Rule::kConditionPresence:
      return first_error({codes(*s, "codes", out.codes), pattern(*s, out.post_coordinated)});
    case Rule::kCodedObservation:
      return first_error({codes(*s, "codes", out.codes), codes(*s, "true", out.true_codes),
                          codes(*s, "false", out.false_codes)});
    case Rule::kConditionClassification:
      return first_error({codes(*s, "family", out.family), codes(*s, "true", out.true_codes),
                          codes(*s, "false", out.false_codes)});
    case Rule::kLargestLesion:
      return largest_lesion(*s, out);
    case Rule::kLesionCount:
      return lesion_count(*s, fact, out);
    case Rule::kConditionCategory:
      return condition_category(*s, fact, out);
    default:  // the rules that read `codes` only
      return codes(*s, "codes", out.codes);
  }
}

Status Loader::fact_kind(const Object& f, detail::FactDef& fact) {
  std::string kind;
  if (Status s = into(f.string("kind"), kind); !s) return s;
  if (kind == "boolean") {
    fact.kind = FactKind::kBoolean;
  } else if (kind == "measure") {
    fact.kind = FactKind::kMeasure;
    if (Status s = into(f.string("unit"), fact.unit); !s) return s;
  } else if (kind == "ordinal") {
    fact.kind = FactKind::kOrdinal;
  } else if (kind == "category") {
    fact.kind = FactKind::kCategory;
  } else {
    return f.error("kind", "'" + kind + "' is not one of boolean, measure, ordinal, category");
  }
  if (fact.kind != FactKind::kMeasure && f.has("unit")) {
    return f.error("unit", "only measure facts have a unit");
  }
  if (Status s = into(f.optional_bool("closed_world", false), fact.closed_world); !s) return s;
  if (fact.kind != FactKind::kBoolean && fact.closed_world) {
    return f.error("closed_world", "only boolean facts can be closed-world");
  }
  return Status::Ok();
}

Status Loader::fact_members(const Object& f, detail::FactDef& fact) {
  if (fact.kind != FactKind::kCategory) {
    if (f.has("members")) return f.error("members", "only category facts have members");
    return Status::Ok();
  }
  auto members = f.array("members");
  if (!members) return members.error();
  if (members->size() == 0) return members->error("must not be empty");
  for (const Node& n : members->elements()) {
    auto m = object(n, {"id", "label"});
    if (!m) return m.error();
    detail::Member mem;
    if (Status s =
            first_error({into(m->string("id"), mem.id), into(m->string("label"), mem.label)});
        !s) {
      return s;
    }
    fact.members.push_back(std::move(mem));
  }
  return Status::Ok();
}

Status Loader::ordinal_value(const Node& node, const detail::FactDef& fact,
                             detail::OrdinalValue& ov) {
  auto rank = [&](const std::string& v) -> std::optional<double> {
    auto it = std::find(fact.scale.begin(), fact.scale.end(), v);
    if (it == fact.scale.end()) return std::nullopt;
    return static_cast<double>(it - fact.scale.begin());
  };
  auto v = object(node, {"value", "codes", "range", "unknown"});
  if (!v) return v.error();
  bool unknown = false;
  if (Status s = first_error({into(v->string("value"), ov.value), codes(*v, "codes", ov.codes),
                              into(v->optional_bool("unknown", false), unknown)});
      !s) {
    return s;
  }
  if (unknown) {
    if (v->has("range")) return v->error("'unknown' and 'range' exclude each other");
  } else if (v->has("range")) {
    std::vector<std::string> range;
    if (Status s = into(v->strings("range"), range); !s) return s;
    if (range.size() != 2) return v->error("range", "must name [lowest, highest]");
    auto lo = rank(range[0]);
    auto hi = rank(range[1]);
    if (!lo || !hi || *lo > *hi) {
      return v->error("range", "must name two values of 'scale', lowest first");
    }
    ov.ranks = fhir::Interval{*lo, *hi, true, true};
  } else {
    auto at = rank(ov.value);
    if (!at) {
      return v->error("value",
                      "'" + ov.value + "' is not on the scale; give a 'range' or 'unknown'");
    }
    ov.ranks = fhir::Interval::point(*at);
  }
  return Status::Ok();
}

Status Loader::fact_scale(const Object& f, detail::FactDef& fact) {
  if (fact.kind != FactKind::kOrdinal) {
    if (f.has("scale") || f.has("values")) {
      return f.error("only ordinal facts have 'scale' and 'values'");
    }
    return Status::Ok();
  }
  if (Status s = into(f.strings("scale"), fact.scale); !s) return s;
  if (fact.scale.empty()) return f.error("scale", "must not be empty");
  auto values = f.array("values");
  if (!values) return values.error();
  for (const Node& n : values->elements()) {
    detail::OrdinalValue ov;
    if (Status s = ordinal_value(n, fact, ov); !s) return s;
    fact.values.push_back(std::move(ov));
  }
  return Status::Ok();
}

Status Loader::fact_sources(const Object& f, detail::FactDef& fact) {
  auto sources = f.array("sources");
  if (!sources) return sources.error();
  if (sources->size() == 0) return sources->error("must not be empty");
  for (const Node& n : sources->elements()) {
    detail::Source source;
    if (Status s = load_source(n, fact, source); !s) return s;
    fact.sources.push_back(std::move(source));
  }
  if (fact.kind == FactKind::kMeasure && fact.sources.size() != 1) {
    return sources->error("a measure fact takes exactly one source");
  }
  return Status::Ok();
}

Status Loader::load_fact(const Node& node) {
  auto f = object(node, {"id", "label", "kind", "unit", "closed_world", "members", "scale",
                         "values", "sources"});
  if (!f) return f.error();
  detail::FactDef fact;
  if (Status s =
          first_error({into(f->string("id"), fact.id), into(f->string("label"), fact.label)});
      !s) {
    return s;
  }
  if (d_.fact_index.count(fact.id) != 0) {
    return f->error("id", "fact '" + fact.id + "' defined twice");
  }
  for (auto step :
       {&Loader::fact_kind, &Loader::fact_members, &Loader::fact_scale, &Loader::fact_sources}) {
    if (Status s = (this->*step)(*f, fact); !s) return s;
  }
  d_.fact_index.emplace(fact.id, d_.facts.size());
  d_.facts.push_back(std::move(fact));
  return Status::Ok();
}

Status Loader::load_facts(const Object& root) {
  auto list = root.array("facts");
  if (!list) return list.error();
  for (const Node& n : list->elements()) {
    if (Status s = load_fact(n); !s) return s;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The directory

Status Loader::read_files(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> paths;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json") paths.push_back(it->path());
  }
  if (ec) return Error{dir.string(), "cannot read the mappings directory: " + ec.message()};
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) return Error{dir.string(), "no mapping files (*.json)"};
  for (const std::filesystem::path& p : paths) {
    Result<json::File> f = json::File::read(p);
    if (!f) return f.error();
    File file{std::move(*f)};
    const json::Value& root = file.json.root().value();
    if (!root.IsObject()) return file.json.locate(Error{"", "expected an object"});
    auto type = root.FindMember("resourceType");
    file.codesystem = type != root.MemberEnd() && type->value == "CodeSystem";
    files_.push_back(std::move(file));
  }
  return Status::Ok();
}

// Every section is one this format defines, and only "facts" is split over several files.
Status Loader::check_sections() const {
  std::map<std::string, std::string, std::less<>> defined;  // section -> file
  for (const File& f : files_) {
    if (f.codesystem) continue;
    if (auto root = Object::of(f.json.root(), kSections); !root) {
      return f.json.locate(root.error());
    }
    const json::Value& root = f.json.root().value();
    for (auto it = root.MemberBegin(); it != root.MemberEnd(); ++it) {
      std::string name(it->name.GetString(), it->name.GetStringLength());
      if (name == "facts" || name == "about") continue;
      auto [at, fresh] = defined.emplace(name, f.json.name());
      if (!fresh) return f.json.locate(Error{name, "section also defined in " + at->second});
    }
  }
  return Status::Ok();
}

// systems, the reading rules, organs, coverage and prefetch, in that order wherever they are.
Status Loader::load_sections(const std::filesystem::path& dir) {
  using Step = Status (Loader::*)(const Object&);
  const std::pair<std::span<const std::string_view>, Step> kSteps[] = {
      {kSystems, &Loader::load_systems},   {kReadingRules, &Loader::load_reading_rules},
      {kOrgans, &Loader::load_organs},     {kCoverage, &Loader::load_coverage},
      {kPrefetch, &Loader::load_prefetch},
  };
  for (const auto& [sections, step] : kSteps) {
    for (size_t i = 0; i < files_.size(); ++i) {
      const File& f = files_[i];
      if (f.codesystem) continue;
      auto root = Object::of(f.json.root(), kSections);
      bool present = std::any_of(sections.begin(), sections.end(),
                                 [&](std::string_view s) { return root->has(s); });
      if (!present) continue;
      current_file_ = i;
      for (std::string_view s : sections) {
        if (root->has(s)) section_file_.emplace(std::string(s), i);
      }
      if (Status s = (this->*step)(*root); !s) return located(i, s.error());
    }
    if (sections.front() == "systems") {
      auto crit = systems_.find("crit");
      if (crit == systems_.end()) {
        return Error{dir.string(), "systems.json must define the 'crit' criteria code system"};
      }
      d_.criteria_system = crit->second.url;
    }
  }
  for (const char* required : {"systems", "status_rules", "boolean_answers", "unit_conversions",
                               "organs", "coverage", "prefetch"}) {
    if (section_file_.count(required) == 0) {
      return Error{dir.string(), std::string("no file defines '") + required + "'"};
    }
  }
  return Status::Ok();
}

Status Loader::load_codesystems(const std::filesystem::path& dir) {
  for (size_t i = 0; i < files_.size(); ++i) {
    if (!files_[i].codesystem) continue;
    if (Status s = load_codesystem(files_[i]); !s) return located(i, s.error());
  }
  if (!have_codesystem_) {
    return Error{dir.string(), "no criteria CodeSystem (resourceType CodeSystem) found"};
  }
  return Status::Ok();
}

Status Loader::load_all_facts(const std::filesystem::path& dir) {
  for (size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].codesystem) continue;
    auto root = Object::of(files_[i].json.root(), kSections);
    if (!root->has("facts")) continue;
    current_file_ = i;
    if (Status s = load_facts(*root); !s) return located(i, s.error());
  }
  if (d_.facts.empty()) return Error{dir.string(), "no facts defined"};
  return Status::Ok();
}

Status Loader::resolve_pending(const std::filesystem::path& dir) {
  for (const PendingCrit& use : crit_uses_) {
    if (criteria_codes_.count(use.code) == 0) {
      return located(
          use.file,
          Error{use.path, "'crit:" + use.code + "' is not a concept of the criteria CodeSystem"});
    }
  }
  for (const PendingFactRef& ref : fact_refs_) {
    const detail::FactDef* target = d_.fact(ref.id);
    bool ok = target != nullptr && target->sources.size() == 1 &&
              target->sources[0].rule == detail::Rule::kLargestLesion;
    if (!ok) {
      return located(
          ref.file, Error{ref.path, "'" + ref.id + "' is not a fact with a largest-lesion source"});
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

Status Loader::run(const std::filesystem::path& dir) {
  if (Status s = read_files(dir); !s) return s;
  if (Status s = check_sections(); !s) return s;
  using Step = Status (Loader::*)(const std::filesystem::path&);
  for (Step step : {&Loader::load_sections, &Loader::load_codesystems, &Loader::load_all_facts,
                    &Loader::resolve_pending}) {
    if (Status s = (this->*step)(dir); !s) return s;
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
