// Base64url without padding (RFC 4648 §5), as used by JWS compact serialization (RFC 7515).
//
// Decoding is strict: only the URL-safe alphabet, no padding, no whitespace, and the unused
// low bits of the last character must be zero, so every byte string has exactly one encoding.
//
//   std::string text = base64url_encode("hello");          // "aGVsbG8"
//   std::optional<std::string> bytes = base64url_decode(text);
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cryo::security {

std::string base64url_encode(std::string_view bytes);

// The decoded bytes, or nullopt when `text` is not canonical unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace cryo::security
