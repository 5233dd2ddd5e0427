#include "cds/hook_adapters.h"

#include <algorithm>
#include <array>
#include <functional>
#include <set>

#include "cds/hook_request.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

// --- Reading the context -------------------------------------------------------------------

// order-sign and order-select: the draftOrders Bundle.
Status read_draft_orders(const Json& context, HookRequest& r) {
  const Json* orders = member(context, "draftOrders");
  if (orders == nullptr) return request_error("context.draftOrders", "is required");
  if (!orders->IsObject() || string_or_empty(member(orders, "resourceType")) != "Bundle") {
    return request_error("context.draftOrders", "must be a FHIR Bundle");
  }
  const Json* entries = member(orders, "entry");
  if (entries != nullptr && !entries->IsArray()) {
    return request_error("context.draftOrders.entry", "must be an array");
  }
  r.draft_orders = orders;
  return {};
}

// order-select: the draft orders and which of them are selected.
Status read_selected_orders(const Json& context, HookRequest& r) {
  if (auto s = read_draft_orders(context, r); !s) return s;
  const Json* selections = member(context, "selections");
  if (selections == nullptr) return request_error("context.selections", "is required");
  if (!selections->IsArray()) return request_error("context.selections", "must be an array");
  for (const Json& s : fhir::items(selections)) {
    if (!s.IsString())
      return request_error("context.selections", "must hold strings like 'ServiceRequest/123'");
    r.selections.emplace_back(s.GetString(), s.GetStringLength());
  }
  return {};
}

// order-dispatch: the dispatched orders (references) and the performer. The hook's table says
// dispatchedOrders; its example and older versions say dispatched-orders and order. All are
// accepted.
Status read_dispatched_orders(const Json& context, HookRequest& r) {
  const Json* dispatched = nullptr;
  std::string_view name;
  for (std::string_view n : {"dispatchedOrders", "dispatched-orders", "order"}) {
    if ((dispatched = member(context, n)) != nullptr) {
      name = n;
      break;
    }
  }
  if (dispatched == nullptr) return request_error("context.dispatchedOrders", "is required");
  auto add = [&](const Json& v) -> Status {
    if (!v.IsString() || v.GetStringLength() == 0) {
      return request_error("context." + std::string(name),
                           "must hold references like 'ServiceRequest/123'");
    }
    r.order_references.emplace_back(v.GetString(), v.GetStringLength());
    return {};
  };
  if (dispatched->IsArray()) {
    for (const Json& v : dispatched->GetArray()) {
      if (auto s = add(v); !s) return s;
    }
  } else if (auto s = add(*dispatched); !s) {
    return s;
  }
  r.performer = string_or_empty(member(context, "performer"));
  return {};
}

// appointment-book: the Appointments, and the orders each is based on (references).
Status read_appointments(const Json& context, HookRequest& r) {
  const Json* appointments = member(context, "appointments");
  if (appointments == nullptr) return request_error("context.appointments", "is required");
  if (!appointments->IsObject() ||
      string_or_empty(member(appointments, "resourceType")) != "Bundle") {
    return request_error("context.appointments", "must be a FHIR Bundle of Appointments");
  }
  r.appointments = appointments;
  for (const Json& entry : fhir::items(member(appointments, "entry"))) {
    const Json* appointment = member(entry, "resource");
    if (string_or_empty(member(appointment, "resourceType")) != "Appointment") continue;
    for (const Json& based_on : fhir::items(member(appointment, "basedOn"))) {
      std::string_view ref = string_or_empty(member(based_on, "reference"));
      if (!ref.empty()) r.order_references.push_back(ref);
    }
  }
  return {};
}

// encounter-start and encounter-discharge: the encounter.
Status read_encounter(const Json& context, HookRequest& r) {
  auto encounter = required_string(&context, "encounterId", "context");
  if (!encounter) return encounter.error();
  r.encounter_id = *encounter;
  return {};
}

// --- The orders in scope -------------------------------------------------------------------

// Every draft order (order-sign).
std::vector<const Json*> draft_orders(const HookRequest& r, const fhir::ResourceIndex&,
                                      std::vector<std::string>*) {
  std::vector<const Json*> orders;
  for (const Json& entry : fhir::items(member(r.draft_orders, "entry"))) {
    const Json* resource = member(entry, "resource");
    if (resource != nullptr && resource->IsObject()) orders.push_back(resource);
  }
  return orders;
}

// The selected draft orders (order-select).
std::vector<const Json*> selected_orders(const HookRequest& r, const fhir::ResourceIndex& record,
                                         std::vector<std::string>* unresolved) {
  std::set<std::string, std::less<>> selected(r.selections.begin(), r.selections.end());
  std::vector<const Json*> orders = draft_orders(r, record, unresolved);
  std::erase_if(orders, [&](const Json* order) {
    return !selected.contains(fhir::ResourceIndex::key_of(*order));
  });
  return orders;
}

// The orders named by reference, as resolved in the record (order-dispatch, appointment-book).
std::vector<const Json*> referenced_orders(const HookRequest& r, const fhir::ResourceIndex& record,
                                           std::vector<std::string>* unresolved) {
  std::vector<const Json*> orders;
  std::set<std::string> seen;
  for (std::string_view ref : r.order_references) {
    const Json* order = record.resolve(ref);
    if (order == nullptr) {
      if (unresolved) unresolved->emplace_back(ref);
      continue;
    }
    if (seen.insert(fhir::ResourceIndex::key_of(*order)).second) orders.push_back(order);
  }
  return orders;
}

// The patient's orders placed in the encounter (read with the encounterOrders template).
std::vector<const Json*> encounter_orders(const HookRequest& r, const fhir::ResourceIndex& record,
                                          std::vector<std::string>*) {
  std::vector<const Json*> orders;
  const std::string encounter = "Encounter/" + std::string(r.encounter_id);
  const std::string patient = "Patient/" + std::string(r.patient_id);
  for (const Json* order : record.of_type("ServiceRequest")) {
    if (string_or_empty(member(member(order, "encounter"), "reference")) == encounter &&
        string_or_empty(member(member(order, "subject"), "reference")) == patient)
      orders.push_back(order);
  }
  return orders;
}

// --- What is annotated beside the orders ---------------------------------------------------

std::vector<AnnotatedResource> orders_only(const HookRequest&, const fhir::ResourceIndex&,
                                           std::span<const std::string>) {
  return {};
}

// CRD 2.0.1: each proposed Appointment carries the coverage-information of the in-scope
// orders it is based on (appointment-book).
std::vector<AnnotatedResource> appointments(const HookRequest& r, const fhir::ResourceIndex& record,
                                            std::span<const std::string> in_scope) {
  std::vector<AnnotatedResource> out;
  for (const Json& entry : fhir::items(member(r.appointments, "entry"))) {
    const Json* appointment = member(entry, "resource");
    if (string_or_empty(member(appointment, "resourceType")) != "Appointment") continue;
    AnnotatedResource a{appointment, {}};
    for (const Json& b : fhir::items(member(*appointment, "basedOn"))) {
      const Json* order = record.resolve(string_or_empty(member(b, "reference")));
      if (order == nullptr) continue;
      std::string key = fhir::ResourceIndex::key_of(*order);
      if (std::find(in_scope.begin(), in_scope.end(), key) != in_scope.end())
        a.orders.push_back(std::move(key));
    }
    if (!a.orders.empty()) out.push_back(std::move(a));
  }
  return out;
}

// The Encounter that is starting carries the coverage-information of all its orders.
std::vector<AnnotatedResource> the_encounter(const HookRequest& r,
                                             const fhir::ResourceIndex& record,
                                             std::span<const std::string> in_scope) {
  const Json* encounter = record.find("Encounter", r.encounter_id);
  if (encounter == nullptr || in_scope.empty()) return {};
  return {AnnotatedResource{encounter, {in_scope.begin(), in_scope.end()}}};
}

}  // namespace

const HookAdapter kOrderSignHook{.hook = "order-sign",
                                 .primary = true,
                                 .read_context = read_draft_orders,
                                 .orders_in_scope = draft_orders,
                                 .annotated_resources = orders_only};

const HookAdapter kOrderSelectHook{.hook = "order-select",
                                   .read_context = read_selected_orders,
                                   .orders_in_scope = selected_orders,
                                   .annotated_resources = orders_only};

const HookAdapter kOrderDispatchHook{.hook = "order-dispatch",
                                     .primary = true,
                                     .orders_by_reference = true,
                                     .read_context = read_dispatched_orders,
                                     .orders_in_scope = referenced_orders,
                                     .annotated_resources = orders_only};

const HookAdapter kAppointmentBookHook{.hook = "appointment-book",
                                       .primary = true,
                                       .orders_by_reference = true,
                                       .read_context = read_appointments,
                                       .orders_in_scope = referenced_orders,
                                       .annotated_resources = appointments};

const HookAdapter kEncounterStartHook{.hook = "encounter-start",
                                      .read_context = read_encounter,
                                      .orders_in_scope = encounter_orders,
                                      .annotated_resources = the_encounter};

const HookAdapter kEncounterDischargeHook{.hook = "encounter-discharge",
                                          .documentation_check = true,
                                          .read_context = read_encounter,
                                          .orders_in_scope = encounter_orders,
                                          .annotated_resources = orders_only};

const HookAdapter* find_hook(std::string_view hook) {
  static constexpr std::array<const HookAdapter*, 6> kHooks = {
      &kOrderSignHook,   &kOrderDispatchHook,  &kAppointmentBookHook,
      &kOrderSelectHook, &kEncounterStartHook, &kEncounterDischargeHook};
  for (const HookAdapter* h : kHooks) {
    if (h->hook == hook) return h;
  }
  return nullptr;
}

}  // namespace cryo::cds
