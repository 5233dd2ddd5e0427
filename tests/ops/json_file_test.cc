// The reader of the JSON files people write (base/json_file.h): refusals with line and column,
// duplicate keys, limits, the one wording for unknown and missing keys, locations of fields.
#include "base/json_file.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace cryo::json {
namespace {

Problem refusal(const std::string& text, const Limits& limits = {}) {
  Problem p;
  Result<File> f = File::parse("x.json", text, limits, &p);
  EXPECT_FALSE(f) << text;
  if (f) return Problem{};
  EXPECT_EQ(f.error().to_string(), p.to_string());
  return p;
}

TEST(JsonFile, SyntaxErrorNamesLineAndColumn) {
  Problem p = refusal("{\n  \"a\": 1,\n  \"b\": 2\n  \"c\": 3\n}\n");
  EXPECT_EQ(p.file, "x.json");
  EXPECT_EQ(p.line, 4);
  EXPECT_EQ(p.column, 3);
  EXPECT_EQ(p.message, "invalid JSON: Missing a comma or '}' after an object member.");
  EXPECT_EQ(p.to_string(),
            "x.json:4:3: invalid JSON: Missing a comma or '}' after an object member.");
  EXPECT_EQ(refusal("").message, "invalid JSON: The document is empty.");
  EXPECT_EQ(refusal("{} x").line, 1);
  EXPECT_EQ(refusal("{\"a\": tru}").column, 10);  // where RapidJSON stopped reading
  EXPECT_EQ(refusal(std::string("{}\0{}", 5)).message, "invalid JSON: a NUL character");
}

TEST(JsonFile, DuplicateKeysAreRefused) {
  Problem p = refusal("{\n  \"a\": {\"x\": 1,\n        \"x\": 2}\n}");
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.column, 9);
  EXPECT_EQ(p.field, "a.x");
  EXPECT_EQ(p.message, "duplicate key 'x' (first given at line 2)");
  // The same key in two objects is no duplicate.
  EXPECT_TRUE(
      File::parse("x.json", R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]})"));
  // Keys are compared decoded.
  EXPECT_EQ(refusal(R"({"ab": 1, "a\u0062": 2})").field, "ab");
  EXPECT_EQ(refusal(R"([{"k": 1}, {"k": 1, "k": 2}])").field, "[1].k");
}

TEST(JsonFile, LimitsAreEnforced) {
  Limits small;
  small.max_bytes = 10;
  EXPECT_NE(refusal(R"({"abc": "defgh"})", small).message.find("more than the limit of 10"),
            std::string::npos);
  Limits shallow;
  shallow.max_depth = 3;
  EXPECT_TRUE(File::parse("x.json", "[[[1]]]", shallow));
  Problem deep = refusal("[[[\n [1]]]]", shallow);
  EXPECT_EQ(deep.message, "nested deeper than 3 levels");
  EXPECT_EQ(deep.line, 2);
  EXPECT_EQ(deep.column, 2);
  EXPECT_EQ(deep.field, "[0][0][0]");
  // Far deeper than any stack would take: refused, not a crash.
  EXPECT_EQ(refusal(std::string(100000, '[')).message, "nested deeper than 64 levels");
}

TEST(JsonFile, ReadsAFileAndRefusesWhatItCannotRead) {
  std::filesystem::path p = std::filesystem::temp_directory_path() /
                            ("cryo-json-" + std::to_string(::getpid()) + ".json");
  std::ofstream(p) << R"({"a": [1, 2]})";
  Result<File> f = File::read(p);
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_EQ(f->name(), p.string());
  EXPECT_EQ(f->root()->MemberCount(), 1u);
  Limits small;
  small.max_bytes = 4;
  Result<File> big = File::read(p, small);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().where, p.string());
  std::filesystem::remove(p);
  Problem gone;
  Result<File> missing = File::read(p, {}, &gone);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().to_string(), p.string() + ": cannot read the file");
  EXPECT_EQ(gone.line, 0);
}

TEST(JsonFile, LocatesMembersAtTheirKeyAndElementsAtTheirValue) {
  Result<File> f = File::parse(
      "x.json",
      "{\n  \"list\": [\n    {\"k\": \"v\"},\n    7,\n  \"s\\\"q\"\n  ],\n  \"n\": null\n}");
  ASSERT_TRUE(f) << f.error().to_string();
  auto at = [&](const char* path) {
    Location l = f->locate(path);
    return std::to_string(l.line) + ":" + std::to_string(l.column);
  };
  EXPECT_EQ(at(""), "1:1");
  EXPECT_EQ(at("list"), "2:3");
  EXPECT_EQ(at("list[0]"), "3:5");
  EXPECT_EQ(at("list[0].k"), "3:6");
  EXPECT_EQ(at("list[1]"), "4:5");
  EXPECT_EQ(at("list[2]"), "5:3");
  EXPECT_EQ(at("n"), "7:3");
  // A missing key: the nearest enclosing value.
  EXPECT_EQ(at("list[0].missing"), "3:5");
  EXPECT_EQ(at("nothing"), "1:1");
  Error located = f->locate(Error{"list[1]", "expected an object"});
  EXPECT_EQ(located.to_string(), "x.json:4:5: list[1]: expected an object");
}

TEST(JsonFile, OneWordingForUnknownAndMissingKeys) {
  Result<File> f = File::parse("config.json", R"({"server": {"port": 1, "prot": 2}})");
  ASSERT_TRUE(f);
  Result<Object> root = Object::of(f->root(), {"server"});
  ASSERT_TRUE(root);
  Result<Object> server = root->object("server", {"port", "bind"});
  ASSERT_FALSE(server);
  EXPECT_EQ(f->locate(server.error()).to_string(),
            "config.json:1:24: server.prot: unknown key 'prot' (expected one of: port, bind)");
  std::vector<Error> unknown;
  Result<Object> lenient = Object::of(*root->get("server"), {"bind"}, unknown);
  ASSERT_TRUE(lenient);
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[1].where, "server.prot");
  Result<std::string> bind = lenient->string("bind");
  ASSERT_FALSE(bind);
  EXPECT_EQ(bind.error().where, "server.bind");
  EXPECT_EQ(bind.error().message, "missing required key 'bind'");
  EXPECT_EQ(f->locate(bind.error()).to_string(),
            "config.json:1:2: server.bind: missing required key 'bind'");
}

TEST(JsonFile, TypedMembers) {
  Result<File> f = File::parse(
      "x.json", R"({"s": "a", "e": "", "l": ["a", ""], "b": true, "i": 70, "o": {"k": 1}})");
  ASSERT_TRUE(f);
  Result<Object> o = Object::of(f->root(), {"s", "e", "l", "b", "i", "o"});
  ASSERT_TRUE(o);
  EXPECT_EQ(*o->string("s"), "a");
  EXPECT_EQ(o->string("e").error().message, "must not be empty");
  EXPECT_EQ(*o->optional_string("e", "x"), "");
  EXPECT_EQ(*o->optional_string("absent", "x"), "x");
  EXPECT_EQ(o->optional_nonempty_string("e").error().message, "must not be empty");
  EXPECT_EQ(o->string("b").error().message, "expected a string");
  EXPECT_EQ(o->strings("l").error().where, "l[1]");
  EXPECT_EQ(o->strings("l").error().message, "expected a non-empty string");
  EXPECT_TRUE(o->optional_strings("absent")->empty());
  EXPECT_EQ(*o->optional_bool("b", false), true);
  EXPECT_EQ(o->optional_bool("s", false).error().message, "expected true or false");
  EXPECT_EQ(*o->optional_int("i", 0, 1, 100), 70);
  EXPECT_EQ(o->optional_int("i", 0, 1, 10).error().message, "must be an integer from 1 to 10");
  EXPECT_EQ(*o->optional_int("absent", 5, 1, 10), 5);
  EXPECT_EQ(o->array("s").error().message, "expected an array");
  EXPECT_EQ(o->optional_array("absent")->size(), 0u);
  EXPECT_EQ(o->object("o", {"j"}).error().to_string(), "o.k: unknown key 'k' (expected one of: j)");
  EXPECT_EQ(Object::of(*o->get("s"), {}).error().message, "expected an object");
  std::string out;
  EXPECT_TRUE(into(o->string("s"), out));
  EXPECT_EQ(out, "a");
  EXPECT_FALSE(into(o->string("e"), out));
}

}  // namespace
}  // namespace cryo::json
