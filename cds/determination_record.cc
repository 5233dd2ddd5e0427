#include "cds/determination_record.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cryo::cds {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

const char* truth(mappings::Truth t) {
  switch (t) {
    case mappings::Truth::kTrue:
      return "true";
    case mappings::Truth::kFalse:
      return "false";
    case mappings::Truth::kUnknown:
      return "unknown";
  }
  return "unknown";
}

void str(Writer& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

}  // namespace

std::string criteria_json(const policies::Determination& d) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const policies::SectionResult& s : d.sections) {
    w.StartObject();
    str(w, "section", s.id);
    str(w, "title", s.title);
    w.Key("indication");
    w.String(truth(s.indication));
    w.Key("codeListed");
    w.Bool(s.code_listed);
    w.Key("criteria");
    w.String(truth(s.criteria));
    w.Key("result");
    w.String(truth(s.result));
    w.Key("rows");
    w.StartArray();
    for (const policies::CriterionResult& row : s.rows) {
      w.StartObject();
      w.Key("depth");
      w.Int(row.depth);
      str(w, "label", row.label);
      str(w, "fact", row.fact);
      if (!row.role.empty()) str(w, "role", row.role);
      if (!row.condition.empty()) str(w, "condition", row.condition);
      w.Key("value");
      w.String(truth(row.value));
      str(w, "observed", row.observed);
      if (!row.notes.empty()) {
        w.Key("notes");
        w.StartArray();
        for (const std::string& n : row.notes)
          w.String(n.data(), static_cast<rapidjson::SizeType>(n.size()));
        w.EndArray();
      }
      w.Key("evidence");
      w.StartArray();
      for (const mappings::Evidence& e : row.evidence) {
        w.StartObject();
        str(w, "reference", e.reference);
        str(w, "date", e.date);
        if (!e.code.empty()) {
          str(w, "system", e.system);
          str(w, "code", e.code);
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
    str(w, "section", std::string());
    str(w, "title", d.basis);
    str(w, "result", d.covered);
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
  r.covered = d.covered;
  r.pa_needed = d.pa_needed;
  r.doc_needed = d.doc_needed;
  r.doc_purpose = d.doc_purpose;
  r.info_needed = d.info_needed;
  r.criteria_json = criteria_json(d);
  r.policy_id = d.policy_id;
  r.policy_revision = d.policy_revision;
  r.service_version = std::move(service_version);
  return r;
}

}  // namespace cryo::cds
