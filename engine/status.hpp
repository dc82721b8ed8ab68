// Expected failures are values: Status for "did it work", Result<T> for "here is T or why not".
// Exceptions are reserved for the truly exceptional (bad_alloc); the engine never throws for
// bad input, so both shells can turn a Status into an HTTP 4xx or an ereport(ERROR) directly.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dbsync {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // bad input from a user: config, mapping, expression, value
  kNotFound,         // unknown column, datasource, sync...
  kTypeMismatch,     // a value that cannot become the requested type
  kOutOfRange,       // numeric overflow, text longer than varchar(n)
  kParseError,       // expression or literal syntax
  kEvaluation,       // expression evaluation failed for one row
  kOrdering,         // a stream was not in key order
  kUnavailable,      // a server is down or unreachable (retryable)
  kCancelled,        // the job was cancelled
  kConflict,         // state conflict (e.g. duplicate key)
  kInternal,         // a bug
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

  // Adds context in front of the message: "column price: " + "not a number".
  Status with_context(const std::string& context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status error(ErrorCode code, std::string message) { return {code, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).is_ok() && "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return is_ok(); }

  const T& value() const& { return std::get<T>(data_); }
  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(data_); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace dbsync

// Propagate a failed Status from an expression returning Status.
#define DBSYNC_RETURN_IF_ERROR(expr) \
  do {                               \
    ::dbsync::Status _st = (expr);   \
    if (!_st.is_ok()) return _st;    \
  } while (0)

#define DBSYNC_CONCAT_INNER(a, b) a##b
#define DBSYNC_CONCAT(a, b) DBSYNC_CONCAT_INNER(a, b)
// Assign the value of a Result or propagate its error: DBSYNC_ASSIGN_OR_RETURN(auto x, f());
#define DBSYNC_ASSIGN_OR_RETURN(lhs, expr) \
  DBSYNC_ASSIGN_OR_RETURN_IMPL(DBSYNC_CONCAT(_res_, __LINE__), lhs, expr)
#define DBSYNC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
