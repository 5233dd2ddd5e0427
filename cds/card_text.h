// The words of the coverage card: its summary, indicator and Markdown detail.
//
// Summaries come from per-outcome templates in data (cds/data/card-text.json, which a policy
// analyst may edit; docs/card-text.md describes it). For each outcome the file lists candidate
// templates, most informative first; the first whose placeholders all have a value and whose
// rendering is under 140 characters is used, so a summary is never cut. Placeholders:
//   {payer} {cpt} {procedure} {criterion} {record} {also_unmet} {options} {n_options}
//   {missing_documents} {n_missing_documents} {to_document} {n_to_document} {send}
//   {rule_scope} {rule}
// Outcomes: covered, covered-documents-missing, covered-send-documents, prior-auth,
// prior-auth-documents-missing, conditional, conditional-prior-auth, program-rule,
// not-covered, not-covered-one-of, not-covered-program, not-covered-code,
// not-covered-indication.
//
// Indicators: covered -> info; conditional, program rules and prior auth needed -> warning;
// not covered -> warning, or critical for the policies listed under
// "not_covered_critical_policies" (their documents say the member may not be billed without
// written consent).
//
// Details fit a narrow card pane: the bottom line, the deciding criteria first (each with
// what the record shows, its evidence and date), "one of" groups phrased as one of, the
// documents as a checklist, then the other criteria as short lists; no tables. Every piece
// of text that came from the EHR record is escaped for CommonMark; links are http(s) only.
//
//   auto text = CardText::load("cds/data/card-text.json");   // at start-up
//   install_card_text(std::move(*text));
//   CardWords words = coverage_card_words(order);              // per card
//
// Thread safety: install before serving; afterwards everything is read-only.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cds/coverage_service.h"

namespace cryo::cds {

class CardText {
 public:
  // Reads and validates the file; errors name the file, the field and the problem.
  static Result<CardText> load(const std::filesystem::path& file);

  // Every policy id the file names, for checking against the loaded policies.
  const std::set<std::string>& critical_policies() const { return critical_policies_; }
  const std::string& file() const { return file_; }

  // The templates of an outcome ("" when the outcome has none).
  const std::vector<std::string>& summaries(std::string_view outcome) const;
  std::string_view payer_name(std::string_view payer_id, std::string_view fallback) const;

 private:
  std::string file_;
  std::map<std::string, std::vector<std::string>, std::less<>> summaries_;
  std::map<std::string, std::string, std::less<>> payer_names_;
  std::set<std::string> critical_policies_;
};

// The outcomes above, for validation.
const std::vector<std::string_view>& card_outcomes();

// The wording used by the response writer: installed at start-up; until then the bundled
// file (CRYO_CRD_HOME or the source tree) is read on first use.
void install_card_text(CardText text);
const CardText& card_text();

struct CardWords {
  std::string outcome;  // one of card_outcomes()
  std::string summary;  // < 140 characters
  std::string indicator;
  std::string detail;  // CommonMark
};

CardWords coverage_card_words(const OrderDetermination& order, const CardText& text = card_text());

// The policy (Guideline) card's summary: the payer and the policy title, or its document
// name when the title is too long; never cut.
std::string policy_card_summary(const policies::Determination& d);

// Escapes text for CommonMark inline content: every ASCII punctuation character gets a
// backslash, line breaks become spaces, control characters are dropped.
std::string markdown_escape(std::string_view text);

// Characters (code points) in UTF-8 text.
size_t utf8_length(std::string_view text);

}  // namespace cryo::cds
