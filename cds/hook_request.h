// HookRequest: a CDS Hooks 2.0 service call, validated.
//
// read_hook_request() checks what the service relies on — `hook`, `hookInstance`,
// `context.patientId`, the hook's own context as its adapter reads it (cds/hook_adapters.h:
// `draftOrders` Bundle for order-sign and order-select, plus `selections` for order-select;
// `dispatchedOrders` and `performer` for order-dispatch, also in their kebab-case and older
// spellings; the `appointments` Bundle for appointment-book; `encounterId` for
// encounter-start and encounter-discharge), the shape of `prefetch` and `fhirAuthorization` —
// and reads the CRD configuration sent in
// `extension["davinci-crd.configuration"]` and the CRD version asked for in
// `extension["davinci-crd.requestedVersion"]`. Unknown context elements and unknown
// configuration options are ignored, as CRD requires. All views point into the parsed
// request document, which must outlive the HookRequest.
//
//   Result<HookRequest> r = read_hook_request(doc, "order-sign");
//   if (!r) return bad_request(r.error().to_string());
//
// Thread safety: plain values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "fhir/json.h"

namespace cryo::cds {

// The CRD configuration a client sent (extension["davinci-crd.configuration"]), applied on
// top of the service's defaults.
struct CardConfiguration {
  std::map<std::string, bool, std::less<>> enabled;  // card-type code -> on/off (sent ones)
  std::optional<int> max_cards;

  // Whether cards of `type` may be returned (default: on, or `default_on`).
  bool allows(std::string_view type, bool default_on = true) const;
};

struct HookRequest {
  std::string_view hook;
  std::string_view hook_instance;
  std::string_view fhir_server;   // "" when absent
  bool has_access_token = false;  // fhirAuthorization.access_token present
  std::string_view access_token;  // for FHIR queries only; never logged or stored
  std::string_view patient_id;
  std::string_view user_id;
  std::string_view encounter_id;
  const fhir::Json* context = nullptr;
  const fhir::Json* draft_orders = nullptr;  // the draftOrders Bundle (order hooks)
  std::vector<std::string_view> selections;  // order-select: "Type/id" of selected orders
  // order-dispatch: the dispatched orders; appointment-book: the orders the proposed
  // appointments are basedOn. References ("ServiceRequest/123"), resolved later.
  std::vector<std::string_view> order_references;
  const fhir::Json* appointments = nullptr;  // appointment-book: the Bundle of Appointments
  std::string_view performer;                // order-dispatch
  const fhir::Json* prefetch = nullptr;      // object or nullptr
  CardConfiguration configuration;
  // CRD 2.2: extension["davinci-crd.requestedVersion"] ("" when the client named none).
  std::string_view requested_version;
  // The calling client: the verified token issuer, "" for an unsigned call. Set by the
  // service from the transport's authentication, never read from the request body.
  std::string_view client;
};

struct HookAdapter;

// Validates `request` as a call of `hook`: the common fields, then the hook's own context
// (HookAdapter::read_context), the prefetch and the CRD extensions. Errors name the field and
// the problem.
Result<HookRequest> read_hook_request(const fhir::Json& request, const HookAdapter& hook);

// The same for the hook named `expected_hook` (cds/hook_adapters.h find_hook; a hook the
// service does not answer gets the common checks only).
Result<HookRequest> read_hook_request(const fhir::Json& request, std::string_view expected_hook);

// What the readers of a request's parts report: `where` is the field ("context.selections").
Error request_error(std::string where, std::string message);

// A required non-empty string member `name` of `object` (at JSON path `path`), or an error
// naming it.
Result<std::string_view> required_string(const fhir::Json* object, std::string_view name,
                                         std::string_view path);

}  // namespace cryo::cds
