// The one reader of a hook call's body: the HTTP route, `cryo-crd evaluate`, the fuzz target
// and the benchmarks all parse a request through it, so they apply the same limits.
//
// The body is parsed once, in place (RapidJSON ParseInsitu): the buffer is modified and must
// outlive the document, whose strings point into it. Then the per-call caps are checked (draft
// orders, resources, references) and, for a server that keeps its calls, that hookInstance
// holds no U+0000.
//
//   fhir::JsonDocument doc;
//   if (auto refused = parse_hook_body(body, doc, limits)) return reply(*refused);
//
// Thread safety: pure function of its inputs.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>

#include "cds/refusal.h"
#include "fhir/json.h"

namespace cryo::cds {

struct BodyLimits {
  fhir::ParseLimits parse;  // size and depth -> 413 / 400
  // Per-call caps (server.max_draft_orders, max_resources, max_references) -> 400
  // "too-costly"; none unless set.
  size_t max_draft_orders = std::numeric_limits<size_t>::max();
  size_t max_resources = std::numeric_limits<size_t>::max();
  size_t max_references = std::numeric_limits<size_t>::max();
  // Refuse a hookInstance holding U+0000: ids differing only after a NUL must never be
  // confused, and PostgreSQL cannot keep one (the server's calls are stored).
  bool refuse_nul_in_hook_instance = false;
};

// Parses `body` in place into `doc` and checks it against `limits`; nullopt when acceptable.
std::optional<Refusal> parse_hook_body(std::string& body, fhir::JsonDocument& doc,
                                       const BodyLimits& limits);

}  // namespace cryo::cds
