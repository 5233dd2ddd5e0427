// Random identifiers for things the service hands out (coverage-assertion-ids, card uuids).
//
// Thread safety: safe from any thread; draws from the operating system's CSPRNG.
#pragma once

#include <string>

namespace cryo {

// A random (version 4) UUID in canonical lower-case form, e.g. "3f0e...-4...-8...".
std::string random_uuid();

}  // namespace cryo
