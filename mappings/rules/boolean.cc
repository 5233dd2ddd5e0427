// A boolean fact from all its sources (see boolean_fact in mappings/detail/extraction.h).
#include <utility>
#include <vector>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {
namespace {

// What a boolean fact's Condition and order sources found, in the order of its sources.
struct Findings {
  std::vector<Evidence> support;      // active Conditions / order reasons: make it true
  std::vector<Evidence> unconfirmed;  // provisional Conditions: would make it true
  std::vector<Evidence> classified_ev;
  Truth classified = Truth::kUnknown;
  bool has_classification = false;
  bool has_observation_sources = false;
};

Findings gather(RecordView& x, const FactDef& f) {
  Findings found;
  for (const Source& src : f.sources) {
    switch (src.rule) {
      case Rule::kConditionPresence:
        condition_presence(x, src, found.support, found.unconfirmed);
        break;
      case Rule::kOrderReason:
        order_reason(x, src, found.support);
        break;
      case Rule::kConditionClassification: {
        Truth t = classify_conditions(x, src, found.classified_ev);
        found.classified = found.has_classification ? truth_or(found.classified, t) : t;
        found.has_classification = true;
        break;
      }
      default:
        found.has_observation_sources =
            found.has_observation_sources || is_observation_rule(src.rule);
        break;
    }
  }
  return found;
}

// An active diagnosis decides over the Observations; the latest Observation over an
// unconfirmed diagnosis unless it says no; then the classification; then the closed world.
void decide(const RecordView& x, const FactDef& f, const Findings& found,
            const ObservedBoolean& latest, Fact& fact) {
  if (!found.support.empty()) {
    fact.truth = Truth::kTrue;
    fact.evidence = found.support;
    if (latest.item != nullptr && !latest.value) {
      fact.evidence.push_back(evidence(*latest.item, f.label + ": no", latest.codes));
      fact.notes.push_back("Conflict: " + found.support.front().reference + " supports " + f.label +
                           ", but " + latest.item->where() +
                           " says no; the active diagnosis decides.");
    }
  } else if (latest.item != nullptr && (latest.value || found.unconfirmed.empty())) {
    fact.truth = latest.value ? Truth::kTrue : Truth::kFalse;
    fact.evidence.push_back(evidence(
        *latest.item, f.label + ": " + observation_value_text(x, *latest.item->r), latest.codes));
  } else if (!found.unconfirmed.empty()) {
    // Only an unconfirmed diagnosis would make it true: not established, not ruled out.
    fact.truth = Truth::kUnknown;
    fact.evidence = found.unconfirmed;
    if (latest.item != nullptr) {
      fact.evidence.push_back(evidence(*latest.item, f.label + ": no", latest.codes));
    }
    for (const Evidence& e : found.unconfirmed) fact.notes.push_back(e.text);
  } else if (found.has_classification && !found.classified_ev.empty()) {
    fact.truth = found.classified;
    fact.evidence = found.classified_ev;
  } else if (f.closed_world) {
    fact.truth = Truth::kFalse;
    fact.notes.push_back("Nothing in the record indicates " + f.label + "; taken as no.");
  }
}

}  // namespace

Fact boolean_fact(RecordView& x, const FactDef& f) {
  Fact fact = Fact::boolean(f.id, Truth::kUnknown);
  const Findings found = gather(x, f);
  // Observations: the latest usable one wins.
  const ObservedBoolean latest =
      found.has_observation_sources ? latest_observed_boolean(x, f, fact) : ObservedBoolean{};
  decide(x, f, found, latest, fact);
  fact.display = std::string(yes_no(fact.truth));
  return fact;
}

}  // namespace cryo::mappings::detail
