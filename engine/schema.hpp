// Columns, schemas and keys: what a table (or a query) looks like to the engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/types.hpp"
#include "engine/value.hpp"

namespace dbsync {

struct Column {
  std::string name;
  TypeSpec type;
  bool nullable = true;
};

struct Schema {
  std::vector<Column> columns;
  std::vector<size_t> key;  // indexes into columns, in key order

  // Index of the column with this exact name, or -1.
  int index_of(std::string_view name) const;
  std::vector<std::string> key_names() const;
};

// A key is the values of the key columns, in key order.
using Key = std::vector<Value>;

int compare_keys(const Key& a, const Key& b);
std::string key_to_string(const Key& key);  // "42" or "(7, 'abc')" for messages and logs

}  // namespace dbsync
