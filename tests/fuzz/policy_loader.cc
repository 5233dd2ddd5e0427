// Fuzz target: the readers of the data files people write, through the paths the server loads
// them by (cds/main.cc: MappingSet::load, then PolicyLibrary::load) — the input is one JSON
// file's text, written into a scratch data directory:
//   - as a policy file beside the bundled payers.json: PolicyLibrary::check and ::load, then,
//     when it loads, the listing and the policy page the server renders from it;
//   - as the payer registry (payers.json) alone;
//   - as a mapping file beside the bundled mapping files it does not replace (a bundled file
//     defining any of the input's top-level sections is left out): MappingSet::load.
// Invariants: load() succeeds exactly when check() reports no problem; every problem and every
// error names its file and says what is wrong; a policy that loads is listed and has a page.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fhir/json.h"
#include "mappings/mapping_set.h"
#include "policies/fact_vocabulary.h"
#include "policies/policy_library.h"
#include "tests/fuzz/invariant.h"

namespace {

namespace fs = std::filesystem;

struct BundledFile {
  fs::path path;
  std::set<std::string> sections;  // top-level members
  bool codesystem = false;
};

struct World {
  cryo::mappings::MappingSet mappings;
  fs::path scratch;     // removed at exit
  fs::path policy_dir;  // payers.json + fuzz.json
  fs::path payers_dir;  // payers.json (the input)
  std::vector<BundledFile> bundled_mappings;
};

std::set<std::string> top_level(const cryo::fhir::JsonDocument& doc) {
  std::set<std::string> names;
  if (!doc.IsObject()) return names;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    names.emplace(it->name.GetString(), it->name.GetStringLength());
  }
  return names;
}

bool is_codesystem(const cryo::fhir::JsonDocument& doc) {
  return cryo::fhir::string_or_empty(cryo::fhir::member(doc, "resourceType")) == "CodeSystem";
}

void write_file(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  CRYO_FUZZ_REQUIRE(out.good());
}

World& world() {
  static World* w = [] {
    auto* made = new World;
    const fs::path data = CRYO_FUZZ_DATA_DIR;
    auto m = cryo::mappings::MappingSet::load(data / "mappings/data");
    CRYO_FUZZ_REQUIRE(m.ok());
    made->mappings = std::move(*m);
    made->scratch =
        fs::temp_directory_path() / ("cryo-fuzz-policy-loader-" + std::to_string(::getpid()));
    made->policy_dir = made->scratch / "policies";
    made->payers_dir = made->scratch / "payers";
    fs::create_directories(made->policy_dir);
    fs::create_directories(made->payers_dir);
    fs::copy_file(data / "policies/data/payers.json", made->policy_dir / "payers.json",
                  fs::copy_options::overwrite_existing);
    for (const auto& e : fs::directory_iterator(data / "mappings/data")) {
      if (e.path().extension() != ".json") continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      cryo::fhir::JsonDocument doc;
      CRYO_FUZZ_REQUIRE(!cryo::fhir::parse_copy(text, doc, {}));
      made->bundled_mappings.push_back({e.path(), top_level(doc), is_codesystem(doc)});
    }
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(world().scratch, ec);
    });
    return made;
  }();
  return *w;
}

void fuzz_policy(World& w, std::string_view text) {
  write_file(w.policy_dir / "fuzz.json", text);
  cryo::policies::MappingVocabulary vocabulary(w.mappings);
  auto problems = cryo::policies::PolicyLibrary::check(w.policy_dir, vocabulary);
  for (const auto& p : problems) {
    CRYO_FUZZ_REQUIRE(!p.file.empty() && !p.message.empty());
    CRYO_FUZZ_REQUIRE(p.line >= 0 && p.column >= 0);
    CRYO_FUZZ_REQUIRE(!p.to_string().empty());
  }
  auto lib = cryo::policies::PolicyLibrary::load(w.policy_dir, w.mappings);
  CRYO_FUZZ_REQUIRE(lib.ok() == problems.empty());
  if (!lib.ok()) {
    CRYO_FUZZ_REQUIRE(!lib.error().message.empty());
    return;
  }
  for (const auto& summary : lib->summaries()) {
    CRYO_FUZZ_REQUIRE(!summary.id.empty());
    CRYO_FUZZ_REQUIRE(!lib->policy_page_html(summary.id).empty());
  }
}

void fuzz_payers(World& w, std::string_view text) {
  write_file(w.payers_dir / "payers.json", text);
  cryo::policies::MappingVocabulary vocabulary(w.mappings);
  auto problems = cryo::policies::PolicyLibrary::check(w.payers_dir, vocabulary);
  for (const auto& p : problems) CRYO_FUZZ_REQUIRE(!p.file.empty() && !p.message.empty());
}

void fuzz_mappings(World& w, std::string_view text) {
  // The input takes the place of the bundled files that define any of its sections.
  std::set<std::string> sections;
  bool codesystem = false;
  {
    cryo::fhir::JsonDocument doc;
    if (!cryo::fhir::parse_copy(text, doc, {})) {
      sections = top_level(doc);
      codesystem = is_codesystem(doc);
    }
  }
  sections.erase("about");
  const fs::path dir = w.scratch / "mappings";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  for (const BundledFile& f : w.bundled_mappings) {
    bool replaced = codesystem && f.codesystem;
    for (const std::string& s : f.sections) replaced = replaced || sections.count(s) > 0;
    if (!replaced) fs::copy_file(f.path, dir / f.path.filename());
  }
  write_file(dir / "zz-fuzz.json", text);
  auto m = cryo::mappings::MappingSet::load(dir);
  if (!m.ok()) CRYO_FUZZ_REQUIRE(!m.error().message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz_policy(w, text);
  fuzz_payers(w, text);
  fuzz_mappings(w, text);
  return 0;
}
