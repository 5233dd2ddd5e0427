// A sanitizer report in the output of a program a test started (the server, a tool): in a
// sanitizer build (scripts/sanitize.sh) every program is instrumented, and a report from a
// child must fail the test as one from the test's own process does, not pass unseen.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace cryo::testing {

// The report (from its first line to the end of the text, at most a few kB), or "".
inline std::string sanitizer_report(std::string_view text) {
  size_t at = std::string_view::npos;
  for (std::string_view mark : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                ": runtime error: ", "ERROR: UndefinedBehaviorSanitizer"}) {
    at = std::min(at, text.find(mark));
  }
  if (at == std::string_view::npos) return "";
  size_t line = text.rfind('\n', at);
  std::string_view report = text.substr(line == std::string_view::npos ? 0 : line + 1);
  return std::string(report.substr(0, 8000));
}

}  // namespace cryo::testing
