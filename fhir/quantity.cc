#include "fhir/quantity.h"

#include <cmath>
#include <cstdio>

namespace cryo::fhir {

QuantityReading read_quantity(const Json& quantity, std::string_view target_unit,
                              std::span<const UnitConversion> conversions) {
  QuantityReading r;
  if (!quantity.IsObject()) {
    r.problem = "not a Quantity";
    return r;
  }
  const Json* value = member(quantity, "value");
  std::string_view comparator = string_or_empty(member(quantity, "comparator"));
  std::string_view unit_text = string_or_empty(member(quantity, "unit"));
  std::string_view system = string_or_empty(member(quantity, "system"));
  std::string_view code = string_or_empty(member(quantity, "code"));

  // The quantity as written: "<= 30 mm".
  if (!comparator.empty()) r.text.append(comparator).append(" ");
  if (value != nullptr && value->IsNumber()) r.text += format_number(value->GetDouble());
  std::string_view shown_unit = !unit_text.empty() ? unit_text : code;
  if (!shown_unit.empty()) r.text.append(r.text.empty() ? "" : " ").append(shown_unit);

  if (value == nullptr || !value->IsNumber()) {
    r.problem = "no numeric value";
    return r;
  }
  const double v = value->GetDouble();
  if (!std::isfinite(v)) {
    r.problem = "value is not a finite number";
    return r;
  }
  if (comparator == "ad") {
    r.problem = "comparator 'ad' (sufficient to achieve this total quantity) is not a measurement";
    return r;
  }
  if (!comparator.empty() && comparator != "<" && comparator != "<=" && comparator != ">" &&
      comparator != ">=") {
    r.problem = "unknown comparator '" + std::string(comparator) + "'";
    return r;
  }
  if (system != "http://unitsofmeasure.org" || code.empty()) {
    r.problem = unit_text.empty() && code.empty()
                    ? std::string("no unit")
                    : "unit '" + std::string(shown_unit) + "' is not a coded UCUM unit";
    return r;
  }
  double factor = 0;
  if (code == target_unit) {
    factor = 1;
  } else {
    for (const UnitConversion& c : conversions) {
      if (c.from == code && c.to == target_unit) {
        factor = c.factor;
        break;
      }
    }
  }
  if (factor == 0) {
    r.problem = "unit '" + std::string(code) + "' is not accepted (expected '" +
                std::string(target_unit) + "')";
    return r;
  }
  const double x = v * factor;
  Interval i;
  if (comparator.empty()) {
    i = Interval::point(x);
  } else if (comparator == "<") {
    i.high = x;
  } else if (comparator == "<=") {
    i.high = x;
    i.high_closed = true;
  } else if (comparator == ">") {
    i.low = x;
  } else {  // ">="
    i.low = x;
    i.low_closed = true;
  }
  r.value = i;
  return r;
}

std::string format_number(double v) {
  if (!std::isfinite(v)) return v > 0 ? "inf" : (v < 0 ? "-inf" : "nan");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string format_interval(const Interval& v, std::string_view unit) {
  const std::string u = unit.empty() || unit == "1" ? "" : " " + std::string(unit);
  const bool low_open_end = v.low == -std::numeric_limits<double>::infinity();
  const bool high_open_end = v.high == std::numeric_limits<double>::infinity();
  if (v.is_point()) return format_number(v.low) + u;
  if (low_open_end && high_open_end) return "any value";
  if (low_open_end) return (v.high_closed ? "≤ " : "< ") + format_number(v.high) + u;
  if (high_open_end) return (v.low_closed ? "≥ " : "> ") + format_number(v.low) + u;
  return format_number(v.low) + "–" + format_number(v.high) + u;
}

}  // namespace cryo::fhir
