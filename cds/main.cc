// cryo-crd: the Cryo CRD executable. It only wires the modules together:
//   serve            the CDS Hooks server
//   evaluate FILE    the same evaluation offline (--explain for a criteria table)
//   policies check   validate policy and mapping files
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "cds/catalog.h"
#include "cds/coverage_service.h"
#include "cds/http_server.h"
#include "cds/response_writer.h"
#include "mappings/mapping_set.h"
#include "policies/policy_library.h"

namespace {

namespace fs = std::filesystem;
using namespace cryo;

constexpr const char* kUsage = R"(usage:
  cryo-crd serve [--bind ADDR] [--port N] [--policies DIR] [--mappings DIR] [--base-url URL]
                 [--threads N] [--max-body BYTES]
  cryo-crd evaluate REQUEST.json [--explain] [--policies DIR] [--mappings DIR]
  cryo-crd policies check [DIR] [--mappings DIR]
)";

// Bundled data: next to the sources this binary was built from, unless told otherwise.
fs::path default_data(const char* sub) {
  if (const char* env = std::getenv("CRYO_CRD_HOME")) return fs::path(env) / sub;
  return fs::path(CRYO_SOURCE_DIR) / sub;
}

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // --name value
  std::vector<std::string> flags;                            // --name

  std::optional<std::string> get(std::string_view name) const {
    for (auto it = options.rbegin(); it != options.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    return std::nullopt;
  }
  bool has(std::string_view name) const {
    for (const auto& f : flags) {
      if (f == name) return true;
    }
    return false;
  }
};

Result<Args> parse_args(int argc, char** argv, int first, std::initializer_list<std::string_view> flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      a.positional.push_back(arg);
      continue;
    }
    bool is_flag = false;
    for (auto f : flags) is_flag |= (arg == f);
    if (is_flag) {
      a.flags.push_back(arg);
      continue;
    }
    if (auto eq = arg.find('='); eq != std::string::npos) {
      a.options.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
      continue;
    }
    if (i + 1 >= argc) return Error{arg, "needs a value"};
    a.options.emplace_back(arg, argv[++i]);
  }
  return a;
}

struct Data {
  mappings::MappingSet mappings;
  policies::PolicyLibrary library;
};

Result<std::unique_ptr<Data>> load_data(const Args& args) {
  fs::path mappings_dir = args.get("--mappings").value_or(default_data("mappings/data").string());
  fs::path policies_dir = args.get("--policies").value_or(default_data("policies/data").string());
  auto m = mappings::MappingSet::load(mappings_dir);
  if (!m) return m.error();
  auto data = std::make_unique<Data>();
  data->mappings = std::move(*m);
  auto lib = policies::PolicyLibrary::load(policies_dir, data->mappings);
  if (!lib) return lib.error();
  data->library = std::move(*lib);
  return data;
}

std::optional<int> parse_int(const std::optional<std::string>& s, const char* name, int fallback, bool& ok) {
  if (!s) return fallback;
  try {
    size_t used = 0;
    int v = std::stoi(*s, &used);
    if (used != s->size()) throw std::invalid_argument(*s);
    return v;
  } catch (const std::exception&) {
    std::cerr << "cryo-crd: " << name << ": '" << *s << "' is not a number\n";
    ok = false;
    return std::nullopt;
  }
}

cryo::cds::HttpServer* g_server = nullptr;
void on_signal(int) {
  if (g_server) g_server->stop();
}

int serve(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {});
  if (!args) {
    std::cerr << "cryo-crd serve: " << args.error().to_string() << "\n" << kUsage;
    return 2;
  }
  auto data = load_data(*args);
  if (!data) {
    std::cerr << "cryo-crd: refusing to start: " << data.error().to_string() << "\n";
    return 1;
  }
  bool ok = true;
  cds::ServerOptions server_options;
  server_options.bind = args->get("--bind").value_or("127.0.0.1");
  server_options.port = parse_int(args->get("--port"), "--port", 8080, ok).value_or(0);
  server_options.threads = static_cast<size_t>(parse_int(args->get("--threads"), "--threads", 8, ok).value_or(1));
  server_options.max_body_bytes =
      static_cast<size_t>(parse_int(args->get("--max-body"), "--max-body", 5 * 1024 * 1024, ok).value_or(0));
  if (!ok) return 2;
  cds::ServiceOptions service_options;
  service_options.base_url = args->get("--base-url").value_or(
      "http://" + server_options.bind + ":" + std::to_string(server_options.port));
  service_options.limits.max_bytes = server_options.max_body_bytes;

  cds::CoverageService service((*data)->mappings, (*data)->library, service_options);
  cds::HttpServer server(service, server_options);
  if (auto s = server.bind(); !s) {
    std::cerr << "cryo-crd: " << s.error().to_string() << "\n";
    return 1;
  }
  g_server = &server;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  log::info("cryo-crd serving", {{"bind", server_options.bind}, {"port", std::to_string(server.bound_port())},
                                 {"base_url", service_options.base_url},
                                 {"policies", std::to_string((*data)->library.summaries().size())}});
  server.serve();
  g_server = nullptr;
  log::info("cryo-crd stopped");
  return 0;
}

int evaluate(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--explain"});
  if (!args || args->positional.size() != 1) {
    std::cerr << kUsage;
    return 2;
  }
  std::ifstream in(args->positional[0], std::ios::binary);
  if (!in) {
    std::cerr << "cryo-crd evaluate: cannot read " << args->positional[0] << "\n";
    return 2;
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto data = load_data(*args);
  if (!data) {
    std::cerr << "cryo-crd: " << data.error().to_string() << "\n";
    return 1;
  }
  cds::CoverageService service((*data)->mappings, (*data)->library, {});
  fhir::JsonDocument doc;
  if (auto err = fhir::parse_in_place(body, doc, service.options().limits)) {
    std::cerr << "cryo-crd evaluate: " << err->message << "\n";
    return 1;
  }
  std::string_view hook = fhir::string_or_empty(fhir::member(doc, "hook"));
  const cds::ServiceDefinition* definition = nullptr;
  for (const auto& s : cds::services()) {
    if (s.hook == hook) definition = &s;
  }
  if (definition == nullptr) {
    std::cerr << "cryo-crd evaluate: no service answers hook '" << hook << "'\n";
    return 1;
  }
  cds::HookOutcome out = service.call(*definition, doc, std::chrono::system_clock::now());
  if (args->has("--explain") && out.status == 200) {
    std::cout << cds::explain_text(out.orders);
  } else {
    std::cout << out.body << "\n";
  }
  if (out.status != 200) {
    std::cerr << "cryo-crd evaluate: HTTP " << out.status << ": " << out.error << "\n";
    return 1;
  }
  return 0;
}

int policies_check(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, {});
  if (!args || args->positional.size() > 1) {
    std::cerr << kUsage;
    return 2;
  }
  if (!args->positional.empty()) args->options.emplace_back("--policies", args->positional[0]);
  auto data = load_data(*args);
  if (!data) {
    std::cerr << data.error().to_string() << "\n";
    return 1;
  }
  for (const auto& p : (*data)->library.summaries()) {
    std::cout << "ok  " << p.id << "  (" << p.document << ", revision " << p.revision << "; payers";
    for (const auto& payer : p.payer_ids) std::cout << " " << payer;
    std::cout << "; codes";
    for (const auto& c : p.billing_codes) std::cout << " " << c;
    std::cout << ")\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "serve") return serve(argc, argv);
  if (command == "evaluate") return evaluate(argc, argv);
  if (command == "policies" && argc > 2 && std::string(argv[2]) == "check") return policies_check(argc, argv);
  std::cerr << kUsage;
  return command.empty() || command == "--help" || command == "help" ? 0 : 2;
}
