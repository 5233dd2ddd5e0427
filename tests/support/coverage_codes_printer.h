// How googletest shows the coverage-information values (policies/coverage_codes.h) in a failed
// assertion: by their CRD code, "(absent)" for an absent field, instead of the enum's bytes.
//
//   EXPECT_EQ(d.covered, Covered::kNotCovered);
//   // Expected equality of these values: d.covered Which is: conditional ...
//
// Only for tests: include it where a test compares the values (tests/policies/support.h does).
#pragma once

#include <ostream>
#include <string_view>

#include "policies/coverage_codes.h"

namespace cryo::policies {

namespace testing_print {
inline void print_code(std::string_view code, std::ostream* os) {
  *os << (code.empty() ? std::string_view("(absent)") : code);
}
}  // namespace testing_print

inline void PrintTo(Covered v, std::ostream* os) {
  testing_print::print_code(code(v), os);
}
inline void PrintTo(PaNeeded v, std::ostream* os) {
  testing_print::print_code(code(v), os);
}
inline void PrintTo(DocNeeded v, std::ostream* os) {
  testing_print::print_code(code(v), os);
}
inline void PrintTo(DocPurpose v, std::ostream* os) {
  testing_print::print_code(code(v), os);
}
inline void PrintTo(InfoNeeded v, std::ostream* os) {
  testing_print::print_code(code(v), os);
}

}  // namespace cryo::policies
