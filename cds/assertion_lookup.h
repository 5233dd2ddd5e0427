// What payer staff match a claim against, for each determination handed out: the member id
// and payer, the CPT code and its display, the date of service, the outcome in words, the
// reasons, the documents found (with dates) and missing, the policy with its revision and the
// hash of the policy and mapping data that decided.
//
//   audit::DeterminationRecord rec = ...;
//   fill_lookup(outcome, order, rec);   // member_id, date_of_service, billing_code, lookup_json
//
// lookup_json:
//   {"member": {"id"}, "payer": {"id", "name"}, "lineOfBusiness",
//    "billingCode": {"system", "code", "display"}, "dateOfService",
//    "outcome", "priorAuthorization", "documentation", "reasons": [...],
//    "documents": [{"title", "status": "found"|"missing"|"not needed", "reference", "date"}],
//    "policy": {"id", "document", "title", "revision", "dataHash"}}
// The cards as sent are not copied here: the store keeps them once, in the response, and adds
// "cards" (those about the order) when it reads a determination back.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "audit/store.h"
#include "cds/coverage_service.h"

namespace cryo::cds {

void fill_lookup(const HookOutcome& outcome, const OrderDetermination& order,
                 audit::DeterminationRecord& record);

// The order's date of service as written ("YYYY-MM-DD"): occurrenceDateTime,
// occurrencePeriod.start, occurrenceTiming.event[0], an Appointment's start, else authoredOn;
// "" when the order has none.
std::string date_of_service_text(const fhir::Json& order);

// Coverage-information codes in words, for people.
std::string_view covered_words(policies::Covered covered);
std::string_view prior_auth_words(policies::PaNeeded pa_needed);
std::string_view documentation_words(policies::DocNeeded doc_needed,
                                     policies::DocPurpose doc_purpose);

}  // namespace cryo::cds
