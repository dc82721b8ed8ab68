#include "daemon/runner/job_sync.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

namespace dbsync::daemon {
namespace {

using pg::PgParam;

std::vector<std::string> json_string_array(std::string_view text) {
  std::vector<std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

bool is_postgres_family(const std::string& kind) {
  return kind == "local" || kind == "postgres" || kind == "supabase" || kind == "neon";
}

// The conninfo of a remote end, decrypted; wiped by the caller once connected.
Result<std::string> open_conninfo(const std::string& datasource, std::string_view sealed,
                                  const secrets::Key* key) {
  if (!key)
    return error(ErrorCode::kInvalidArgument,
                 "SECRET_KEY is not set: cannot read the conninfo of datasource \"" + datasource +
                     "\" (set it to the key of dbsync.secret_key_file)");
  Result<std::string> plain = secrets::open(*key, sealed);
  if (!plain.is_ok())
    return error(ErrorCode::kInvalidArgument, "cannot decrypt the conninfo of datasource \"" +
                                                  datasource + "\": " + plain.status().message() +
                                                  " (is SECRET_KEY the key of "
                                                  "dbsync.secret_key_file?)");
  return plain;
}

}  // namespace

Result<SyncPolicy> parse_sync_policy(const std::string& direction, const std::string& strategy,
                                     const std::string& strategy_options,
                                     const std::string& delete_policy) {
  SyncPolicy p;
  DBSYNC_ASSIGN_OR_RETURN(p.direction, parse_direction(direction));
  DBSYNC_ASSIGN_OR_RETURN(p.strategy, parse_strategy(strategy));
  nlohmann::json opts = nlohmann::json::parse(strategy_options, nullptr, false);
  if (!opts.is_object())
    return error(ErrorCode::kInvalidArgument, "strategy_options must be a JSON object");
  auto text = [&](const char* k) -> std::optional<std::string> {
    auto it = opts.find(k);
    if (it == opts.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  if (auto v = text("merge_fallback")) {
    DBSYNC_ASSIGN_OR_RETURN(p.merge_fallback, parse_merge_fallback(*v));
  }
  if (auto v = text("manual_mode")) {
    DBSYNC_ASSIGN_OR_RETURN(p.manual_mode, parse_manual_mode(*v));
  }
  if (auto v = text("webhook_fallback")) {
    DBSYNC_ASSIGN_OR_RETURN(p.webhook_fallback, parse_strategy(*v));
  }
  DBSYNC_RETURN_IF_ERROR(parse_delete_policy(delete_policy, p));
  return p;
}

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
  spec->target_key = json_string_array(text(4));
  spec->source_key = json_string_array(text(5));
  // Remote connections are made for the sync's owner: one that is not a superuser must
  // authenticate with a password (dblink's rule, as in the extension).
  const bool require_password = text(20) != "true";

  auto open_end = [&](int table_col, int first, const char* side,
                      std::unique_ptr<pg::PgTable>& out) -> Status {
    const std::string table = text(table_col);
    const std::string ds = text(first);
    const std::string kind = text(first + 1);
    if (!is_postgres_family(kind))
      return error(ErrorCode::kInvalidArgument, "the " + std::string(side) + " datasource \"" + ds +
                                                    "\" is of kind " + kind +
                                                    ", which this dbsyncd cannot reach yet");
    Result<std::unique_ptr<pg::PgTable>> t = error(ErrorCode::kInternal, "not opened");
    if (kind == "local") {
      t = pg::PgTable::open(master_conninfo, table, pg::ConnectOptions{10000, false});
    } else {
      if (r->is_null(0, first + 2))
        return error(ErrorCode::kInvalidArgument, "datasource \"" + ds + "\" has no conninfo");
      Result<std::string> conninfo = open_conninfo(ds, r->get(0, first + 2), key);
      if (!conninfo.is_ok()) return conninfo.status();
      int timeout_ms = 10000;
      if (!r->is_null(0, first + 3)) {
        double seconds = std::strtod(text(first + 3).c_str(), nullptr);
        if (seconds > 0 && seconds <= 3600) timeout_ms = static_cast<int>(seconds * 1000);
      }
      t = pg::PgTable::open(*conninfo, table, pg::ConnectOptions{timeout_ms, require_password});
      secrets::wipe(*conninfo);
    }
    if (!t.is_ok())
      return t.status().with_context("the " + std::string(side) + " " + table +
                                     " on datasource \"" + ds + "\"");
    out = std::move(t).value();
    (side[0] == 's' ? s->source_kind : s->target_kind) = kind;
    return Status::ok();
  };
  if (Status st = open_end(1, 12, "source", s->source); !st.is_ok())
    return st.with_context(context);
  if (Status st = open_end(2, 16, "target", s->target); !st.is_ok())
    return st.with_context(context);
  if (!r->is_null(0, 11) && !text(11).empty()) s->source->set_filter(text(11));

  Result<FieldMapper> mapper =
      FieldMapper::compile(*spec, s->source->schema(), s->target->schema());
  if (!mapper.is_ok()) return mapper.status().with_context(context);
  s->mapper.emplace(std::move(mapper).value());
  return s;
}

}  // namespace dbsync::daemon
