// Text into JSON through a RapidJSON writer (Writer or PrettyWriter): strings and object
// members given as std::string_view, escaped by the writer. The one place every module that
// writes JSON with RapidJSON passes a string's length.
//
//   rapidjson::StringBuffer buf;
//   rapidjson::Writer<rapidjson::StringBuffer> w(buf);
//   w.StartObject();
//   write_json_member(w, "code", "not-found");   // "code":"not-found"
//   write_json_key(w, "issues");
//   w.StartArray();
//   write_json_string(w, text);                  // any text, quotes and controls escaped
//
// Thread safety: as the writer.
#pragma once

#include <rapidjson/rapidjson.h>

#include <string_view>

namespace cryo {

// `s` as a JSON string value.
template <class Writer>
void write_json_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// `key` as an object member's name.
template <class Writer>
void write_json_key(Writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

// "key":"value".
template <class Writer>
void write_json_member(Writer& w, std::string_view key, std::string_view value) {
  write_json_key(w, key);
  write_json_string(w, value);
}

}  // namespace cryo
