#include "daemon/http/json_body.hpp"

#include <algorithm>
#include <charconv>

namespace dbsync::daemon {

const char* field_type_name(FieldType t) {
  switch (t) {
    case FieldType::kString:
      return "string";
    case FieldType::kInteger:
      return "integer";
    case FieldType::kBoolean:
      return "boolean";
    case FieldType::kObject:
      return "object";
    case FieldType::kStringArray:
      return "array of strings";
    case FieldType::kAny:
      return "any";
  }
  return "?";
}

namespace {
bool has_type(const nlohmann::json& v, FieldType t) {
  switch (t) {
    case FieldType::kString:
      return v.is_string();
    case FieldType::kInteger:
      return v.is_number_integer();
    case FieldType::kBoolean:
      return v.is_boolean();
    case FieldType::kObject:
      return v.is_object();
    case FieldType::kStringArray:
      if (!v.is_array()) return false;
      for (const auto& e : v)
        if (!e.is_string()) return false;
      return true;
    case FieldType::kAny:
      return true;
  }
  return false;
}
// Nesting depth of a JSON text (brackets outside strings): a deeply nested document would be
// parsed and destroyed recursively, so it is refused before parsing.
int nesting_depth(const std::string& text) {
  int depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max = std::max(max, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max;
}
constexpr int kMaxDepth = 64;
}  // namespace

ApiResult<nlohmann::json> parse_body(const std::string& body, const std::vector<FieldSpec>& spec) {
  nlohmann::json doc;
  bool blank = body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) {
    doc = nlohmann::json::object();
  } else if (nesting_depth(body) > kMaxDepth) {
    return ApiError{400, "malformed_json",
                    "the request body nests deeper than " + std::to_string(kMaxDepth) + " levels",
                    nlohmann::json::object()};
  } else {
    doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded())
      return ApiError{400, "malformed_json", "the request body is not valid JSON",
                      nlohmann::json::object()};
  }
  if (!doc.is_object())
    return ApiError{422, "invalid_body", "the request body must be a JSON object",
                    nlohmann::json::object()};
  for (auto& [key, value] : doc.items()) {
    const FieldSpec* f = nullptr;
    for (const FieldSpec& s : spec)
      if (key == s.name) f = &s;
    if (!f) {
      std::vector<std::string> known;
      for (const FieldSpec& s : spec) known.emplace_back(s.name);
      ApiError e = bad_field(422, "unknown_field", key, "unknown field '" + key + "'");
      e.details["accepted"] = known;
      return e;
    }
    if (value.is_null()) {
      if (!f->nullable)
        return bad_field(422, "invalid_type", key,
                         "field '" + key + "' must be " + field_type_name(f->type) + ", not null");
      continue;
    }
    if (!has_type(value, f->type)) {
      ApiError e = bad_field(
          422, "invalid_type", key,
          "field '" + key + "' must be " + field_type_name(f->type) + ", not " + value.type_name());
      e.details["expected"] = field_type_name(f->type);
      return e;
    }
    if (f->type == FieldType::kString &&
        value.get_ref<const std::string&>().find('\0') != std::string::npos)
      return bad_field(422, "invalid_value", key, "field '" + key + "' contains a NUL character");
  }
  for (const FieldSpec& s : spec)
    if (s.required && !doc.contains(s.name))
      return bad_field(422, "missing_field", s.name, std::string("missing field '") + s.name + "'");
  return doc;
}

std::optional<long long> parse_id(const std::string& text) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty() || v <= 0 ||
      text[0] == '+' || text[0] == '-')
    return std::nullopt;
  return v;
}

}  // namespace dbsync::daemon
