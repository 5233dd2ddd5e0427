#include "cds/policy_replay.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "base/json_writer.h"
#include "cds/catalog.h"
#include "cds/determination_record.h"
#include "cds/dtr.h"

namespace cryo::cds {
namespace {

using rapidjson::Value;

std::string str(const Value& o, const char* key) {
  if (!o.IsObject()) return "";
  auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : "";
}

std::string dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

struct Values {
  std::string covered, pa, doc, purpose, info;
  bool operator==(const Values&) const = default;
  std::string text() const {
    return dash(covered) + "/" + dash(pa) + "/" + dash(doc) + "/" + dash(purpose) + "/" +
           dash(info);
  }
};

// Every criterion row of a criteria_json array, by section, role, label and fact.
struct Rows {
  std::map<std::string, std::pair<FlippedCriterion, std::string>> rows;  // key -> (row, value)
  std::map<std::string, std::string> section_results;
};

Rows read_rows(const std::string& criteria_json) {
  Rows out;
  rapidjson::Document d;
  d.Parse(criteria_json.c_str(), criteria_json.size());
  if (!d.IsArray()) return out;
  for (const Value& s : d.GetArray()) {
    std::string section = str(s, "section");
    out.section_results[section] = str(s, "result");
    auto rows = s.FindMember("rows");
    if (rows == s.MemberEnd() || !rows->value.IsArray()) continue;
    for (const Value& r : rows->value.GetArray()) {
      FlippedCriterion c{section, str(r, "label"), str(r, "fact"), "", ""};
      std::string key = section + "\x1f" + str(r, "role") + "\x1f" + c.label + "\x1f" + c.fact;
      out.rows.try_emplace(key, c, str(r, "value"));
    }
  }
  return out;
}

void compare_rows(const Rows& before, const Rows& after, ReplayChange& change) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : before.rows) keys.push_back(k);
  for (const auto& [k, v] : after.rows) {
    if (!before.rows.count(k)) keys.push_back(k);
  }
  auto add_section = [&](const std::string& s) {
    if (!s.empty() &&
        std::find(change.sections.begin(), change.sections.end(), s) == change.sections.end())
      change.sections.push_back(s);
  };
  for (const std::string& k : keys) {
    auto b = before.rows.find(k);
    auto a = after.rows.find(k);
    std::string from = b == before.rows.end() ? "" : b->second.second;
    std::string to = a == after.rows.end() ? "" : a->second.second;
    if (from == to) continue;
    FlippedCriterion c = b != before.rows.end() ? b->second.first : a->second.first;
    add_section(c.section);
    if (c.fact.empty()) continue;  // all/any/not rows follow from their leaves
    c.from = from;
    c.to = to;
    change.flipped.push_back(std::move(c));
  }
  for (const auto& [s, r] : before.section_results) {
    auto it = after.section_results.find(s);
    if (it == after.section_results.end() || it->second != r) add_section(s);
  }
  for (const auto& [s, r] : after.section_results) {
    if (!before.section_results.count(s)) add_section(s);
  }
}

void count(ReplayReport& report, const ReplayChange& c) {
  report.by_transition[dash(c.from_covered) + " -> " + dash(c.to_covered)]++;
  report.by_payer[c.payer_id]++;
  report.by_line_of_business[c.line_of_business]++;
  if (c.sections.empty()) {
    report.by_section[c.policy_id + "/(line of business rule)"]++;
  }
  for (const std::string& s : c.sections) report.by_section[c.policy_id + "/" + s]++;
}

}  // namespace

Result<ReplayReport> replay_calls(audit::AuditStore& store, const CoverageService& candidate,
                                  const ReplayOptions& options) {
  ReplayReport report;
  auto visited =
      store.for_each_call(options.since, options.payer, [&](const audit::HookRecord& call) {
        if (call.service_id == kDtrServiceId) return true;  // DTR questions decide nothing here
        ++report.calls;
        report.determinations += static_cast<std::int64_t>(call.determinations.size());
        const ServiceDefinition* service = find_service(call.service_id);
        if (service == nullptr) {
          for (const ServiceDefinition& s : services()) {
            if (s.hook == call.hook) service = &s;
          }
        }
        std::string body = call.request_json;
        HookOutcome out;
        if (service == nullptr) {
          out.status = 404;
          out.error = "no service for hook " + call.hook;
        } else if (!call.fetched_json.empty()) {
          // The call read part of its record from the EHR's FHIR server: decide on that record.
          fhir::JsonDocument request, fetched;
          if (fhir::parse_copy(body, request, fhir::kStoredLimits) ||
              fhir::parse_copy(call.fetched_json, fetched, fhir::kStoredLimits)) {
            out.status = 500;
            out.error = "the stored call cannot be read";
          } else {
            out = candidate.call(*service, request, call.received_at, call.client_iss, nullptr,
                                 &fetched);
          }
        } else {
          out = candidate.call(service->id, body, call.received_at);
        }
        if (out.status != 200) {
          ++report.not_redecided;
          if (report.not_redecided_reasons.size() < 5)
            report.not_redecided_reasons.push_back(call.hook_instance + ": HTTP " +
                                                   std::to_string(out.status) + " " + out.error);
          if (options.progress) options.progress(report.calls, options.total);
          return true;
        }
        std::vector<std::string> refs;
        for (const auto& d : call.determinations) refs.push_back(d.order_ref);
        for (const auto& od : out.orders) {
          if (std::find(refs.begin(), refs.end(), od.order_reference) == refs.end())
            refs.push_back(od.order_reference);
        }
        for (const std::string& ref : refs) {
          const audit::DeterminationRecord* before = nullptr;
          for (const auto& d : call.determinations) {
            if (d.order_ref == ref) before = &d;
          }
          const OrderDetermination* after = nullptr;
          for (const auto& od : out.orders) {
            if (od.order_reference == ref) after = &od;
          }
          Values b, a;
          if (before != nullptr)
            b = {before->covered, before->pa_needed, before->doc_needed, before->doc_purpose,
                 before->info_needed};
          if (after != nullptr) {
            const policies::Determination& d = after->determination;
            // As the audit store holds them: the CRD codes.
            a = {std::string(code(d.covered)), std::string(code(d.pa_needed)),
                 std::string(code(d.doc_needed)), std::string(code(d.doc_purpose)),
                 std::string(code(d.info_needed))};
          }
          if (a == b) continue;
          ReplayChange c;
          c.hook_instance = call.hook_instance;
          c.received_at = audit::format_time(call.received_at);
          c.payer_id = call.payer_id;
          c.line_of_business = call.line_of_business;
          c.order_ref = ref;
          c.coverage_assertion_id = before != nullptr ? before->coverage_assertion_id : "";
          c.policy_id = before != nullptr ? before->policy_id : after->determination.policy_id;
          c.revision_from = before != nullptr ? before->policy_revision : "";
          c.revision_to = after != nullptr ? after->determination.policy_revision : "";
          c.from = before != nullptr ? b.text() : "(none)";
          c.to = after != nullptr ? a.text() : "(none)";
          c.from_covered = b.covered;
          c.to_covered = a.covered;
          compare_rows(
              read_rows(before != nullptr ? before->criteria_json : "[]"),
              read_rows(after != nullptr ? cds::criteria_json(after->determination) : "[]"), c);
          count(report, c);
          report.changes.push_back(std::move(c));
        }
        if (options.progress) options.progress(report.calls, options.total);
        return true;
      });
  if (!visited) return visited.error();
  return report;
}

std::string replay_text(const ReplayReport& r) {
  std::ostringstream out;
  out << "re-decided " << (r.calls - r.not_redecided) << " of " << r.calls << " stored hook calls ("
      << r.determinations << " determinations)\n";
  if (r.not_redecided > 0) {
    out << r.not_redecided << " calls could not be decided offline, e.g.\n";
    for (const std::string& s : r.not_redecided_reasons) out << "  " << s << "\n";
  }
  out << r.changes.size() << (r.changes.size() == 1 ? " determination" : " determinations")
      << " would change\n";
  auto table = [&](const char* title, const std::map<std::string, std::int64_t>& m) {
    if (m.empty()) return;
    out << title << ":\n";
    for (const auto& [k, v] : m) out << "  " << k << "  " << v << "\n";
  };
  table("from -> to", r.by_transition);
  table("by payer", r.by_payer);
  table("by line of business", r.by_line_of_business);
  table("by section", r.by_section);
  if (!r.changes.empty()) out << "changes:\n";
  for (const ReplayChange& c : r.changes) {
    out << "  " << dash(c.coverage_assertion_id) << "  " << c.order_ref << "  " << c.payer_id << " "
        << c.line_of_business << "  " << c.from << " -> " << c.to;
    if (!c.flipped.empty()) {
      out << "  flipped:";
      for (const FlippedCriterion& f : c.flipped)
        out << " [" << c.policy_id << "/" << f.section << "] " << f.label << " (" << dash(f.from)
            << " -> " << dash(f.to) << ");";
    }
    out << "\n";
  }
  return out.str();
}

std::string replay_json(const ReplayReport& r) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 1);
  auto s = [&](const char* key, const std::string& v) { write_json_member(w, key, v); };
  auto counts = [&](const char* key, const std::map<std::string, std::int64_t>& m) {
    w.Key(key);
    w.StartObject();
    for (const auto& [k, v] : m) {
      write_json_key(w, k);
      w.Int64(v);
    }
    w.EndObject();
  };
  w.StartObject();
  w.Key("calls");
  w.Int64(r.calls);
  w.Key("determinations");
  w.Int64(r.determinations);
  w.Key("notRedecided");
  w.Int64(r.not_redecided);
  w.Key("changed");
  w.Int64(static_cast<std::int64_t>(r.changes.size()));
  counts("byTransition", r.by_transition);
  counts("byPayer", r.by_payer);
  counts("byLineOfBusiness", r.by_line_of_business);
  counts("bySection", r.by_section);
  w.Key("changes");
  w.StartArray();
  for (const ReplayChange& c : r.changes) {
    w.StartObject();
    s("hookInstance", c.hook_instance);
    s("receivedAt", c.received_at);
    s("payerId", c.payer_id);
    s("lineOfBusiness", c.line_of_business);
    s("order", c.order_ref);
    s("coverageAssertionId", c.coverage_assertion_id);
    s("policyId", c.policy_id);
    s("revisionFrom", c.revision_from);
    s("revisionTo", c.revision_to);
    s("from", c.from);
    s("to", c.to);
    s("coveredFrom", c.from_covered);
    s("coveredTo", c.to_covered);
    w.Key("sections");
    w.StartArray();
    for (const std::string& x : c.sections) write_json_string(w, x);
    w.EndArray();
    w.Key("flipped");
    w.StartArray();
    for (const FlippedCriterion& f : c.flipped) {
      w.StartObject();
      s("section", f.section);
      s("label", f.label);
      s("fact", f.fact);
      s("from", f.from);
      s("to", f.to);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace cryo::cds
