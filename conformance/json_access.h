// Tolerant reads of JSON a CRD server sent: absent, null or wrongly typed values read as
// "absent" so a broken answer is reported as a failed check, never a crash.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace cryo::conformance {

using Json = rapidjson::Value;

// The member `name` of `object`, or nullptr when it is not an object or lacks the member.
inline const Json* get(const Json& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::StringRef(name.data(), name.size()));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// The string value, or "" when absent or not a string.
inline std::string str(const Json* v) {
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

}  // namespace cryo::conformance
