// A remote table as PgTable reads and writes it: pg_introspection's description over libpq,
// with every column of a type the engine reads (else the description's error).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_introspection.hpp"
#include "engine/schema.hpp"

namespace dbsync::pg {

struct TableInfo {
  QualifiedName name;     // as resolved: schema and name
  std::string qualified;  // schema.name quoted where needed (the server's format('%I.%I'))
  char relkind = 'r';
  Schema schema;
  std::vector<bool> collatable;  // per column: has a collation (text-like), so COLLATE "C" applies
  std::vector<std::string> udt;  // per column: base type name (e.g. "uuid", "citext", an enum)
  // Column names of each valid unique index without predicate or expressions (the primary key
  // among them).
  std::vector<std::vector<std::string>> unique_indexes;
  PgTableDescription described;  // the introspection's answer (pg_introspection.hpp), all of it

  // Whether rows are unique on `columns`: some unique index's columns are all among them.
  bool unique_on(const std::vector<std::string>& columns) const;
  // Whether the relation can carry indexes (tables, partitioned tables, materialized views).
  bool indexable() const { return relkind == 'r' || relkind == 'p' || relkind == 'm'; }
};

// `qualified_name` as a user writes it ("public.products", "\"Odd \"\"name\"\"\"").
// An unknown table is kNotFound naming it.
Result<Schema> describe_table(PgConnection& conn, std::string_view qualified_name);
Result<TableInfo> describe_table_info(PgConnection& conn, const QualifiedName& name);

}  // namespace dbsync::pg
