// Result<T>: a value or an Error, the plain error type that crosses module boundaries.
//
// Modules report failures (a broken policy file, an unreadable Coverage, a store that cannot
// commit) as values rather than exceptions. An Error names where the problem is (`where`:
// a file, a JSON path, a field) and what it is (`message`), so that an operator or a policy
// analyst can act on it without reading code.
//
//   Result<Policy> r = load_policy(path);
//   if (!r) { std::cerr << r.error().to_string() << "\n"; return 1; }
//   use(*r);
//
// Thread safety: plain values; no shared state.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cryo {

struct Error {
  std::string where;    // e.g. "policies/data/florida-blue.json: sections[0].criteria.any[1]"
  std::string message;  // e.g. "unknown fact 'unresectible'"

  // "where: message", or just the message when there is no location.
  std::string to_string() const { return where.empty() ? message : where + ": " + message; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result for operations that return nothing on success.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace cryo
