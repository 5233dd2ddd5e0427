// Writes the CDS Hooks response for a set of order determinations.
//
// For each in-scope order: a coverage card a busy clinician can read at a glance (summary
// naming payer, procedure and bottom line; Markdown detail with each criterion met / not met
// / not documented and its evidence, the documentation checklist, prior authorization, the
// policy and its revision), and an `update` system action carrying the whole draft order plus
// CRD's ext-coverage-information. One External Reference card per policy links to its page.
// An Instructions card (text only: no links, no suggestions) says what the payer needs done —
// the prior authorization step, facts to record, documents to send. The coverage-information
// is shaped to the CRD version in force (cds/crd_version.h). appointment-book also annotates
// each Appointment, encounter-start the Encounter. An order that already carries this
// service's coverage-information with the same decision gets no update (CRD: no update
// unless something is new). The primary hooks always carry `systemActions`, possibly empty.
// Card types switched off by the client's configuration are left out; max-cards is honoured
// (coverage cards first, then instructions, then policy links). JSON is streamed with RapidJSON's
// writer: the draft order is re-serialised from the request document, never copied.
//
// Thread safety: pure function of its inputs.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cds/coverage_service.h"
#include "cds/crd_version.h"
#include "cds/hook_request.h"

namespace cryo::cds {

struct ResponseInput {
  std::span<OrderDetermination> orders;  // card_uuid is filled in by write_response
  std::string_view coverage_reference;   // "Coverage/cov-1"
  const CardConfiguration* configuration = nullptr;
  std::string_view base_url;
  std::string_view assertion_date;      // "2026-11-22"
  bool secondary_hook = false;          // order-select: no documentation requests
  const CrdVersion* version = nullptr;  // nullptr: the default (2.0.1)
  ShapeContext shape;                   // technical problems reading the record
  unsigned card_types = kCoverageCards | kPolicyCards | kInstructionCards;  // the service's
  bool always_system_actions = false;  // primary hooks: `systemActions` even when empty
  bool discharge = false;              // encounter-discharge: documentation check only
  // Resources annotated beside the orders: each Appointment (appointment-book) or the
  // Encounter (encounter-start), with the references of the in-scope orders it covers.
  struct Container {
    const fhir::Json* resource = nullptr;
    std::vector<std::string> orders;  // "ServiceRequest/sr-1"
  };
  std::vector<Container> containers;
};

// Whether `order` already carries a coverage-information for `coverage_reference` whose
// decision equals `values` and `billing_code`; its coverage-assertion-id, or "".
std::string current_assertion_id(const fhir::Json& order, std::string_view coverage_reference,
                                 const CoverageValues& values, std::string_view billing_code);

// The Instructions card's Markdown detail ("" when there is nothing to do).
std::string instructions_detail(const OrderDetermination& order, bool discharge);

// The response JSON. Fills `cards` with every card written (uuid and type).
std::string write_response(const ResponseInput& input, std::vector<SentCard>& cards);

// The coverage card's one-line summary (< 140 characters).
std::string card_summary(const policies::Determination& d);

// The coverage card's Markdown detail.
std::string card_detail(const OrderDetermination& order);

// A plain-text table of the determinations, for `cryo-crd evaluate --explain`.
std::string explain_text(std::span<const OrderDetermination> orders);

}  // namespace cryo::cds
