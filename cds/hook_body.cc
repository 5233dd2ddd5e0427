#include "cds/hook_body.h"

#include <string_view>

namespace cryo::cds {
namespace {

using fhir::Json;
using fhir::member;

// Resources (objects with a resourceType) and references in a request body.
struct Census {
  size_t resources = 0;
  size_t references = 0;
};

void take_census(const Json& value, Census& census) {
  if (value.IsObject()) {
    for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (name == "resourceType" && it->value.IsString()) ++census.resources;
      if (name == "reference" && it->value.IsString()) ++census.references;
      take_census(it->value, census);
    }
  } else if (value.IsArray()) {
    for (const auto& item : value.GetArray()) take_census(item, census);
  }
}

constexpr size_t kNoCap = std::numeric_limits<size_t>::max();

// The per-call caps on what one request may carry; "" when within them.
std::string over_caps(const Json& doc, const BodyLimits& limits) {
  if (const Json* context = member(doc, "context")) {
    if (const Json* drafts = member(*context, "draftOrders")) {
      const Json* entries = member(*drafts, "entry");
      size_t n = entries != nullptr && entries->IsArray() ? entries->Size() : 0;
      if (n > limits.max_draft_orders) {
        return "the call carries " + std::to_string(n) +
               " draft orders; this service accepts at most " +
               std::to_string(limits.max_draft_orders) + " per call (server.max_draft_orders)";
      }
    }
  }
  if (limits.max_resources == kNoCap && limits.max_references == kNoCap) return "";
  Census census;
  take_census(doc, census);
  if (census.resources > limits.max_resources) {
    return "the call carries " + std::to_string(census.resources) +
           " resources; this service accepts at most " + std::to_string(limits.max_resources) +
           " per call (server.max_resources)";
  }
  if (census.references > limits.max_references) {
    return "the call carries " + std::to_string(census.references) +
           " references; this service accepts at most " + std::to_string(limits.max_references) +
           " per call (server.max_references)";
  }
  return "";
}

}  // namespace

std::optional<Refusal> parse_hook_body(std::string& body, fhir::JsonDocument& doc,
                                       const BodyLimits& limits) {
  if (auto err = fhir::parse_in_place(body, doc, limits.parse)) {
    bool too_large = err->kind == fhir::ParseError::kTooLarge;
    return Refusal{too_large ? 413 : 400, too_large ? "too-long" : "structure",
                   "the request body is not acceptable JSON: " + err->message};
  }
  if (std::string over = over_caps(doc, limits); !over.empty()) {
    return Refusal{400, "too-costly", std::move(over)};
  }
  if (limits.refuse_nul_in_hook_instance &&
      fhir::string_or_empty(member(doc, "hookInstance")).find('\0') != std::string_view::npos) {
    return Refusal{400, "invalid", "hookInstance must not contain U+0000"};
  }
  return std::nullopt;
}

}  // namespace cryo::cds
