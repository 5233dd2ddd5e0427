// Open questions: which facts a conditional determination still waits for, and which of them
// can change it.
//
// A determination is settled when its result no longer depends on an unknown criterion: it
// is covered or not-covered, or a line-of-business rule decided it (no answer can change a
// program rule). Otherwise every criterion row whose value is unknown and whose every
// enclosing group (and its section) is still unknown can change the result; of those, a
// question that can settle it alone comes first: under an `any` one true answer is enough,
// under an `all` one false. The rows are the engine's own (Determination::sections), re-read
// with the engine's three-valued connectives, so the questions follow the policy's tree.
//
//   if (!settled(d)) {
//     for (const OpenQuestion& q : open_questions(d)) ask(q.fact, q.label);
//   }
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "policies/determination.h"

namespace cryo::policies {

struct OpenQuestion {
  std::string fact;       // the fact to ask for ("unresectable")
  std::string label;      // the policy's criterion label ("Tumor is unresectable")
  std::string condition;  // the test the criterion applies ("is true", "≤ 5 cm")
  std::string role;       // "indication" | "criteria"
  bool settles = false;   // one answer can settle the determination
};

// Whether answers can no longer change the determination.
bool settled(const Determination& d);

// The unknown facts that can change the determination, those that can settle it alone
// first, otherwise in the policy's order; one entry per fact. Empty when settled().
std::vector<OpenQuestion> open_questions(const Determination& d);

// Documents the record lacks whose supply can lift the documentation request: those required
// and not found when the order is covered and the request asks for nothing else.
std::vector<const DocumentCheck*> missing_documents(const Determination& d);

// Whether a questionnaire has anything to ask: open questions or missing documents.
bool has_questions(const Determination& d);

}  // namespace cryo::policies
