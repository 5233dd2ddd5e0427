// DTR: the payer's questions for a determination that is conditional (criteria the record
// does not show) or covered with documents missing, and the answers that decide it (Da Vinci
// DTR 2.1, adaptive questionnaires).
//
// Routes (registered by add_dtr_routes, client tokens checked as for hook calls, every call
// audited in the store beside the hook calls):
//   POST /Questionnaire/$questionnaire-package   Parameters {context: coverage-assertion-id,
//        order?: the ServiceRequest, coverage?, questionnaire?} -> Parameters {PackageBundle:
//        collection Bundle [adaptive Questionnaire, draft QuestionnaireResponse]} per order
//   POST /Questionnaire/$next-question           Parameters {questionnaire-response} (or the
//        QuestionnaireResponse itself) -> Parameters {return: QuestionnaireResponse}
//
// Nothing here is written per policy: the questions are the determination's unknown
// criteria (policies/questions.h) in the policy's own labels, each item linked to its fact
// (linkId = fact id, code from the criteria CodeSystem) and typed by the fact's kind (boolean;
// quantity in the fact's unit; integer for counts; choice of the scale's or category's codes);
// missing documents are attachment items (linkId "document-" + LOINC type). $next-question
// decides the stored hook call again with the answers as evidence (the mappings read them,
// mappings/data/reading-rules.json "questionnaireAnswers") and asks the one question that
// can settle the decision first; once it is settled (or nothing left can change it) the
// response is completed and carries the decision in CRD's coverage-information extension
// under the call's coverage-assertion-id. docs/dtr.md has the flow.
//
// Thread safety: the handlers may run concurrently (service and store are thread-safe).
#pragma once

#include <functional>
#include <string>

#include "audit/store.h"
#include "cds/coverage_service.h"
#include "cds/http_server.h"
#include "fhir/resource_index.h"

namespace cryo::cds {

// The audit store keeps each DTR call as a call of this service (hook "dtr-questionnaire-package"
// or "dtr-next-question"); it is no CDS service, so `policies replay` leaves these calls out.
inline constexpr std::string_view kDtrServiceId = "dtr";

// The canonical URL of the questionnaire of a policy ("{base}/Questionnaire/{policy-id}").
std::string questionnaire_canonical(std::string_view base_url, std::string_view policy_id);

// The coverage-assertion-id whose questions a completed (or amended) QuestionnaireResponse
// of the patient in `record` answers for order `order_ref` (its coverage-information and
// context extensions, as this service handed them out); "" when there is none. The caller
// confirms with the store that the id was handed out for that order, patient and client.
std::string answered_assertion(const fhir::ResourceIndex& record, std::string_view order_ref,
                               std::string_view patient_id);

// Told when answers completed a questionnaire for a patient (the EHR stores the completed
// response next): the client's verified issuer, the stored call's fhirServer and the patient.
using AnswersCompleted = std::function<void(std::string_view client, std::string_view fhir_server,
                                            std::string_view patient_id)>;

void add_dtr_routes(HttpServer& server, const CoverageService& service, audit::AuditStore& store,
                    AnswersCompleted completed = {});

}  // namespace cryo::cds
