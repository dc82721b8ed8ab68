// SQL functions that need no catalog: version, the state of the installation, and checking a
// mapping rule's syntax (what the admin UI calls while a person types an expression).
#include <optional>
#include <string>

#include "engine/expression.hpp"
#include "engine/field_mapper.hpp"
#include "extension/src/module.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/text.hpp"

using dbsync::pg::PgError;

// dbsync.version() -> text
DBSYNC_FUNCTION(dbsync_version) {
  (void)fcinfo;
  return dbsync::pg::text_datum("0.1.0");
}

// dbsync.preloaded() -> boolean: whether background workers can run.
DBSYNC_FUNCTION(dbsync_preloaded) {
  (void)fcinfo;
  return BoolGetDatum(dbsync::ext::preloaded);
}

// dbsync.check_expression(rule text) -> text: 'ok', or ERROR 42601 naming the position.
// Column names are not checked here (no schema): any m.x / s.x is accepted.
DBSYNC_FUNCTION(dbsync_check_expression) {
  std::string rule = dbsync::pg::text_arg(fcinfo, 0);
  dbsync::ColumnResolver any_column = [](dbsync::RowSide, std::string_view) -> std::optional<size_t> {
    return 0;
  };
  dbsync::pg::value_or_throw(dbsync::Expression::compile(rule, any_column), "expression");
  return dbsync::pg::text_datum("ok");
}

// dbsync.check_mapping(mapping jsonb) -> text: 'ok', or an ERROR naming the target column.
DBSYNC_FUNCTION(dbsync_check_mapping) {
  std::string doc = dbsync::pg::jsonb_arg_text(fcinfo, 0);
  dbsync::MappingSpec spec = dbsync::pg::value_or_throw(dbsync::parse_mapping_json(doc));
  dbsync::ColumnResolver any_column = [](dbsync::RowSide, std::string_view) -> std::optional<size_t> {
    return 0;
  };
  for (const dbsync::MappingRule& r : spec.rules) {
    if (r.skip) continue;
    auto e = r.source_column.empty()
                 ? dbsync::Expression::compile(r.expression, any_column)
                 : dbsync::Expression::compile_transform(r.source_column, r.transform, any_column);
    dbsync::pg::value_or_throw(std::move(e), "mapping for target column '" + r.target_column + "'");
  }
  return dbsync::pg::text_datum("ok");
}
