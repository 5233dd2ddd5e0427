#include "fhir/coding.h"

#include <gtest/gtest.h>

namespace cryo::fhir {
namespace {

JsonDocument parse(std::string_view text) {
  JsonDocument doc;
  EXPECT_FALSE(parse_copy(text, doc, ParseLimits{}).has_value());
  return doc;
}

TEST(Coding, NormalizeIcd10) {
  EXPECT_EQ(normalize_icd10("C78.7"), "C787");
  EXPECT_EQ(normalize_icd10("c787"), "C787");
  EXPECT_EQ(normalize_icd10("C7B.02"), "C7B02");
}

TEST(Coding, Icd10WithAndWithoutDotAndFamilies) {
  CodeSet set;
  set.add({std::string(kIcd10Cm), "C78.7"});
  set.add({std::string(kIcd10Cm), "C18", true});
  EXPECT_TRUE(set.contains(kIcd10Cm, "C78.7"));
  EXPECT_TRUE(set.contains(kIcd10Cm, "C787"));
  EXPECT_TRUE(set.contains(kIcd10Cm, "c78.7"));
  EXPECT_FALSE(set.contains(kIcd10Cm, "C78.70"));  // exact entry
  EXPECT_FALSE(set.contains(kIcd10Cm, "C78"));
  EXPECT_TRUE(set.contains(kIcd10Cm, "C18"));
  EXPECT_TRUE(set.contains(kIcd10Cm, "C18.7"));
  EXPECT_TRUE(set.contains(kIcd10Cm, "C187"));
  EXPECT_FALSE(set.contains(kIcd10Cm, "C19"));
  EXPECT_FALSE(set.contains(kSnomed, "C18.7"));  // other system
  EXPECT_FALSE(set.contains(kIcd10Cm, ""));
}

TEST(Coding, Icd10ByOidComparesLikeIcd10) {
  CodeSet set;
  set.add({std::string(kIcd10CmOid), "C22.0"});
  EXPECT_TRUE(set.contains(kIcd10CmOid, "C220"));
  EXPECT_TRUE(set.contains(kIcd10CmOid, "c22.0"));
  EXPECT_FALSE(set.contains(kIcd10Cm, "C22.0"));  // the copy under the URL is the data's job
}

TEST(Coding, OtherSystemsMatchExactly) {
  CodeSet set;
  set.add({std::string(kSnomed), "10200004"});
  EXPECT_TRUE(set.contains(kSnomed, "10200004"));
  EXPECT_FALSE(set.contains(kSnomed, "102000041"));
  EXPECT_FALSE(set.contains(kLoinc, "10200004"));
}

TEST(Coding, MatchesCodeableConceptOrCodingNeverDisplay) {
  CodeSet set;
  set.add({std::string(kIcd10Cm), "C22.0"});
  JsonDocument cc = parse(R"({"coding":[{"system":"http://snomed.info/sct","code":"1"},
      {"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C220"}],"text":"x"})");
  EXPECT_TRUE(set.matches(cc));
  EXPECT_EQ(set.first_match(cc), "C220");
  JsonDocument coding = parse(R"({"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C22.0"})");
  EXPECT_TRUE(set.matches(coding));
  JsonDocument display_only = parse(R"({"coding":[{"display":"C22.0"}],"text":"C22.0"})");
  EXPECT_FALSE(set.matches(display_only));
  JsonDocument not_object = parse(R"("C22.0")");
  EXPECT_FALSE(set.matches(not_object));
}

}  // namespace
}  // namespace cryo::fhir
