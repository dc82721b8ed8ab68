#include "daemon/runner/job_sync.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/sync_policy.hpp"
#include "engine/value_json.hpp"

namespace dbsync::daemon {
namespace {

using pg::PgParam;

}  // namespace

Result<std::unique_ptr<JobSync>> load_job_sync(pg::PgConnection& master,
                                               const std::string& master_conninfo, int64_t sync_id,
                                               const secrets::Key* key) {
  Result<pg::PgResult> r = master.query(
      "SELECT s.name, s.source_table, s.target_table, s.mapping::text, "
      "array_to_json(s.target_key)::text, array_to_json(s.source_key)::text, s.direction, "
      "s.strategy, s.strategy_options::text, s.delete_policy, s.batch_size::text, s.filter, "
      "src.name, src.kind, src.conninfo, src.options ->> 'connect_timeout', "
      "tgt.name, tgt.kind, tgt.conninfo, tgt.options ->> 'connect_timeout', "
      "COALESCE(a.rolsuper, false)::text "
      "FROM dbsync.syncs s JOIN dbsync.datasources src ON src.id = s.source_id "
      "JOIN dbsync.datasources tgt ON tgt.id = s.target_id "
      "LEFT JOIN pg_roles a ON a.oid = s.created_by WHERE s.id = $1::bigint",
      {PgParam::text(std::to_string(sync_id))}, /*binary_result=*/true);
  if (!r.is_ok()) return r.status().with_context("loading sync " + std::to_string(sync_id));
  if (r->rows() == 0)
    return error(ErrorCode::kNotFound, "sync " + std::to_string(sync_id) + " does not exist");
  auto text = [&](int c) { return std::string(r->get(0, c)); };
  auto s = std::make_unique<JobSync>();
  s->id = std::to_string(sync_id);
  s->name = text(0);
  const std::string context = "sync \"" + s->name + "\"";
  s->batch_size = std::atoi(text(10).c_str());
  if (s->batch_size < 1) s->batch_size = 1000;
  Result<SyncPolicy> policy = parse_sync_policy(text(6), text(7), text(8), text(9));
  if (!policy.is_ok()) return policy.status().with_context(context);
  s->policy = *policy;
  Result<MappingSpec> spec = parse_mapping_json(text(3));
  if (!spec.is_ok()) return spec.status().with_context(context);
  spec->target_key = json_string_list(text(4));
  spec->source_key = json_string_list(text(5));
  // Remote connections are made for the sync's owner: one that is not a superuser must
  // authenticate with a password (dblink's rule, as in the extension).
  const bool require_password = text(20) != "true";

  const EndContext ends{master_conninfo, key};
  auto end_spec = [&](int table_col, int first, const char* side) {
    EndSpec e;
    e.side = side;
    e.table = text(table_col);
    e.datasource = text(first);
    e.kind = text(first + 1);
    if (!r->is_null(0, first + 2)) e.sealed_conninfo = text(first + 2);
    if (!r->is_null(0, first + 3)) e.connect_timeout = text(first + 3);
    e.require_password = require_password;
    return e;
  };
  EndSpec source = end_spec(1, 12, "source");
  if (!r->is_null(0, 11) && !text(11).empty()) source.filter = text(11);
  Result<OpenedEnd> opened = open_end(source, ends);
  if (!opened.is_ok()) return opened.status().with_context(context);
  s->source = std::move(opened).value();
  opened = open_end(end_spec(2, 16, "target"), ends);
  if (!opened.is_ok()) return opened.status().with_context(context);
  s->target = std::move(opened).value();

  Result<FieldMapper> mapper = FieldMapper::compile(*spec, *s->source.schema, *s->target.schema);
  if (!mapper.is_ok()) return mapper.status().with_context(context);
  s->mapper.emplace(std::move(mapper).value());
  return s;
}

}  // namespace dbsync::daemon
