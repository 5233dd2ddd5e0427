// FHIR OperationOutcome bodies for every 4xx/5xx answer.
//
// CDS Hooks and CRD leave error bodies open; this service always says what is wrong, in a
// FHIR OperationOutcome a client's developer can read:
//
//   res.body = operation_outcome("invalid", "context.patientId is required");
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace cryo::cds {

// An OperationOutcome with one issue of severity "error". `code` is from the FHIR
// issue-type value set ("invalid", "structure", "too-long", "not-found", "not-supported",
// "security", "incomplete", "exception", "processing", "business-rule").
std::string operation_outcome(std::string_view code, std::string_view diagnostics);

// The issue-type code that fits an HTTP status when none is more specific.
std::string_view issue_code_for_status(int status);

}  // namespace cryo::cds
