#include "adapters/postgres/pg_schema.hpp"

#include <algorithm>

#include "engine/types.hpp"

namespace dbsync::pg {

Result<TableInfo> describe_table_info(PgConnection& conn, const QualifiedName& name) {
  TableInfo info;
  info.name = name;
  DBSYNC_ASSIGN_OR_RETURN(
      PgResult rel,
      conn.query("SELECT c.oid, n.nspname, c.relname, c.relkind, "
                 "pg_catalog.format('%I.%I', n.nspname, c.relname) "
                 "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
                 "c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1)",
                 {PgParam::text(name.quoted())}));
  if (rel.rows() != 1 || rel.is_null(0, 0))
    return error(ErrorCode::kNotFound, "table " + name.display() + " not found on " + conn.where());
  std::string oid(rel.get(0, 0));
  info.name.schema = std::string(rel.get(0, 1));
  info.name.name = std::string(rel.get(0, 2));
  info.relkind = rel.get(0, 3).empty() ? 'r' : rel.get(0, 3)[0];
  info.qualified = std::string(rel.get(0, 4));

  DBSYNC_ASSIGN_OR_RETURN(
      PgResult cols,
      conn.query(
          "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
          "a.attcollation <> 0, t.typname "
          "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
          "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
          {PgParam::text(oid)}));
  for (int r = 0; r < cols.rows(); ++r) {
    Column c;
    c.name = std::string(cols.get(r, 0));
    std::string declared(cols.get(r, 1));
    Result<TypeSpec> type = parse_type(declared, Dialect::kPostgres);
    if (!type.is_ok())
      return type.status().with_context("table " + name.display() + ", column " + c.name);
    c.type = std::move(type).value();
    c.nullable = cols.get(r, 2) != "t";
    info.schema.columns.push_back(std::move(c));
    info.collatable.push_back(cols.get(r, 3) == "t");
    info.udt.emplace_back(cols.get(r, 4));
  }

  DBSYNC_ASSIGN_OR_RETURN(
      PgResult key,
      conn.query(
          "SELECT a.attname FROM pg_catalog.pg_index i "
          "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
          "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
          "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.ord",
          {PgParam::text(oid)}));
  for (int r = 0; r < key.rows(); ++r) {
    int idx = info.schema.index_of(key.get(r, 0));
    if (idx >= 0) info.schema.key.push_back(static_cast<size_t>(idx));
  }

  // Unique indexes that make rows unique on their columns: valid, no predicate, no expression.
  DBSYNC_ASSIGN_OR_RETURN(
      PgResult uniq,
      conn.query(
          "SELECT i.indexrelid, a.attname FROM pg_catalog.pg_index i "
          "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
          "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
          "WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL "
          "AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts ORDER BY i.indexrelid, k.ord",
          {PgParam::text(oid)}));
  std::string current;
  for (int r = 0; r < uniq.rows(); ++r) {
    std::string index(uniq.get(r, 0));
    if (index != current || info.unique_indexes.empty()) info.unique_indexes.emplace_back();
    current = index;
    info.unique_indexes.back().emplace_back(uniq.get(r, 1));
  }
  return info;
}

bool TableInfo::unique_on(const std::vector<std::string>& columns) const {
  for (const auto& index : unique_indexes) {
    bool covered = !index.empty() && std::all_of(index.begin(), index.end(), [&](const auto& c) {
      return std::find(columns.begin(), columns.end(), c) != columns.end();
    });
    if (covered) return true;
  }
  return false;
}

Result<Schema> describe_table(PgConnection& conn, std::string_view qualified_name) {
  DBSYNC_ASSIGN_OR_RETURN(QualifiedName name, QualifiedName::parse(qualified_name));
  DBSYNC_ASSIGN_OR_RETURN(TableInfo info, describe_table_info(conn, name));
  return std::move(info.schema);
}

}  // namespace dbsync::pg
