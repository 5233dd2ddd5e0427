// A self-contained HTML page showing one stored coverage assertion, for payer staff who look
// up the coverage-assertion-id quoted on a claim. Inline style only, no scripts, no external
// resources; every stored value is HTML-escaped.
//
//   auto a = store->find_assertion(id);   // every order annotated under the id
//   if (a.ok() && !a->empty()) { respond(200, "text/html; charset=utf-8",
//   render_assertion_page(*a)); }
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "audit/store.h"
#include "base/text.h"

namespace cryo::audit {

// One page for an assertion id: each order's determination and criteria, then the hook call.
std::string render_assertion_page(std::span<const AssertionRecord> orders);
std::string render_assertion_page(const AssertionRecord& assertion);

// Escapes & < > " ' for HTML text and attribute values.
using cryo::html_escape;

}  // namespace cryo::audit
