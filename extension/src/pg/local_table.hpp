// Tables of the master itself, described through SPI as the caller by the PostgreSQL
// introspection that describes remote servers too (adapters/postgres/pg_introspection: one set
// of catalog queries, here over SpiCatalogReader).
#pragma once

#include <string>
#include <vector>

#include "adapters/postgres/pg_introspection.hpp"
#include "engine/schema.hpp"
#include "engine/status.hpp"

namespace dbsync::pg {

// Catalog queries over SPI inside the caller's session and transaction, with the caller's rights:
// kCatalog statements under spi::with_safe_search_path, kCaller ones under the caller's
// search_path. PostgreSQL's ERRORs are thrown (PostgresError), never returned as a Status.
class SpiCatalogReader final : public CatalogReader {
 public:
  Result<TextRows> read(std::string_view sql, const std::vector<std::optional<std::string>>& params,
                        Names names = Names::kCatalog) override;
};

// A failed describe (engine/introspection.hpp's codes) as the SQL error: 42602 a name that is not
// valid syntax, 42P01 no such table, 42809 not a table or a view; others by sqlstate_for.
[[noreturn]] void throw_describe_error(const Status& st);

// The master's table `name` as the caller writes it, resolved through the caller's search_path;
// the name is bound, never spliced into SQL. Errors as throw_describe_error (a column type the
// engine does not read is not one: see TableDescription::types). Call inside an spi::session.
PgTableDescription describe_master_table(const std::string& name);

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
      unique_indexes;            // key columns of valid, total unique indexes
  PgTableDescription described;  // the introspection's answer (what validation checks)

  // Whether rows are unique on `columns`: some unique index's columns are all among them.
  bool unique_on(const std::vector<std::string>& columns) const;
  // Whether the relation can carry indexes (tables, partitioned tables, materialized views).
  bool indexable() const { return relkind == 'r' || relkind == 'p' || relkind == 'm'; }
};

// The table `name` as the caller writes it ("products", "shop.products", "\"Odd \"\"name\"\"\""),
// resolved through the caller's search_path; the name is bound, never spliced into SQL.
// describe_master_table, with every column of a type the engine reads (else its error). Call
// inside an spi::session.
LocalTable describe_local_table(const std::string& name);

}  // namespace dbsync::pg

namespace dbsync::pg {
// An identifier quoted (when needed) by PostgreSQL's own rules (quote_identifier).
std::string quote_ident(const std::string& name);
}  // namespace dbsync::pg
