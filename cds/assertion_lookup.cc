#include "cds/assertion_lookup.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/json_writer.h"
#include "fhir/coding.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void kv(Writer& w, const char* key, std::string_view value) {
  if (value.empty()) return;
  write_json_member(w, key, value);
}

std::string day(std::string_view s) {
  return std::string(s.substr(0, std::min<size_t>(s.size(), 10)));
}

}  // namespace

std::string_view covered_words(policies::Covered covered) {
  switch (covered) {
    case policies::Covered::kCovered:
      return "Covered";
    case policies::Covered::kNotCovered:
      return "Not covered";
    case policies::Covered::kConditional:
      return "Conditional: more information is needed";
  }
  return code(covered);
}

std::string_view prior_auth_words(policies::PaNeeded pa_needed) {
  switch (pa_needed) {
    case policies::PaNeeded::kNoAuth:
      return "Not required";
    case policies::PaNeeded::kAuthNeeded:
      return "Required";
    case policies::PaNeeded::kConditional:
      return "Decided by the program's own rules";
    case policies::PaNeeded::kAbsent:
      return "Not applicable";
  }
  return code(pa_needed);
}

std::string_view documentation_words(policies::DocNeeded doc_needed,
                                     policies::DocPurpose doc_purpose) {
  if (doc_needed == policies::DocNeeded::kAbsent) return "None requested";
  if (doc_purpose == policies::DocPurpose::kWithPa)
    return "Clinical documentation, with the prior authorization request";
  if (doc_purpose == policies::DocPurpose::kWithClaim)
    return "Clinical documentation, with the claim";
  return "Clinical documentation";
}

std::string date_of_service_text(const Json& order) {
  using fhir::member;
  using fhir::string_or_empty;
  std::string_view v = string_or_empty(member(order, "occurrenceDateTime"));
  if (v.empty()) v = string_or_empty(member(member(order, "occurrencePeriod"), "start"));
  if (v.empty()) {
    for (const Json& e : fhir::items(member(member(order, "occurrenceTiming"), "event"))) {
      v = string_or_empty(&e);
      break;
    }
  }
  if (v.empty()) v = string_or_empty(member(order, "start"));  // Appointment
  if (v.empty()) v = string_or_empty(member(order, "authoredOn"));
  return day(v);
}

void fill_lookup(const HookOutcome& outcome, const OrderDetermination& od,
                 audit::DeterminationRecord& rec) {
  const policies::Determination& d = od.determination;
  rec.member_id = outcome.member_id;
  rec.billing_code = d.billing_code;
  // (od.order may be gone: the recorder runs after the call, when a document the call
  // fetched the order from is freed.)
  rec.date_of_service = od.date_of_service;

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("member");
  w.StartObject();
  kv(w, "id", outcome.member_id);
  kv(w, "coverage", outcome.coverage_reference);
  w.EndObject();
  w.Key("payer");
  w.StartObject();
  kv(w, "id", d.payer_id);
  kv(w, "name", d.payer_name);
  w.EndObject();
  kv(w, "lineOfBusiness", d.line_of_business);
  w.Key("billingCode");
  w.StartObject();
  kv(w, "system", fhir::kCpt);
  kv(w, "code", d.billing_code);
  kv(w, "display", d.procedure);
  w.EndObject();
  kv(w, "dateOfService", rec.date_of_service);
  kv(w, "outcome", covered_words(d.covered));
  kv(w, "priorAuthorization", prior_auth_words(d.pa_needed));
  kv(w, "documentation", documentation_words(d.doc_needed, d.doc_purpose));
  w.Key("reasons");
  w.StartArray();
  for (const auto& r : d.reasons) w.String(r.c_str());
  w.EndArray();
  w.Key("documents");
  w.StartArray();
  for (const auto& doc : d.documents) {
    w.StartObject();
    kv(w, "title", doc.title);
    kv(w, "status", !doc.required ? "not needed" : doc.found ? "found" : "missing");
    kv(w, "reference", doc.reference);
    kv(w, "date", doc.date);
    w.EndObject();
  }
  w.EndArray();
  w.Key("policy");
  w.StartObject();
  kv(w, "id", d.policy_id);
  kv(w, "document", d.policy_document);
  kv(w, "title", d.policy_title);
  kv(w, "revision", d.policy_revision);
  kv(w, "dataHash", d.data_hash);
  w.EndObject();
  w.EndObject();
  rec.lookup_json.assign(buffer.GetString(), buffer.GetSize());
}

}  // namespace cryo::cds
