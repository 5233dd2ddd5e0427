// Internal to audit/: JSON handling for what the store keeps.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cryo::audit::json {

// The request body as stored: must be a JSON object; a top-level "fhirAuthorization" (the
// EHR's access token) is removed. Unchanged bytes when there was nothing to remove.
Result<std::string> strip_authorization(std::string request_json);

// The uuid of every card in a CDS Hooks response body (which must be a JSON object).
Result<std::vector<std::string>> card_uuids(std::string_view response_json);

// Whether `text` is one JSON value of the given kind.
bool is_array(std::string_view text);
bool is_object(std::string_view text);

// The look-up details of one determination as read back: the stored `lookup_json` plus
// "cards", each card of the stored response about `order_ref` (its
// davinci-crd.associated-resource), as sent. The cards are kept once, in the response, not
// again per determination. Details stored with their own "cards" are returned unchanged.
std::string lookup_with_cards(std::string lookup_json, std::string_view response_json,
                              std::string_view order_ref);

}  // namespace cryo::audit::json
