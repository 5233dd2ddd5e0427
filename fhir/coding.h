// Code matching: CodeableConcepts against sets of (system, code), never on display text.
//
// ICD-10-CM codes compare without their dot (`C787` equals `C78.7`), and an entry may stand
// for a whole family by prefix (`C18` covers `C18.0`..`C18.9`). Other systems compare
// exactly. The sets themselves are data (mappings/, policies/); this module only matches.
//
//   CodeSet liver_hcc;
//   liver_hcc.add({kIcd10Cm, "C22.0"});
//   liver_hcc.add({kSnomed, "109841003"});
//   if (liver_hcc.matches(*member(condition, "code"))) { ... }
//
// Thread safety: a CodeSet is immutable after building; read from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fhir/json.h"

namespace cryo::fhir {

inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kIcd10Cm = "http://hl7.org/fhir/sid/icd-10-cm";
// ICD-10-CM by its OID, as some EHRs send it: compared like kIcd10Cm (dot and case ignored).
inline constexpr std::string_view kIcd10CmOid = "urn:oid:2.16.840.1.113883.6.90";
inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";
inline constexpr std::string_view kCpt = "http://www.ama-assn.org/go/cpt";

struct Code {
  std::string system;
  std::string code;
  bool prefix = false;  // true: matches every code that starts with `code` (same system)
};

// "C78.7" and "c787" -> "C787": the form ICD-10-CM codes are compared in.
std::string normalize_icd10(std::string_view code);

class CodeSet {
 public:
  void add(Code code);
  bool empty() const { return codes_.empty(); }
  const std::vector<Code>& codes() const { return codes_; }

  // Whether (system, code) is in the set.
  bool contains(std::string_view system, std::string_view code) const;

  // Whether any coding of a CodeableConcept (or a single Coding) is in the set.
  bool matches(const Json& codeable_concept_or_coding) const;

  // The first matching coding's code, or "" when none matches.
  std::string_view first_match(const Json& codeable_concept_or_coding) const;

 private:
  std::vector<Code> codes_;
};

}  // namespace cryo::fhir
