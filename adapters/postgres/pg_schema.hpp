// Table introspection through the catalogs: columns in attnum order with their types parsed
// for the engine, and the primary key in index order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "engine/schema.hpp"

namespace dbsync::pg {

struct TableInfo {
  QualifiedName name;
  Schema schema;
  std::vector<bool> collatable;  // per column: has a collation (text-like), so COLLATE "C" applies
  std::vector<std::string> udt;  // per column: base type name (e.g. "uuid", "citext", an enum)
};

// `qualified_name` as a user writes it ("public.products", "\"Odd \"\"name\"\"\"").
// An unknown table is kNotFound naming it.
Result<Schema> describe_table(PgConnection& conn, std::string_view qualified_name);
Result<TableInfo> describe_table_info(PgConnection& conn, const QualifiedName& name);

}  // namespace dbsync::pg
