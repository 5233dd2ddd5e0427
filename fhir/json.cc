#include "fhir/json.h"

#include <cstring>

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
  const char* s = text.data();
  const size_t n = text.size();
  if (const void* nul = std::memchr(s, '\0', n)) {
    // Never valid in JSON, and it would end an in-place parse early.
    return ParseError{ParseError::kSyntax, "JSON syntax error at byte " +
                                               std::to_string(static_cast<const char*>(nul) - s) +
                                               ": NUL character"};
  }
  size_t depth = 0;
  size_t i = 0;
  while (i < n) {
    const char c = s[i];
    if (c == '"') {
      // Skip the string body: find its closing quote (one preceded by an even number of
      // backslashes). An unterminated string is left to the parser to report.
      size_t from = i + 1;
      for (;;) {
        const void* q = std::memchr(s + from, '"', n - from);
        if (q == nullptr) return std::nullopt;
        const size_t k = static_cast<size_t>(static_cast<const char*>(q) - s);
        size_t m = k;
        while (m > i + 1 && s[m - 1] == '\\') --m;
        if ((k - m) % 2 == 0) {
          i = k + 1;
          break;
        }
        from = k + 1;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      if (++depth > limits.max_depth) {
        return ParseError{ParseError::kTooDeep, "JSON nesting deeper than " +
                                                    std::to_string(limits.max_depth) +
                                                    " levels at byte " + std::to_string(i)};
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
    ++i;
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
  // A Value built from the (pointer, length) pair: FindMember(const Ch*) would measure the
  // name with strlen, which is wrong for a view into a longer string.
  const Json key(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size())));
  auto it = object->FindMember(key);
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
