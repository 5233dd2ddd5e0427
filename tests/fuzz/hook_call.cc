// Fuzz target: the whole hook path — parse, read the hook request, index the resources, read
// the coverage, extract facts, decide, write cards — with the bundled mappings and policies,
// for each CRD service. Invariants: every answer is JSON; every 4xx/5xx is an
// OperationOutcome; a 200 is a CDS Hooks response with a `cards` array.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "cds/coverage_service.h"
#include "fhir/json.h"
#include "mappings/mapping_set.h"
#include "policies/policy_library.h"
#include "tests/fuzz/invariant.h"

namespace {

struct World {
  cryo::mappings::MappingSet mappings;
  cryo::policies::PolicyLibrary library;
  std::unique_ptr<cryo::cds::CoverageService> service;
};

const World& world() {
  static const World* w = [] {
    auto* made = new World;
    auto m = cryo::mappings::MappingSet::load(CRYO_FUZZ_DATA_DIR "/mappings/data");
    CRYO_FUZZ_REQUIRE(m.ok());
    made->mappings = std::move(*m);
    auto lib = cryo::policies::PolicyLibrary::load(CRYO_FUZZ_DATA_DIR "/policies/data",
                                                   made->mappings);
    CRYO_FUZZ_REQUIRE(lib.ok());
    made->library = std::move(*lib);
    made->service = std::make_unique<cryo::cds::CoverageService>(
        made->mappings, made->library, cryo::cds::ServiceOptions{});
    return made;
  }();
  return *w;
}

void check_answer(const cryo::cds::HookOutcome& out) {
  cryo::fhir::JsonDocument doc;
  CRYO_FUZZ_REQUIRE(!cryo::fhir::parse_copy(out.body, doc, {.max_bytes = 64u << 20}));
  if (out.status >= 400) {
    CRYO_FUZZ_REQUIRE(cryo::fhir::string_or_empty(cryo::fhir::member(doc, "resourceType")) ==
                      "OperationOutcome");
  } else {
    CRYO_FUZZ_REQUIRE(out.status == 200);
    const auto* cards = cryo::fhir::member(doc, "cards");
    CRYO_FUZZ_REQUIRE(cards != nullptr && cards->IsArray());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& w = world();
  // A fixed clock: the same input decides the same way on every run.
  const auto received = std::chrono::sys_days{std::chrono::year{2026} / 11 / 22};
  for (std::string_view id :
       {"order-sign-crd", "order-select-crd", "order-dispatch-crd", "appointment-book-crd"}) {
    std::string body(reinterpret_cast<const char*>(data), size);
    check_answer(w.service->call(id, body, received));
  }
  return 0;
}
