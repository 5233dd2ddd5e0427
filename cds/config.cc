#include "cds/config.h"

#include <optional>
#include <utility>

#include "base/json_file.h"
#include "base/log.h"

namespace cryo::cds {
namespace {

using json::Object;

// Each setting of a section: its key and where it goes.
struct IntSetting {
  std::string_view key;
  int ServerConfig::*field;
  int min, max;
};

Status read_ints(const Object& section, ServerConfig& c, std::initializer_list<IntSetting> ints) {
  for (const IntSetting& s : ints) {
    if (Status st = json::into(section.optional_int(s.key, c.*s.field, s.min, s.max), c.*s.field);
        !st) {
      return st;
    }
  }
  return Status::Ok();
}

struct StringSetting {
  std::string_view key;
  std::string ServerConfig::*field;
};

Status read_strings(const Object& section, ServerConfig& c,
                    std::initializer_list<StringSetting> strings) {
  for (const StringSetting& s : strings) {
    if (Status st = json::into(section.optional_string(s.key, c.*s.field), c.*s.field); !st) {
      return st;
    }
  }
  return Status::Ok();
}

Status read_server(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"bind",
                             "port",
                             "base_url",
                             "threads",
                             "max_body_bytes",
                             "read_timeout_seconds",
                             "write_timeout_seconds",
                             "policies_dir",
                             "mappings_dir",
                             "io_threads",
                             "max_header_bytes",
                             "max_body_memory_bytes",
                             "header_timeout_seconds",
                             "keep_alive_seconds",
                             "max_connections",
                             "retry_after_seconds",
                             "drain_timeout_seconds",
                             "max_draft_orders",
                             "max_resources",
                             "max_references"});
  if (!s) return s.error();
  if (Status st = read_strings(*s, c,
                               {{"bind", &ServerConfig::bind},
                                {"base_url", &ServerConfig::base_url},
                                {"policies_dir", &ServerConfig::policies_dir},
                                {"mappings_dir", &ServerConfig::mappings_dir}});
      !st) {
    return st;
  }
  return read_ints(*s, c,
                   {{"port", &ServerConfig::port, 0, 65535},
                    {"threads", &ServerConfig::threads, 0, 1024},
                    {"max_body_bytes", &ServerConfig::max_body_bytes, 1024, 256 * 1024 * 1024},
                    {"read_timeout_seconds", &ServerConfig::read_timeout_seconds, 1, 600},
                    {"write_timeout_seconds", &ServerConfig::write_timeout_seconds, 1, 600},
                    {"io_threads", &ServerConfig::io_threads, 1, 64},
                    {"max_header_bytes", &ServerConfig::max_header_bytes, 8 * 1024, 1024 * 1024},
                    {"max_body_memory_bytes", &ServerConfig::max_body_memory_bytes, 1024 * 1024,
                     1024 * 1024 * 1024},
                    {"header_timeout_seconds", &ServerConfig::header_timeout_seconds, 1, 600},
                    {"keep_alive_seconds", &ServerConfig::keep_alive_seconds, 1, 3600},
                    {"max_connections", &ServerConfig::max_connections, 1, 1000000},
                    {"retry_after_seconds", &ServerConfig::retry_after_seconds, 1, 3600},
                    {"drain_timeout_seconds", &ServerConfig::drain_timeout_seconds, 1, 600},
                    {"max_draft_orders", &ServerConfig::max_draft_orders, 1, 100000},
                    {"max_resources", &ServerConfig::max_resources, 1, 1000000},
                    {"max_references", &ServerConfig::max_references, 1, 1000000}});
}

Status read_tls(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"cert_file", "key_file"});
  if (!s) return s.error();
  return read_strings(
      *s, c,
      {{"cert_file", &ServerConfig::tls_cert_file}, {"key_file", &ServerConfig::tls_key_file}});
}

Status read_store(const json::Node& node, ServerConfig& c) {
  auto s =
      Object::of(node, {"data_dir", "database_url", "retention_days", "deadline_ms", "enabled"});
  if (!s) return s.error();
  if (Status st = read_strings(
          *s, c,
          {{"data_dir", &ServerConfig::data_dir}, {"database_url", &ServerConfig::database_url}});
      !st) {
    return st;
  }
  if (Status st = read_ints(*s, c,
                            {{"retention_days", &ServerConfig::retention_days, 0, 36500},
                             {"deadline_ms", &ServerConfig::store_deadline_ms, 100, 10000}});
      !st) {
    return st;
  }
  return json::into(s->optional_bool("enabled", c.store_enabled), c.store_enabled);
}

Status read_admin(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"token_sha256"});
  if (!s) return s.error();
  return read_strings(*s, c, {{"token_sha256", &ServerConfig::admin_token_sha256}});
}

Status read_fhir(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node,
                      {"query_missing_data", "request_timeout_ms", "total_budget_ms", "max_pages"});
  if (!s) return s.error();
  if (Status st = json::into(s->optional_bool("query_missing_data", c.query_missing_data),
                             c.query_missing_data);
      !st) {
    return st;
  }
  return read_ints(*s, c,
                   {{"request_timeout_ms", &ServerConfig::fhir_request_timeout_ms, 50, 60000},
                    {"total_budget_ms", &ServerConfig::fhir_total_budget_ms, 50, 60000},
                    {"max_pages", &ServerConfig::fhir_max_pages, 1, 1000}});
}

Status read_cache(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"ttl_seconds", "max_entries", "max_bytes"});
  if (!s) return s.error();
  return read_ints(*s, c,
                   {{"ttl_seconds", &ServerConfig::cache_ttl_seconds, 0, 3600},
                    {"max_entries", &ServerConfig::cache_max_entries, 1, 1000000},
                    {"max_bytes", &ServerConfig::cache_max_bytes, 1024, 1024 * 1024 * 1024}});
}

Status read_demo(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"enabled"});
  if (!s) return s.error();
  if (!s->has("enabled")) return Status::Ok();
  auto enabled = s->optional_bool("enabled", false);
  if (!enabled) return enabled.error();
  c.demo_enabled = *enabled;
  return Status::Ok();
}

Status read_dtr(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"launch_url"});
  if (!s) return s.error();
  return read_strings(*s, c, {{"launch_url", &ServerConfig::dtr_launch_url}});
}

Status check_log(const ServerConfig& c, const std::string& where_level,
                 const std::string& where_format) {
  if (!log::parse_level(c.log_level))
    return Error{where_level, "must be one of debug, info, warn, error"};
  if (!log::parse_format(c.log_format)) return Error{where_format, "must be text or json"};
  return {};
}

Status read_log(const json::Node& node, ServerConfig& c) {
  auto s = Object::of(node, {"level", "format"});
  if (!s) return s.error();
  if (Status st = read_strings(
          *s, c, {{"level", &ServerConfig::log_level}, {"format", &ServerConfig::log_format}});
      !st) {
    return st;
  }
  return check_log(c, "log.level", "log.format");
}

// What is wrong with the settings taken together; where = the setting's path.
Status validate(const ServerConfig& c) {
  if (!c.base_url.empty() && c.base_url.rfind("http://", 0) != 0 &&
      c.base_url.rfind("https://", 0) != 0) {
    return Error{"server.base_url", "must be an absolute http:// or https:// URL"};
  }
  if (!c.dtr_launch_url.empty() && c.dtr_launch_url.rfind("https://", 0) != 0 &&
      c.dtr_launch_url.rfind("http://", 0) != 0) {
    return Error{"dtr.launch_url", "must be an absolute http:// or https:// URL"};
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return Error{"tls", "needs both cert_file and key_file"};
  }
  if (!c.database_url.empty() && c.database_url.rfind("postgresql://", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0) {
    return Error{"store.database_url", "must be a postgresql:// URL"};
  }
  if (!c.admin_token_sha256.empty()) {
    bool hex = c.admin_token_sha256.size() == 64;
    for (char ch : c.admin_token_sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
    if (!hex)
      return Error{"admin.token_sha256", "must be 64 hexadecimal characters (a SHA-256 digest)"};
  }
  return {};
}

// A path from a configuration file: relative to the file's directory.
void resolve(std::string& path, const std::filesystem::path& base) {
  if (path.empty()) return;
  std::filesystem::path p(path);
  if (p.is_relative()) path = (base / p).lexically_normal().string();
}

// A path from the command line: relative to the working directory.
std::string from_working_directory(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// The sections of a configuration file, in the order they are read.
Status read_sections(const Object& root, const std::filesystem::path& base, ServerConfig& c) {
  using Reader = Status (*)(const json::Node&, ServerConfig&);
  const std::pair<std::string_view, Reader> sections[] = {
      {"server", read_server}, {"tls", read_tls},   {"store", read_store},
      {"admin", read_admin},   {"fhir", read_fhir}, {"cache", read_cache},
      {"demo", read_demo},     {"dtr", read_dtr},   {"log", read_log}};
  for (const auto& [name, read] : sections) {
    if (std::optional<json::Node> node = root.get(name)) {
      if (Status s = read(*node, c); !s) return s;
    }
  }
  if (std::optional<json::Node> node = root.get("store"); node && (*node)->HasMember("data_dir")) {
    resolve(c.data_dir, base);
  }
  if (std::optional<json::Node> node = root.get("trust")) {
    if (Status s = json::into(security::parse_trust_config(*node, base), c.trust); !s) return s;
  }
  if (std::optional<json::Node> node = root.get("cors")) {
    if (Status s = json::into(security::parse_cors_config(*node), c.cors); !s) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<ServerConfig> load_config(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::absolute(path, ec).parent_path();
  Result<json::File> file = json::File::read(path);
  if (!file) return file.error();
  ServerConfig c;
  auto root = Object::of(file->root(), {"server", "tls", "trust", "cors", "store", "admin", "fhir",
                                        "cache", "demo", "dtr", "log"});
  if (!root) return file->locate(root.error());
  if (Status s = read_sections(*root, base, c); !s) return file->locate(s.error());
  for (std::string* p : {&c.policies_dir, &c.mappings_dir, &c.tls_cert_file, &c.tls_key_file}) {
    resolve(*p, base);
  }
  if (Status s = validate(c); !s) return file->locate(s.error());
  return c;
}

Status apply_overrides(ServerConfig& c,
                       const std::vector<std::pair<std::string, std::string>>& options) {
  for (const auto& option : options) {
    // (clang 14 cannot capture structured bindings in a lambda)
    const std::string& name = option.first;
    const std::string& value = option.second;
    auto number = [&](int& out, int min, int max) -> Status {
      try {
        size_t used = 0;
        int v = std::stoi(value, &used);
        if (used != value.size() || v < min || v > max) throw std::out_of_range(value);
        out = v;
        return {};
      } catch (const std::exception&) {
        return Error{
            name, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max)};
      }
    };
    Status s;
    if (name == "--bind")
      c.bind = value;
    else if (name == "--port")
      s = number(c.port, 0, 65535);
    else if (name == "--base-url")
      c.base_url = value;
    else if (name == "--policies")
      c.policies_dir = from_working_directory(value);
    else if (name == "--mappings")
      c.mappings_dir = from_working_directory(value);
    else if (name == "--threads")
      s = number(c.threads, 0, 1024);
    else if (name == "--max-body")
      s = number(c.max_body_bytes, 1024, 256 * 1024 * 1024);
    else if (name == "--tls-cert")
      c.tls_cert_file = from_working_directory(value);
    else if (name == "--tls-key")
      c.tls_key_file = from_working_directory(value);
    else if (name == "--data")
      c.data_dir = from_working_directory(value);
    else if (name == "--db")
      c.database_url = value;
    else if (name == "--retention-days")
      s = number(c.retention_days, 0, 36500);
    else if (name == "--log-level") {
      c.log_level = value;
      s = check_log(c, "--log-level", "--log-format");
    } else if (name == "--log-format") {
      c.log_format = value;
      s = check_log(c, "--log-level", "--log-format");
    } else if (name == "--config")
      continue;
    else
      return Error{name, "is not an option of serve"};
    if (!s) return s;
  }
  if (Status s = validate(c); !s)
    return Error{"command line: " + s.error().where, s.error().message};
  return Status::Ok();
}

std::string effective_base_url(const ServerConfig& c, int bound_port) {
  if (!c.base_url.empty()) {
    std::string url = c.base_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  std::string host = c.bind == "0.0.0.0" || c.bind == "::" ? "127.0.0.1" : c.bind;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(c.tls_cert_file.empty() ? "http" : "https") + "://" + host + ":" +
         std::to_string(bound_port);
}

}  // namespace cryo::cds
