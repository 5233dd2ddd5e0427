#include "audit/assertion_page.h"

#include <rapidjson/document.h>

namespace cryo::audit {
namespace {

constexpr const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:60rem}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3;width:14rem}"
    ".v-true{color:#0a6b2d}.v-false{color:#a31515}.v-unknown{color:#8a6100}"
    "code{font-size:.9em}h3{font-size:1rem;margin-top:1.2rem}"
    ".card{border:1px solid #ccc;padding:.3rem .6rem;margin:.4rem 0}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}";

std::string_view string_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

void row(std::string& out, std::string_view label, std::string_view value) {
  out += "<tr><th>";
  out += html_escape(label);
  out += "</th><td>";
  out += value.empty() ? std::string("&mdash;") : html_escape(value);
  out += "</td></tr>\n";
}

std::string value_cell(std::string_view v) {
  std::string cls = (v == "true" || v == "false" || v == "unknown") ? std::string(v) : "unknown";
  return "<td class=\"v-" + cls + "\">" + html_escape(v) + "</td>";
}

void criteria(std::string& out, const std::string& criteria_json) {
  rapidjson::Document doc;
  doc.Parse(criteria_json.data(), criteria_json.size());
  if (doc.HasParseError() || !doc.IsArray() || doc.Empty()) {
    out += "<p>No criteria were recorded.</p>\n";
    return;
  }
  for (const auto& section : doc.GetArray()) {
    std::string_view title = string_member(section, "title");
    std::string_view id = string_member(section, "section");
    out += "<h2>";
    out += html_escape(title.empty() ? id : title);
    if (!id.empty() && !title.empty()) {
      out += " <code>";
      out += html_escape(id);
      out += "</code>";
    }
    out += "</h2>\n<table>\n";
    std::string_view result = string_member(section, "result");
    if (!result.empty()) out += "<tr><th>Section result</th>" + value_cell(result) + "</tr>\n";
    std::string_view indication = string_member(section, "indication");
    if (!indication.empty()) out += "<tr><th>Indication</th>" + value_cell(indication) + "</tr>\n";
    if (section.IsObject() && section.HasMember("codeListed") && section["codeListed"].IsBool()) {
      row(out, "Code listed", section["codeListed"].GetBool() ? "yes" : "no");
    }
    out += "</table>\n";
    if (!section.IsObject() || !section.HasMember("rows") || !section["rows"].IsArray() ||
        section["rows"].Empty()) {
      continue;
    }
    out += "<table>\n<tr><th>Criterion</th><th>Value</th><th>Observed</th><th>Evidence</th></tr>\n";
    for (const auto& r : section["rows"].GetArray()) {
      int depth =
          r.IsObject() && r.HasMember("depth") && r["depth"].IsInt() ? r["depth"].GetInt() : 0;
      if (depth < 0) depth = 0;
      if (depth > 12) depth = 12;
      out += "<tr><td style=\"padding-left:" + std::to_string(0.5 + 1.2 * depth).substr(0, 4) +
             "rem\">";
      out += html_escape(string_member(r, "label"));
      std::string_view fact = string_member(r, "fact");
      if (!fact.empty()) {
        out += " <code>";
        out += html_escape(fact);
        out += "</code>";
      }
      std::string_view condition = string_member(r, "condition");
      if (!condition.empty()) {
        out += " &mdash; ";
        out += html_escape(condition);
      }
      out += "</td>" + value_cell(string_member(r, "value")) + "<td>";
      out += html_escape(string_member(r, "observed"));
      if (r.IsObject() && r.HasMember("notes") && r["notes"].IsArray()) {
        for (const auto& n : r["notes"].GetArray()) {
          if (!n.IsString()) continue;
          out += "<br><small>";
          out += html_escape(std::string_view(n.GetString(), n.GetStringLength()));
          out += "</small>";
        }
      }
      out += "</td><td>";
      if (r.IsObject() && r.HasMember("evidence") && r["evidence"].IsArray()) {
        bool first = true;
        for (const auto& e : r["evidence"].GetArray()) {
          if (!first) out += "<br>";
          first = false;
          out += html_escape(string_member(e, "reference"));
          std::string_view date = string_member(e, "date");
          if (!date.empty()) {
            out += " (";
            out += html_escape(date);
            out += ")";
          }
        }
      }
      out += "</td></tr>\n";
    }
    out += "</table>\n";
  }
}

const rapidjson::Value* object_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// What a claim is matched against, in words, from the stored look-up details.
void claim_details(std::string& out, const DeterminationRecord& d) {
  rapidjson::Document l;
  l.Parse(d.lookup_json.data(), d.lookup_json.size());
  if (l.HasParseError() || !l.IsObject()) l.SetObject();
  const rapidjson::Value empty(rapidjson::kObjectType);
  auto sub = [&](const char* name) -> const rapidjson::Value& {
    const rapidjson::Value* v = object_member(l, name);
    return v && v->IsObject() ? *v : empty;
  };
  out += "<table>\n";
  row(out, "Member id", d.member_id);
  std::string payer(string_member(sub("payer"), "name"));
  if (payer.empty()) payer = std::string(string_member(sub("payer"), "id"));
  row(out, "Payer", payer);
  row(out, "Line of business", string_member(l, "lineOfBusiness"));
  std::string code = d.billing_code;
  if (std::string_view display = string_member(sub("billingCode"), "display"); !display.empty())
    code += " — " + std::string(display);
  row(out, "CPT code", code.empty() ? "" : "CPT " + code);
  row(out, "Date of service", d.date_of_service);
  // The words a clinician reads were stored with the look-up details (cds/assertion_lookup.h);
  // the CRD code stands in where a record has none.
  auto in_words = [&](const char* key, std::string_view code) {
    std::string_view words = string_member(l, key);
    return words.empty() ? code : words;
  };
  row(out, "Outcome", in_words("outcome", d.covered));
  row(out, "Prior authorization", in_words("priorAuthorization", d.pa_needed));
  row(out, "Documentation", in_words("documentation", d.doc_needed));
  out += "<tr><th>Reasons</th><td>";
  const rapidjson::Value* reasons = object_member(l, "reasons");
  if (reasons && reasons->IsArray() && !reasons->Empty()) {
    out += "<ul>";
    for (const auto& r : reasons->GetArray()) {
      if (!r.IsString()) continue;
      out += "<li>" + html_escape(std::string_view(r.GetString(), r.GetStringLength())) + "</li>";
    }
    out += "</ul>";
  } else {
    out += "&mdash;";
  }
  out += "</td></tr>\n";
  out += "<tr><th>Documents</th><td>";
  const rapidjson::Value* docs = object_member(l, "documents");
  if (docs && docs->IsArray() && !docs->Empty()) {
    out += "<ul>";
    for (const auto& doc : docs->GetArray()) {
      std::string_view status = string_member(doc, "status");
      out += "<li>" + html_escape(string_member(doc, "title")) + " &mdash; <strong>" +
             html_escape(status) + "</strong>";
      std::string_view date = string_member(doc, "date");
      if (!date.empty()) out += " " + html_escape(date.substr(0, 10));
      std::string_view ref = string_member(doc, "reference");
      if (!ref.empty()) out += " (" + html_escape(ref) + ")";
      out += "</li>";
    }
    out += "</ul>";
  } else {
    out += "&mdash;";
  }
  out += "</td></tr>\n";
  const rapidjson::Value& policy = sub("policy");
  std::string name(string_member(policy, "document"));
  if (std::string_view title = string_member(policy, "title"); !title.empty())
    name += (name.empty() ? "" : ", ") + std::string(title);
  row(out, "Policy", name.empty() ? d.policy_id : d.policy_id + " (" + name + ")");
  row(out, "Policy revision", d.policy_revision);
  row(out, "Policy and mapping data hash", string_member(policy, "dataHash"));
  out += "</table>\n";
  const rapidjson::Value* cards = object_member(l, "cards");
  if (cards && cards->IsArray() && !cards->Empty()) {
    out += "<h3>Cards as sent</h3>\n";
    for (const auto& c : cards->GetArray()) {
      out += "<div class=\"card\"><p><strong>" + html_escape(string_member(c, "summary")) +
             "</strong> <small>(" + html_escape(string_member(c, "indicator")) +
             ")</small></p><pre>" + html_escape(string_member(c, "detail")) + "</pre></div>\n";
    }
  }
}

}  // namespace

std::string render_assertion_page(const AssertionRecord& a) {
  return render_assertion_page(std::span<const AssertionRecord>(&a, 1));
}

std::string render_assertion_page(std::span<const AssertionRecord> orders) {
  if (orders.empty()) return {};
  const AssertionRecord& a = orders.front();
  const std::string& id = a.determination.coverage_assertion_id;
  std::string out;
  out.reserve(4096);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>Coverage assertion ";
  out += html_escape(id);
  out += "</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<h1>Coverage assertion <code>";
  out += html_escape(id);
  out += "</code></h1>\n";

  for (const AssertionRecord& order : orders) {
    const DeterminationRecord& d = order.determination;
    // A later call that revised the assertion (the answers to the payer's questions).
    const bool revision = order.call.hook_instance != a.call.hook_instance;
    out += revision ? "<h2>Revised determination for " : "<h2>Determination for ";
    out += html_escape(d.order_ref);
    if (revision) {
      out += " <small>(";
      out += html_escape(order.call.hook);
      out += ", ";
      out += html_escape(format_time(order.call.received_at));
      out += ")</small>";
    }
    out += "</h2>\n";
    claim_details(out, d);
    out += "<h3>As coded in the coverage-information</h3>\n<table>\n";
    row(out, "Order", d.order_ref);
    row(out, "covered", d.covered);
    row(out, "pa-needed", d.pa_needed);
    row(out, "doc-needed", d.doc_needed);
    row(out, "doc-purpose", d.doc_purpose);
    row(out, "info-needed", d.info_needed);
    row(out, "Service version", d.service_version);
    out += "</table>\n";
    criteria(out, d.criteria_json);
  }

  out += "<h2>Hook call</h2>\n<table>\n";
  row(out, "Received", format_time(a.call.received_at));
  row(out, "Hook", a.call.hook);
  row(out, "hookInstance", a.call.hook_instance);
  row(out, "Service", a.call.service_id);
  row(out, "Client (iss)", a.call.client_iss);
  row(out, "Patient", a.call.patient_id);
  row(out, "Payer", a.call.payer_id);
  row(out, "Line of business", a.call.line_of_business);
  out += "</table>\n";
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace cryo::audit
