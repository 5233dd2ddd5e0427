// FHIR dates and dateTimes as ranges, compared the way the FHIR specification says.
//
// A partial date is a range: "2025" is all of 2025, "2025-03" all of March, "2025-03-04" that
// day; a dateTime is an instant (a range of one second). Values without an offset are read as
// UTC. A date is "inside" a window only when its whole range is inside. Calendar arithmetic
// uses Howard Hinnant's `date`.
//
//   auto dos = parse_fhir_date("2026-03-31").value();
//   DateRange window = months_before(dos, 6);       // 2025-09-30 .. 2026-03-31, inclusive
//   bool ok = contains(window, *parse_fhir_date("2025-10"));
//
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <date/date.h>

#include "fhir/json.h"

namespace cryo::fhir {

using Instant = std::chrono::sys_seconds;

// [begin, end): `end` is exclusive.
struct DateRange {
  Instant begin;
  Instant end;
  std::string text;  // the original FHIR text, for display on cards
};

// Parses a FHIR date, dateTime or instant (partial forms allowed). nullopt when malformed.
std::optional<DateRange> parse_fhir_date(std::string_view text);

// The whole calendar day (UTC) containing `instant`.
DateRange day_of(Instant instant);

// The window "six months or fewer before" a date of service: from the day `months` calendar
// months before the first day of `date_of_service` (clamped to the month's end, e.g. Aug 31 -
// 6 months = Feb 28/29) through the last day of `date_of_service`, both inclusive.
DateRange months_before(const DateRange& date_of_service, int months);

// Whether all of `inner` lies within `outer`.
bool contains(const DateRange& outer, const DateRange& inner);

// The later of two ranges by end, for "latest wins" ordering.
bool ends_after(const DateRange& a, const DateRange& b);

// "Latest wins" ordering of clinical dates: `a` is later than `b` when its range ends later,
// or ends at the same second and starts later ("2026-08-31" is later than "2026-08";
// "2026-08-13T12:00:00Z" is earlier than "2026-08-13"). Equal ranges are neither: the caller
// then takes the later in input order. Times compare to the second (fractions are ignored
// when parsing).
bool later_than(const DateRange& a, const DateRange& b);

// When a clinical statement applies: Observation effective[x] (dateTime, or Period.end, else
// Period.start, else `issued`), Condition recordedDate/onsetDateTime, DiagnosticReport
// effective[x] else issued, DocumentReference context.period.end, else .start, else date.
// nullopt when the resource carries no usable date.
std::optional<DateRange> clinical_date(const Json& resource);

// "2026-03-31" style day text for an instant.
std::string day_text(Instant instant);

}  // namespace cryo::fhir
