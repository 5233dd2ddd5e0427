// Writes the CDS Hooks response for a set of order determinations.
//
// For each in-scope order: a coverage card a busy clinician can read at a glance (summary
// naming payer, procedure and bottom line; Markdown detail with each criterion met / not met
// / not documented and its evidence, the documentation checklist, prior authorization, the
// policy and its revision), and an `update` system action carrying the whole draft order plus
// CRD's ext-coverage-information. One External Reference card per policy links to its page.
// Card types switched off by the client's configuration are left out; max-cards is honoured
// (coverage cards first). JSON is streamed with RapidJSON's writer: the draft order is
// re-serialised from the request document, never copied.
//
// Thread safety: pure function of its inputs.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cds/coverage_service.h"
#include "cds/hook_request.h"

namespace cryo::cds {

struct ResponseInput {
  std::span<OrderDetermination> orders;  // card_uuid is filled in by write_response
  std::string_view coverage_reference;   // "Coverage/cov-1"
  const CardConfiguration* configuration = nullptr;
  std::string_view base_url;
  std::string_view assertion_date;  // "2026-11-22"
  bool secondary_hook = false;      // order-select: no documentation requests
};

// The response JSON. Fills `card_uuids` with every card uuid written.
std::string write_response(const ResponseInput& input, std::vector<std::string>& card_uuids);

// The coverage card's one-line summary (< 140 characters).
std::string card_summary(const policies::Determination& d);

// The coverage card's Markdown detail.
std::string card_detail(const OrderDetermination& order);

// A plain-text table of the determinations, for `cryo-crd evaluate --explain`.
std::string explain_text(std::span<const OrderDetermination> orders);

}  // namespace cryo::cds
