#include "cds/response_writer.h"

#include <algorithm>
#include <map>
#include <sstream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/ids.h"
#include "base/text.h"
#include "cds/card_text.h"
#include "cds/catalog.h"
#include "fhir/coding.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using mappings::Truth;
using policies::Determination;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kCoverageInformationUrl =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
constexpr std::string_view kCrdTempCodes = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";

void str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void key_str(Writer& w, std::string_view key, std::string_view value) {
  str(w, key);
  str(w, value);
}

// Truncates to at most `max_chars` Unicode characters, ending with "…" when cut.
std::string truncate_chars(std::string_view s, size_t max_chars) {
  size_t chars = 0;
  size_t cut = std::string_view::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (chars == max_chars - 1 && cut == std::string_view::npos) cut = i;
    if (++chars > max_chars) return std::string(s.substr(0, cut)) + "…";
  }
  return std::string(s);
}

std::string evidence_text(const std::vector<mappings::Evidence>& evidence) {
  std::vector<std::string> parts;
  for (const auto& e : evidence) {
    std::string p = e.reference;
    if (!e.date.empty()) p += (p.empty() ? "" : ", ") + e.date;
    if (!e.text.empty()) p += (p.empty() ? "" : ": ") + e.text;
    parts.push_back(std::move(p));
  }
  return join(parts, "; ");
}

void write_coverage_information(Writer& w, const OrderDetermination& od,
                                std::string_view coverage_reference, std::string_view date) {
  const Determination& d = od.determination;
  auto code_ext = [&](std::string_view url, std::string_view code) {
    if (code.empty()) return;
    w.StartObject();
    key_str(w, "url", url);
    key_str(w, "valueCode", code);
    w.EndObject();
  };
  w.StartObject();
  w.Key("extension");
  w.StartArray();
  w.StartObject();
  key_str(w, "url", "coverage");
  w.Key("valueReference");
  w.StartObject();
  key_str(w, "reference", coverage_reference);
  w.EndObject();
  w.EndObject();
  code_ext("covered", d.covered);
  code_ext("pa-needed", d.pa_needed);
  code_ext("doc-needed", d.doc_needed);
  code_ext("doc-purpose", d.doc_purpose);
  code_ext("info-needed", d.info_needed);
  w.StartObject();
  key_str(w, "url", "billingCode");
  w.Key("valueCoding");
  w.StartObject();
  key_str(w, "system", fhir::kCpt);
  key_str(w, "code", d.billing_code);
  if (!d.procedure.empty()) key_str(w, "display", d.procedure);
  w.EndObject();
  w.EndObject();
  for (const auto& reason : d.reasons) {
    w.StartObject();
    key_str(w, "url", "reason");
    w.Key("valueCodeableConcept");
    w.StartObject();
    key_str(w, "text", reason);
    w.EndObject();
    w.EndObject();
  }
  if (!od.policy_url.empty()) {
    w.StartObject();
    key_str(w, "url", "detail");
    w.Key("extension");
    w.StartArray();
    w.StartObject();
    key_str(w, "url", "code");
    w.Key("valueCodeableConcept");
    w.StartObject();
    w.Key("coding");
    w.StartArray();
    w.StartObject();
    key_str(w, "system", kCrdTempCodes);
    key_str(w, "code", "policy-link");
    key_str(w, "display", "Policy Link");
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndObject();
    w.StartObject();
    key_str(w, "url", "value");
    key_str(w, "valueUrl", od.policy_url);
    w.EndObject();
    w.EndArray();
    w.EndObject();
  }
  w.StartObject();
  key_str(w, "url", "date");
  key_str(w, "valueDate", date);
  w.EndObject();
  w.StartObject();
  key_str(w, "url", "coverage-assertion-id");
  key_str(w, "valueString", od.coverage_assertion_id);
  w.EndObject();
  w.EndArray();
  key_str(w, "url", kCoverageInformationUrl);
  w.EndObject();
}

bool is_coverage_information(const Json& extension) {
  return fhir::string_or_empty(fhir::member(extension, "url")) == kCoverageInformationUrl;
}

// The draft order, element for element, with this response's coverage-information replacing
// any earlier one.
void write_annotated_order(Writer& w, const OrderDetermination& od,
                           std::string_view coverage_reference, std::string_view date) {
  const Json& order = *od.order;
  bool wrote_extension = false;
  w.StartObject();
  for (auto it = order.MemberBegin(); it != order.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (name == "extension" && it->value.IsArray()) {
      w.Key("extension");
      w.StartArray();
      for (const Json& e : it->value.GetArray()) {
        if (!is_coverage_information(e)) e.Accept(w);
      }
      write_coverage_information(w, od, coverage_reference, date);
      w.EndArray();
      wrote_extension = true;
      continue;
    }
    it->name.Accept(w);
    it->value.Accept(w);
  }
  if (!wrote_extension) {
    w.Key("extension");
    w.StartArray();
    write_coverage_information(w, od, coverage_reference, date);
    w.EndArray();
  }
  w.EndObject();
}

void write_source(Writer& w, std::string_view label, std::string_view topic_code,
                  std::string_view topic_display) {
  w.Key("source");
  w.StartObject();
  key_str(w, "label", label);
  w.Key("topic");
  w.StartObject();
  key_str(w, "system", kCrdTempCodes);
  key_str(w, "code", topic_code);
  key_str(w, "display", topic_display);
  w.EndObject();
  w.EndObject();
}

void write_associated(Writer& w, const std::vector<std::string>& references) {
  w.Key("extension");
  w.StartObject();
  w.Key("davinci-crd.associated-resource");
  w.StartArray();
  for (const auto& r : references) {
    w.StartObject();
    key_str(w, "reference", r);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void write_link(Writer& w, std::string_view label, std::string_view url) {
  w.StartObject();
  key_str(w, "label", label);
  key_str(w, "url", url);
  key_str(w, "type", "absolute");
  w.EndObject();
}

void write_coverage_card(Writer& w, const OrderDetermination& od) {
  const Determination& d = od.determination;
  w.StartObject();
  key_str(w, "uuid", od.card_uuid);
  const CardWords words = coverage_card_words(od);  // wording: cds/card_text.h
  key_str(w, "summary", words.summary);
  key_str(w, "detail", words.detail);
  key_str(w, "indicator", words.indicator);
  write_source(w, d.payer_name, kCoverageInfoType, "Coverage Information");
  w.Key("links");
  w.StartArray();
  write_link(w, truncate_chars("Policy: " + d.policy_document, 100), od.policy_url);
  w.EndArray();
  write_associated(w, {od.order_reference});
  w.EndObject();
}

struct PolicyCard {
  const OrderDetermination* first = nullptr;
  std::vector<std::string> orders;
};

void write_policy_card(Writer& w, const PolicyCard& card, const std::string& uuid) {
  const Determination& d = card.first->determination;
  w.StartObject();
  key_str(w, "uuid", uuid);
  key_str(w, "summary", policy_card_summary(d));
  std::string detail = "The " + d.payer_name + " policy that decided coverage of " +
                       join(card.orders, ", ") + ": " + d.policy_document + ", *" + d.policy_title +
                       "*" + (d.policy_revision.empty() ? "" : ", revision " + d.policy_revision) +
                       ". The linked page shows its criteria, codes, documentation rules and how "
                       "the payer reads them.";
  key_str(w, "detail", detail);
  key_str(w, "indicator", "info");
  write_source(w, d.payer_name, kGuidelineType, "Guideline");
  w.Key("links");
  w.StartArray();
  write_link(w, truncate_chars(d.payer_name + ": " + d.policy_title, 100), card.first->policy_url);
  w.EndArray();
  write_associated(w, card.orders);
  w.EndObject();
}

}  // namespace

std::string card_summary(const Determination& d) {
  OrderDetermination od;
  od.determination = d;
  return coverage_card_words(od).summary;
}

std::string card_detail(const OrderDetermination& od) {
  return coverage_card_words(od).detail;
}

std::string write_response(const ResponseInput& input, std::vector<std::string>& card_uuids) {
  const CardConfiguration empty_config;
  const CardConfiguration& config = input.configuration ? *input.configuration : empty_config;
  const bool coverage_cards = config.allows(kCoverageInfoType);
  const bool policy_cards = config.allows(kGuidelineType);
  int budget = config.max_cards.value_or(kDefaultMaxCards);

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("cards");
  w.StartArray();
  if (coverage_cards) {
    for (auto& od : input.orders) {
      if (budget <= 0) break;
      od.card_uuid = random_uuid();
      card_uuids.push_back(od.card_uuid);
      write_coverage_card(w, od);
      --budget;
    }
  }
  if (policy_cards) {
    std::map<std::string, PolicyCard> by_policy;
    std::vector<std::string> order;
    for (const auto& od : input.orders) {
      auto [it, inserted] = by_policy.try_emplace(od.determination.policy_id);
      if (inserted) {
        it->second.first = &od;
        order.push_back(od.determination.policy_id);
      }
      it->second.orders.push_back(od.order_reference);
    }
    for (const auto& id : order) {
      if (budget <= 0) break;
      std::string uuid = random_uuid();
      card_uuids.push_back(uuid);
      write_policy_card(w, by_policy[id], uuid);
      --budget;
    }
  }
  w.EndArray();
  if (coverage_cards && !input.orders.empty()) {
    w.Key("systemActions");
    w.StartArray();
    for (const auto& od : input.orders) {
      w.StartObject();
      key_str(w, "type", "update");
      key_str(w, "description",
              "Record " + od.determination.payer_name + " coverage information (" +
                  od.determination.covered + ") on " + od.order_reference);
      w.Key("resource");
      write_annotated_order(w, od, input.coverage_reference, input.assertion_date);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string explain_text(std::span<const OrderDetermination> orders) {
  std::ostringstream out;
  if (orders.empty()) {
    out << "No order in this request is covered by a loaded policy of the patient's payer.\n";
    return out.str();
  }
  for (const auto& od : orders) {
    const Determination& d = od.determination;
    out << od.order_reference << "  CPT " << d.billing_code << "  " << d.payer_name << " ("
        << d.line_of_business << ")\n";
    out << "  policy       " << d.policy_document << " — " << d.policy_title << " ("
        << d.policy_revision << ")\n";
    out << "  covered      " << d.covered << "\n";
    if (!d.pa_needed.empty()) out << "  pa-needed    " << d.pa_needed << "\n";
    if (!d.doc_needed.empty())
      out << "  doc-needed   " << d.doc_needed << " (" << d.doc_purpose << ")\n";
    if (!d.info_needed.empty()) out << "  info-needed  " << d.info_needed << "\n";
    for (const auto& r : d.reasons) out << "  reason       " << r << "\n";
    for (const auto& section : d.sections) {
      out << "  section " << section.title << ": " << mappings::to_string(section.result) << "\n";
      for (const auto& row : section.rows) {
        std::string label(static_cast<size_t>(row.depth) * 2, ' ');
        label += row.label;
        out << "    " << std::string(mappings::to_string(row.value))
            << std::string(9 - mappings::to_string(row.value).size(), ' ') << label;
        if (!row.observed.empty()) out << "  [" << row.observed << "]";
        std::string ev = evidence_text(row.evidence);
        if (!ev.empty()) out << "  <- " << ev;
        out << "\n";
      }
    }
    for (const auto& doc : d.documents) {
      out << "  document     "
          << (doc.required ? (doc.found ? "found    " : "MISSING  ") : "n/a      ") << doc.title;
      if (doc.found) out << "  <- " << doc.reference << " " << doc.date;
      out << "\n";
    }
    for (const auto& r : d.requested_documents) out << "  send         " << r << "\n";
    for (const auto& n : d.notices) out << "  notice       " << n << "\n";
    out << "\n";
  }
  return out.str();
}

}  // namespace cryo::cds
