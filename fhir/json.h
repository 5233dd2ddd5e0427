// JSON access for FHIR R4 resources held in RapidJSON documents.
//
// The service parses each request body once, in place, and every later stage reads the same
// DOM through `const Json&` / `const Json*` views: nothing copies resources around. The
// helpers here tolerate wrong shapes (a string where an object was expected, a missing array):
// they answer "absent" rather than asserting, because input comes from outside.
//
//   JsonDocument doc;
//   std::string body = ...;               // must outlive `doc` (strings point into it)
//   if (auto err = parse_in_place(body, doc, ParseLimits{})) { reject(err->message); }
//   std::string_view id = string_or_empty(member(doc, "hookInstance"));
//
// Thread safety: the functions are pure; a document may be read from many threads at once.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace cryo::fhir {

using Json = rapidjson::Value;
using JsonDocument = rapidjson::Document;

// Limits applied to everything parsed from outside.
struct ParseLimits {
  size_t max_bytes = 5 * 1024 * 1024;  // larger input -> ParseError::kTooLarge
  size_t max_depth = 64;               // deeper nesting of objects/arrays -> kTooDeep
};

// For JSON this service wrote itself (its audit records): read within these limits when it
// was received, it may be larger and deeper as stored (documents gathered in one array).
inline constexpr ParseLimits kStoredLimits{.max_bytes = size_t{1} << 30, .max_depth = 256};

struct ParseError {
  enum Kind { kTooLarge, kTooDeep, kSyntax } kind;
  std::string message;  // human-readable, with the byte offset for syntax errors
};

// Parses `text` in place into `doc` (the buffer is modified and must outlive `doc`).
// Returns nothing on success. Depth is checked before parsing, so a hostile document cannot
// exhaust the stack.
std::optional<ParseError> parse_in_place(std::string& text, JsonDocument& doc,
                                         const ParseLimits& limits);

// Same, copying strings into the document: `text` need not outlive it.
std::optional<ParseError> parse_copy(std::string_view text, JsonDocument& doc,
                                     const ParseLimits& limits);

// The member `name` of `object`, or nullptr when `object` is null, not an object, or lacks it.
const Json* member(const Json* object, std::string_view name);
inline const Json* member(const Json& object, std::string_view name) {
  return member(&object, name);
}

// The string value, or "" when `value` is null or not a string.
std::string_view string_or_empty(const Json* value);

// The elements of an array, or an empty span when `value` is null or not an array.
std::span<const Json> items(const Json* value);

// Serialises a value compactly.
std::string to_string(const Json& value);

}  // namespace cryo::fhir
