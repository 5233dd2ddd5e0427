// MappingSet::extract: the record read once per call (RecordView), and each fact from the rule
// kinds of its sources (mappings/rules/, one file per kind).
#include "fhir/datetime.h"
#include "mappings/detail/extraction.h"
#include "mappings/detail/model.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings::detail {

using fhir::CodeSet;
using fhir::Json;
using fhir::member;
using fhir::ResourceIndex;
using fhir::string_or_empty;

bool replaces(const Item& candidate, const Item* best) {
  if (best == nullptr) return true;
  if (candidate.date && best->date) return !fhir::later_than(*best->date, *candidate.date);
  if (candidate.date) return true;
  return !best->date;
}

std::string coding_text(const Json* concept_json, const CodeSet* set) {
  if (concept_json == nullptr) return {};
  const Json* chosen = nullptr;
  for (const Json& coding : fhir::items(member(*concept_json, "coding"))) {
    if (chosen == nullptr) chosen = &coding;
    if (set != nullptr && set->matches(coding)) {
      chosen = &coding;
      break;
    }
  }
  if (chosen == nullptr) chosen = concept_json;  // a bare Coding
  std::string out(string_or_empty(member(*chosen, "code")));
  std::string_view display = string_or_empty(member(*chosen, "display"));
  if (display.empty()) display = string_or_empty(member(*concept_json, "text"));
  if (!display.empty()) out += out.empty() ? std::string(display) : " " + std::string(display);
  return out;
}

std::string pattern_text(const Item& c) {
  std::string out = coding_text(c.code, nullptr);
  for (const Json& site : fhir::items(member(*c.r, "bodySite"))) {
    out += ", body site " + coding_text(&site, nullptr);
    break;
  }
  return out;
}

std::string unconfirmed_text(const Item& c) {
  std::string status;
  for (const Json& coding : fhir::items(member(member(*c.r, "verificationStatus"), "coding"))) {
    status = std::string(string_or_empty(member(coding, "code")));
    if (!status.empty()) break;
  }
  return c.ref() + " " + coding_text(c.code, nullptr) + " is " +
         (status.empty() ? std::string("unconfirmed") : status) +
         ": confirm the diagnosis; it is not taken as established";
}

Evidence evidence(const Item& item, std::string text, const CodeSet* set) {
  Evidence e{item.ref(), item.date_text(), std::move(text), {}, {}};
  for (const Coding& c : item.codings) {
    if (set == nullptr || set->contains(c.system, c.code)) {
      e.system = std::string(c.system);
      e.code = std::string(c.code);
      break;
    }
  }
  return e;
}

Evidence evidence_coded(const Item& item, std::string text, const Json* concept_json,
                        const CodeSet* set) {
  Evidence e{item.ref(), item.date_text(), std::move(text), {}, {}};
  for (const Json& coding : fhir::items(member(concept_json, "coding"))) {
    if (set == nullptr || set->matches(coding)) {
      e.system = std::string(string_or_empty(member(coding, "system")));
      e.code = std::string(string_or_empty(member(coding, "code")));
      break;
    }
  }
  return e;
}

// ---- RecordView ----

RecordView::RecordView(const MappingSet::Data& d, const ResourceIndex& record,
                       const OrderContext& order)
    : d_(d), record_(record), order_(order) {
  std::string billing = order.billing_code;
  if (order.order != nullptr) {
    if (billing.empty()) {
      for (const std::string& c : MappingSet::billing_codes(*order.order)) {
        if (d.organ_for_billing(c) != nullptr) {
          billing = c;
          break;
        }
      }
    }
    std::string_view type, id;
    if (fhir::split_reference(string_or_empty(member(member(*order.order, "subject"), "reference")),
                              type, id) &&
        type == "Patient") {
      patient_id_ = std::string(id);
    }
  }
  order_organ_ = d.organ_for_billing(billing);
  if (patient_id_.empty()) {
    auto patients = record.of_type("Patient");
    if (patients.size() == 1)
      patient_id_ = std::string(string_or_empty(member(*patients[0], "id")));
  }
}

bool RecordView::belongs(const Json& r) const {
  if (patient_id_.empty()) return true;
  const Json* subject = member(r, "subject");
  if (subject == nullptr) subject = member(r, "patient");
  std::string_view ref = string_or_empty(member(subject, "reference"));
  if (ref.empty()) return true;
  std::string_view type, id;
  if (fhir::split_reference(ref, type, id)) return type == "Patient" && id == patient_id_;
  const Json* target = record_.resolve(ref, &r);
  if (target == nullptr) return true;
  return string_or_empty(member(*target, "resourceType")) == "Patient" &&
         string_or_empty(member(*target, "id")) == patient_id_;
}

const std::vector<Item>& RecordView::valid(std::string_view type,
                                           std::optional<std::vector<Item>>& cache) {
  if (!cache) {
    cache.emplace();
    size_t pos = 0;
    for (const Json* r : record_.of_type(type)) {
      ++pos;
      if (d_.is_void(*r) || !belongs(*r)) continue;
      Item item{r, member(*r, "code"), {}, fhir::clinical_date(*r), pos, d_.is_unconfirmed(*r)};
      for (const Json& coding : fhir::items(member(item.code, "coding"))) {
        item.codings.push_back(Coding{string_or_empty(member(coding, "system")),
                                      string_or_empty(member(coding, "code"))});
      }
      cache->push_back(std::move(item));
    }
  }
  return *cache;
}

bool RecordView::matches_pattern(const Item& c, const ConditionPattern& p) const {
  if (!has(p.codes, c)) return false;
  if (!p.morphology.empty()) {
    bool found = false;
    for (const Json& ext : fhir::items(member(*c.r, "extension"))) {
      if (string_or_empty(member(ext, "url")) != d_.morphology_extension) continue;
      const Json* v = member(ext, "valueCodeableConcept");
      if (v != nullptr && p.morphology.matches(*v)) found = true;
    }
    if (!found) return false;
  }
  if (!p.body_sites.empty()) {
    bool found = false;
    for (const Json& site : fhir::items(member(*c.r, "bodySite"))) {
      if (p.body_sites.matches(site)) found = true;
    }
    if (!found) return false;
  }
  return true;
}

const ConditionPattern* RecordView::matching_pattern(
    const Item& c, const std::vector<ConditionPattern>& patterns) const {
  for (const auto& p : patterns) {
    if (matches_pattern(c, p)) return &p;
  }
  return nullptr;
}

std::optional<bool> RecordView::answer(const Json* concept_json) const {
  if (concept_json == nullptr) return std::nullopt;
  if (d_.yes.matches(*concept_json)) return true;
  if (d_.no.matches(*concept_json)) return false;
  return std::nullopt;
}

fhir::QuantityReading RecordView::read_value(const Json& value_holder,
                                             std::string_view unit) const {
  if (const Json* q = member(value_holder, "valueQuantity")) {
    return fhir::read_quantity(*q, unit, d_.conversions);
  }
  fhir::QuantityReading r;
  const Json* i = member(value_holder, "valueInteger");
  if (i != nullptr && i->IsInt64() && unit == "1") {
    r.value = fhir::Interval::point(static_cast<double>(i->GetInt64()));
    r.text = std::to_string(i->GetInt64());
    return r;
  }
  r.problem = "no valueQuantity";
  return r;
}

namespace {

Fact measure_fact(RecordView& x, const FactDef& f) {
  Fact fact = Fact::measured(f.id, std::nullopt, f.unit);
  const Source& src = f.sources[0];
  switch (src.rule) {
    case Rule::kLatestQuantity:
      fact = latest_quantity(x, f, src, std::move(fact));
      break;
    case Rule::kLargestLesion:
      fact = largest_lesion(x, f, src, std::move(fact));
      break;
    case Rule::kLesionCount:
      fact = lesion_count(x, f, src, std::move(fact));
      break;
    default:
      break;
  }
  fact.display = format_measure(fact.measure, f.unit);
  return fact;
}

Fact evaluate(RecordView& x, const FactDef& f) {
  switch (f.kind) {
    case FactKind::kBoolean:
      return boolean_fact(x, f);
    case FactKind::kMeasure:
      return measure_fact(x, f);
    case FactKind::kOrdinal:
      return ordinal_fact(x, f);
    case FactKind::kCategory:
      return category_fact(x, f);
  }
  return Fact::boolean(f.id, Truth::kUnknown);
}

}  // namespace

}  // namespace cryo::mappings::detail

namespace cryo::mappings {

FactSheet MappingSet::extract(const fhir::ResourceIndex& record, const OrderContext& order,
                              std::span<const std::string> fact_ids) const {
  detail::RecordView x(*data_, record, order);
  FactSheet sheet;
  for (const std::string& id : fact_ids) {
    const detail::FactDef* f = data_->fact(id);
    if (f == nullptr) continue;
    Fact fact = detail::evaluate(x, *f);
    detail::read_questionnaire_answer(*data_, record, x.patient(), *f, fact);
    sheet.put(std::move(fact));
  }
  return sheet;
}

}  // namespace cryo::mappings
