#include "cds/record_completion.h"

#include <algorithm>
#include <optional>
#include <span>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/text.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

bool is_operation_outcome(const Json& value) {
  return value.IsObject() && string_or_empty(member(value, "resourceType")) == "OperationOutcome";
}

// Declared prefetch keys the request did not satisfy: absent, or answered with an
// OperationOutcome (the client could not get the data).
std::vector<mappings::PrefetchTemplate> missing_prefetch(
    const HookRequest& request, std::span<const mappings::PrefetchTemplate> templates) {
  std::vector<mappings::PrefetchTemplate> missing;
  for (const auto& t : templates) {
    const Json* value = member(request.prefetch, t.key);
    if (value == nullptr || is_operation_outcome(*value)) missing.push_back(t);
  }
  return missing;
}

// Every prefetch value, the hook's own resources and what a stored call brings.
fhir::ResourceIndex index_request(const HookRequest& request, StoredRecord stored) {
  fhir::ResourceIndex record;
  if (request.prefetch != nullptr) {
    for (auto it = request.prefetch->MemberBegin(); it != request.prefetch->MemberEnd(); ++it) {
      if (it->value.IsNull()) continue;
      record.add(it->value,
                 "prefetch." + std::string(it->name.GetString(), it->name.GetStringLength()));
    }
  }
  if (request.draft_orders != nullptr) record.add(*request.draft_orders, "context.draftOrders");
  if (request.appointments != nullptr) record.add(*request.appointments, "context.appointments");
  if (stored.answers != nullptr) record.add(*stored.answers, "questionnaireResponse");
  if (stored.fetched != nullptr) {
    for (const Json& doc : fhir::items(stored.fetched)) record.add(doc, "fetched");
  }
  return record;
}

bool required(const MissingData& missing) {
  return !missing.references.empty() ||
         std::any_of(missing.templates.begin(), missing.templates.end(),
                     [](const mappings::PrefetchTemplate& t) { return !t.optional; });
}

// "prefetch key coverage, ServiceRequest/sr-9": the required data missing.
std::string required_text(const MissingData& missing) {
  std::vector<std::string> what;
  for (const auto& m : missing.templates) {
    if (!m.optional) what.push_back("prefetch key " + m.key);
  }
  for (const auto& r : missing.references) what.push_back(r);
  return join(what, ", ");
}

// The fetcher's problems that matter: optional data that could not be had is no gap.
std::vector<std::string> gaps(fhir::FetchSummary& report, const MissingData& missing) {
  std::vector<std::string> out;
  for (std::string& p : report.problems) {
    bool optional = std::any_of(missing.templates.begin(), missing.templates.end(),
                                [&](const mappings::PrefetchTemplate& t) {
                                  return t.optional && p.starts_with(t.key + ":");
                                });
    if (!optional) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

MissingData missing_data(const HookRequest& request, const ServiceDefinition& service,
                         const mappings::MappingSet& mappings, const fhir::ResourceIndex& record) {
  MissingData missing;
  missing.templates =
      missing_prefetch(request, prefetch_for(service, mappings.prefetch_templates()));
  service.adapter->orders_in_scope(request, record, &missing.references);
  return missing;
}

std::variant<CompleteRecord, Refusal> RecordCompletion::complete(const HookRequest& request,
                                                                 const ServiceDefinition& service,
                                                                 StoredRecord stored) const {
  CompleteRecord out;
  out.record = index_request(request, stored);
  // A stored call decided again (DTR answers, a policy replay) has the record it had.
  if (!stored.any()) {
    if (std::optional<Refusal> refused = fetch_missing(request, service, out)) return *refused;
  }
  read_coverage(request, out);
  return out;
}

// What prefetch did not bring comes from the client's FHIR server, or the call cannot be
// answered (CDS Hooks: 412).
std::optional<Refusal> RecordCompletion::fetch_missing(const HookRequest& request,
                                                       const ServiceDefinition& service,
                                                       CompleteRecord& out) const {
  const MissingData missing = missing_data(request, service, mappings_, out.record);
  // Optional data left out is read only together with data that is read anyway.
  if (!required(missing)) return std::nullopt;
  const std::string what = required_text(missing);
  if (request.fhir_server.empty()) {
    return Refusal{412, "incomplete", what + " missing and no fhirServer was given to query"};
  }
  if (!fetcher_) {
    return Refusal{412, "incomplete",
                   what + " missing; this deployment does not query the client's FHIR server"};
  }
  fhir::FetchSummary report = fetcher_(request, missing, out.record);
  out.problems = gaps(report, missing);
  // CRD: answer with what could be had. Only a Coverage (or, for order-dispatch and
  // appointment-book, every order) that could not be had leaves nothing to answer about.
  const bool coverage_missing =
      std::find(report.missing.begin(), report.missing.end(), "coverage") != report.missing.end();
  const bool no_order = service.adapter->orders_by_reference && !request.order_references.empty() &&
                        service.adapter->orders_in_scope(request, out.record, nullptr).empty();
  if (coverage_missing || no_order) {
    std::string why = out.problems.empty() ? std::string("no answer") : join(out.problems, "; ");
    return Refusal{412, "incomplete",
                   what + " missing and the FHIR server at " + std::string(request.fhir_server) +
                       " could not supply them: " + why};
  }
  return std::nullopt;
}

// The Coverage; when it came without its payor Organization, that is read from the FHIR
// server.
void RecordCompletion::read_coverage(const HookRequest& request, CompleteRecord& out) const {
  out.coverage = mappings::read_coverage(out.record, mappings_);
  if (out.coverage.status != mappings::CoverageReading::kOne) return;
  if (!out.coverage.payer_identifiers.empty() || !fetcher_ || request.fhir_server.empty()) return;
  MissingData payor;
  for (const Json& p : fhir::items(member(out.coverage.coverage, "payor"))) {
    std::string_view ref = string_or_empty(member(p, "reference"));
    if (!ref.empty() && ref.front() != '#') payor.references.emplace_back(ref);
  }
  if (payor.references.empty()) return;
  fhir::FetchSummary report = fetcher_(request, payor, out.record);
  for (const auto& p : report.problems) out.problems.push_back(p);
  out.coverage = mappings::read_coverage(out.record, mappings_);
}

std::string fetched_documents_json(const fhir::ResourceIndex& record) {
  const std::vector<const fhir::JsonDocument*> read = record.adopted();
  if (read.empty()) return "";
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const fhir::JsonDocument* d : read) d->Accept(w);
  w.EndArray();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace cryo::cds
