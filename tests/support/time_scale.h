// How much longer a test may wait for something to happen: CRYO_TEST_TIME_SCALE (a number,
// default 1). The sanitizer run (scripts/sanitize.sh) sets it, since instrumented code runs
// several times slower; a test's deadlines and waits grow with it, what it checks does not.
//
//   auto deadline = steady_clock::now() + cryo::testing::scaled(std::chrono::seconds(2));
//
// Likewise CRYO_TEST_MEMORY_SCALE for bounds on a process's memory: AddressSanitizer keeps freed
// memory in quarantine and adds shadow memory, so a bounded process still looks bigger.
#pragma once

#include <chrono>
#include <cstdlib>

namespace cryo::testing {

inline double scale_from(const char* variable) {
  const char* text = std::getenv(variable);
  double v = text != nullptr ? std::strtod(text, nullptr) : 1.0;
  return v >= 1.0 ? v : 1.0;
}

inline double time_scale() {
  static const double scale = scale_from("CRYO_TEST_TIME_SCALE");
  return scale;
}

inline double memory_scale() {
  static const double scale = scale_from("CRYO_TEST_MEMORY_SCALE");
  return scale;
}

template <class Rep, class Period>
std::chrono::milliseconds scaled(std::chrono::duration<Rep, Period> d) {
  return std::chrono::milliseconds(
      static_cast<long long>(std::chrono::duration<double, std::milli>(d).count() * time_scale()));
}

}  // namespace cryo::testing
