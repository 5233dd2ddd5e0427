// Random identifiers for things the service hands out (coverage-assertion-ids, card uuids).
//
// Thread safety: safe from any thread; draws from the operating system's CSPRNG (through
// OpenSSL, a few KiB at a time per thread).
#pragma once

#include <string>

namespace cryo {

// A random (version 4) UUID in canonical lower-case form, e.g. "3f0e...-4...-8...".
std::string random_uuid();

// A time-ordered (version 7, RFC 9562) UUID: the Unix time in milliseconds, then 74 random
// bits. Ids handed out close together sort close together, so the store's indexes on them
// grow at one end instead of touching a random page per id. For what is stored and looked
// up by id (coverage-assertion-ids, card uuids); random_uuid() for the rest.
std::string time_ordered_uuid();

}  // namespace cryo
