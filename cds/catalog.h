// The CDS services this server offers and their discovery document.
//
// Each service answers one hook for every payer in the policy library, through that hook's
// adapter (cds/hook_adapters.h): the table here is what discovery lists and what a call is
// dispatched by. Discovery lists, per
// service: id, hook, title, description, the prefetch templates (from the mappings data plus the
// service's own, plain CDS Hooks 2.0 tokens only), the CRD versions served
// (`davinci-crd.version`) and the CRD configuration options (one boolean per card type the
// service returns, plus max-cards).
//
//   const ServiceDefinition* s = find_service("order-sign-crd");
//   std::string json = discovery_json(mappings.prefetch_templates());
//
// Thread safety: immutable data.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cds/hook_adapters.h"
#include "mappings/mapping_set.h"

namespace cryo::cds {

// The card types this service returns, as CRD card-type codes (configuration option codes).
inline constexpr std::string_view kCoverageInfoType = "coverage-info";
inline constexpr std::string_view kGuidelineType = "guideline";
// The Instructions card (no links, no suggestions): what the payer needs done. CRD's card-type
// list has no code for it, so it is a code of the service's own system.
inline constexpr std::string_view kInstructionsType = "instructions";
// The DTR launch card (a SMART app link): off unless the client asks for it, since CRD 2.1+
// launches DTR from the coverage-information instead (cards.md, "Launch SMART Application").
inline constexpr std::string_view kDtrLaunchType = "dtr-launch";
inline constexpr std::string_view kLocalCardTypeSystem =
    "http://cryocrd.org/fhir/CodeSystem/card-type";
inline constexpr int kDefaultMaxCards = 10;

// Card types a service returns (bit set), each with its own configuration option.
enum CardTypes : unsigned {
  kCoverageCards = 1,     // coverage-info: coverage card + coverage-information
  kPolicyCards = 2,       // guideline: External Reference card linking the policy
  kInstructionCards = 4,  // instructions: Instructions card
  kDtrLaunchCards = 8,    // dtr-launch: SMART link to the deployment's DTR app (default off)
};

// A prefetch template a service declares beyond the shared ones of the mappings data.
struct ServiceTemplate {
  std::string_view key;
  std::string_view query;
};

struct ServiceDefinition {
  std::string_view id;    // "order-sign-crd"
  std::string_view hook;  // "order-sign" (adapter->hook)
  std::string_view title;
  std::string_view description;
  unsigned card_types = kCoverageCards | kPolicyCards | kInstructionCards;
  std::span<const ServiceTemplate> own_prefetch = {};
  // How the hook is read and answered: its context, its orders in scope, what its answer
  // annotates and whether it is a primary hook (cds/hook_adapters.h).
  const HookAdapter* adapter = nullptr;
};

// All services, in discovery order.
std::span<const ServiceDefinition> services();

// The service with this id, or nullptr.
const ServiceDefinition* find_service(std::string_view id);

// The service's prefetch templates: the shared ones, then its own.
std::vector<mappings::PrefetchTemplate> prefetch_for(
    const ServiceDefinition& service, std::span<const mappings::PrefetchTemplate> shared);

// The discovery document (GET /cds-services).
// `dtr_launch`: the deployment has a DTR app to launch (the dtr-launch option is offered).
std::string discovery_json(std::span<const mappings::PrefetchTemplate> prefetch,
                           bool dtr_launch = false);

}  // namespace cryo::cds
