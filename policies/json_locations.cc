#include "policies/json_locations.h"

#include <algorithm>

namespace cryo::policies {
namespace {

class Scanner {
 public:
  Scanner(std::string_view text, std::map<std::string, size_t, std::less<>>& out)
      : s_(text), out_(out) {}

  void value(const std::string& path) {
    ws();
    if (i_ >= s_.size()) return;
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      for (;;) {
        ws();
        if (i_ >= s_.size() || s_[i_] == '}') break;
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        size_t key_at = i_;
        std::string key = string();
        std::string child = path.empty() ? key : path + "." + key;
        out_.emplace(child, key_at);
        ws();
        if (i_ < s_.size() && s_[i_] == ':') ++i_;
        value(child);
      }
      ++i_;
    } else if (c == '[') {
      ++i_;
      size_t n = 0;
      for (;;) {
        ws();
        if (i_ >= s_.size() || s_[i_] == ']') break;
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        std::string child = path + "[" + std::to_string(n++) + "]";
        out_.emplace(child, i_);
        value(child);
      }
      ++i_;
    } else if (c == '"') {
      string();
    } else {
      while (i_ < s_.size() &&
             std::string_view(",]} \t\r\n").find(s_[i_]) == std::string_view::npos)
        ++i_;
    }
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  // Reads a string token; returns its raw content (escapes kept as written).
  std::string string() {
    size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
    std::string out(s_.substr(start, std::min(i_, s_.size()) - start));
    ++i_;
    return out;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::map<std::string, size_t, std::less<>>& out_;
};

}  // namespace

JsonLocations JsonLocations::scan(std::string_view text) {
  JsonLocations l;
  l.line_starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') l.line_starts_.push_back(i + 1);
  }
  size_t first = text.find_first_not_of(" \t\r\n");
  l.offsets_.emplace("", first == std::string_view::npos ? 0 : first);
  Scanner(text, l.offsets_).value("");
  return l;
}

Location JsonLocations::at_offset(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());
  return Location{static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
}

Location JsonLocations::find(std::string_view path) const {
  std::string p(path);
  for (;;) {
    if (auto it = offsets_.find(p); it != offsets_.end()) return at_offset(it->second);
    if (p.empty()) return Location{};
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

}  // namespace cryo::policies
