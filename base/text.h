// Small text helpers shared by every module that writes text for people or machines.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cryo {

// The items separated by `separator` ("a, b, c").
std::string join(const std::vector<std::string>& items, std::string_view separator);

// Escapes & < > " ' so the text is safe in HTML and XML content and attribute values.
std::string html_escape(std::string_view text);

// ASCII case-insensitive equality (HTTP header names, schemes).
bool iequals(std::string_view a, std::string_view b);

}  // namespace cryo
