#include "base/ids.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <openssl/rand.h>

namespace cryo {

namespace {

// Each thread draws from the CSPRNG 4 KiB at a time and hands out 16 bytes per id: one call
// into OpenSSL (and its locks) per 256 ids instead of one per id. Bytes are used once.
void random_bytes(std::array<unsigned char, 16>& out) {
  thread_local std::array<unsigned char, 4096> pool{};
  thread_local size_t used = pool.size();
  if (used == pool.size()) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
      throw std::runtime_error("the operating system's random source failed");
    }
    used = 0;
  }
  std::memcpy(out.data(), pool.data() + used, out.size());
  std::memset(pool.data() + used, 0, out.size());
  used += out.size();
}

std::string canonical(std::array<unsigned char, 16>& b, unsigned version) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

}  // namespace

std::string random_uuid() {
  std::array<unsigned char, 16> b{};
  random_bytes(b);
  return canonical(b, 4);
}

std::string time_ordered_uuid() {
  std::array<unsigned char, 16> b{};
  random_bytes(b);
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  return canonical(b, 7);
}

}  // namespace cryo
