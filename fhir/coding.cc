#include "fhir/coding.h"

namespace cryo::fhir {
namespace {

bool is_icd10(std::string_view system) {
  return system == kIcd10Cm || system == kIcd10CmOid || system == "http://hl7.org/fhir/sid/icd-10";
}

char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// Compares `code` (as received) against `entry` (already normalised) for an ICD-10 system,
// without allocating: dots and surrounding spaces in `code` are skipped, letters upper-cased.
bool icd10_equal(std::string_view code, std::string_view entry, bool prefix) {
  size_t j = 0;
  for (char c : code) {
    if (c == '.' || c == ' ') continue;
    if (j == entry.size()) return prefix;
    if (upper(c) != entry[j]) return false;
    ++j;
  }
  return j == entry.size();
}

}  // namespace

std::string normalize_icd10(std::string_view code) {
  std::string out;
  out.reserve(code.size());
  for (char c : code) {
    if (c == '.' || c == ' ' || c == '\t') continue;
    out.push_back(upper(c));
  }
  return out;
}

void CodeSet::add(Code code) {
  if (is_icd10(code.system)) code.code = normalize_icd10(code.code);
  codes_.push_back(std::move(code));
}

bool CodeSet::contains(std::string_view system, std::string_view code) const {
  if (code.empty()) return false;
  const bool icd = is_icd10(system);
  for (const Code& c : codes_) {
    if (c.system != system) continue;
    if (icd) {
      if (icd10_equal(code, c.code, c.prefix)) return true;
    } else if (c.prefix ? code.starts_with(c.code) : code == c.code) {
      return true;
    }
  }
  return false;
}

std::string_view CodeSet::first_match(const Json& codeable_concept_or_coding) const {
  if (!codeable_concept_or_coding.IsObject()) return {};
  if (const Json* codings = member(codeable_concept_or_coding, "coding")) {
    for (const Json& coding : items(codings)) {
      std::string_view code = string_or_empty(member(coding, "code"));
      if (contains(string_or_empty(member(coding, "system")), code)) return code;
    }
    return {};
  }
  std::string_view code = string_or_empty(member(codeable_concept_or_coding, "code"));
  if (contains(string_or_empty(member(codeable_concept_or_coding, "system")), code)) return code;
  return {};
}

bool CodeSet::matches(const Json& codeable_concept_or_coding) const {
  return !first_match(codeable_concept_or_coding).empty();
}

}  // namespace cryo::fhir
