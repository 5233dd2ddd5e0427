#include "policies/coverage_codes.h"

#include <array>
#include <cstddef>

namespace cryo::policies {
namespace {

// Each enum's codes, indexed by the enum's value.
constexpr std::array<std::string_view, 3> kCovered = {"covered", "not-covered", "conditional"};
constexpr std::array<std::string_view, 4> kPaNeeded = {"", "no-auth", "auth-needed", "conditional"};
constexpr std::array<std::string_view, 2> kDocNeeded = {"", "clinical"};
constexpr std::array<std::string_view, 3> kDocPurpose = {"", "withpa", "withclaim"};
constexpr std::array<std::string_view, 2> kInfoNeeded = {"", "OTH"};

template <class E, std::size_t N>
std::optional<E> parse_code(const std::array<std::string_view, N>& codes, std::string_view c) {
  for (std::size_t i = 0; i < N; ++i) {
    if (codes[i] == c) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view code(Covered v) {
  return kCovered[static_cast<std::size_t>(v)];
}
std::string_view code(PaNeeded v) {
  return kPaNeeded[static_cast<std::size_t>(v)];
}
std::string_view code(DocNeeded v) {
  return kDocNeeded[static_cast<std::size_t>(v)];
}
std::string_view code(DocPurpose v) {
  return kDocPurpose[static_cast<std::size_t>(v)];
}
std::string_view code(InfoNeeded v) {
  return kInfoNeeded[static_cast<std::size_t>(v)];
}

std::optional<Covered> parse_covered(std::string_view c) {
  return parse_code<Covered>(kCovered, c);
}
std::optional<PaNeeded> parse_pa_needed(std::string_view c) {
  return parse_code<PaNeeded>(kPaNeeded, c);
}
std::optional<DocNeeded> parse_doc_needed(std::string_view c) {
  return parse_code<DocNeeded>(kDocNeeded, c);
}
std::optional<DocPurpose> parse_doc_purpose(std::string_view c) {
  return parse_code<DocPurpose>(kDocPurpose, c);
}
std::optional<InfoNeeded> parse_info_needed(std::string_view c) {
  return parse_code<InfoNeeded>(kInfoNeeded, c);
}

}  // namespace cryo::policies
