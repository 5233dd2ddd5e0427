// ResourceIndex: every FHIR resource available to one hook call, by type and by id.
//
// Resources come from prefetch values (a resource, or a Bundle — searchset, collection, or
// batch-response — whose entries are added one by one), from context.draftOrders, and (later)
// from the EHR's FHIR server. `null` values are ignored. OperationOutcome resources are not
// indexed as data: their issues are kept (outcome_issues) so the caller can treat the key as
// missing. Contained resources are reachable through resolve() from their container.
//
// The index stores pointers into JSON documents it does not own, unless handed one with
// adopt(). Insertion order is preserved per type, so "the later in input order" is
// well-defined.
//
//   ResourceIndex index;
//   index.add(*member(prefetch, "coverage"), "prefetch.coverage");
//   for (const Json* c : index.of_type("Condition")) { ... }
//   const Json* org = index.resolve(*member(coverage, "payor")->Begin(), coverage);
//
// Thread safety: build on one thread, then read from any number of threads.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/json.h"

namespace cryo::fhir {

class ResourceIndex {
 public:
  ResourceIndex();
  ~ResourceIndex();
  ResourceIndex(ResourceIndex&&) noexcept;
  ResourceIndex& operator=(ResourceIndex&&) noexcept;

  // Adds a resource, or each entry.resource of a Bundle (recursively for nested Bundles).
  // `origin` names where it came from ("prefetch.coverage", "draftOrders", a URL), for
  // OperationOutcome issue messages. Returns the number of resources indexed.
  size_t add(const Json& resource_or_bundle, std::string_view origin);

  // Keeps `doc` alive for as long as the index (for resources fetched from a FHIR server).
  const JsonDocument& adopt(std::unique_ptr<JsonDocument> doc);
  // The documents handed to adopt(), in order.
  std::vector<const JsonDocument*> adopted() const;

  // All indexed resources of `type`, in insertion order.
  std::span<const Json* const> of_type(std::string_view type) const;

  // The resource `type`/`id`, or nullptr. When the same id was added twice, the later wins.
  const Json* find(std::string_view type, std::string_view id) const;

  // Resolves a FHIR Reference object ({"reference": ...}): "Type/id", an absolute URL ending
  // in "Type/id" (optionally followed by "/_history/n"), or "#id" for a resource contained
  // in `container`. Returns nullptr when it cannot be resolved.
  const Json* resolve(const Json& reference, const Json* container = nullptr) const;

  // Resolves a reference string of the forms above.
  const Json* resolve(std::string_view reference, const Json* container = nullptr) const;

  // "Type/id" for a resource (empty when it has no id).
  static std::string key_of(const Json& resource);

  // Diagnostics of OperationOutcome resources met while adding, as "origin: text" lines.
  const std::vector<std::string>& outcome_issues() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Splits a reference string into (type, id), accepting relative and absolute forms.
// Returns false when it does not end in "Type/id" (or "Type/id/_history/n").
bool split_reference(std::string_view reference, std::string_view& type, std::string_view& id);

}  // namespace cryo::fhir
