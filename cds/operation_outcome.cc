#include "cds/operation_outcome.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/json_writer.h"

namespace cryo::cds {

std::string operation_outcome(std::string_view code, std::string_view diagnostics) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("resourceType");
  w.String("OperationOutcome");
  w.Key("issue");
  w.StartArray();
  w.StartObject();
  w.Key("severity");
  w.String("error");
  w.Key("code");
  write_json_string(w, code);
  w.Key("diagnostics");
  write_json_string(w, diagnostics);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string_view issue_code_for_status(int status) {
  switch (status) {
    case 400:
      return "invalid";
    case 401:
      return "login";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 405:
      return "not-supported";
    case 408:
      return "timeout";
    case 412:
      return "incomplete";
    case 413:
      return "too-long";
    case 415:
      return "not-supported";
    case 429:
      return "throttled";
    default:
      return status >= 500 ? "exception" : "processing";
  }
}

}  // namespace cryo::cds
