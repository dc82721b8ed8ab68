#include "daemon/runner/redis_stage_factory.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_values.hpp"
#include "common/catalog_sql.hpp"
#include "common/catalog_stage.hpp"
#include "engine/hex.hpp"
#include "engine/row_codec.hpp"
#include "engine/value_json.hpp"

namespace dbsync::daemon {
namespace {

using pg::PgParam;

std::string num(int64_t v) { return std::to_string(v); }

}  // namespace

Result<std::string> open_redis_password(const std::string& jsonb_type, const std::string& content,
                                        const secrets::Key* key) {
  if (jsonb_type == "string") return content;  // stored in clear before sealing existed
  if (jsonb_type != "object" || content.empty())
    return error(ErrorCode::kInvalidArgument,
                 "the stored Redis password (daemon.redis_password) is malformed: set it again");
  if (!key)
    return error(ErrorCode::kInvalidArgument,
                 "the Redis password (daemon.redis_password) is sealed with SECRET_KEY, which is "
                 "not set: start dbsyncd with the SECRET_KEY it was saved with");
  std::optional<std::string> sealed = hex::decode(content);
  if (!sealed)
    return error(ErrorCode::kInvalidArgument,
                 "the stored Redis password (daemon.redis_password) is malformed: set it again");
  Result<std::string> plain = secrets::open(*key, *sealed);
  if (!plain.is_ok())
    return error(
        ErrorCode::kInvalidArgument,
        "cannot decrypt the Redis password (daemon.redis_password): " + plain.status().message() +
            " (is SECRET_KEY the key it was saved with? Otherwise save the password "
            "again with PUT /api/settings)");
  return plain;
}

Result<std::string> seal_redis_password(const secrets::Key& key, std::string_view password) {
  DBSYNC_ASSIGN_OR_RETURN(std::string sealed, secrets::seal(key, password));
  return hex::encode(sealed);
}

Result<std::optional<RedisSettings>> read_redis_settings(pg::PgConnection& master,
                                                         const secrets::Key* key) {
  Result<pg::PgResult> r = master.query(catalog_sql::kRedisSettings);
  if (!r.is_ok()) return r.status().with_context("reading the Redis settings");
  if (r->rows() == 0 || r->is_null(0, 0) || r->get(0, 0).empty())
    return std::optional<RedisSettings>();
  RedisSettings s;
  s.url = std::string(r->get(0, 0));
  if (!r->is_null(0, 1)) {
    std::string content = r->is_null(0, 2) ? std::string() : std::string(r->get(0, 2));
    Result<std::string> password = open_redis_password(std::string(r->get(0, 1)), content, key);
    secrets::wipe(content);
    if (!password.is_ok()) return password.status();
    s.password = std::move(password).value();
  }
  return std::optional<RedisSettings>(std::move(s));
}

Result<redis::RedisStageOptions> redis_stage_options(pg::PgConnection& master) {
  Result<pg::PgResult> r = master.query(
      "SELECT oid::text FROM pg_catalog.pg_database WHERE datname = current_database()");
  if (!r.is_ok()) return r.status().with_context("reading the master database's oid");
  if (r->rows() == 0) return error(ErrorCode::kInternal, "the master database has no oid");
  redis::RedisStageOptions o;
  o.prefix = "dbsync:" + std::string(r->get(0, 0));
  return o;
}

bool strategy_uses_redis_stage(Strategy s) {
  return s == Strategy::kManual || s == Strategy::kWebhook;
}

namespace {

// KEYS: the stage's keys (changes, conflicts, status, decisions, pending, meta, rows); ARGV:
// ttl, changes to keep, last conflict id to keep. Drops what was put after that point.
const char* const kRewind = R"lua(
local keep = tonumber(ARGV[2])
local last = tonumber(ARGV[3])
local have = redis.call('LLEN', KEYS[1])
local given = tonumber(redis.call('HGET', KEYS[6], 'next_conflict_id') or '0')
if have < keep or given < last or redis.call('HLEN', KEYS[2]) < last then
  return redis.error_reply('DBSYNC_STAGE_LOST ' .. have .. ' ' .. given)
end
if keep == 0 then redis.call('DEL', KEYS[1]) else redis.call('LTRIM', KEYS[1], 0, keep - 1) end
local next = given
for id = last + 1, next do
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[7], id)
end
redis.call('HSET', KEYS[6], 'next_conflict_id', last)
redis.call('HSET', KEYS[6], 'staged', keep)
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return next - last
)lua";

// KEYS: changes, meta, conflicts. What the stage holds: {meta exists, changes listed, changes
// ever staged (-1: not counted), changes trimmed, last conflict id, conflicts stored}.
const char* const kCount = R"lua(
local m = redis.call('HMGET', KEYS[2], 'staged', 'trimmed', 'next_conflict_id')
return {redis.call('EXISTS', KEYS[2]), redis.call('LLEN', KEYS[1]), tonumber(m[1] or '-1'),
        tonumber(m[2] or '0'), tonumber(m[3] or '0'), redis.call('HLEN', KEYS[3])}
)lua";

// KEYS: changes, meta; ARGV: how many of the list's head to remove. LTRIM and the count of
// changes trimmed so far, together.
const char* const kTrim = R"lua(
local n = tonumber(ARGV[1])
if n > 0 then redis.call('LTRIM', KEYS[1], n, -1) end
return redis.call('HINCRBY', KEYS[2], 'trimmed', n)
)lua";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Result<int64_t> to_int(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return error(ErrorCode::kInternal, "the job's stage mark is malformed");
  return static_cast<int64_t>(std::stoll(s));
}

}  // namespace

Result<std::unique_ptr<RedisJobStage>> RedisJobStage::open(const RedisSettings& settings,
                                                           int64_t job_id,
                                                           redis::RedisStageOptions options,
                                                           Start start, bool run_step,
                                                           const std::optional<std::string>& mark) {
  std::unique_ptr<RedisJobStage> s(new RedisJobStage());
  Result<redis::RedisConnection> c =
      redis::RedisConnection::connect(settings.url, settings.password);
  if (!c.is_ok()) return c.status().with_context("connecting to the Redis stage");
  s->conn_ = std::make_unique<redis::RedisConnection>(std::move(c).value());
  s->ttl_ = std::to_string(options.ttl.count());
  s->job_id_ = job_id;
  Result<std::unique_ptr<redis::RedisStage>> st =
      redis::RedisStage::open(*s->conn_, num(job_id), std::move(options));
  if (!st.is_ok()) return st.status();
  s->stage_ = std::move(st).value();
  s->run_step_ = run_step;
  if (start == Start::kFresh) {
    DBSYNC_RETURN_IF_ERROR(s->stage_->clear());
    return s;
  }
  if (start == Start::kAsIs) return s;
  std::vector<std::string> m = split(mark.value_or(""));
  if (run_step && m.size() == 3 && m[0] == "run") {
    DBSYNC_ASSIGN_OR_RETURN(int64_t staged, to_int(m[1]));
    DBSYNC_ASSIGN_OR_RETURN(int64_t last, to_int(m[2]));
    DBSYNC_RETURN_IF_ERROR(s->rewind_run(staged, last));
  } else if (!run_step && m.size() == 3 && m[0] == "run") {
    // A commit step's first attempt: the run's totals, which the stage must still hold.
    DBSYNC_ASSIGN_OR_RETURN(s->staged_, to_int(m[1]));
    DBSYNC_ASSIGN_OR_RETURN(s->last_conflict_, to_int(m[2]));
  } else if (m.size() == 2 && m[0] == "commit") {
    DBSYNC_ASSIGN_OR_RETURN(int64_t applied, to_int(m[1]));
    DBSYNC_RETURN_IF_ERROR(s->skip_applied(applied));
  }
  return s;
}

Result<int64_t> RedisJobStage::meta_int(const char* field) {
  Result<redis::RedisReply> r = conn_->command({"HGET", stage_->key("meta"), field});
  if (!r.is_ok()) return r.status().with_context("stage of job " + stage_->job());
  if (r->is_nil()) return int64_t{0};
  return to_int(std::string(r->str()));
}

Status RedisJobStage::rewind_run(int64_t staged, int64_t last_conflict) {
  std::vector<std::string> k = stage_->keys();
  std::string staged_s = std::to_string(staged), last_s = std::to_string(last_conflict);
  const std::string nkeys = std::to_string(k.size());
  std::vector<std::string_view> args{"EVAL", kRewind, nkeys};
  for (const std::string& key : k) args.push_back(key);
  args.push_back(ttl_);
  args.push_back(staged_s);
  args.push_back(last_s);
  Result<redis::RedisReply> r = conn_->command(args);
  if (!r.is_ok() && r.status().message().find("DBSYNC_STAGE_LOST") != std::string::npos)
    return lost(staged, last_conflict);  // the script's error reply: less than the mark
  if (!r.is_ok())
    return r.status().with_context("stage of job " + stage_->job() +
                                   ", returning to its last checkpoint");
  staged_ = staged;
  last_conflict_ = last_conflict;
  return Status::ok();
}

Status RedisJobStage::skip_applied(int64_t applied) {
  DBSYNC_ASSIGN_OR_RETURN(int64_t trimmed, meta_int("trimmed"));
  if (applied > trimmed) {
    // Applied and committed, but the LTRIM after it did not happen: never apply them again.
    std::string n = std::to_string(applied - trimmed);
    Result<redis::RedisReply> r =
        conn_->command({"EVAL", kTrim, "2", stage_->key("changes"), stage_->key("meta"), n});
    if (!r.is_ok())
      return r.status().with_context("stage of job " + stage_->job() +
                                     ", removing changes already applied");
  }
  applied_ = std::max(applied, trimmed);
  committing_ = true;
  return Status::ok();
}

Status RedisJobStage::lost(int64_t changes, int64_t conflicts) const {
  return error(ErrorCode::kConflict,
               "the stage of job " + stage_->job() + " in " + where() + " lost its data: it no " +
                   "longer holds the " + std::to_string(changes) + " change(s) and " +
                   std::to_string(conflicts) + " conflict(s) the job staged there (Redis " +
                   "restarted without persistence, evicted the keys, or they were deleted); " +
                   "the job stops here: what it committed stays, nothing else was applied. Run " +
                   "the sync again");
}

Status RedisJobStage::verify() {
  if (!committing_ && staged_ == 0 && last_conflict_ == 0) return Status::ok();  // nothing yet
  Result<redis::RedisReply> r = conn_->command(
      {"EVAL", kCount, "3", stage_->key("changes"), stage_->key("meta"), stage_->key("conflicts")});
  if (!r.is_ok()) return r.status().with_context("stage of job " + stage_->job());
  if (!r->is_array() || r->size() != 6)
    return error(ErrorCode::kInternal, "stage of job " + stage_->job() + ": the count answered " +
                                           std::string(r->type_name()));
  int64_t v[6];
  for (size_t i = 0; i < 6; ++i) v[i] = redis::element_integer(r->element(i)).value_or(-1);
  const bool meta = v[0] == 1;
  const int64_t listed = v[1], ever = v[2], trimmed = v[3], last = v[4], stored = v[5];
  if (meta) saw_meta_ = true;
  bool intact;
  if (!meta)  // every put writes meta: gone means lost, once anything was staged or seen
    intact = staged_ == 0 && last_conflict_ == 0 && !saw_meta_;
  else if (run_step_ && !committing_)  // staging: exactly what this job put
    intact = listed == staged_ && last == last_conflict_ && stored == last_conflict_;
  else  // decisions added changes; a commit removes what it applied (counted in 'trimmed')
    intact = (ever < 0 || (listed + trimmed == ever && ever >= staged_)) &&
             last >= last_conflict_ && stored >= last;
  if (intact) return Status::ok();
  return lost(committing_ ? std::max<int64_t>(ever, 0) : staged_,
              committing_ ? last : last_conflict_);
}

std::string RedisJobStage::mark() const {
  if (committing_) return "commit " + std::to_string(applied_);
  return "run " + std::to_string(staged_) + " " + std::to_string(last_conflict_);
}

Status RedisJobStage::note(Status st) {
  if (st.is_ok())
    unavailable_.reset();
  else if (st.code() == ErrorCode::kUnavailable)
    unavailable_ = st;
  else
    unavailable_.reset();
  return st;
}

Status RedisJobStage::put_changes(const std::vector<PlannedChange>& changes) {
  // What was staged before must still be there (checked before each put, and at the end of
  // the run by pending_conflicts: a loss between the check and the put is seen there).
  if (Status v = note(verify()); !v.is_ok()) return v;
  Status st = note(stage_->put_changes(changes));
  if (st.is_ok()) staged_ += static_cast<int64_t>(changes.size());
  return st;
}

Status RedisJobStage::put_conflicts(const std::vector<ConflictRecord>& conflicts) {
  if (Status v = note(verify()); !v.is_ok()) return v;
  Status st = note(stage_->put_conflicts(conflicts));
  if (st.is_ok()) last_conflict_ += static_cast<int64_t>(conflicts.size());
  return st;
}

Result<int64_t> RedisJobStage::pending_conflicts() {
  if (Status v = note(verify()); !v.is_ok()) return v;
  Result<int64_t> r = stage_->pending_conflicts();
  (void)note(r.is_ok() ? Status::ok() : r.status());
  return r;
}

// As RedisStage::read_changes, but the count applied is part of the mark (committed with the
// batch by the callback's progress) and each LTRIM counts what it removed ('trimmed'), so a
// batch whose LTRIM failed is removed on resume instead of applied again.
Status RedisJobStage::read_changes(size_t batch_size,
                                   const std::function<Status(std::vector<PlannedChange>&)>& fn) {
  if (!committing_) {
    // The first commit in this attempt (the run step's own, or a commit step without a mark).
    Result<int64_t> trimmed = meta_int("trimmed");
    if (!trimmed.is_ok()) return note(trimmed.status());
    applied_ = *trimmed;
    committing_ = true;
  }
  if (batch_size == 0) batch_size = 1000;
  const std::string list = stage_->key("changes"), meta = stage_->key("meta");
  const std::string last = std::to_string(batch_size - 1);
  const std::string context = "stage of job " + stage_->job() + ", ";
  std::vector<PlannedChange> batch;
  for (;;) {
    if (Status v = note(verify()); !v.is_ok()) return v;
    Result<redis::RedisReply> r = conn_->command({"LRANGE", list, "0", last});
    if (!r.is_ok()) return note(r.status().with_context(context + "reading staged changes"));
    if (!r->is_array())
      return note(error(ErrorCode::kInternal,
                        context + "reading staged changes: LRANGE answered " + r->type_name()));
    const size_t n = r->size();
    if (n == 0) return note(Status::ok());
    batch.clear();
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::optional<std::string_view> bytes = redis::element_string(r->element(i));
      if (!bytes)
        return note(error(ErrorCode::kInternal, context + "a staged change is not a string"));
      Result<PlannedChange> c = decode_change(*bytes);
      if (!c.is_ok()) return note(c.status().with_context(context + "decoding a staged change"));
      batch.push_back(std::move(c).value());
    }
    applied_ += static_cast<int64_t>(n);  // the callback's progress commits this mark
    Status applied = fn(batch);
    if (!applied.is_ok()) {
      // The callback's failure (the target's) is not the stage's: it fails the job.
      applied_ -= static_cast<int64_t>(n);
      unavailable_.reset();
      return applied;
    }
    std::string count = std::to_string(n);
    Result<redis::RedisReply> t = conn_->command({"EVAL", kTrim, "2", list, meta, count});
    if (!t.is_ok())
      return note(t.status().with_context(
          context +
          "removing an applied batch (the job's mark says it was applied: it is "
          "removed on resume, never applied twice)"));
  }
}

// While committing, the keys stay until the job's final status is committed (drop()): that
// transaction may still fail, and a resumed commit needs the conflicts it copies.
Status RedisJobStage::clear() {
  if (committing_) return note(Status::ok());
  return note(stage_->clear());
}

Status RedisJobStage::drop() { return note(stage_->clear()); }

void RedisJobStage::attach(JobTransaction& txn, std::string sync_id, const FieldMapper& mapper) {
  txn_ = &txn;
  sync_id_ = std::move(sync_id);
  mapper_ = &mapper;
}

Status RedisJobStage::record_conflicts() {
  if (!txn_ || !mapper_)
    return error(ErrorCode::kInternal, "the stage of job " + num(job_id_) + " has no transaction");
  const std::string job = num(job_id_);
  const std::string context = "copying the conflicts of job " + job + " to dbsync.conflicts";
  auto names = [](const char* field) {
    return std::string("ARRAY(SELECT jsonb_array_elements_text(e.o -> '") + field + "'))";
  };
  const std::string insert =
      "INSERT INTO dbsync.conflicts (job_id, sync_id, key, kind, source_row, target_row, "
      "source_changed, target_changed, conflicting, reason, record, status, resolution, "
      "resolved_row, resolved_by, resolved_at) "
      "SELECT $1::bigint, $2::bigint, e.o -> 'key', e.o ->> 'kind', "
      "NULLIF(e.o -> 'src', 'null'::jsonb), NULLIF(e.o -> 'tgt', 'null'::jsonb), " +
      names("sc") + ", " + names("tc") + ", " + names("cf") +
      ", e.o ->> 'reason', r.rec, e.o ->> 'status', e.o ->> 'resolution', "
      "NULLIF(e.o -> 'row', 'null'::jsonb), NULLIF(e.o ->> 'by', ''), "
      "CASE WHEN e.o ->> 'status' = 'pending' THEN NULL "
      "ELSE to_timestamp((e.o ->> 'at')::bigint / 1000.0) END "
      "FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(o, n) "
      "JOIN unnest($4::bytea[]) WITH ORDINALITY AS r(rec, n) ON r.n = e.n ORDER BY e.n";
  auto fields = [&](const FieldSet& set) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < set.size() && i < mapper_->mapped_count(); ++i)
      if (set.test(i)) out.push_back(mapper_->mapped_columns()[i]);
    return out;
  };
  int64_t after = 0;
  std::vector<std::string> records;
  for (;;) {
    Result<std::vector<redis::RedisStage::StoredConflict>> page =
        stage_->list_conflicts(after, kCopyBatch);
    if (!page.is_ok()) return note(page.status().with_context(context));
    if (page->empty()) break;
    // Readable columns as one JSON array (rows rendered as the catalog stage renders them),
    // the exact records as a bytea[]; joined on their ordinal.
    std::string readable = "[";
    records.clear();
    for (size_t i = 0; i < page->size(); ++i) {
      const redis::RedisStage::StoredConflict& sc = (*page)[i];
      const ConflictRecord& c = sc.conflict;
      nlohmann::json o;
      o["kind"] = diff_kind_name(c.kind);
      o["sc"] = fields(c.source_changed);
      o["tc"] = fields(c.target_changed);
      o["cf"] = fields(c.conflicting);
      o["reason"] = c.reason.empty() ? nlohmann::json() : nlohmann::json(c.reason);
      o["status"] = sc.status;
      o["resolution"] =
          sc.decision ? nlohmann::json(decision_name(*sc.decision)) : nlohmann::json();
      o["by"] = sc.decided_by;
      o["at"] = sc.decided_at_ms;
      std::string head = o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      head.pop_back();  // the closing brace: the rows follow as rendered JSON text
      head += ", \"key\": " + render_row(*mapper_, c.key);
      head += ", \"src\": " + (c.source ? render_row(*mapper_, *c.source) : "null");
      head += ", \"tgt\": " + (c.target ? render_row(*mapper_, *c.target) : "null");
      head += ", \"row\": " + (sc.resolved_row ? render_row(*mapper_, *sc.resolved_row) : "null");
      readable += (i ? ", " : "") + head + "}";
      records.push_back(encode_conflict(c));
    }
    readable += "]";
    Result<pg::PgResult> r =
        txn_->query(insert, {PgParam::text(job), PgParam::text(sync_id_), PgParam::text(readable),
                             PgParam::binary(pg::encode_bytea_array(records))});
    if (!r.is_ok()) return note(r.status().with_context(context));
    after = page->back().id;
    if (page->size() < kCopyBatch) break;
  }
  return note(Status::ok());
}

Result<bool> RedisJobStage::exists() {
  Result<bool> r = stage_->exists();
  (void)note(r.is_ok() ? Status::ok() : r.status());
  return r;
}

StageFactory redis_stage_factory() {
  return [](JobTransaction& txn, const ClaimedJob& job, const JobSync& sync,
            const JobContext& ctx) -> Result<std::unique_ptr<Stage>> {
    pg::PgConnection& master = txn.connection();
    txn.rollback();
    const bool fresh = job.step == "run" && !job.checkpoint;
    DBSYNC_ASSIGN_OR_RETURN(std::optional<RedisSettings> settings,
                            read_redis_settings(master, ctx.key));
    std::string kind;
    std::optional<std::string> mark;
    if (fresh) {
      kind = settings && strategy_uses_redis_stage(sync.policy.strategy) ? "redis" : "catalog";
      // Recorded at once (its own transaction): resumes, commits and deciders use it as is.
      Result<pg::PgResult> set = master.query(catalog_sql::kSetJobStage,
                                              {PgParam::text(num(job.id)), PgParam::text(kind)});
      if (!set.is_ok()) return set.status().with_context("recording the job's stage");
    } else {
      Result<pg::PgResult> r = master.query(catalog_sql::kJobStage, {PgParam::text(num(job.id))});
      if (!r.is_ok()) return r.status().with_context("reading the job's stage");
      if (r->rows() == 0) return error(ErrorCode::kNotFound, "job " + num(job.id) + " is gone");
      kind = std::string(r->get(0, 0));
      if (!r->is_null(0, 1)) mark = std::string(r->get(0, 1));
    }
    if (kind != "redis")
      return std::unique_ptr<Stage>(new CatalogStage(txn, num(job.id), sync.id, *sync.mapper));
    if (!settings)
      return error(ErrorCode::kInvalidArgument,
                   "job " + num(job.id) +
                       " keeps its change set in Redis, but the settings no longer name a Redis "
                       "(daemon.redis_url): set it again to finish the job, or cancel it");
    DBSYNC_ASSIGN_OR_RETURN(redis::RedisStageOptions options, redis_stage_options(master));
    // A fresh run clears what an earlier attempt put without committing a checkpoint; a
    // resumed one returns to its mark.
    DBSYNC_ASSIGN_OR_RETURN(
        std::unique_ptr<RedisJobStage> stage,
        RedisJobStage::open(*settings, job.id, std::move(options),
                            fresh ? RedisJobStage::Start::kFresh : RedisJobStage::Start::kResume,
                            job.step == "run", mark));
    stage->attach(txn, sync.id, *sync.mapper);
    return std::unique_ptr<Stage>(std::move(stage));
  };
}

Result<int64_t> sweep_redis_stages(pg::PgConnection& master, const secrets::Key* key, int limit) {
  if (limit < 1) limit = 100;
  master.rollback_quietly();
  int64_t cleared = 0;
  std::optional<redis::RedisConnection> conn;
  std::optional<redis::RedisStageOptions> options;
  for (;;) {
    Result<pg::PgResult> r =
        master.query(catalog_sql::kFinishedRedisJobs, {PgParam::text(std::to_string(limit))});
    if (!r.is_ok()) return r.status().with_context("finding finished Redis jobs");
    const int rows = r->rows();
    if (rows == 0) return cleared;
    if (!conn) {
      DBSYNC_ASSIGN_OR_RETURN(std::optional<RedisSettings> settings,
                              read_redis_settings(master, key));
      if (!settings) return cleared;  // no Redis to reach: the keys expire with their TTL
      DBSYNC_ASSIGN_OR_RETURN(options, redis_stage_options(master));
      Result<redis::RedisConnection> c =
          redis::RedisConnection::connect(settings->url, settings->password);
      if (!c.is_ok()) return c.status().with_context("deleting the keys of finished jobs");
      conn.emplace(std::move(c).value());
    }
    std::string ids = "{";
    Status failed = Status::ok();
    int done = 0;
    for (int i = 0; i < rows; ++i) {
      const std::string job(r->get(i, 0));
      Result<std::unique_ptr<redis::RedisStage>> stage =
          redis::RedisStage::open(*conn, job, *options);
      if (stage.is_ok()) {
        // DEL of the job's keys by name (RedisStage::keys): absent keys are fine.
        Status st = (*stage)->clear();
        if (!st.is_ok()) {
          failed = st;
          break;
        }
      }
      ids += (done++ ? "," : "") + job;
    }
    ids += "}";
    if (done > 0) {
      Result<pg::PgResult> marked =
          master.query(catalog_sql::kMarkStageCleared, {PgParam::text(ids)});
      if (!marked.is_ok()) return marked.status().with_context("marking jobs whose keys are gone");
      cleared += done;
    }
    if (!failed.is_ok()) return failed.with_context("deleting the keys of finished jobs");
    if (rows < limit) return cleared;
  }
}

Result<int64_t> requeue_lost_waiting_jobs(pg::PgConnection& master, const secrets::Key* key,
                                          int limit) {
  if (limit < 1) limit = 100;
  master.rollback_quietly();
  Result<pg::PgResult> r =
      master.query(catalog_sql::kWaitingRedisJobs, {PgParam::text(std::to_string(limit))});
  if (!r.is_ok()) return r.status().with_context("finding Redis jobs waiting for decisions");
  if (r->rows() == 0) return int64_t{0};
  DBSYNC_ASSIGN_OR_RETURN(std::optional<RedisSettings> settings, read_redis_settings(master, key));
  if (!settings) return int64_t{0};
  DBSYNC_ASSIGN_OR_RETURN(redis::RedisStageOptions options, redis_stage_options(master));
  Result<redis::RedisConnection> c =
      redis::RedisConnection::connect(settings->url, settings->password);
  if (!c.is_ok()) return c.status().with_context("checking the stages of waiting jobs");
  int64_t requeued = 0;
  for (int i = 0; i < r->rows(); ++i) {
    const std::string job(r->get(i, 0));
    DBSYNC_ASSIGN_OR_RETURN(std::unique_ptr<redis::RedisStage> stage,
                            redis::RedisStage::open(*c, job, options));
    DBSYNC_ASSIGN_OR_RETURN(bool there, stage->exists());
    if (there) continue;
    Result<pg::PgResult> q =
        master.query(catalog_sql::kRequeueDecidedJob, {PgParam::text(job), PgParam::text("0")});
    if (!q.is_ok()) return q.status().with_context("requeueing job " + job);
    if (q->rows() == 1 && q->get(0, 0) == "t") ++requeued;
  }
  return requeued;
}

StageJanitor redis_stage_janitor() {
  return [](pg::PgConnection& master, const secrets::Key* key) -> Result<int64_t> {
    Result<int64_t> lost = requeue_lost_waiting_jobs(master, key);
    Result<int64_t> cleared = sweep_redis_stages(master, key);
    if (!lost.is_ok()) return lost.status();
    if (!cleared.is_ok()) return cleared.status();
    return *lost + *cleared;
  };
}

}  // namespace dbsync::daemon
