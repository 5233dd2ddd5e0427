#include "fhir/resource_index.h"

#include <functional>

namespace cryo::fhir {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

bool is_type_name(std::string_view s) {
  if (s.empty() || s[0] < 'A' || s[0] > 'Z') return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

std::string issue_text(const Json& issue) {
  std::string_view text = string_or_empty(member(issue, "diagnostics"));
  if (text.empty()) text = string_or_empty(member(member(issue, "details"), "text"));
  if (text.empty()) {
    for (const Json& coding : items(member(member(issue, "details"), "coding"))) {
      text = string_or_empty(member(coding, "display"));
      if (text.empty()) text = string_or_empty(member(coding, "code"));
      if (!text.empty()) break;
    }
  }
  std::string out(string_or_empty(member(issue, "severity")));
  std::string_view code = string_or_empty(member(issue, "code"));
  if (!code.empty()) out += out.empty() ? std::string(code) : " " + std::string(code);
  if (!text.empty()) out += out.empty() ? std::string(text) : ": " + std::string(text);
  return out.empty() ? "OperationOutcome without details" : out;
}

}  // namespace

struct ResourceIndex::State {
  struct TypeEntry {
    std::vector<const Json*> list;
    StringMap<size_t> by_id;  // position in `list`
  };
  StringMap<TypeEntry> types;
  StringMap<const Json*> by_full_url;  // Bundle entry fullUrl (e.g. urn:uuid:...)
  std::vector<std::unique_ptr<JsonDocument>> adopted;
  std::vector<std::string> issues;

  size_t add(const Json& value, std::string_view origin, int depth);
  void add_outcome(const Json& outcome, std::string_view origin);
};

void ResourceIndex::State::add_outcome(const Json& outcome, std::string_view origin) {
  auto issue_list = items(member(outcome, "issue"));
  if (issue_list.empty()) {
    issues.push_back(std::string(origin) + ": OperationOutcome without issues");
  }
  for (const Json& issue : issue_list) {
    issues.push_back(std::string(origin) + ": " + issue_text(issue));
  }
}

size_t ResourceIndex::State::add(const Json& value, std::string_view origin, int depth) {
  if (!value.IsObject() || depth > 8) return 0;
  std::string_view type = string_or_empty(member(value, "resourceType"));
  if (type.empty()) return 0;
  if (type == "Bundle") {
    size_t n = 0;
    for (const Json& entry : items(member(value, "entry"))) {
      if (const Json* resource = member(entry, "resource")) {
        size_t before = n;
        n += add(*resource, origin, depth + 1);
        std::string_view full_url = string_or_empty(member(entry, "fullUrl"));
        if (n > before && !full_url.empty() && resource->IsObject() &&
            string_or_empty(member(*resource, "resourceType")) != "Bundle") {
          by_full_url[std::string(full_url)] = resource;
        }
      }
      // batch-response entries may carry an OperationOutcome for a failed request.
      if (const Json* outcome = member(member(entry, "response"), "outcome")) {
        if (string_or_empty(member(*outcome, "resourceType")) == "OperationOutcome") {
          add_outcome(*outcome, origin);
        }
      }
    }
    return n;
  }
  if (type == "OperationOutcome") {
    add_outcome(value, origin);
    return 0;
  }
  auto it = types.find(type);
  if (it == types.end()) it = types.emplace(std::string(type), TypeEntry{}).first;
  TypeEntry& entry = it->second;
  std::string_view id = string_or_empty(member(value, "id"));
  if (!id.empty()) {
    auto existing = entry.by_id.find(id);
    if (existing != entry.by_id.end()) {
      // The same resource again: the later copy replaces the earlier one in place.
      entry.list[existing->second] = &value;
      return 1;
    }
    entry.by_id.emplace(std::string(id), entry.list.size());
  }
  entry.list.push_back(&value);
  return 1;
}

ResourceIndex::ResourceIndex() : state_(std::make_unique<State>()) {}
ResourceIndex::~ResourceIndex() = default;
ResourceIndex::ResourceIndex(ResourceIndex&&) noexcept = default;
ResourceIndex& ResourceIndex::operator=(ResourceIndex&&) noexcept = default;

size_t ResourceIndex::add(const Json& resource_or_bundle, std::string_view origin) {
  return state_->add(resource_or_bundle, origin, 0);
}

const JsonDocument& ResourceIndex::adopt(std::unique_ptr<JsonDocument> doc) {
  state_->adopted.push_back(std::move(doc));
  return *state_->adopted.back();
}

std::vector<const JsonDocument*> ResourceIndex::adopted() const {
  std::vector<const JsonDocument*> out;
  out.reserve(state_->adopted.size());
  for (const auto& d : state_->adopted) out.push_back(d.get());
  return out;
}

std::span<const Json* const> ResourceIndex::of_type(std::string_view type) const {
  auto it = state_->types.find(type);
  if (it == state_->types.end()) return {};
  return it->second.list;
}

const Json* ResourceIndex::find(std::string_view type, std::string_view id) const {
  auto it = state_->types.find(type);
  if (it == state_->types.end()) return nullptr;
  auto pos = it->second.by_id.find(id);
  if (pos == it->second.by_id.end()) return nullptr;
  return it->second.list[pos->second];
}

const Json* ResourceIndex::resolve(const Json& reference, const Json* container) const {
  return resolve(string_or_empty(member(reference, "reference")), container);
}

const Json* ResourceIndex::resolve(std::string_view reference, const Json* container) const {
  if (reference.empty()) return nullptr;
  if (reference[0] == '#') {
    if (container == nullptr) return nullptr;
    std::string_view id = reference.substr(1);
    if (id.empty()) return container;
    for (const Json& contained : items(member(*container, "contained"))) {
      if (string_or_empty(member(contained, "id")) == id) return &contained;
    }
    return nullptr;
  }
  if (auto it = state_->by_full_url.find(reference); it != state_->by_full_url.end()) {
    return it->second;
  }
  std::string_view type, id;
  if (!split_reference(reference, type, id)) return nullptr;
  return find(type, id);
}

std::string ResourceIndex::key_of(const Json& resource) {
  std::string_view type = string_or_empty(member(resource, "resourceType"));
  std::string_view id = string_or_empty(member(resource, "id"));
  if (type.empty() || id.empty()) return {};
  std::string key;
  key.reserve(type.size() + id.size() + 1);
  key.append(type).append("/").append(id);
  return key;
}

const std::vector<std::string>& ResourceIndex::outcome_issues() const {
  return state_->issues;
}

bool split_reference(std::string_view reference, std::string_view& type, std::string_view& id) {
  std::string_view rest = reference;
  // Drop a trailing "/_history/<version>".
  if (size_t h = rest.rfind("/_history/"); h != std::string_view::npos) {
    std::string_view version = rest.substr(h + 10);
    if (!version.empty() && version.find('/') == std::string_view::npos) rest = rest.substr(0, h);
  }
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view candidate_id = rest.substr(slash + 1);
  std::string_view head = rest.substr(0, slash);
  size_t prev = head.rfind('/');
  std::string_view candidate_type = prev == std::string_view::npos ? head : head.substr(prev + 1);
  if (!is_type_name(candidate_type) || !is_id(candidate_id)) return false;
  type = candidate_type;
  id = candidate_id;
  return true;
}

}  // namespace cryo::fhir
