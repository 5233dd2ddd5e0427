// Shared helpers for the mappings tests: the real mapping data and small FHIR builders.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "fhir/json.h"
#include "fhir/resource_index.h"
#include "mappings/mapping_set.h"

namespace cryo::mappings::testing {

inline std::string source_dir() {
  return CRYO_SOURCE_DIR;
}

// The MappingSet loaded from the repository's mappings/data (loaded once).
const MappingSet& real_mappings();

// A patient record: resources (JSON texts) in input order, indexed like a hook call's data.
class Record {
 public:
  Record(std::initializer_list<std::string> resources);
  const fhir::ResourceIndex& index() const { return index_; }
  const fhir::Json* order() const {
    return index_.of_type("ServiceRequest").empty() ? nullptr : index_.of_type("ServiceRequest")[0];
  }

 private:
  std::string text_;
  fhir::JsonDocument doc_;
  fhir::ResourceIndex index_;
};

// Builders. Dates are FHIR dates; "" leaves them out.
std::string order(std::string_view cpt, std::string_view extra = "");
std::string bool_obs(std::string_view id, std::string_view crit_code, bool value,
                     std::string_view date, std::string_view extra = "");
std::string coded_obs(std::string_view id, std::string_view code_system, std::string_view code,
                      std::string_view value_system, std::string_view value_code,
                      std::string_view date, std::string_view extra = "");
std::string condition(std::string_view id, std::string_view system, std::string_view code,
                      std::string_view extra = "");
std::string size_obs(std::string_view id, double value, std::string_view unit,
                     std::string_view date, std::string_view focus = "",
                     std::string_view extra_quantity = "");
std::string body_structure(std::string_view id, std::string_view location_code);

inline constexpr std::string_view kCrit = "http://cryocrd.org/fhir/CodeSystem/criteria";
inline constexpr std::string_view kIcd = "http://hl7.org/fhir/sid/icd-10-cm";
inline constexpr std::string_view kSct = "http://snomed.info/sct";

// Extracts one fact for an order with `cpt` (the record's ServiceRequest when it has one).
Fact extract_one(const Record& record, std::string_view fact_id, std::string_view cpt = "47383");

// Whether any note contains `text`.
bool has_note(const Fact& f, std::string_view text);

}  // namespace cryo::mappings::testing
