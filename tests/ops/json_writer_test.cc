// base/json_writer.h: text written as JSON strings and members, escaped, with its length.
#include "base/json_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace cryo {
namespace {

TEST(JsonWriter, MembersAndStringsEscaped) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const std::string text = "a \"quoted\"\nline\\";
  w.StartObject();
  write_json_member(w, "code", "not-found");
  write_json_member(w, "diagnostics", text);
  write_json_key(w, "items");
  w.StartArray();
  write_json_string(w, std::string_view("first, second").substr(0, 5));  // only its length
  write_json_string(w, "");
  w.EndArray();
  w.EndObject();
  EXPECT_EQ(std::string(buf.GetString(), buf.GetSize()),
            R"({"code":"not-found","diagnostics":"a \"quoted\"\nline\\","items":["first",""]})");
}

TEST(JsonWriter, EmbeddedNulAndControlCharacters) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  write_json_string(w, std::string_view("a\0b\tc", 5));
  EXPECT_EQ(std::string(buf.GetString(), buf.GetSize()), R"("a\u0000b\tc")");
}

TEST(JsonWriter, PrettyWriter) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 1);
  w.StartObject();
  write_json_member(w, "from", "true");
  write_json_member(w, "to", "unknown");
  w.EndObject();
  EXPECT_EQ(std::string(buf.GetString(), buf.GetSize()),
            "{\n \"from\": \"true\",\n \"to\": \"unknown\"\n}");
}

}  // namespace
}  // namespace cryo
