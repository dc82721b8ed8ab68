// Request bodies: parsed JSON checked against the fields an endpoint accepts. Malformed JSON is
// 400; a body that is not an object, an unknown field, a missing field or a wrong type is 422,
// and the error names the field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/http/api_error.hpp"

namespace dbsync::daemon {

enum class FieldType { kString, kInteger, kBoolean, kObject, kStringArray, kAny };

struct FieldSpec {
  const char* name;
  FieldType type;
  bool required = false;
  bool nullable = false;
};

const char* field_type_name(FieldType t);

// Parses `body` (an empty body is {} when nothing is required) and checks it.
ApiResult<nlohmann::json> parse_body(const std::string& body, const std::vector<FieldSpec>& spec);

// A path id: digits only, 1..2^63-1; otherwise nullopt (the caller answers 404).
std::optional<long long> parse_id(const std::string& text);

}  // namespace dbsync::daemon
