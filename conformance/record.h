// A patient record held in memory, queried the way an EHR answers prefetch templates and
// FHIR REST reads/searches.
//
//   Record record(resources_array);
//   rapidjson::Document out;
//   record.query("Coverage?patient=p1&status=active&_include=Coverage:payor", out,
//   out.GetAllocator());
//
// Supported: `Type/id` reads (a missing resource yields JSON null) and `Type?...` searches
// yielding a searchset Bundle. Search parameters: `_id`, `patient`/`subject`/`beneficiary`,
// `status`, `clinical-status`, `code`, `category`, `type`, `_include` (`Type:field` follows the
// references in `field`); others (`_count`, `_sort`, dates, ...) do not narrow the result.
//
// Thread safety: const methods may be called from several threads once constructed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace cryo::conformance {

class Record {
 public:
  // `resources` is a JSON array of FHIR resources; it is copied.
  explicit Record(const rapidjson::Value& resources);
  Record();

  // Runs a read or search; writes the resource, Bundle or null into `out`.
  void query(std::string_view query, rapidjson::Value& out,
             rapidjson::Document::AllocatorType& alloc) const;

  // Resource "Type/id", or nullptr.
  const rapidjson::Value* find(std::string_view type, std::string_view id) const;

  size_t size() const;

 private:
  rapidjson::Document doc_;
};

// Substitutes the prefetch tokens in `tmpl` from `context` (string fields such as patientId,
// userId, encounterId) and the user tokens derived from userId. Returns nullopt when a token
// cannot be filled.
std::optional<std::string> fill_template(std::string_view tmpl,
                                         const std::map<std::string, std::string>& context);

// A FHIR collection Bundle with a copy of each resource in `resources` (a JSON array; null or
// anything else gives an empty Bundle): the shape of a hook's draftOrders context.
rapidjson::Value collection_bundle(const rapidjson::Value* resources,
                                   rapidjson::Document::AllocatorType& alloc);

// Percent-decodes a URL component ('+' is kept).
std::string url_decode(std::string_view s);

}  // namespace cryo::conformance
