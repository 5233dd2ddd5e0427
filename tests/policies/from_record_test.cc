// From FHIR record to determination with the real mappings: the facts the policies name are
// the facts mappings/ reads, with units normalised and the documentation window applied.
#include <gtest/gtest.h>

#include <memory>

#include "fhir/datetime.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"
#include "support.h"

namespace cryo::policies::testing {
namespace {

const mappings::MappingSet* real_mappings() {
  static const mappings::MappingSet* m = []() -> const mappings::MappingSet* {
    auto r = mappings::MappingSet::load(source_dir() / "mappings" / "data");
    if (!r) {
      fprintf(stderr, "mappings: %s\n", r.error().to_string().c_str());
      return nullptr;
    }
    return new mappings::MappingSet(std::move(*r));
  }();
  return m;
}

const PolicyLibrary* real_library() {
  static const PolicyLibrary* lib = []() -> const PolicyLibrary* {
    if (real_mappings() == nullptr) return nullptr;
    auto r = PolicyLibrary::load(policy_dir(), *real_mappings());
    if (!r) {
      fprintf(stderr, "policies: %s\n", r.error().to_string().c_str());
      return nullptr;
    }
    return new PolicyLibrary(std::move(*r));
  }();
  return lib;
}

// A record given as a FHIR collection Bundle's entries (resource JSON texts).
class Record {
 public:
  explicit Record(const std::vector<std::string>& resources) {
    text_ = R"({"resourceType":"Bundle","type":"collection","entry":[)";
    for (size_t i = 0; i < resources.size(); ++i) {
      text_ += (i ? "," : "") + std::string(R"({"resource":)") + resources[i] + "}";
    }
    text_ += "]}";
    auto err = fhir::parse_copy(text_, doc_, fhir::ParseLimits{});
    EXPECT_FALSE(err.has_value()) << (err ? err->message : "");
    index_.add(doc_, "test");
  }
  const fhir::ResourceIndex& index() const { return index_; }

 private:
  std::string text_;
  fhir::JsonDocument doc_;
  fhir::ResourceIndex index_;
};

std::string condition(const std::string& id, const std::string& icd) {
  return R"({"resourceType":"Condition","id":")" + id +
         R"(","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":")" +
         icd + R"("}]},"subject":{"reference":"Patient/p1"}})";
}

std::string crit_bool(const std::string& id, const std::string& code, bool value) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":")" +
         code +
         R"("}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-10","valueBoolean":)" +
         (value ? "true" : "false") + "}";
}

std::string unresectable(const std::string& id) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"resectability"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-10","valueCodeableConcept":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"unresectable"}]}})";
}

std::string size_mm(const std::string& id, double mm) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-10","valueQuantity":{"value":)" +
         fhir::format_number(mm) +
         R"(,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}})";
}

std::string count(const std::string& id, int n) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://cryocrd.org/fhir/CodeSystem/criteria","code":"hepatic-lesion-count"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-10","valueInteger":)" +
         std::to_string(n) + "}";
}

std::string document(const std::string& id, const std::string& loinc, const std::string& date) {
  return R"({"resourceType":"DocumentReference","id":")" + id +
         R"(","status":"current","type":{"coding":[{"system":"http://loinc.org","code":")" + loinc +
         R"("}]},"subject":{"reference":"Patient/p1"},"date":")" + date + R"("})";
}

Determination run(const Record& record, const std::string& payer_id, const std::string& lob,
                  const std::string& code, const std::string& dos = "2026-02-01") {
  const PolicyLibrary& lib = *real_library();
  const Payer* payer = nullptr;
  for (const Payer& p : lib.payers()) {
    if (p.id == payer_id) payer = &p;
  }
  const Policy* policy = lib.policy_for(*payer, code);
  mappings::OrderContext order;
  order.billing_code = code;
  order.date_of_service = *fhir::parse_fhir_date(dos);
  mappings::FactSheet facts =
      real_mappings()->extract(record.index(), order, lib.facts_used(*policy));
  std::vector<mappings::DocumentFinding> docs;
  if (int months = lib.document_window_months(*policy); months > 0) {
    docs = real_mappings()->find_documents(record.index(), lib.document_codes(*policy),
                                           fhir::months_before(order.date_of_service, months));
  }
  return lib.evaluate(*policy, *payer, lob, order, facts, docs);
}

class FromRecord : public ::testing::Test {
 protected:
  void SetUp() override {
    if (real_library() == nullptr) GTEST_SKIP() << "the real mappings or policies do not load";
  }
};

TEST_F(FromRecord, MedicalMutualFiftyMillimetresMeetsFiveCentimetres) {
  Record at({condition("c1", "C22.0"), unresectable("r1"),
             crit_bool("l1", "location-accessible", true), size_mm("s1", 50), count("n1", 3)});
  Determination d = run(at, "medical-mutual", "commercial", "47371");
  EXPECT_EQ(d.covered, Covered::kCovered) << all_text(d.reasons);
  EXPECT_TRUE(crd_consistent(d));

  Record above({condition("c1", "C22.0"), unresectable("r1"),
                crit_bool("l1", "location-accessible", true), size_mm("s1", 50.1), count("n1", 3)});
  Determination n = run(above, "medical-mutual", "commercial", "47371");
  EXPECT_EQ(n.covered, Covered::kNotCovered);
  EXPECT_TRUE(contains(n.reasons, "5.01")) << all_text(n.reasons);
}

TEST_F(FromRecord, FloridaBlueUnspecifiedLiverMalignancyWithDocuments) {
  Record r({condition("c1", "C22.9"), unresectable("r1"), document("d1", "28626-0", "2025-07-31"),
            document("d2", "18733-6", "2026-01-20"), document("d3", "18776-5", "2026-01-21"),
            document("d4", "18726-0", "2026-01-05")});
  Determination d = run(r, "florida-blue", "commercial", "47383");
  EXPECT_EQ(d.covered, Covered::kCovered) << all_text(d.reasons);
  // 2025-07-31 is before 2026-02-01 minus six months (2025-08-01, inclusive).
  EXPECT_EQ(d.doc_needed, DocNeeded::kClinical);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithClaim);
  ASSERT_EQ(d.documents.size(), 5u);
  EXPECT_FALSE(d.documents[0].found);
  EXPECT_TRUE(d.documents[1].found);
  EXPECT_EQ(d.documents[1].reference, "DocumentReference/d2");
  EXPECT_FALSE(d.documents[4].required);
  EXPECT_TRUE(crd_consistent(d));
}

TEST_F(FromRecord, FloridaBlueWindowIncludesItsFirstDay) {
  Record r({condition("c1", "C22.0"), unresectable("r1"), document("d1", "28626-0", "2025-08-01"),
            document("d2", "18733-6", "2026-02-01"), document("d3", "18776-5", "2026-01-21"),
            document("d4", "27899-4", "2026-01-05")});
  Determination d = run(r, "florida-blue", "commercial", "47383");
  EXPECT_EQ(d.covered, Covered::kCovered);
  EXPECT_EQ(d.doc_needed, DocNeeded::kAbsent) << all_text(d.reasons);
  EXPECT_TRUE(crd_consistent(d));
}

TEST_F(FromRecord, NoDiagnosisIsConditional) {
  Record r({unresectable("r1")});
  Determination d = run(r, "florida-blue", "commercial", "47383");
  EXPECT_EQ(d.covered, Covered::kConditional);
  EXPECT_TRUE(contains(d.missing_facts, "Diagnosis"));
  EXPECT_TRUE(crd_consistent(d));
}

TEST_F(FromRecord, PacificSourceColorectalMetastases) {
  Record r({condition("c1", "C78.7"), condition("c2", "C18.7"), unresectable("r1"),
            size_mm("s1", 30), count("n1", 5), crit_bool("e1", "extrahepatic-disease", false)});
  Determination d = run(r, "pacificsource", "commercial", "47383");
  EXPECT_EQ(d.covered, Covered::kCovered) << all_text(d.reasons) << all_text(d.missing_facts);
  EXPECT_EQ(d.pa_needed, PaNeeded::kAuthNeeded);
  EXPECT_EQ(d.doc_purpose, DocPurpose::kWithPa);
  EXPECT_TRUE(crd_consistent(d));
}

}  // namespace
}  // namespace cryo::policies::testing
