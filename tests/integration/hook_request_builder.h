// Builds CDS Hooks requests the way an EHR sends them: draft ServiceRequests in context,
// prefetch keys holding the patient, a searchset Bundle with the Coverage and its payor, and
// searchset Bundles of Conditions, Observations, BodyStructures, DocumentReferences and
// DiagnosticReports. Resources are FHIR JSON text; helpers below write the common shapes of
// the input contract.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cryo::testing {

class HookRequestBuilder {
 public:
  explicit HookRequestBuilder(std::string payer_id, std::string hook = "order-sign");

  HookRequestBuilder& plan(std::string code);      // Coverage.class plan code
  HookRequestBuilder& sopt(std::string code);      // Coverage.type SOPT code
  HookRequestBuilder& coverage_count(int n);       // 0 or 2+ to test refusals
  HookRequestBuilder& resource(std::string json);  // any record resource
  HookRequestBuilder& order(std::string cpt, std::string id = "sr-1",
                            std::string date = "2026-03-01");
  HookRequestBuilder& raw_order(std::string json);    // a ServiceRequest as written
  HookRequestBuilder& select(std::string reference);  // order-select selections
  HookRequestBuilder& omit_prefetch(std::string key);
  HookRequestBuilder& fhir_server(std::string url);
  HookRequestBuilder& configuration(std::string json_object);
  HookRequestBuilder& hook_instance(std::string id);

  // The record most tests start from: an active HCC (C22.0), documented as unresectable, with
  // the four documents Florida Blue's guideline asks for, dated before 2026-03-01.
  HookRequestBuilder& unresectable_hcc_with_documents();

  std::string json() const;

 private:
  std::string payer_id_;
  std::string hook_;
  std::string hook_instance_;
  std::vector<std::string> plans_;
  std::string sopt_;
  int coverage_count_ = 1;
  std::vector<std::string> resources_;
  std::vector<std::string> orders_;
  std::vector<std::string> selections_;
  std::set<std::string> omitted_;
  std::string fhir_server_;
  std::string configuration_;
};

// Record resources in the input contract's shapes (patient "pat-1").
std::string condition(std::string_view id, std::string_view icd10,
                      std::string_view clinical = "active");
std::string boolean_observation(std::string_view id, std::string_view crit_code, bool value,
                                std::string_view date = "2026-02-01");
std::string resectability(std::string_view id, bool unresectable,
                          std::string_view date = "2026-02-01");
std::string tumor_size(std::string_view id, double value, std::string_view unit,
                       std::string_view focus = "", std::string_view date = "2026-02-01",
                       std::string_view comparator = "");
std::string liver_lesion(std::string_view id);
std::string lesion_count(std::string_view id, int count, std::string_view date = "2026-02-01");
std::string document(std::string_view id, std::string_view loinc, std::string_view date);

}  // namespace cryo::testing
