// Structured one-line logging to stderr.
//
// Every line is "<UTC time> <level> <message> key=value ...". Callers pass only what is safe to
// keep: hook, hookInstance, status, latency, issuer, jti. Access tokens and JWTs are never
// passed here (the server strips them before anything is logged).
//
// Thread safety: log() may be called from any thread; lines are written whole.
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace cryo::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<std::string_view, std::string_view>;

// Writes one line. Values containing spaces or quotes are quoted.
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

// Lines below this level are dropped (default kInfo). Set once at start-up.
void set_min_level(Level level);

}  // namespace cryo::log
