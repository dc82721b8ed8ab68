// Sync configurations: create_sync / alter_sync validate a configuration at save time against
// the tables it names (local ends through SPI), map_row maps one row, preview maps the first
// rows of a local source. drop_sync and the sync_list view are plain SQL (dbsync.sql).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/catalog_sql.hpp"
#include "engine/audit.hpp"
#include "engine/endpoints.hpp"
#include "engine/expression.hpp"
#include "engine/field_mapper.hpp"
#include "engine/schema.hpp"
#include "engine/sync_executor.hpp"
#include "engine/sync_policy.hpp"
#include "engine/sync_types.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"
#include "engine/value_json.hpp"
#include "extension/src/local_source.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/local_table.hpp"
#include "extension/src/pg/remote.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/text.hpp"
#include "extension/src/syncs.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

namespace dbsync::ext {
namespace {

using pg::PgError;
using pg::spi::Param;

// ------------------------------------------------------------------------------ arguments

std::optional<std::string> opt_text_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return pg::text_arg(fcinfo, n);
}

std::optional<std::string> opt_jsonb_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return pg::jsonb_arg_text(fcinfo, n);
}

std::optional<std::vector<std::string>> opt_text_array_arg(FunctionCallInfo fcinfo, int n,
                                                           const char* what) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  ArrayType* array = pg::pg_call([&] { return PG_GETARG_ARRAYTYPE_P(n); });
  if (ARR_NDIM(array) > 1)
    throw PgError(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                  std::string(what) + " must be a one-dimensional array");
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  pg::pg_call(
      [&] { deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count); });
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    if (nulls[i])
      throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(what) + " must not contain NULL");
    text* t = pg::pg_call([&] { return DatumGetTextPP(elems[i]); });
    out.emplace_back(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void notice(const std::string& message) {
  pg::pg_call([&] { ereport(NOTICE, (errmsg("%s", message.c_str()))); });
}

// ------------------------------------------------------------------------------ the config

// Engine statuses from validating a configuration, as SQL errors.
[[noreturn]] void config_error(const Status& st, const std::string& context = {}) {
  int code;
  switch (st.code()) {
    case ErrorCode::kNotFound:
      code = ERRCODE_UNDEFINED_COLUMN;
      break;
    case ErrorCode::kParseError:
      code = ERRCODE_SYNTAX_ERROR;
      break;
    case ErrorCode::kInvalidArgument:
      code = ERRCODE_INVALID_PARAMETER_VALUE;
      break;
    default:
      code = pg::sqlstate_for(st.code());
  }
  throw PgError(code, context.empty() ? st.message() : context + ": " + st.message());
}

template <typename T>
T config_value(Result<T> r, const std::string& context = {}) {
  if (!r.is_ok()) config_error(r.status(), context);
  return std::move(r).value();
}

// Stands in for every endpoint so that SyncExecutor::create can check a policy against a
// mapper at save time; nothing is ever read or written through it.
class ValidationOnlyEndpoint final : public Target, public Baseline, public Stage {
 public:
  Result<std::unique_ptr<RowReader>> scan(const ScanRequest&) override { return unused(); }
  Status apply(const ChangeBatch&) override { return unused(); }
  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange&) override { return unused(); }
  Status apply(const std::vector<PlannedChange>&) override { return unused(); }
  Status put_changes(const std::vector<PlannedChange>&) override { return unused(); }
  Status put_conflicts(const std::vector<ConflictRecord>&) override { return unused(); }
  Result<int64_t> pending_conflicts() override { return unused(); }
  Status read_changes(size_t, const std::function<Status(std::vector<PlannedChange>&)>&) override {
    return unused();
  }
  Status clear() override { return unused(); }

 private:
  static Status unused() { return error(ErrorCode::kInternal, "validation-only endpoint"); }
};

Endpoint lookup_datasource(const std::string& name, const char* role) {
  pg::spi::Rows r = pg::spi::with_safe_search_path([&] {
    return pg::spi::execute("SELECT id, kind FROM dbsync.datasources WHERE name = $1", {name});
  });
  if (r.empty())
    throw PgError(ERRCODE_UNDEFINED_OBJECT,
                  std::string(role) + " datasource \"" + name + "\" does not exist", "",
                  "Register it first (INSERT INTO dbsync.datasources or dbsync.add_datasource).");
  Endpoint e;
  e.id = r.text(0, 0);
  e.name = name;
  e.kind = r.text(0, 1);
  return e;
}

void check_unique(const Endpoint& e, const std::vector<std::string>& key, const char* side) {
  const TableDescription* table = e.description();
  if (table == nullptr)
    throw PgError(ERRCODE_INTERNAL_ERROR, "the " + std::string(side) + " end is not described");
  const bool indexable = table->indexable, unique = table->unique_on(key);
  std::string what = e.local ? e.table : e.table + " (datasource \"" + e.name + "\")";
  if (!indexable) {
    notice("the " + std::string(side) + " " + what + " is a view: the uniqueness of its key (" +
           join(key) + ") cannot be checked");
    return;
  }
  if (!unique)
    throw PgError(
        ERRCODE_INVALID_COLUMN_REFERENCE,
        "key (" + join(key) + ") of the " + side + " " + what + " is not unique",
        "No primary key or unique index (without predicate or expressions) covers those columns.",
        "Create a unique index on the key columns, or give other key columns.");
}

// Which key types sort alike: both ends are read in key order and merged, so a source key must
// keep its order once mapped to the target's key type (an integer mapped to text would put 10
// before 9 and every run would fail once id 10 exists).
const char* key_order_class(const TypeSpec& t) {
  switch (t.kind) {
    case TypeKind::kInt:
    case TypeKind::kFloat:
    case TypeKind::kDecimal:
      return "number";
    case TypeKind::kTimestamp:
    case TypeKind::kDate:
      return "date or timestamp";
    case TypeKind::kText:
      return "text";
    case TypeKind::kBytes:
      return "bytes";
    case TypeKind::kBool:
      return "boolean";
    case TypeKind::kTime:
      return "time";
    case TypeKind::kJson:
      return "json";
  }
  return "other";
}

void check_key_order(const CheckedSync& k) {
  const FieldMapper& m = *k.mapper;
  const Schema& src = *k.source.schema();
  for (size_t i = 0; i < m.key_count(); ++i) {
    const Column& s = src.columns[m.source_projection()[i]];
    const Column& t = m.target_schema().columns[m.target_projection()[i]];
    const std::string sc = key_order_class(s.type), tc = key_order_class(t.type);
    if (sc == tc) continue;
    throw PgError(ERRCODE_DATATYPE_MISMATCH,
                  "key column '" + t.name + "' of the target " + k.target.table + " (" +
                      t.type.name + ") is mapped from the source key column '" + s.name + "' of " +
                      k.source.table + " (" + s.type.name + "): a " + sc +
                      " key does not keep its order as " + tc,
                  "Both ends are read in key order and merged by key; keys in a different order "
                  "(e.g. 10 before 9 as text) would fail every run.",
                  "Map the key to a column that sorts the same way (numbers to numbers, text to "
                  "text, dates and timestamps to either), or give other key columns.");
  }
}

// A remote end's table as a Source (the table is shared with the Endpoint).
class RemoteTableSource final : public Source {
 public:
  explicit RemoteTableSource(std::shared_ptr<pg::PgTable> table) : table_(std::move(table)) {}
  Result<std::unique_ptr<RowReader>> scan(const ScanRequest& request) override {
    return table_->scan(request);
  }
  Result<int64_t> estimate_rows() override { return table_->estimate_rows(); }

 private:
  std::shared_ptr<pg::PgTable> table_;
};

// A filter the remote server refused, as an SQL error.
[[noreturn]] void remote_filter_error(const Endpoint& e, const Status& st) {
  int code;
  switch (st.code()) {
    case ErrorCode::kNotFound:
      code = ERRCODE_UNDEFINED_COLUMN;
      break;
    case ErrorCode::kUnavailable:
      code = ERRCODE_CONNECTION_FAILURE;
      break;
    case ErrorCode::kCancelled:
      code = ERRCODE_QUERY_CANCELED;
      break;
    default:
      code = ERRCODE_SYNTAX_ERROR;
  }
  throw PgError(code, "invalid filter for the source " + e.table + " on datasource \"" + e.name +
                          "\": " + st.message());
}

// Validates a configuration (inside an SPI session). Errors are SQL errors naming what is wrong;
// nothing is written.
CheckedSync check_sync(const SyncConfig& c, bool notices, bool require_password) {
  CheckedSync out;
  // 1. The options.
  out.policy =
      config_value(parse_sync_policy(c.direction, c.strategy, c.strategy_options, c.delete_policy));
  if (Status st = check_batch_size(c.batch_size); !st.is_ok()) config_error(st);

  // 2. The mapping document and the keys.
  out.spec = config_value(parse_mapping_json(c.mapping));
  out.spec.target_key = c.key;
  out.spec.source_key = c.source_key;

  // 3. The ends.
  out.source = lookup_datasource(c.source, "source");
  out.target = lookup_datasource(c.target, "target");
  out.source.table = c.source_table;
  out.target.table = c.target_table;
  for (Endpoint* e : {&out.source, &out.target}) {
    if (is_master_kind(e->kind)) {
      e->local = pg::describe_local_table(e->table);
    } else if (is_postgres_family(e->kind)) {
      e->remote = pg::open_remote_table(e->name, e->table, require_password);
    }
    if (const TableDescription* table = e->description()) e->table = table->qualified;
  }
  if (out.source.id == out.target.id && out.source.table == out.target.table)
    throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "source and target are the same table");

  // 4. The mapping against the tables.
  if (out.source.schema() && out.target.schema()) {
    out.mapper =
        config_value(FieldMapper::compile(out.spec, *out.source.schema(), *out.target.schema()));
    const FieldMapper& m = *out.mapper;
    std::vector<std::string> target_key(
        m.mapped_columns().begin(), m.mapped_columns().begin() + static_cast<long>(m.key_count()));
    std::vector<std::string> source_key;
    for (size_t i = 0; i < m.key_count(); ++i)
      source_key.push_back(out.source.schema()->columns[m.source_projection()[i]].name);
    check_unique(out.target, target_key, "target");
    check_unique(out.source, source_key, "source");
    check_key_order(out);
    ValidationOnlyEndpoint stub;
    SyncEndpoints endpoints{&stub, &stub, &stub, &stub, &stub, nullptr};
    if (Status st = SyncExecutor::create(m, out.policy, endpoints).status(); !st.is_ok())
      config_error(st);
  } else {
    // A remote end cannot be described from here yet: check what needs no schema.
    ColumnResolver any_column = [](RowSide, std::string_view) -> std::optional<size_t> {
      return 0;
    };
    for (const MappingRule& r : out.spec.rules) {
      if (r.skip) continue;
      auto e = r.source_column.empty()
                   ? Expression::compile(r.expression, any_column)
                   : Expression::compile_transform(r.source_column, r.transform, any_column);
      if (!e.is_ok())
        config_error(e.status(), "mapping for target column '" + r.target_column + "'");
    }
    if (notices)
      notice("sync \"" + c.name + "\" has a " +
             (is_postgres_family(out.source.kind) ? out.target.kind : out.source.kind) +
             " end: its tables and columns are checked by dbsyncd on the first run");
  }

  // 5. The filter: one boolean condition on the source.
  if (c.filter && !c.filter->empty() && out.source.local) {
    std::string sql =
        "SELECT 1 FROM " + out.source.local->qualified + " WHERE (\n" + *c.filter + "\n)";
    pg::spi::with_safe_search_path([&] { pg::spi::check_single_statement(sql); });
  }
  if (c.filter && !c.filter->empty() && out.source.remote) {
    if (Status st = out.source.remote->check_filter(*c.filter); !st.is_ok())
      remote_filter_error(out.source, st);
    out.source.remote->set_filter(c.filter);
  }
  if (c.filter && !c.filter->empty()) out.filter = c.filter;
  return out;
}

// ------------------------------------------------------------------------------ loading

struct StoredSync {
  std::string id;
  SyncConfig config;
  std::string source_kind, target_kind;
  std::optional<std::string> created_by;
};

// By name, or by id (`by_id`: `key` is the id).
StoredSync load_sync(const std::string& key, bool for_update, bool by_id = false) {
  pg::spi::Rows r = pg::spi::with_safe_search_path([&] {
    return pg::spi::execute(
        "SELECT s.id, src.name, s.source_table, tgt.name, s.target_table, s.mapping::text, "
        "array_to_json(s.target_key)::text, array_to_json(s.source_key)::text, s.direction, "
        "s.strategy, s.strategy_options::text, s.delete_policy, s.batch_size, s.filter, src.kind, "
        "tgt.kind, s.name, s.created_by FROM dbsync.syncs s JOIN dbsync.datasources src ON "
        "src.id = s.source_id JOIN dbsync.datasources tgt ON tgt.id = s.target_id WHERE " +
            std::string(by_id ? "s.id = $1::bigint" : "s.name = $1") +
            std::string(for_update ? " FOR UPDATE OF s" : ""),
        {key});
  });
  if (r.empty())
    throw PgError(ERRCODE_UNDEFINED_OBJECT, by_id ? "sync " + key + " does not exist"
                                                  : "sync \"" + key + "\" does not exist");
  StoredSync s;
  s.id = r.text(0, 0);
  SyncConfig& c = s.config;
  c.name = r.text(0, 16);
  s.created_by = r.at(0, 17);
  c.source = r.text(0, 1);
  c.source_table = r.text(0, 2);
  c.target = r.text(0, 3);
  c.target_table = r.text(0, 4);
  c.mapping = r.text(0, 5);
  c.key = json_string_list(r.text(0, 6));
  c.source_key = json_string_list(r.text(0, 7));
  c.direction = r.text(0, 8);
  c.strategy = r.text(0, 9);
  c.strategy_options = r.text(0, 10);
  c.delete_policy = r.text(0, 11);
  c.batch_size = std::stoi(r.text(0, 12));
  c.filter = r.at(0, 13);
  s.source_kind = r.text(0, 14);
  s.target_kind = r.text(0, 15);
  return s;
}

}  // namespace

namespace {

CheckedSync compile_stored(const StoredSync& s, const char* function, bool require_password) {
  if (!is_postgres_family(s.source_kind) || !is_postgres_family(s.target_kind))
    throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
                  std::string(function) + " cannot run sync \"" + s.config.name + "\": its " +
                      (is_postgres_family(s.source_kind) ? s.target_kind : s.source_kind) +
                      " end is run by dbsyncd",
                  "",
                  "The extension reaches PostgreSQL servers only (" +
                      datasource_kind_names(KindFamily::kPostgres) + ").");
  CheckedSync k = check_sync(s.config, false, require_password);
  k.id = s.id;
  k.batch_size = s.config.batch_size;
  k.created_by = s.created_by;
  return k;
}

}  // namespace

const TableDescription* Endpoint::description() const {
  if (local) return &local->described;
  if (remote) return &remote->info().described;
  return nullptr;
}

const Schema* Endpoint::schema() const {
  if (local) return &local->schema;
  if (remote) return &remote->schema();
  return nullptr;
}

CheckedSync load_postgres_sync(const std::string& name, const char* function) {
  return compile_stored(load_sync(name, false), function, !pg::caller_is_superuser());
}

CheckedSync load_postgres_sync_by_id(int64_t id, bool require_password) {
  return compile_stored(load_sync(std::to_string(id), false, true), "the job", require_password);
}

void check_local_privileges(const CheckedSync& k, const std::string& role_oid) {
  auto check = [&](const Endpoint& e, const char* side, const std::string& privileges) {
    if (!e.local) return;
    pg::spi::Rows missing = pg::spi::query(
        "SELECT string_agg(p, ', ' ORDER BY p), (SELECT rolname FROM pg_roles WHERE oid = "
        "$1::oid) FROM unnest($3::text[]) AS p WHERE NOT has_table_privilege($1::oid, $2::oid, p)",
        {role_oid, e.local->oid, privileges});
    if (missing.empty() || !missing.at(0, 0)) return;
    throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                  "role \"" + missing.text(0, 1) + "\" lacks " + missing.text(0, 0) + " on the " +
                      side + " " + e.local->qualified,
                  "A sync reads and writes its local tables with the privileges of the role that "
                  "created or last altered it.");
  };
  check(k.source, "source",
        k.policy.direction == Direction::kTwoWay ? "{SELECT,INSERT,UPDATE,DELETE}" : "{SELECT}");
  check(k.target, "target", "{SELECT,INSERT,UPDATE,DELETE}");
}

std::unique_ptr<Source> source_reader(const CheckedSync& k) {
  if (k.source.remote) return std::make_unique<RemoteTableSource>(k.source.remote);
  if (!k.source.local) throw PgError(ERRCODE_INTERNAL_ERROR, "the source end is not open");
  return std::make_unique<LocalSource>(*k.source.local, k.filter);
}

std::unique_ptr<Source> target_reader(const CheckedSync& k) {
  if (k.target.remote) return std::make_unique<RemoteTableSource>(k.target.remote);
  if (!k.target.local) throw PgError(ERRCODE_INTERNAL_ERROR, "the target end is not open");
  return std::make_unique<LocalSource>(*k.target.local);
}

// ------------------------------------------------------------------------------ JSON

namespace {

std::string render_error(const std::string& message) {
  return "{\"_error\": " + json_string(message) + "}";
}

}  // namespace

int64_t now_unix_micros() {
  TimestampTz ts = pg::pg_call([&] { return GetCurrentTransactionStartTimestamp(); });
  return static_cast<int64_t>(ts) +
         static_cast<int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

namespace {

Datum jsonb_datum(const std::string& json) {
  return pg::pg_call([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
}

SyncConfig config_from_args(FunctionCallInfo fcinfo) {
  SyncConfig c;
  c.name = pg::text_arg(fcinfo, 0);
  c.source = pg::text_arg(fcinfo, 1);
  c.source_table = pg::text_arg(fcinfo, 2);
  c.target = pg::text_arg(fcinfo, 3);
  c.target_table = pg::text_arg(fcinfo, 4);
  c.mapping = pg::jsonb_arg_text(fcinfo, 5);
  c.key = opt_text_array_arg(fcinfo, 6, "key").value_or(std::vector<std::string>{});
  c.source_key = opt_text_array_arg(fcinfo, 7, "source_key").value_or(std::vector<std::string>{});
  c.direction = pg::text_arg(fcinfo, 8);
  c.strategy = pg::text_arg(fcinfo, 9);
  c.strategy_options = pg::jsonb_arg_text(fcinfo, 10);
  c.delete_policy = pg::text_arg(fcinfo, 11);
  if (PG_ARGISNULL(12))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "batch_size must not be null");
  c.batch_size = PG_GETARG_INT32(12);
  c.filter = opt_text_arg(fcinfo, 13);
  return c;
}

std::vector<Param> row_params(const SyncConfig& c, const CheckedSync& k) {
  return {c.name,
          k.source.id,
          k.source.table,
          k.target.id,
          k.target.table,
          c.mapping,
          audit_text_array(c.source_key),
          audit_text_array(c.key),
          c.filter && !c.filter->empty() ? Param(*c.filter) : Param(),
          c.direction,
          c.strategy,
          c.strategy_options,
          c.delete_policy,
          std::to_string(c.batch_size)};
}

}  // namespace
}  // namespace dbsync::ext

using namespace dbsync;  // NOLINT: the SQL entry points below
using dbsync::pg::PgError;

// dbsync.create_sync(name, source, source_table, target, target_table, mapping, key, source_key,
//   direction, strategy, strategy_options, delete_policy, batch_size, filter, audit) -> bigint
DBSYNC_FUNCTION(dbsync_create_sync) {
  ext::SyncConfig c = ext::config_from_args(fcinfo);
  if (PG_ARGISNULL(14)) throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "audit must not be null");
  const bool audit = PG_GETARG_BOOL(14);
  std::string id = pg::spi::session([&] {
    ext::CheckedSync k = ext::check_sync(c, true, !pg::caller_is_superuser());
    const std::string caller = std::to_string(pg::pg_call([] { return GetOuterUserId(); }));
    ext::check_local_privileges(k, caller);
    return pg::spi::with_safe_search_path([&] {
      if (!pg::spi::execute("SELECT 1 FROM dbsync.syncs WHERE name = $1", {c.name}).empty())
        throw PgError(ERRCODE_DUPLICATE_OBJECT, "sync \"" + c.name + "\" already exists");
      // Last: everything above only read.
      std::vector<pg::spi::Param> params = ext::row_params(c, k);
      params.push_back(caller);
      params.push_back(audit ? "true" : "false");
      pg::spi::Rows r = pg::spi::execute(
          "INSERT INTO dbsync.syncs (name, source_id, source_table, target_id, target_table, "
          "mapping, "
          "source_key, target_key, filter, direction, strategy, strategy_options, delete_policy, "
          "batch_size, created_by, audit) VALUES ($1, $2::bigint, $3, $4::bigint, $5, $6::jsonb, "
          "$7::text[], $8::text[], $9, $10, $11, $12::jsonb, $13, $14::integer, $15::oid, "
          "$16::boolean) "
          "RETURNING id",
          params);
      return r.text(0, 0);
    });
  });
  return Int64GetDatum(std::stoll(id));
}

// dbsync.alter_sync(name, mapping, key, source_key, direction, strategy, strategy_options,
//   delete_policy, batch_size, filter, source, source_table, target, target_table, audit) -> void
// NULL leaves a field as it is; key => '{}' and filter => '' clear them.
DBSYNC_FUNCTION(dbsync_alter_sync) {
  std::string name = pg::text_arg(fcinfo, 0);
  auto mapping = ext::opt_jsonb_arg(fcinfo, 1);
  auto key = ext::opt_text_array_arg(fcinfo, 2, "key");
  auto source_key = ext::opt_text_array_arg(fcinfo, 3, "source_key");
  auto direction = ext::opt_text_arg(fcinfo, 4);
  auto strategy = ext::opt_text_arg(fcinfo, 5);
  auto strategy_options = ext::opt_jsonb_arg(fcinfo, 6);
  auto delete_policy = ext::opt_text_arg(fcinfo, 7);
  std::optional<int> batch_size;
  if (!PG_ARGISNULL(8)) batch_size = PG_GETARG_INT32(8);
  auto filter = ext::opt_text_arg(fcinfo, 9);
  auto source = ext::opt_text_arg(fcinfo, 10);
  auto source_table = ext::opt_text_arg(fcinfo, 11);
  auto target = ext::opt_text_arg(fcinfo, 12);
  auto target_table = ext::opt_text_arg(fcinfo, 13);
  pg::spi::Param audit;
  if (!PG_ARGISNULL(14)) audit = PG_GETARG_BOOL(14) ? "true" : "false";

  pg::spi::session([&] {
    ext::StoredSync old = ext::load_sync(name, true);
    pg::spi::with_safe_search_path([&] {
      if (!pg::spi::execute(catalog_sql::kJobInProgress, {old.id}).empty())
        throw PgError(ERRCODE_OBJECT_IN_USE, "sync \"" + name + "\" has a job in progress", "",
                      "Wait for it to finish, or cancel it.");
    });
    // The old configuration's canonical tables, to tell a real change from a respelling.
    ext::SyncConfig c = old.config;
    if (mapping) c.mapping = *mapping;
    if (key) c.key = *key;
    if (source_key) c.source_key = *source_key;
    if (direction) c.direction = *direction;
    if (strategy) c.strategy = *strategy;
    if (strategy_options) c.strategy_options = *strategy_options;
    if (delete_policy) c.delete_policy = *delete_policy;
    if (batch_size) c.batch_size = *batch_size;
    if (filter) c.filter = filter->empty() ? std::nullopt : filter;
    if (source) c.source = *source;
    if (source_table) c.source_table = *source_table;
    if (target) c.target = *target;
    if (target_table) c.target_table = *target_table;
    ext::CheckedSync k = ext::check_sync(c, true, !pg::caller_is_superuser());
    // Whoever alters a sync becomes its owner: its jobs use that role's privileges and password
    // rule from now on (otherwise one admin could point another's sync at what only they read).
    const std::string caller = std::to_string(pg::pg_call([] { return GetOuterUserId(); }));
    ext::check_local_privileges(k, caller);

    // Compared as stored (jsonb text is canonical): the baseline holds hashes of mapped rows
    // by key, meaningless once the mapping, the keys or the tables change.
    std::string new_mapping = pg::spi::with_safe_search_path([&] {
                                return pg::spi::execute("SELECT $1::jsonb::text", {c.mapping});
                              }).text(0, 0);
    bool reset = new_mapping != old.config.mapping || c.key != old.config.key ||
                 c.source_key != old.config.source_key || c.source != old.config.source ||
                 c.target != old.config.target || k.source.table != old.config.source_table ||
                 k.target.table != old.config.target_table;
    pg::spi::with_safe_search_path([&] {
      std::vector<pg::spi::Param> params = ext::row_params(c, k);
      params.push_back(old.id);
      params.push_back(caller);
      params.push_back(audit);
      pg::spi::execute(
          "UPDATE dbsync.syncs SET name = $1, source_id = $2::bigint, source_table = $3, "
          "target_id = $4::bigint, target_table = $5, mapping = $6::jsonb, source_key = "
          "$7::text[], "
          "target_key = $8::text[], filter = $9, direction = $10, strategy = $11, "
          "strategy_options = $12::jsonb, delete_policy = $13, batch_size = $14::integer, "
          "created_by = $16::oid, audit = COALESCE($17::boolean, audit), updated_at = now() "
          "WHERE id = $15::bigint",
          params);
      if (reset) {
        pg::spi::Rows d =
            pg::spi::execute("DELETE FROM dbsync.sync_state WHERE sync_id = $1::bigint", {old.id});
        ext::notice("sync \"" + name + "\": the mapping, keys or tables changed; its baseline (" +
                    std::to_string(d.processed) + (d.processed == 1 ? " key" : " keys") +
                    ") was cleared, so the next run compares all rows afresh");
      }
    });
  });
  PG_RETURN_VOID();
}

// dbsync.map_row(sync, row jsonb) -> jsonb: one source row (column -> value) through the mapping.
DBSYNC_FUNCTION(dbsync_map_row) {
  std::string name = pg::text_arg(fcinfo, 0);
  std::string row_text = pg::jsonb_arg_text(fcinfo, 1);
  int64_t now = ext::now_unix_micros();
  std::string result = pg::spi::session([&] {
    ext::CheckedSync k = ext::load_postgres_sync(name, "map_row");
    const FieldMapper& m = *k.mapper;
    const Schema& src = m.source_schema();
    nlohmann::json row = nlohmann::json::parse(row_text, nullptr, false);
    if (!row.is_object())
      throw PgError(ERRCODE_INVALID_PARAMETER_VALUE,
                    "row must be a JSON object (source column -> value)");
    for (auto it = row.begin(); it != row.end(); ++it)
      if (src.index_of(it.key()) < 0)
        throw PgError(ERRCODE_UNDEFINED_COLUMN,
                      "source table " + k.source.table + " has no column \"" + it.key() + "\"");
    Row projected;
    for (size_t idx : m.source_projection()) {
      const Column& col = src.columns[idx];
      auto found = row.find(col.name);
      if (found == row.end()) {
        projected.push_back(Value::null());
        continue;
      }
      dbsync::Result<dbsync::Value> v = value_from_json(*found, col.type);
      if (!v.is_ok()) pg::throw_if_error(v.status(), "source column '" + col.name + "'");
      projected.push_back(std::move(v).value());
    }
    Row out;
    pg::throw_if_error(m.map_row(projected, nullptr, now, out));
    return render_row(m, out);
  });
  return ext::jsonb_datum(result);
}

// dbsync.preview(sync, lim) -> SETOF jsonb: the first `lim` source rows in key order, mapped;
// a row that fails to map is {"_error": "..."}.
DBSYNC_FUNCTION(dbsync_preview) {
  std::string name = pg::text_arg(fcinfo, 0);
  int64_t limit = PG_ARGISNULL(1) ? 10 : PG_GETARG_INT32(1);
  if (limit < 0) throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "lim must not be negative");
  int64_t now = ext::now_unix_micros();
  std::vector<std::string> rows = pg::spi::session([&] {
    ext::CheckedSync k = ext::load_postgres_sync(name, "preview");
    const FieldMapper& m = *k.mapper;
    std::vector<std::string> out;
    if (limit == 0) return out;
    std::unique_ptr<Source> source = ext::source_reader(k);
    ScanRequest request{m.source_projection(),
                        m.key_count(),
                        {},
                        static_cast<size_t>(std::min<int64_t>(limit, 1000))};
    std::unique_ptr<RowReader> reader =
        pg::value_or_throw(source->scan(request), "reading the source " + k.source.table);
    Row mapped;
    while (static_cast<int64_t>(out.size()) < limit) {
      const Row* source_row = nullptr;
      Status st = reader->next(source_row);
      if (st.is_ok() && source_row == nullptr) break;
      if (st.is_ok()) st = m.map_row(*source_row, nullptr, now, mapped);
      out.push_back(st.is_ok() ? render_row(m, mapped) : ext::render_error(st.message()));
    }
    return out;
  });

  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::pg_call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  for (const std::string& row : rows) {
    const char* json = row.c_str();
    pg::pg_call([&] {
      Datum value = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
      bool isnull = false;
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
    });
  }
  return Datum(0);
}
