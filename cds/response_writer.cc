#include "cds/response_writer.h"

#include <algorithm>
#include <map>
#include <sstream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/ids.h"
#include "base/json_writer.h"
#include "base/text.h"
#include "cds/card.h"
#include "cds/card_text.h"
#include "cds/catalog.h"
#include "fhir/coding.h"
#include "fhir/resource_index.h"

namespace cryo::cds {
namespace {

using fhir::Json;
using mappings::Truth;
using policies::Determination;
using policies::DocNeeded;
using policies::InfoNeeded;
using policies::PaNeeded;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kCoverageInformationUrl =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
constexpr size_t kMaxSummaryChars = 139;
constexpr std::string_view kCrdTempCodes = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";

// base's JSON member writer, by the short name this file uses.
constexpr auto& key_str = write_json_member<Writer>;

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
    if (!e.code.empty()) p += " [" + mappings::coding_label(e.system, e.code) + "]";
    parts.push_back(std::move(p));
  }
  return join(parts, "; ");
}

void write_code_extension(Writer& w, std::string_view url, std::string_view code) {
  if (code.empty()) return;
  w.StartObject();
  key_str(w, "url", url);
  key_str(w, "valueCode", code);
  w.EndObject();
}

void write_url_value(Writer& w, std::string_view url, std::string_view key,
                     std::string_view value) {
  w.StartObject();
  key_str(w, "url", url);
  key_str(w, key, value);
  w.EndObject();
}

// The coverage it speaks for and the decision's codes.
void write_decision(Writer& w, const CoverageValues& v, std::string_view coverage_reference) {
  w.StartObject();
  key_str(w, "url", "coverage");
  w.Key("valueReference");
  w.StartObject();
  key_str(w, "reference", coverage_reference);
  w.EndObject();
  w.EndObject();
  write_code_extension(w, "covered", v.covered);
  write_code_extension(w, "pa-needed", v.pa_needed);
  for (const auto& c : v.doc_needed) write_code_extension(w, "doc-needed", c);
  for (const auto& c : v.doc_purpose) write_code_extension(w, "doc-purpose", c);
  for (const auto& c : v.info_needed) write_code_extension(w, "info-needed", c);
}

void write_billing_code(Writer& w, const Determination& d) {
  w.StartObject();
  key_str(w, "url", "billingCode");
  w.Key("valueCoding");
  w.StartObject();
  key_str(w, "system", fhir::kCpt);
  key_str(w, "code", d.billing_code);
  if (!d.procedure.empty()) key_str(w, "display", d.procedure);
  w.EndObject();
  w.EndObject();
}

void write_reasons(Writer& w, const CoverageValues& v) {
  for (const auto& reason : v.reasons) {
    w.StartObject();
    key_str(w, "url", "reason");
    w.Key("valueCodeableConcept");
    w.StartObject();
    if (!reason.code.empty()) {
      w.Key("coding");
      w.StartArray();
      w.StartObject();
      key_str(w, "system", kCrdTempSystem);
      key_str(w, "code", reason.code);
      w.EndObject();
      w.EndArray();
    }
    key_str(w, "text", reason.text);
    w.EndObject();
    w.EndObject();
  }
}

// The policy-link detail (CRD versions whose shape carries it).
void write_policy_detail(Writer& w, const CoverageValues& v, std::string_view policy_url) {
  w.StartObject();
  key_str(w, "url", "detail");
  w.Key("extension");
  w.StartArray();
  if (!v.detail_category.empty()) write_url_value(w, "category", "valueCode", v.detail_category);
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
  write_url_value(w, "value", "valueUrl", policy_url);
  w.EndArray();
  w.EndObject();
}

void write_coverage_information(Writer& w, const OrderDetermination& od, const CoverageValues& v,
                                std::string_view coverage_reference, std::string_view date) {
  w.StartObject();
  w.Key("extension");
  w.StartArray();
  write_decision(w, v, coverage_reference);
  write_billing_code(w, od.determination);
  write_reasons(w, v);
  if (v.policy_link_detail && !od.policy_url.empty()) write_policy_detail(w, v, od.policy_url);
  write_url_value(w, "date", "valueDate", date);
  write_url_value(w, "coverage-assertion-id", "valueString", od.coverage_assertion_id);
  if (!v.questionnaire.empty())
    write_url_value(w, "questionnaire", "valueCanonical", v.questionnaire);
  w.EndArray();
  key_str(w, "url", kCoverageInformationUrl);
  w.EndObject();
}

bool is_coverage_information(const Json& extension) {
  return fhir::string_or_empty(fhir::member(extension, "url")) == kCoverageInformationUrl;
}

struct Annotation {
  const OrderDetermination* order;
  const CoverageValues* values;
};

// The resource, element for element, with this response's coverage-information replacing any
// earlier one.
void write_annotated(Writer& w, const Json& resource, std::span<const Annotation> annotations,
                     std::string_view coverage_reference, std::string_view date) {
  bool wrote_extension = false;
  auto write_all = [&] {
    for (const auto& a : annotations)
      write_coverage_information(w, *a.order, *a.values, coverage_reference, date);
  };
  w.StartObject();
  for (auto it = resource.MemberBegin(); it != resource.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (name == "extension" && it->value.IsArray()) {
      w.Key("extension");
      w.StartArray();
      for (const Json& e : it->value.GetArray()) {
        if (!is_coverage_information(e)) e.Accept(w);
      }
      write_all();
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
    write_all();
    w.EndArray();
  }
  w.EndObject();
}

CardSource card_source(const Determination& d, std::string_view code, std::string_view display,
                       std::string_view system = kCrdTempCodes) {
  return {d.payer_name, std::string(system), std::string(code), std::string(display)};
}

// The one card writer: every card this service sends goes through here.
void write_card(Writer& w, const Card& card) {
  w.StartObject();
  key_str(w, "uuid", card.uuid);
  key_str(w, "summary", card.summary);
  key_str(w, "detail", card.detail);
  key_str(w, "indicator", card.indicator);
  w.Key("source");
  w.StartObject();
  key_str(w, "label", card.source.label);
  w.Key("topic");
  w.StartObject();
  key_str(w, "system", card.source.system);
  key_str(w, "code", card.source.code);
  key_str(w, "display", card.source.display);
  w.EndObject();
  w.EndObject();
  if (!card.links.empty()) {
    w.Key("links");
    w.StartArray();
    for (const auto& link : card.links) {
      w.StartObject();
      key_str(w, "label", link.label);
      key_str(w, "url", link.url);
      key_str(w, "type", link.type);
      if (!link.app_context.empty()) key_str(w, "appContext", link.app_context);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("extension");
  w.StartObject();
  w.Key("davinci-crd.associated-resource");
  w.StartArray();
  for (const auto& r : card.associated) {
    w.StartObject();
    key_str(w, "reference", r);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
}

Card coverage_card(const OrderDetermination& od) {
  const Determination& d = od.determination;
  CardWords words = coverage_card_words(od);  // wording: cds/card_text.h
  Card card;
  card.uuid = od.card_uuid;
  card.summary = std::move(words.summary);
  card.detail = std::move(words.detail);
  card.indicator = std::move(words.indicator);
  card.source = card_source(d, kCoverageInfoType, "Coverage Information");
  card.links.push_back(
      {truncate_chars("Policy: " + d.policy_document, 100), od.policy_url, "absolute", ""});
  card.associated = {od.order_reference};
  return card;
}

// The Instructions card: text only (no links, no suggestions), what the payer needs done.
Card instructions_card(const OrderDetermination& od, std::string detail, std::string uuid,
                       bool discharge) {
  const Determination& d = od.determination;
  std::vector<std::string> steps;
  if (discharge) {
    size_t missing = 0;
    for (const auto& doc : d.documents) missing += (doc.required && !doc.found);
    steps.push_back(missing == 0 ? std::string("documentation complete")
                                 : std::to_string(missing) +
                                       (missing == 1 ? " document" : " documents") + " missing");
  } else {
    if (d.pa_needed == PaNeeded::kAuthNeeded) steps.push_back("request prior authorization");
    if (!d.missing_facts.empty()) steps.push_back("record what the policy asks");
    if (d.doc_needed != DocNeeded::kAbsent) steps.push_back("send the documentation");
  }
  Card card;
  card.uuid = std::move(uuid);
  card.summary = truncate_chars(d.payer_name + ", CPT " + d.billing_code + ": " +
                                    (discharge ? "documentation for the claim — " : "to do — ") +
                                    join(steps, "; "),
                                kMaxSummaryChars);
  card.detail = std::move(detail);
  card.indicator = "info";
  card.source = card_source(d, kInstructionsType, "Instructions", kLocalCardTypeSystem);
  card.associated = {od.order_reference};
  return card;
}

struct PolicyCard {
  const OrderDetermination* first = nullptr;
  std::vector<std::string> orders;
};

// The DTR launch card: a SMART link to the deployment's DTR app, its appContext naming the
// coverage-assertion-id, the order and the questionnaire (docs/dtr.md).
Card dtr_launch_card(const OrderDetermination& od, std::string_view launch_url, std::string uuid) {
  const Determination& d = od.determination;
  rapidjson::StringBuffer context;
  {
    rapidjson::Writer<rapidjson::StringBuffer> c(context);
    c.StartObject();
    key_str(c, "coverageAssertionId", od.coverage_assertion_id);
    key_str(c, "order", od.order_reference);
    key_str(c, "questionnaire", od.questionnaire_url);
    c.EndObject();
  }
  Card card;
  card.uuid = std::move(uuid);
  card.summary =
      truncate_chars(d.payer_name + ": answer the payer's questions to decide coverage", 140);
  card.detail = "The decision for " + od.order_reference +
                " waits for facts or documents the record "
                "does not show. The payer's questionnaire asks only for those.";
  card.indicator = "info";
  card.source = card_source(d, kDtrLaunchType, "DTR launch", kLocalCardTypeSystem);
  card.links.push_back({"Answer the payer's questions (DTR)", std::string(launch_url), "smart",
                        std::string(context.GetString(), context.GetSize())});
  card.associated = {od.order_reference};
  return card;
}

Card policy_card(const PolicyCard& policy, std::string uuid) {
  const Determination& d = policy.first->determination;
  Card card;
  card.uuid = std::move(uuid);
  card.summary = policy_card_summary(d);
  card.detail = "The " + d.payer_name + " policy that decided coverage of " +
                join(policy.orders, ", ") + ": " + d.policy_document + ", *" + d.policy_title +
                "*" + (d.policy_revision.empty() ? "" : ", revision " + d.policy_revision) +
                ". The linked page shows its criteria, codes, documentation rules and how "
                "the payer reads them.";
  card.indicator = "info";
  card.source = card_source(d, kGuidelineType, "Guideline");
  card.links.push_back({truncate_chars(d.payer_name + ": " + d.policy_title, 100),
                        policy.first->policy_url, "absolute", ""});
  card.associated = policy.orders;
  return card;
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

std::string instructions_detail(const OrderDetermination& od, bool discharge) {
  const Determination& d = od.determination;
  std::ostringstream md;
  std::string with =
      d.pa_needed == PaNeeded::kAuthNeeded ? "the prior authorization request" : "the claim";
  if (discharge) {
    md << "Documentation " << d.payer_name << " will want for " << od.order_reference << " (CPT "
       << d.billing_code << (d.procedure.empty() ? "" : ", " + d.procedure) << "):\n\n";
    size_t listed = 0;
    for (const auto& doc : d.documents) {
      if (!doc.required) continue;
      ++listed;
      md << (doc.found ? "- ✔ Found — " : "- ✘ Missing — ") << doc.title;
      if (doc.found) md << ": " << doc.reference << (doc.date.empty() ? "" : ", " + doc.date);
      md << "\n";
    }
    for (const auto& r : d.requested_documents) {
      md << "- Include — " << r << "\n";
      ++listed;
    }
    if (listed == 0) md << "- No documentation is required by the policy.\n";
    return md.str();
  }
  bool any = false;
  if (d.pa_needed == PaNeeded::kAuthNeeded) {
    md << "1. **Prior authorization:** submit a request to " << d.payer_name
       << " before the procedure (CPT " << d.billing_code << ").\n";
    any = true;
  }
  if (!d.missing_facts.empty()) {
    md << (any ? "2" : "1") << ". **Record in the chart:** " << join(d.missing_facts, "; ")
       << ".\n";
    any = true;
  }
  if (d.doc_needed != DocNeeded::kAbsent) {
    std::vector<std::string> missing, found;
    for (const auto& doc : d.documents) {
      if (!doc.required) continue;
      (doc.found ? found : missing).push_back(doc.title);
    }
    md << "- **Send with " << with << ":**";
    if (!missing.empty()) md << " missing from the record — " << join(missing, "; ") << ".";
    if (!found.empty()) md << " In the record — " << join(found, "; ") << ".";
    if (!d.requested_documents.empty())
      md << " The request must include: " << join(d.requested_documents, "; ") << ".";
    md << "\n";
    any = true;
  }
  if (!any) return "";
  md << "\nFor " << od.order_reference << ", " << d.payer_name << " " << d.policy_document << ".";
  return md.str();
}

std::string current_assertion_id(const Json& order, std::string_view coverage_reference,
                                 const CoverageValues& v, std::string_view billing_code) {
  for (const Json& e : fhir::items(fhir::member(order, "extension"))) {
    if (!is_coverage_information(e)) continue;
    std::map<std::string, std::vector<std::string>, std::less<>> codes;
    std::string coverage, billing, assertion;
    for (const Json& sub : fhir::items(fhir::member(e, "extension"))) {
      std::string url(fhir::string_or_empty(fhir::member(sub, "url")));
      if (const Json* c = fhir::member(sub, "valueCode"); c && c->IsString())
        codes[url].emplace_back(fhir::string_or_empty(c));
      if (url == "coverage")
        coverage =
            fhir::string_or_empty(fhir::member(fhir::member(sub, "valueReference"), "reference"));
      if (url == "billingCode")
        billing = fhir::string_or_empty(fhir::member(fhir::member(sub, "valueCoding"), "code"));
      if (url == "coverage-assertion-id")
        assertion = fhir::string_or_empty(fhir::member(sub, "valueString"));
    }
    auto one = [&](std::string_view url) {
      auto it = codes.find(url);
      return it == codes.end() || it->second.empty() ? std::string() : it->second.front();
    };
    auto all = [&](std::string_view url) {
      auto it = codes.find(url);
      return it == codes.end() ? std::vector<std::string>() : it->second;
    };
    if (coverage == coverage_reference && billing == billing_code && !assertion.empty() &&
        one("covered") == v.covered && one("pa-needed") == v.pa_needed &&
        all("doc-needed") == v.doc_needed && all("doc-purpose") == v.doc_purpose &&
        all("info-needed") == v.info_needed)
      return assertion;
  }
  return "";
}

namespace {

struct CardSwitches {
  bool coverage = false;
  bool policy = false;
  bool instructions = false;
  bool dtr_launch = false;
};

CardSwitches card_switches(const ResponseInput& input, const CardConfiguration& config) {
  CardSwitches on;
  on.coverage = (input.card_types & kCoverageCards) != 0 && config.allows(kCoverageInfoType);
  on.policy = (input.card_types & kPolicyCards) != 0 && config.allows(kGuidelineType);
  on.instructions = (input.card_types & kInstructionCards) != 0 && config.allows(kInstructionsType);
  on.dtr_launch = !input.dtr_launch_url.empty() && !input.secondary_hook && !input.discharge &&
                  config.allows(kDtrLaunchType, false);
  return on;
}

// One External Reference card per policy, in the order the policies first decide an order.
std::vector<PolicyCard> policy_cards(std::span<const OrderDetermination> orders) {
  std::map<std::string, size_t> index;
  std::vector<PolicyCard> cards;
  for (const auto& od : orders) {
    auto [it, inserted] = index.try_emplace(od.determination.policy_id, cards.size());
    if (inserted) cards.push_back({&od, {}});
    cards[it->second].orders.push_back(od.order_reference);
  }
  return cards;
}

// Every card, in the order they are sent (coverage, instructions, DTR launch, policy links),
// within max-cards. Fills each order's card_uuid and `sent`.
std::vector<Card> build_cards(const ResponseInput& input, const CardSwitches& on, int budget,
                              std::vector<SentCard>& sent) {
  std::vector<Card> cards;
  auto add = [&](Card card, std::string_view type) {
    sent.push_back({card.uuid, type});
    cards.push_back(std::move(card));
    --budget;
  };
  if (on.coverage && !input.discharge) {
    for (auto& od : input.orders) {
      if (budget <= 0) break;
      od.card_uuid = time_ordered_uuid();
      add(coverage_card(od), kCoverageInfoType);
    }
  }
  if (on.instructions) {
    for (auto& od : input.orders) {
      if (budget <= 0) break;
      std::string detail = instructions_detail(od, input.discharge);
      if (detail.empty()) continue;
      std::string uuid = time_ordered_uuid();
      if (od.card_uuid.empty()) od.card_uuid = uuid;
      add(instructions_card(od, std::move(detail), std::move(uuid), input.discharge),
          kInstructionsType);
    }
  }
  if (on.dtr_launch) {
    for (auto& od : input.orders) {
      if (budget <= 0) break;
      if (od.questionnaire_url.empty()) continue;  // nothing to ask
      add(dtr_launch_card(od, input.dtr_launch_url, time_ordered_uuid()), kDtrLaunchType);
    }
  }
  if (on.policy) {
    for (const auto& policy : policy_cards(input.orders)) {
      if (budget <= 0) break;
      add(policy_card(policy, time_ordered_uuid()), kGuidelineType);
    }
  }
  return cards;
}

void write_update(Writer& w, const std::string& description, const Json& resource,
                  std::span<const Annotation> annotations, const ResponseInput& input) {
  w.StartObject();
  key_str(w, "type", "update");
  key_str(w, "description", description);
  w.Key("resource");
  write_annotated(w, resource, annotations, input.coverage_reference, input.assertion_date);
  w.EndObject();
}

// The update actions: each container whose coverage-information changes, then each order
// that does not already carry this decision (CRD: no update unless something is new).
void write_updates(Writer& w, const ResponseInput& input, std::span<const CoverageValues> values,
                   const std::vector<bool>& current) {
  for (const auto& container : input.containers) {
    std::vector<Annotation> annotations;
    bool changed = false;
    for (size_t i = 0; i < input.orders.size(); ++i) {
      const auto& od = input.orders[i];
      if (std::find(container.orders.begin(), container.orders.end(), od.order_reference) ==
          container.orders.end())
        continue;
      annotations.push_back({&od, &values[i]});
      changed |= current_assertion_id(*container.resource, input.coverage_reference, values[i],
                                      od.determination.billing_code)
                     .empty();
    }
    if (annotations.empty() || !changed) continue;
    std::string ref = fhir::ResourceIndex::key_of(*container.resource);
    write_update(w,
                 "Record " + annotations.front().order->determination.payer_name +
                     " coverage information on " + ref,
                 *container.resource, annotations, input);
  }
  for (size_t i = 0; i < input.orders.size(); ++i) {
    if (current[i]) continue;  // CRD: no update unless something is new
    const auto& od = input.orders[i];
    Annotation a{&od, &values[i]};
    write_update(w,
                 "Record " + od.determination.payer_name + " coverage information (" +
                     values[i].covered + ") on " + od.order_reference,
                 *od.order, {&a, 1}, input);
  }
}

}  // namespace

std::string write_response(const ResponseInput& input, std::vector<SentCard>& cards) {
  const CardConfiguration empty_config;
  const CardConfiguration& config = input.configuration ? *input.configuration : empty_config;
  const CrdVersion& version = input.version ? *input.version : default_crd_version();
  const CardSwitches on = card_switches(input, config);

  // The coverage-information each order gets in this version, and whether the order already
  // carries the same decision from this service (then it gets no update).
  std::vector<CoverageValues> values;
  values.reserve(input.orders.size());
  std::vector<bool> current(input.orders.size(), false);
  for (size_t i = 0; i < input.orders.size(); ++i) {
    auto& od = input.orders[i];
    values.push_back(shape_coverage(od.determination, version, input.shape));
    // DTR (CRD 2.1+): the questionnaire that asks what is missing, where documentation is.
    if (version.questionnaire && !values.back().doc_needed.empty())
      values.back().questionnaire = od.questionnaire_url;
    od.current_assertion_id = current_assertion_id(*od.order, input.coverage_reference,
                                                   values.back(), od.determination.billing_code);
    current[i] = !od.current_assertion_id.empty();
  }

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("cards");
  w.StartArray();
  for (const Card& card :
       build_cards(input, on, config.max_cards.value_or(kDefaultMaxCards), cards))
    write_card(w, card);
  w.EndArray();
  const bool annotate = on.coverage && !input.discharge && !input.orders.empty();
  if (annotate || input.always_system_actions) {
    w.Key("systemActions");
    w.StartArray();
    if (annotate) write_updates(w, input, values, current);
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
    out << "  covered      " << code(d.covered) << "\n";
    if (d.pa_needed != PaNeeded::kAbsent) out << "  pa-needed    " << code(d.pa_needed) << "\n";
    if (d.doc_needed != DocNeeded::kAbsent)
      out << "  doc-needed   " << code(d.doc_needed) << " (" << code(d.doc_purpose) << ")\n";
    if (d.info_needed != InfoNeeded::kAbsent)
      out << "  info-needed  " << code(d.info_needed) << "\n";
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
