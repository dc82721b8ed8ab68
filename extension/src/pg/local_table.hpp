// Tables of the master itself, described through SPI on pg_catalog (the backend's counterpart
// of adapters/postgres/pg_schema: same shape of answer, no libpq).
#pragma once

#include <string>
#include <vector>

#include "engine/schema.hpp"

namespace dbsync::pg {

struct LocalTable {
  std::string oid;        // as text, for binding
  std::string qualified;  // schema.name quoted by PostgreSQL's rules (format('%I.%I'))
  char relkind = 'r';
  Schema schema;                       // columns (attnum order) and the primary key (index order)
  std::vector<bool> collatable;        // per column: text-like, so ORDER BY ... COLLATE "C" applies
  std::vector<std::string> sql_types;  // per column: format_type(), for casts of bound values
  // per column: the type by its catalog name without a type modifier (pg_catalog.bpchar,
  // pg_catalog."bit", pg_catalog._varchar...), for casts of values being written. Not the SQL
  // spelling: `character` and `bit` without a length mean char(1) and bit(1), and an explicit
  // cast to a length truncates silently; cast to the unconstrained type, the column's own
  // assignment checks lengths and rounds precisions as a plain INSERT does.
  std::vector<std::string> base_types;
  std::vector<std::vector<std::string>>
      unique_indexes;  // key columns of valid, total unique indexes

  // Whether rows are unique on `columns`: some unique index's columns are all among them.
  bool unique_on(const std::vector<std::string>& columns) const;
  // Whether the relation can carry indexes (tables, partitioned tables, materialized views).
  bool indexable() const { return relkind == 'r' || relkind == 'p' || relkind == 'm'; }
};

// The table `name` as the caller writes it ("products", "shop.products", "\"Odd \"\"name\"\"\""),
// resolved through the caller's search_path; the name is bound, never spliced into SQL.
// ERROR 42602 for a name that is not valid syntax, 42P01 for an unknown table. Call inside an
// spi::session.
LocalTable describe_local_table(const std::string& name);

}  // namespace dbsync::pg

namespace dbsync::pg {
// An identifier quoted (when needed) by PostgreSQL's own rules (quote_identifier).
std::string quote_ident(const std::string& name);
}  // namespace dbsync::pg
