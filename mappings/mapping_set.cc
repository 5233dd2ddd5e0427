#include "mappings/mapping_set.h"

#include <algorithm>

#include "fhir/coding.h"
#include "mappings/detail/model.h"

namespace cryo::mappings {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

constexpr std::string_view kNoMember = "none-of-these";  // criteria CodeSystem

constexpr std::string_view kBillingOptions =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-billing-options";

bool field_matches(const Json& resource, const detail::FieldRule& rule) {
  const Json* v = member(resource, rule.field);
  if (v == nullptr) return false;
  auto in = [&](std::string_view s) {
    return std::find(rule.values.begin(), rule.values.end(), s) != rule.values.end();
  };
  if (v->IsString()) return in(string_or_empty(v));
  if (v->IsBool()) return in(v->GetBool() ? "true" : "false");
  if (v->IsObject()) {
    for (const Json& coding : fhir::items(member(*v, "coding"))) {
      if (in(string_or_empty(member(coding, "code")))) return true;
    }
  }
  return false;
}

void add_cpt(const Json* concept_json, std::vector<std::string>& out) {
  for (const Json& coding : fhir::items(member(concept_json, "coding"))) {
    if (string_or_empty(member(coding, "system")) != fhir::kCpt) continue;
    std::string code(string_or_empty(member(coding, "code")));
    if (!code.empty() && std::find(out.begin(), out.end(), code) == out.end()) {
      out.push_back(std::move(code));
    }
  }
}

std::optional<fhir::DateRange> date_at(const Json* value) {
  std::string_view text = string_or_empty(value);
  if (text.empty()) return std::nullopt;
  return fhir::parse_fhir_date(text);
}

}  // namespace

bool MappingSet::Data::is_void(const Json& resource, std::string_view use) const {
  std::string_view type = string_or_empty(member(resource, "resourceType"));
  const detail::StatusRule* rule = nullptr;
  for (const auto& r : status_rules) {
    if (r.resource_type != type) continue;
    if (r.use == use) {
      rule = &r;
      break;
    }
    if (r.use.empty() && rule == nullptr) rule = &r;
  }
  if (rule == nullptr) return false;
  for (const auto& f : rule->void_when) {
    if (field_matches(resource, f)) return true;
  }
  for (const auto& f : rule->valid_only) {
    if (!field_matches(resource, f)) return true;
  }
  return false;
}

bool MappingSet::Data::is_unconfirmed(const Json& resource) const {
  std::string_view type = string_or_empty(member(resource, "resourceType"));
  for (const auto& r : status_rules) {
    if (r.resource_type != type || !r.use.empty()) continue;
    for (const auto& f : r.unconfirmed_when) {
      if (field_matches(resource, f)) return true;
    }
  }
  return false;
}

bool MappingSet::Data::placed(const Json& location) const {
  if (other_locations.matches(location)) return true;
  for (const auto& organ : organs) {
    if (organ.locations.matches(location)) return true;
  }
  return false;
}

const detail::Organ* MappingSet::Data::organ_for_billing(std::string_view cpt) const {
  if (cpt.empty()) return nullptr;
  for (const auto& organ : organs) {
    for (const auto& c : organ.billing.codes()) {
      if (c.code == cpt) return &organ;
    }
  }
  return nullptr;
}

MappingSet::MappingSet() : data_(std::make_unique<Data>()) {}
MappingSet::~MappingSet() = default;
MappingSet::MappingSet(MappingSet&&) noexcept = default;
MappingSet& MappingSet::operator=(MappingSet&&) noexcept = default;

bool MappingSet::has_fact(std::string_view id) const {
  return data_->fact(id) != nullptr;
}

std::optional<FactKind> MappingSet::fact_kind(std::string_view id) const {
  const detail::FactDef* f = data_->fact(id);
  if (f == nullptr) return std::nullopt;
  return f->kind;
}

std::string MappingSet::fact_unit(std::string_view id) const {
  const detail::FactDef* f = data_->fact(id);
  return f == nullptr ? std::string() : f->unit;
}

bool MappingSet::has_category(std::string_view id, std::string_view m) const {
  const detail::FactDef* f = data_->fact(id);
  if (f == nullptr) return false;
  return std::any_of(f->members.begin(), f->members.end(),
                     [&](const detail::Member& x) { return x.id == m; });
}

std::optional<fhir::Interval> MappingSet::ordinal_value(std::string_view id,
                                                        std::string_view value) const {
  const detail::FactDef* f = data_->fact(id);
  if (f == nullptr || f->kind != FactKind::kOrdinal) return std::nullopt;
  for (const auto& v : f->values) {
    if (v.value == value) return v.ranks;
  }
  for (size_t i = 0; i < f->scale.size(); ++i) {
    if (f->scale[i] == value) return fhir::Interval::point(static_cast<double>(i));
  }
  return std::nullopt;
}

std::vector<MappingSet::AnswerOption> MappingSet::answer_options(std::string_view id) const {
  std::vector<AnswerOption> out;
  const detail::FactDef* f = data_->fact(id);
  if (f == nullptr) return out;
  if (f->kind == FactKind::kOrdinal) {
    for (const detail::OrdinalValue& v : f->values) {
      if (!v.ranks || v.codes.codes().empty()) continue;
      const fhir::Code& c = v.codes.codes().front();
      out.push_back({c.system, c.code, v.value});
    }
  } else if (f->kind == FactKind::kCategory) {
    for (const detail::Member& m : f->members) {
      out.push_back({data_->criteria_system, m.id, m.label});
    }
    out.push_back({data_->criteria_system, std::string(kNoMember), "None of these"});
  }
  return out;
}

std::string MappingSet::fact_label(std::string_view id) const {
  const detail::FactDef* f = data_->fact(id);
  return f == nullptr ? std::string(id) : f->label;
}

const std::vector<std::string>& MappingSet::coverage_types() const {
  return data_->coverage.types;
}

bool MappingSet::is_coverage_type(std::string_view type) const {
  const std::vector<std::string>& types = data_->coverage.types;
  return std::find(types.begin(), types.end(), type) != types.end();
}

const std::vector<PrefetchTemplate>& MappingSet::prefetch_templates() const {
  return data_->prefetch;
}

const std::vector<CriteriaConcept>& MappingSet::criteria_concepts() const {
  return data_->concepts;
}

const std::string& MappingSet::criteria_codesystem_json() const {
  return data_->criteria_codesystem_json;
}

const std::string& MappingSet::criteria_system() const {
  return data_->criteria_system;
}

std::string MappingSet::organ_for_billing_code(std::string_view cpt) const {
  const detail::Organ* o = data_->organ_for_billing(cpt);
  return o == nullptr ? std::string() : o->id;
}

std::vector<std::string> MappingSet::billing_codes(const Json& order) {
  std::vector<std::string> out;
  const Json* code = member(order, "code");
  add_cpt(code, out);
  // The CRD billing-options extension, on `code` (and, leniently, on the request itself).
  for (const Json* holder : {code, &order}) {
    for (const Json& ext : fhir::items(member(holder, "extension"))) {
      if (string_or_empty(member(ext, "url")) == kBillingOptions) {
        add_cpt(member(ext, "valueCodeableConcept"), out);
      }
    }
  }
  return out;
}

fhir::DateRange MappingSet::date_of_service(const Json& order, fhir::Instant received) {
  const Json* timing_events = member(member(order, "occurrenceTiming"), "event");
  const Json* first_event = nullptr;
  if (auto events = fhir::items(timing_events); !events.empty()) first_event = &events[0];
  for (const Json* candidate :
       {member(order, "occurrenceDateTime"), member(member(order, "occurrencePeriod"), "start"),
        first_event, member(order, "authoredOn")}) {
    if (auto r = date_at(candidate)) return *r;
  }
  return fhir::day_of(received);
}

std::vector<DocumentFinding> MappingSet::find_documents(const fhir::ResourceIndex& record,
                                                        std::span<const std::string> codes,
                                                        const fhir::DateRange& window) const {
  std::string patient;
  auto patients = record.of_type("Patient");
  if (patients.size() == 1) patient = std::string(string_or_empty(member(*patients[0], "id")));
  return find_documents(record, codes, window, patient);
}

std::vector<DocumentFinding> MappingSet::find_documents(const fhir::ResourceIndex& record,
                                                        std::span<const std::string> codes,
                                                        const fhir::DateRange& window,
                                                        std::string_view patient_id) const {
  struct Candidate {
    const Json* r;
    const Json* type;
    std::optional<fhir::DateRange> date;
    std::vector<std::string> also;  // document types its category makes it count as
  };
  // Valid documents of the patient, once.
  std::vector<Candidate> docs;
  for (auto [resource_type, field] :
       {std::pair<std::string_view, std::string_view>{"DocumentReference", "type"},
        {"DiagnosticReport", "code"}}) {
    for (const Json* r : record.of_type(resource_type)) {
      if (data_->is_void(*r)) continue;
      if (!patient_id.empty()) {
        std::string_view ref = string_or_empty(member(member(*r, "subject"), "reference"));
        std::string_view type, id;
        if (!ref.empty() && fhir::split_reference(ref, type, id) &&
            (type != "Patient" || id != patient_id)) {
          continue;
        }
      }
      const Json* type = member(*r, field);
      Candidate c{r, type, fhir::clinical_date(*r), {}};
      for (const detail::DocumentCategory& dc : data_->document_categories) {
        if (dc.resource_type != resource_type) continue;
        for (const Json& cat : fhir::items(member(*r, "category"))) {
          if (dc.categories.matches(cat)) {
            c.also.push_back(dc.document_type);
            break;
          }
        }
      }
      if (type == nullptr && c.also.empty()) continue;
      docs.push_back(std::move(c));
    }
  }
  std::vector<DocumentFinding> out;
  out.reserve(codes.size());
  for (const std::string& code : codes) {
    DocumentFinding finding;
    finding.code = code;
    const Candidate* best = nullptr;
    for (const Candidate& c : docs) {
      bool match = std::find(c.also.begin(), c.also.end(), code) != c.also.end();
      for (const Json& coding : fhir::items(member(c.type, "coding"))) {
        if (string_or_empty(member(coding, "system")) == data_->document_system &&
            string_or_empty(member(coding, "code")) == code) {
          match = true;
          break;
        }
      }
      if (!match) continue;
      if (c.date && fhir::contains(window, *c.date)) {
        if (best == nullptr || !fhir::later_than(*best->date, *c.date)) best = &c;
      } else {
        finding.outside_window.push_back(fhir::ResourceIndex::key_of(*c.r) + " (" +
                                         (c.date ? c.date->text : std::string("no date")) + ")");
      }
    }
    if (best != nullptr) {
      finding.found = true;
      finding.reference = fhir::ResourceIndex::key_of(*best->r);
      finding.date = best->date->text;
    }
    out.push_back(std::move(finding));
  }
  detail::read_questionnaire_documents(*data_, record, patient_id, window, out);
  return out;
}

}  // namespace cryo::mappings
