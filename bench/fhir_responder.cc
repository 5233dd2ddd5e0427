// A FHIR server for the missing-prefetch row of bench/side_by_side.sh whose own work is
// negligible: it holds one patient's record in memory and answers every request after a fixed
// delay, from as many threads as requests arrive at once, so that the row measures what the
// service adds to one round trip and not the FHIR server's search time. (tests/fhir-server,
// Medplum's router in one Node.js process, spends a few milliseconds of CPU per search; eight
// searches at once on two cores then take about 1.25 round trips from any client.)
//
//   bench_fhir_responder --load RECORD.json [--delay-ms 20] [--port 0] [--base /fhir]
//                        [--threads 32]
//
// RECORD.json: a Bundle of the record's resources (or one resource). Answers, after the delay:
//   GET {base}/{Type}/{id}   the resource, or 404 with an OperationOutcome;
//   GET {base}/{Type}?...    a searchset Bundle of every resource of that type in the record
//                            (search parameters are not evaluated: the record is one patient's),
//                            plus, for _include=Coverage:payor, the payor Organizations it
//                            holds (search.mode include);
//   anything else            404 with an OperationOutcome (a GET outside {base} or of a
//                            resource the record lacks; any other method).
// Prints "PORT=<n>" on stdout once it accepts connections, then serves until SIGINT/SIGTERM.
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_server.h"
#include "cds/operation_outcome.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: bench_fhir_responder --load RECORD.json [--delay-ms N] [--port N] "
               "[--base /fhir] [--threads N]\n");
  return 2;
}

std::string text_of(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return {b.GetString(), b.GetSize()};
}

// The record, by type and by "Type/id", as the JSON text each answer is built from.
struct Record {
  std::map<std::string, std::vector<std::string>> ids_by_type;
  std::map<std::string, std::string> text_by_ref;        // "Type/id" -> resource JSON
  std::map<std::string, std::string> payor_by_coverage;  // "Coverage/id" -> "Organization/id"
};

void add_resource(const rapidjson::Value& r, Record& out) {
  if (!r.IsObject() || !r.HasMember("resourceType") || !r["resourceType"].IsString()) return;
  std::string type = r["resourceType"].GetString();
  if (type == "Bundle" && r.HasMember("entry") && r["entry"].IsArray()) {
    for (const auto& e : r["entry"].GetArray()) {
      if (e.IsObject() && e.HasMember("resource")) add_resource(e["resource"], out);
    }
    return;
  }
  if (!r.HasMember("id") || !r["id"].IsString()) return;
  std::string ref = type + "/" + r["id"].GetString();
  out.ids_by_type[type].push_back(ref);
  out.text_by_ref[ref] = text_of(r);
  if (type == "Coverage" && r.HasMember("payor") && r["payor"].IsArray()) {
    for (const auto& p : r["payor"].GetArray()) {
      if (p.IsObject() && p.HasMember("reference") && p["reference"].IsString()) {
        out.payor_by_coverage[ref] = p["reference"].GetString();
      }
    }
  }
}

std::string searchset(const Record& record, const std::string& type, bool include_payor,
                      const std::string& base_url) {
  std::string out = R"({"resourceType":"Bundle","type":"searchset","total":)";
  auto it = record.ids_by_type.find(type);
  const std::vector<std::string> none;
  const std::vector<std::string>& refs = it == record.ids_by_type.end() ? none : it->second;
  out += std::to_string(refs.size()) + R"(,"entry":[)";
  bool first = true;
  auto add = [&](const std::string& ref, const char* mode) {
    auto text = record.text_by_ref.find(ref);
    if (text == record.text_by_ref.end()) return;
    if (!first) out += ",";
    first = false;
    out += R"({"fullUrl":")" + base_url + "/" + ref + R"(","resource":)" + text->second +
           R"(,"search":{"mode":")" + mode + R"("}})";
  };
  for (const std::string& ref : refs) add(ref, "match");
  if (include_payor) {
    for (const std::string& ref : refs) {
      if (auto p = record.payor_by_coverage.find(ref); p != record.payor_by_coverage.end()) {
        add(p->second, "include");
      }
    }
  }
  out += "]}";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int delay_ms = 20;
  int threads = 32;
  std::string base = "/fhir";
  std::string load;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--port") {
      port = std::atoi(argv[++i]);
    } else if (a == "--delay-ms") {
      delay_ms = std::atoi(argv[++i]);
    } else if (a == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (a == "--base") {
      base = argv[++i];
    } else if (a == "--load") {
      load = argv[++i];
    } else {
      return usage();
    }
  }
  if (load.empty() || threads < 1 || delay_ms < 0) return usage();

  std::ifstream in(load, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string json = buffer.str();
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (!in || doc.HasParseError()) {
    std::fprintf(stderr, "bench_fhir_responder: %s is not a JSON file\n", load.c_str());
    return 1;
  }
  Record record;
  add_resource(doc, record);

  httplib::Server server;
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  server.set_keep_alive_max_count(1000);
  server.set_tcp_nodelay(true);
  server.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const std::string content_type = "application/fhir+json";
    if (req.path.rfind(base + "/", 0) != 0) {
      res.status = 404;
      res.set_content(cryo::cds::operation_outcome("not-found", "no FHIR endpoint at this path"),
                      content_type);
      return;
    }
    std::string rel = req.path.substr(base.size() + 1);
    std::size_t slash = rel.find('/');
    if (slash == std::string::npos) {
      const std::string host = req.get_header_value("Host");
      bool payor = false;
      for (auto [it, end] = req.params.equal_range("_include"); it != end; ++it) {
        payor |= it->second == "Coverage:payor";
      }
      res.set_content(searchset(record, rel, payor, "http://" + host + base), content_type);
      return;
    }
    auto text = record.text_by_ref.find(rel);
    if (text == record.text_by_ref.end() || rel.find('/', slash + 1) != std::string::npos) {
      res.status = 404;
      res.set_content(cryo::cds::operation_outcome("not-found", "no such resource in the record"),
                      content_type);
      return;
    }
    res.set_content(text->second, content_type);
  });

  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(cryo::cds::operation_outcome("not-supported", "not a FHIR read or search"),
                      "application/fhir+json");
    }
  });

  return bench::serve(server, "127.0.0.1", port, "bench_fhir_responder");
}
