// FetchSummary: what reading data a CDS client's prefetch did not bring from its FHIR server
// came to, once the documents read are in the call's record. The FHIR client produces it
// (fhir/client/prefetch_fetcher.h: FetchReport::hand_to); the CDS service decides with it
// whether a call can be answered (cds/record_completion.h).
//
//   FetchSummary summary = report.hand_to(record);   // ResourceIndex
//   if (!summary.missing.empty() && !summary.reached) answer_412();
//
// Thread safety: plain value.
#pragma once

#include <string>
#include <vector>

namespace cryo::fhir {

struct FetchSummary {
  bool reached = false;              // the FHIR server answered at all
  std::vector<std::string> missing;  // keys and references still missing after fetching
  // FetchResult::describe() of each failure, for reasons and logs:
  // "coverage: timeout: no complete answer within 1500 ms".
  std::vector<std::string> problems;
};

}  // namespace cryo::fhir
