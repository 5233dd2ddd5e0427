#include "cds/catalog.h"

#include <array>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cryo::cds {
namespace {

constexpr std::array<ServiceDefinition, 4> kServices = {{
    {"order-sign-crd", "order-sign", "Cryoablation coverage requirements (order-sign)",
     "Tells whether the patient's plan covers a cryoablation order, which policy criteria are "
     "met, unmet or undocumented, whether prior authorization is needed and which documents "
     "the payer will want; annotates each order with CRD coverage information.",
     true},
    {"order-select-crd", "order-select", "Cryoablation coverage preview (order-select)",
     "Early coverage guidance for selected cryoablation orders, before they are signed. Never "
     "asks for documentation.",
     false},
    {"order-dispatch-crd", "order-dispatch", "Cryoablation coverage requirements (order-dispatch)",
     "Coverage requirements for cryoablation orders dispatched to a performing organization; "
     "annotates each dispatched order with CRD coverage information.",
     true},
    {"appointment-book-crd", "appointment-book",
     "Cryoablation coverage requirements (appointment-book)",
     "Coverage requirements for the cryoablation orders behind proposed appointments; annotates "
     "each order the appointment is based on with CRD coverage information.",
     true},
}};

struct ConfigurationOption {
  std::string_view code;
  std::string_view type;  // "boolean" (default true) or "integer" (default kDefaultMaxCards)
  std::string_view name;
  std::string_view description;
};

constexpr std::array<ConfigurationOption, 3> kConfigurationOptions = {{
    {kCoverageInfoType, "boolean", "Coverage Information",
     "Coverage determination for each cryoablation order: the coverage-information annotation "
     "and the card explaining which criteria are met, unmet or undocumented."},
    {kGuidelineType, "boolean", "Policy Reference",
     "A link to the payer policy that applied, readable by the clinician."},
    {"max-cards", "integer", "Maximum cards",
     "The largest number of cards returned for one call (coverage cards first)."},
}};

void write(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

std::span<const ServiceDefinition> services() {
  return kServices;
}

const ServiceDefinition* find_service(std::string_view id) {
  for (const auto& s : kServices) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::string discovery_json(std::span<const mappings::PrefetchTemplate> prefetch) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("services");
  w.StartArray();
  for (const auto& s : kServices) {
    w.StartObject();
    w.Key("hook");
    write(w, s.hook);
    w.Key("title");
    write(w, s.title);
    w.Key("description");
    write(w, s.description);
    w.Key("id");
    write(w, s.id);
    w.Key("prefetch");
    w.StartObject();
    for (const auto& t : prefetch) {
      write(w, t.key);
      write(w, t.query);
    }
    w.EndObject();
    w.Key("usageRequirements");
    write(w,
          "Send a JWT signed by a client this payer trusts. Provide the prefetch keys, or a "
          "fhirServer the service may query.");
    w.Key("extension");
    w.StartObject();
    w.Key("davinci-crd.configuration-options");
    w.StartArray();
    for (const auto& o : kConfigurationOptions) {
      w.StartObject();
      w.Key("code");
      write(w, o.code);
      w.Key("type");
      write(w, o.type);
      w.Key("name");
      write(w, o.name);
      w.Key("description");
      write(w, o.description);
      w.Key("default");
      if (o.type == "integer") {
        w.Int(kDefaultMaxCards);
      } else {
        w.Bool(true);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace cryo::cds
