// kConditionClassification: the active Conditions of a family classify a boolean fact true,
// false or unknown.
#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {

Truth classify_conditions(RecordView& x, const Source& src, std::vector<Evidence>& ev) {
  bool any = false, any_true = false, all_false = true;
  for (const Item& c : x.conditions()) {
    if (c.code == nullptr || !has(src.family, c)) continue;
    any = true;
    if (c.unconfirmed) {
      ev.push_back(evidence(c, unconfirmed_text(c), &src.family));
      all_false = false;
      continue;
    }
    ev.push_back(
        evidence(c, "Condition " + coding_text(c.code, &src.family) + " (active)", &src.family));
    if (has(src.true_codes, c)) {
      any_true = true;
    } else if (!has(src.false_codes, c)) {
      all_false = false;
    }
  }
  if (any_true) return Truth::kTrue;
  if (any && all_false) return Truth::kFalse;
  return Truth::kUnknown;
}

}  // namespace cryo::mappings::detail
