// FHIR Quantity values as numeric intervals in a target UCUM unit.
//
// A plain value is an exact point; a value with a comparator is a bound: "<3 cm" is the open
// interval (-inf, 3), ">=5 cm" is [5, +inf). Unit conversion is data: the caller passes the
// conversions it accepts (e.g. mm -> cm x 0.1, ug/L -> ng/mL x 1). A Quantity is unusable —
// and says why — when it has no value, the comparator "ad", no system+code unit, or a unit
// with no conversion to the target.
//
//   std::vector<UnitConversion> conv = {{"mm", "cm", 0.1}};
//   QuantityReading r = read_quantity(*member(obs, "valueQuantity"), "cm", conv);
//   if (r.value) { /* r.value->high <= 5.0 ... */ } else { note(r.problem); }
//
// Thread safety: pure functions.
#pragma once

#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fhir/json.h"

namespace cryo::fhir {

// A numeric interval; infinite ends are open. A point value has low == high, both closed.
struct Interval {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_closed = false;
  bool high_closed = false;

  static Interval point(double v) { return {v, v, true, true}; }
  bool is_point() const { return low == high && low_closed && high_closed; }
};

struct UnitConversion {
  std::string from;  // UCUM code, e.g. "mm"
  std::string to;    // UCUM code, e.g. "cm"
  double factor;     // value_in_to = value_in_from * factor
};

struct QuantityReading {
  std::optional<Interval> value;  // in the target unit; nullopt when unusable
  std::string problem;            // why it is unusable, e.g. "unit 'in' is not accepted"
  std::string text;               // the quantity as written, e.g. "<= 30 mm"
};

// Reads a Quantity. The unit must be UCUM (system http://unitsofmeasure.org + code) and equal
// to `target_unit` or convertible by one of `conversions`.
QuantityReading read_quantity(const Json& quantity, std::string_view target_unit,
                              std::span<const UnitConversion> conversions);

// Formats a number without trailing zeros ("3", "4.25").
std::string format_number(double v);

// An interval for people, with its unit ("" or "1": none): "4.2 cm", "< 3 cm", "≤ 5 cm",
// "≥ 10 ng/mL", "> 2", "2–4 cm", "any value".
std::string format_interval(const Interval& v, std::string_view unit);

}  // namespace cryo::fhir
