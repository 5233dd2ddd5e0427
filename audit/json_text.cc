#include "audit/json_text.h"

#include <chrono>

#include <date/date.h>
#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "audit/store.h"
#include "base/json_writer.h"

namespace cryo::audit {
namespace json {
namespace {

bool parse(std::string_view text, rapidjson::Document& doc) {
  doc.Parse(text.data(), text.size());
  return !doc.HasParseError();
}

}  // namespace

Result<std::string> strip_authorization(std::string request_json) {
  // The HTTP layer already left the token out: then the text is only checked (a SAX pass, no
  // document built) and kept as it is.
  std::size_t first = request_json.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && request_json[first] == '{' &&
      request_json.find("fhirAuthorization") == std::string::npos) {
    rapidjson::Reader reader;
    rapidjson::BaseReaderHandler<> ignore;
    rapidjson::StringStream in(request_json.c_str());
    if (!reader.Parse(in, ignore)) return Error{"request", "not a JSON object"};
    return request_json;
  }
  rapidjson::Document doc;
  if (!parse(request_json, doc) || !doc.IsObject()) {
    return Error{"request", "not a JSON object"};
  }
  if (!doc.HasMember("fhirAuthorization")) return request_json;
  while (doc.RemoveMember("fhirAuthorization")) {
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::vector<std::string>> card_uuids(std::string_view response_json) {
  rapidjson::Document doc;
  if (!parse(response_json, doc) || !doc.IsObject()) {
    return Error{"response", "not a JSON object"};
  }
  std::vector<std::string> out;
  auto cards = doc.FindMember("cards");
  if (cards == doc.MemberEnd() || !cards->value.IsArray()) return out;
  for (const auto& card : cards->value.GetArray()) {
    if (!card.IsObject()) continue;
    auto uuid = card.FindMember("uuid");
    if (uuid != card.MemberEnd() && uuid->value.IsString() && uuid->value.GetStringLength() > 0) {
      out.emplace_back(uuid->value.GetString(), uuid->value.GetStringLength());
    }
  }
  return out;
}

namespace {

// Whether a card names `order_ref` among its CRD associated resources.
bool about(const rapidjson::Value& card, std::string_view order_ref) {
  if (!card.IsObject()) return false;
  auto ext = card.FindMember("extension");
  if (ext == card.MemberEnd() || !ext->value.IsObject()) return false;
  auto refs = ext->value.FindMember("davinci-crd.associated-resource");
  if (refs == ext->value.MemberEnd() || !refs->value.IsArray()) return false;
  for (const auto& r : refs->value.GetArray()) {
    if (!r.IsObject()) continue;
    auto ref = r.FindMember("reference");
    if (ref != r.MemberEnd() && ref->value.IsString() &&
        std::string_view(ref->value.GetString(), ref->value.GetStringLength()) == order_ref)
      return true;
  }
  return false;
}

}  // namespace

std::string lookup_with_cards(std::string lookup_json, std::string_view response_json,
                              std::string_view order_ref) {
  rapidjson::Document lookup;
  if (!parse(lookup_json, lookup) || !lookup.IsObject() || lookup.HasMember("cards")) {
    return lookup_json;
  }
  rapidjson::Document response;
  rapidjson::Value cards(rapidjson::kArrayType);
  if (parse(response_json, response) && response.IsObject()) {
    auto all = response.FindMember("cards");
    if (all != response.MemberEnd() && all->value.IsArray()) {
      for (auto& card : all->value.GetArray()) {
        if (about(card, order_ref)) cards.PushBack(card, response.GetAllocator());
      }
    }
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  // The stored details, then the cards (the order the details were always written in).
  w.StartObject();
  for (auto& m : lookup.GetObject()) {
    w.Key(m.name.GetString(), m.name.GetStringLength());
    m.value.Accept(w);
  }
  w.Key("cards");
  cards.Accept(w);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

namespace {

// Whether `text` is one JSON value that opens with `open` ('[' or '{'): checked by a SAX pass,
// without building a document.
bool is_one_value_opening_with(std::string_view text, char open) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != open) return false;
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> ignore;
  return static_cast<bool>(reader.Parse(in, ignore));
}

}  // namespace

bool is_array(std::string_view text) {
  return is_one_value_opening_with(text, '[');
}

bool is_object(std::string_view text) {
  return is_one_value_opening_with(text, '{');
}

}  // namespace json

std::string format_time(TimePoint t) {
  return date::format("%FT%TZ", t);
}

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void field(Writer& w, const char* name, const std::string& value, bool omit_empty = true) {
  if (omit_empty && value.empty()) return;
  write_json_member(w, name, value);
}

void write_assertion(Writer& w, const AssertionRecord& a) {
  const DeterminationRecord& d = a.determination;
  w.StartObject();
  field(w, "coverageAssertionId", d.coverage_assertion_id, false);
  field(w, "order", d.order_ref, false);
  field(w, "covered", d.covered, false);
  field(w, "paNeeded", d.pa_needed);
  field(w, "docNeeded", d.doc_needed);
  field(w, "docPurpose", d.doc_purpose);
  field(w, "infoNeeded", d.info_needed);
  w.Key("criteria");
  rapidjson::Document criteria;
  criteria.Parse(d.criteria_json.data(), d.criteria_json.size());
  if (criteria.HasParseError()) {
    w.StartArray();
    w.EndArray();
  } else {
    criteria.Accept(w);
  }
  w.Key("policy");
  w.StartObject();
  field(w, "id", d.policy_id, false);
  field(w, "revision", d.policy_revision, false);
  w.EndObject();
  field(w, "serviceVersion", d.service_version, false);
  field(w, "memberId", d.member_id, true);
  field(w, "dateOfService", d.date_of_service, true);
  field(w, "billingCode", d.billing_code, true);
  // The claim-matching details in words (cds/assertion_lookup.h), as stored.
  rapidjson::Document lookup;
  lookup.Parse(d.lookup_json.data(), d.lookup_json.size());
  if (!lookup.HasParseError() && lookup.IsObject() && lookup.MemberCount() > 0) {
    w.Key("lookup");
    lookup.Accept(w);
  }
  w.Key("hookCall");
  w.StartObject();
  field(w, "hookInstance", a.call.hook_instance, false);
  field(w, "hook", a.call.hook, false);
  field(w, "serviceId", a.call.service_id, false);
  field(w, "receivedAt", format_time(a.call.received_at), false);
  field(w, "clientIss", a.call.client_iss, false);
  field(w, "patientId", a.call.patient_id, false);
  field(w, "payerId", a.call.payer_id, false);
  field(w, "lineOfBusiness", a.call.line_of_business, false);
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string to_json(const AssertionRecord& assertion) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write_assertion(w, assertion);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string to_json(const std::vector<AssertionRecord>& assertions) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("assertions");
  w.StartArray();
  for (const auto& a : assertions) write_assertion(w, a);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string to_ndjson(const std::vector<AssertionRecord>& assertions) {
  std::string out;
  for (const auto& a : assertions) {
    out += to_json(a);
    out += '\n';
  }
  return out;
}

}  // namespace cryo::audit
