#include "daemon/http/api_error.hpp"

namespace dbsync::daemon {

ApiError error_from_db(const catalog::DbFailure& e, int missing_status) {
  const std::string& s = e.sqlstate;
  auto cls = s.substr(0, 2);
  ApiError out;
  out.message = e.message;
  if (!e.detail.empty()) out.details["detail"] = e.detail;
  if (!e.hint.empty()) out.details["hint"] = e.hint;
  out.details["sqlstate"] = s;
  if (s == "42704" || s == "42P01" || s == "42703" || s == "42883" || s == "3F000") {
    out.status = missing_status;
    out.code = missing_status == 404 ? "not_found" : "invalid_reference";
  } else if (s == "23505" || s == "42710" || s == "42P07") {
    out.status = 409;
    out.code = "already_exists";
  } else if (s == "2BP01" || s == "55006" || s == "55000" || s == "40P01" || s == "55P03") {
    out.status = 409;
    out.code = "conflict";
  } else if (s == "42501") {
    out.status = 403;
    out.code = "forbidden";
  } else if (cls == "08") {
    out.status = 502;
    out.code = "master_unavailable";
  } else if (s == "53300" || cls == "53" || cls == "57" || s == "40001") {
    out.status = s == "57014" ? 504 : 503;
    out.code = s == "57014" ? "timeout" : "unavailable";
  } else if (cls == "22" || cls == "23" || cls == "42" || s == "0A000" || s == "P0001" ||
             cls == "2F" || cls == "39") {
    out.status = 422;
    out.code = "invalid";
  } else {
    out.status = 500;
    out.code = "internal";
  }
  return out;
}

ApiError not_found(const std::string& what, const std::string& id) {
  ApiError e{404, "not_found", what + " " + id + " does not exist", nlohmann::json::object()};
  e.details["id"] = id;
  return e;
}

ApiError bad_field(int status, const std::string& code, const std::string& field,
                   const std::string& message) {
  ApiError e{status, code, message, nlohmann::json::object()};
  e.details["field"] = field;
  return e;
}

}  // namespace dbsync::daemon
