#include "cds/hook_request.h"

#include <algorithm>
#include <string>

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

Error invalid(std::string where, std::string message) {
  return Error{std::move(where), std::move(message)};
}

// A required non-empty string member, or an error naming it.
Result<std::string_view> required_string(const Json* object, std::string_view name,
                                         std::string_view path) {
  const Json* v = member(object, name);
  std::string where = std::string(path);
  if (!where.empty()) where += ".";
  where += name;
  if (v == nullptr) return invalid(where, "is required");
  if (!v->IsString()) return invalid(where, "must be a string");
  if (v->GetStringLength() == 0) return invalid(where, "must not be empty");
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::string_view optional_string(const Json* object, std::string_view name) {
  return string_or_empty(member(object, name));
}

Status read_extensions(const Json& request, HookRequest& out) {
  const Json* ext = member(request, "extension");
  if (ext == nullptr) return {};
  if (!ext->IsObject()) return invalid("extension", "must be an object");
  if (const Json* version = member(ext, "davinci-crd.requestedVersion")) {
    if (!version->IsString() || version->GetStringLength() == 0) {
      return invalid("extension.davinci-crd.requestedVersion",
                     "must be a version string such as \"2.2\"");
    }
    out.requested_version = string_or_empty(version);
  }
  const Json* cfg = member(ext, "davinci-crd.configuration");
  if (cfg == nullptr) return {};
  if (!cfg->IsObject()) return invalid("extension.davinci-crd.configuration", "must be an object");
  for (auto it = cfg->MemberBegin(); it != cfg->MemberEnd(); ++it) {
    std::string_view code(it->name.GetString(), it->name.GetStringLength());
    if (code == "max-cards") {
      // Nonsensical values are handled gracefully: a negative limit means no cards.
      if (it->value.IsInt()) out.configuration.max_cards = std::max(0, it->value.GetInt());
      continue;
    }
    // Unknown or non-boolean options are ignored, as CRD requires.
    if (it->value.IsBool())
      out.configuration.enabled.emplace(std::string(code), it->value.GetBool());
  }
  return {};
}

bool is_order_hook(std::string_view hook) {
  return hook == "order-sign" || hook == "order-select";
}

}  // namespace

bool CardConfiguration::allows(std::string_view type, bool default_on) const {
  auto it = enabled.find(type);
  return it == enabled.end() ? default_on : it->second;
}

Result<HookRequest> read_hook_request(const Json& request, std::string_view expected_hook) {
  if (!request.IsObject()) return invalid("", "the request body must be a JSON object");
  HookRequest r;
  auto hook = required_string(&request, "hook", "");
  if (!hook) return hook.error();
  r.hook = *hook;
  if (r.hook != expected_hook) {
    return invalid("hook", "'" + std::string(r.hook) + "' is not the hook of this service ('" +
                               std::string(expected_hook) + "')");
  }
  auto instance = required_string(&request, "hookInstance", "");
  if (!instance) return instance.error();
  r.hook_instance = *instance;
  if (r.hook_instance.size() > 128) return invalid("hookInstance", "is longer than 128 characters");

  if (const Json* server = member(request, "fhirServer")) {
    if (!server->IsString()) return invalid("fhirServer", "must be a string (a URL)");
    r.fhir_server = string_or_empty(server);
  }
  if (const Json* auth = member(request, "fhirAuthorization")) {
    if (!auth->IsObject()) return invalid("fhirAuthorization", "must be an object");
    if (r.fhir_server.empty()) {
      return invalid("fhirServer", "is required when fhirAuthorization is provided");
    }
    const Json* token = member(auth, "access_token");
    if (token == nullptr || !token->IsString()) {
      return invalid("fhirAuthorization.access_token", "is required and must be a string");
    }
    r.has_access_token = true;
    r.access_token = string_or_empty(token);
  }

  const Json* context = member(request, "context");
  if (context == nullptr) return invalid("context", "is required");
  if (!context->IsObject()) return invalid("context", "must be an object");
  r.context = context;
  auto patient = required_string(context, "patientId", "context");
  if (!patient) return patient.error();
  r.patient_id = *patient;
  r.user_id = optional_string(context, "userId");
  r.encounter_id = optional_string(context, "encounterId");

  if (is_order_hook(r.hook)) {
    const Json* orders = member(context, "draftOrders");
    if (orders == nullptr) return invalid("context.draftOrders", "is required");
    if (!orders->IsObject() || string_or_empty(member(orders, "resourceType")) != "Bundle") {
      return invalid("context.draftOrders", "must be a FHIR Bundle");
    }
    const Json* entries = member(orders, "entry");
    if (entries != nullptr && !entries->IsArray()) {
      return invalid("context.draftOrders.entry", "must be an array");
    }
    r.draft_orders = orders;
  }
  if (r.hook == "order-dispatch") {
    // The hook's table says dispatchedOrders; its example and older versions say
    // dispatched-orders and order. All are accepted.
    const Json* dispatched = nullptr;
    std::string_view name;
    for (std::string_view n : {"dispatchedOrders", "dispatched-orders", "order"}) {
      if ((dispatched = member(context, n)) != nullptr) {
        name = n;
        break;
      }
    }
    if (dispatched == nullptr) return invalid("context.dispatchedOrders", "is required");
    auto add = [&](const Json& v) -> Status {
      if (!v.IsString() || v.GetStringLength() == 0) {
        return invalid("context." + std::string(name),
                       "must hold references like 'ServiceRequest/123'");
      }
      r.order_references.emplace_back(v.GetString(), v.GetStringLength());
      return {};
    };
    if (dispatched->IsArray()) {
      for (const Json& v : dispatched->GetArray()) {
        if (auto s = add(v); !s) return s.error();
      }
    } else if (auto s = add(*dispatched); !s) {
      return s.error();
    }
    r.performer = optional_string(context, "performer");
  }
  if (r.hook == "appointment-book") {
    const Json* appointments = member(context, "appointments");
    if (appointments == nullptr) return invalid("context.appointments", "is required");
    if (!appointments->IsObject() ||
        string_or_empty(member(appointments, "resourceType")) != "Bundle") {
      return invalid("context.appointments", "must be a FHIR Bundle of Appointments");
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
  }
  if (r.hook == "order-select") {
    const Json* selections = member(context, "selections");
    if (selections == nullptr) return invalid("context.selections", "is required");
    if (!selections->IsArray()) return invalid("context.selections", "must be an array");
    for (const Json& s : fhir::items(selections)) {
      if (!s.IsString())
        return invalid("context.selections", "must hold strings like 'ServiceRequest/123'");
      r.selections.emplace_back(s.GetString(), s.GetStringLength());
    }
  }

  if (const Json* prefetch = member(request, "prefetch")) {
    if (!prefetch->IsNull()) {
      if (!prefetch->IsObject()) return invalid("prefetch", "must be an object");
      for (auto it = prefetch->MemberBegin(); it != prefetch->MemberEnd(); ++it) {
        if (!it->value.IsNull() && !it->value.IsObject()) {
          return invalid("prefetch." + std::string(it->name.GetString()),
                         "must be a FHIR resource, a Bundle or null");
        }
      }
      r.prefetch = prefetch;
    }
  }
  if (r.hook == "encounter-start" || r.hook == "encounter-discharge") {
    auto encounter = required_string(context, "encounterId", "context");
    if (!encounter) return encounter.error();
    r.encounter_id = *encounter;
  }
  if (auto s = read_extensions(request, r); !s) return s.error();
  return r;
}

}  // namespace cryo::cds
