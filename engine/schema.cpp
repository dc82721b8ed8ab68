#include "engine/schema.hpp"

namespace dbsync {

int Schema::index_of(std::string_view name) const {
  for (size_t k = 0; k < columns.size(); ++k) {
    if (columns[k].name == name) return static_cast<int>(k);
  }
  return -1;
}

std::vector<std::string> Schema::key_names() const {
  std::vector<std::string> names;
  names.reserve(key.size());
  for (size_t index : key) names.push_back(index < columns.size() ? columns[index].name : "?");
  return names;
}

int compare_keys(const Key& a, const Key& b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t k = 0; k < n; ++k) {
    if (int c = compare_values(a[k], b[k]); c != 0) return c;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;  // a shorter prefix sorts first
}

namespace {

// Text-like values are quoted (with '' doubling a quote) so that '42' and 42 read differently.
void append_key_value(std::string& out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      out += "NULL";
      return;
    case ValueType::kBool:
    case ValueType::kInt:
    case ValueType::kFloat:
    case ValueType::kDecimal:
      out += v.to_string();
      return;
    default:
      break;
  }
  out.push_back('\'');
  for (char c : v.to_string()) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
}

}  // namespace

std::string key_to_string(const Key& key) {
  std::string out;
  if (key.size() == 1) {
    // A single key prints plain: 42, abc.
    if (key[0].is_null()) return "NULL";
    return key[0].to_string();
  }
  out.push_back('(');
  for (size_t k = 0; k < key.size(); ++k) {
    if (k > 0) out += ", ";
    append_key_value(out, key[k]);
  }
  out.push_back(')');
  return out;
}

}  // namespace dbsync
