// The policy page: one self-contained HTML page per policy (no scripts, no external assets),
// for clinicians who follow a card's link. Every text from the policy file is escaped.
#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"
#include "policies/policy.h"

namespace cryo::policies {
namespace {

class Page {
 public:
  void raw(std::string_view s) { out_ += s; }
  void text(std::string_view s) { out_ += html_escape(s); }
  // <tag>escaped text</tag>
  void element(std::string_view tag, std::string_view s) {
    out_ += "<";
    out_ += tag;
    out_ += ">";
    text(s);
    out_ += "</";
    out_ += tag;
    out_ += ">\n";
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void criterion(Page& page, const Criterion& c) {
  page.raw("<li>");
  page.text(c.label);
  switch (c.kind) {
    case Criterion::Kind::kBoolean:
      page.raw(" <span class=\"fact\">");
      page.text(c.fact + (c.expected ? " is true" : " is false"));
      page.raw("</span>");
      break;
    case Criterion::Kind::kCategory:
      page.raw(" <span class=\"fact\">");
      page.text(c.fact + (c.members.size() == 1 ? " is " : " is one of ") + join(c.members, ", "));
      page.raw("</span>");
      break;
    case Criterion::Kind::kCompare:
      page.raw(" <span class=\"fact\">");
      page.text(c.fact + " " + c.condition);
      page.raw("</span>");
      break;
    default:
      break;
  }
  if (!c.interpretation.empty()) {
    page.raw("<div class=\"note\">Interpretation: ");
    page.text(c.interpretation);
    page.raw("</div>");
  }
  if (!c.children.empty()) {
    page.raw("\n<ul>\n");
    for (const Criterion& child : c.children) criterion(page, child);
    page.raw("</ul>\n");
  }
  page.raw("</li>\n");
}

void tree(Page& page, const Criterion& c) {
  page.raw("<ul class=\"tree\">\n");
  criterion(page, c);
  page.raw("</ul>\n");
}

constexpr std::string_view kStyle =
    R"(body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d5dae3;padding-bottom:.2rem}h3{font-size:1.05rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d5dae3;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f1f4f8}
.meta{color:#4a5466}.fact{font-family:ui-monospace,monospace;font-size:.85em;color:#4a5466;background:#f1f4f8;padding:0 .25rem;border-radius:3px}
.note{font-size:.9em;color:#5b4a00;background:#fff8db;padding:.3rem .5rem;margin:.3rem 0;border-radius:3px}ul.tree,ul.tree ul{padding-left:1.3rem}
)";

std::string outcome_text(const LobRule& r) {
  switch (r.outcome) {
    case LobRule::Outcome::kCriteria:
      return "Criteria below apply";
    case LobRule::Outcome::kNotCovered:
      return "Not covered";
    case LobRule::Outcome::kProgramRule:
      return "Conditional: another program's rules decide";
  }
  return "";
}

// The page's head and the policy's identity: title, payers, revision, source document.
void heading(Page& page, const Policy& p, const std::vector<Payer>& payers) {
  page.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
  page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  page.element("title", p.title + " | " + p.document);
  page.raw("<style>");
  page.raw(kStyle);
  page.raw("</style>\n</head>\n<body>\n");
  page.element("h1", p.title);

  std::vector<std::string> payer_names;
  for (const std::string& id : p.payers) {
    std::string name = id;
    for (const Payer& payer : payers) {
      if (payer.id == id) name = payer.name;
    }
    payer_names.push_back(name);
  }
  page.raw("<p class=\"meta\">");
  page.text(join(payer_names, ", ") + " · " + p.document + " · revision " + p.revision);
  page.raw("</p>\n");
  if (!p.revision_note.empty()) page.element("p", p.revision_note);
  if (p.revision_history.size() > 1 || !p.effective_from.empty()) {
    // The date of service picks the revision that decides an order.
    page.element("p", "Revisions (the one in force on the date of service decides): " +
                          join(p.revision_history, "; ") + ".");
  }
  page.raw("<p class=\"meta\">Source document: <span class=\"fact\">");
  page.text(p.source_file);
  page.raw("</span> · policy id <span class=\"fact\">");
  page.text(p.id);
  page.raw("</span></p>\n");
}

// Each procedure code: the indications that list it and whether it needs prior authorization.
void procedures(Page& page, const Policy& p) {
  page.element("h2", "Procedure codes");
  page.raw(
      "<table>\n<tr><th>CPT</th><th>Procedure</th><th>Listed for</th><th>Prior "
      "authorization</th></tr>\n");
  for (const Procedure& proc : p.procedures) {
    std::vector<std::string> listed;
    for (const Section& s : p.sections) {
      for (const std::string& c : s.codes) {
        if (c == proc.code) listed.push_back(s.title);
      }
    }
    page.raw("<tr><td>");
    page.text(proc.code);
    page.raw("</td><td>");
    page.text(proc.display);
    page.raw("</td><td>");
    page.text(listed.empty() ? "no indication (not covered under the criteria)"
                             : join(listed, "; "));
    page.raw("</td><td>");
    page.text(p.prior_auth_required(proc.code) ? "required" : "not required");
    page.raw("</td></tr>\n");
  }
  page.raw("</table>\n");
  if (!p.prior_auth_note.empty()) page.element("p", "Prior authorization: " + p.prior_auth_note);
}

// The line-of-business rules that decide before the criteria.
void lines_of_business(Page& page, const Policy& p) {
  if (p.lob_rules.empty()) return;
  page.element("h2", "Lines of business");
  page.raw(
      "<table>\n<tr><th>Payer</th><th>Line of business</th><th>Codes</th><th>Result</th>"
      "<th>Why</th></tr>\n");
  for (const LobRule& r : p.lob_rules) {
    std::vector<std::string> lobs;
    for (const std::string& l : r.lines_of_business) {
      lobs.push_back(l == "*" ? "any other line of business" : l);
    }
    page.raw("<tr><td>");
    page.text(r.payer.empty() ? "all" : r.payer);
    page.raw("</td><td>");
    page.text(join(lobs, ", "));
    page.raw("</td><td>");
    page.text(r.codes.empty() ? "all" : join(r.codes, ", "));
    page.raw("</td><td>");
    page.text(outcome_text(r));
    page.raw("</td><td>");
    page.text(r.reason.empty() ? r.note : r.reason);
    if (!r.interpretation.empty()) {
      page.raw("<div class=\"note\">Interpretation: ");
      page.text(r.interpretation);
      page.raw("</div>");
    }
    page.raw("</td></tr>\n");
  }
  page.raw("</table>\n");
  page.element("p", "Lines of business not named here follow the criteria below.");
}

// Each indication: its codes, its indication and criteria trees, how it is read.
void coverage_criteria(Page& page, const Policy& p) {
  if (p.sections.empty()) return;
  page.element("h2", "Coverage criteria");
  page.element("p",
               "Covered when the criteria of at least one indication are met for a code listed "
               "for that indication. A fact the record does not show leaves the result "
               "conditional until it is documented.");
  for (const Section& s : p.sections) {
    page.raw("<section>\n");
    page.element("h3", s.title);
    page.element("p", "Codes: " + join(s.codes, ", "));
    if (s.has_indication) {
      page.raw("<p>Indication:</p>\n");
      tree(page, s.indication);
    } else {
      page.element("p", "Applies to orders for the codes above.");
    }
    page.raw("<p>Criteria:</p>\n");
    tree(page, s.criteria);
    if (!s.interpretation.empty()) {
      page.raw("<div class=\"note\">Interpretation: ");
      page.text(s.interpretation);
      page.raw("</div>\n");
    }
    page.raw("</section>\n");
  }
}

// The documents the payer wants, when each is needed, and what the request must include.
void documentation(Page& page, const Documentation& doc) {
  if (doc.required_documents.empty() && doc.request_must_include.empty()) return;
  page.element("h2", "Documentation");
  if (!doc.window_note.empty()) page.element("p", doc.window_note);
  if (!doc.required_documents.empty()) {
    page.raw("<table>\n<tr><th>Document</th><th>LOINC document types</th><th>When</th></tr>\n");
    for (const RequiredDocument& d : doc.required_documents) {
      page.raw("<tr><td>");
      page.text(d.title);
      page.raw("</td><td>");
      page.text(join(d.codes, " or "));
      page.raw("</td><td>");
      if (d.has_condition) {
        page.text("not needed when: " + d.required_unless.label);
      } else {
        page.text("always");
      }
      if (!d.note.empty()) {
        page.raw("<div class=\"note\">");
        page.text(d.note);
        page.raw("</div>");
      }
      page.raw("</td></tr>\n");
    }
    page.raw("</table>\n");
  }
  if (!doc.request_must_include.empty()) {
    page.raw("<p>The request must include:</p>\n<ul>\n");
    for (const std::string& item : doc.request_must_include) page.element("li", item);
    page.raw("</ul>\n");
  }
  if (!doc.note.empty()) page.element("p", doc.note);
}

// A titled bulleted list (notices, how the policy is read); nothing when empty.
void bullets(Page& page, std::string_view title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  page.element("h2", title);
  page.raw("<ul>\n");
  for (const std::string& n : items) page.element("li", n);
  page.raw("</ul>\n");
}

}  // namespace

std::string render_policy_page(const Policy& p, const std::vector<Payer>& payers) {
  Page page;
  heading(page, p, payers);
  procedures(page, p);
  lines_of_business(page, p);
  coverage_criteria(page, p);
  documentation(page, p.documentation);
  bullets(page, "Notices", p.notices);
  bullets(page, "How this policy is read", p.interpretation);
  page.raw("</body>\n</html>\n");
  return page.take();
}

}  // namespace cryo::policies
