// kOrderReason: the order's reasonCode holding one of the codes makes a boolean fact true.
#include <utility>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {

using fhir::Json;
using fhir::member;
using fhir::string_or_empty;

void order_reason(const RecordView& x, const Source& src, std::vector<Evidence>& support) {
  const OrderContext& order = x.order();
  if (order.order == nullptr) return;
  for (const Json& reason : fhir::items(member(*order.order, "reasonCode"))) {
    if (!src.codes.matches(reason)) continue;
    Evidence e{fhir::ResourceIndex::key_of(*order.order), order.date_of_service.text,
               "Order reason: " + coding_text(&reason, &src.codes)};
    for (const Json& coding : fhir::items(member(reason, "coding"))) {
      if (!src.codes.matches(coding)) continue;
      e.system = std::string(string_or_empty(member(coding, "system")));
      e.code = std::string(string_or_empty(member(coding, "code")));
      break;
    }
    support.push_back(std::move(e));
  }
}

}  // namespace cryo::mappings::detail
