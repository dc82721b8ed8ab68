#include "daemon/catalog/syncs.hpp"

#include "engine/hex.hpp"

namespace dbsync::daemon::catalog {

using nlohmann::json;

const std::vector<SyncArg>& sync_args() {
  using T = SyncArgType;
  static const std::vector<SyncArg> kArgs = {{"name", T::kText, false},
                                             {"source", T::kText, false},
                                             {"source_table", T::kText, false},
                                             {"target", T::kText, false},
                                             {"target_table", T::kText, false},
                                             {"mapping", T::kJsonb, false},
                                             {"key", T::kTextArray, false},
                                             {"source_key", T::kTextArray, false},
                                             {"direction", T::kText, false},
                                             {"strategy", T::kText, false},
                                             {"strategy_options", T::kJsonb, false},
                                             {"delete_policy", T::kText, false},
                                             {"batch_size", T::kInteger, false},
                                             {"filter", T::kText, true},
                                             {"audit", T::kBoolean, false}};
  return kArgs;
}

namespace {

const char* kSyncJson = "SELECT to_jsonb(l) FROM dbsync.sync_list l ";

// Named arguments for the fields present (names are ours, values bound), after `params`.
std::string named_args(const json& fields, std::vector<DbParam>& params, bool skip_name) {
  std::string args;
  for (const SyncArg& a : sync_args()) {
    const std::string n = a.name;
    if (!fields.contains(n) || (skip_name && n == "name")) continue;
    const json& v = fields[n];
    const std::string ph = "$" + std::to_string(params.size() + 1);
    std::string expr;
    switch (a.type) {
      case SyncArgType::kJsonb:
        expr = ph + "::jsonb";
        params.push_back(v.dump());
        break;
      case SyncArgType::kTextArray:
        expr = "ARRAY(SELECT jsonb_array_elements_text(" + ph + "::jsonb))::text[]";
        params.push_back(v.dump());
        break;
      case SyncArgType::kInteger:
        expr = ph + "::integer";
        params.push_back(v.dump());
        break;
      case SyncArgType::kBoolean:
        expr = ph + "::boolean";
        params.push_back(v.get<bool>() ? "true" : "false");
        break;
      case SyncArgType::kText:
        expr = ph + "::text";
        // filter: null clears it (the SQL API's '' means "no filter").
        params.push_back(v.is_null() ? std::string() : v.get<std::string>());
        break;
    }
    args += (args.empty() ? "" : ", ") + std::string("\"") + n + "\" => " + expr;
  }
  return args;
}

}  // namespace

DbResult<json> list_syncs(pg::PgConnection& db, std::optional<long long> after, long long limit) {
  return json_rows(
      db, std::string(kSyncJson) + "WHERE ($1::bigint IS NULL OR l.id > $1) ORDER BY l.id LIMIT $2",
      {id_param(after), std::to_string(limit)});
}

DbResult<std::optional<json>> get_sync(pg::PgConnection& db, long long id) {
  return json_row(db, std::string(kSyncJson) + "WHERE l.id = $1", {std::to_string(id)});
}

DbResult<std::optional<std::string>> sync_name(pg::PgConnection& db, long long id) {
  auto r = run(db, "SELECT name FROM dbsync.syncs WHERE id = $1", {std::to_string(id)});
  if (!r.is_ok()) return r.failure();
  if (r.value().rows() == 0) return std::optional<std::string>{};
  return std::optional<std::string>{std::string(r.value().get(0, 0))};
}

DbResult<long long> create_sync(pg::PgConnection& db, const json& fields) {
  std::vector<DbParam> params;
  const std::string args = named_args(fields, params, false);
  auto r = run(db, "SELECT dbsync.create_sync(" + args + ")", params);
  if (!r.is_ok()) return r.failure();
  return std::stoll(std::string(r.value().get(0, 0)));
}

DbStatus alter_sync(pg::PgConnection& db, const std::string& name, const json& fields) {
  std::vector<DbParam> params{name};
  const std::string args = named_args(fields, params, true);
  if (args.empty()) return Done{};
  return exec(db, "SELECT dbsync.alter_sync(\"name\" => $1, " + args + ")", params);
}

DbStatus drop_sync(pg::PgConnection& db, const std::string& name) {
  return exec(db, "SELECT dbsync.drop_sync($1)", {name});
}

DbStatus set_schedule(pg::PgConnection& db, const std::string& name,
                      const std::optional<std::string>& cron) {
  if (!cron) return exec(db, "SELECT dbsync.unschedule($1)", {name});
  return exec(db, "SELECT dbsync.schedule($1, $2)", {name, *cron});
}

DbResult<json> preview(pg::PgConnection& db, const std::string& name, long long limit) {
  auto r =
      json_rows(db, "SELECT COALESCE(jsonb_agg(p), '[]') FROM dbsync.preview($1, $2::integer) p",
                {name, std::to_string(limit)});
  if (!r.is_ok()) return r.failure();
  return std::move(r.value()[0]);
}

DbResult<json> diff(pg::PgConnection& db, const std::string& name, long long limit) {
  auto r = json_rows(
      db, "SELECT COALESCE(jsonb_agg(to_jsonb(d)), '[]') FROM dbsync.diff($1, $2::integer) d",
      {name, std::to_string(limit)});
  if (!r.is_ok()) return r.failure();
  return std::move(r.value()[0]);
}

DbResult<std::optional<json>> queue_job(pg::PgConnection& db, long long sync_id,
                                        const std::string& trigger,
                                        const std::string& requested_by) {
  return json_row(db,
                  "SELECT jsonb_build_object('job_id', job_id, 'created', created) "
                  "FROM dbsync.queue_job($1::bigint, $2, $3)",
                  {std::to_string(sync_id), trigger, requested_by});
}

DbResult<std::optional<json>> put_webhook_secret(pg::PgConnection& db, long long sync_id,
                                                 const std::string& sealed) {
  return json_row(db,
                  "INSERT INTO dbsync.webhook_secrets AS w (sync_id, secret) "
                  "VALUES ($1::bigint, decode($2, 'hex')) ON CONFLICT (sync_id) DO "
                  "UPDATE SET secret = EXCLUDED.secret, created_at = now() "
                  "RETURNING jsonb_build_object('created_at', w.created_at)",
                  {std::to_string(sync_id), hex::encode(sealed)});
}

DbResult<bool> delete_webhook_secret(pg::PgConnection& db, long long sync_id) {
  auto r = run(db, "DELETE FROM dbsync.webhook_secrets WHERE sync_id = $1::bigint RETURNING 1",
               {std::to_string(sync_id)});
  if (!r.is_ok()) return r.failure();
  return r.value().rows() > 0;
}

DbResult<std::optional<std::string>> webhook_secret(pg::PgConnection& db, long long sync_id) {
  auto r =
      run(db, "SELECT encode(secret, 'hex') FROM dbsync.webhook_secrets WHERE sync_id = $1::bigint",
          {std::to_string(sync_id)});
  if (!r.is_ok()) return r.failure();
  if (r.value().rows() == 0) return std::optional<std::string>{};
  auto sealed = hex::decode(r.value().get(0, 0));
  if (!sealed)
    return DbFailure{"XX000", "dbsync.webhook_secrets holds a secret that is not bytea", "", ""};
  return std::optional<std::string>{std::move(*sealed)};
}

}  // namespace dbsync::daemon::catalog
