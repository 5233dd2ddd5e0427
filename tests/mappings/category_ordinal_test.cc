#include <gtest/gtest.h>

#include "test_support.h"

namespace cryo::mappings {
namespace {

using namespace testing;
constexpr Truth T = Truth::kTrue, F = Truth::kFalse, U = Truth::kUnknown;

struct Expected {
  Truth hcc, icc, crc, net, other;
};

void expect_types(const Fact& f, Expected e) {
  auto get = [&](const char* m) {
    auto it = f.categories.find(m);
    return it == f.categories.end() ? Truth::kUnknown : it->second;
  };
  EXPECT_EQ(get("hcc"), e.hcc) << f.display;
  EXPECT_EQ(get("icc"), e.icc) << f.display;
  EXPECT_EQ(get("crc-liver-mets"), e.crc) << f.display;
  EXPECT_EQ(get("net-liver-mets"), e.net) << f.display;
  EXPECT_EQ(get("other-liver-mets"), e.other) << f.display;
}

const std::string kRelatedPrimary =
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-primary-cancer-condition";

std::string mets_with_primary(std::string_view primary_ref) {
  return condition("mets", kIcd, "C78.7",
                   R"(,"extension":[{"url":")" + kRelatedPrimary +
                       R"(","valueReference":{"reference":")" + std::string(primary_ref) + "\"}}]");
}

TEST(TumorType, DefiniteDiagnoses) {
  Record hcc{order("47383"), condition("c1", kIcd, "C22.0")};
  Fact f = extract_one(hcc, "liver-tumor-type");
  expect_types(f, {T, F, F, F, F});
  EXPECT_EQ(f.display, "Hepatocellular carcinoma");
  EXPECT_EQ(f.evidence[0].reference, "Condition/c1");
  Record hcc_sct{order("47383"), condition("c1", kSct, "109841003")};
  expect_types(extract_one(hcc_sct, "liver-tumor-type"), {T, F, F, F, F});
  Record icc{order("47383"), condition("c1", kIcd, "C221")};
  expect_types(extract_one(icc, "liver-tumor-type"), {F, T, F, F, F});
  Record net{order("47383"), condition("c1", kIcd, "C7B.02")};
  expect_types(extract_one(net, "liver-tumor-type"), {F, F, F, T, F});
}

TEST(TumorType, NoLiverMalignancyLeavesEverythingUnknown) {
  Record r{order("47383"), condition("c1", kIcd, "C18.7")};
  Fact f = extract_one(r, "liver-tumor-type");
  expect_types(f, {U, U, U, U, U});
  EXPECT_FALSE(f.known());
}

TEST(TumorType, UnspecifiedLiverMalignancy) {
  Record r{order("47383"), condition("c1", kIcd, "C22.9")};
  expect_types(extract_one(r, "liver-tumor-type"), {U, U, U, U, U});
  Record with_definite{order("47383"), condition("c1", kIcd, "C22.9"),
                       condition("c2", kIcd, "C22.0")};
  Fact f = extract_one(with_definite, "liver-tumor-type");
  expect_types(f, {T, F, F, F, F});
  EXPECT_TRUE(has_note(f, "Condition/c1"));
}

TEST(TumorType, MetastasesPrimaryFromMcodeExtension) {
  Record r{order("47383"), condition("p", kIcd, "C18.7"), mets_with_primary("Condition/p"),
           condition("p2", kIcd, "C34.1")};  // another primary: the extension decides
  Fact f = extract_one(r, "liver-tumor-type");
  expect_types(f, {F, F, T, F, F});
  EXPECT_NE(f.evidence[0].text.find("Condition/p"), std::string::npos);
  // A treated primary still names the origin.
  Record resolved{
      order("47383"),
      condition("p", kIcd, "C20", R"(,"clinicalStatus":{"coding":[{"code":"resolved"}]})"),
      mets_with_primary("Condition/p")};
  expect_types(extract_one(resolved, "liver-tumor-type"), {F, F, T, F, F});
}

TEST(TumorType, MetastasesPrimaryFromActivePrimaryCondition) {
  Record crc{order("47383"), condition("m", kIcd, "C787"), condition("p", kIcd, "C19")};
  expect_types(extract_one(crc, "liver-tumor-type"), {F, F, T, F, F});
  Record net{order("47383"), condition("m", kSct, "94381002"), condition("p", kIcd, "C7A.012")};
  expect_types(extract_one(net, "liver-tumor-type"), {F, F, F, T, F});
  Record other{order("47383"), condition("m", kIcd, "C78.7"), condition("p", kIcd, "C34.11")};
  Fact f = extract_one(other, "liver-tumor-type");
  expect_types(f, {F, F, F, F, T});
  EXPECT_EQ(f.display, "Other liver metastases");
  Record inactive{
      order("47383"), condition("m", kIcd, "C78.7"),
      condition("p", kIcd, "C18.2", R"(,"clinicalStatus":{"coding":[{"code":"inactive"}]})")};
  expect_types(extract_one(inactive, "liver-tumor-type"), {F, F, U, U, U});
}

TEST(TumorType, MetastasesOfUnknownPrimary) {
  Record r{order("47383"), condition("m", kIcd, "C78.7")};
  Fact f = extract_one(r, "liver-tumor-type");
  expect_types(f, {F, F, U, U, U});
  EXPECT_TRUE(f.known());
  // An unresolvable related primary falls back to the patient's active primaries.
  Record dangling{order("47383"), mets_with_primary("Condition/gone"),
                  condition("p", kIcd, "C18.0")};
  expect_types(extract_one(dangling, "liver-tumor-type"), {F, F, T, F, F});
}

TEST(TumorType, SeveralTypesInOneRecord) {
  Record r{order("47383"), condition("a", kIcd, "C22.0"), condition("m", kIcd, "C78.7"),
           condition("p", kIcd, "C18.9")};
  expect_types(extract_one(r, "liver-tumor-type"), {T, F, T, F, F});
}

TEST(TumorType, DefiniteDiagnosisMakesAnUndeterminedOriginFalse) {
  Record r{order("47383"), condition("a", kIcd, "C22.0"), condition("m", kIcd, "C78.7")};
  Fact f = extract_one(r, "liver-tumor-type");
  expect_types(f, {T, F, F, F, F});
  EXPECT_TRUE(has_note(f, "Condition/m"));
  Record net{order("47383"), condition("a", kIcd, "C7B.02"), condition("m", kIcd, "C78.7")};
  expect_types(extract_one(net, "liver-tumor-type"), {F, F, F, T, F});
}

TEST(TumorType, RefutedDiagnosisIsIgnored) {
  Record r{order("47383"),
           condition("c1", kIcd, "C22.0",
                     R"(,"verificationStatus":{"coding":[{"code":"entered-in-error"}]})")};
  expect_types(extract_one(r, "liver-tumor-type"), {U, U, U, U, U});
}

TEST(TStage, PointRangeAndUnknown) {
  const MappingSet& m = real_mappings();
  auto stage = [](std::string_view id, std::string_view value, std::string_view date) {
    return coded_obs(id, kCrit, "prostate-t-stage", kCrit, value, date);
  };
  Record t2b{order("55873"), stage("s", "T2b", "2026-01-01")};
  Fact f = extract_one(t2b, "prostate-t-stage", "55873");
  ASSERT_TRUE(f.measure.has_value());
  EXPECT_EQ(f.display, "T2b");
  EXPECT_EQ(
      compare(f.measure, Comparison::kLessOrEqual, m.ordinal_value("prostate-t-stage", "T2b")->low),
      T);

  Record t2{order("55873"), stage("s", "T2", "2026-01-01")};
  Fact g = extract_one(t2, "prostate-t-stage", "55873");
  double t2b_rank = m.ordinal_value("prostate-t-stage", "T2b")->low;
  EXPECT_EQ(compare(g.measure, Comparison::kLessOrEqual, t2b_rank), U);
  EXPECT_EQ(
      compare(g.measure, Comparison::kLessOrEqual, m.ordinal_value("prostate-t-stage", "T3a")->low),
      T);

  Record t0{order("55873"), stage("s", "T0", "2026-01-01")};
  Fact h = extract_one(t0, "prostate-t-stage", "55873");
  EXPECT_EQ(compare(h.measure, Comparison::kGreaterOrEqual,
                    m.ordinal_value("prostate-t-stage", "T1a")->low),
            F);

  Record tx{order("55873"), stage("old", "T2a", "2025-06-01"), stage("s", "TX", "2026-01-01")};
  Fact x = extract_one(tx, "prostate-t-stage", "55873");
  EXPECT_FALSE(x.measure.has_value());
  EXPECT_EQ(x.display, "TX");

  Record none{order("55873")};
  EXPECT_FALSE(extract_one(none, "prostate-t-stage", "55873").measure.has_value());
}

}  // namespace
}  // namespace cryo::mappings
