// Facts: what the patient's record says about one criterion, in three-valued logic.
//
// A Fact is the unit that flows from mappings/ to policies/. It is true, false or unknown
// (the record does not say), or — for measured and ordered facts — an interval that is
// unknown when nothing usable was found. Every fact keeps the resources it came from
// (Evidence) so a card can show "met: largest lesion 4.2 cm (Observation/obs-7, 2026-02-01)".
//
// Kinds:
//   kBoolean   truth                         e.g. unresectable, extrahepatic-disease
//   kMeasure   measure (in `unit`)           e.g. largest-liver-lesion (cm), psa (ng/mL)
//   kOrdinal   measure over ranks of a scale e.g. prostate-t-stage (T2 = [T2a..T2c])
//   kCategory  categories: truth per member  e.g. liver-tumor-type {hcc: true, icc: false, ...}
//
//   FactSheet sheet;
//   Fact f = Fact::boolean("unresectable", Truth::kTrue);
//   f.evidence.push_back({"Observation/res-1", "2026-02-01", "Resectability: unresectable"});
//   sheet.put(std::move(f));
//   Truth t = sheet.truth("unresectable");            // kTrue
//
// Thread safety: plain values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/quantity.h"

namespace cryo::mappings {

enum class Truth : unsigned char { kFalse, kTrue, kUnknown };

// Three-valued connectives (Kleene).
Truth truth_and(Truth a, Truth b);
Truth truth_or(Truth a, Truth b);
Truth truth_not(Truth a);
std::string_view to_string(Truth t);  // "true" | "false" | "unknown"
// A boolean fact's value for people: "yes" | "no" | "not documented".
std::string_view yes_no(Truth t);

enum class FactKind : unsigned char { kBoolean, kMeasure, kOrdinal, kCategory };

// Comparison of an interval-valued fact with a threshold: true when every value in the
// interval satisfies it, false when none does, unknown otherwise (or when `value` is absent).
enum class Comparison : unsigned char { kLess, kLessOrEqual, kGreater, kGreaterOrEqual, kEqual };
Truth compare(const std::optional<fhir::Interval>& value, Comparison op, double threshold);

// A measure for people: "4.2 cm", "< 3 cm", "≥ 5 ng/mL", "3" (unit "1"), "not documented"
// (fhir::format_interval, or "not documented" when there is none).
std::string format_measure(const std::optional<fhir::Interval>& value, std::string_view unit);

struct Evidence {
  std::string reference;  // "Observation/obs-7"; may be empty for derived values
  std::string date;       // clinical date as written, e.g. "2026-02-01"; may be empty
  std::string text;       // what it says, e.g. "Tumor size 42 mm (focus BodyStructure/l1)"
  // The coding that decided (the code the mapping matched), e.g. "http://loinc.org" +
  // "21889-1"; empty for derived values.
  std::string system{};
  std::string code{};
};

// "LOINC 21889-1", "SNOMED CT 48521005", "ICD-10-CM C22.0", or "system|code" for systems
// without a short name; "" when `code` is empty.
std::string coding_label(std::string_view system, std::string_view code);

struct Fact {
  std::string id;
  FactKind kind = FactKind::kBoolean;
  Truth truth = Truth::kUnknown;            // kBoolean
  std::optional<fhir::Interval> measure;    // kMeasure / kOrdinal; nullopt = unknown
  std::string unit;                         // kMeasure: UCUM unit of `measure`
  std::string display;                      // the value for people: "4.2 cm", "T2b"
  std::map<std::string, Truth> categories;  // kCategory: every member of the category
  std::vector<Evidence> evidence;           // resources the value came from
  std::vector<std::string> notes;           // conflicts, skipped measurements, ...

  // Whether the record said anything usable about this fact.
  bool known() const;

  static Fact boolean(std::string id, Truth t);
  static Fact measured(std::string id, std::optional<fhir::Interval> v, std::string unit);
};

// The facts extracted for one order, by id.
class FactSheet {
 public:
  void put(Fact fact);  // replaces a fact with the same id
  const Fact* find(std::string_view id) const;

  // Convenience: the truth of a boolean fact, kUnknown when absent.
  Truth truth(std::string_view id) const;
  // The truth of category member `member` of fact `id`, kUnknown when absent.
  Truth category(std::string_view id, std::string_view member) const;

  const std::vector<Fact>& all() const { return facts_; }

 private:
  std::vector<Fact> facts_;
  std::unordered_map<std::string, size_t> by_id_;
};

}  // namespace cryo::mappings
