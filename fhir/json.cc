#include "fhir/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cryo::fhir {
namespace {

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

// Checks size and nesting depth without building anything: a linear scan that skips string
// contents (including escaped quotes) and counts open objects and arrays.
std::optional<ParseError> precheck(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return ParseError{ParseError::kTooLarge, "JSON body of " + std::to_string(text.size()) +
                                                 " bytes exceeds the limit of " +
                                                 std::to_string(limits.max_bytes) + " bytes"};
  }
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\0') {
      // Never valid in JSON, and it would end an in-place parse early.
      return ParseError{ParseError::kSyntax,
                        "JSON syntax error at byte " + std::to_string(i) + ": NUL character"};
    }
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > limits.max_depth) {
          return ParseError{ParseError::kTooDeep, "JSON nesting deeper than " +
                                                      std::to_string(limits.max_depth) +
                                                      " levels at byte " + std::to_string(i)};
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

std::optional<ParseError> syntax_error(const JsonDocument& doc) {
  return ParseError{ParseError::kSyntax, std::string("JSON syntax error at byte ") +
                                             std::to_string(doc.GetErrorOffset()) + ": " +
                                             rapidjson::GetParseError_En(doc.GetParseError())};
}

}  // namespace

std::optional<ParseError> parse_in_place(std::string& text, JsonDocument& doc,
                                         const ParseLimits& limits) {
  if (auto err = precheck(text, limits)) return err;
  // std::string keeps a terminating NUL after size(), which ParseInsitu needs.
  doc.ParseInsitu<kParseFlags>(text.data());
  if (doc.HasParseError()) return syntax_error(doc);
  return std::nullopt;
}

std::optional<ParseError> parse_copy(std::string_view text, JsonDocument& doc,
                                     const ParseLimits& limits) {
  if (auto err = precheck(text, limits)) return err;
  doc.Parse<kParseFlags>(text.data(), text.size());
  if (doc.HasParseError()) return syntax_error(doc);
  return std::nullopt;
}

const Json* member(const Json* object, std::string_view name) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  auto it = object->FindMember(
      rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size())));
  if (it == object->MemberEnd()) return nullptr;
  return &it->value;
}

std::string_view string_or_empty(const Json* value) {
  if (value == nullptr || !value->IsString()) return {};
  return {value->GetString(), value->GetStringLength()};
}

std::span<const Json> items(const Json* value) {
  if (value == nullptr || !value->IsArray() || value->Empty()) return {};
  return {value->Begin(), value->Size()};
}

std::string to_string(const Json& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace cryo::fhir
