// What validation and browsing need to know of a database, once for every kind: its tables, a
// table's columns, keys and unique indexes, and its rows in keyset pages by the primary key.
// Each adapter implements Introspector (PostgreSQL: adapters/postgres/pg_introspection.*); the
// shells (the extension's dbsync.tables/columns/rows and create_sync, dbsyncd) are written
// against it, not against a database kind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/schema.hpp"
#include "engine/status.hpp"

namespace dbsync {

// One table (or view) in a listing.
struct TableEntry {
  std::string schema;
  std::string name;
  std::string kind;  // table, view, materialized view, foreign table
  int64_t estimated_rows = 0;
};

// A listing's position: the page starts after this (schema, name) in byte order.
struct TablePosition {
  std::string schema;
  std::string name;
};

// One column as the database declares it.
struct ColumnDescription {
  int position = 0;  // the database's column number
  std::string name;
  std::string declared_type;  // the database's spelling: numeric(10,2), character varying
  bool nullable = true;
  // Compared by a collation (text-like types): the engine orders such keys by bytes, so a
  // database compares them with a byte-order collation when it pages or scans by key.
  bool collatable = false;
  std::optional<int> key_position;  // 1-based position in the primary key
  std::optional<std::string> default_expression;
};

struct TableDescription {
  std::string qualified;  // schema.name quoted by the database's rules, for messages and SQL
  std::string kind;       // as TableEntry::kind
  std::vector<ColumnDescription> columns;  // in the database's column order
  // The columns as the engine types them, with the primary key in key order. A column whose type
  // the engine does not read makes `types` an error naming the table and column (browsing still
  // shows such a table; a sync refuses it); `schema` then holds no columns.
  Schema schema;
  Status types;
  // Column names of each unique index that makes rows unique on its columns (valid, total, no
  // expressions), the primary key among them, in index order.
  std::vector<std::vector<std::string>> unique_indexes;
  // Whether the relation can carry indexes (tables, materialized views); a view's uniqueness of
  // a key cannot be checked.
  bool indexable = false;

  // Whether rows are unique on `columns`: some unique index's columns are all among them.
  bool unique_on(const std::vector<std::string>& columns) const;
  // The primary key's columns in key order (empty: no primary key, rows cannot be paged).
  std::vector<std::string> key_columns() const;
};

class Introspector {
 public:
  virtual ~Introspector() = default;

  // Tables, views, materialized views and foreign tables the connection's user may read, by
  // schema and name in byte order, after `after`, at most `limit`.
  virtual Result<std::vector<TableEntry>> list_tables(const std::optional<TablePosition>& after,
                                                      int64_t limit) = 0;
  // The table `name` as a user writes it ("products", "shop.products", "\"Odd \"\"name\"\"\"").
  // Errors: kParseError, not a valid name; kNotFound, no such table; kTypeMismatch, not a table
  // or a view.
  virtual Result<TableDescription> describe(std::string_view name) = 0;
  // Rows of a described table as JSON objects (text), in primary key order, after the key given
  // in `after` (a JSON object with every key column, other members ignored), at most `limit`.
  // Errors: kInvalidArgument, no primary key or `after` lacks a key column.
  virtual Result<std::vector<std::string>> page_rows(const TableDescription& table,
                                                     const std::optional<std::string>& after,
                                                     int64_t limit) = 0;
};

}  // namespace dbsync
