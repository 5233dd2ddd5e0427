// Checks a CDS Hooks 2.0 / Da Vinci CRD response the way a conforming CDS client reads it.
//
// Every function appends human-readable problems ("cards[0].summary is 152 characters (must be
// < 140)") to `problems`; an empty list means the part conforms. The functions never throw and
// tolerate any JSON shape, because the server under test is untrusted.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace cryo::conformance {

using Json = rapidjson::Value;
using Problems = std::vector<std::string>;

inline constexpr std::string_view kCoverageInfoUrl =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

// Discovery document: `services[]` with hook/id/description, prefetch templates, CRD
// configuration options.
void validate_discovery(const Json& body, Problems& problems);

// A prefetch template: tokens limited to `{{context.<field>}}` and the user tokens, and FHIR
// read/search syntax.
void validate_prefetch_template(std::string_view tmpl, Problems& problems);

// The response object: `cards` array (required), optional `systemActions` array, no JSON nulls
// or empty optional values.
void validate_response_shape(const Json& body, Problems& problems);

// One card (CDS Hooks 2.0 + CRD card rules).
void validate_card(const Json& card, const std::string& path, Problems& problems);

// One Action (suggestion action or system action). Coverage-information it carries is checked
// against `crd_version` ("2.0.1" when the request named none, "2.1", "2.2").
void validate_action(const Json& action, const std::string& path, Problems& problems,
                     std::string_view crd_version = "2.0.1");

// One ext-coverage-information extension instance against the definitions of one CRD version
// ("2.0.1", "2.1", "2.2"; see validate.cc's table): sub-extensions, cardinalities, the
// version's value sets, the `detail` shape (no policy-link in 2.0.1, `category` in 2.2) and the
// version's invariants.
void validate_coverage_information(const Json& extension, const std::string& path,
                                   Problems& problems, std::string_view crd_version = "2.0.1");

// How the Inferno CRD test kit classifies a card: "instructions" (no links, no suggestions),
// "external-reference" (links, all absolute), "launch-smart" (links, all smart), "suggestions"
// (propose alternate / additional orders / form completion), or "other".
std::string classify_card(const Json& card);

// Across the whole response: every coverage-information for the same coverage carries the same
// coverage-assertion-id, and different coverages carry different ids.
void validate_assertion_ids(const Json& response, Problems& problems);

// `updated` must equal `original` except for ext-coverage-information entries in `extension`.
void validate_order_preserved(const Json& original, const Json& updated, const std::string& path,
                              Problems& problems);

// The CRD ServiceRequest profile's required elements (status, intent, code, subject,
// authoredOn, requester).
void validate_crd_service_request(const Json& resource, const std::string& path,
                                  Problems& problems);

// True when the body is a FHIR OperationOutcome with at least one issue.
bool is_operation_outcome(std::string_view body);

// All coverage-information extensions directly on `resource`.
std::vector<const Json*> coverage_information_of(const Json& resource);

// The first sub-extension value (value[x]) named `url`, or nullptr.
const Json* sub_value(const Json& extension, std::string_view url);
// All sub-extension values named `url`.
std::vector<const Json*> sub_values(const Json& extension, std::string_view url);

// Number of Unicode code points in UTF-8 text.
size_t utf8_length(std::string_view text);

}  // namespace cryo::conformance
