#include "adapters/postgres/pg_introspection.hpp"

#include <charconv>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/types.hpp"

namespace dbsync::pg {
namespace {

// Every statement names pg_catalog's objects and operators explicitly, so it means the same
// under any search_path (the caller's, when a name is resolved).

// The relation a name resolves to.
constexpr const char* kRelationSql =
    "SELECT c.oid::pg_catalog.text, n.nspname::pg_catalog.text, c.relname::pg_catalog.text, "
    "c.relkind::pg_catalog.text, pg_catalog.format('%I.%I', n.nspname, c.relname) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "  ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
    "WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1::pg_catalog.text)";

// Columns: number, name, declared type, not null, collatable, qualified type name, bare type
// name, default.
constexpr const char* kColumnsSql =
    "SELECT a.attnum::pg_catalog.text, a.attname::pg_catalog.text, "
    "pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "a.attcollation OPERATOR(pg_catalog.<>) 0, pg_catalog.format('%I.%I', tn.nspname, ty.typname), "
    "ty.typname::pg_catalog.text, pg_catalog.pg_get_expr(d.adbin, d.adrelid) "
    "FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid "
    "JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) ty.typnamespace "
    "LEFT JOIN pg_catalog.pg_attrdef d "
    "  ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid AND d.adnum OPERATOR(pg_catalog.=) a.attnum "
    "WHERE a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid "
    "  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped ORDER BY a.attnum";

// Key columns of unique indexes (expression and partial indexes do not make rows unique on
// columns; INCLUDE columns are no key), the primary key among them, in index order.
constexpr const char* kUniqueIndexesSql =
    "SELECT i.indexrelid::pg_catalog.text, i.indisprimary, a.attname::pg_catalog.text "
    "FROM pg_catalog.pg_index i "
    "CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY "
    "  AS k(attnum, ord) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
    "  AND a.attnum OPERATOR(pg_catalog.=) k.attnum "
    "WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND i.indisunique "
    "  AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
    "  AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts ORDER BY i.indexrelid, k.ord";

// Tables, views, materialized views and foreign tables the session's user may read (partitions
// are read through their parent; dbsync's own and the system schemas are left out).
constexpr const char* kTablesSql =
    "SELECT n.nspname::pg_catalog.text, c.relname::pg_catalog.text, "
    "CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
    "  WHEN 'f' THEN 'foreign table' ELSE 'table' END, "
    "pg_catalog.float4larger(c.reltuples, 0)::pg_catalog.int8 "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "  ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
    "WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f}'::pg_catalog.\"char\"[]) "
    "  AND NOT c.relispartition "
    "  AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{information_schema,dbsync}') "
    "  AND n.nspname::pg_catalog.text OPERATOR(pg_catalog.!~) '^pg_' "
    "  AND pg_catalog.has_table_privilege(c.oid, 'SELECT') "
    "  AND ($1::pg_catalog.text IS NULL OR (n.nspname::pg_catalog.text COLLATE \"C\", "
    "       c.relname::pg_catalog.text COLLATE \"C\") OPERATOR(pg_catalog.>) "
    "($1::pg_catalog.text, $2::pg_catalog.text)) "
    "ORDER BY n.nspname::pg_catalog.text COLLATE \"C\", "
    "  c.relname::pg_catalog.text COLLATE \"C\" LIMIT $3::pg_catalog.int8";

const char* relkind_name(char relkind) {
  switch (relkind) {
    case 'v':
      return "view";
    case 'm':
      return "materialized view";
    case 'f':
      return "foreign table";
    default:
      return "table";
  }
}

std::optional<int64_t> to_int64(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size()) return std::nullopt;
  return v;
}

const std::string& text_of(const std::optional<std::string>& s) {
  static const std::string kEmpty;
  return s ? *s : kEmpty;
}

}  // namespace

Result<TextRows> PqCatalogReader::read(std::string_view sql,
                                       const std::vector<std::optional<std::string>>& params,
                                       Names) {
  std::vector<PgParam> p;
  p.reserve(params.size());
  for (const auto& v : params) p.push_back(v ? PgParam::text(*v) : PgParam::null());
  Result<PgResult> result = conn_.query(sql, p);
  if (!result.is_ok()) {
    // A name that does not parse (invalid_name): its own code, as the SPI reader's ERROR has.
    if (conn_.last_failure().sqlstate == "42602")
      return error(ErrorCode::kParseError, conn_.last_failure().message);
    return result.status();
  }
  const PgResult& res = *result;
  TextRows out(static_cast<size_t>(res.rows()));
  for (int i = 0; i < res.rows(); ++i)
    for (int c = 0; c < res.cols(); ++c)
      out[static_cast<size_t>(i)].push_back(
          res.is_null(i, c) ? std::nullopt : std::optional<std::string>(res.get(i, c)));
  return out;
}

std::string invalid_table_name(std::string_view name, std::string_view why) {
  return "invalid table name \"" + std::string(name) + "\": " + std::string(why);
}

Result<std::vector<TableEntry>> PgIntrospector::list_tables(
    const std::optional<TablePosition>& after, int64_t limit) {
  std::vector<std::optional<std::string>> params{std::nullopt, std::nullopt, std::to_string(limit)};
  if (after) {
    params[0] = after->schema;
    params[1] = after->name;
  }
  DBSYNC_ASSIGN_OR_RETURN(TextRows rows, reader_.read(kTablesSql, params));
  std::vector<TableEntry> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back(
        TableEntry{text_of(r[0]), text_of(r[1]), text_of(r[2]), to_int64(r[3]).value_or(0)});
  return out;
}

Result<PgTableDescription> PgIntrospector::describe_table(std::string_view name) {
  PgTableDescription t;
  Result<TextRows> rel =
      reader_.read(kRelationSql, {std::string(name)}, CatalogReader::Names::kCaller);
  if (!rel.is_ok()) {
    if (rel.status().code() != ErrorCode::kParseError) return rel.status();
    return error(ErrorCode::kParseError, invalid_table_name(name, rel.status().message()));
  }
  if (rel->size() != 1 || !(*rel)[0][0])
    return error(ErrorCode::kNotFound, "relation \"" + std::string(name) + "\" does not exist");
  const auto& r = (*rel)[0];
  t.oid = *r[0];
  t.name.schema = text_of(r[1]);
  t.name.name = text_of(r[2]);
  t.relkind = text_of(r[3]).empty() ? 'r' : text_of(r[3])[0];
  t.qualified = text_of(r[4]);
  if (std::string_view("rpmvf").find(t.relkind) == std::string_view::npos)
    return error(ErrorCode::kTypeMismatch,
                 "\"" + std::string(name) + "\" is not a table or a view");
  t.kind = relkind_name(t.relkind);
  t.indexable = t.relkind == 'r' || t.relkind == 'p' || t.relkind == 'm';

  DBSYNC_ASSIGN_OR_RETURN(TextRows cols, reader_.read(kColumnsSql, {t.oid}));
  for (const auto& c : cols) {
    ColumnDescription d;
    d.position = static_cast<int>(to_int64(c[0]).value_or(0));
    d.name = text_of(c[1]);
    d.declared_type = text_of(c[2]);
    d.nullable = text_of(c[3]) != "t";
    d.default_expression = c[7];
    if (t.types.is_ok()) {
      Result<TypeSpec> type = parse_type(d.declared_type, Dialect::kPostgres);
      if (type.is_ok())
        t.schema.columns.push_back(Column{d.name, std::move(type).value(), d.nullable});
      else
        t.types = type.status().with_context("table " + t.qualified + ", column " + d.name);
    }
    d.collatable = text_of(c[4]) == "t";
    t.type_names.push_back(text_of(c[5]));
    t.udt.push_back(text_of(c[6]));
    t.columns.push_back(std::move(d));
  }

  DBSYNC_ASSIGN_OR_RETURN(TextRows idx, reader_.read(kUniqueIndexesSql, {t.oid}));
  std::string current;
  for (const auto& r : idx) {
    if (text_of(r[0]) != current || t.unique_indexes.empty()) t.unique_indexes.emplace_back();
    current = text_of(r[0]);
    const std::string& col = text_of(r[2]);
    t.unique_indexes.back().push_back(col);
    if (text_of(r[1]) != "t") continue;
    for (ColumnDescription& d : t.columns)
      if (d.name == col) d.key_position = static_cast<int>(t.unique_indexes.back().size());
    if (int i = t.schema.index_of(col); i >= 0 && t.types.is_ok())
      t.schema.key.push_back(static_cast<size_t>(i));
  }
  if (!t.types.is_ok()) t.schema = Schema{};
  return t;
}

Result<TableDescription> PgIntrospector::describe(std::string_view name) {
  DBSYNC_ASSIGN_OR_RETURN(PgTableDescription t, describe_table(name));
  return TableDescription(std::move(t));
}

Result<std::vector<std::string>> PgIntrospector::page_rows(const TableDescription& table,
                                                           const std::optional<std::string>& after,
                                                           int64_t limit) {
  const std::vector<std::string> key = table.key_columns();
  if (key.empty())
    return error(ErrorCode::kInvalidArgument,
                 "table " + table.qualified + " has no primary key: its rows cannot be paged");

  std::optional<nlohmann::json> after_json;
  if (after) {
    after_json = nlohmann::json::parse(*after, nullptr, false);
    if (!after_json->is_object())
      return error(ErrorCode::kInvalidArgument,
                   "after must be a JSON object of the primary key columns");
  }
  std::string cols, after_cols;
  nlohmann::json after_key = nlohmann::json::object();
  for (const std::string& k : key) {
    // Text keys compare in byte order, as the engine orders keys.
    std::string collate;
    for (const ColumnDescription& c : table.columns)
      if (c.name == k && c.collatable) collate = " COLLATE \"C\"";
    const std::string q = quote_ident(k);
    cols += (cols.empty() ? "" : ", ") + std::string("t.") + q + collate;
    after_cols += (after_cols.empty() ? "" : ", ") + std::string("a.") + q + collate;
    if (after_json) {
      if (!after_json->contains(k) || (*after_json)[k].is_null())
        return error(ErrorCode::kNotFound, "after lacks the key column \"" + k + "\"");
      after_key[k] = (*after_json)[k];
    }
  }
  std::string sql = "SELECT pg_catalog.to_jsonb(t) FROM " + table.qualified + " t";
  std::vector<std::optional<std::string>> params{std::to_string(limit)};
  if (after_json) {
    sql += " WHERE (" + cols + ") OPERATOR(pg_catalog.>) (SELECT " + after_cols +
           " FROM pg_catalog.jsonb_populate_record(NULL::" + table.qualified +
           ", $2::pg_catalog.jsonb) a)";
    params.push_back(after_key.dump());
  }
  sql += " ORDER BY " + cols + " LIMIT $1::pg_catalog.int8";
  DBSYNC_ASSIGN_OR_RETURN(TextRows rows, reader_.read(sql, params));
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(r[0].value_or("null"));
  return out;
}

}  // namespace dbsync::pg
