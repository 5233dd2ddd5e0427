// JsonLocations: where each value of a JSON text is, so problems found in a parsed document
// can name a line and column (RapidJSON's DOM keeps no positions).
//
//   JsonLocations where = JsonLocations::scan(text);           // text already parsed as valid
//   Location at = where.find("sections[0].criteria.all[1].fact"); // {12, 9}
//
// Paths use the loader's notation: keys joined by '.', array elements as [i]; "" is the root.
// An object member is located at its key, an array element at its value. find() falls back to
// the nearest enclosing value when the path itself is absent (a missing key).
//
// Thread safety: immutable after scan().
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cryo::policies {

struct Location {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

class JsonLocations {
 public:
  static JsonLocations scan(std::string_view text);
  Location find(std::string_view path) const;
  // Line and column of a byte offset into the text.
  Location at_offset(size_t offset) const;

 private:
  std::map<std::string, size_t, std::less<>> offsets_;
  std::vector<size_t> line_starts_;
};

}  // namespace cryo::policies
