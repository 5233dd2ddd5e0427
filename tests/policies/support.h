// Shared helpers for the policy tests: the fact vocabulary of docs/facts.md, builders for
// fact sheets, and the bundled policy library loaded once.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/json_file.h"
#include "fhir/quantity.h"
#include "mappings/fact.h"
#include "mappings/mapping_set.h"
#include "policies/fact_vocabulary.h"
#include "policies/policy_library.h"
#include "tests/support/coverage_codes_printer.h"

namespace cryo::policies::testing {

inline std::filesystem::path source_dir() {
  return CRYO_SOURCE_DIR;
}
inline std::filesystem::path policy_dir() {
  return source_dir() / "policies" / "data";
}

inline const std::vector<std::string>& tumor_types() {
  static const std::vector<std::string> kTypes = {
      "hcc", "icc", "crc-liver-mets", "net-liver-mets", "other-liver-mets", "other-primary-liver"};
  return kTypes;
}

// The ranks of the prostate T-stage scale (docs/facts.md).
inline std::optional<fhir::Interval> t_stage(std::string_view v) {
  static const std::map<std::string, std::pair<double, double>, std::less<>> kScale = {
      {"T0", {0, 0}},  {"T1a", {1, 1}}, {"T1b", {2, 2}}, {"T1c", {3, 3}}, {"T2a", {4, 4}},
      {"T2b", {5, 5}}, {"T2c", {6, 6}}, {"T3a", {7, 7}}, {"T3b", {8, 8}}, {"T4", {9, 9}},
      {"T1", {1, 3}},  {"T2", {4, 6}},  {"T3", {7, 8}}};
  auto it = kScale.find(v);
  if (it == kScale.end()) return std::nullopt;
  return fhir::Interval{it->second.first, it->second.second, true, true};
}

// docs/facts.md as a vocabulary, so the engine tests do not depend on mappings/data.
class FactsMdVocabulary final : public FactVocabulary {
 public:
  // Every row "| `id` | kind | unit / members | ..." of docs/facts.md: a new fact needs only
  // its row there (and its mapping), never an edit here.
  FactsMdVocabulary() {
    using mappings::FactKind;
    std::ifstream in(source_dir() / "docs" / "facts.md");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    std::regex row(R"(\| `([a-z0-9-]+)` \| (boolean|measure|ordinal|category)[^|]*\|([^|]*)\|)");
    for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it) {
      std::string id = (*it)[1], kind = (*it)[2], third = (*it)[3];
      std::vector<std::string> ticked;
      std::regex tick("`([^`]+)`");
      for (std::sregex_iterator t(third.begin(), third.end(), tick); t != end; ++t)
        ticked.push_back((*t)[1]);
      FactKind k = kind == "boolean"   ? FactKind::kBoolean
                   : kind == "measure" ? FactKind::kMeasure
                   : kind == "ordinal" ? FactKind::kOrdinal
                                       : FactKind::kCategory;
      kinds_[id] = {k, k == FactKind::kMeasure && !ticked.empty() ? ticked.front() : ""};
      if (k == FactKind::kCategory) members_[id] = ticked;
    }
  }
  bool has_fact(std::string_view id) const override { return kinds_.count(std::string(id)) > 0; }
  std::optional<mappings::FactKind> fact_kind(std::string_view id) const override {
    auto it = kinds_.find(std::string(id));
    if (it == kinds_.end()) return std::nullopt;
    return it->second.first;
  }
  std::string fact_unit(std::string_view id) const override {
    auto it = kinds_.find(std::string(id));
    return it == kinds_.end() ? "" : it->second.second;
  }
  bool has_category(std::string_view id, std::string_view member) const override {
    auto it = members_.find(std::string(id));
    return it != members_.end() &&
           std::find(it->second.begin(), it->second.end(), member) != it->second.end();
  }
  std::optional<fhir::Interval> ordinal_value(std::string_view id,
                                              std::string_view value) const override {
    if (id != "prostate-t-stage") return std::nullopt;
    return t_stage(value);
  }
  std::string fact_label(std::string_view id) const override { return std::string(id); }
  // The coverage types are data of the mappings (coverage.json), read by the same reader.
  std::vector<std::string> coverage_types() const override {
    auto file = json::File::read(source_dir() / "mappings" / "data" / "coverage.json");
    if (!file) ADD_FAILURE() << file.error().to_string();
    if (!file) return {};
    auto root = json::Object::of(file->root(), {"about", "coverage"});
    auto coverage = root ? root->object("coverage", {"coverage_types", "plan_class", "type_systems",
                                                     "type_prefixes", "default"})
                         : Result<json::Object>(root.error());
    auto list = coverage ? coverage->strings("coverage_types")
                         : Result<std::vector<std::string>>(coverage.error());
    if (!list) ADD_FAILURE() << file->locate(list.error()).to_string();
    return list ? *list : std::vector<std::string>{};
  }

 private:
  std::map<std::string, std::pair<mappings::FactKind, std::string>> kinds_;
  std::map<std::string, std::vector<std::string>> members_;
};

// Builds a FactSheet the way mappings/ would fill it.
class Facts {
 public:
  Facts& set(std::string id, mappings::Truth t) {
    mappings::Fact f;
    f.id = std::move(id);
    f.kind = mappings::FactKind::kBoolean;
    f.truth = t;
    if (t != mappings::Truth::kUnknown) {
      f.evidence.push_back({"Observation/" + f.id, "2026-01-15", f.id});
    }
    sheet_.put(std::move(f));
    return *this;
  }
  Facts& yes(std::string id) { return set(std::move(id), mappings::Truth::kTrue); }
  Facts& no(std::string id) { return set(std::move(id), mappings::Truth::kFalse); }

  Facts& measure(std::string id, fhir::Interval v, std::string unit) {
    mappings::Fact f;
    f.id = std::move(id);
    f.kind = mappings::FactKind::kMeasure;
    f.measure = v;
    f.unit = std::move(unit);
    f.evidence.push_back({"Observation/" + f.id, "2026-01-10", "measured"});
    sheet_.put(std::move(f));
    return *this;
  }
  Facts& measure(std::string id, double v, std::string unit) {
    return measure(std::move(id), fhir::Interval::point(v), std::move(unit));
  }
  Facts& size_cm(double v) { return measure("largest-liver-lesion", v, "cm"); }
  Facts& count(double n) { return measure("liver-lesion-count", n, "1"); }

  Facts& stage(const std::string& s) {
    mappings::Fact f;
    f.id = "prostate-t-stage";
    f.kind = mappings::FactKind::kOrdinal;
    f.measure = t_stage(s);  // TX: nullopt
    f.display = s;
    f.evidence.push_back({"Observation/stage", "2026-01-10", s});
    sheet_.put(std::move(f));
    return *this;
  }

  // A definite diagnosis: that member true, the others false.
  Facts& tumor(const std::string& type) {
    std::map<std::string, mappings::Truth> c;
    for (const std::string& t : tumor_types()) {
      c[t] = t == type ? mappings::Truth::kTrue : mappings::Truth::kFalse;
    }
    return tumors(c, type);
  }
  // Liver malignancy of unspecified type (C22.9): every member unknown, with evidence.
  Facts& unspecified_liver_malignancy() {
    std::map<std::string, mappings::Truth> c;
    for (const std::string& t : tumor_types()) c[t] = mappings::Truth::kUnknown;
    return tumors(c, "liver malignancy, primary or secondary unknown");
  }
  // Liver metastases of unknown primary: HCC and ICC false, metastases unknown.
  Facts& metastases_unknown_primary() {
    std::map<std::string, mappings::Truth> c;
    for (const std::string& t : tumor_types()) {
      c[t] = t == "hcc" || t == "icc" ? mappings::Truth::kFalse : mappings::Truth::kUnknown;
    }
    return tumors(c, "liver metastases of unknown primary");
  }
  Facts& tumors(std::map<std::string, mappings::Truth> members, std::string display) {
    mappings::Fact f;
    f.id = "liver-tumor-type";
    f.kind = mappings::FactKind::kCategory;
    f.categories = std::move(members);
    f.display = std::move(display);
    f.evidence.push_back({"Condition/dx", "2025-12-01", f.display});
    sheet_.put(std::move(f));
    return *this;
  }

  const mappings::FactSheet& sheet() const { return sheet_; }
  operator const mappings::FactSheet&() const { return sheet_; }  // NOLINT

 private:
  mappings::FactSheet sheet_;
};

// The bundled policies, loaded once against docs/facts.md.
inline const PolicyLibrary& library() {
  static const PolicyLibrary* lib = [] {
    FactsMdVocabulary vocabulary;
    Result<PolicyLibrary> r = PolicyLibrary::load(policy_dir(), vocabulary);
    if (!r) {
      fprintf(stderr, "cannot load bundled policies: %s\n", r.error().to_string().c_str());
      abort();
    }
    return new PolicyLibrary(std::move(*r));
  }();
  return *lib;
}

inline const Payer& payer(std::string_view id) {
  for (const Payer& p : library().payers()) {
    if (p.id == id) return p;
  }
  fprintf(stderr, "no payer %s\n", std::string(id).c_str());
  abort();
}

struct Documents {
  std::vector<mappings::DocumentFinding> findings;
  Documents& found(std::string code, std::string date = "2026-01-20") {
    findings.push_back({std::move(code),
                        true,
                        "DocumentReference/" + std::string("d") + std::to_string(findings.size()),
                        std::move(date),
                        {}});
    return *this;
  }
  Documents& missing(std::string code) {
    findings.push_back({std::move(code), false, "", "", {}});
    return *this;
  }
};

// Evaluates an order for `code` for the payer's policy that lists it.
inline Determination decide(std::string_view payer_id, std::string_view lob, std::string code,
                            const mappings::FactSheet& facts, const Documents& docs = {}) {
  const Payer& p = payer(payer_id);
  const Policy* policy = library().policy_for(p, code);
  if (policy == nullptr) {
    fprintf(stderr, "no policy of %s for %s\n", std::string(payer_id).c_str(), code.c_str());
    abort();
  }
  mappings::OrderContext order;
  order.billing_code = std::move(code);
  return library().evaluate(*policy, p, lob, order, facts, docs.findings);
}

inline bool contains(const std::vector<std::string>& list, std::string_view needle) {
  for (const std::string& s : list) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

inline std::string all_text(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) out += s + "\n";
  return out;
}

}  // namespace cryo::policies::testing

#include <gtest/gtest.h>

namespace cryo::policies::testing {

// The CRD coverage-information invariants (spec-crd §6.3 q2, q3, q6) and the reading guide's
// rules for which fields go together.
inline ::testing::AssertionResult crd_consistent(const Determination& d) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure()
           << why << " [covered=" << code(d.covered) << " pa=" << code(d.pa_needed)
           << " doc=" << code(d.doc_needed) << " purpose=" << code(d.doc_purpose)
           << " info=" << code(d.info_needed) << "]";
  };
  if (d.covered != Covered::kCovered && d.covered != Covered::kNotCovered &&
      d.covered != Covered::kConditional) {
    return fail("covered is not a CRD code");
  }
  const bool no_pa = d.pa_needed == PaNeeded::kAbsent;
  const bool no_doc = d.doc_needed == DocNeeded::kAbsent;
  const bool no_purpose = d.doc_purpose == DocPurpose::kAbsent;
  if (d.covered == Covered::kNotCovered && !no_pa) return fail("q2: not-covered with pa");
  if (d.covered == Covered::kNotCovered && !no_doc) return fail("not-covered with doc");
  if (d.covered == Covered::kConditional && d.info_needed == InfoNeeded::kAbsent) {
    return fail("q3: no info-needed");
  }
  if (d.info_needed == InfoNeeded::kOther && d.reasons.empty()) {
    return fail("q6: OTH without reason");
  }
  if (d.covered != Covered::kCovered && d.reasons.empty()) return fail("no reason");
  if (no_doc != no_purpose) return fail("doc-purpose without doc");
  if (!no_doc && d.doc_needed != DocNeeded::kClinical) return fail("doc-needed not clinical");
  if (d.doc_purpose == DocPurpose::kWithPa && d.pa_needed != PaNeeded::kAuthNeeded) {
    return fail("withpa without PA");
  }
  if (d.doc_purpose == DocPurpose::kWithClaim && d.pa_needed == PaNeeded::kAuthNeeded) {
    return fail("withclaim w/ PA");
  }
  if (d.covered == Covered::kCovered && d.pa_needed != PaNeeded::kNoAuth &&
      d.pa_needed != PaNeeded::kAuthNeeded) {
    return fail("covered without a pa-needed value");
  }
  if (d.pa_needed == PaNeeded::kConditional && (d.covered != Covered::kConditional || !no_doc)) {
    return fail("program rule must be conditional without doc-needed");
  }
  for (const std::string& r : d.reasons) {
    if (r.empty()) return fail("empty reason text (q7)");
  }
  return ::testing::AssertionSuccess();
}

}  // namespace cryo::policies::testing
