// Structured one-line logging to stderr.
//
// Text format (default): "<UTC time> <level> <message> key=value ...", values quoted when
// they contain spaces, quotes or '='; control characters escaped. JSON format (one object per
// line): {"time":"...","level":"info","msg":"...","key":"value",...}. Every message and value
// is bounded (kMaxValue bytes, then "...") so no input can make a line unbounded.
// Callers pass only what is safe to keep: hook, hookInstance, status, latency, issuer, jti.
// Access tokens, JWTs and clinical content are never passed here.
//
// Thread safety: write() may be called from any thread; lines are written whole. Set the
// level and format once at start-up.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cryo::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

using Field = std::pair<std::string_view, std::string_view>;

inline constexpr size_t kMaxValue = 1024;

// Writes one line.
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

// Lines below this level are dropped (default kInfo).
void set_min_level(Level level);
void set_format(Format format);

// "debug", "info", "warn", "error" / "text", "json"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);
std::optional<Format> parse_format(std::string_view name);

// The line write() would produce, without the time stamp's variability (for tests).
std::string format_line(Format format, std::string_view time, Level level, std::string_view message,
                        std::initializer_list<Field> fields);

}  // namespace cryo::log
