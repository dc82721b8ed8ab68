#include "adapters/postgres/pg_schema.hpp"

#include <utility>

namespace dbsync::pg {

Result<TableInfo> describe_table_info(PgConnection& conn, const QualifiedName& name) {
  PqCatalogReader reader(conn);
  Result<PgTableDescription> described = PgIntrospector(reader).describe_table(name.quoted());
  if (!described.is_ok()) {
    if (described.status().code() == ErrorCode::kNotFound)
      return error(ErrorCode::kNotFound,
                   "table " + name.display() + " not found on " + conn.where());
    return described.status();
  }
  TableInfo info;
  info.described = std::move(described).value();
  const PgTableDescription& d = info.described;
  if (!d.types.is_ok()) return d.types;
  info.name = d.name;
  info.qualified = d.qualified;
  info.relkind = d.relkind;
  info.schema = d.schema;
  for (const ColumnDescription& c : d.columns) info.collatable.push_back(c.collatable);
  info.udt = d.udt;
  info.unique_indexes = d.unique_indexes;
  return info;
}

bool TableInfo::unique_on(const std::vector<std::string>& columns) const {
  return described.unique_on(columns);
}

Result<Schema> describe_table(PgConnection& conn, std::string_view qualified_name) {
  DBSYNC_ASSIGN_OR_RETURN(QualifiedName name, QualifiedName::parse(qualified_name));
  DBSYNC_ASSIGN_OR_RETURN(TableInfo info, describe_table_info(conn, name));
  return std::move(info.schema);
}

}  // namespace dbsync::pg
