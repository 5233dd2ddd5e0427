#include "base/json_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace cryo::json {

std::string join_path(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string in_quotes(std::string_view text) {
  return "'" + std::string(text) + "'";
}

Error Problem::error() const {
  std::string where = file;
  if (line > 0) where += ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!field.empty()) where += (where.empty() ? "" : ": ") + field;
  return Error{where, message};
}

// ---------------------------------------------------------------------------------------------
// Parsing: RapidJSON's reader drives a handler that builds the document and, on the way,
// records where each value starts, refuses duplicate keys and counts the depth.

class Builder {
 public:
  using Stream = rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>;

  Builder(File& file, const Stream& in, const Limits& limits)
      : file_(file), doc_(file.doc_), in_(in), limits_(limits) {}

  // Set when the handler stopped the parse (duplicate key, too deep).
  const std::optional<Problem>& refusal() const { return refusal_; }

  bool Null() { return value(literal_start()) && doc_.Null(); }
  bool Bool(bool b) { return value(literal_start()) && doc_.Bool(b); }
  bool Int(int i) { return value(literal_start()) && doc_.Int(i); }
  bool Uint(unsigned u) { return value(literal_start()) && doc_.Uint(u); }
  bool Int64(int64_t i) { return value(literal_start()) && doc_.Int64(i); }
  bool Uint64(uint64_t u) { return value(literal_start()) && doc_.Uint64(u); }
  bool Double(double d) { return value(literal_start()) && doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return value(literal_start()) && doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return value(string_start()) && doc_.String(s, n, copy);
  }
  bool StartObject() { return open(true) && doc_.StartObject(); }
  bool StartArray() { return open(false) && doc_.StartArray(); }
  bool EndObject(rapidjson::SizeType n) {
    frames_.pop_back();
    return doc_.EndObject(n);
  }
  bool EndArray(rapidjson::SizeType n) {
    frames_.pop_back();
    return doc_.EndArray(n);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    Frame& f = frames_.back();
    std::string key(s, n);
    size_t at = string_start();
    auto [it, fresh] = f.keys.emplace(key, at);
    member_path_ = join_path(f.path, key);
    if (!fresh) {
      Location first = file_.at_offset(it->second);
      return refuse(at, member_path_,
                    "duplicate key " + in_quotes(key) + " (first given at line " +
                        std::to_string(first.line) + ")");
    }
    file_.offsets_.emplace(member_path_, at);
    return doc_.Key(s, n, copy);
  }

 private:
  struct Frame {
    bool object;
    std::string path;
    size_t elements = 0;
    std::map<std::string, size_t> keys;  // key -> offset (objects)
  };

  // A value starts at `offset`: records it under its path, which becomes `path_`.
  bool value(size_t offset) {
    if (frames_.empty()) {
      path_.clear();
      file_.offsets_.emplace(path_, offset);
    } else if (frames_.back().object) {
      path_ = member_path_;  // located at its key
    } else {
      Frame& f = frames_.back();
      path_ = index_path(f.path, f.elements++);
      file_.offsets_.emplace(path_, offset);
    }
    return true;
  }

  bool open(bool object) {
    // The iterative reader announces an object or array before it takes its '{' or '['.
    size_t at = in_.Tell();
    char bracket = object ? '{' : '[';
    if (at >= file_.text_.size() || file_.text_[at] != bracket) at = at == 0 ? 0 : at - 1;
    value(at);
    if (frames_.size() + 1 > limits_.max_depth) {
      return refuse(at, path_,
                    "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    frames_.push_back(Frame{object, path_, 0, {}});
    return true;
  }

  bool refuse(size_t offset, std::string path, std::string message) {
    Location at = file_.at_offset(offset);
    refusal_ = Problem{file_.name_, at.line, at.column, std::move(path), std::move(message)};
    return false;
  }

  // The reader calls back once a token is read: a string or key ends at its closing quote,
  // the opening one is the first quote before it that no backslash escapes.
  size_t string_start() const {
    const std::string& t = file_.text_;
    size_t i = in_.Tell() - 1;  // the closing quote
    while (i > 0) {
      --i;
      if (t[i] != '"') continue;
      size_t slashes = 0;
      while (i >= slashes + 1 && t[i - slashes - 1] == '\\') ++slashes;
      if (slashes % 2 == 0) return i;
    }
    return 0;
  }
  // A number, true, false or null: back over its characters.
  size_t literal_start() const {
    const std::string& t = file_.text_;
    size_t i = in_.Tell();
    while (i > 0 && t[i - 1] != '\0' && std::strchr("0123456789+-.eEtrufalsn", t[i - 1]) != nullptr)
      --i;
    return i;
  }

  File& file_;
  rapidjson::Document& doc_;
  const Stream& in_;
  const Limits& limits_;
  std::vector<Frame> frames_;
  std::string member_path_;  // path of the member whose key was just read
  std::string path_;         // path of the value just started
  std::optional<Problem> refusal_;
};

namespace {

Result<File> refused(Problem p, Problem* refusal) {
  Error e = p.error();
  if (refusal != nullptr) *refusal = std::move(p);
  return e;
}

}  // namespace

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Result<File> File::read(const std::filesystem::path& path, const Limits& limits, Problem* refusal) {
  std::string name = path.string();
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > limits.max_bytes) {
    return refused(
        Problem{name, 0, 0, "",
                "the file is " + std::to_string(size) + " bytes, more than the limit of " +
                    std::to_string(limits.max_bytes)},
        refusal);
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  if (in) buffer << in.rdbuf();
  if (!in) return refused(Problem{name, 0, 0, "", "cannot read the file"}, refusal);
  return parse(std::move(name), buffer.str(), limits, refusal);
}

Result<File> File::parse(std::string name, std::string text, const Limits& limits,
                         Problem* refusal) {
  File f;
  f.name_ = std::move(name);
  f.text_ = std::move(text);
  f.line_starts_.push_back(0);
  for (size_t i = 0; i < f.text_.size(); ++i) {
    if (f.text_[i] == '\n') f.line_starts_.push_back(i + 1);
  }
  if (f.text_.size() > limits.max_bytes) {
    return refused(
        Problem{f.name_, 0, 0, "",
                "the file is " + std::to_string(f.text_.size()) +
                    " bytes, more than the limit of " + std::to_string(limits.max_bytes)},
        refusal);
  }
  if (size_t nul = f.text_.find('\0'); nul != std::string::npos) {
    Location at = f.at_offset(nul);
    return refused(Problem{f.name_, at.line, at.column, "", "invalid JSON: a NUL character"},
                   refusal);
  }
  rapidjson::MemoryStream bytes(f.text_.data(), f.text_.size());
  Builder::Stream in(bytes);
  Builder builder(f, in, limits);
  rapidjson::Reader reader;
  auto generate = [&](rapidjson::Document&) {
    return !reader.Parse<rapidjson::kParseIterativeFlag>(in, builder).IsError();
  };
  f.doc_.Populate(generate);
  if (reader.HasParseError()) {
    if (builder.refusal()) return refused(*builder.refusal(), refusal);
    Location at = f.at_offset(reader.GetErrorOffset());
    return refused(Problem{f.name_, at.line, at.column, "",
                           std::string("invalid JSON: ") +
                               rapidjson::GetParseError_En(reader.GetParseErrorCode())},
                   refusal);
  }
  return f;
}

Location File::at_offset(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());
  return Location{static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
}

Location File::locate(std::string_view path) const {
  std::string p(path);
  for (;;) {
    if (auto it = offsets_.find(p); it != offsets_.end()) return at_offset(it->second);
    if (p.empty()) return Location{};
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

Problem File::problem(const Error& error) const {
  Location at = locate(error.where);
  return Problem{name_, at.line, at.column, error.where, error.message};
}

Error File::locate(const Error& error) const {
  return problem(error).error();
}

// ---------------------------------------------------------------------------------------------
// Checked access.

namespace {

std::string expected_list(std::span<const std::string_view> keys) {
  std::string known;
  for (std::string_view k : keys) known += (known.empty() ? "" : ", ") + std::string(k);
  return known;
}

Error missing(const std::string& path, std::string_view key) {
  return Error{join_path(path, key), "missing required key " + in_quotes(key)};
}

}  // namespace

Node Node::element(size_t i) const {
  return Node((*value_)[static_cast<rapidjson::SizeType>(i)], index_path(path_, i));
}

std::vector<Node> Node::elements() const {
  std::vector<Node> out;
  for (size_t i = 0; i < size(); ++i) out.push_back(element(i));
  return out;
}

Result<std::string> Node::string() const {
  Result<std::string> s = string_or_empty();
  if (s && s->empty()) return error("must not be empty");
  return s;
}

Result<std::string> Node::string_or_empty() const {
  if (!value_->IsString()) return error("expected a string");
  return std::string(value_->GetString(), value_->GetStringLength());
}

Result<std::vector<std::string>> Node::strings() const {
  if (!value_->IsArray()) return error("expected an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < size(); ++i) {
    const Value& e = (*value_)[static_cast<rapidjson::SizeType>(i)];
    if (!e.IsString() || e.GetStringLength() == 0) {
      return Error{index_path(path_, i), "expected a non-empty string"};
    }
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

Result<bool> Node::boolean() const {
  if (!value_->IsBool()) return error("expected true or false");
  return value_->GetBool();
}

Result<double> Node::number() const {
  if (!value_->IsNumber()) return error("expected a number");
  return value_->GetDouble();
}

Result<Node> Node::array() const {
  if (!value_->IsArray()) return error("expected an array");
  return *this;
}

Result<Object> Object::of(const Node& node, std::span<const std::string_view> keys) {
  std::vector<Error> unknown;
  Result<Object> o = of(node, keys, unknown);
  if (!unknown.empty()) return unknown.front();
  return o;
}

Result<Object> Object::of(const Node& node, std::span<const std::string_view> keys,
                          std::vector<Error>& unknown) {
  if (!node->IsObject()) return node.error("expected an object");
  for (auto it = node->MemberBegin(); it != node->MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      unknown.push_back(Error{
          join_path(node.path(), key),
          "unknown key " + in_quotes(key) + " (expected one of: " + expected_list(keys) + ")"});
    }
  }
  return Object(node);
}

const Value* Object::find(std::string_view key) const {
  const Value& v = node_.value();
  auto it = v.FindMember(
      Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::optional<Node> Object::get(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  return Node(*v, at(key));
}

Result<Node> Object::require(std::string_view key) const {
  std::optional<Node> n = get(key);
  if (!n) return missing(path(), key);
  return *n;
}

Result<std::string> Object::string(std::string_view key) const {
  Result<Node> n = require(key);
  if (!n) return n.error();
  return n->string();
}

Result<std::vector<std::string>> Object::strings(std::string_view key) const {
  Result<Node> n = require(key);
  if (!n) return n.error();
  return n->strings();
}

Result<Node> Object::array(std::string_view key) const {
  Result<Node> n = require(key);
  if (!n) return n.error();
  return n->array();
}

Result<Object> Object::object(std::string_view key,
                              std::initializer_list<std::string_view> keys) const {
  Result<Node> n = require(key);
  if (!n) return n.error();
  return of(*n, keys);
}

Result<std::string> Object::optional_string(std::string_view key, std::string fallback) const {
  std::optional<Node> n = get(key);
  if (!n) return fallback;
  return n->string_or_empty();
}

Result<std::string> Object::optional_nonempty_string(std::string_view key) const {
  std::optional<Node> n = get(key);
  if (!n) return std::string();
  return n->string();
}

Result<std::vector<std::string>> Object::optional_strings(std::string_view key) const {
  std::optional<Node> n = get(key);
  if (!n) return std::vector<std::string>{};
  return n->strings();
}

Result<bool> Object::optional_bool(std::string_view key, bool fallback) const {
  std::optional<Node> n = get(key);
  if (!n) return fallback;
  return n->boolean();
}

Result<Node> Object::optional_array(std::string_view key) const {
  static const Value kEmpty(rapidjson::kArrayType);
  std::optional<Node> n = get(key);
  if (!n) return Node(kEmpty, at(key));
  return n->array();
}

Result<int> Object::optional_int(std::string_view key, int fallback, int min, int max) const {
  std::optional<Node> n = get(key);
  if (!n) return fallback;
  const Value& v = n->value();
  if (!v.IsInt() || v.GetInt() < min || v.GetInt() > max) {
    return n->error("must be an integer from " + std::to_string(min) + " to " +
                    std::to_string(max));
  }
  return v.GetInt();
}

}  // namespace cryo::json
