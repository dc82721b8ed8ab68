#include "engine/status.hpp"

namespace dbsync {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kTypeMismatch:
      return "type_mismatch";
    case ErrorCode::kOutOfRange:
      return "out_of_range";
    case ErrorCode::kParseError:
      return "parse_error";
    case ErrorCode::kEvaluation:
      return "evaluation";
    case ErrorCode::kOrdering:
      return "ordering";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string out = error_code_name(code_);
  out += ": ";
  out += message_;
  return out;
}

Status Status::with_context(const std::string& context) const {
  if (is_ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace dbsync
