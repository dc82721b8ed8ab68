// The one error that reaches the HTTP edge, in the daemon's one JSON shape:
// { "error": { "code", "message", "details" } }; and how a failed catalog statement (its
// SQLSTATE) becomes one.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "daemon/catalog/db.hpp"

namespace dbsync::daemon {

struct ApiError {
  int status = 500;
  std::string code;
  std::string message;
  nlohmann::json details = nlohmann::json::object();

  nlohmann::json body() const {
    return {{"error", {{"code", code}, {"message", message}, {"details", details}}}};
  }
};

// T or the error to answer with.
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T v) : v_(std::move(v)) {}         // NOLINT(google-explicit-constructor)
  ApiResult(ApiError e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(v_); }
  bool is_ok() const { return ok(); }
  T& value() { return std::get<T>(v_); }
  const ApiError& error() const { return std::get<ApiError>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

// The status for a SQLSTATE. `missing_status` is what "does not exist" (42704, 42P01...) means
// here: 404 when the resource of the URL is missing, 422 when a field of the body names
// something that does not exist.
ApiError error_from_db(const catalog::DbFailure& e, int missing_status = 404);

// A catalog answer as the API's: its failure through error_from_db.
template <typename T>
ApiResult<T> from_db(catalog::DbResult<T> r, int missing_status = 404) {
  if (!r.is_ok()) return error_from_db(r.failure(), missing_status);
  return std::move(r).value();
}

ApiError not_found(const std::string& what, const std::string& id);
ApiError bad_field(int status, const std::string& code, const std::string& field,
                   const std::string& message);

}  // namespace dbsync::daemon
