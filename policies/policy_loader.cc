// Reading and validating payers.json and the policy files (format: docs/policy-format.md).
//
// Every object's keys are checked against the keys the format defines, so a misspelt key
// fails the load instead of being ignored. Every problem is collected (not only the first):
// each independent part (a key, a procedure, a section, a criterion, a rule) is checked on
// its own, and a problem is reported with its JSON path, located to a line and column by
// JsonLocations.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "fhir/quantity.h"
#include "policies/json_locations.h"
#include "policies/policy.h"

namespace cryo::policies {
namespace {

using mappings::Comparison;
using mappings::FactKind;
using rapidjson::Value;

// A problem in a file; thrown inside this file only and turned into an Error at the edge.
struct Problem {
  std::string path;
  std::string message;
};

[[noreturn]] void fail(std::string path, std::string message) {
  throw Problem{std::move(path), std::move(message)};
}

// Where problems of the file being read go (one file is read by one thread at a time).
thread_local std::vector<Problem>* t_problems = nullptr;

void report(std::string path, std::string message) {
  if (t_problems == nullptr) fail(std::move(path), std::move(message));
  t_problems->push_back(Problem{std::move(path), std::move(message)});
}

// Runs one independent check; a problem it throws is recorded and the caller goes on.
template <class F>
void guard(F&& f) {
  try {
    f();
  } catch (const Problem& p) {
    if (t_problems == nullptr) throw;
    t_problems->push_back(p);
  }
}

std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

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

// Checked access to one JSON object.
class Object {
 public:
  Object(const Value& value, std::string path, std::initializer_list<std::string_view> allowed)
      : value_(value), path_(std::move(path)) {
    if (!value.IsObject()) fail(path_.empty() ? "(top level)" : path_, "expected an object");
    for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string known;
        for (std::string_view a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
        report(join_path(path_, key),
               "unknown key " + in_quotes(key) + " (expected one of: " + known + ")");
      }
    }
  }

  const std::string& path() const { return path_; }
  std::string at(std::string_view key) const { return join_path(path_, key); }
  bool has(std::string_view key) const { return find(key) != nullptr; }

  const Value* find(std::string_view key) const {
    auto it = value_.FindMember(rapidjson::StringRef(key.data(), key.size()));
    return it == value_.MemberEnd() ? nullptr : &it->value;
  }

  const Value& require(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) fail(at(key), "missing required key " + in_quotes(key));
    return *v;
  }

  std::string string(std::string_view key, bool required = true) const {
    const Value* v = required ? &require(key) : find(key);
    if (v == nullptr) return "";
    if (!v->IsString()) fail(at(key), "expected a string");
    std::string s(v->GetString(), v->GetStringLength());
    if (required && s.empty()) fail(at(key), "must not be empty");
    return s;
  }

  std::vector<std::string> strings(std::string_view key, bool required = true) const {
    const Value* v = required ? &require(key) : find(key);
    std::vector<std::string> out;
    if (v == nullptr) return out;
    if (!v->IsArray()) fail(at(key), "expected an array of strings");
    for (size_t i = 0; i < v->Size(); ++i) {
      const Value& e = (*v)[static_cast<rapidjson::SizeType>(i)];
      if (!e.IsString() || e.GetStringLength() == 0) {
        fail(index_path(at(key), i), "expected a non-empty string");
      }
      out.emplace_back(e.GetString(), e.GetStringLength());
    }
    return out;
  }

  const Value& array(std::string_view key, bool required = true) const {
    static const Value kEmpty(rapidjson::kArrayType);
    const Value* v = required ? &require(key) : find(key);
    if (v == nullptr) return kEmpty;
    if (!v->IsArray()) fail(at(key), "expected an array");
    return *v;
  }

 private:
  const Value& value_;
  std::string path_;
};

// Reads a JSON file into `doc` and returns its text; a syntax error is a Problem whose
// message starts with the byte offset (located by the caller).
struct SyntaxError {
  size_t offset;
  std::string message;
};

std::string read_json(const std::filesystem::path& file, rapidjson::Document& doc) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("", "cannot read the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) {
    throw SyntaxError{doc.GetErrorOffset(), std::string("invalid JSON: ") +
                                                rapidjson::GetParseError_En(doc.GetParseError())};
  }
  return text;
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
  PolicyParser(const std::vector<Payer>& payers, const FactVocabulary& vocabulary)
      : payers_(payers), vocabulary_(vocabulary) {}

  // One Policy per revision (a file without "revisions" is one revision).
  std::vector<Policy> parse(const Value& root) {
    Object o(
        root, "",
        {"id", "title", "document", "source_file", "revision", "revision_note", "effective_from",
         "effective_to", "revisions", "payers", "procedures", "lines_of_business", "sections",
         "prior_auth", "documentation", "notices", "interpretation"});
    Policy base;
    guard([&] { base.id = o.string("id"); });
    guard([&] { base.title = o.string("title"); });
    guard([&] { base.document = o.string("document"); });
    guard([&] { base.source_file = o.string("source_file"); });
    guard([&] { base.payers = o.strings("payers"); });
    guard([&] {
      if (base.payers.empty() && o.has("payers"))
        fail("payers", "a policy needs at least one payer");
    });
    for (size_t i = 0; i < base.payers.size(); ++i) {
      if (find_payer(base.payers[i]) == nullptr) {
        report(index_path("payers", i),
               "unknown payer " + in_quotes(base.payers[i]) + " (not in payers.json)");
      }
    }
    guard([&] { parse_procedures(o, base); });

    std::vector<Policy> out;
    if (!o.has("revisions")) {
      Policy p = base;
      guard([&] { p.revision = o.string("revision"); });
      guard([&] { p.revision_note = o.string("revision_note", false); });
      guard([&] { read_dates(o, p); });
      parse_content(o, nullptr, p);
      out.push_back(std::move(p));
      return out;
    }
    for (std::string_view k : {"revision", "revision_note", "effective_from", "effective_to"}) {
      if (o.has(k)) report(o.at(k), in_quotes(k) + " belongs in each entry of 'revisions'");
    }
    guard([&] {
      const Value& list = o.array("revisions");
      if (list.Empty()) fail("revisions", "name at least one revision");
      for (size_t i = 0; i < list.Size(); ++i) {
        guard([&] {
          Object r(
              list[static_cast<rapidjson::SizeType>(i)], index_path("revisions", i),
              {"revision", "revision_note", "effective_from", "effective_to", "lines_of_business",
               "sections", "prior_auth", "documentation", "notices", "interpretation"});
          Policy p = base;
          guard([&] { p.revision = r.string("revision"); });
          guard([&] { p.revision_note = r.string("revision_note", false); });
          guard([&] {
            read_dates(r, p);
            if (p.effective_from.empty())
              fail(r.at("effective_from"), "a revision needs the date it takes effect");
          });
          parse_content(o, &r, p);
          out.push_back(std::move(p));
        });
      }
      // Revisions must not overlap: the date of service picks exactly one.
      for (size_t i = 0; i < out.size(); ++i) {
        for (size_t j = i + 1; j < out.size(); ++j) {
          const Policy &a = out[i], &b = out[j];
          auto ends_before = [](const Policy& x, const Policy& y) {
            return !x.effective_to.empty() && x.effective_to < y.effective_from;
          };
          if (!ends_before(a, b) && !ends_before(b, a)) {
            report(index_path("revisions", j),
                   "revision " + in_quotes(b.revision) + " overlaps revision " +
                       in_quotes(a.revision) + " (give the earlier one an effective_to before " +
                       b.effective_from + ")");
          }
        }
      }
    });
    return out;
  }

 private:
  void read_dates(const Object& o, Policy& p) {
    for (std::string_view k : {"effective_from", "effective_to"}) {
      std::string v = o.string(k, false);
      if (!v.empty() && !is_iso_day(v)) fail(o.at(k), "expected a date YYYY-MM-DD");
      (k == "effective_from" ? p.effective_from : p.effective_to) = v;
    }
    if (!p.effective_from.empty() && !p.effective_to.empty() && p.effective_to < p.effective_from)
      fail(o.at("effective_to"), "effective_to is before effective_from");
  }

  // The decision content: each key from the revision `r` when it has it, else from the root.
  void parse_content(const Object& root, const Object* r, Policy& p) {
    facts_.clear();
    auto from = [&](std::string_view key) -> const Object& {
      return r != nullptr && r->has(key) ? *r : root;
    };
    guard([&] { parse_sections(from("sections"), p); });
    guard([&] { parse_lob_rules(from("lines_of_business"), p); });
    guard([&] { parse_prior_auth(from("prior_auth"), p); });
    guard([&] {
      const Object& o = from("documentation");
      if (o.has("documentation"))
        parse_documentation(Object(o.require("documentation"), o.at("documentation"),
                                   {"window_months", "window_note", "required_documents",
                                    "request_must_include", "note"}),
                            p);
    });
    guard([&] { p.notices = from("notices").strings("notices", false); });
    guard([&] { p.interpretation = from("interpretation").strings("interpretation", false); });

    guard([&] {
      if (p.sections.empty()) require_catch_all(p, from("sections").at("sections"));
    });
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

  void parse_procedures(const Object& o, Policy& p) {
    const Value& list = o.array("procedures");
    if (list.Empty()) fail("procedures", "a policy needs at least one procedure code");
    for (size_t i = 0; i < list.Size(); ++i) {
      guard([&] {
        Object e(list[static_cast<rapidjson::SizeType>(i)], index_path("procedures", i),
                 {"code", "organ", "display"});
        Procedure proc{e.string("code"), e.string("organ"), e.string("display")};
        if (p.lists_code(proc.code))
          fail(e.at("code"), "code " + in_quotes(proc.code) + " is listed twice");
        p.procedures.push_back(std::move(proc));
      });
    }
  }

  void check_code(const Policy& p, const std::string& code, const std::string& path) {
    if (!p.lists_code(code)) {
      fail(path, "code " + in_quotes(code) +
                     " is not among the policy's procedures (the codes under 'procedures')");
    }
  }

  void parse_sections(const Object& o, Policy& p) {
    const Value& list = o.array("sections");
    for (size_t i = 0; i < list.Size(); ++i) {
      guard([&] {
        std::string path = index_path(o.at("sections"), i);
        Object e(list[static_cast<rapidjson::SizeType>(i)], path,
                 {"id", "title", "organ", "indication", "codes", "criteria", "interpretation"});
        Section s;
        guard([&] {
          s.id = e.string("id");
          for (const Section& other : p.sections) {
            if (other.id == s.id)
              fail(e.at("id"), "section id " + in_quotes(s.id) + " is used twice");
          }
        });
        guard([&] { s.title = e.string("title"); });
        guard([&] {
          s.organ = e.string("organ", false);
          if (!s.organ.empty() &&
              std::none_of(p.procedures.begin(), p.procedures.end(),
                           [&](const Procedure& pr) { return pr.organ == s.organ; })) {
            fail(e.at("organ"), "no procedure of the policy treats organ " + in_quotes(s.organ));
          }
        });
        guard([&] {
          s.codes = e.strings("codes");
          if (s.codes.empty()) fail(e.at("codes"), "a section needs at least one code");
        });
        for (size_t c = 0; c < s.codes.size(); ++c) {
          guard([&] {
            std::string cpath = index_path(e.at("codes"), c);
            check_code(p, s.codes[c], cpath);
            if (!s.organ.empty() && p.procedure(s.codes[c])->organ != s.organ) {
              fail(cpath, "code " + in_quotes(s.codes[c]) + " treats " +
                              in_quotes(p.procedure(s.codes[c])->organ) +
                              ", not the section's organ " + in_quotes(s.organ));
            }
          });
        }
        if (e.has("indication")) {
          s.has_indication = true;
          guard(
              [&] { s.indication = parse_criterion(e.require("indication"), e.at("indication")); });
        }
        guard([&] { s.criteria = parse_criterion(e.require("criteria"), e.at("criteria")); });
        guard([&] { s.interpretation = e.string("interpretation", false); });
        p.sections.push_back(std::move(s));
      });
    }
  }

  void parse_lob_rules(const Object& o, Policy& p) {
    const Value& list = o.array("lines_of_business", false);
    for (size_t i = 0; i < list.Size(); ++i) {
      guard([&] {
        std::string path = index_path(o.at("lines_of_business"), i);
        Object e(
            list[static_cast<rapidjson::SizeType>(i)], path,
            {"payer", "lines_of_business", "codes", "outcome", "reason", "note", "interpretation"});
        LobRule r;
        guard([&] {
          r.payer = e.string("payer", false);
          if (!r.payer.empty() &&
              std::find(p.payers.begin(), p.payers.end(), r.payer) == p.payers.end()) {
            fail(e.at("payer"),
                 "payer " + in_quotes(r.payer) + " is not among the policy's payers");
          }
        });
        guard([&] {
          r.lines_of_business = e.strings("lines_of_business");
          if (r.lines_of_business.empty()) {
            fail(e.at("lines_of_business"), "name at least one line of business (or \"*\")");
          }
        });
        for (size_t l = 0; l < r.lines_of_business.size(); ++l) {
          const std::string& lob = r.lines_of_business[l];
          if (lob == "*" || is_coverage_type(lob)) continue;
          bool known = false;
          for (const std::string& pid : p.payers) {
            if (!r.payer.empty() && pid != r.payer) continue;
            const Payer* payer = find_payer(pid);
            if (payer != nullptr && payer->plan(lob) != nullptr) known = true;
          }
          if (!known) {
            report(index_path(e.at("lines_of_business"), l),
                   "unknown line of business " + in_quotes(lob) +
                       " (expected commercial, medicare-advantage, medicare, medicaid, a plan "
                       "code of the payer in payers.json, or \"*\")");
          }
        }
        guard([&] { r.codes = e.strings("codes", false); });
        for (size_t c = 0; c < r.codes.size(); ++c) {
          guard([&] { check_code(p, r.codes[c], index_path(e.at("codes"), c)); });
        }
        guard([&] {
          std::string outcome = e.string("outcome");
          if (outcome == "criteria") {
            r.outcome = LobRule::Outcome::kCriteria;
          } else if (outcome == "not-covered") {
            r.outcome = LobRule::Outcome::kNotCovered;
          } else if (outcome == "program-rule") {
            r.outcome = LobRule::Outcome::kProgramRule;
          } else {
            fail(e.at("outcome"), "unknown outcome " + in_quotes(outcome) +
                                      " (expected criteria, not-covered or program-rule)");
          }
        });
        guard([&] { r.reason = e.string("reason", r.outcome != LobRule::Outcome::kCriteria); });
        guard([&] { r.note = e.string("note", false); });
        guard([&] { r.interpretation = e.string("interpretation", false); });
        p.lob_rules.push_back(std::move(r));
      });
    }
  }

  void parse_prior_auth(const Object& o, Policy& p) {
    Object e(o.require("prior_auth"), o.at("prior_auth"), {"required_for_codes", "note"});
    p.prior_auth_codes = e.strings("required_for_codes");
    for (size_t c = 0; c < p.prior_auth_codes.size(); ++c) {
      if (p.prior_auth_codes[c] == "*") continue;
      guard(
          [&] { check_code(p, p.prior_auth_codes[c], index_path(e.at("required_for_codes"), c)); });
    }
    p.prior_auth_note = e.string("note", false);
  }

  void parse_documentation(const Object& o, Policy& p) {
    Documentation& d = p.documentation;
    guard([&] {
      if (const Value* w = o.find("window_months")) {
        if (!w->IsInt() || w->GetInt() <= 0 || w->GetInt() > 120)
          fail(o.at("window_months"), "expected a whole number of months from 1 to 120");
        d.window_months = w->GetInt();
      }
    });
    guard([&] { d.window_note = o.string("window_note", false); });
    const Value& list = o.array("required_documents", false);
    for (size_t i = 0; i < list.Size(); ++i) {
      guard([&] {
        Object e(list[static_cast<rapidjson::SizeType>(i)],
                 index_path(o.at("required_documents"), i),
                 {"title", "codes", "required_unless", "note"});
        RequiredDocument doc;
        guard([&] { doc.title = e.string("title"); });
        guard([&] {
          doc.codes = e.strings("codes");
          if (doc.codes.empty()) fail(e.at("codes"), "name at least one LOINC document type");
        });
        for (size_t c = 0; c < doc.codes.size(); ++c) {
          if (!is_loinc(doc.codes[c])) {
            report(index_path(e.at("codes"), c), in_quotes(doc.codes[c]) + " is not a LOINC code");
          }
        }
        if (e.has("required_unless")) {
          doc.has_condition = true;
          guard([&] {
            doc.required_unless =
                parse_criterion(e.require("required_unless"), e.at("required_unless"));
          });
        }
        guard([&] { doc.note = e.string("note", false); });
        d.required_documents.push_back(std::move(doc));
      });
    }
    if (!d.required_documents.empty() && d.window_months == 0 && !o.has("window_months")) {
      report(o.at("window_months"),
             "required documents need a window (months before the date of service)");
    }
    guard([&] { d.request_must_include = o.strings("request_must_include", false); });
    guard([&] { d.note = o.string("note", false); });
  }

  // A rule that decides for every line of business of `payer` and `code` without criteria.
  static bool decided_before_sections(const Policy& p, const std::string& payer,
                                      const std::string& code) {
    for (const LobRule& r : p.lob_rules) {
      if (!r.payer.empty() && r.payer != payer) continue;
      if (!r.codes.empty() && std::find(r.codes.begin(), r.codes.end(), code) == r.codes.end())
        continue;
      bool star = std::find(r.lines_of_business.begin(), r.lines_of_business.end(), "*") !=
                  r.lines_of_business.end();
      if (star) return r.outcome != LobRule::Outcome::kCriteria;
    }
    return false;
  }

  void require_catch_all(const Policy& p, const std::string& path) {
    for (const std::string& payer : p.payers) {
      bool decided = std::all_of(
          p.procedures.begin(), p.procedures.end(),
          [&](const Procedure& pr) { return decided_before_sections(p, payer, pr.code); });
      if (!decided) {
        fail(path, "the policy has no sections, so payer " + in_quotes(payer) +
                       " needs a lines_of_business rule for \"*\" that decides without "
                       "criteria");
      }
    }
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
        report(index_path(o.at("sections"), i),
               "section " + in_quotes(s.id) +
                   " is unreachable: a lines_of_business rule for \"*\" decides every order of "
                   "its codes first");
      }
    }
  }

  Criterion parse_criterion(const Value& v, const std::string& path) {
    Object o(v, path,
             {"all", "any", "not", "fact", "label", "interpretation", "is", "is_any", "op", "value",
              "between", "unit"});
    int shapes = o.has("all") + o.has("any") + o.has("not") + o.has("fact");
    if (shapes != 1) {
      fail(path, "a criterion needs exactly one of 'all', 'any', 'not' or 'fact'");
    }
    Criterion c;
    c.label = o.string("label", false);
    c.interpretation = o.string("interpretation", false);
    if (o.has("all") || o.has("any")) {
      bool all = o.has("all");
      std::string_view key = all ? "all" : "any";
      for (std::string_view leaf_key : {"is", "is_any", "op", "value", "between", "unit"}) {
        if (o.has(leaf_key))
          report(o.at(leaf_key), in_quotes(leaf_key) + " belongs on a fact leaf");
      }
      c.kind = all ? Criterion::Kind::kAll : Criterion::Kind::kAny;
      const Value& list = o.array(key);
      if (list.Empty()) fail(o.at(key), "needs at least one criterion");
      for (size_t i = 0; i < list.Size(); ++i) {
        guard([&] {
          c.children.push_back(
              parse_criterion(list[static_cast<rapidjson::SizeType>(i)], index_path(o.at(key), i)));
        });
      }
      if (c.label.empty()) c.label = all ? "All of the following" : "At least one of the following";
      return c;
    }
    if (o.has("not")) {
      c.kind = Criterion::Kind::kNot;
      c.children.push_back(parse_criterion(o.require("not"), o.at("not")));
      if (c.label.empty()) c.label = "Not: " + c.children[0].label;
      return c;
    }
    return parse_leaf(o, std::move(c));
  }

  Criterion parse_leaf(const Object& o, Criterion c) {
    c.fact = o.string("fact");
    if (c.label.empty()) report(o.at("label"), "a fact criterion needs a label for people");
    if (!vocabulary_.has_fact(c.fact))
      fail(o.at("fact"), "unknown fact " + in_quotes(c.fact) + " (docs/facts.md lists the facts)");
    facts_.insert(c.fact);
    FactKind kind = vocabulary_.fact_kind(c.fact).value_or(FactKind::kBoolean);
    auto refuse = [&](std::string_view key) {
      if (o.has(key)) {
        report(o.at(key), in_quotes(key) + " does not apply to " + std::string(kind_name(kind)) +
                              " fact " + in_quotes(c.fact));
      }
    };
    switch (kind) {
      case FactKind::kBoolean: {
        for (std::string_view k : {"is_any", "op", "value", "between", "unit"}) refuse(k);
        c.kind = Criterion::Kind::kBoolean;
        if (const Value* is = o.find("is")) {
          if (!is->IsBool())
            fail(o.at("is"), "expected true or false for boolean fact " + in_quotes(c.fact));
          c.expected = is->GetBool();
        }
        return c;
      }
      case FactKind::kCategory: {
        for (std::string_view k : {"op", "value", "between", "unit"}) refuse(k);
        c.kind = Criterion::Kind::kCategory;
        if (o.has("is") == o.has("is_any")) {
          fail(o.path(),
               "category fact " + in_quotes(c.fact) + " needs exactly one of 'is' or 'is_any'");
        }
        if (o.has("is")) {
          const Value& is = o.require("is");
          if (!is.IsString())
            fail(o.at("is"), "expected a member of category fact " + in_quotes(c.fact));
          c.members.emplace_back(is.GetString(), is.GetStringLength());
          check_member(c.fact, c.members.back(), o.at("is"));
        } else {
          c.members = o.strings("is_any");
          if (c.members.empty()) fail(o.at("is_any"), "name at least one member");
          for (size_t i = 0; i < c.members.size(); ++i) {
            guard([&] { check_member(c.fact, c.members[i], index_path(o.at("is_any"), i)); });
          }
        }
        return c;
      }
      case FactKind::kMeasure:
      case FactKind::kOrdinal:
        refuse("is");
        refuse("is_any");
        c.kind = Criterion::Kind::kCompare;
        parse_comparison(o, c, kind);
        return c;
    }
    return c;
  }

  void check_member(const std::string& fact, const std::string& member, const std::string& path) {
    if (!vocabulary_.has_category(fact, member)) {
      fail(path, "unknown member " + in_quotes(member) + " of category fact " + in_quotes(fact));
    }
  }

  // A threshold for a measure (a number) or an ordinal (a value of its scale, as ranks).
  fhir::Interval threshold(const Value& v, const std::string& fact, FactKind kind,
                           const std::string& path) {
    if (kind == FactKind::kMeasure) {
      if (!v.IsNumber()) fail(path, "expected a number for measure fact " + in_quotes(fact));
      double x = v.GetDouble();
      std::string unit = vocabulary_.fact_unit(fact);
      if (std::optional<Range> r = plausible_range(fact, unit)) {
        if (x < r->low || x > r->high || (r->integer && x != std::floor(x))) {
          report(path, fhir::format_number(x) + " is not a plausible threshold for " +
                           in_quotes(fact) + ": expected " + std::string(r->what));
        }
      }
      return fhir::Interval::point(x);
    }
    if (!v.IsString())
      fail(path, "expected a value of the scale of ordinal fact " + in_quotes(fact));
    std::string value(v.GetString(), v.GetStringLength());
    std::optional<fhir::Interval> ranks = vocabulary_.ordinal_value(fact, value);
    if (!ranks)
      fail(path, "unknown value " + in_quotes(value) + " of ordinal fact " + in_quotes(fact));
    return *ranks;
  }

  static std::string show(const Value& v, const std::string& unit) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    return format_value(v.GetDouble(), unit);
  }

  void parse_comparison(const Object& o, Criterion& c, FactKind kind) {
    std::string unit = kind == FactKind::kMeasure ? vocabulary_.fact_unit(c.fact) : "";
    if (o.has("unit")) {
      guard([&] {
        std::string written = o.string("unit");
        if (written != unit) {
          fail(o.at("unit"), "fact " + in_quotes(c.fact) + " is measured in " + in_quotes(unit) +
                                 ", not " + in_quotes(written));
        }
      });
    }
    bool has_op = o.has("op") || o.has("value");
    if (has_op == o.has("between")) {
      fail(o.path(), std::string(kind_name(kind)) + " fact " + in_quotes(c.fact) +
                         " needs either 'op' and 'value' or 'between'");
    }
    if (o.has("between")) {
      const Value& b = o.array("between");
      if (b.Size() != 2) fail(o.at("between"), "expected [low, high]");
      fhir::Interval low = threshold(b[0], c.fact, kind, index_path(o.at("between"), 0));
      fhir::Interval high = threshold(b[1], c.fact, kind, index_path(o.at("between"), 1));
      if (low.low > high.high) fail(o.at("between"), "low is above high");
      c.comparisons = {{Comparison::kGreaterOrEqual, low.low},
                       {Comparison::kLessOrEqual, high.high}};
      c.condition = "between " + show(b[0], unit) + " and " + show(b[1], unit);
      return;
    }
    std::string op = o.string("op");
    std::optional<OpInfo> info = parse_op(op);
    if (!info)
      fail(o.at("op"), "unknown operator " + in_quotes(op) + " (expected <, <=, >, >= or =)");
    const Value& value = o.require("value");
    fhir::Interval t = threshold(value, c.fact, kind, o.at("value"));
    c.condition = std::string(info->symbol) + " " + show(value, unit);
    switch (info->comparison) {
      case Comparison::kLess:
      case Comparison::kGreaterOrEqual:
        c.comparisons = {{info->comparison, t.low}};
        break;
      case Comparison::kLessOrEqual:
      case Comparison::kGreater:
        c.comparisons = {{info->comparison, t.high}};
        break;
      case Comparison::kEqual:
        if (t.is_point()) {
          c.comparisons = {{Comparison::kEqual, t.low}};
        } else {
          c.comparisons = {{Comparison::kGreaterOrEqual, t.low},
                           {Comparison::kLessOrEqual, t.high}};
        }
        break;
    }
  }

  const std::vector<Payer>& payers_;
  const FactVocabulary& vocabulary_;
  std::set<std::string> facts_;
};

// Runs `parse` over one file, collecting every problem with its line and column.
template <class F>
void read_file(const std::filesystem::path& file, std::vector<PolicyProblem>& out, F&& parse) {
  std::vector<Problem> problems;
  std::string text;
  JsonLocations where;
  auto add = [&](const Problem& p) {
    Location at = where.find(p.path);
    out.push_back(PolicyProblem{file.generic_string(), at.line, at.column, p.path, p.message});
  };
  try {
    rapidjson::Document doc;
    text = read_json(file, doc);
    where = JsonLocations::scan(text);
    t_problems = &problems;
    try {
      parse(doc);
    } catch (const Problem& p) {
      problems.push_back(p);
    }
    t_problems = nullptr;
  } catch (const SyntaxError& e) {
    t_problems = nullptr;
    Location at;
    // Count lines up to the offset (the text is not valid JSON, so not scanned).
    std::ifstream in(file, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string raw = buffer.str();
    at.line = 1;
    at.column = 1;
    for (size_t i = 0; i < e.offset && i < raw.size(); ++i) {
      if (raw[i] == '\n') {
        ++at.line;
        at.column = 1;
      } else {
        ++at.column;
      }
    }
    out.push_back(PolicyProblem{file.generic_string(), at.line, at.column, "", e.message});
    return;
  } catch (const Problem& p) {
    t_problems = nullptr;
    out.push_back(PolicyProblem{file.generic_string(), 0, 0, p.path, p.message});
    return;
  }
  // Each revision re-reads the content it shares with the others: report a problem once.
  std::set<std::pair<std::string, std::string>> seen;
  for (const Problem& p : problems) {
    if (seen.insert({p.path, p.message}).second) add(p);
  }
}

}  // namespace

bool is_coverage_type(std::string_view lob) {
  return lob == "commercial" || lob == "medicare-advantage" || lob == "medicare" ||
         lob == "medicaid";
}

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
                                std::vector<PolicyProblem>& out) {
  std::vector<Payer> payers;
  read_file(file, out, [&](const rapidjson::Document& doc) {
    Object root(doc, "", {"about", "payers"});
    const Value& list = root.array("payers");
    for (size_t i = 0; i < list.Size(); ++i) {
      std::string path = index_path("payers", i);
      guard([&] {
        Object o(list[static_cast<rapidjson::SizeType>(i)], path,
                 {"id", "name", "identifiers", "plans", "default_plans"});
        Payer p;
        p.id = o.string("id");
        for (const Payer& other : payers) {
          if (other.id == p.id) fail(o.at("id"), "payer " + in_quotes(p.id) + " is listed twice");
        }
        p.name = o.string("name");
        const Value& ids = o.array("identifiers");
        if (ids.Empty()) fail(o.at("identifiers"), "a payer needs at least one identifier");
        for (size_t k = 0; k < ids.Size(); ++k) {
          Object id(ids[static_cast<rapidjson::SizeType>(k)], index_path(o.at("identifiers"), k),
                    {"system", "value"});
          mappings::Identifier ident{id.string("system"), id.string("value")};
          for (const Payer& other : payers) {
            for (const mappings::Identifier& oi : other.identifiers) {
              if (oi.system == ident.system && oi.value == ident.value) {
                fail(id.at("value"), "identifier already belongs to payer " + in_quotes(other.id));
              }
            }
          }
          p.identifiers.push_back(std::move(ident));
        }
        const Value& plans = o.array("plans", false);
        for (size_t k = 0; k < plans.Size(); ++k) {
          Object pl(plans[static_cast<rapidjson::SizeType>(k)], index_path(o.at("plans"), k),
                    {"code", "name", "coverage_type"});
          Plan plan{pl.string("code"), pl.string("name"), pl.string("coverage_type", false)};
          if (!plan.coverage_type.empty() && !is_coverage_type(plan.coverage_type)) {
            fail(pl.at("coverage_type"), "unknown coverage type " + in_quotes(plan.coverage_type) +
                                             " (expected commercial, medicare-advantage, "
                                             "medicare or medicaid)");
          }
          if (p.plan(plan.code) != nullptr)
            fail(pl.at("code"), "plan " + in_quotes(plan.code) + " is listed twice");
          p.plans.push_back(std::move(plan));
        }
        if (const Value* defaults = o.find("default_plans")) {
          if (!defaults->IsObject()) fail(o.at("default_plans"), "expected an object");
          for (auto it = defaults->MemberBegin(); it != defaults->MemberEnd(); ++it) {
            std::string type(it->name.GetString(), it->name.GetStringLength());
            std::string at = join_path(o.at("default_plans"), type);
            if (!is_coverage_type(type)) {
              fail(at, "unknown coverage type " + in_quotes(type) +
                           " (expected commercial, medicare-advantage, medicare or medicaid)");
            }
            if (!it->value.IsString()) fail(at, "expected a plan code");
            std::string plan(it->value.GetString(), it->value.GetStringLength());
            if (p.plan(plan) == nullptr)
              fail(at, "plan " + in_quotes(plan) + " is not in the payer's plans");
            p.default_plans[type] = plan;
          }
        }
        payers.push_back(std::move(p));
      });
    }
    if (payers.empty()) fail("payers", "the registry lists no payer");
  });
  return payers;
}

std::vector<Policy> parse_policy(const std::filesystem::path& file,
                                 const std::vector<Payer>& payers, const FactVocabulary& vocabulary,
                                 std::vector<PolicyProblem>& out) {
  std::vector<Policy> revisions;
  size_t before = out.size();
  read_file(file, out, [&](const rapidjson::Document& doc) {
    revisions = PolicyParser(payers, vocabulary).parse(doc);
  });
  if (out.size() != before) return {};
  for (Policy& p : revisions) p.file = file.generic_string();
  return revisions;
}

}  // namespace cryo::policies
