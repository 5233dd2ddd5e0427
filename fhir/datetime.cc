#include "fhir/datetime.h"

#include <cctype>
#include <cstdio>

namespace cryo::fhir {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

std::optional<DateRange> range(Instant begin, Instant end, std::string_view text) {
  return DateRange{begin, end, std::string(text)};
}

std::optional<DateRange> first_date(std::initializer_list<const Json*> candidates) {
  for (const Json* c : candidates) {
    std::string_view text = string_or_empty(c);
    if (text.empty()) continue;
    if (auto r = parse_fhir_date(text)) return r;
  }
  return std::nullopt;
}

std::optional<DateRange> effective(const Json& resource) {
  const Json* period = member(resource, "effectivePeriod");
  return first_date({member(resource, "effectiveDateTime"), member(period, "end"),
                     member(period, "start"), member(resource, "effectiveInstant"),
                     member(resource, "issued")});
}

}  // namespace

std::optional<DateRange> parse_fhir_date(std::string_view text) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!digits(text, pos, 4, year) || year < 1) return std::nullopt;
  const date::year y{year};
  if (pos == text.size()) {
    return range(date::sys_days{y / 1 / 1}, date::sys_days{(y + date::years{1}) / 1 / 1}, text);
  }
  if (!expect(text, pos, '-') || !digits(text, pos, 2, month) || month < 1 || month > 12) {
    return std::nullopt;
  }
  const date::year_month ym = y / date::month{static_cast<unsigned>(month)};
  if (pos == text.size()) {
    return range(date::sys_days{ym / 1}, date::sys_days{(ym + date::months{1}) / 1}, text);
  }
  if (!expect(text, pos, '-') || !digits(text, pos, 2, day)) return std::nullopt;
  const date::year_month_day ymd = ym / date::day{static_cast<unsigned>(day)};
  if (!ymd.ok()) return std::nullopt;
  const date::sys_days day_start{ymd};
  if (pos == text.size()) return range(day_start, day_start + days{1}, text);

  // dateTime: "T" hh:mm[:ss[.fff]] [Z | +hh:mm | -hh:mm]
  int hh = 0, mm = 0, ss = 0;
  if (!expect(text, pos, 'T') || !digits(text, pos, 2, hh) || !expect(text, pos, ':') ||
      !digits(text, pos, 2, mm) || hh > 23 || mm > 59) {
    return std::nullopt;
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!digits(text, pos, 2, ss) || ss > 60) return std::nullopt;
    if (ss == 60) ss = 59;  // leap second
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      size_t start = pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
      if (pos == start) return std::nullopt;
    }
  }
  seconds offset{0};
  if (pos < text.size()) {
    char sign = text[pos];
    if (sign == 'Z') {
      ++pos;
    } else if (sign == '+' || sign == '-') {
      ++pos;
      int oh = 0, om = 0;
      if (!digits(text, pos, 2, oh) || !expect(text, pos, ':') || !digits(text, pos, 2, om) ||
          oh > 14 || om > 59) {
        return std::nullopt;
      }
      offset = hours{oh} + minutes{om};
      if (sign == '-') offset = -offset;
    } else {
      return std::nullopt;
    }
  }
  if (pos != text.size()) return std::nullopt;
  const Instant at = day_start + hours{hh} + minutes{mm} + seconds{ss} - offset;
  return range(at, at + seconds{1}, text);
}

DateRange day_of(Instant instant) {
  const date::sys_days d = floor<days>(instant);
  return DateRange{d, d + days{1}, day_text(instant)};
}

DateRange months_before(const DateRange& date_of_service, int months) {
  const date::sys_days first = floor<days>(date_of_service.begin);
  const date::year_month_day ymd{first};
  const date::year_month ym = date::year_month{ymd.year(), ymd.month()} - date::months{months};
  date::day d = ymd.day();
  const date::day last =
      date::year_month_day_last{ym.year(), date::month_day_last{ym.month()}}.day();
  if (d > last) d = last;
  const date::sys_days begin{ym / d};
  const Instant last_instant = date_of_service.end > date_of_service.begin
                                   ? date_of_service.end - seconds{1}
                                   : date_of_service.begin;
  const date::sys_days last_day = floor<days>(last_instant);
  DateRange out{begin, last_day + days{1}, {}};
  out.text = day_text(begin) + ".." + day_text(last_day);
  return out;
}

bool contains(const DateRange& outer, const DateRange& inner) {
  return outer.begin <= inner.begin && inner.end <= outer.end;
}

bool ends_after(const DateRange& a, const DateRange& b) {
  return a.end > b.end;
}

bool later_than(const DateRange& a, const DateRange& b) {
  if (a.end != b.end) return a.end > b.end;
  return a.begin > b.begin;
}

std::optional<DateRange> clinical_date(const Json& resource) {
  std::string_view type = string_or_empty(member(resource, "resourceType"));
  if (type == "Observation" || type == "DiagnosticReport") return effective(resource);
  if (type == "DocumentReference") {
    const Json* period = member(member(resource, "context"), "period");
    return first_date({member(period, "end"), member(period, "start"), member(resource, "date")});
  }
  if (type == "Condition") {
    const Json* onset_period = member(resource, "onsetPeriod");
    return first_date({member(resource, "recordedDate"), member(resource, "onsetDateTime"),
                       member(onset_period, "end"), member(onset_period, "start")});
  }
  if (type == "Procedure") {
    const Json* period = member(resource, "performedPeriod");
    return first_date(
        {member(resource, "performedDateTime"), member(period, "end"), member(period, "start")});
  }
  if (auto r = effective(resource)) return r;
  return first_date({member(resource, "date"), member(resource, "authoredOn")});
}

std::string day_text(Instant instant) {
  // "YYYY-MM-DD" from calendar arithmetic (a stream and its locale cost more than the rest of
  // a call's date handling together).
  const date::year_month_day ymd(floor<days>(instant));
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return date::format("%F", ymd);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", year, static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return text;
}

}  // namespace cryo::fhir
