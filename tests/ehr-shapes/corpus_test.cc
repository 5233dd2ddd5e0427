// The corpus of real-shaped records (tests/ehr-shapes/records/*.json): each record keeps the
// shape of public mCODE / US Core examples or of Epic / Oracle Health conventions, and says
// the facts a clinician reads from it and the decision that follows. Every record is read
// through the real mappings and decided by the real policies, the way the service does it:
// Coverage -> payer -> line of business -> policy -> facts -> documents -> determination.
//
// Record file:
//   {"name", "shape",                       what it is and which shape it follows
//    "record": [FHIR resources],             Patient, Coverage, Organization, the draft
//                                            ServiceRequest and the clinical resources
//    "facts": {"<fact>": "true" | "false" | "unknown" | "<display>" (measures: "6.2 cm",
//              "not documented") | {"<member>": "true" | ...} (categories)},
//    "notes": {"<fact>": ["text the fact's notes (on the card) must contain"]},
//    "decision": {"covered", "pa-needed", "doc-needed", "doc-purpose", "info-needed"}
//                (null = absent),
//    "http": true,                           also decided over HTTP (http_test.cc)
//    "elsewhere": ["Observation/x"]          measurements placed in another organ}
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>

#include "cds/determination_record.h"
#include "fhir/datetime.h"
#include "fhir/json.h"
#include "fhir/resource_index.h"
#include "mappings/coverage_reader.h"
#include "mappings/mapping_set.h"
#include "policies/policy_library.h"

namespace cryo {
namespace {

namespace fs = std::filesystem;
using mappings::Fact;
using mappings::FactKind;
using mappings::Truth;

const fs::path kSource = CRYO_SOURCE_DIR;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const mappings::MappingSet& real_mappings() {
  static const mappings::MappingSet* m = [] {
    auto r = mappings::MappingSet::load(kSource / "mappings" / "data");
    if (!r) {
      ADD_FAILURE() << r.error().to_string();
      std::abort();
    }
    return new mappings::MappingSet(std::move(*r));
  }();
  return *m;
}

const policies::PolicyLibrary& real_library() {
  static const policies::PolicyLibrary* lib = [] {
    auto r = policies::PolicyLibrary::load(kSource / "policies" / "data", real_mappings());
    if (!r) {
      ADD_FAILURE() << r.error().to_string();
      std::abort();
    }
    return new policies::PolicyLibrary(std::move(*r));
  }();
  return *lib;
}

std::vector<fs::path> corpus() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kSource / "tests" / "ehr-shapes" / "records")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string truth_text(Truth t) {
  return std::string(mappings::to_string(t));
}

std::string str(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return it->value.GetString();
}

struct Decided {
  policies::Determination determination;
  mappings::FactSheet facts;
  bool ok = false;
  std::string problem;
};

// The service's pipeline, offline: what CoverageService does for one draft order.
Decided decide(const fhir::ResourceIndex& record) {
  Decided out;
  const auto& m = real_mappings();
  const auto& lib = real_library();
  mappings::CoverageReading coverage = mappings::read_coverage(record, m);
  if (coverage.status != mappings::CoverageReading::kOne) {
    out.problem = "coverage: " + coverage.problem;
    return out;
  }
  const policies::Payer* payer = lib.payer_for(coverage.payer_identifiers);
  if (payer == nullptr) {
    out.problem = "payer not known";
    return out;
  }
  std::string lob = lib.line_of_business(*payer, coverage.plan_codes, coverage.coverage_type);
  auto orders = record.of_type("ServiceRequest");
  if (orders.size() != 1) {
    out.problem = "a record holds exactly one ServiceRequest";
    return out;
  }
  const fhir::Json& order = *orders[0];
  const policies::Policy* policy = nullptr;
  std::string code;
  for (const std::string& c : mappings::MappingSet::billing_codes(order)) {
    if ((policy = lib.policy_for(*payer, c)) != nullptr) {
      code = c;
      break;
    }
  }
  if (policy == nullptr) {
    out.problem = "no policy for the order";
    return out;
  }
  mappings::OrderContext ctx{&order, code,
                             mappings::MappingSet::date_of_service(
                                 order, fhir::parse_fhir_date("2026-11-20T12:00:00Z")->begin)};
  out.facts = m.extract(record, ctx, lib.facts_used(*policy));
  std::vector<mappings::DocumentFinding> documents;
  if (int months = lib.document_window_months(*policy); months > 0) {
    documents = m.find_documents(record, lib.document_codes(*policy),
                                 fhir::months_before(ctx.date_of_service, months), "pt-1");
  }
  out.determination = lib.evaluate(*policy, *payer, lob, ctx, out.facts, documents);
  out.ok = true;
  return out;
}

std::string fact_value(const Fact& f) {
  switch (f.kind) {
    case FactKind::kBoolean:
      return truth_text(f.truth);
    default:
      return f.display;
  }
}

class Corpus : public ::testing::TestWithParam<fs::path> {};

TEST_P(Corpus, ReadsAsAClinicianDoesAndDecides) {
  const std::string text = read(GetParam());
  rapidjson::Document spec;
  spec.Parse(text.c_str());
  ASSERT_FALSE(spec.HasParseError()) << GetParam();
  ASSERT_TRUE(spec.HasMember("record") && spec["record"].IsArray());
  ASSERT_FALSE(str(spec, "shape").empty()) << "every record says which shape it follows";

  // The record, as one collection Bundle (how a hook's prefetch holds it).
  rapidjson::Document bundle;
  bundle.SetObject();
  auto& a = bundle.GetAllocator();
  bundle.AddMember("resourceType", "Bundle", a);
  bundle.AddMember("type", "collection", a);
  rapidjson::Value entries(rapidjson::kArrayType);
  for (const auto& r : spec["record"].GetArray()) {
    rapidjson::Value e(rapidjson::kObjectType);
    e.AddMember("resource", rapidjson::Value(r, a), a);
    entries.PushBack(e, a);
  }
  bundle.AddMember("entry", entries, a);
  fhir::ResourceIndex record;
  record.add(bundle, "corpus");

  Decided d = decide(record);
  ASSERT_TRUE(d.ok) << d.problem;
  const policies::Determination& det = d.determination;
  std::string why;
  for (const auto& r : det.reasons) why += r + " | ";
  for (const auto& mf : det.missing_facts) why += "missing " + mf + " | ";

  // The facts a clinician reads.
  for (const auto& [name, want] : spec["facts"].GetObject()) {
    const Fact* f = d.facts.find(name.GetString());
    ASSERT_NE(f, nullptr) << name.GetString() << " is not used by the policy";
    if (want.IsString()) {
      EXPECT_EQ(fact_value(*f), want.GetString()) << name.GetString();
    } else {
      for (const auto& [member, t] : want.GetObject()) {
        auto it = f->categories.find(member.GetString());
        ASSERT_NE(it, f->categories.end()) << member.GetString();
        EXPECT_EQ(truth_text(it->second), t.GetString())
            << name.GetString() << "." << member.GetString() << " (" << f->display << ")";
      }
    }
    // A fact the record decides names the resource and the coding that decided it.
    const bool decided =
        f->kind == FactKind::kBoolean
            ? f->truth != Truth::kUnknown
            : f->measure.has_value() || (f->kind == FactKind::kCategory && !f->evidence.empty());
    if (decided && !f->evidence.empty()) {
      bool coded = false;
      for (const auto& e : f->evidence) coded = coded || (!e.reference.empty() && !e.code.empty());
      EXPECT_TRUE(coded) << name.GetString() << ": no evidence names its coding";
    }
  }
  // What the card must say (the notes travel with the fact to the card).
  if (spec.HasMember("notes")) {
    for (const auto& [name, texts] : spec["notes"].GetObject()) {
      const Fact* f = d.facts.find(name.GetString());
      ASSERT_NE(f, nullptr) << name.GetString();
      for (const auto& t : texts.GetArray()) {
        bool found = false;
        for (const auto& n : f->notes) found = found || n.find(t.GetString()) != std::string::npos;
        std::string all;
        for (const auto& n : f->notes) all += n + " | ";
        EXPECT_TRUE(found) << name.GetString() << ": no note says '" << t.GetString()
                           << "': " << all;
      }
    }
  }

  // The decision.
  const auto& want = spec["decision"];
  // The corpus names the CRD codes ("covered", null for an absent field).
  auto expect_field = [&](const char* key, std::string_view got) {
    const auto& v = want[key];
    EXPECT_EQ(got, v.IsNull() ? std::string() : std::string(v.GetString())) << key << ": " << why;
  };
  expect_field("covered", code(det.covered));
  expect_field("pa-needed", code(det.pa_needed));
  expect_field("doc-needed", code(det.doc_needed));
  expect_field("doc-purpose", code(det.doc_purpose));
  expect_field("info-needed", code(det.info_needed));

  // The stored determination names the coding behind each evidence the mappings coded.
  std::string stored = cds::criteria_json(det);
  for (const auto& section : det.sections) {
    for (const auto& row : section.rows) {
      for (const auto& e : row.evidence) {
        if (e.code.empty()) continue;
        EXPECT_NE(stored.find("\"code\":\"" + e.code + "\""), std::string::npos)
            << row.fact << " " << e.reference;
      }
    }
  }
}

std::string test_name(const ::testing::TestParamInfo<fs::path>& info) {
  std::string n = info.param.stem().string();
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Records, Corpus, ::testing::ValuesIn(corpus()), test_name);

// No measured lesion disappears: every size observation of a corpus record (whatever its
// location) shows up in the evidence or the notes of the size fact the policy reads.
TEST(CorpusLesions, NoMeasuredLesionDisappears) {
  for (const fs::path& p : corpus()) {
    rapidjson::Document spec;
    std::string text = read(p);
    spec.Parse(text.c_str());
    fhir::ResourceIndex record;
    rapidjson::Document bundle;
    bundle.SetObject();
    auto& a = bundle.GetAllocator();
    bundle.AddMember("resourceType", "Bundle", a);
    bundle.AddMember("type", "collection", a);
    rapidjson::Value entries(rapidjson::kArrayType);
    std::vector<std::string> sizes;
    for (const auto& r : spec["record"].GetArray()) {
      rapidjson::Value e(rapidjson::kObjectType);
      e.AddMember("resource", rapidjson::Value(r, a), a);
      entries.PushBack(e, a);
      if (str(r, "resourceType") != "Observation" || str(r, "status") == "preliminary") continue;
      std::string code = str(r["code"]["coding"][0], "code");
      if (code == "21889-1" || code == "33728-7") sizes.push_back("Observation/" + str(r, "id"));
    }
    bundle.AddMember("entry", entries, a);
    record.add(bundle, "corpus");
    Decided d = decide(record);
    ASSERT_TRUE(d.ok) << p << ": " << d.problem;
    for (const std::string& ref : sizes) {
      bool seen = false;
      for (const char* id : {"largest-liver-lesion", "largest-kidney-lesion"}) {
        const Fact* f = d.facts.find(id);
        if (f == nullptr) continue;
        for (const auto& e : f->evidence) seen = seen || e.reference == ref;
        for (const auto& n : f->notes) seen = seen || n.find(ref) != std::string::npos;
      }
      // A measurement the record places in another organ is that organ's.
      bool elsewhere = false;
      if (spec.HasMember("elsewhere")) {
        for (const auto& e : spec["elsewhere"].GetArray()) elsewhere |= ref == e.GetString();
      }
      if (elsewhere) {
        EXPECT_FALSE(seen) << p.stem() << ": " << ref << " is another organ's lesion";
        continue;
      }
      // Superseded measurements of a lesion are not evidence; the lesion itself still is.
      bool superseded = p.stem() == "amended-remeasurement-medical-mutual" ||
                        p.stem() == "partial-date-latest-pacificsource";
      EXPECT_TRUE(seen || superseded) << p.stem() << ": " << ref << " vanished";
    }
  }
}

}  // namespace
}  // namespace cryo
