// Reading and validating payers.json and the policy files (format: docs/policy-format.md).
//
// Files are read by base/json_file.h (syntax errors, duplicate keys and limits refused with
// their line and column), and every object's keys are checked against the keys the format
// defines, so a misspelt key fails the load instead of being ignored. Every problem is
// collected (not only the first): each independent part (a key, a procedure, a section, a
// criterion, a rule) is checked on its own and returns its problem, which is recorded and
// the reading goes on; each problem is reported with its JSON path, located to a line and
// column in its file.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json_file.h"
#include "fhir/quantity.h"
#include "policies/policy.h"

namespace cryo::policies {
namespace {

using json::in_quotes;
using json::index_path;
using json::into;
using json::join_path;
using json::Node;
using json::Object;
using json::Value;
using mappings::Comparison;
using mappings::FactKind;

// The problems of the file being read.
class Problems {
 public:
  void add(Error e) { errors_.push_back(std::move(e)); }
  void add(std::string path, std::string message) {
    add(Error{std::move(path), std::move(message)});
  }
  // Records the problem of one part, if any; whether the part was read.
  bool note(const Status& s) {
    if (!s) add(s.error());
    return s.ok();
  }
  template <class T, class U>
  bool note(Result<T> r, U& out) {
    return note(into(std::move(r), out));
  }
  // The object at `node`, each of its keys outside `keys` recorded; an error when `node` is
  // no object.
  Result<Object> object(const Node& node, std::initializer_list<std::string_view> keys) {
    std::vector<Error> unknown;
    Result<Object> o = Object::of(node, keys, unknown);
    for (Error& e : unknown) add(std::move(e));
    return o;
  }
  const std::vector<Error>& errors() const { return errors_; }

 private:
  std::vector<Error> errors_;
};

std::string_view kind_name(FactKind kind) {
  switch (kind) {
    case FactKind::kBoolean:
      return "boolean";
    case FactKind::kMeasure:
      return "measure";
    case FactKind::kOrdinal:
      return "ordinal";
    case FactKind::kCategory:
      return "category";
  }
  return "unknown";
}

// "a, b, c or d".
std::string one_of(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += items[i];
  }
  return out;
}

// "a, b, c, d, " (a list that goes on).
std::string listing(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += item + ", ";
  return out;
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool is_loinc(std::string_view code) {
  size_t dash = code.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 2 != code.size()) return false;
  return std::all_of(code.begin(), code.begin() + static_cast<long>(dash),
                     [](char c) { return c >= '0' && c <= '9'; }) &&
         code.back() >= '0' && code.back() <= '9';
}

std::string format_value(double v, const std::string& unit) {
  std::string s = fhir::format_number(v);
  return unit.empty() || unit == "1" ? s : s + " " + unit;
}

struct OpInfo {
  Comparison comparison;
  std::string_view symbol;
};

std::optional<OpInfo> parse_op(std::string_view op) {
  if (op == "<") return OpInfo{Comparison::kLess, "<"};
  if (op == "<=") return OpInfo{Comparison::kLessOrEqual, "≤"};
  if (op == ">") return OpInfo{Comparison::kGreater, ">"};
  if (op == ">=") return OpInfo{Comparison::kGreaterOrEqual, "≥"};
  if (op == "=") return OpInfo{Comparison::kEqual, "="};
  return std::nullopt;
}

// Plausible thresholds: a value outside these is a typo (700 cm, -1 lesions), not a policy.
// By fact where the scale is its own (scores, counts), else by the fact's unit.
struct Range {
  double low;
  double high;
  bool integer;
  std::string_view what;
};

std::optional<Range> plausible_range(std::string_view fact, std::string_view unit) {
  if (fact == "gleason-score") return Range{2, 10, true, "a Gleason score (2 to 10)"};
  if (fact.find("count") != std::string_view::npos)
    return Range{0, 100, true, "a count of lesions (0 to 100)"};
  if (unit == "cm") return Range{0, 30, false, "a lesion size in cm (0 to 30)"};
  if (unit == "mm") return Range{0, 300, false, "a lesion size in mm (0 to 300)"};
  if (unit == "ng/mL") return Range{0, 1000, false, "a PSA in ng/mL (0 to 1000)"};
  if (unit == "1") return Range{0, 1000, false, "a number (0 to 1000)"};
  return std::nullopt;
}

bool is_iso_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  int month = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

class PolicyParser {
 public:
  PolicyParser(const std::vector<Payer>& payers, const FactVocabulary& vocabulary,
               Problems& problems)
      : payers_(payers), vocabulary_(vocabulary), problems_(problems) {}

  // One Policy per revision (a file without "revisions" is one revision).
  std::vector<Policy> parse(const Node& root) {
    auto o = problems_.object(root, {"id", "title", "document", "source_file", "revision",
                                     "revision_note", "effective_from", "effective_to", "revisions",
                                     "payers", "procedures", "lines_of_business", "sections",
                                     "prior_auth", "documentation", "notices", "interpretation"});
    if (!o) {
      problems_.add(o.error());
      return {};
    }
    Policy base = parse_identity(*o);
    std::vector<Policy> out;
    if (!o->has("revisions")) {
      Policy p = base;
      note(o->string("revision"), p.revision);
      note(o->optional_string("revision_note"), p.revision_note);
      note(read_dates(*o, p));
      parse_content(*o, nullptr, p);
      out.push_back(std::move(p));
      return out;
    }
    for (std::string_view k : {"revision", "revision_note", "effective_from", "effective_to"}) {
      if (o->has(k))
        problems_.add(o->at(k), in_quotes(k) + " belongs in each entry of 'revisions'");
    }
    note(parse_revisions(*o, base, out));
    return out;
  }

 private:
  template <class T, class U>
  bool note(Result<T> r, U& out) {
    return problems_.note(std::move(r), out);
  }
  bool note(const Status& s) { return problems_.note(s); }

  // What every revision shares: id, titles, payers, procedures.
  Policy parse_identity(const Object& o) {
    Policy base;
    note(o.string("id"), base.id);
    note(o.string("title"), base.title);
    note(o.string("document"), base.document);
    note(o.string("source_file"), base.source_file);
    note(o.strings("payers"), base.payers);
    if (base.payers.empty() && o.has("payers")) {
      problems_.add("payers", "a policy needs at least one payer");
    }
    for (size_t i = 0; i < base.payers.size(); ++i) {
      if (find_payer(base.payers[i]) == nullptr) {
        problems_.add(index_path("payers", i),
                      "unknown payer " + in_quotes(base.payers[i]) + " (not in payers.json)");
      }
    }
    note(parse_procedures(o, base));
    return base;
  }

  Status parse_revisions(const Object& o, const Policy& base, std::vector<Policy>& out) {
    auto list = o.array("revisions");
    if (!list) return list.error();
    if (list->size() == 0) return Error{"revisions", "name at least one revision"};
    for (const Node& n : list->elements()) note(parse_revision(o, n, base, out));
    // Revisions must not overlap: the date of service picks exactly one.
    for (size_t i = 0; i < out.size(); ++i) {
      for (size_t j = i + 1; j < out.size(); ++j) {
        const Policy &a = out[i], &b = out[j];
        auto ends_before = [](const Policy& x, const Policy& y) {
          return !x.effective_to.empty() && x.effective_to < y.effective_from;
        };
        if (!ends_before(a, b) && !ends_before(b, a)) {
          problems_.add(
              index_path("revisions", j),
              "revision " + in_quotes(b.revision) + " overlaps revision " + in_quotes(a.revision) +
                  " (give the earlier one an effective_to before " + b.effective_from + ")");
        }
      }
    }
    return Status::Ok();
  }

  Status parse_revision(const Object& root, const Node& node, const Policy& base,
                        std::vector<Policy>& out) {
    auto r = problems_.object(
        node, {"revision", "revision_note", "effective_from", "effective_to", "lines_of_business",
               "sections", "prior_auth", "documentation", "notices", "interpretation"});
    if (!r) return r.error();
    Policy p = base;
    note(r->string("revision"), p.revision);
    note(r->optional_string("revision_note"), p.revision_note);
    note([&]() -> Status {
      if (Status s = read_dates(*r, p); !s) return s;
      if (p.effective_from.empty()) {
        return r->error("effective_from", "a revision needs the date it takes effect");
      }
      return Status::Ok();
    }());
    parse_content(root, &*r, p);
    out.push_back(std::move(p));
    return Status::Ok();
  }

  Status read_dates(const Object& o, Policy& p) {
    for (std::string_view k : {"effective_from", "effective_to"}) {
      auto v = o.optional_string(k);
      if (!v) return v.error();
      if (!v->empty() && !is_iso_day(*v)) return o.error(k, "expected a date YYYY-MM-DD");
      (k == "effective_from" ? p.effective_from : p.effective_to) = *v;
    }
    if (!p.effective_from.empty() && !p.effective_to.empty() && p.effective_to < p.effective_from)
      return o.error("effective_to", "effective_to is before effective_from");
    return Status::Ok();
  }

  // The decision content: each key from the revision `r` when it has it, else from the root.
  void parse_content(const Object& root, const Object* r, Policy& p) {
    facts_.clear();
    auto from = [&](std::string_view key) -> const Object& {
      return r != nullptr && r->has(key) ? *r : root;
    };
    note(parse_sections(from("sections"), p));
    note(parse_lob_rules(from("lines_of_business"), p));
    note(parse_prior_auth(from("prior_auth"), p));
    if (std::optional<Node> documentation = from("documentation").get("documentation")) {
      note(parse_documentation(*documentation, p));
    }
    note(from("notices").optional_strings("notices"), p.notices);
    note(from("interpretation").optional_strings("interpretation"), p.interpretation);
    if (p.sections.empty()) note(require_catch_all(p, from("sections").at("sections")));
    check_reachable(p, from("sections"));
    p.facts_used.assign(facts_.begin(), facts_.end());
    for (const std::string& f : p.facts_used) p.fact_labels[f] = vocabulary_.fact_label(f);
    std::set<std::string> docs;
    for (const RequiredDocument& d : p.documentation.required_documents) {
      docs.insert(d.codes.begin(), d.codes.end());
    }
    p.document_codes.assign(docs.begin(), docs.end());
  }

  const Payer* find_payer(std::string_view id) const {
    for (const Payer& p : payers_) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }

  Status parse_procedures(const Object& o, Policy& p) {
    auto list = o.array("procedures");
    if (!list) return list.error();
    if (list->size() == 0) return Error{"procedures", "a policy needs at least one procedure code"};
    for (const Node& n : list->elements()) {
      note([&]() -> Status {
        auto e = problems_.object(n, {"code", "organ", "display"});
        if (!e) return e.error();
        Procedure proc;
        for (Status s : {into(e->string("code"), proc.code), into(e->string("organ"), proc.organ),
                         into(e->string("display"), proc.display)}) {
          if (!s) return s;
        }
        if (p.lists_code(proc.code))
          return e->error("code", "code " + in_quotes(proc.code) + " is listed twice");
        p.procedures.push_back(std::move(proc));
        return Status::Ok();
      }());
    }
    return Status::Ok();
  }

  static Status check_code(const Policy& p, const std::string& code, const std::string& path) {
    if (p.lists_code(code)) return Status::Ok();
    return Error{path, "code " + in_quotes(code) +
                           " is not among the policy's procedures (the codes under 'procedures')"};
  }

  Status parse_sections(const Object& o, Policy& p) {
    auto list = o.array("sections");
    if (!list) return list.error();
    for (const Node& n : list->elements()) note(parse_section(n, p));
    return Status::Ok();
  }

  Status parse_section(const Node& node, Policy& p) {
    auto e = problems_.object(
        node, {"id", "title", "organ", "indication", "codes", "criteria", "interpretation"});
    if (!e) return e.error();
    Section s;
    note([&]() -> Status {
      if (Status st = into(e->string("id"), s.id); !st) return st;
      for (const Section& other : p.sections) {
        if (other.id == s.id)
          return e->error("id", "section id " + in_quotes(s.id) + " is used twice");
      }
      return Status::Ok();
    }());
    note(e->string("title"), s.title);
    note([&]() -> Status {
      if (Status st = into(e->optional_string("organ"), s.organ); !st) return st;
      if (!s.organ.empty() &&
          std::none_of(p.procedures.begin(), p.procedures.end(),
                       [&](const Procedure& pr) { return pr.organ == s.organ; })) {
        return e->error("organ", "no procedure of the policy treats organ " + in_quotes(s.organ));
      }
      return Status::Ok();
    }());
    note([&]() -> Status {
      if (Status st = into(e->strings("codes"), s.codes); !st) return st;
      if (s.codes.empty()) return e->error("codes", "a section needs at least one code");
      return Status::Ok();
    }());
    for (size_t c = 0; c < s.codes.size(); ++c)
      note(check_section_code(p, s, index_path(e->at("codes"), c), s.codes[c]));
    if (e->has("indication")) {
      s.has_indication = true;
      note(parse_criterion(*e->get("indication")), s.indication);
    }
    note([&]() -> Status {
      auto criteria = e->require("criteria");
      if (!criteria) return criteria.error();
      return into(parse_criterion(*criteria), s.criteria);
    }());
    note(e->optional_string("interpretation"), s.interpretation);
    p.sections.push_back(std::move(s));
    return Status::Ok();
  }

  static Status check_section_code(const Policy& p, const Section& s, const std::string& path,
                                   const std::string& code) {
    if (Status st = check_code(p, code, path); !st) return st;
    if (!s.organ.empty() && p.procedure(code)->organ != s.organ) {
      return Error{path, "code " + in_quotes(code) + " treats " +
                             in_quotes(p.procedure(code)->organ) + ", not the section's organ " +
                             in_quotes(s.organ)};
    }
    return Status::Ok();
  }

  Status parse_lob_rules(const Object& o, Policy& p) {
    auto list = o.optional_array("lines_of_business");
    if (!list) return list.error();
    for (const Node& n : list->elements()) note(parse_lob_rule(n, p));
    return Status::Ok();
  }

  Status parse_lob_rule(const Node& node, Policy& p) {
    auto e = problems_.object(node, {"payer", "lines_of_business", "codes", "outcome", "reason",
                                     "note", "interpretation"});
    if (!e) return e.error();
    LobRule r;
    note([&]() -> Status {
      if (Status s = into(e->optional_string("payer"), r.payer); !s) return s;
      if (!r.payer.empty() && !contains(p.payers, r.payer)) {
        return e->error("payer",
                        "payer " + in_quotes(r.payer) + " is not among the policy's payers");
      }
      return Status::Ok();
    }());
    note([&]() -> Status {
      if (Status s = into(e->strings("lines_of_business"), r.lines_of_business); !s) return s;
      if (r.lines_of_business.empty()) {
        return e->error("lines_of_business", "name at least one line of business (or \"*\")");
      }
      return Status::Ok();
    }());
    check_lines_of_business(p, r, e->at("lines_of_business"));
    note(e->optional_strings("codes"), r.codes);
    for (size_t c = 0; c < r.codes.size(); ++c) {
      note(check_code(p, r.codes[c], index_path(e->at("codes"), c)));
    }
    note([&]() -> Status {
      auto outcome = e->string("outcome");
      if (!outcome) return outcome.error();
      if (*outcome == "criteria") {
        r.outcome = LobRule::Outcome::kCriteria;
      } else if (*outcome == "not-covered") {
        r.outcome = LobRule::Outcome::kNotCovered;
      } else if (*outcome == "program-rule") {
        r.outcome = LobRule::Outcome::kProgramRule;
      } else {
        return e->error("outcome", "unknown outcome " + in_quotes(*outcome) +
                                       " (expected criteria, not-covered or program-rule)");
      }
      return Status::Ok();
    }());
    note(r.outcome != LobRule::Outcome::kCriteria ? e->string("reason")
                                                  : e->optional_string("reason"),
         r.reason);
    note(e->optional_string("note"), r.note);
    note(e->optional_string("interpretation"), r.interpretation);
    p.lob_rules.push_back(std::move(r));
    return Status::Ok();
  }

  // Each line of business: a coverage type, a plan code of a payer of the rule, or "*".
  void check_lines_of_business(const Policy& p, const LobRule& r, const std::string& path) {
    const std::vector<std::string> types = vocabulary_.coverage_types();
    for (size_t l = 0; l < r.lines_of_business.size(); ++l) {
      const std::string& lob = r.lines_of_business[l];
      if (lob == "*" || contains(types, lob)) continue;
      bool known = false;
      for (const std::string& pid : p.payers) {
        if (!r.payer.empty() && pid != r.payer) continue;
        const Payer* payer = find_payer(pid);
        if (payer != nullptr && payer->plan(lob) != nullptr) known = true;
      }
      if (!known) {
        problems_.add(index_path(path, l),
                      "unknown line of business " + in_quotes(lob) + " (expected " +
                          listing(types) + "a plan code of the payer in payers.json, or \"*\")");
      }
    }
  }

  Status parse_prior_auth(const Object& o, Policy& p) {
    auto node = o.require("prior_auth");
    if (!node) return node.error();
    auto e = problems_.object(*node, {"required_for_codes", "note"});
    if (!e) return e.error();
    if (Status s = into(e->strings("required_for_codes"), p.prior_auth_codes); !s) return s;
    for (size_t c = 0; c < p.prior_auth_codes.size(); ++c) {
      if (p.prior_auth_codes[c] == "*") continue;
      note(check_code(p, p.prior_auth_codes[c], index_path(e->at("required_for_codes"), c)));
    }
    return into(e->optional_string("note"), p.prior_auth_note);
  }

  Status parse_documentation(const Node& node, Policy& p) {
    auto o = problems_.object(node, {"window_months", "window_note", "required_documents",
                                     "request_must_include", "note"});
    if (!o) return o.error();
    Documentation& d = p.documentation;
    if (std::optional<Node> w = o->get("window_months")) {
      if (!(*w)->IsInt() || (*w)->GetInt() <= 0 || (*w)->GetInt() > 120) {
        problems_.add(w->error("expected a whole number of months from 1 to 120"));
      } else {
        d.window_months = (*w)->GetInt();
      }
    }
    note(o->optional_string("window_note"), d.window_note);
    auto list = o->optional_array("required_documents");
    if (!list) return list.error();
    for (const Node& n : list->elements()) note(parse_required_document(n, d));
    if (!d.required_documents.empty() && d.window_months == 0 && !o->has("window_months")) {
      problems_.add(o->at("window_months"),
                    "required documents need a window (months before the date of service)");
    }
    note(o->optional_strings("request_must_include"), d.request_must_include);
    note(o->optional_string("note"), d.note);
    return Status::Ok();
  }

  Status parse_required_document(const Node& node, Documentation& d) {
    auto e = problems_.object(node, {"title", "codes", "required_unless", "note"});
    if (!e) return e.error();
    RequiredDocument doc;
    note(e->string("title"), doc.title);
    note([&]() -> Status {
      if (Status s = into(e->strings("codes"), doc.codes); !s) return s;
      if (doc.codes.empty()) return e->error("codes", "name at least one LOINC document type");
      return Status::Ok();
    }());
    for (size_t c = 0; c < doc.codes.size(); ++c) {
      if (!is_loinc(doc.codes[c])) {
        problems_.add(index_path(e->at("codes"), c),
                      in_quotes(doc.codes[c]) + " is not a LOINC code");
      }
    }
    if (std::optional<Node> unless = e->get("required_unless")) {
      doc.has_condition = true;
      note(parse_criterion(*unless), doc.required_unless);
    }
    note(e->optional_string("note"), doc.note);
    d.required_documents.push_back(std::move(doc));
    return Status::Ok();
  }

  // A rule that decides for every line of business of `payer` and `code` without criteria.
  static bool decided_before_sections(const Policy& p, const std::string& payer,
                                      const std::string& code) {
    for (const LobRule& r : p.lob_rules) {
      if (!r.payer.empty() && r.payer != payer) continue;
      if (!r.codes.empty() && !contains(r.codes, code)) continue;
      if (contains(r.lines_of_business, "*")) return r.outcome != LobRule::Outcome::kCriteria;
    }
    return false;
  }

  static Status require_catch_all(const Policy& p, const std::string& path) {
    for (const std::string& payer : p.payers) {
      bool decided = std::all_of(
          p.procedures.begin(), p.procedures.end(),
          [&](const Procedure& pr) { return decided_before_sections(p, payer, pr.code); });
      if (!decided) {
        return Error{path, "the policy has no sections, so payer " + in_quotes(payer) +
                               " needs a lines_of_business rule for \"*\" that decides without "
                               "criteria"};
      }
    }
    return Status::Ok();
  }

  // A section is unreachable when, for every payer and every code it lists, a line-of-business
  // rule for "*" decides before the sections.
  void check_reachable(const Policy& p, const Object& o) {
    for (size_t i = 0; i < p.sections.size(); ++i) {
      const Section& s = p.sections[i];
      bool reachable = false, listed = false;
      for (const std::string& payer : p.payers) {
        for (const std::string& code : s.codes) {
          if (!p.lists_code(code)) continue;  // reported as a code outside the procedures
          listed = true;
          if (!decided_before_sections(p, payer, code)) reachable = true;
        }
      }
      if (!reachable && listed) {
        problems_.add(index_path(o.at("sections"), i),
                      "section " + in_quotes(s.id) +
                          " is unreachable: a lines_of_business rule for \"*\" decides every "
                          "order of its codes first");
      }
    }
  }

  Result<Criterion> parse_criterion(const Node& node) {
    auto o = problems_.object(node, {"all", "any", "not", "fact", "label", "interpretation", "is",
                                     "is_any", "op", "value", "between", "unit"});
    if (!o) return o.error();
    int shapes = o->has("all") + o->has("any") + o->has("not") + o->has("fact");
    if (shapes != 1) {
      return o->error("a criterion needs exactly one of 'all', 'any', 'not' or 'fact'");
    }
    Criterion c;
    for (Status s : {into(o->optional_string("label"), c.label),
                     into(o->optional_string("interpretation"), c.interpretation)}) {
      if (!s) return s.error();
    }
    if (o->has("all") || o->has("any")) return parse_group(*o, std::move(c));
    if (std::optional<Node> inner = o->get("not")) {
      c.kind = Criterion::Kind::kNot;
      auto child = parse_criterion(*inner);
      if (!child) return child.error();
      c.children.push_back(std::move(*child));
      if (c.label.empty()) c.label = "Not: " + c.children[0].label;
      return c;
    }
    return parse_leaf(*o, std::move(c));
  }

  // "all" / "any": every child is read on its own.
  Result<Criterion> parse_group(const Object& o, Criterion c) {
    bool all = o.has("all");
    std::string_view key = all ? "all" : "any";
    for (std::string_view leaf_key : {"is", "is_any", "op", "value", "between", "unit"}) {
      if (o.has(leaf_key))
        problems_.add(o.at(leaf_key), in_quotes(leaf_key) + " belongs on a fact leaf");
    }
    c.kind = all ? Criterion::Kind::kAll : Criterion::Kind::kAny;
    auto list = o.array(key);
    if (!list) return list.error();
    if (list->size() == 0) return list->error("needs at least one criterion");
    for (const Node& n : list->elements()) {
      Criterion child;
      if (note(parse_criterion(n), child)) c.children.push_back(std::move(child));
    }
    if (c.label.empty()) c.label = all ? "All of the following" : "At least one of the following";
    return c;
  }

  Result<Criterion> parse_leaf(const Object& o, Criterion c) {
    if (Status s = into(o.string("fact"), c.fact); !s) return s.error();
    if (c.label.empty()) problems_.add(o.at("label"), "a fact criterion needs a label for people");
    if (!vocabulary_.has_fact(c.fact)) {
      return o.error("fact",
                     "unknown fact " + in_quotes(c.fact) + " (docs/facts.md lists the facts)");
    }
    facts_.insert(c.fact);
    FactKind kind = vocabulary_.fact_kind(c.fact).value_or(FactKind::kBoolean);
    auto refuse = [&](std::initializer_list<std::string_view> keys) {
      for (std::string_view key : keys) {
        if (o.has(key)) {
          problems_.add(o.at(key), in_quotes(key) + " does not apply to " +
                                       std::string(kind_name(kind)) + " fact " + in_quotes(c.fact));
        }
      }
    };
    Status s;
    switch (kind) {
      case FactKind::kBoolean:
        refuse({"is_any", "op", "value", "between", "unit"});
        s = parse_boolean(o, c);
        break;
      case FactKind::kCategory:
        refuse({"op", "value", "between", "unit"});
        s = parse_category(o, c);
        break;
      case FactKind::kMeasure:
      case FactKind::kOrdinal:
        refuse({"is", "is_any"});
        c.kind = Criterion::Kind::kCompare;
        s = parse_comparison(o, c, kind);
        break;
    }
    if (!s) return s.error();
    return c;
  }

  static Status parse_boolean(const Object& o, Criterion& c) {
    c.kind = Criterion::Kind::kBoolean;
    if (const Value* is = o.find("is")) {
      if (!is->IsBool())
        return o.error("is", "expected true or false for boolean fact " + in_quotes(c.fact));
      c.expected = is->GetBool();
    }
    return Status::Ok();
  }

  Status parse_category(const Object& o, Criterion& c) {
    c.kind = Criterion::Kind::kCategory;
    if (o.has("is") == o.has("is_any")) {
      return o.error("category fact " + in_quotes(c.fact) +
                     " needs exactly one of 'is' or 'is_any'");
    }
    if (const Value* is = o.find("is")) {
      if (!is->IsString())
        return o.error("is", "expected a member of category fact " + in_quotes(c.fact));
      c.members.emplace_back(is->GetString(), is->GetStringLength());
      return check_member(c.fact, c.members.back(), o.at("is"));
    }
    if (Status s = into(o.strings("is_any"), c.members); !s) return s;
    if (c.members.empty()) return o.error("is_any", "name at least one member");
    for (size_t i = 0; i < c.members.size(); ++i) {
      note(check_member(c.fact, c.members[i], index_path(o.at("is_any"), i)));
    }
    return Status::Ok();
  }

  Status check_member(const std::string& fact, const std::string& member,
                      const std::string& path) const {
    if (vocabulary_.has_category(fact, member)) return Status::Ok();
    return Error{path,
                 "unknown member " + in_quotes(member) + " of category fact " + in_quotes(fact)};
  }

  // A threshold for a measure (a number) or an ordinal (a value of its scale, as ranks).
  Result<fhir::Interval> threshold(const Node& v, const std::string& fact, FactKind kind) {
    if (kind == FactKind::kMeasure) {
      if (!v->IsNumber()) return v.error("expected a number for measure fact " + in_quotes(fact));
      double x = v->GetDouble();
      std::string unit = vocabulary_.fact_unit(fact);
      if (std::optional<Range> r = plausible_range(fact, unit)) {
        if (x < r->low || x > r->high || (r->integer && x != std::floor(x))) {
          problems_.add(v.error(fhir::format_number(x) + " is not a plausible threshold for " +
                                in_quotes(fact) + ": expected " + std::string(r->what)));
        }
      }
      return fhir::Interval::point(x);
    }
    if (!v->IsString())
      return v.error("expected a value of the scale of ordinal fact " + in_quotes(fact));
    std::string value(v->GetString(), v->GetStringLength());
    std::optional<fhir::Interval> ranks = vocabulary_.ordinal_value(fact, value);
    if (!ranks) {
      return v.error("unknown value " + in_quotes(value) + " of ordinal fact " + in_quotes(fact));
    }
    return *ranks;
  }

  static std::string show(const Value& v, const std::string& unit) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    return format_value(v.GetDouble(), unit);
  }

  Status parse_comparison(const Object& o, Criterion& c, FactKind kind) {
    std::string unit = kind == FactKind::kMeasure ? vocabulary_.fact_unit(c.fact) : "";
    if (o.has("unit")) {
      note([&]() -> Status {
        auto written = o.string("unit");
        if (!written) return written.error();
        if (*written != unit) {
          return o.error("unit", "fact " + in_quotes(c.fact) + " is measured in " +
                                     in_quotes(unit) + ", not " + in_quotes(*written));
        }
        return Status::Ok();
      }());
    }
    bool has_op = o.has("op") || o.has("value");
    if (has_op == o.has("between")) {
      return o.error(std::string(kind_name(kind)) + " fact " + in_quotes(c.fact) +
                     " needs either 'op' and 'value' or 'between'");
    }
    if (o.has("between")) return parse_between(o, c, kind, unit);
    auto op = o.string("op");
    if (!op) return op.error();
    std::optional<OpInfo> info = parse_op(*op);
    if (!info)
      return o.error("op", "unknown operator " + in_quotes(*op) + " (expected <, <=, >, >= or =)");
    auto value = o.require("value");
    if (!value) return value.error();
    auto t = threshold(*value, c.fact, kind);
    if (!t) return t.error();
    c.condition = std::string(info->symbol) + " " + show(value->value(), unit);
    switch (info->comparison) {
      case Comparison::kLess:
      case Comparison::kGreaterOrEqual:
        c.comparisons = {{info->comparison, t->low}};
        break;
      case Comparison::kLessOrEqual:
      case Comparison::kGreater:
        c.comparisons = {{info->comparison, t->high}};
        break;
      case Comparison::kEqual:
        if (t->is_point()) {
          c.comparisons = {{Comparison::kEqual, t->low}};
        } else {
          c.comparisons = {{Comparison::kGreaterOrEqual, t->low},
                           {Comparison::kLessOrEqual, t->high}};
        }
        break;
    }
    return Status::Ok();
  }

  Status parse_between(const Object& o, Criterion& c, FactKind kind, const std::string& unit) {
    auto b = o.array("between");
    if (!b) return b.error();
    if (b->size() != 2) return b->error("expected [low, high]");
    auto low = threshold(b->element(0), c.fact, kind);
    if (!low) return low.error();
    auto high = threshold(b->element(1), c.fact, kind);
    if (!high) return high.error();
    if (low->low > high->high) return b->error("low is above high");
    c.comparisons = {{Comparison::kGreaterOrEqual, low->low},
                     {Comparison::kLessOrEqual, high->high}};
    c.condition = "between " + show(b->element(0).value(), unit) + " and " +
                  show(b->element(1).value(), unit);
    return Status::Ok();
  }

  const std::vector<Payer>& payers_;
  const FactVocabulary& vocabulary_;
  Problems& problems_;
  std::set<std::string> facts_;
};

// payers.json: the payer registry.
class PayerParser {
 public:
  PayerParser(const std::vector<std::string>& coverage_types, Problems& problems)
      : coverage_types_(coverage_types), problems_(problems) {}

  std::vector<Payer> parse(const Node& node) {
    std::vector<Payer> payers;
    problems_.note([&]() -> Status {
      auto root = problems_.object(node, {"about", "payers"});
      if (!root) return root.error();
      auto list = root->array("payers");
      if (!list) return list.error();
      for (const Node& n : list->elements()) {
        Payer p;
        if (problems_.note(parse_payer(n, payers, p))) payers.push_back(std::move(p));
      }
      if (payers.empty()) return Error{"payers", "the registry lists no payer"};
      return Status::Ok();
    }());
    return payers;
  }

 private:
  Status parse_payer(const Node& node, const std::vector<Payer>& others, Payer& p) {
    auto o = problems_.object(node, {"id", "name", "identifiers", "plans", "default_plans"});
    if (!o) return o.error();
    if (Status s = into(o->string("id"), p.id); !s) return s;
    for (const Payer& other : others) {
      if (other.id == p.id) return o->error("id", "payer " + in_quotes(p.id) + " is listed twice");
    }
    if (Status s = into(o->string("name"), p.name); !s) return s;
    auto ids = o->array("identifiers");
    if (!ids) return ids.error();
    if (ids->size() == 0) return ids->error("a payer needs at least one identifier");
    for (const Node& n : ids->elements()) {
      if (Status s = parse_identifier(n, others, p); !s) return s;
    }
    auto plans = o->optional_array("plans");
    if (!plans) return plans.error();
    for (const Node& n : plans->elements()) {
      if (Status s = parse_plan(n, p); !s) return s;
    }
    if (std::optional<Node> defaults = o->get("default_plans")) return parse_defaults(*defaults, p);
    return Status::Ok();
  }

  Status parse_identifier(const Node& node, const std::vector<Payer>& others, Payer& p) {
    auto id = problems_.object(node, {"system", "value"});
    if (!id) return id.error();
    mappings::Identifier ident;
    for (Status s :
         {into(id->string("system"), ident.system), into(id->string("value"), ident.value)}) {
      if (!s) return s;
    }
    for (const Payer& other : others) {
      for (const mappings::Identifier& oi : other.identifiers) {
        if (oi.system == ident.system && oi.value == ident.value) {
          return id->error("value", "identifier already belongs to payer " + in_quotes(other.id));
        }
      }
    }
    p.identifiers.push_back(std::move(ident));
    return Status::Ok();
  }

  Status parse_plan(const Node& node, Payer& p) {
    auto pl = problems_.object(node, {"code", "name", "coverage_type"});
    if (!pl) return pl.error();
    Plan plan;
    for (Status s : {into(pl->string("code"), plan.code), into(pl->string("name"), plan.name),
                     into(pl->optional_string("coverage_type"), plan.coverage_type)}) {
      if (!s) return s;
    }
    if (!plan.coverage_type.empty() && !contains(coverage_types_, plan.coverage_type)) {
      return pl->error("coverage_type", unknown_type(plan.coverage_type));
    }
    if (p.plan(plan.code) != nullptr)
      return pl->error("code", "plan " + in_quotes(plan.code) + " is listed twice");
    p.plans.push_back(std::move(plan));
    return Status::Ok();
  }

  Status parse_defaults(const Node& defaults, Payer& p) {
    if (!defaults->IsObject()) return defaults.error("expected an object");
    for (auto it = defaults->MemberBegin(); it != defaults->MemberEnd(); ++it) {
      std::string type(it->name.GetString(), it->name.GetStringLength());
      Node at(it->value, join_path(defaults.path(), type));
      if (!contains(coverage_types_, type)) return at.error(unknown_type(type));
      if (!it->value.IsString()) return at.error("expected a plan code");
      std::string plan(it->value.GetString(), it->value.GetStringLength());
      if (p.plan(plan) == nullptr) {
        return at.error("plan " + in_quotes(plan) + " is not in the payer's plans");
      }
      p.default_plans[type] = plan;
    }
    return Status::Ok();
  }

  std::string unknown_type(const std::string& type) const {
    return "unknown coverage type " + in_quotes(type) + " (expected " + one_of(coverage_types_) +
           ")";
  }

  const std::vector<std::string>& coverage_types_;
  Problems& problems_;
};

// Reads one file and runs `parse` over it, every problem into `out` with its line and column.
template <class F>
void read_file(const std::filesystem::path& file, std::vector<PolicyProblem>& out, F&& parse) {
  json::Problem refusal;
  Result<json::File> f = json::File::read(file, {}, &refusal);
  auto add = [&](const json::Problem& p) {
    out.push_back(PolicyProblem{file.generic_string(), p.line, p.column, p.field, p.message});
  };
  if (!f) {
    add(refusal);
    return;
  }
  Problems problems;
  parse(f->root(), problems);
  // Each revision re-reads the content it shares with the others: report a problem once.
  std::set<std::pair<std::string, std::string>> seen;
  for (const Error& e : problems.errors()) {
    if (seen.insert({e.where, e.message}).second) add(f->problem(e));
  }
}

}  // namespace

const Procedure* Policy::procedure(std::string_view code) const {
  for (const Procedure& p : procedures) {
    if (p.code == code) return &p;
  }
  return nullptr;
}

bool Policy::prior_auth_required(std::string_view code) const {
  return std::any_of(prior_auth_codes.begin(), prior_auth_codes.end(),
                     [&](const std::string& c) { return c == "*" || c == code; });
}

std::vector<Payer> parse_payers(const std::filesystem::path& file,
                                const std::vector<std::string>& coverage_types,
                                std::vector<PolicyProblem>& out) {
  std::vector<Payer> payers;
  read_file(file, out, [&](const Node& root, Problems& problems) {
    payers = PayerParser(coverage_types, problems).parse(root);
  });
  return payers;
}

std::vector<Policy> parse_policy(const std::filesystem::path& file,
                                 const std::vector<Payer>& payers, const FactVocabulary& vocabulary,
                                 std::vector<PolicyProblem>& out) {
  std::vector<Policy> revisions;
  size_t before = out.size();
  read_file(file, out, [&](const Node& root, Problems& problems) {
    revisions = PolicyParser(payers, vocabulary, problems).parse(root);
  });
  if (out.size() != before) return {};
  for (Policy& p : revisions) p.file = file.generic_string();
  return revisions;
}

}  // namespace cryo::policies
