#include "cds/demo_routes.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cds/operation_outcome.h"

namespace cryo::cds {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;

struct Asset {
  std::string content_type;
  std::string body;
};

struct DemoData {
  std::map<std::string, Asset> files;            // "index.html", "app.js", ...
  std::map<std::string, std::string> scenarios;  // name -> file text
  std::string scenario_list;                     // JSON
};

Result<std::string> read_file(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) return Error{p.string(), "cannot be read: " + ec.message()};
  if (size > kMaxFileBytes) return Error{p.string(), "is larger than 4 MiB"};
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error{p.string(), "cannot be read"};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string content_type_of(const fs::path& p) {
  auto ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  return "";
}

bool safe_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  }) && name.find("..") == std::string_view::npos;
}

Result<std::shared_ptr<DemoData>> load(const fs::path& demo_dir, const fs::path& scenarios_dir) {
  auto data = std::make_shared<DemoData>();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(demo_dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string type = content_type_of(entry.path());
    std::string name = entry.path().filename().string();
    if (type.empty() || !safe_name(name)) continue;
    auto body = read_file(entry.path());
    if (!body) return body.error();
    data->files[name] = {type, std::move(*body)};
  }
  if (ec) return Error{demo_dir.string(), "cannot be read: " + ec.message()};
  if (!data->files.contains("index.html")) return Error{demo_dir.string(), "has no index.html"};

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(scenarios_dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json")
      files.push_back(entry.path());
  }
  if (ec) return Error{scenarios_dir.string(), "cannot be read: " + ec.message()};
  std::sort(files.begin(), files.end());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto& f : files) {
    auto body = read_file(f);
    if (!body) return body.error();
    rapidjson::Document doc;
    doc.Parse(body->data(), body->size());
    if (doc.HasParseError() || !doc.IsObject()) return Error{f.string(), "is not a JSON object"};
    std::string name = f.stem().string();
    if (!safe_name(name)) continue;
    w.StartObject();
    w.Key("name");
    w.String(name.c_str());
    for (const char* key : {"description", "hook"}) {
      if (auto it = doc.FindMember(key); it != doc.MemberEnd() && it->value.IsString()) {
        w.Key(key);
        w.String(it->value.GetString(), it->value.GetStringLength());
      }
    }
    if (auto it = doc.FindMember("expected"); it != doc.MemberEnd()) {
      w.Key("expected");
      it->value.Accept(w);
    }
    w.EndObject();
    data->scenarios[name] = std::move(*body);
  }
  w.EndArray();
  data->scenario_list.assign(buffer.GetString(), buffer.GetSize());
  return data;
}

HttpServer::Reply not_found(std::string_view what) {
  return {404, "application/fhir+json",
          operation_outcome("not-found", "no demo resource '" + std::string(what) + "'")};
}

}  // namespace

Status add_demo_routes(HttpServer& server, const fs::path& demo_dir,
                       const fs::path& scenarios_dir) {
  auto loaded = load(demo_dir, scenarios_dir);
  if (!loaded) return loaded.error();
  std::shared_ptr<const DemoData> data = std::move(*loaded);
  server.add_get("/demo",
                 [data](const std::string&, const std::map<std::string, std::string>&,
                        std::string_view, std::string_view) -> HttpServer::Reply {
                   const Asset& page = data->files.at("index.html");
                   return {200, page.content_type, page.body};
                 });
  server.add_get("/demo/scenarios",
                 [data](const std::string&, const std::map<std::string, std::string>&,
                        std::string_view, std::string_view) -> HttpServer::Reply {
                   return {200, "application/json", data->scenario_list};
                 });
  server.add_get(R"(/demo/scenarios/([A-Za-z0-9._-]+))",
                 [data](const std::string& path, const std::map<std::string, std::string>&,
                        std::string_view, std::string_view) -> HttpServer::Reply {
                   std::string name = path.substr(path.rfind('/') + 1);
                   auto it = data->scenarios.find(name);
                   if (it == data->scenarios.end()) return not_found(name);
                   return {200, "application/json", it->second};
                 });
  server.add_get(R"(/demo/([A-Za-z0-9_-]+\.[a-z]+))",
                 [data](const std::string& path, const std::map<std::string, std::string>&,
                        std::string_view, std::string_view) -> HttpServer::Reply {
                   std::string name = path.substr(path.rfind('/') + 1);
                   auto it = data->files.find(name);
                   if (it == data->files.end()) return not_found(name);
                   return {200, it->second.content_type, it->second.body};
                 });
  return {};
}

}  // namespace cryo::cds
