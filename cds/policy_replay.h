// Impact of a policy change: re-decides stored hook calls under candidate policies.
//
//   cryo-crd policies replay --candidate DIR [--since DATE] [--payer ID] [--report FILE]
//
// Every stored hook call (audit store, SQLite or PostgreSQL) is decided again from its stored
// request by a CoverageService over the candidate policies; nothing is written. A
// determination "changes" when any coverage-information value differs (covered, pa-needed,
// doc-needed, doc-purpose, info-needed) or when an order gains or loses a determination. Each
// change names the call, the order, the coverage-assertion-id handed out, the sections and the
// criteria that flipped. Calls whose stored request cannot be decided offline (data that was
// fetched from the EHR's FHIR server is not stored) are counted as not re-decided.
//
//   ReplayReport r = replay_calls(store, candidate_service, {.since = ..., .payer = "bcbsm"});
//   std::cout << replay_text(r);
//
// Thread safety: replay_calls() reads the store; the service must outlive the call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "audit/store.h"
#include "cds/coverage_service.h"

namespace cryo::cds {

struct ReplayOptions {
  audit::TimePoint since{};  // epoch = every stored call
  std::string payer;         // "" = every payer
  // Called after each call with (done, total); total is 0 when unknown.
  std::function<void(std::int64_t, std::int64_t)> progress;
  std::int64_t total = 0;
};

struct FlippedCriterion {
  std::string section;
  std::string label;
  std::string fact;
  std::string from;  // "true" | "false" | "unknown" | "" (not evaluated)
  std::string to;
};

struct ReplayChange {
  std::string hook_instance;
  std::string received_at;
  std::string payer_id;
  std::string line_of_business;
  std::string order_ref;
  std::string coverage_assertion_id;  // handed out at the time ("" when none was)
  std::string policy_id;
  std::string revision_from;
  std::string revision_to;
  std::string from;  // "covered/no-auth/-/-/-" (covered, pa, doc, purpose, info)
  std::string to;
  std::string from_covered;
  std::string to_covered;
  std::vector<std::string> sections;  // sections whose result or criteria changed
  std::vector<FlippedCriterion> flipped;
};

struct ReplayReport {
  std::int64_t calls = 0;                          // stored calls visited
  std::int64_t determinations = 0;                 // stored determinations compared
  std::int64_t not_redecided = 0;                  // calls the candidate could not decide offline
  std::vector<std::string> not_redecided_reasons;  // first few, for people
  std::vector<ReplayChange> changes;
  // Counts of changed determinations.
  std::map<std::string, std::int64_t> by_transition;  // "covered -> not-covered"
  std::map<std::string, std::int64_t> by_payer;
  std::map<std::string, std::int64_t> by_line_of_business;
  std::map<std::string, std::int64_t> by_section;  // "<policy id>/<section id>"
};

Result<ReplayReport> replay_calls(audit::AuditStore& store, const CoverageService& candidate,
                                  const ReplayOptions& options);

// For people (stdout) and as JSON (--report).
std::string replay_text(const ReplayReport& report);
std::string replay_json(const ReplayReport& report);

}  // namespace cryo::cds
