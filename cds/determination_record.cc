#include "cds/determination_record.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/json_writer.h"

namespace cryo::cds {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

}  // namespace

std::string criteria_json(const policies::Determination& d) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const policies::SectionResult& s : d.sections) {
    w.StartObject();
    write_json_member(w, "section", s.id);
    write_json_member(w, "title", s.title);
    w.Key("indication");
    write_json_string(w, mappings::to_string(s.indication));
    w.Key("codeListed");
    w.Bool(s.code_listed);
    w.Key("criteria");
    write_json_string(w, mappings::to_string(s.criteria));
    w.Key("result");
    write_json_string(w, mappings::to_string(s.result));
    w.Key("rows");
    w.StartArray();
    for (const policies::CriterionResult& row : s.rows) {
      w.StartObject();
      w.Key("depth");
      w.Int(row.depth);
      write_json_member(w, "label", row.label);
      write_json_member(w, "fact", row.fact);
      if (!row.role.empty()) write_json_member(w, "role", row.role);
      if (!row.condition.empty()) write_json_member(w, "condition", row.condition);
      w.Key("value");
      write_json_string(w, mappings::to_string(row.value));
      write_json_member(w, "observed", row.observed);
      if (!row.notes.empty()) {
        w.Key("notes");
        w.StartArray();
        for (const std::string& n : row.notes) write_json_string(w, n);
        w.EndArray();
      }
      w.Key("evidence");
      w.StartArray();
      for (const mappings::Evidence& e : row.evidence) {
        w.StartObject();
        write_json_member(w, "reference", e.reference);
        write_json_member(w, "date", e.date);
        if (!e.code.empty()) {
          write_json_member(w, "system", e.system);
          write_json_member(w, "code", e.code);
        }
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  if (d.sections.empty() && !d.basis.empty()) {
    w.StartObject();
    write_json_member(w, "section", std::string());
    write_json_member(w, "title", d.basis);
    write_json_member(w, "result", code(d.covered));
    w.Key("rows");
    w.StartArray();
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

audit::DeterminationRecord make_determination_record(std::string order_ref,
                                                     std::string coverage_assertion_id,
                                                     const policies::Determination& d,
                                                     std::string service_version) {
  audit::DeterminationRecord r;
  r.order_ref = std::move(order_ref);
  r.coverage_assertion_id = std::move(coverage_assertion_id);
  // The audit store keeps the CRD codes as written on the wire.
  r.covered = code(d.covered);
  r.pa_needed = code(d.pa_needed);
  r.doc_needed = code(d.doc_needed);
  r.doc_purpose = code(d.doc_purpose);
  r.info_needed = code(d.info_needed);
  r.criteria_json = criteria_json(d);
  r.policy_id = d.policy_id;
  r.policy_revision = d.policy_revision;
  r.service_version = std::move(service_version);
  return r;
}

}  // namespace cryo::cds
