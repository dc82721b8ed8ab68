#include "engine/value_json.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/decimal.hpp"

namespace dbsync {

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> json_string_list(std::string_view text) {
  std::vector<std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::string render_value(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
      return v.as_bool() ? "true" : "false";
    case ValueType::kInt:
      return std::to_string(v.as_int());
    case ValueType::kFloat:
      return std::isfinite(v.as_float()) ? nlohmann::json(v.as_float()).dump()
                                         : json_string(v.to_string());
    case ValueType::kDecimal: {
      // JSON has no NaN or infinities: those are strings ("NaN", "-Infinity").
      const std::string& d = v.str();
      bool numeric =
          !d.empty() && !decimal::is_special(d) && (d[0] == '-' || (d[0] >= '0' && d[0] <= '9'));
      return numeric ? d : json_string(d);
    }
    case ValueType::kJson:
      return v.str();
    default:
      return json_string(v.to_string());
  }
}

std::string render_row(const FieldMapper& m, const Row& row) {
  std::string out = "{";
  const size_t n = std::min(row.size(), m.mapped_count());
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += json_string(m.mapped_columns()[i]) + ": " + render_value(row[i]);
  }
  return out + "}";
}

Result<Value> value_from_json(const nlohmann::json& j, const TypeSpec& t) {
  if (j.is_null()) return Value::null();
  if (j.is_string()) return value_from_text(j.get_ref<const std::string&>(), t);
  if (j.is_structured() || t.kind == TypeKind::kJson) {
    DBSYNC_ASSIGN_OR_RETURN(Value v, Value::json(j.dump()));
    return coerce(std::move(v), t);
  }
  if (j.is_boolean()) return coerce(Value::boolean(j.get<bool>()), t);
  if (j.is_number_integer() && !j.is_number_unsigned())
    return coerce(Value::integer(j.get<int64_t>()), t);
  DBSYNC_ASSIGN_OR_RETURN(Value v, Value::decimal(j.dump()));
  return coerce(std::move(v), t);
}

std::string keys_json(const std::vector<std::string>& names, const std::vector<Row>& keys,
                      const std::function<std::string(size_t, const Value&)>& text) {
  std::string json = "[";
  for (size_t r = 0; r < keys.size(); ++r) {
    json += r ? ",{" : "{";
    for (size_t i = 0; i < names.size() && i < keys[r].size(); ++i) {
      if (i) json += ',';
      json += json_string(names[i]);
      json += ':';
      json += keys[r][i].is_null() ? std::string("null") : json_string(text(i, keys[r][i]));
    }
    json += '}';
  }
  json += ']';
  return json;
}

}  // namespace dbsync
