#include "extension/src/pg/local_table.hpp"

#include <utility>

#include "extension/src/pg/spi.hpp"

namespace dbsync::pg {

bool LocalTable::unique_on(const std::vector<std::string>& columns) const {
  return described.unique_on(columns);
}

Result<TextRows> SpiCatalogReader::read(std::string_view sql,
                                        const std::vector<std::optional<std::string>>& params,
                                        Names names) {
  const std::string text(sql);
  spi::Rows rows = names == Names::kCaller ? spi::execute(text, params) : spi::query(text, params);
  return std::move(rows.rows);
}

void throw_describe_error(const Status& st) {
  switch (st.code()) {
    case ErrorCode::kParseError:
      throw PgError(ERRCODE_INVALID_NAME, st.message(), "",
                    "Quote names with special characters: \"My table\".");
    case ErrorCode::kNotFound:
      throw PgError(ERRCODE_UNDEFINED_TABLE, st.message());
    case ErrorCode::kTypeMismatch:
      throw PgError(ERRCODE_WRONG_OBJECT_TYPE, st.message());
    default:
      throw_if_error(st);
      throw PgError(ERRCODE_INTERNAL_ERROR, "describe failed without an error");
  }
}

PgTableDescription describe_master_table(const std::string& name) {
  SpiCatalogReader reader;
  PgIntrospector introspector(reader);
  Result<PgTableDescription> t = [&] {
    try {
      return introspector.describe_table(name);
    } catch (const PostgresError& e) {
      // The name does not parse (to_regclass): PostgreSQL's ERROR, reworded.
      if (e.sqlstate() != ERRCODE_INVALID_NAME) throw;
      throw PostgresError(ERRCODE_INVALID_NAME, invalid_table_name(name, e.what()), "",
                          "Quote names with special characters: \"My table\".");
    }
  }();
  if (!t.is_ok()) throw_describe_error(t.status());
  return std::move(t).value();
}

LocalTable describe_local_table(const std::string& name) {
  LocalTable t;
  t.described = describe_master_table(name);
  const PgTableDescription& d = t.described;
  throw_if_error(d.types);
  t.oid = d.oid;
  t.qualified = d.qualified;
  t.relkind = d.relkind;
  t.schema = d.schema;
  for (size_t i = 0; i < d.columns.size(); ++i) {
    t.collatable.push_back(d.columns[i].collatable);
    t.sql_types.push_back(d.columns[i].declared_type);
    t.base_types.push_back(d.type_names[i]);
  }
  t.unique_indexes = d.unique_indexes;
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
