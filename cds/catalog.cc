#include "cds/catalog.h"

#include <array>

#include "base/json_writer.h"
#include "cds/crd_version.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cryo::cds {
namespace {

// The Encounter and the orders placed in it: what encounter-start and encounter-discharge are
// about (the shared templates bring the patient's record).
constexpr std::array<ServiceTemplate, 2> kEncounterTemplates = {{
    {"encounter", "Encounter/{{context.encounterId}}"},
    {"encounterOrders", "ServiceRequest?encounter={{context.encounterId}}"},
}};

constexpr unsigned kAllCards = kCoverageCards | kPolicyCards | kInstructionCards;

ServiceDefinition service(std::string_view id, const HookAdapter& hook, std::string_view title,
                          std::string_view description, unsigned card_types,
                          std::span<const ServiceTemplate> own_prefetch = {}) {
  return {id, hook.hook, title, description, card_types, own_prefetch, &hook};
}

// Every service, in discovery order, with its hook's adapter.
const std::array<ServiceDefinition, 6>& service_table() {
  static const std::array<ServiceDefinition, 6> table = {
      service("order-sign-crd", kOrderSignHook, "Cryoablation coverage requirements (order-sign)",
              "Tells whether the patient's plan covers a cryoablation order, which policy "
              "criteria are met, unmet or undocumented, whether prior authorization is needed "
              "and which documents the payer will want; annotates each order with CRD coverage "
              "information.",
              kAllCards),
      service("order-select-crd", kOrderSelectHook, "Cryoablation coverage preview (order-select)",
              "Early coverage guidance for selected cryoablation orders, before they are "
              "signed. Never asks for documentation.",
              kAllCards),
      service("order-dispatch-crd", kOrderDispatchHook,
              "Cryoablation coverage requirements (order-dispatch)",
              "Coverage requirements for cryoablation orders dispatched to a performing "
              "organization; annotates each dispatched order with CRD coverage information.",
              kAllCards),
      service("appointment-book-crd", kAppointmentBookHook,
              "Cryoablation coverage requirements (appointment-book)",
              "Coverage requirements for the cryoablation orders behind proposed appointments; "
              "annotates each appointment, and each order it is based on, with CRD coverage "
              "information.",
              kAllCards),
      service("encounter-start-crd", kEncounterStartHook,
              "Cryoablation coverage at encounter start",
              "Coverage information for the cryoablation orders of the encounter that is "
              "starting; reads the patient's record ahead of the order-sign that follows. Never "
              "asks for documentation.",
              kAllCards, kEncounterTemplates),
      service("encounter-discharge-crd", kEncounterDischargeHook,
              "Cryoablation documentation check at discharge",
              "Lists the documentation the payer will want for the cryoablation performed in "
              "the encounter, which the record holds and which is missing.",
              kInstructionCards | kPolicyCards, kEncounterTemplates),
  };
  return table;
}

struct ConfigurationOption {
  unsigned card_type;  // 0 for max-cards
  std::string_view code;
  std::string_view type;  // "boolean" or "integer" (default kDefaultMaxCards)
  std::string_view name;
  std::string_view description;
  bool default_on = true;  // booleans
};

constexpr std::array<ConfigurationOption, 5> kConfigurationOptions = {{
    {kCoverageCards, kCoverageInfoType, "boolean", "Coverage Information",
     "Coverage determination for each cryoablation order: the coverage-information annotation "
     "and the card explaining which criteria are met, unmet or undocumented."},
    {kPolicyCards, kGuidelineType, "boolean", "Policy Reference",
     "A link to the payer policy that applied, readable by the clinician."},
    {kInstructionCards, kInstructionsType, "boolean", "Instructions",
     "What the payer needs done, as text with no links: documents to send, facts to record, "
     "the prior authorization step."},
    {0, "max-cards", "integer", "Maximum cards",
     "The largest number of cards returned for one call (coverage cards first)."},
    {kDtrLaunchCards, kDtrLaunchType, "boolean", "DTR launch",
     "A card with a SMART link launching the payer's DTR app for an order whose decision waits "
     "for answers or documents (CRD 2.1+ launches DTR from the coverage-information instead).",
     false},
}};

}  // namespace

std::span<const ServiceDefinition> services() {
  return service_table();
}

const ServiceDefinition* find_service(std::string_view id) {
  for (const auto& s : service_table()) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::vector<mappings::PrefetchTemplate> prefetch_for(
    const ServiceDefinition& service, std::span<const mappings::PrefetchTemplate> shared) {
  std::vector<mappings::PrefetchTemplate> out(shared.begin(), shared.end());
  for (const auto& t : service.own_prefetch)
    out.push_back({std::string(t.key), std::string(t.query)});
  return out;
}

std::string discovery_json(std::span<const mappings::PrefetchTemplate> prefetch, bool dtr_launch) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto field = [&w](const char* name, std::string_view value) {
    w.Key(name);
    write_json_string(w, value);
  };
  w.StartObject();
  w.Key("services");
  w.StartArray();
  for (const auto& s : service_table()) {
    w.StartObject();
    field("hook", s.hook);
    field("title", s.title);
    field("description", s.description);
    field("id", s.id);
    w.Key("prefetch");
    w.StartObject();
    for (const auto& t : prefetch) {
      write_json_string(w, t.key);
      write_json_string(w, t.query);
    }
    for (const auto& t : s.own_prefetch) {
      write_json_string(w, t.key);
      write_json_string(w, t.query);
    }
    w.EndObject();
    w.Key("usageRequirements");
    write_json_string(
        w,
        "Send a JWT signed by a client this payer trusts. Provide the prefetch keys, or a "
        "fhirServer the service may query.");
    w.Key("extension");
    w.StartObject();
    w.Key("davinci-crd.version");
    w.StartArray();
    for (const auto& v : crd_versions()) write_json_string(w, v.label);
    w.EndArray();
    w.Key("davinci-crd.configuration-options");
    w.StartArray();
    for (const auto& o : kConfigurationOptions) {
      if (o.card_type == kDtrLaunchCards) {
        if (!dtr_launch || !s.adapter->primary) continue;
      } else if (o.card_type != 0 && (s.card_types & o.card_type) == 0) {
        continue;
      }
      w.StartObject();
      field("code", o.code);
      field("type", o.type);
      field("name", o.name);
      field("description", o.description);
      w.Key("default");
      if (o.type == "integer") {
        w.Int(kDefaultMaxCards);
      } else {
        w.Bool(o.default_on);
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
