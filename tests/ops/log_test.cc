#include <chrono>
#include <regex>
#include <sstream>
#include <string>

#include <date/date.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "base/log.h"

namespace cryo::log {
namespace {

TEST(Log, TextLinesQuoteAndEscapeValues) {
  std::string line = format_line(Format::kText, "2026-01-01T00:00:00.000Z", Level::kInfo,
                                 "hook call", {{"status", "200"}, {"reason", "a b\n\"c\"\x01"}});
  EXPECT_EQ(line,
            "2026-01-01T00:00:00.000Z INFO hook call status=200 reason=\"a b\\n\\\"c\\\"\\x01\"\n");
}

TEST(Log, JsonLinesAreOneValidObject) {
  std::string line =
      format_line(Format::kJson, "2026-01-01T00:00:00.000Z", Level::kWarn, "refused \"x\"",
                  {{"path", "/cds-services"}, {"reason", "line\nbreak\t\x02"}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  ASSERT_FALSE(doc.HasParseError()) << line;
  EXPECT_STREQ(doc["level"].GetString(), "warn");
  EXPECT_STREQ(doc["msg"].GetString(), "refused \"x\"");
  EXPECT_STREQ(doc["path"].GetString(), "/cds-services");
  EXPECT_STREQ(doc["reason"].GetString(), "line\nbreak\t\x02");
}

TEST(Log, ValuesAreBounded) {
  std::string huge(100000, 'x');
  std::string line = format_line(Format::kJson, "t", Level::kInfo, "m", {{"v", huge}});
  EXPECT_LT(line.size(), kMaxValue + 100);
  EXPECT_NE(line.find("...\""), std::string::npos);
  line = format_line(Format::kText, "t", Level::kInfo, "m", {{"v", huge}});
  EXPECT_LT(line.size(), kMaxValue + 100);
}

TEST(Log, LevelAndFormatNames) {
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("error"), Level::kError);
  EXPECT_FALSE(parse_level("verbose"));
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_FALSE(parse_format("xml"));
}

TEST(Log, LinesStartWithTheTimeInUtcToTheMillisecond) {
  set_min_level(Level::kInfo);
  set_format(Format::kText);
  const auto before = std::chrono::system_clock::now();
  testing::internal::CaptureStderr();
  write(Level::kInfo, "time check", {});
  std::string line = testing::internal::GetCapturedStderr();
  const auto after = std::chrono::system_clock::now();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      line, m, std::regex(R"(^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})Z INFO time check\n$)")))
      << line;
  std::istringstream in(m[1].str());
  date::sys_time<std::chrono::milliseconds> t;
  in >> date::parse("%FT%T", t);
  ASSERT_FALSE(in.fail()) << line;
  EXPECT_GE(t, std::chrono::floor<std::chrono::milliseconds>(before));
  EXPECT_LE(t, after);
}

}  // namespace
}  // namespace cryo::log
