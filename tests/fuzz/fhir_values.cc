// Fuzz target: the FHIR value readers — dates and date-times (every string in the input),
// clinical dates and Quantities (every object), and references. Invariants: a parsed date
// range never ends before it begins; a quantity's interval is never empty.
#include <cstdint>
#include <string>
#include <string_view>

#include "fhir/datetime.h"
#include "fhir/json.h"
#include "fhir/quantity.h"
#include "fhir/resource_index.h"
#include "tests/fuzz/invariant.h"

namespace {

void visit(const cryo::fhir::Json& v, int depth) {
  if (depth > 64) return;
  if (v.IsString()) {
    std::string_view s(v.GetString(), v.GetStringLength());
    if (auto range = cryo::fhir::parse_fhir_date(s)) {
      CRYO_FUZZ_REQUIRE(!(range->end < range->begin));
    }
    std::string_view type, id;
    (void)cryo::fhir::split_reference(s, type, id);
    return;
  }
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) visit(e, depth + 1);
    return;
  }
  if (!v.IsObject()) return;
  if (auto range = cryo::fhir::clinical_date(v)) {
    CRYO_FUZZ_REQUIRE(!(range->end < range->begin));
  }
  static const cryo::fhir::UnitConversion conversions[] = {{"mm", "cm", 0.1},
                                                          {"ug/L", "ng/mL", 1.0}};
  for (std::string_view unit : {"cm", "ng/mL", "1"}) {
    auto reading = cryo::fhir::read_quantity(v, unit, conversions);
    if (reading.value) CRYO_FUZZ_REQUIRE(!(reading.value->high < reading.value->low));
  }
  for (const auto& m : v.GetObject()) visit(m.value, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cryo::fhir::JsonDocument doc;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (cryo::fhir::parse_copy(text, doc, {})) return 0;
  visit(doc, 0);
  return 0;
}
