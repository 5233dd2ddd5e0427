#include "cds/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "base/log.h"

namespace cryo::cds {
namespace {

using rapidjson::Value;

class Section {
 public:
  Section(const Value& object, std::string source, std::string path)
      : object_(object), source_(std::move(source)), path_(std::move(path)) {}

  Error error(std::string_view field, std::string message) const {
    return Error{source_ + ": " + path_ + (field.empty() ? "" : "." + std::string(field)),
                 std::move(message)};
  }

  Status check_keys(std::initializer_list<std::string_view> known) const {
    if (!object_.IsObject()) return error("", "must be an object");
    std::set<std::string_view> allowed(known);
    for (auto it = object_.MemberBegin(); it != object_.MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (!allowed.contains(name)) return error(name, "is not a known setting");
    }
    return {};
  }

  Status string(std::string_view name, std::string& out) const {
    auto it = object_.FindMember(
        Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
    if (it == object_.MemberEnd()) return {};
    if (!it->value.IsString()) return error(name, "must be a string");
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return {};
  }

  Status integer(std::string_view name, int& out, int min, int max) const {
    auto it = object_.FindMember(
        Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
    if (it == object_.MemberEnd()) return {};
    if (!it->value.IsInt() || it->value.GetInt() < min || it->value.GetInt() > max) {
      return error(name,
                   "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    out = it->value.GetInt();
    return {};
  }

  Status boolean(std::string_view name, bool& out) const {
    auto it = object_.FindMember(
        Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
    if (it == object_.MemberEnd()) return {};
    if (!it->value.IsBool()) return error(name, "must be true or false");
    out = it->value.GetBool();
    return {};
  }

 private:
  const Value& object_;
  std::string source_;
  std::string path_;
};

#define CRYO_TRY(expr)                              \
  do {                                              \
    if (Status s_ = (expr); !s_) return s_.error(); \
  } while (0)

Status validate(const ServerConfig& c, const std::string& source) {
  if (!c.base_url.empty() && c.base_url.rfind("http://", 0) != 0 &&
      c.base_url.rfind("https://", 0) != 0) {
    return Error{source + ": server.base_url", "must be an absolute http:// or https:// URL"};
  }
  if (!c.dtr_launch_url.empty() && c.dtr_launch_url.rfind("https://", 0) != 0 &&
      c.dtr_launch_url.rfind("http://", 0) != 0) {
    return Error{source + ": dtr.launch_url", "must be an absolute http:// or https:// URL"};
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return Error{source + ": tls", "needs both cert_file and key_file"};
  }
  if (!c.database_url.empty() && c.database_url.rfind("postgresql://", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0) {
    return Error{source + ": store.database_url", "must be a postgresql:// URL"};
  }
  if (!c.admin_token_sha256.empty()) {
    bool hex = c.admin_token_sha256.size() == 64;
    for (char ch : c.admin_token_sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
    if (!hex)
      return Error{source + ": admin.token_sha256",
                   "must be 64 hexadecimal characters (a SHA-256 digest)"};
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

Status check_log(const ServerConfig& c, const std::string& where_level,
                 const std::string& where_format) {
  if (!log::parse_level(c.log_level))
    return Error{where_level, "must be one of debug, info, warn, error"};
  if (!log::parse_format(c.log_format)) return Error{where_format, "must be text or json"};
  return {};
}

}  // namespace

Result<ServerConfig> load_config(const std::filesystem::path& file) {
  const std::string source = file.string();
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::absolute(file, ec).parent_path();
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{source, "cannot be read"};
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) {
    return Error{source, std::string("is not valid JSON (") +
                             rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
                             std::to_string(doc.GetErrorOffset()) + ")"};
  }
  ServerConfig c;
  Section root(doc, source, "");
  if (!doc.IsObject()) return Error{source, "must be a JSON object"};
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string name(it->name.GetString(), it->name.GetStringLength());
    const Value& v = it->value;
    if (name == "server") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"bind",
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
                             "max_references"}));
      CRYO_TRY(s.string("bind", c.bind));
      CRYO_TRY(s.integer("port", c.port, 0, 65535));
      CRYO_TRY(s.string("base_url", c.base_url));
      CRYO_TRY(s.integer("threads", c.threads, 1, 1024));
      CRYO_TRY(s.integer("max_body_bytes", c.max_body_bytes, 1024, 256 * 1024 * 1024));
      CRYO_TRY(s.integer("read_timeout_seconds", c.read_timeout_seconds, 1, 600));
      CRYO_TRY(s.integer("write_timeout_seconds", c.write_timeout_seconds, 1, 600));
      CRYO_TRY(s.string("policies_dir", c.policies_dir));
      CRYO_TRY(s.string("mappings_dir", c.mappings_dir));
      CRYO_TRY(s.integer("io_threads", c.io_threads, 1, 64));
      CRYO_TRY(s.integer("max_header_bytes", c.max_header_bytes, 8 * 1024, 1024 * 1024));
      CRYO_TRY(s.integer("max_body_memory_bytes", c.max_body_memory_bytes, 1024 * 1024,
                         1024 * 1024 * 1024));
      CRYO_TRY(s.integer("header_timeout_seconds", c.header_timeout_seconds, 1, 600));
      CRYO_TRY(s.integer("keep_alive_seconds", c.keep_alive_seconds, 1, 3600));
      CRYO_TRY(s.integer("max_connections", c.max_connections, 1, 1000000));
      CRYO_TRY(s.integer("retry_after_seconds", c.retry_after_seconds, 1, 3600));
      CRYO_TRY(s.integer("drain_timeout_seconds", c.drain_timeout_seconds, 1, 600));
      CRYO_TRY(s.integer("max_draft_orders", c.max_draft_orders, 1, 100000));
      CRYO_TRY(s.integer("max_resources", c.max_resources, 1, 1000000));
      CRYO_TRY(s.integer("max_references", c.max_references, 1, 1000000));
    } else if (name == "tls") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"cert_file", "key_file"}));
      CRYO_TRY(s.string("cert_file", c.tls_cert_file));
      CRYO_TRY(s.string("key_file", c.tls_key_file));
    } else if (name == "trust") {
      auto trust = security::parse_trust_config(v, source, base);
      if (!trust) return trust.error();
      c.trust = std::move(*trust);
    } else if (name == "cors") {
      auto cors = security::parse_cors_config(v, source);
      if (!cors) return cors.error();
      c.cors = std::move(*cors);
    } else if (name == "store") {
      Section s(v, source, name);
      CRYO_TRY(
          s.check_keys({"data_dir", "database_url", "retention_days", "deadline_ms", "enabled"}));
      CRYO_TRY(s.string("data_dir", c.data_dir));
      if (v.IsObject() && v.HasMember("data_dir")) resolve(c.data_dir, base);
      CRYO_TRY(s.string("database_url", c.database_url));
      CRYO_TRY(s.integer("retention_days", c.retention_days, 0, 36500));
      CRYO_TRY(s.integer("deadline_ms", c.store_deadline_ms, 100, 10000));
      CRYO_TRY(s.boolean("enabled", c.store_enabled));
    } else if (name == "admin") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"token_sha256"}));
      CRYO_TRY(s.string("token_sha256", c.admin_token_sha256));
    } else if (name == "fhir") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys(
          {"query_missing_data", "request_timeout_ms", "total_budget_ms", "max_pages"}));
      CRYO_TRY(s.boolean("query_missing_data", c.query_missing_data));
      CRYO_TRY(s.integer("request_timeout_ms", c.fhir_request_timeout_ms, 50, 60000));
      CRYO_TRY(s.integer("total_budget_ms", c.fhir_total_budget_ms, 50, 60000));
      CRYO_TRY(s.integer("max_pages", c.fhir_max_pages, 1, 1000));
    } else if (name == "cache") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"ttl_seconds", "max_entries", "max_bytes"}));
      CRYO_TRY(s.integer("ttl_seconds", c.cache_ttl_seconds, 0, 3600));
      CRYO_TRY(s.integer("max_entries", c.cache_max_entries, 1, 1000000));
      CRYO_TRY(s.integer("max_bytes", c.cache_max_bytes, 1024, 1024 * 1024 * 1024));
    } else if (name == "demo") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"enabled"}));
      bool enabled = false;
      CRYO_TRY(s.boolean("enabled", enabled));
      if (v.HasMember("enabled")) c.demo_enabled = enabled;
    } else if (name == "dtr") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"launch_url"}));
      CRYO_TRY(s.string("launch_url", c.dtr_launch_url));
    } else if (name == "log") {
      Section s(v, source, name);
      CRYO_TRY(s.check_keys({"level", "format"}));
      CRYO_TRY(s.string("level", c.log_level));
      CRYO_TRY(s.string("format", c.log_format));
      CRYO_TRY(check_log(c, source + ": log.level", source + ": log.format"));
    } else {
      return Error{source + ": " + name,
                   "is not a known section (server, tls, trust, cors, store, admin, fhir, cache, "
                   "demo, dtr, log)"};
    }
  }
  (void)root;
  for (std::string* path : {&c.policies_dir, &c.mappings_dir, &c.tls_cert_file, &c.tls_key_file}) {
    resolve(*path, base);
  }
  if (auto s = validate(c, source); !s) return s.error();
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
      s = number(c.threads, 1, 1024);
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
  return validate(c, "command line");
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
