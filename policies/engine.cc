// The policy engine: three-valued evaluation of a policy for one order (reading guide,
// "Common semantics" and "What goes into the coverage-information").
//
// Order of decision: the first line-of-business rule that matches the payer, the line of
// business and the billing code decides when it is a program rule or not-covered; otherwise
// the sections decide. A section with an indication applies when its indication is not
// false; one without applies only to the codes it lists. A section's result is
// indication AND (code listed) AND criteria; the policy's result is the three-valued OR of
// the applicable sections (false when none applies).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/text.h"
#include "fhir/quantity.h"
#include "policies/policy.h"

namespace cryo::policies {
namespace {

using mappings::Fact;
using mappings::FactKind;
using mappings::FactSheet;
using mappings::Truth;

// What the record showed for a fact, for people.
std::string observed(const Fact* f) {
  if (f == nullptr) return "not found";
  if (!f->display.empty()) return f->display;
  switch (f->kind) {
    case FactKind::kBoolean:
      return f->truth == Truth::kUnknown ? "not found" : std::string(mappings::yes_no(f->truth));
    case FactKind::kMeasure:
    case FactKind::kOrdinal:
      return f->measure ? fhir::format_interval(*f->measure, f->unit) : "no usable value";
    case FactKind::kCategory: {
      std::vector<std::string> yes;
      for (const auto& [member, t] : f->categories) {
        if (t == Truth::kTrue) yes.push_back(member);
      }
      return yes.empty() ? "not found" : join(yes, ", ");
    }
  }
  return "not found";
}

class Evaluator {
 public:
  explicit Evaluator(const FactSheet& facts) : facts_(facts) {}

  // Evaluates `c`; when `rows` is given, appends its rows in pre-order.
  Truth eval(const Criterion& c, int depth, std::string_view role,
             std::vector<CriterionResult>* rows) const {
    size_t row = 0;
    if (rows != nullptr) {
      row = rows->size();
      CriterionResult r;
      r.depth = depth;
      r.label = c.label;
      r.fact = c.fact;
      r.role = std::string(role);
      r.group = c.kind == Criterion::Kind::kAll   ? "all"
                : c.kind == Criterion::Kind::kAny ? "any"
                : c.kind == Criterion::Kind::kNot ? "not"
                                                  : "";
      rows->push_back(std::move(r));
    }
    Truth value = Truth::kUnknown;
    switch (c.kind) {
      case Criterion::Kind::kAll:
        value = Truth::kTrue;
        for (const Criterion& child : c.children) {
          value = mappings::truth_and(value, eval(child, depth + 1, role, rows));
        }
        break;
      case Criterion::Kind::kAny:
        value = Truth::kFalse;
        for (const Criterion& child : c.children) {
          value = mappings::truth_or(value, eval(child, depth + 1, role, rows));
        }
        break;
      case Criterion::Kind::kNot:
        value = mappings::truth_not(eval(c.children.front(), depth + 1, role, rows));
        break;
      case Criterion::Kind::kBoolean:
      case Criterion::Kind::kCategory:
      case Criterion::Kind::kCompare:
        value = leaf(c, rows != nullptr ? &(*rows)[row] : nullptr);
        break;
    }
    if (rows != nullptr) (*rows)[row].value = value;
    return value;
  }

 private:
  Truth leaf(const Criterion& c, CriterionResult* row) const {
    const Fact* f = facts_.find(c.fact);
    Truth value = Truth::kUnknown;
    switch (c.kind) {
      case Criterion::Kind::kBoolean: {
        Truth t = f != nullptr ? f->truth : Truth::kUnknown;
        value = c.expected ? t : mappings::truth_not(t);
        if (row != nullptr) row->condition = c.expected ? "is true" : "is false";
        break;
      }
      case Criterion::Kind::kCategory:
        value = category(c, f);
        if (row != nullptr) {
          row->condition =
              c.members.size() == 1 ? "is " + c.members[0] : "is one of " + join(c.members, ", ");
        }
        break;
      case Criterion::Kind::kCompare: {
        std::optional<fhir::Interval> v = f != nullptr ? f->measure : std::nullopt;
        value = Truth::kTrue;
        for (const auto& [op, threshold] : c.comparisons) {
          value = mappings::truth_and(value, mappings::compare(v, op, threshold));
        }
        if (row != nullptr) row->condition = c.condition;
        break;
      }
      default:
        break;
    }
    if (row != nullptr) {
      row->observed = observed(f);
      if (f != nullptr) {
        row->evidence = f->evidence;
        row->notes = f->notes;
      }
    }
    return value;
  }

  // Any of the listed members. When the record holds a diagnosis of this category whose
  // exact member is unknown, and every member not listed is false, the diagnosis must be one
  // of the listed members (e.g. C22.9 is some liver malignancy).
  static Truth category(const Criterion& c, const Fact* f) {
    if (f == nullptr) return Truth::kUnknown;
    Truth value = Truth::kFalse;
    for (const std::string& m : c.members) {
      auto it = f->categories.find(m);
      value = mappings::truth_or(value, it == f->categories.end() ? Truth::kUnknown : it->second);
    }
    if (value != Truth::kUnknown || f->evidence.empty() || f->categories.empty()) return value;
    bool others_false = std::all_of(f->categories.begin(), f->categories.end(), [&](const auto& e) {
      return std::find(c.members.begin(), c.members.end(), e.first) != c.members.end() ||
             e.second == Truth::kFalse;
    });
    return others_false ? Truth::kTrue : Truth::kUnknown;
  }

  const FactSheet& facts_;
};

// Rows below `i` that explain its value `target`: leaves, or composites with no child of that
// value (e.g. a `not`).
void causes(const std::vector<CriterionResult>& rows, size_t i, Truth target,
            std::vector<const CriterionResult*>& out) {
  std::vector<size_t> kids;
  for (size_t j = i + 1; j < rows.size() && rows[j].depth > rows[i].depth; ++j) {
    if (rows[j].depth == rows[i].depth + 1 && rows[j].value == target) kids.push_back(j);
  }
  if (!rows[i].fact.empty() || kids.empty()) {
    out.push_back(&rows[i]);
    return;
  }
  for (size_t k : kids) causes(rows, k, target, out);
}

// The root row of `role` in a section's rows, or rows.size().
size_t root_of(const std::vector<CriterionResult>& rows, std::string_view role) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].depth == 0 && rows[i].role == role) return i;
  }
  return rows.size();
}

bool lob_matches(const LobRule& rule, const Payer& payer, std::string_view lob,
                 std::string_view code) {
  if (!rule.payer.empty() && rule.payer != payer.id) return false;
  if (!rule.codes.empty() &&
      std::find(rule.codes.begin(), rule.codes.end(), code) == rule.codes.end()) {
    return false;
  }
  const Plan* plan = payer.plan(lob);
  for (const std::string& l : rule.lines_of_business) {
    if (l == "*" || l == lob) return true;
    if (plan != nullptr && !plan->coverage_type.empty() && plan->coverage_type == l) return true;
  }
  return false;
}

void add_unique(std::vector<std::string>& list, std::string item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(std::move(item));
}

void check_documents(const Policy& policy, const FactSheet& facts,
                     std::span<const mappings::DocumentFinding> findings, Determination& d) {
  Evaluator evaluator(facts);
  for (const RequiredDocument& doc : policy.documentation.required_documents) {
    DocumentCheck check;
    check.title = doc.title;
    check.codes = doc.codes;
    check.note = doc.note;
    if (doc.has_condition) {
      check.required = evaluator.eval(doc.required_unless, 0, "", nullptr) != Truth::kTrue;
    }
    std::vector<std::string> outside;
    for (const mappings::DocumentFinding& f : findings) {
      if (std::find(doc.codes.begin(), doc.codes.end(), f.code) == doc.codes.end()) continue;
      if (f.found && (!check.found || f.date > check.date)) {
        check.found = true;
        check.reference = f.reference;
        check.date = f.date;
      }
      outside.insert(outside.end(), f.outside_window.begin(), f.outside_window.end());
    }
    if (!check.found && !outside.empty()) {
      std::string n = "dated outside the window: " + join(outside, ", ");
      check.note = check.note.empty() ? n : check.note + " (" + n + ")";
    }
    d.documents.push_back(std::move(check));
  }
}

// covered / conditional: prior authorization and documentation.
void finish_positive(const Policy& policy, const FactSheet& facts,
                     std::span<const mappings::DocumentFinding> findings, Determination& d) {
  bool pa = policy.prior_auth_required(d.billing_code);
  d.pa_needed = pa ? PaNeeded::kAuthNeeded : PaNeeded::kNoAuth;
  bool doc_needed = d.covered == Covered::kConditional;
  if (d.covered == Covered::kConditional) d.info_needed = InfoNeeded::kOther;

  check_documents(policy, facts, findings, d);
  std::vector<std::string> missing;
  for (const DocumentCheck& c : d.documents) {
    if (c.required && !c.found) missing.push_back(c.title);
  }
  if (!missing.empty()) doc_needed = true;
  d.requested_documents = policy.documentation.request_must_include;
  if (!d.requested_documents.empty()) doc_needed = true;

  if (doc_needed) {
    d.doc_needed = DocNeeded::kClinical;
    d.doc_purpose = pa ? DocPurpose::kWithPa : DocPurpose::kWithClaim;
    std::string with = pa ? "the prior authorization request" : "the claim";
    if (!missing.empty()) {
      d.reasons.push_back("Documents to send with " + with +
                          " that the record does not hold: " + join(missing, "; ") + ".");
    }
    if (!d.requested_documents.empty()) {
      d.reasons.push_back("The " + std::string(pa ? "prior authorization request" : "claim") +
                          " must include: " + join(d.requested_documents, "; ") + ".");
    }
  }
}

// Who and what a determination is about: the policy, the payer and plan, the order's code.
Determination identify(const Policy& policy, const Payer& payer, std::string_view lob,
                       const mappings::OrderContext& order, const Procedure* procedure) {
  Determination d;
  d.policy_id = policy.id;
  d.policy_title = policy.title;
  d.policy_document = policy.document;
  d.policy_revision = policy.revision;
  d.payer_id = payer.id;
  d.payer_name = payer.name;
  d.line_of_business = std::string(lob);
  d.billing_code = order.billing_code;
  if (procedure != nullptr) d.procedure = procedure->display;
  d.notices = policy.notices;
  return d;
}

// Evaluates every section that applies to the order (its rows into `d.sections`) and returns
// the three-valued OR of their results; `indications` gets the title of each section that
// has an indication.
Truth evaluate_sections(const Policy& policy, const Procedure& procedure,
                        std::string_view billing_code, const FactSheet& facts, Determination& d,
                        std::vector<std::string>& indications) {
  Evaluator evaluator(facts);
  Truth overall = Truth::kFalse;
  for (const Section& s : policy.sections) {
    if (!s.organ.empty() && s.organ != procedure.organ) continue;
    bool listed = std::find(s.codes.begin(), s.codes.end(), billing_code) != s.codes.end();
    SectionResult r;
    r.id = s.id;
    r.title = s.title;
    r.code_listed = listed;
    if (s.has_indication) {
      indications.push_back(s.title);
      r.indication = evaluator.eval(s.indication, 0, "indication", &r.rows);
      if (r.indication == Truth::kFalse) continue;  // does not apply to this patient
    } else {
      if (!listed) continue;  // applies only to the codes it lists
      r.indication = Truth::kTrue;
    }
    r.criteria = evaluator.eval(s.criteria, 0, "criteria", &r.rows);
    r.result = mappings::truth_and(
        r.indication, mappings::truth_and(listed ? Truth::kTrue : Truth::kFalse, r.criteria));
    overall = mappings::truth_or(overall, r.result);
    if (!s.interpretation.empty()) add_unique(d.notes, s.interpretation);
    d.sections.push_back(std::move(r));
  }
  return overall;
}

// Conditional: the facts the record does not show that leave each undecided section open, and
// the reason asking for them.
void ask_for_missing_facts(Determination& d) {
  for (const SectionResult& r : d.sections) {
    if (r.result != Truth::kUnknown) continue;
    std::vector<const CriterionResult*> unknown;
    size_t ind = root_of(r.rows, "indication");
    if (r.indication == Truth::kUnknown && ind < r.rows.size()) {
      causes(r.rows, ind, Truth::kUnknown, unknown);
    }
    size_t crit = root_of(r.rows, "criteria");
    if (r.criteria == Truth::kUnknown && crit < r.rows.size()) {
      causes(r.rows, crit, Truth::kUnknown, unknown);
    }
    for (const CriterionResult* row : unknown) {
      add_unique(d.missing_facts,
                 row->role == "indication" ? "Diagnosis: " + row->label : row->label);
    }
  }
  d.reasons.push_back(
      "Coverage depends on information the record does not show. Please "
      "document: " +
      join(d.missing_facts, "; ") + ".");
}

// Not covered, no indication applying: the diagnosis the record shows and those covered.
void explain_no_indication(const Policy& policy, const FactSheet& facts,
                           const std::vector<std::string>& indications, Determination& d) {
  std::string shown;
  for (const Section& s : policy.sections) {
    if (!s.has_indication || s.indication.fact.empty()) continue;
    const Fact* f = facts.find(s.indication.fact);
    if (f != nullptr && !f->display.empty()) {
      shown = " (the record shows: " + f->display + ")";
      break;
    }
  }
  d.reasons.push_back("The diagnosis is not among the indications " + policy.document + " covers" +
                      shown + ". Covered indications: " + join(indications, "; ") + ".");
}

// Not covered under sections that apply: per section, the code not listed or the criteria
// not met (with what the record shows).
void explain_unmet(const Policy& policy, std::string_view billing_code, Determination& d) {
  for (const SectionResult& r : d.sections) {
    if (!r.code_listed) {
      d.reasons.push_back("CPT " + std::string(billing_code) + " is not listed for " + r.title +
                          " in " + policy.document + ".");
      continue;
    }
    std::vector<const CriterionResult*> unmet;
    size_t crit = root_of(r.rows, "criteria");
    if (crit < r.rows.size()) causes(r.rows, crit, Truth::kFalse, unmet);
    std::vector<std::string> texts;
    for (const CriterionResult* row : unmet) {
      texts.push_back(row->fact.empty() ? row->label
                                        : row->label + " (record: " + row->observed + ")");
    }
    d.reasons.push_back(r.title + ": criteria not met: " + join(texts, "; ") + ".");
  }
}

}  // namespace

Determination evaluate_policy(const Policy& policy, const Payer& payer, std::string_view lob,
                              const mappings::OrderContext& order, const FactSheet& facts,
                              std::span<const mappings::DocumentFinding> documents) {
  const Procedure* procedure = policy.procedure(order.billing_code);
  Determination d = identify(policy, payer, lob, order, procedure);

  if (procedure == nullptr) {
    d.covered = Covered::kNotCovered;
    d.basis = "criteria";
    d.reasons.push_back("CPT " + order.billing_code + " is not among the codes of " +
                        policy.document + ".");
    return d;
  }

  // Line-of-business rules: the first that matches decides how.
  for (const LobRule& rule : policy.lob_rules) {
    if (!lob_matches(rule, payer, lob, order.billing_code)) continue;
    if (!rule.note.empty()) d.notes.push_back(rule.note);
    if (!rule.interpretation.empty()) d.notes.push_back(rule.interpretation);
    if (rule.outcome == LobRule::Outcome::kNotCovered) {
      d.basis = "line-of-business";
      d.covered = Covered::kNotCovered;
      d.reasons.push_back(rule.reason);
      return d;
    }
    if (rule.outcome == LobRule::Outcome::kProgramRule) {
      d.basis = "line-of-business";
      d.covered = Covered::kConditional;
      d.pa_needed = PaNeeded::kConditional;
      d.info_needed = InfoNeeded::kOther;
      d.reasons.push_back(rule.reason);
      return d;
    }
    break;  // criteria: the sections decide
  }

  d.basis = "criteria";
  std::vector<std::string> indications;
  const Truth overall =
      evaluate_sections(policy, *procedure, order.billing_code, facts, d, indications);

  if (overall == Truth::kTrue) {
    d.covered = Covered::kCovered;
    finish_positive(policy, facts, documents, d);
    return d;
  }

  if (overall == Truth::kUnknown) {
    d.covered = Covered::kConditional;
    ask_for_missing_facts(d);
    finish_positive(policy, facts, documents, d);
    return d;
  }

  // Not covered.
  d.covered = Covered::kNotCovered;
  if (d.sections.empty()) {
    explain_no_indication(policy, facts, indications, d);
    return d;
  }
  explain_unmet(policy, order.billing_code, d);
  return d;
}

}  // namespace cryo::policies
