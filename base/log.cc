#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include <date/date.h>

namespace cryo::log {
namespace {

std::atomic<Level> g_min_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};

const char* level_name(Level level, Format format) {
  switch (level) {
    case Level::kDebug:
      return format == Format::kJson ? "debug" : "DEBUG";
    case Level::kInfo:
      return format == Format::kJson ? "info" : "INFO";
    case Level::kWarn:
      return format == Format::kJson ? "warn" : "WARN";
    case Level::kError:
      return format == Format::kJson ? "error" : "ERROR";
  }
  return "INFO";
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return true;
  }
  return false;
}

// Appends `v` (at most kMaxValue bytes, then "...") with quotes, backslashes and control
// characters escaped; `json` selects JSON escapes (\u00XX) over text ones (\xXX).
void append_escaped(std::string& line, std::string_view v, bool json) {
  bool cut = v.size() > kMaxValue;
  if (cut) v = v.substr(0, kMaxValue);
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        line.append("\\\"");
        continue;
      case '\\':
        line.append("\\\\");
        continue;
      case '\n':
        line.append("\\n");
        continue;
      case '\r':
        line.append("\\r");
        continue;
      case '\t':
        line.append("\\t");
        continue;
      default:
        break;
    }
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, json ? "\\u%04x" : "\\x%02x", u);
      line.append(buf);
      continue;
    }
    line.push_back(c);
  }
  if (cut) line.append("...");
}

void append_text_value(std::string& line, std::string_view v) {
  if (!needs_quotes(v) && v.size() <= kMaxValue) {
    line.append(v);
    return;
  }
  line.push_back('"');
  append_escaped(line, v, false);
  line.push_back('"');
}

void append_json_string(std::string& line, std::string_view v) {
  line.push_back('"');
  append_escaped(line, v, true);
  line.push_back('"');
}

}  // namespace

void set_min_level(Level level) {
  g_min_level.store(level, std::memory_order_relaxed);
}

void set_format(Format format) {
  g_format.store(format, std::memory_order_relaxed);
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::string format_line(Format format, std::string_view time, Level level, std::string_view message,
                        std::initializer_list<Field> fields) {
  std::string line;
  if (format == Format::kJson) {
    line.append("{\"time\":");
    append_json_string(line, time);
    line.append(",\"level\":\"");
    line.append(level_name(level, format));
    line.append("\",\"msg\":");
    append_json_string(line, message);
    for (const auto& [key, value] : fields) {
      line.push_back(',');
      append_json_string(line, key);
      line.push_back(':');
      append_json_string(line, value);
    }
    line.append("}\n");
    return line;
  }
  line.append(time);
  line.push_back(' ');
  line.append(level_name(level, format));
  line.push_back(' ');
  append_escaped(line, message, false);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    append_escaped(line, key, false);
    line.push_back('=');
    append_text_value(line, value);
  }
  line.push_back('\n');
  return line;
}

namespace {

// "2026-12-02T00:47:45.416Z" (UTC, milliseconds), from calendar arithmetic: no stream.
std::string timestamp(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const auto ms = time_point_cast<milliseconds>(now);
  const auto day = date::floor<date::days>(ms);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<milliseconds> t(ms - day);
  char buf[40];
  int n = std::snprintf(
      buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
      static_cast<int>(t.hours().count()), static_cast<int>(t.minutes().count()),
      static_cast<int>(t.seconds().count()), static_cast<int>(t.subseconds().count()));
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  std::string time = timestamp(std::chrono::system_clock::now());
  std::string line =
      format_line(g_format.load(std::memory_order_relaxed), time, level, message, fields);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace cryo::log
