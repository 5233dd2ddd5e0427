#include "test_support.h"

#include <cstdio>

namespace cryo::mappings::testing {

const MappingSet& real_mappings() {
  static const MappingSet* set = [] {
    auto r = MappingSet::load(source_dir() + "/mappings/data");
    if (!r) {
      ADD_FAILURE() << r.error().to_string();
      std::abort();
    }
    return new MappingSet(std::move(*r));
  }();
  return *set;
}

Record::Record(std::initializer_list<std::string> resources) {
  text_ = R"({"resourceType":"Bundle","type":"collection","entry":[)";
  bool first = true;
  for (const std::string& r : resources) {
    if (!first) text_ += ",";
    first = false;
    text_ += R"({"resource":)" + r + "}";
  }
  text_ += "]}";
  auto err = fhir::parse_in_place(text_, doc_, fhir::ParseLimits{});
  if (err) ADD_FAILURE() << err->message << "\n" << text_;
  index_.add(doc_, "test");
}

namespace {
std::string date_field(std::string_view name, std::string_view date) {
  if (date.empty()) return "";
  return ",\"" + std::string(name) + "\":\"" + std::string(date) + "\"";
}
}  // namespace

std::string order(std::string_view cpt, std::string_view extra) {
  return std::string(R"({"resourceType":"ServiceRequest","id":"order-1","status":"draft",)"
                     R"("intent":"order","subject":{"reference":"Patient/p1"},)"
                     R"("code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":")") +
         std::string(cpt) + "\"}]}" + std::string(extra) + "}";
}

std::string bool_obs(std::string_view id, std::string_view crit_code, bool value,
                     std::string_view date, std::string_view extra) {
  // `extra` comes first: with duplicate keys the first one counts.
  return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) + "\"" +
         std::string(extra) +
         R"(,"status":"final","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":")" +
         std::string(kCrit) + R"(","code":")" + std::string(crit_code) + R"("}]},"valueBoolean":)" +
         (value ? "true" : "false") + date_field("effectiveDateTime", date) + "}";
}

std::string coded_obs(std::string_view id, std::string_view code_system, std::string_view code,
                      std::string_view value_system, std::string_view value_code,
                      std::string_view date, std::string_view extra) {
  return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) + "\"" +
         std::string(extra) +
         R"(,"status":"final","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":")" +
         std::string(code_system) + R"(","code":")" + std::string(code) +
         R"("}]},"valueCodeableConcept":{"coding":[{"system":")" + std::string(value_system) +
         R"(","code":")" + std::string(value_code) + R"("}]})" +
         date_field("effectiveDateTime", date) + "}";
}

std::string condition(std::string_view id, std::string_view system, std::string_view code,
                      std::string_view extra) {
  return std::string(R"({"resourceType":"Condition","id":")") + std::string(id) + "\"" +
         std::string(extra) +
         R"(,"subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":")" +
         std::string(system) + R"(","code":")" + std::string(code) + R"("}]}})";
}

std::string size_obs(std::string_view id, double value, std::string_view unit,
                     std::string_view date, std::string_view focus,
                     std::string_view extra_quantity) {
  char v[32];
  std::snprintf(v, sizeof v, "%g", value);
  std::string focus_json;
  if (!focus.empty()) focus_json = R"(,"focus":[{"reference":")" + std::string(focus) + "\"}]";
  return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) +
         R"(","status":"final","subject":{"reference":"Patient/p1"},)"
         R"("code":{"coding":[{"system":"http://loinc.org","code":"21889-1"}]},)"
         R"("component":[{"code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},)"
         R"("valueQuantity":{"value":)" +
         v + R"(,"unit":")" + std::string(unit) +
         R"(","system":"http://unitsofmeasure.org","code":")" + std::string(unit) + "\"" +
         std::string(extra_quantity) + "}}]" + focus_json + date_field("effectiveDateTime", date) +
         "}";
}

std::string body_structure(std::string_view id, std::string_view location_code) {
  return std::string(R"({"resourceType":"BodyStructure","id":")") + std::string(id) +
         R"(","patient":{"reference":"Patient/p1"},"location":{"coding":[{"system":"http://snomed.info/sct","code":")" +
         std::string(location_code) + "\"}]}}";
}

Fact extract_one(const Record& record, std::string_view fact_id, std::string_view cpt) {
  OrderContext ctx;
  ctx.order = record.order();
  ctx.billing_code = std::string(cpt);
  ctx.date_of_service = *fhir::parse_fhir_date("2026-03-31");
  std::string id(fact_id);
  FactSheet sheet =
      real_mappings().extract(record.index(), ctx, std::span<const std::string>(&id, 1));
  const Fact* f = sheet.find(fact_id);
  if (f == nullptr) {
    ADD_FAILURE() << "fact " << fact_id << " not extracted";
    return Fact{};
  }
  return *f;
}

bool has_note(const Fact& f, std::string_view text) {
  for (const auto& n : f.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace cryo::mappings::testing
