#include "adapters/postgres/pg_schema.hpp"

#include "engine/types.hpp"

namespace dbsync::pg {

Result<TableInfo> describe_table_info(PgConnection& conn, const QualifiedName& name) {
  TableInfo info;
  info.name = name;
  DBSYNC_ASSIGN_OR_RETURN(
      PgResult rel, conn.query("SELECT to_regclass($1)::oid", {PgParam::text(name.quoted())}));
  if (rel.rows() != 1 || rel.is_null(0, 0))
    return error(ErrorCode::kNotFound, "table " + name.display() + " not found on " + conn.where());
  std::string oid(rel.get(0, 0));

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
  return info;
}

Result<Schema> describe_table(PgConnection& conn, std::string_view qualified_name) {
  DBSYNC_ASSIGN_OR_RETURN(QualifiedName name, QualifiedName::parse(qualified_name));
  DBSYNC_ASSIGN_OR_RETURN(TableInfo info, describe_table_info(conn, name));
  return std::move(info.schema);
}

}  // namespace dbsync::pg
