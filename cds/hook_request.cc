#include "cds/hook_request.h"

#include <algorithm>
#include <string>

#include "cds/hook_adapters.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

Status read_extensions(const Json& request, HookRequest& out) {
  const Json* ext = member(request, "extension");
  if (ext == nullptr) return {};
  if (!ext->IsObject()) return request_error("extension", "must be an object");
  if (const Json* version = member(ext, "davinci-crd.requestedVersion")) {
    if (!version->IsString() || version->GetStringLength() == 0) {
      return request_error("extension.davinci-crd.requestedVersion",
                           "must be a version string such as \"2.2\"");
    }
    out.requested_version = string_or_empty(version);
  }
  const Json* cfg = member(ext, "davinci-crd.configuration");
  if (cfg == nullptr) return {};
  if (!cfg->IsObject())
    return request_error("extension.davinci-crd.configuration", "must be an object");
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

// `hook` (the service's) and `hookInstance`.
Status read_identity(const Json& request, std::string_view expected_hook, HookRequest& r) {
  auto hook = required_string(&request, "hook", "");
  if (!hook) return hook.error();
  r.hook = *hook;
  if (r.hook != expected_hook) {
    return request_error("hook", "'" + std::string(r.hook) +
                                     "' is not the hook of this service ('" +
                                     std::string(expected_hook) + "')");
  }
  auto instance = required_string(&request, "hookInstance", "");
  if (!instance) return instance.error();
  r.hook_instance = *instance;
  if (r.hook_instance.size() > 128)
    return request_error("hookInstance", "is longer than 128 characters");
  return {};
}

// `fhirServer` and `fhirAuthorization`.
Status read_fhir_server(const Json& request, HookRequest& r) {
  if (const Json* server = member(request, "fhirServer")) {
    if (!server->IsString()) return request_error("fhirServer", "must be a string (a URL)");
    r.fhir_server = string_or_empty(server);
  }
  if (const Json* auth = member(request, "fhirAuthorization")) {
    if (!auth->IsObject()) return request_error("fhirAuthorization", "must be an object");
    if (r.fhir_server.empty()) {
      return request_error("fhirServer", "is required when fhirAuthorization is provided");
    }
    const Json* token = member(auth, "access_token");
    if (token == nullptr || !token->IsString()) {
      return request_error("fhirAuthorization.access_token", "is required and must be a string");
    }
    r.has_access_token = true;
    r.access_token = string_or_empty(token);
  }
  return {};
}

// `context` and what every hook's context holds: the patient, the user, the encounter.
Status read_common_context(const Json& request, HookRequest& r) {
  const Json* context = member(request, "context");
  if (context == nullptr) return request_error("context", "is required");
  if (!context->IsObject()) return request_error("context", "must be an object");
  r.context = context;
  auto patient = required_string(context, "patientId", "context");
  if (!patient) return patient.error();
  r.patient_id = *patient;
  r.user_id = string_or_empty(member(context, "userId"));
  r.encounter_id = string_or_empty(member(context, "encounterId"));
  return {};
}

// `prefetch`: an object of resources, Bundles or nulls.
Status read_prefetch(const Json& request, HookRequest& r) {
  const Json* prefetch = member(request, "prefetch");
  if (prefetch == nullptr || prefetch->IsNull()) return {};
  if (!prefetch->IsObject()) return request_error("prefetch", "must be an object");
  for (auto it = prefetch->MemberBegin(); it != prefetch->MemberEnd(); ++it) {
    if (!it->value.IsNull() && !it->value.IsObject()) {
      return request_error("prefetch." + std::string(it->name.GetString()),
                           "must be a FHIR resource, a Bundle or null");
    }
  }
  r.prefetch = prefetch;
  return {};
}

Result<HookRequest> read(const Json& request, std::string_view expected_hook,
                         const HookAdapter* adapter) {
  if (!request.IsObject()) return request_error("", "the request body must be a JSON object");
  HookRequest r;
  if (auto s = read_identity(request, expected_hook, r); !s) return s.error();
  if (auto s = read_fhir_server(request, r); !s) return s.error();
  if (auto s = read_common_context(request, r); !s) return s.error();
  if (adapter != nullptr) {
    if (auto s = adapter->read_context(*r.context, r); !s) return s.error();
  }
  if (auto s = read_prefetch(request, r); !s) return s.error();
  if (auto s = read_extensions(request, r); !s) return s.error();
  return r;
}

}  // namespace

Error request_error(std::string where, std::string message) {
  return Error{std::move(where), std::move(message)};
}

Result<std::string_view> required_string(const Json* object, std::string_view name,
                                         std::string_view path) {
  const Json* v = member(object, name);
  std::string where = std::string(path);
  if (!where.empty()) where += ".";
  where += name;
  if (v == nullptr) return request_error(where, "is required");
  if (!v->IsString()) return request_error(where, "must be a string");
  if (v->GetStringLength() == 0) return request_error(where, "must not be empty");
  return std::string_view(v->GetString(), v->GetStringLength());
}

bool CardConfiguration::allows(std::string_view type, bool default_on) const {
  auto it = enabled.find(type);
  return it == enabled.end() ? default_on : it->second;
}

Result<HookRequest> read_hook_request(const Json& request, const HookAdapter& hook) {
  return read(request, hook.hook, &hook);
}

Result<HookRequest> read_hook_request(const Json& request, std::string_view expected_hook) {
  return read(request, expected_hook, find_hook(expected_hook));
}

}  // namespace cryo::cds
