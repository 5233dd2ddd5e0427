#include "mappings/fact.h"

namespace cryo::mappings {

Truth truth_and(Truth a, Truth b) {
  if (a == Truth::kFalse || b == Truth::kFalse) return Truth::kFalse;
  if (a == Truth::kTrue && b == Truth::kTrue) return Truth::kTrue;
  return Truth::kUnknown;
}

Truth truth_or(Truth a, Truth b) {
  if (a == Truth::kTrue || b == Truth::kTrue) return Truth::kTrue;
  if (a == Truth::kFalse && b == Truth::kFalse) return Truth::kFalse;
  return Truth::kUnknown;
}

Truth truth_not(Truth a) {
  switch (a) {
    case Truth::kTrue:
      return Truth::kFalse;
    case Truth::kFalse:
      return Truth::kTrue;
    default:
      return Truth::kUnknown;
  }
}

std::string_view yes_no(Truth t) {
  switch (t) {
    case Truth::kTrue:
      return "yes";
    case Truth::kFalse:
      return "no";
    default:
      return "not documented";
  }
}

std::string_view to_string(Truth t) {
  switch (t) {
    case Truth::kTrue:
      return "true";
    case Truth::kFalse:
      return "false";
    default:
      return "unknown";
  }
}

Truth compare(const std::optional<fhir::Interval>& value, Comparison op, double t) {
  if (!value) return Truth::kUnknown;
  const fhir::Interval& v = *value;
  bool all = false;
  bool none = false;
  switch (op) {
    case Comparison::kLess:
      all = v.high < t || (v.high == t && !v.high_closed);
      none = v.low >= t;
      break;
    case Comparison::kLessOrEqual:
      all = v.high <= t;
      none = v.low > t || (v.low == t && !v.low_closed);
      break;
    case Comparison::kGreater:
      all = v.low > t || (v.low == t && !v.low_closed);
      none = v.high <= t;
      break;
    case Comparison::kGreaterOrEqual:
      all = v.low >= t;
      none = v.high < t || (v.high == t && !v.high_closed);
      break;
    case Comparison::kEqual:
      all = v.is_point() && v.low == t;
      none = t < v.low || (t == v.low && !v.low_closed) || t > v.high ||
             (t == v.high && !v.high_closed);
      break;
  }
  if (all) return Truth::kTrue;
  if (none) return Truth::kFalse;
  return Truth::kUnknown;
}

bool Fact::known() const {
  switch (kind) {
    case FactKind::kBoolean:
      return truth != Truth::kUnknown;
    case FactKind::kMeasure:
    case FactKind::kOrdinal:
      return measure.has_value();
    case FactKind::kCategory:
      for (const auto& [member, t] : categories) {
        if (t != Truth::kUnknown) return true;
      }
      return false;
  }
  return false;
}

Fact Fact::boolean(std::string id, Truth t) {
  Fact f;
  f.id = std::move(id);
  f.kind = FactKind::kBoolean;
  f.truth = t;
  return f;
}

Fact Fact::measured(std::string id, std::optional<fhir::Interval> v, std::string unit) {
  Fact f;
  f.id = std::move(id);
  f.kind = FactKind::kMeasure;
  f.measure = v;
  f.unit = std::move(unit);
  return f;
}

void FactSheet::put(Fact fact) {
  auto it = by_id_.find(fact.id);
  if (it != by_id_.end()) {
    facts_[it->second] = std::move(fact);
    return;
  }
  by_id_.emplace(fact.id, facts_.size());
  facts_.push_back(std::move(fact));
}

const Fact* FactSheet::find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : &facts_[it->second];
}

Truth FactSheet::truth(std::string_view id) const {
  const Fact* f = find(id);
  return f != nullptr && f->kind == FactKind::kBoolean ? f->truth : Truth::kUnknown;
}

Truth FactSheet::category(std::string_view id, std::string_view member) const {
  const Fact* f = find(id);
  if (f == nullptr) return Truth::kUnknown;
  auto it = f->categories.find(std::string(member));
  return it == f->categories.end() ? Truth::kUnknown : it->second;
}

}  // namespace cryo::mappings

namespace cryo::mappings {

std::string format_measure(const std::optional<fhir::Interval>& value, std::string_view unit) {
  return value ? fhir::format_interval(*value, unit) : "not documented";
}

std::string coding_label(std::string_view system, std::string_view code) {
  if (code.empty()) return {};
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"http://loinc.org", "LOINC"},
      {"http://snomed.info/sct", "SNOMED CT"},
      {"http://hl7.org/fhir/sid/icd-10-cm", "ICD-10-CM"},
      {"urn:oid:2.16.840.1.113883.6.90", "ICD-10-CM"},
      {"http://www.ama-assn.org/go/cpt", "CPT"},
      {"http://cryocrd.org/fhir/CodeSystem/criteria", "crit"},
  };
  for (auto [url, name] : kNames) {
    if (system == url) return std::string(name) + " " + std::string(code);
  }
  return std::string(system) + "|" + std::string(code);
}

}  // namespace cryo::mappings
