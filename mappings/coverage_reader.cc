#include "mappings/coverage_reader.h"

#include "mappings/detail/model.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

void add_identifier(const Json& ident, std::vector<Identifier>& out) {
  Identifier id{std::string(string_or_empty(member(ident, "system"))),
                std::string(string_or_empty(member(ident, "value")))};
  if (id.value.empty()) return;
  for (const auto& existing : out) {
    if (existing.system == id.system && existing.value == id.value) return;
  }
  out.push_back(std::move(id));
}

}  // namespace

CoverageReading read_coverage(const fhir::ResourceIndex& record, const MappingSet& mappings) {
  const detail::CoverageRules& rules = mappings.data_->coverage;
  CoverageReading out;
  std::vector<const Json*> active;
  std::string others;
  for (const Json* c : record.of_type("Coverage")) {
    std::string_view status = string_or_empty(member(*c, "status"));
    if (status == "active") {
      active.push_back(c);
    } else {
      others += (others.empty() ? "" : ", ") + fhir::ResourceIndex::key_of(*c) + " (" +
                std::string(status.empty() ? "no status" : status) + ")";
    }
  }
  if (active.empty()) {
    out.status = CoverageReading::kNone;
    out.problem = others.empty()
                      ? "No Coverage for the patient was found."
                      : "No active Coverage for the patient was found; found only " + others + ".";
    return out;
  }
  if (active.size() > 1) {
    out.status = CoverageReading::kSeveral;
    std::string list;
    for (const Json* c : active) {
      list += (list.empty() ? "" : ", ") + fhir::ResourceIndex::key_of(*c);
    }
    out.problem = std::to_string(active.size()) + " active Coverages were found (" + list +
                  "); the coverage to use for this order cannot be chosen.";
    return out;
  }

  const Json& coverage = *active[0];
  out.status = CoverageReading::kOne;
  out.coverage = &coverage;
  out.reference = fhir::ResourceIndex::key_of(coverage);

  for (const Json& payor : fhir::items(member(coverage, "payor"))) {
    if (const Json* ident = member(payor, "identifier"))
      add_identifier(*ident, out.payer_identifiers);
    const Json* org = record.resolve(payor, &coverage);
    if (org != nullptr && string_or_empty(member(*org, "resourceType")) == "Organization") {
      for (const Json& ident : fhir::items(member(*org, "identifier"))) {
        add_identifier(ident, out.payer_identifiers);
      }
      if (out.payer_name.empty())
        out.payer_name = std::string(string_or_empty(member(*org, "name")));
    }
    if (out.payer_name.empty()) {
      out.payer_name = std::string(string_or_empty(member(payor, "display")));
    }
  }

  for (const Json& cls : fhir::items(member(coverage, "class"))) {
    bool plan = false;
    for (const Json& coding : fhir::items(member(member(cls, "type"), "coding"))) {
      if (string_or_empty(member(coding, "system")) == rules.plan_system &&
          string_or_empty(member(coding, "code")) == rules.plan_code) {
        plan = true;
        break;
      }
    }
    std::string value(string_or_empty(member(cls, "value")));
    if (plan && !value.empty()) out.plan_codes.push_back(std::move(value));
  }

  out.coverage_type = rules.default_line;
  for (const Json& coding : fhir::items(member(member(coverage, "type"), "coding"))) {
    std::string_view system = string_or_empty(member(coding, "system"));
    bool sopt = false;
    for (const auto& s : rules.type_systems) sopt = sopt || s == system;
    if (!sopt) continue;
    std::string_view code = string_or_empty(member(coding, "code"));
    bool matched = false;
    for (const auto& [prefix, line] : rules.type_prefixes) {  // longest prefix first
      if (code.starts_with(prefix)) {
        out.coverage_type = line;
        matched = true;
        break;
      }
    }
    if (matched) break;
  }
  return out;
}

}  // namespace cryo::mappings
