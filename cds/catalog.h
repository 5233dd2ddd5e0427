// The CDS services this server offers and their discovery document.
//
// Each service answers one hook for every payer in the policy library. Discovery lists, per
// service: id, hook, title, description, the prefetch templates (from the mappings data, plain
// CDS Hooks 2.0 tokens only) and the CRD configuration options (one boolean per card type the
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

#include "mappings/mapping_set.h"

namespace cryo::cds {

// The card types this service returns, as CRD card-type codes (configuration option codes).
inline constexpr std::string_view kCoverageInfoType = "coverage-info";
inline constexpr std::string_view kGuidelineType = "guideline";
inline constexpr int kDefaultMaxCards = 10;

struct ServiceDefinition {
  std::string_view id;    // "order-sign-crd"
  std::string_view hook;  // "order-sign"
  std::string_view title;
  std::string_view description;
  bool primary;  // CRD primary hook: always answers with coverage-information
};

// All services, in discovery order.
std::span<const ServiceDefinition> services();

// The service with this id, or nullptr.
const ServiceDefinition* find_service(std::string_view id);

// The discovery document (GET /cds-services).
std::string discovery_json(std::span<const mappings::PrefetchTemplate> prefetch);

}  // namespace cryo::cds
