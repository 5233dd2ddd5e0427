#include "hook_request_builder.h"

#include <random>
#include <stdexcept>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cryo::testing {
namespace {

using rapidjson::Document;
using rapidjson::Value;

Value parse_into(Document& doc, const std::string& json) {
  Document part(&doc.GetAllocator());
  part.Parse(json.c_str());
  if (part.HasParseError()) throw std::runtime_error("bad test JSON: " + json);
  Value v;
  v.CopyFrom(part, doc.GetAllocator());
  return v;
}

Value str(Document& doc, std::string_view s) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), doc.GetAllocator());
}

Value searchset(Document& doc, const std::vector<Value*>& resources) {
  Value bundle(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  bundle.AddMember("resourceType", "Bundle", a);
  bundle.AddMember("type", "searchset", a);
  Value entries(rapidjson::kArrayType);
  for (Value* r : resources) {
    Value e(rapidjson::kObjectType);
    e.AddMember("resource", Value(*r, a), a);
    entries.PushBack(e, a);
  }
  bundle.AddMember("entry", entries, a);
  return bundle;
}

std::string random_instance() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    id.push_back(kHex[rng() % 16]);
  }
  return id;
}

}  // namespace

HookRequestBuilder::HookRequestBuilder(std::string payer_id, std::string hook)
    : payer_id_(std::move(payer_id)), hook_(std::move(hook)), hook_instance_(random_instance()) {}

HookRequestBuilder& HookRequestBuilder::plan(std::string code) {
  plans_.push_back(std::move(code));
  return *this;
}
HookRequestBuilder& HookRequestBuilder::sopt(std::string code) {
  sopt_ = std::move(code);
  return *this;
}
HookRequestBuilder& HookRequestBuilder::coverage_count(int n) {
  coverage_count_ = n;
  return *this;
}
HookRequestBuilder& HookRequestBuilder::resource(std::string json) {
  resources_.push_back(std::move(json));
  return *this;
}
HookRequestBuilder& HookRequestBuilder::raw_order(std::string json) {
  orders_.push_back(std::move(json));
  return *this;
}
HookRequestBuilder& HookRequestBuilder::select(std::string r) {
  selections_.push_back(std::move(r));
  return *this;
}
HookRequestBuilder& HookRequestBuilder::omit_prefetch(std::string key) {
  omitted_.insert(std::move(key));
  return *this;
}
HookRequestBuilder& HookRequestBuilder::fhir_server(std::string url) {
  fhir_server_ = std::move(url);
  return *this;
}
HookRequestBuilder& HookRequestBuilder::configuration(std::string json) {
  configuration_ = std::move(json);
  return *this;
}
HookRequestBuilder& HookRequestBuilder::hook_instance(std::string id) {
  hook_instance_ = std::move(id);
  return *this;
}

HookRequestBuilder& HookRequestBuilder::unresectable_hcc_with_documents() {
  return resource(condition("c-hcc", "C22.0"))
      .resource(resectability("o-res", true))
      .resource(document("d-hp", "28626-0", "2026-01-10"))
      .resource(document("d-visit", "18733-6", "2026-01-12"))
      .resource(document("d-plan", "18776-5", "2026-02-01"))
      .resource(document("d-rad", "18726-0", "2026-01-20"));
}

HookRequestBuilder& HookRequestBuilder::order(std::string cpt, std::string id, std::string date) {
  return raw_order(
      R"({"resourceType":"ServiceRequest","id":")" + id +
      R"(","status":"draft","intent":"order","code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":")" +
      cpt + R"("}]},"subject":{"reference":"Patient/pat-1"},"occurrenceDateTime":")" + date +
      R"(","authoredOn":"2026-02-20","requester":{"reference":"Practitioner/dr-1"},"insurance":[{"reference":"Coverage/cov-1"}]})");
}

std::string HookRequestBuilder::json() const {
  Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("hookInstance", str(doc, hook_instance_), a);
  doc.AddMember("hook", str(doc, hook_), a);
  if (!fhir_server_.empty()) doc.AddMember("fhirServer", str(doc, fhir_server_), a);
  Value context(rapidjson::kObjectType);
  context.AddMember("userId", "Practitioner/dr-1", a);
  context.AddMember("patientId", "pat-1", a);
  Value orders(rapidjson::kObjectType);
  orders.AddMember("resourceType", "Bundle", a);
  orders.AddMember("type", "collection", a);
  Value entries(rapidjson::kArrayType);
  for (const auto& o : orders_) {
    Value e(rapidjson::kObjectType);
    e.AddMember("resource", parse_into(doc, o), a);
    entries.PushBack(e, a);
  }
  orders.AddMember("entry", entries, a);
  context.AddMember("draftOrders", orders, a);
  if (hook_ == "order-select") {
    Value sel(rapidjson::kArrayType);
    for (const auto& s : selections_) sel.PushBack(str(doc, s), a);
    context.AddMember("selections", sel, a);
  }
  doc.AddMember("context", context, a);

  // Prefetch, grouped the way the service's templates ask for it.
  Value prefetch(rapidjson::kObjectType);
  auto put = [&](const char* key, Value v) {
    if (!omitted_.contains(key)) prefetch.AddMember(Value(key, a), v, a);
  };
  put("patient",
      parse_into(
          doc,
          R"({"resourceType":"Patient","id":"pat-1","name":[{"family":"Doe","given":["Alex"]}],"gender":"female","birthDate":"1961-04-02"})"));
  std::vector<Value> coverage_parts;
  for (int i = 0; i < coverage_count_; ++i) {
    std::string cov =
        R"({"resourceType":"Coverage","id":"cov-)" + std::to_string(i + 1) +
        R"(","status":"active","beneficiary":{"reference":"Patient/pat-1"},"payor":[{"reference":"Organization/payer-1"}])";
    if (!sopt_.empty()) {
      cov +=
          R"(,"type":{"coding":[{"system":"https://nahdo.org/sopt","code":")" + sopt_ + R"("}]})";
    }
    if (!plans_.empty()) {
      cov += R"(,"class":[)";
      for (size_t p = 0; p < plans_.size(); ++p) {
        if (p) cov += ",";
        cov +=
            R"({"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"plan"}]},"value":")" +
            plans_[p] + R"("})";
      }
      cov += "]";
    }
    cov += "}";
    coverage_parts.push_back(parse_into(doc, cov));
  }
  coverage_parts.push_back(parse_into(
      doc,
      R"({"resourceType":"Organization","id":"payer-1","name":"Payer","identifier":[{"system":"http://cryocrd.org/fhir/sid/payer-id","value":")" +
          payer_id_ + R"("}]})"));
  std::vector<Value*> cov_ptrs;
  for (auto& v : coverage_parts) cov_ptrs.push_back(&v);
  put("coverage", searchset(doc, cov_ptrs));

  std::vector<Value> parsed;
  parsed.reserve(resources_.size());
  for (const auto& r : resources_) parsed.push_back(parse_into(doc, r));
  auto of_type = [&](std::string_view type) {
    std::vector<Value*> out;
    for (auto& v : parsed) {
      if (std::string_view(v["resourceType"].GetString()) == type) out.push_back(&v);
    }
    return out;
  };
  put("conditions", searchset(doc, of_type("Condition")));
  put("observations", searchset(doc, of_type("Observation")));
  put("bodyStructures", searchset(doc, of_type("BodyStructure")));
  put("documents", searchset(doc, of_type("DocumentReference")));
  put("diagnosticReports", searchset(doc, of_type("DiagnosticReport")));
  put("questionnaireResponses", searchset(doc, of_type("QuestionnaireResponse")));
  doc.AddMember("prefetch", prefetch, a);
  if (!configuration_.empty()) {
    Value ext(rapidjson::kObjectType);
    ext.AddMember("davinci-crd.configuration", parse_into(doc, configuration_), a);
    doc.AddMember("extension", ext, a);
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  doc.Accept(w);
  return buffer.GetString();
}

std::string condition(std::string_view id, std::string_view icd10, std::string_view clinical) {
  return std::string(R"({"resourceType":"Condition","id":")") + std::string(id) +
         R"(","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
         std::string(clinical) +
         R"("}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":")" +
         std::string(icd10) +
         R"("}]},"subject":{"reference":"Patient/pat-1"},"recordedDate":"2026-01-15"})";
}

std::string boolean_observation(std::string_view id, std::string_view crit_code, bool value,
                                std::string_view date) {
  return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) +
         R"(","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":")" +
         std::string(crit_code) +
         R"("}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" +
         std::string(date) + R"(","valueBoolean":)" + (value ? "true" : "false") + "}";
}

std::string resectability(std::string_view id, bool unresectable, std::string_view date) {
  return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) +
         R"(","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"resectability"}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" +
         std::string(date) +
         R"(","valueCodeableConcept":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":")" +
         (unresectable ? "unresectable" : "resectable") + R"("}]}})";
}

std::string tumor_size(std::string_view id, double value, std::string_view unit,
                       std::string_view focus, std::string_view date, std::string_view comparator) {
  std::string quantity =
      R"({"value":)" + std::to_string(value) +
      (comparator.empty() ? "" : R"(,"comparator":")" + std::string(comparator) + "\"") +
      R"(,"unit":")" + std::string(unit) + R"(","system":"http://unitsofmeasure.org","code":")" +
      std::string(unit) + R"("})";
  std::string obs =
      std::string(R"({"resourceType":"Observation","id":")") + std::string(id) +
      R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"21889-1"}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" +
      std::string(date) + "\"";
  if (!focus.empty())
    obs += R"(,"focus":[{"reference":"BodyStructure/)" + std::string(focus) + R"("}])";
  obs +=
      R"(,"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},"valueQuantity":)" +
      quantity + "}]}";
  return obs;
}

std::string liver_lesion(std::string_view id) {
  return std::string(R"({"resourceType":"BodyStructure","id":")") + std::string(id) +
         R"(","location":{"coding":[{"system":"http://snomed.info/sct","code":"10200004"}]},"patient":{"reference":"Patient/pat-1"}})";
}

std::string lesion_count(std::string_view id, int count, std::string_view date) {
  return std::string(R"({"resourceType":"Observation","id":")") + std::string(id) +
         R"(","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"hepatic-lesion-count"}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" +
         std::string(date) + R"(","valueInteger":)" + std::to_string(count) + "}";
}

std::string document(std::string_view id, std::string_view loinc, std::string_view date) {
  return std::string(R"({"resourceType":"DocumentReference","id":")") + std::string(id) +
         R"(","status":"current","type":{"coding":[{"system":"http://loinc.org","code":")" +
         std::string(loinc) + R"("}]},"subject":{"reference":"Patient/pat-1"},"date":")" +
         std::string(date) + R"("})";
}

}  // namespace cryo::testing
