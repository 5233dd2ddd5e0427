// HookAdapter: what one CDS hook means to this service, in one place.
//
// Each hook the service answers has one adapter: how its context is read (the draft orders,
// the selections, the dispatched orders, the appointments, the encounter), which orders a call
// is about, and what its answer annotates and how firmly it speaks — a primary hook
// (order-sign, order-dispatch, appointment-book) always carries its system actions and may ask
// for documentation; a secondary one (order-select, encounter-start, encounter-discharge) is
// advisory and never asks for it. The service catalog (cds/catalog.h) names the adapter of each
// service, so discovery and dispatch read the same table.
//
//   const HookAdapter* hook = find_hook("order-select");
//   for (const fhir::Json* order : hook->orders_in_scope(request, record, nullptr)) ...
//
// Thread safety: immutable data and pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"

namespace cryo::cds {

struct HookRequest;

// A resource annotated with coverage-information beside the orders (an Appointment, the
// Encounter), with the references of the in-scope orders it covers ("ServiceRequest/sr-1").
struct AnnotatedResource {
  const fhir::Json* resource = nullptr;
  std::vector<std::string> orders;
};

struct HookAdapter {
  std::string_view hook;  // "order-sign"
  // A CRD primary hook: its answer always carries `systemActions` and may ask for
  // documentation. A secondary hook's cards are advisory: no documentation is asked for.
  bool primary = false;
  // The orders are named by reference (order-dispatch, appointment-book): when none of them
  // can be had, not even from the FHIR server, there is nothing to answer about (412).
  bool orders_by_reference = false;
  // The answer is the documentation check of a finished encounter (encounter-discharge): the
  // Instructions card lists the documents for the claim; no coverage card, no annotation.
  bool documentation_check = false;

  // Reads the hook's own part of `context` into `request`. Errors name the field.
  Status (*read_context)(const fhir::Json& context, HookRequest& request) = nullptr;
  // The orders this call is about, as found in `record`, without repeats. References that
  // `record` cannot resolve go to `unresolved` (when given).
  std::vector<const fhir::Json*> (*orders_in_scope)(const HookRequest& request,
                                                    const fhir::ResourceIndex& record,
                                                    std::vector<std::string>* unresolved) = nullptr;
  // The resources annotated beside the orders, each with the in-scope orders it covers
  // (those covering none are left out).
  std::vector<AnnotatedResource> (*annotated_resources)(
      const HookRequest& request, const fhir::ResourceIndex& record,
      std::span<const std::string> in_scope) = nullptr;
};

// Every hook the service answers.
extern const HookAdapter kOrderSignHook;
extern const HookAdapter kOrderSelectHook;
extern const HookAdapter kOrderDispatchHook;
extern const HookAdapter kAppointmentBookHook;
extern const HookAdapter kEncounterStartHook;
extern const HookAdapter kEncounterDischargeHook;

// The adapter of `hook`, or nullptr when the service does not answer it.
const HookAdapter* find_hook(std::string_view hook);

}  // namespace cryo::cds
