// Policy test cases: `cryo-crd policies test [DIR]` and the golden conformance scenarios.
//
// Each policy file `<name>.json` in the policies directory may have test cases beside it in
// `<name>.tests.json` (format: docs/policy-format.md, "Test cases"). A case gives the patient
// record — either a short list of facts or FHIR resources — the order, the payer, the line of
// business and the date of service, and the expected determination (covered, pa, doc,
// doc_purpose, info, and optionally which criteria are met, unmet or unknown).
//
//   PolicyTestReport report = run_policy_tests(dir, mappings, library);
//   for (const auto& r : report.results) std::cout << r.line() << "\n";
//
// A case with FHIR resources runs through CoverageService::call, exactly as a hook call from an
// EHR would (the record is served as prefetch), so it also checks how the Coverage is read. A
// case with facts runs the policy engine alone. Cases with FHIR resources are also the golden
// conformance scenarios: scenarios_from_cases() writes each as a scenario document
// (conformance/scenarios/, see conformance/README.md).
//
// Thread safety: plain functions over immutable data.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "mappings/mapping_set.h"
#include "policies/policy_library.h"

namespace cryo::cds {

struct PolicyTestResult {
  std::string file;  // "florida-blue.tests.json"
  std::string name;  // the case's name
  bool passed = false;
  std::vector<std::string> failures;  // what differed, for people
  std::string line() const;           // "PASS file: name" / "FAIL file: name: ..."
};

struct PolicyTestReport {
  std::vector<PolicyTestResult> results;
  std::vector<std::string> errors;  // files that could not be read (count as failures)
  int passed() const;
  int failed() const;
};

// Runs every case of every `*.tests.json` file in `dir` against `library` (loaded from the
// same directory) and `mappings`.
PolicyTestReport run_policy_tests(const std::filesystem::path& dir,
                                  const mappings::MappingSet& mappings,
                                  const policies::PolicyLibrary& library);

// The golden conformance scenarios: one (name, JSON text) per case that has a FHIR record.
Result<std::vector<std::pair<std::string, std::string>>> scenarios_from_cases(
    const std::filesystem::path& dir, const mappings::MappingSet& mappings,
    const policies::PolicyLibrary& library);

}  // namespace cryo::cds
