// FactVocabulary: what the policy loader needs to know about facts to validate a policy file.
//
// Policy criteria name facts ("largest-liver-lesion"), category members ("hcc"), ordinal
// values ("T2b") and compare in a fact's unit ("cm"). The loader checks every one of them
// against a vocabulary; in production that is the MappingSet (the facts mappings/ can
// actually read from FHIR), through MappingVocabulary. Lines of business are checked against
// its coverage types (mappings/data/coverage.json).
//
//   MappingVocabulary vocabulary(mappings);
//   Result<PolicyLibrary> lib = PolicyLibrary::load("policies/data", vocabulary);
//
// Thread safety: implementations must allow concurrent const calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/quantity.h"
#include "mappings/fact.h"
#include "mappings/mapping_set.h"

namespace cryo::policies {

class FactVocabulary {
 public:
  virtual ~FactVocabulary() = default;
  virtual bool has_fact(std::string_view id) const = 0;
  virtual std::optional<mappings::FactKind> fact_kind(std::string_view id) const = 0;
  // For measures: the unit thresholds are written in ("cm"); "" when none.
  virtual std::string fact_unit(std::string_view id) const = 0;
  virtual bool has_category(std::string_view id, std::string_view member) const = 0;
  // For ordinals: the rank interval of a scale value ("T2" -> ranks of T2a..T2c).
  virtual std::optional<fhir::Interval> ordinal_value(std::string_view id,
                                                      std::string_view value) const = 0;
  // A short label for people ("Largest liver lesion"); "" when none.
  virtual std::string fact_label(std::string_view id) const = 0;
  // The generic coverage types ("commercial", "medicare-advantage", ...) that a
  // line-of-business rule and a payer's plan may name besides plan codes.
  virtual std::vector<std::string> coverage_types() const = 0;
};

// The vocabulary of a loaded MappingSet (which must outlive it).
class MappingVocabulary final : public FactVocabulary {
 public:
  explicit MappingVocabulary(const mappings::MappingSet& mappings) : mappings_(mappings) {}
  bool has_fact(std::string_view id) const override { return mappings_.has_fact(id); }
  std::optional<mappings::FactKind> fact_kind(std::string_view id) const override {
    return mappings_.fact_kind(id);
  }
  std::string fact_unit(std::string_view id) const override { return mappings_.fact_unit(id); }
  bool has_category(std::string_view id, std::string_view member) const override {
    return mappings_.has_category(id, member);
  }
  std::optional<fhir::Interval> ordinal_value(std::string_view id,
                                              std::string_view value) const override {
    return mappings_.ordinal_value(id, value);
  }
  std::string fact_label(std::string_view id) const override { return mappings_.fact_label(id); }
  std::vector<std::string> coverage_types() const override { return mappings_.coverage_types(); }

 private:
  const mappings::MappingSet& mappings_;
};

}  // namespace cryo::policies
