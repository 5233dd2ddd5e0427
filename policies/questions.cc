#include "policies/questions.h"

#include <algorithm>
#include <optional>

namespace cryo::policies {
namespace {

using mappings::Truth;

// The rows of one section as a tree (pre-order rows with depths).
struct Tree {
  const std::vector<CriterionResult>& rows;
  std::vector<std::vector<size_t>> children;
  std::vector<size_t> parent;

  explicit Tree(const std::vector<CriterionResult>& r)
      : rows(r), children(r.size()), parent(r.size(), r.size()) {
    std::vector<size_t> stack;
    for (size_t i = 0; i < rows.size(); ++i) {
      while (!stack.empty() && rows[stack.back()].depth >= rows[i].depth) stack.pop_back();
      if (!stack.empty()) {
        parent[i] = stack.back();
        children[stack.back()].push_back(i);
      }
      stack.push_back(i);
    }
  }

  // The value of row `i` with row `forced` taking `value` (the engine's connectives).
  Truth value(size_t i, size_t forced, Truth value_of_forced) const {
    if (i == forced) return value_of_forced;
    const CriterionResult& r = rows[i];
    if (r.group == "all") {
      Truth v = Truth::kTrue;
      for (size_t c : children[i]) v = mappings::truth_and(v, value(c, forced, value_of_forced));
      return v;
    }
    if (r.group == "any") {
      Truth v = Truth::kFalse;
      for (size_t c : children[i]) v = mappings::truth_or(v, value(c, forced, value_of_forced));
      return v;
    }
    if (r.group == "not" && !children[i].empty()) {
      return mappings::truth_not(value(children[i].front(), forced, value_of_forced));
    }
    return r.value;
  }

  std::optional<size_t> root(std::string_view role) const {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].depth == 0 && rows[i].role == role) return i;
    }
    return std::nullopt;
  }

  // Whether every group above `i` is still unknown.
  bool open_path(size_t i) const {
    for (size_t p = parent[i]; p < rows.size(); p = parent[p]) {
      if (rows[p].value != Truth::kUnknown) return false;
    }
    return true;
  }
};

// The section's result with one row forced (indication AND code listed AND criteria).
Truth section_value(const SectionResult& s, const Tree& t, size_t forced, Truth v) {
  Truth indication = Truth::kTrue;
  if (auto r = t.root("indication")) indication = t.value(*r, forced, v);
  Truth criteria = Truth::kUnknown;
  if (auto r = t.root("criteria")) criteria = t.value(*r, forced, v);
  return mappings::truth_and(
      indication, mappings::truth_and(s.code_listed ? Truth::kTrue : Truth::kFalse, criteria));
}

}  // namespace

bool settled(const Determination& d) {
  return d.covered != Covered::kConditional || d.basis != "criteria";
}

std::vector<OpenQuestion> open_questions(const Determination& d) {
  std::vector<OpenQuestion> out;
  if (settled(d)) return out;
  std::vector<Tree> trees;
  trees.reserve(d.sections.size());
  for (const SectionResult& s : d.sections) trees.emplace_back(s.rows);
  const size_t kNoRow = static_cast<size_t>(-1);
  for (size_t si = 0; si < d.sections.size(); ++si) {
    const SectionResult& s = d.sections[si];
    if (s.result != Truth::kUnknown) continue;
    const Tree& t = trees[si];
    for (size_t i = 0; i < s.rows.size(); ++i) {
      const CriterionResult& row = s.rows[i];
      if (row.fact.empty() || row.value != Truth::kUnknown || !t.open_path(i)) continue;
      // Settles: one value of this row leaves no section unknown (the policy's result is
      // the OR of its sections).
      bool settles = false;
      for (Truth v : {Truth::kTrue, Truth::kFalse}) {
        Truth overall = Truth::kFalse;
        for (size_t sj = 0; sj < d.sections.size(); ++sj) {
          overall = mappings::truth_or(
              overall, sj == si ? section_value(s, t, i, v)
                                : section_value(d.sections[sj], trees[sj], kNoRow, v));
        }
        settles |= overall != Truth::kUnknown;
      }
      auto same = std::find_if(out.begin(), out.end(),
                               [&](const OpenQuestion& q) { return q.fact == row.fact; });
      if (same != out.end()) {
        same->settles |= settles;
        continue;
      }
      out.push_back({row.fact, row.label, row.condition, row.role, settles});
    }
  }
  std::stable_partition(out.begin(), out.end(), [](const OpenQuestion& q) { return q.settles; });
  return out;
}

std::vector<const DocumentCheck*> missing_documents(const Determination& d) {
  std::vector<const DocumentCheck*> out;
  if (d.covered != Covered::kCovered || !d.requested_documents.empty()) return out;
  for (const DocumentCheck& c : d.documents) {
    if (c.required && !c.found && !c.codes.empty()) out.push_back(&c);
  }
  return out;
}

bool has_questions(const Determination& d) {
  return !open_questions(d).empty() || !missing_documents(d).empty();
}

}  // namespace cryo::policies
