// From the policy engine's Determination to what the audit store keeps for one order.
//
//   DeterminationRecord rec = make_determination_record("ServiceRequest/sr-1", random_uuid(),
//                                                       determination, kServiceVersion);
//
// criteria_json is a JSON array with one object per evaluated policy section:
//   [{"section": "hcc", "title": "...", "indication": "true", "codeListed": true,
//     "criteria": "true", "result": "true",
//     "rows": [{"depth": 0, "label": "...", "fact": "largest-liver-lesion",
//               "role": "criteria", "condition": "≤ 5 cm", "value": "true",
//               "observed": "4.2 cm", "notes": ["..."],
//               "evidence": [{"reference": "Observation/obs-7", "date": "2026-02-01",
//                             "system": "http://loinc.org", "code": "21889-1"}]}]}]
// ("role", "condition" and "notes" only when set; an evidence's "system" and "code" — the
// coding that decided — only when the fact names one).
// A program (line-of-business) rule with no sections gives
//   [{"section": "", "title": "<basis>", "result": "...", "rows": []}] only when basis is set,
// otherwise "[]". Evidence keeps references and dates, not the resources' text: the request
// itself is stored alongside.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "audit/store.h"
#include "policies/determination.h"

namespace cryo::cds {

std::string criteria_json(const policies::Determination& d);

audit::DeterminationRecord make_determination_record(std::string order_ref,
                                                     std::string coverage_assertion_id,
                                                     const policies::Determination& d,
                                                     std::string service_version);

}  // namespace cryo::cds
