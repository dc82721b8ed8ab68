// What the SQL functions over a sync share (syncs.cpp defines these): a sync's configuration
// loaded from the catalog and validated against its tables, and rows rendered as JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/field_mapper.hpp"
#include "engine/sync_types.hpp"
#include "engine/value.hpp"
#include "extension/src/pg/local_table.hpp"

namespace dbsync::ext {

struct SyncConfig {
  std::string name;
  std::string source, source_table, target, target_table;
  std::string mapping = "{}";
  std::vector<std::string> key, source_key;
  std::string direction = "one_way";
  std::string strategy = "source_wins";
  std::string strategy_options = "{}";
  std::string delete_policy = "propagate";
  int batch_size = 1000;
  std::optional<std::string> filter;
};

struct Endpoint {
  std::string id;
  std::string kind;
  std::string table;  // as stored: canonical for local tables, as given otherwise
  std::optional<pg::LocalTable> local;
};

struct CheckedSync {
  std::string id;  // set when loaded from the catalog
  int batch_size = 1000;
  Endpoint source, target;
  MappingSpec spec;
  SyncPolicy policy;
  std::optional<FieldMapper> mapper;  // both ends local
  std::optional<std::string> filter;
};

// The sync `name` compiled, for functions that need both ends on this server (inside an SPI
// session): ERROR 42704 for an unknown sync, 0A000 naming `function` when an end is remote.
CheckedSync load_local_sync(const std::string& name, const char* function);

// JSON text of a string; of a value (numbers as numbers, booleans, null, JSON as itself, the
// rest as strings); of a row in the mapped layout (its first row.size() mapped columns).
std::string json_string(const std::string& s);
std::string render_value(const Value& v);
std::string render_row(const FieldMapper& m, const Row& row);

// The transaction's start as Unix microseconds: now() in expressions.
int64_t now_unix_micros();

}  // namespace dbsync::ext
