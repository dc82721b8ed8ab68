#include "extension/src/pg/local_table.hpp"

#include <algorithm>

#include "engine/types.hpp"
#include "extension/src/pg/spi.hpp"

namespace dbsync::pg {

bool LocalTable::unique_on(const std::vector<std::string>& columns) const {
  for (const auto& index : unique_indexes) {
    bool covered =
        !index.empty() && std::all_of(index.begin(), index.end(), [&](const std::string& c) {
          return std::find(columns.begin(), columns.end(), c) != columns.end();
        });
    if (covered) return true;
  }
  return false;
}

LocalTable describe_local_table(const std::string& name) {
  LocalTable t;
  // Resolved under the caller's search_path (that is what an unqualified name means to them);
  // the query itself names only pg_catalog objects and has no operator.
  spi::Rows rel;
  try {
    rel = spi::execute("SELECT pg_catalog.to_regclass($1)::pg_catalog.oid", {name});
  } catch (const PostgresError& e) {
    if (e.sqlstate() != ERRCODE_INVALID_NAME) throw;
    throw PostgresError(ERRCODE_INVALID_NAME, "invalid table name \"" + name + "\": " + e.what(),
                        "", "Quote names with special characters: \"My table\".");
  }
  if (rel.size() != 1 || !rel.at(0, 0))
    throw PgError(ERRCODE_UNDEFINED_TABLE, "relation \"" + name + "\" does not exist");
  t.oid = *rel.at(0, 0);

  spi::with_safe_search_path([&] {
    spi::Rows info = spi::execute(
        "SELECT format('%I.%I', n.nspname, c.relname), c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid",
        {t.oid});
    if (info.size() != 1)
      throw PgError(ERRCODE_UNDEFINED_TABLE, "relation \"" + name + "\" does not exist");
    t.qualified = info.text(0, 0);
    t.relkind = info.text(0, 1).empty() ? 'r' : info.text(0, 1)[0];
    if (std::string("rpmvf").find(t.relkind) == std::string::npos)
      throw PgError(ERRCODE_WRONG_OBJECT_TYPE, "\"" + name + "\" is not a table or a view");

    spi::Rows cols = spi::execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attcollation <> "
        "0, format('%I.%I', tn.nspname, ty.typname) "
        "FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid "
        "JOIN pg_namespace tn ON tn.oid = ty.typnamespace "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        {t.oid});
    for (size_t r = 0; r < cols.size(); ++r) {
      Column c;
      c.name = cols.text(r, 0);
      c.type = value_or_throw(parse_type(cols.text(r, 1), Dialect::kPostgres),
                              "table " + t.qualified + ", column " + c.name);
      c.nullable = cols.text(r, 2) != "t";
      t.schema.columns.push_back(std::move(c));
      t.collatable.push_back(cols.text(r, 3) == "t");
      t.sql_types.push_back(cols.text(r, 1));
      t.base_types.push_back(cols.text(r, 4));
    }

    // Key columns of unique indexes (expression and partial indexes do not make rows unique
    // on columns); the primary key among them, in index order.
    spi::Rows idx = spi::execute(
        "SELECT i.indexrelid, i.indisprimary, a.attname FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL "
        "AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts ORDER BY i.indexrelid, k.ord",
        {t.oid});
    std::string current;
    for (size_t r = 0; r < idx.size(); ++r) {
      if (idx.text(r, 0) != current) {
        current = idx.text(r, 0);
        t.unique_indexes.emplace_back();
      }
      std::string col = idx.text(r, 2);
      t.unique_indexes.back().push_back(col);
      if (idx.text(r, 1) == "t") {
        int i = t.schema.index_of(col);
        if (i >= 0) t.schema.key.push_back(static_cast<size_t>(i));
      }
    }
  });
  return t;
}

}  // namespace dbsync::pg

extern "C" {
#include "utils/builtins.h"
}

namespace dbsync::pg {

std::string quote_ident(const std::string& name) {
  const char* q = pg_call([&] { return quote_identifier(name.c_str()); });
  return std::string(q);
}

}  // namespace dbsync::pg
