// json::File: the one reader of the JSON files people write — policies and the payer registry
// (policies/data), mappings (mappings/data), the server configuration and its trust and CORS
// sections. Every one of them is read, refused and reported the same way:
//
//   Result<json::File> file = json::File::read("policies/data/bcbsri.json");
//   if (!file) return file.error();  // "…/bcbsri.json:3:5: invalid JSON: Missing a comma …"
//   Result<json::Object> root = json::Object::of(file->root(), {"id", "title", "sections"});
//   if (!root) return file->locate(root.error());
//   Result<std::string> id = root->string("id");  // "missing required key 'id'" when absent
//
// Reading refuses, with the line and column where it happened:
//   - a syntax error ("invalid JSON: …", RapidJSON's words);
//   - a key given twice in one object ("duplicate key 'x' (first given at line 4)"): RapidJSON
//     would keep both silently and readers would see only one;
//   - a file over Limits::max_bytes or nested deeper than Limits::max_depth.
//
// Checked access (Object, Node) returns Result: an Error whose `where` is the JSON path of the
// field ("sections[0].criteria.all[1].value": keys joined by '.', array elements as [i]; "" is
// the file as a whole). File::locate() turns it into the error people read, naming the file,
// the line and column of the field, the field and the problem:
//   "policies/data/bcbsri.json:12:9: sections[0].criteria: unknown key 'critera' (expected …)"
// One wording for every format: "unknown key 'k' (expected one of: a, b)", "missing required
// key 'k'", "expected a string", "expected an array of strings", "must not be empty", …
//
// Thread safety: a File is immutable after read(); Nodes and Objects are views into it and
// must not outlive it (nor a move of it).
#pragma once

#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "base/result.h"

namespace cryo::json {

using Value = rapidjson::Value;

struct Limits {
  size_t max_bytes = 16 * 1024 * 1024;
  size_t max_depth = 64;  // objects and arrays inside each other
};

struct Location {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

// A problem located in a file, for reports that show its parts apart (`policies check`).
struct Problem {
  std::string file;
  int line = 0;  // 0 when the file could not be read at all
  int column = 0;
  std::string field;  // JSON path; "" = the file as a whole
  std::string message;

  // Error{"file:line:column: field", message} (the parts that are known).
  Error error() const;
  // "file:line:column: field: message".
  std::string to_string() const { return error().to_string(); }
};

// "a.b" / "b" for the root.
std::string join_path(std::string_view path, std::string_view key);
// "a[2]".
std::string index_path(std::string_view path, size_t index);
// "'text'".
std::string in_quotes(std::string_view text);

// A value of a file with its JSON path.
class Node {
 public:
  Node(const Value& value, std::string path) : value_(&value), path_(std::move(path)) {}

  const Value& value() const { return *value_; }
  const Value* operator->() const { return value_; }
  const std::string& path() const { return path_; }

  // An error about this value: where = its path.
  Error error(std::string message) const { return Error{path_, std::move(message)}; }

  // Elements of an array (none when the value is not an array).
  size_t size() const { return value_->IsArray() ? value_->Size() : 0; }
  Node element(size_t i) const;
  std::vector<Node> elements() const;

  // Typed values: an error names this value ("expected a string", …).
  Result<std::string> string() const;                // non-empty
  Result<std::string> string_or_empty() const;       // any string
  Result<std::vector<std::string>> strings() const;  // array of non-empty strings
  Result<bool> boolean() const;
  Result<double> number() const;
  Result<Node> array() const;

 private:
  const Value* value_;
  std::string path_;
};

// An object whose keys were checked against the keys its format defines.
class Object {
 public:
  // Fails on a value that is not an object ("expected an object") or on its first key outside
  // `keys` ("unknown key 'x' (expected one of: …)", where = the key's path).
  static Result<Object> of(const Node& node, std::initializer_list<std::string_view> keys) {
    return of(node, std::span<const std::string_view>(keys.begin(), keys.size()));
  }
  static Result<Object> of(const Node& node, std::span<const std::string_view> keys);
  // Same, but every unknown key goes to `unknown` and the object is still returned (for
  // readers that report every problem of a file).
  static Result<Object> of(const Node& node, std::initializer_list<std::string_view> keys,
                           std::vector<Error>& unknown) {
    return of(node, std::span<const std::string_view>(keys.begin(), keys.size()), unknown);
  }
  static Result<Object> of(const Node& node, std::span<const std::string_view> keys,
                           std::vector<Error>& unknown);

  const Node& node() const { return node_; }
  const Value& value() const { return node_.value(); }
  const std::string& path() const { return node_.path(); }
  std::string at(std::string_view key) const { return join_path(node_.path(), key); }

  bool has(std::string_view key) const { return find(key) != nullptr; }
  const Value* find(std::string_view key) const;
  std::optional<Node> get(std::string_view key) const;
  // "missing required key 'k'" when absent (where = the key's path).
  Result<Node> require(std::string_view key) const;

  // An error about the object itself, or about one of its keys.
  Error error(std::string message) const { return node_.error(std::move(message)); }
  Error error(std::string_view key, std::string message) const {
    return Error{at(key), std::move(message)};
  }

  // Required members (missing -> "missing required key 'k'").
  Result<std::string> string(std::string_view key) const;  // non-empty
  Result<std::vector<std::string>> strings(std::string_view key) const;
  Result<Node> array(std::string_view key) const;
  Result<Object> object(std::string_view key, std::initializer_list<std::string_view> keys) const;

  // Optional members: absent -> the fallback.
  Result<std::string> optional_string(std::string_view key, std::string fallback = {}) const;
  // Absent -> fallback; present -> a non-empty string.
  Result<std::string> optional_nonempty_string(std::string_view key) const;
  Result<std::vector<std::string>> optional_strings(std::string_view key) const;
  Result<bool> optional_bool(std::string_view key, bool fallback) const;
  // Absent -> an empty array.
  Result<Node> optional_array(std::string_view key) const;
  // Absent -> fallback; otherwise an integer within [min, max]
  // ("must be an integer from min to max").
  Result<int> optional_int(std::string_view key, int fallback, int min, int max) const;

 private:
  explicit Object(Node node) : node_(std::move(node)) {}
  Node node_;
};

// Assigns a result's value to `out`; its error otherwise.
template <class T, class U>
Status into(Result<T> result, U& out) {
  if (!result) return result.error();
  out = std::move(*result);
  return Status::Ok();
}

// One parsed file: its name, text, document and where each of its values is.
class File {
 public:
  // Reads and parses `path`. A refusal is located: "path:line:column: field: problem", or
  // "path: cannot read the file". When `refusal` is given it receives the same, in parts.
  static Result<File> read(const std::filesystem::path& path, const Limits& limits = {},
                           Problem* refusal = nullptr);
  // Parses `text` as the file `name` (tests, text already read).
  static Result<File> parse(std::string name, std::string text, const Limits& limits = {},
                            Problem* refusal = nullptr);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  // The root value, path "".
  Node root() const { return Node(doc_, ""); }

  // Where the value at `path` is: an object member at its key, an array element at its value;
  // a path that does not exist (a missing key) falls back to the nearest enclosing value.
  Location locate(std::string_view path) const;
  // An error found reading this file (where = a JSON path) as people read it:
  // where "name:line:column: path".
  Error locate(const Error& error) const;
  // The same, in parts.
  Problem problem(const Error& error) const;

 private:
  File() = default;
  Location at_offset(size_t offset) const;

  std::string name_;
  std::string text_;
  rapidjson::Document doc_;
  std::map<std::string, size_t, std::less<>> offsets_;
  std::vector<size_t> line_starts_;

  friend class Builder;
};

}  // namespace cryo::json
