// A settable clock for verifier and JWKS tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "tests/support/token_minter.h"

namespace cryo::testing {

class TestClock {
 public:
  TestClock() : seconds_(std::make_shared<std::atomic<int64_t>>(now_seconds())) {}
  int64_t now() const { return seconds_->load(); }
  void advance(int64_t s) { seconds_->fetch_add(s); }
  // A std::function-compatible clock sharing this clock's time.
  auto fn() const {
    auto s = seconds_;
    return [s] { return std::chrono::system_clock::time_point(std::chrono::seconds(s->load())); };
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> seconds_;
};

}  // namespace cryo::testing
