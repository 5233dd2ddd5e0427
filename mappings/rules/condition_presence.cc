// kConditionPresence: an active Condition with the codes, or of a post-coordinated shape,
// makes a boolean fact true; an unconfirmed one would.
#include <utility>

#include "mappings/detail/extraction.h"

namespace cryo::mappings::detail {

void condition_presence(RecordView& x, const Source& src, std::vector<Evidence>& support,
                        std::vector<Evidence>& unconfirmed) {
  for (const Item& c : x.conditions()) {
    if (c.code == nullptr) continue;
    Evidence e;
    if (has(src.codes, c)) {
      e = evidence(c, "Condition " + coding_text(c.code, &src.codes) + " (active)", &src.codes);
    } else if (const auto* p = x.matching_pattern(c, src.post_coordinated)) {
      e = evidence(c, "Condition " + pattern_text(c) + " (active)", &p->codes);
    } else {
      continue;
    }
    if (c.unconfirmed) {
      e.text = unconfirmed_text(c);
      unconfirmed.push_back(std::move(e));
    } else {
      support.push_back(std::move(e));
    }
  }
}

}  // namespace cryo::mappings::detail
