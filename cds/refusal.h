// Refusal: why a hook call gets no CDS Hooks answer — the HTTP status, and the FHIR issue
// type and text of the OperationOutcome that says so (cds/operation_outcome.h).
//
//   return Refusal{412, "incomplete", "prefetch key coverage missing"};
//
// Thread safety: plain values.
#pragma once

#include <string>

namespace cryo::cds {

struct Refusal {
  int status = 400;
  std::string code;     // FHIR issue type: "structure", "too-long", "incomplete", ...
  std::string message;  // for the client and the log
};

}  // namespace cryo::cds
