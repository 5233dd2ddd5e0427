// The policy page: self-contained HTML with every part of the policy, all text escaped.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support.h"

namespace cryo::policies::testing {
namespace {

namespace fs = std::filesystem;

bool has(const std::string& html, std::string_view part) {
  return html.find(part) != std::string::npos;
}

TEST(PolicyPage, FloridaBlueShowsEverySection) {
  std::string html = library().policy_page_html("florida-blue-02-40000-22");
  ASSERT_FALSE(html.empty());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(has(html, "<title>Cryoablation of Liver Tumors"));
  EXPECT_TRUE(has(html, "Florida Blue"));
  EXPECT_TRUE(has(html, "Medical Coverage Guideline 02-40000-22"));
  EXPECT_TRUE(has(html, "revision 2024-09-15"));
  EXPECT_TRUE(has(html, "seeds/florida-blue-02-40000-22.txt"));
  for (const char* code : {"47371", "47381", "47383", "28626-0", "42126-3"}) {
    EXPECT_TRUE(has(html, code)) << code;
  }
  EXPECT_TRUE(has(html, "The disease cannot be resected"));
  EXPECT_TRUE(has(html, "FEP"));
  EXPECT_TRUE(has(html, "How this policy is read"));
  EXPECT_TRUE(has(html, "Prior authorization"));
}

TEST(PolicyPage, NoExternalAssetsOrScripts) {
  for (const PolicySummary& s : library().summaries()) {
    std::string html = library().policy_page_html(s.id);
    ASSERT_FALSE(html.empty()) << s.id;
    EXPECT_FALSE(has(html, "<script")) << s.id;
    EXPECT_FALSE(has(html, "<link")) << s.id;
    EXPECT_FALSE(has(html, "src=")) << s.id;
    EXPECT_FALSE(has(html, "http://")) << s.id;
    EXPECT_FALSE(has(html, "https://")) << s.id;
    EXPECT_TRUE(has(html, "</html>")) << s.id;
  }
}

TEST(PolicyPage, MedicalMutualShowsCodesPerIndicationAndTheReading) {
  std::string html = library().policy_page_html("medical-mutual-200802");
  EXPECT_TRUE(has(html, "Hepatocellular carcinoma"));
  EXPECT_TRUE(has(html, "(A or B) and C and D and E"));
  EXPECT_TRUE(has(html, "largest-liver-lesion ≤ 5 cm"));
  EXPECT_TRUE(has(html, "prostate-t-stage between T1 and T3"));
  EXPECT_TRUE(has(html, "Codes: 47371, 47381"));
  EXPECT_TRUE(has(html, "Codes: 47381, 47383"));
}

TEST(PolicyPage, BcbsriShowsTheMemberNotice) {
  std::string html = library().policy_page_html("bcbsri-liver-cryoablation");
  EXPECT_TRUE(has(html, "Notices"));
  EXPECT_TRUE(has(html, "agreed in writing"));
  EXPECT_TRUE(has(html, "Blue Cross &amp; Blue Shield of Rhode Island"));
}

TEST(PolicyPage, UnknownPolicyIsEmpty) {
  EXPECT_EQ(library().policy_page_html("no-such-policy"), "");
}

TEST(PolicyPage, TextIsEscaped) {
  fs::path dir = fs::temp_directory_path() / ("cryo-page-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(policy_dir() / "payers.json", dir / "payers.json");
  std::ifstream in(policy_dir() / "bcbsri.json");
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  std::string from = R"("title": "Cryosurgical Ablation of Liver Tumors")";
  text.replace(text.find(from), from.size(),
               R"("title": "<script>alert('x')</script> & \"more\"")");
  std::ofstream(dir / "bcbsri.json") << text;
  FactsMdVocabulary vocabulary;
  Result<PolicyLibrary> lib = PolicyLibrary::load(dir, vocabulary);
  fs::remove_all(dir);
  ASSERT_TRUE(lib.ok()) << lib.error().to_string();
  std::string html = lib->policy_page_html("bcbsri-liver-cryoablation");
  EXPECT_FALSE(has(html, "<script>"));
  EXPECT_TRUE(has(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"));
}

}  // namespace
}  // namespace cryo::policies::testing
