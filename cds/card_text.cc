#include "cds/card_text.h"

#include "base/data_dir.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "base/log.h"
#include "base/text.h"
#include "base/thread_annotations.h"

namespace cryo::cds {
namespace {

using mappings::Truth;
using policies::Covered;
using policies::CriterionResult;
using policies::Determination;
using policies::DocNeeded;
using policies::DocPurpose;
using policies::PaNeeded;

constexpr size_t kMaxSummaryChars = 139;  // CDS Hooks: fewer than 140 characters

const std::vector<std::string_view> kOutcomes = {"covered",
                                                 "covered-documents-missing",
                                                 "covered-send-documents",
                                                 "prior-auth",
                                                 "prior-auth-documents-missing",
                                                 "conditional",
                                                 "conditional-prior-auth",
                                                 "program-rule",
                                                 "not-covered",
                                                 "not-covered-one-of",
                                                 "not-covered-program",
                                                 "not-covered-code",
                                                 "not-covered-indication"};

// ---- Plain text helpers ---------------------------------------------------------------------

// One line of plain text: control characters and line breaks become single spaces.
std::string one_line(std::string_view s) {
  std::string out;
  bool space = false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

// "E: three or fewer lesions" -> "three or fewer lesions"; "(a) fewer than 2" -> "fewer than 2".
std::string without_list_marker(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '(') ++i;
  size_t start = i;
  while (i < s.size() && i - start < 3 && std::isalnum(static_cast<unsigned char>(s[i]))) ++i;
  if (i < s.size() && s[i] == '.' && i + 1 < s.size() &&
      std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
    i += 2;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i == start || i >= s.size()) return std::string(s);
  if (s[i] != ':' && s[i] != ')' && !(s[i] == '.' && i + 1 < s.size() && s[i + 1] == ' ')) {
    return std::string(s);
  }
  ++i;
  if (i >= s.size() || s[i] != ' ') return std::string(s);
  while (i < s.size() && s[i] == ' ') ++i;
  return std::string(s.substr(i));
}

// Lower-cases the first letter unless the word looks like an acronym ("PSA", "T2").
std::string lower_first(std::string s) {
  if (s.size() >= 2 && std::isupper(static_cast<unsigned char>(s[0])) &&
      std::islower(static_cast<unsigned char>(s[1]))) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

// A sentence: ends with exactly one full stop (never "..").
std::string sentence(std::string_view s) {
  std::string out = one_line(s);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.empty()) return out;
  char last = out.back();
  if (last != '.' && last != '!' && last != '?' && last != ':') out += '.';
  if (last == ':') out.back() = '.';
  return out;
}

std::string count_of(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string date_only(std::string_view d) {
  return std::string(d.substr(0, std::min<size_t>(d.size(), 10)));
}

// ---- The criteria tree, from the pre-order rows -----------------------------------------------

std::vector<size_t> children_of(const std::vector<CriterionResult>& rows, size_t i) {
  std::vector<size_t> out;
  for (size_t j = i + 1; j < rows.size() && rows[j].depth > rows[i].depth; ++j) {
    if (rows[j].depth == rows[i].depth + 1) out.push_back(j);
  }
  return out;
}

size_t root_of(const std::vector<CriterionResult>& rows, std::string_view role) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].depth == 0 && rows[i].role == role) return i;
  }
  return rows.size();
}

// The rows that make row `i` have value `target`: leaves, "one of" groups and negations.
void causes(const std::vector<CriterionResult>& rows, size_t i, Truth target,
            std::vector<size_t>& out) {
  const CriterionResult& r = rows[i];
  if (r.value != target) return;
  auto kids = children_of(rows, i);
  if (!r.fact.empty() || kids.empty() || r.group == "not") {
    out.push_back(i);
    return;
  }
  if (r.group == "any") {
    std::vector<size_t> matching;
    for (size_t k : kids) {
      if (rows[k].value == target) matching.push_back(k);
    }
    if (matching.size() == 1) {
      causes(rows, matching.front(), target, out);
    } else {
      out.push_back(i);  // phrased as "one of"
    }
    return;
  }
  for (size_t k : kids) causes(rows, k, target, out);
}

std::string label_of(const CriterionResult& r) {
  return one_line(without_list_marker(r.label));
}

// As shown in a list: with a capital letter.
std::string shown_label(const CriterionResult& r) {
  std::string s = label_of(r);
  if (!s.empty() && std::islower(static_cast<unsigned char>(s[0])))
    s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// ---- Markdown ------------------------------------------------------------------------------

std::string md(std::string_view s) {
  return markdown_escape(s);
}

bool safe_link(std::string_view url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

// A link destination without characters that could end it early.
std::string link_destination(std::string_view url) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (char ch : url) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '(' || c == ')' || c == '<' || c == '>' || c == '\\' || c == 0x7F) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string_view mark(Truth t) {
  switch (t) {
    case Truth::kTrue:
      return "✔";
    case Truth::kFalse:
      return "✘";
    case Truth::kUnknown:
      return "?";
  }
  return "";
}

std::string evidence_md(const std::vector<mappings::Evidence>& evidence) {
  std::vector<std::string> parts;
  for (const auto& e : evidence) {
    std::string p = md(e.reference);
    if (!e.date.empty()) p += (p.empty() ? "" : ", ") + md(date_only(e.date));
    if (!e.text.empty()) p += (p.empty() ? "" : ": ") + md(one_line(e.text));
    if (!p.empty()) parts.push_back(std::move(p));
  }
  return join(parts, "; ");
}

// One criterion as a list item's text.
std::string criterion_md(const CriterionResult& r) {
  std::string s = std::string(mark(r.value)) + " " + md(shown_label(r));
  if (!r.fact.empty()) {
    if (r.observed.empty() || r.observed == "not documented" || r.observed == "not found") {
      s += " — not in the record";
    } else {
      s += " — record: " + md(one_line(r.observed));
    }
    std::string ev = evidence_md(r.evidence);
    if (!ev.empty()) s += " (" + ev + ")";
  }
  for (const auto& n : r.notes) s += ". Note: " + md(sentence(n));
  return s;
}

bool default_group_label(std::string_view label) {
  return label.empty() || label.starts_with("All of") || label.starts_with("At least one of") ||
         label.starts_with("One of") || label.starts_with("Any of");
}

// "One of these:" for the defaulted labels, "<label> — one of:" otherwise.
std::string group_heading(const CriterionResult& r) {
  std::string how = r.group == "any" ? "one of" : r.group == "not" ? "not" : "all of";
  if (default_group_label(r.label))
    return md(how == "one of" ? "One of these:" : how == "not" ? "Not:" : "All of these:");
  return md(shown_label(r)) + " — " + how + ":";
}

// The subtree at `i` as a nested list; rows in `skip` (already shown) are left out.
void tree_md(std::ostringstream& out, const std::vector<CriterionResult>& rows, size_t i, int level,
             const std::set<size_t>& skip = {}) {
  if (skip.contains(i)) return;
  std::string indent(static_cast<size_t>(level) * 2, ' ');
  const CriterionResult& r = rows[i];
  auto kids = children_of(rows, i);
  if (kids.empty() || !r.fact.empty()) {
    out << indent << "- " << criterion_md(r) << "\n";
    return;
  }
  out << indent << "- " << mark(r.value) << " " << group_heading(r) << "\n";
  for (size_t k : kids) tree_md(out, rows, k, level + 1, skip);
}

// A cause as a list item (with its options when it is a "one of" group).
void cause_md(std::ostringstream& out, const std::vector<CriterionResult>& rows, size_t i) {
  const CriterionResult& r = rows[i];
  if (r.group == "any" && r.fact.empty()) {
    out << "- " << mark(r.value) << " "
        << (r.value == Truth::kFalse ? "One of these is needed; none is met:"
                                     : "One of these is needed:")
        << "\n";
    for (size_t k : children_of(rows, i)) tree_md(out, rows, k, 1);
    return;
  }
  if (r.role == "indication" && !r.fact.empty()) {
    out << "- " << mark(r.value)
        << " Diagnosis: " << criterion_md(r).substr(mark(r.value).size() + 1) << "\n";
    return;
  }
  tree_md(out, rows, i, 0);
}

// ---- What decided, per outcome ------------------------------------------------------------------

struct Decided {
  const policies::SectionResult* section = nullptr;
  std::vector<size_t> rows;  // causes in section->rows
};

// The section and rows that decided: for not-covered the unmet criteria of the first section
// whose code is listed; for conditional the undocumented ones of every open section.
std::vector<Decided> deciding(const Determination& d) {
  std::vector<Decided> out;
  const Truth target = d.covered == Covered::kNotCovered ? Truth::kFalse : Truth::kUnknown;
  if (d.covered == Covered::kCovered) return out;
  for (const auto& s : d.sections) {
    if (target == Truth::kFalse && !s.code_listed) continue;
    if (s.result != target) continue;
    Decided dec;
    dec.section = &s;
    if (s.indication == target) {
      size_t ind = root_of(s.rows, "indication");
      if (ind < s.rows.size()) causes(s.rows, ind, target, dec.rows);
    }
    if (s.criteria == target) {
      size_t crit = root_of(s.rows, "criteria");
      if (crit < s.rows.size()) causes(s.rows, crit, target, dec.rows);
    }
    out.push_back(std::move(dec));
    if (target == Truth::kFalse) break;
  }
  return out;
}

std::string outcome_of(const Determination& d, const std::vector<Decided>& decided) {
  size_t missing = 0;
  for (const auto& doc : d.documents) missing += (doc.required && !doc.found);
  const bool pa = d.pa_needed == PaNeeded::kAuthNeeded;
  if (d.covered == Covered::kCovered) {
    if (pa) return missing > 0 ? "prior-auth-documents-missing" : "prior-auth";
    if (missing > 0) return "covered-documents-missing";
    return d.doc_needed == DocNeeded::kAbsent ? "covered" : "covered-send-documents";
  }
  if (d.covered == Covered::kConditional) {
    if (d.basis == "line-of-business") return "program-rule";
    return pa ? "conditional-prior-auth" : "conditional";
  }
  if (d.basis == "line-of-business") return "not-covered-program";
  if (decided.empty() || decided.front().rows.empty()) {
    bool listed = std::any_of(d.sections.begin(), d.sections.end(),
                              [](const auto& s) { return s.code_listed; });
    if (d.procedure.empty() || (!d.sections.empty() && !listed)) return "not-covered-code";
    return "not-covered-indication";
  }
  const auto& first = decided.front();
  const CriterionResult& r = first.section->rows[first.rows.front()];
  return r.group == "any" && r.fact.empty() ? "not-covered-one-of" : "not-covered";
}

// ---- Summary placeholders -----------------------------------------------------------------------

using Values = std::map<std::string, std::string, std::less<>>;

Values placeholders(const Determination& d, const std::vector<Decided>& decided,
                    const CardText& text) {
  Values v;
  v["payer"] = one_line(text.payer_name(d.payer_id, d.payer_name));
  v["cpt"] = one_line(d.billing_code);
  v["procedure"] = one_line(d.procedure);

  std::vector<std::string> missing_docs;
  for (const auto& doc : d.documents) {
    if (doc.required && !doc.found) missing_docs.push_back(lower_first(one_line(doc.title)));
  }
  if (!missing_docs.empty()) {
    v["missing_documents"] = join(missing_docs, ", ");
    v["n_missing_documents"] = count_of(missing_docs.size(), "document", "documents");
  }
  std::vector<std::string> send;
  for (const auto& r : d.requested_documents) send.push_back(lower_first(one_line(r)));
  if (!send.empty()) v["send"] = join(send, ", ");

  if (!d.reasons.empty() && d.basis == "line-of-business") {
    std::string reason = one_line(d.reasons.front());
    while (!reason.empty() && reason.back() == '.') reason.pop_back();
    auto colon = reason.find(": ");
    if (colon != std::string::npos) {
      v["rule_scope"] = reason.substr(0, colon);
      v["rule"] = reason.substr(colon + 2);
    } else {
      v["rule"] = reason;
    }
  }

  std::vector<std::string> to_document;
  size_t unmet = 0;
  size_t n_options_open = 0;
  for (const auto& dec : decided) {
    for (size_t i : dec.rows) {
      const CriterionResult& r = dec.section->rows[i];
      std::string label = lower_first(label_of(r));
      if (r.group == "any" && r.fact.empty()) {
        std::vector<std::string> options;
        for (size_t k : children_of(dec.section->rows, i)) {
          if (dec.section->rows[k].value == r.value)
            options.push_back(lower_first(label_of(dec.section->rows[k])));
        }
        if (d.covered == Covered::kNotCovered && v.find("options") == v.end() && unmet == 0) {
          v["options"] = join(options, "; ");
          v["n_options"] = std::to_string(options.size());
        }
        to_document.push_back("one of: " + join(options, " or "));
        n_options_open = options.size();
      } else {
        if (d.covered == Covered::kNotCovered && unmet == 0) {
          v["criterion"] = label;
          if (!r.observed.empty() && r.observed != "not documented")
            v["record"] = one_line(r.observed);
        }
        to_document.push_back(r.role == "indication" ? "the diagnosis (" + label + ")" : label);
      }
      ++unmet;
    }
  }
  if (d.covered == Covered::kNotCovered && unmet > 1) {
    v["also_unmet"] = count_of(unmet - 1, "more criterion", "more criteria");
  }
  if (d.covered == Covered::kConditional && !to_document.empty()) {
    v["to_document"] = join(to_document, "; ");
    v["n_to_document"] = count_of(to_document.size(), "item", "items");
    if (to_document.size() == 1 && n_options_open > 1) {
      v["n_to_document"] = "one of " + std::to_string(n_options_open) + " items";
    }
  }
  return v;
}

// Fills `{name}` placeholders; nullopt when one has no value.
std::optional<std::string> fill(std::string_view tmpl, const Values& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      out += tmpl[i];
      continue;
    }
    size_t end = tmpl.find('}', i);
    if (end == std::string_view::npos) return std::nullopt;
    auto it = values.find(tmpl.substr(i + 1, end - i - 1));
    if (it == values.end() || it->second.empty()) return std::nullopt;
    out += it->second;
    i = end;
  }
  return out;
}

std::string summary_of(const CardText& text, std::string_view outcome, const Values& values) {
  for (const auto& tmpl : text.summaries(outcome)) {
    auto s = fill(tmpl, values);
    if (s && utf8_length(*s) <= kMaxSummaryChars) return *s;
  }
  // No template fits: the payer and the outcome in the fewest words.
  std::string payer = values.at("payer");
  std::string tail = outcome.starts_with("not-covered")  ? ": not covered — see details"
                     : outcome.starts_with("covered")    ? ": covered — see details"
                     : outcome.starts_with("prior-auth") ? ": prior auth required — see details"
                                                         : ": not yet decided — see details";
  while (utf8_length(payer + tail) > kMaxSummaryChars && !payer.empty()) {
    do {
      payer.pop_back();
    } while (!payer.empty() && (static_cast<unsigned char>(payer.back()) & 0xC0) == 0x80);
  }
  return payer + tail;
}

std::string indicator_of(const Determination& d, std::string_view outcome, const CardText& text) {
  if (outcome.starts_with("not-covered")) {
    return text.critical_policies().contains(d.policy_id) ? "critical" : "warning";
  }
  if (outcome == "covered" || outcome == "covered-documents-missing" ||
      outcome == "covered-send-documents") {
    return "info";
  }
  return "warning";
}

std::string prior_auth_md(const Determination& d) {
  if (d.pa_needed == PaNeeded::kAuthNeeded)
    return "**required** — submit a prior authorization request before the procedure.";
  if (d.pa_needed == PaNeeded::kNoAuth) return "not required.";
  if (d.pa_needed == PaNeeded::kConditional) return "decided by the program's own rules.";
  return "not applicable (the service is not covered).";
}

std::string detail_of(const OrderDetermination& od, const std::vector<Decided>& decided,
                      std::string_view outcome) {
  const Determination& d = od.determination;
  std::ostringstream out;
  out << "CPT " << md(d.billing_code);
  if (!d.procedure.empty()) out << ", " << md(d.procedure);
  out << ". " << md(d.payer_name) << ", " << md(d.line_of_business) << ". Order "
      << md(od.order_reference) << ".\n\n";

  if (outcome.starts_with("not-covered")) {
    bool listed_any = false;
    for (const auto& dec : decided) {
      if (dec.rows.empty()) continue;
      out << "**Why not covered** (" << md(dec.section->title) << "):\n\n";
      for (size_t i : dec.rows) cause_md(out, dec.section->rows, i);
      out << "\n";
      listed_any = true;
    }
    if (!listed_any) {
      for (const auto& r : d.reasons) out << md(sentence(r)) << "\n\n";
    }
  } else if (outcome == "program-rule") {
    for (const auto& r : d.reasons) out << md(sentence(r)) << "\n\n";
  } else if (d.covered == Covered::kConditional) {
    for (const auto& dec : decided) {
      if (dec.rows.empty()) continue;
      out << "**To decide, document** (" << md(dec.section->title) << "):\n\n";
      for (size_t i : dec.rows) cause_md(out, dec.section->rows, i);
      out << "\n";
    }
  }

  out << "**Prior authorization:** " << prior_auth_md(d) << "\n\n";

  if (!d.documents.empty()) {
    out << "**Documents** (dated within the policy's window before the date of service):\n\n";
    for (const auto& doc : d.documents) {
      if (!doc.required) {
        out << "- ☐ Not needed — " << md(doc.title);
      } else if (doc.found) {
        out << "- ☑ " << md(doc.title) << " — found";
        if (!doc.date.empty()) out << " " << md(date_only(doc.date));
        if (!doc.reference.empty()) out << " (" << md(doc.reference) << ")";
      } else {
        out << "- ☐ " << md(doc.title) << " — **missing**";
      }
      if (!doc.note.empty()) out << ". " << md(sentence(doc.note));
      out << "\n";
    }
    out << "\n";
  }
  if (!d.requested_documents.empty()) {
    out << "**Send with the "
        << (d.doc_purpose == DocPurpose::kWithPa ? "prior authorization request" : "claim")
        << ":**\n\n";
    for (const auto& r : d.requested_documents) out << "- " << md(one_line(r)) << "\n";
    out << "\n";
  }

  // The other criteria, briefly, after what decided.
  for (const auto& s : d.sections) {
    if (s.rows.empty()) continue;
    out << "**" << md(s.title) << "** — "
        << (s.result == Truth::kTrue    ? "met"
            : s.result == Truth::kFalse ? "not met"
                                        : "not yet documented")
        << (s.code_listed ? "" : " (CPT " + md(d.billing_code) + " is not listed for it)")
        << ":\n\n";
    std::set<size_t> shown;  // the deciding rows are listed above
    for (const auto& dec : decided) {
      if (dec.section == &s) shown.insert(dec.rows.begin(), dec.rows.end());
    }
    for (size_t i = 0; i < s.rows.size(); ++i) {
      if (s.rows[i].depth == 0) tree_md(out, s.rows, i, 0, shown);
    }
    out << "\n";
  }

  for (const auto& notice : d.notices) out << "**Note:** " << md(sentence(notice)) << "\n\n";
  out << "Policy: " << md(d.payer_name) << " " << md(d.policy_document);
  if (!d.policy_revision.empty()) out << ", revision " << md(d.policy_revision);
  if (safe_link(od.policy_url))
    out << " — [read the policy](" << link_destination(od.policy_url) << ")";
  out << ". Coverage assertion "
      << md(od.current_assertion_id.empty() ? od.coverage_assertion_id : od.current_assertion_id)
      << ".";
  return out.str();
}

// ---- Loading ------------------------------------------------------------------------------------

Mutex g_mutex;
std::shared_ptr<const CardText> g_text GUARDED_BY(g_mutex);

// The bundled wording: the "card-text" data directory (base/data_dir.h).
std::filesystem::path bundled_file() {
  auto dir = find_data_dir("card-text");
  return dir ? *dir / "card-text.json" : std::filesystem::path("card-text.json");
}

}  // namespace

const std::vector<std::string_view>& card_outcomes() {
  return kOutcomes;
}

Result<CardText> CardText::load(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{name, "cannot be read"};
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    return Error{name, std::string("is not valid JSON (") +
                           rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
                           std::to_string(doc.GetErrorOffset()) + ")"};
  }
  if (!doc.IsObject()) return Error{name, "must be a JSON object"};
  CardText t;
  t.file_ = name;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string key(it->name.GetString(), it->name.GetStringLength());
    const auto& value = it->value;
    if (key == "about") continue;
    if (key == "payer_names") {
      if (!value.IsObject()) return Error{name + ": payer_names", "must be an object"};
      for (auto p = value.MemberBegin(); p != value.MemberEnd(); ++p) {
        if (!p->value.IsString() || p->value.GetStringLength() == 0)
          return Error{name + ": payer_names." + p->name.GetString(), "must be a non-empty string"};
        t.payer_names_[p->name.GetString()] = p->value.GetString();
      }
    } else if (key == "not_covered_critical_policies") {
      if (!value.IsArray())
        return Error{name + ": not_covered_critical_policies", "must be an array of policy ids"};
      for (const auto& id : value.GetArray()) {
        if (!id.IsString())
          return Error{name + ": not_covered_critical_policies", "must hold policy ids (strings)"};
        t.critical_policies_.insert(id.GetString());
      }
    } else if (key == "summaries") {
      if (!value.IsObject()) return Error{name + ": summaries", "must be an object"};
      for (auto o = value.MemberBegin(); o != value.MemberEnd(); ++o) {
        std::string outcome = o->name.GetString();
        std::string where = name + ": summaries." + outcome;
        if (std::find(kOutcomes.begin(), kOutcomes.end(), outcome) == kOutcomes.end())
          return Error{where, "is not an outcome (" +
                                  join({kOutcomes.begin(), kOutcomes.end()}, ", ") + ")"};
        if (!o->value.IsArray() || o->value.Empty())
          return Error{where, "must be a non-empty array of templates"};
        std::vector<std::string> templates;
        for (const auto& tmpl : o->value.GetArray()) {
          if (!tmpl.IsString()) return Error{where, "templates must be strings"};
          std::string s = tmpl.GetString();
          if (s.find("{payer}") == std::string::npos)
            return Error{where, "template '" + s + "' does not name the payer ({payer})"};
          templates.push_back(std::move(s));
        }
        t.summaries_[outcome] = std::move(templates);
      }
    } else {
      return Error{name + ": " + key, "is not a known setting"};
    }
  }
  for (auto outcome : kOutcomes) {
    if (!t.summaries_.contains(outcome))
      return Error{name + ": summaries." + std::string(outcome), "is missing"};
  }
  return t;
}

const std::vector<std::string>& CardText::summaries(std::string_view outcome) const {
  static const std::vector<std::string> none;
  auto it = summaries_.find(outcome);
  return it == summaries_.end() ? none : it->second;
}

std::string_view CardText::payer_name(std::string_view payer_id, std::string_view fallback) const {
  auto it = payer_names_.find(payer_id);
  return it == payer_names_.end() ? fallback : std::string_view(it->second);
}

void install_card_text(CardText text) {
  MutexLock lock(g_mutex);
  g_text = std::make_shared<const CardText>(std::move(text));
}

const CardText& card_text() {
  MutexLock lock(g_mutex);
  if (!g_text) {
    auto loaded = CardText::load(bundled_file());
    if (!loaded) {
      log::error("card wording not loaded; using the shortest summaries",
                 {{"error", loaded.error().to_string()}});
      g_text = std::make_shared<const CardText>();
    } else {
      g_text = std::make_shared<const CardText>(std::move(*loaded));
    }
  }
  return *g_text;
}

CardWords coverage_card_words(const OrderDetermination& od, const CardText& text) {
  const Determination& d = od.determination;
  auto decided = deciding(d);
  CardWords w;
  w.outcome = outcome_of(d, decided);
  w.summary = summary_of(text, w.outcome, placeholders(d, decided, text));
  w.indicator = indicator_of(d, w.outcome, text);
  w.detail = detail_of(od, decided, w.outcome);
  return w;
}

std::string policy_card_summary(const Determination& d) {
  for (const std::string& s : {d.payer_name + " policy for this order: " + d.policy_title,
                               d.payer_name + " policy: " + d.policy_document,
                               d.payer_name + ": the policy for this order"}) {
    std::string line = one_line(s);
    if (utf8_length(line) <= kMaxSummaryChars) return line;
  }
  return "The payer's policy for this order";
}

std::string markdown_escape(std::string_view text) {
  // Inline constructs only: the text never starts a line (it always follows a list marker or
  // other words), so block markers (# - + = 1.) cannot trigger. Brackets stop links and
  // images, < stops raw HTML and autolinks, & stops entities.
  static constexpr auto kSpecial = [] {
    std::array<bool, 256> special{};
    for (unsigned char c : std::string_view("\\`*_[]<>&!|~{}#")) special[c] = true;
    return special;
  }();
  std::string out;
  out.reserve(text.size() + 8);
  bool space = false;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    if (kSpecial[c]) out += '\\';
    out += ch;
  }
  return out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace cryo::cds
