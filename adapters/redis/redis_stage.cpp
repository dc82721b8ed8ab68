#include "adapters/redis/redis_stage.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "engine/row_codec.hpp"

namespace dbsync::redis {
namespace {

// The order of KEYS in every script (and of keys()).
constexpr const char* kParts[] = {"changes", "conflicts", "status", "decisions",
                                  "pending", "meta",      "rows"};
constexpr size_t kPartCount = sizeof(kParts) / sizeof(kParts[0]);

// KEYS: changes conflicts status decisions pending meta rows; ARGV[1] ttl, ARGV[2..] records.
// Ids are consecutive from 1 (meta.next_conflict_id is the last one given). Returns the first.
const char* const kPutConflicts = R"lua(
local n = #ARGV - 1
local last = redis.call('HINCRBY', KEYS[6], 'next_conflict_id', n)
local first = last - n + 1
for i = 2, #ARGV do
  local id = first + i - 2
  redis.call('HSET', KEYS[2], id, ARGV[i])
  redis.call('HSET', KEYS[3], id, 'pending')
  redis.call('ZADD', KEYS[5], id, id)
end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return first
)lua";

// KEYS as above; ARGV: ttl, id, new status, decision record, has_change ('1'/'0'), change,
// the custom row ('' for none).
// {1, status} when recorded, {0, current status} when already decided, {-1} when unknown.
const char* const kDecide = R"lua(
local s = redis.call('HGET', KEYS[3], ARGV[2])
if not s then return {-1} end
if s ~= 'pending' then return {0, s} end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])
redis.call('ZREM', KEYS[5], ARGV[2])
if ARGV[5] == '1' then
  redis.call('RPUSH', KEYS[1], ARGV[6])
  redis.call('HINCRBY', KEYS[6], 'staged', 1)
end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[7], ARGV[2], ARGV[7]) end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return {1, ARGV[3]}
)lua";

Status unexpected(const RedisConnection& conn, const std::string& what, const RedisReply& r) {
  return error(ErrorCode::kInternal, "redis " + conn.endpoint() + ": " + what +
                                         ": unexpected reply of type " + r.type_name());
}

}  // namespace

RedisStage::RedisStage(RedisConnection& conn, std::string job, RedisStageOptions options)
    : conn_(conn),
      job_(std::move(job)),
      options_(std::move(options)),
      ttl_(std::to_string(std::max<int64_t>(1, options_.ttl.count()))) {
  if (options_.push_chunk == 0) options_.push_chunk = 500;
}

Result<std::unique_ptr<RedisStage>> RedisStage::open(RedisConnection& conn, std::string job,
                                                     RedisStageOptions options) {
  if (job.empty() || job.size() > 200)
    return error(ErrorCode::kInvalidArgument, "redis stage: the job id must have 1 to 200 bytes");
  for (char c : job)
    if (c == '{' || c == '}' || static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return error(ErrorCode::kInvalidArgument,
                   "redis stage: the job id may not contain braces, spaces or control characters");
  if (options.prefix.find_first_of("{}") != std::string::npos)
    return error(ErrorCode::kInvalidArgument, "redis stage: the key prefix may not contain braces");
  if (options.ttl.count() <= 0)
    return error(ErrorCode::kInvalidArgument, "redis stage: the TTL must be positive");
  return std::unique_ptr<RedisStage>(new RedisStage(conn, std::move(job), std::move(options)));
}

std::string RedisStage::key(std::string_view part) const {
  return options_.prefix + ":{job:" + job_ + "}:" + std::string(part);
}

std::vector<std::string> RedisStage::keys() const {
  std::vector<std::string> out;
  for (const char* p : kParts) out.push_back(key(p));
  return out;
}

Status RedisStage::fail(const Status& st, const std::string& what) const {
  return st.with_context("stage of job " + job_ + ", " + what);
}

Status RedisStage::put_changes(const std::vector<PlannedChange>& changes) {
  if (changes.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(changes.size());
  for (const PlannedChange& c : changes) encoded.push_back(encode_change(c));
  const std::vector<std::string> k = keys();
  const std::string list = key("changes"), meta = key("meta");
  // MULTI, RPUSH in chunks, HSET meta, EXPIRE each key, EXEC: all or nothing.
  std::vector<std::vector<std::string_view>> cmds;
  cmds.push_back({"MULTI"});
  for (size_t i = 0; i < encoded.size(); i += options_.push_chunk) {
    std::vector<std::string_view> push{"RPUSH", list};
    for (size_t j = i; j < std::min(encoded.size(), i + options_.push_chunk); ++j)
      push.push_back(encoded[j]);
    cmds.push_back(std::move(push));
  }
  cmds.push_back({"HSET", meta, "job", job_});
  // How many changes were ever staged: with meta's 'trimmed' (what a commit removed), whoever
  // reads the stage can tell a list that lost entries (Redis restarted empty, keys evicted).
  const std::string count = std::to_string(changes.size());
  cmds.push_back({"HINCRBY", meta, "staged", count});
  for (const std::string& key : k) cmds.push_back({"EXPIRE", key, ttl_});
  cmds.push_back({"EXEC"});
  Result<std::vector<RedisReply>> r = conn_.pipeline(cmds);
  const std::string what = "staging " + std::to_string(changes.size()) + " changes";
  if (!r.is_ok())
    return fail(r.status(), what +
                                " (if the connection dropped after the request was sent, "
                                "they may or may not be staged: all or none)");
  const RedisReply& exec = r->back();
  for (size_t i = 0; i + 1 < r->size(); ++i)
    if ((*r)[i].is_error())  // refused when queued: EXEC discards the transaction
      return fail(conn_.reply_error(cmds[i][0], (*r)[i].str()), what + " (nothing staged)");
  if (exec.is_error())
    return fail(conn_.reply_error("EXEC", exec.str()), what + " (nothing staged)");
  if (!exec.is_array() || exec.size() != cmds.size() - 2)
    return fail(unexpected(conn_, "EXEC", exec), what);
  for (size_t i = 0; i < exec.size(); ++i) {
    const redisReply* e = exec.element(i);
    if (e && e->type == REDIS_REPLY_ERROR)
      return fail(conn_.reply_error(cmds[i + 1][0], std::string_view(e->str, e->len)), what);
  }
  return Status::ok();
}

Status RedisStage::put_conflicts(const std::vector<ConflictRecord>& conflicts) {
  if (conflicts.empty()) return Status::ok();
  std::vector<std::string> encoded;
  encoded.reserve(conflicts.size());
  for (const ConflictRecord& c : conflicts) encoded.push_back(encode_conflict(c));
  const std::vector<std::string> k = keys();
  const std::string nkeys = std::to_string(kPartCount);
  std::vector<std::string_view> args{"EVAL", kPutConflicts, nkeys};
  for (const std::string& key : k) args.push_back(key);
  args.push_back(ttl_);
  for (const std::string& e : encoded) args.push_back(e);
  Result<RedisReply> r = conn_.command(args);
  const std::string what = "recording " + std::to_string(conflicts.size()) + " conflicts";
  if (!r.is_ok())
    return fail(r.status(), what +
                                " (if the connection dropped after the request was sent, "
                                "they may or may not be recorded: all or none)");
  if (!r->is_integer()) return fail(unexpected(conn_, "EVAL", *r), what);
  return Status::ok();
}

Result<int64_t> RedisStage::pending_conflicts() {
  Result<RedisReply> r = conn_.command({"ZCARD", key("pending")});
  if (!r.is_ok()) return fail(r.status(), "counting pending conflicts");
  if (!r->is_integer()) return fail(unexpected(conn_, "ZCARD", *r), "counting pending conflicts");
  return static_cast<int64_t>(r->integer());
}

Result<int64_t> RedisStage::conflict_count() {
  Result<RedisReply> r = conn_.command({"HLEN", key("conflicts")});
  if (!r.is_ok()) return fail(r.status(), "counting conflicts");
  if (!r->is_integer()) return fail(unexpected(conn_, "HLEN", *r), "counting conflicts");
  return static_cast<int64_t>(r->integer());
}

Status RedisStage::read_changes(size_t batch_size,
                                const std::function<Status(std::vector<PlannedChange>&)>& fn) {
  if (batch_size == 0) batch_size = 1000;
  const std::string list = key("changes");
  const std::string last = std::to_string(batch_size - 1);
  std::vector<PlannedChange> batch;
  for (;;) {
    Result<RedisReply> r = conn_.command({"LRANGE", list, "0", last});
    if (!r.is_ok()) return fail(r.status(), "reading staged changes");
    if (!r->is_array()) return fail(unexpected(conn_, "LRANGE", *r), "reading staged changes");
    const size_t n = r->size();
    if (n == 0) return Status::ok();
    batch.clear();
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::optional<std::string_view> bytes = element_string(r->element(i));
      if (!bytes)
        return fail(error(ErrorCode::kInternal, "a staged change is not a string"),
                    "reading staged changes");
      Result<PlannedChange> c = decode_change(*bytes);
      if (!c.is_ok()) return fail(c.status(), "decoding staged change " + std::to_string(i));
      batch.push_back(std::move(c).value());
    }
    DBSYNC_RETURN_IF_ERROR(fn(batch));
    // Applied: it leaves the stage now, so a commit cut off later resumes after it.
    Result<RedisReply> t = conn_.command({"LTRIM", list, std::to_string(n), "-1"});
    if (!t.is_ok())
      return fail(t.status(),
                  "removing an applied batch (if it stayed staged, it is applied again on resume: "
                  "applying is idempotent)");
  }
}

Status RedisStage::clear() {
  const std::vector<std::string> k = keys();
  std::vector<std::string_view> args{"DEL"};
  for (const std::string& key : k) args.push_back(key);
  Result<RedisReply> r = conn_.command(args);
  if (!r.is_ok()) return fail(r.status(), "deleting the stage");
  return Status::ok();
}

Result<bool> RedisStage::exists() {
  Result<RedisReply> r = conn_.command({"EXISTS", key("meta")});
  if (!r.is_ok()) return fail(r.status(), "looking for the stage");
  if (!r->is_integer()) return fail(unexpected(conn_, "EXISTS", *r), "looking for the stage");
  return r->integer() == 1;
}

Result<std::vector<RedisStage::StoredConflict>> RedisStage::list_conflicts(
    int64_t after_id, size_t limit, const std::optional<std::string>& status) {
  std::vector<StoredConflict> out;
  if (limit == 0) return out;
  if (after_id < 0) after_id = 0;
  if (status && *status != "pending" && *status != "resolved" && *status != "skipped")
    return error(ErrorCode::kInvalidArgument,
                 "conflict status \"" + *status + "\" (pending, resolved or skipped)");
  const std::string what = "listing conflicts";
  const std::string status_key = key("status"), decisions_key = key("decisions"),
                    conflicts_key = key("conflicts"), rows_key = key("rows");
  // Which ids: pending ones from the sorted set; otherwise consecutive ids up to the last one.
  int64_t last_id = 0;
  if (!status || *status != "pending") {
    Result<RedisReply> m = conn_.command({"HGET", key("meta"), "next_conflict_id"});
    if (!m.is_ok()) return fail(m.status(), what);
    if (m->is_nil()) return out;
    last_id = std::strtoll(std::string(m->str()).c_str(), nullptr, 10);
  }
  const size_t chunk = std::min<size_t>(std::max<size_t>(limit, 16), 1000);
  while (out.size() < limit) {
    std::vector<std::string> ids;
    if (status && *status == "pending") {
      Result<RedisReply> z =
          conn_.command({"ZRANGEBYSCORE", key("pending"), "(" + std::to_string(after_id), "+inf",
                         "LIMIT", "0", std::to_string(limit - out.size())});
      if (!z.is_ok()) return fail(z.status(), what);
      if (!z->is_array()) return fail(unexpected(conn_, "ZRANGEBYSCORE", *z), what);
      for (size_t i = 0; i < z->size(); ++i) {
        std::optional<std::string_view> s = element_string(z->element(i));
        if (s) ids.emplace_back(*s);
      }
    } else {
      for (int64_t id = after_id + 1; id <= last_id && ids.size() < chunk; ++id)
        ids.push_back(std::to_string(id));
    }
    if (ids.empty()) break;
    after_id = std::strtoll(ids.back().c_str(), nullptr, 10);
    std::vector<std::string_view> st{"HMGET", status_key}, dc{"HMGET", decisions_key};
    for (const std::string& id : ids) {
      st.push_back(id);
      dc.push_back(id);
    }
    Result<RedisReply> sr = conn_.command(st);
    if (!sr.is_ok()) return fail(sr.status(), what);
    Result<RedisReply> dr = conn_.command(dc);
    if (!dr.is_ok()) return fail(dr.status(), what);
    if (!sr->is_array() || sr->size() != ids.size())
      return fail(unexpected(conn_, "HMGET", *sr), what);
    if (!dr->is_array() || dr->size() != ids.size())
      return fail(unexpected(conn_, "HMGET", *dr), what);
    std::vector<size_t> wanted;
    std::vector<std::string_view> rc{"HMGET", conflicts_key}, rw{"HMGET", rows_key};
    for (size_t i = 0; i < ids.size(); ++i) {
      std::optional<std::string_view> s = element_string(sr->element(i));
      if (!s) continue;  // gone (cleared meanwhile)
      if (status && *s != *status) continue;
      if (out.size() + wanted.size() >= limit) break;
      wanted.push_back(i);
      rc.push_back(ids[i]);
      rw.push_back(ids[i]);
    }
    if (wanted.empty()) continue;  // none with that status in this chunk
    Result<RedisReply> rr = conn_.command(rc);
    if (!rr.is_ok()) return fail(rr.status(), what);
    if (!rr->is_array() || rr->size() != wanted.size())
      return fail(unexpected(conn_, "HMGET", *rr), what);
    Result<RedisReply> wr = conn_.command(rw);
    if (!wr.is_ok()) return fail(wr.status(), what);
    if (!wr->is_array() || wr->size() != wanted.size())
      return fail(unexpected(conn_, "HMGET", *wr), what);
    for (size_t j = 0; j < wanted.size(); ++j) {
      const size_t i = wanted[j];
      std::optional<std::string_view> rec = element_string(rr->element(j));
      if (!rec) continue;
      StoredConflict sc;
      sc.id = std::strtoll(ids[i].c_str(), nullptr, 10);
      sc.status = std::string(*element_string(sr->element(i)));
      if (std::optional<std::string_view> d = element_string(dr->element(i))) {
        // "<decision> <unix ms> <decided by>"
        size_t sp1 = d->find(' ');
        Result<Decision> dec = parse_decision(d->substr(0, sp1));
        if (dec.is_ok()) sc.decision = *dec;
        if (sp1 != std::string_view::npos) {
          std::string_view rest = d->substr(sp1 + 1);
          size_t sp2 = rest.find(' ');
          sc.decided_at_ms = std::strtoll(std::string(rest.substr(0, sp2)).c_str(), nullptr, 10);
          if (sp2 != std::string_view::npos) sc.decided_by = std::string(rest.substr(sp2 + 1));
        }
      }
      if (std::optional<std::string_view> row = element_string(wr->element(j))) {
        Result<Row> decoded = decode_sortable_key(*row);
        if (!decoded.is_ok())
          return fail(decoded.status(), "decoding the custom row of conflict " + ids[i]);
        sc.resolved_row = std::move(decoded).value();
      }
      Result<ConflictRecord> c = decode_conflict(*rec);
      if (!c.is_ok()) return fail(c.status(), "decoding conflict " + ids[i]);
      sc.conflict = std::move(c).value();
      out.push_back(std::move(sc));
    }
    // After the last wanted id when the page filled up mid-chunk.
    if (out.size() >= limit) break;
  }
  return out;
}

Result<RedisStage::StoredConflict> RedisStage::get_conflict(int64_t id) {
  if (id <= 0) return error(ErrorCode::kNotFound, "conflict " + std::to_string(id) + " not found");
  DBSYNC_ASSIGN_OR_RETURN(std::vector<StoredConflict> one, list_conflicts(id - 1, 1));
  if (one.empty() || one[0].id != id)
    return error(ErrorCode::kNotFound,
                 "conflict " + std::to_string(id) + " of job " + job_ + " not found");
  return std::move(one[0]);
}

Result<std::string> RedisStage::decide(int64_t id, Decision decision, const Row* custom_row,
                                       const ConflictResolver& resolver,
                                       std::string_view decided_by) {
  if ((decision == Decision::kCustom) != (custom_row != nullptr)) {
    StoredConflict unread;  // the argument error first, without a round trip
    unread.id = id;
    return decide_listed(unread, decision, custom_row, resolver, decided_by);
  }
  DBSYNC_ASSIGN_OR_RETURN(StoredConflict stored, get_conflict(id));
  return decide_listed(stored, decision, custom_row, resolver, decided_by);
}

Result<std::string> RedisStage::decide_listed(const StoredConflict& listed, Decision decision,
                                              const Row* custom_row,
                                              const ConflictResolver& resolver,
                                              std::string_view decided_by) {
  const std::string name = "conflict " + std::to_string(listed.id) + " of job " + job_;
  if (decision == Decision::kCustom && !custom_row)
    return error(ErrorCode::kInvalidArgument, name + ": a custom decision needs a row");
  if (decision != Decision::kCustom && custom_row)
    return error(ErrorCode::kInvalidArgument,
                 name + ": only a custom decision takes a row (this one is " +
                     std::string(decision_name(decision)) + ")");
  bool already = false;
  return decide_stored(listed, decision, custom_row, resolver, decided_by, already);
}

Result<std::string> RedisStage::decide_stored(const StoredConflict& stored, Decision decision,
                                              const Row* custom_row,
                                              const ConflictResolver& resolver,
                                              std::string_view decided_by, bool& already) {
  already = false;
  const std::string name = "conflict " + std::to_string(stored.id) + " of job " + job_;
  if (stored.status != "pending") {
    already = true;
    return error(ErrorCode::kConflict, name + " is already " + stored.status);
  }
  Result<PlannedChange> change = resolver.resolve(stored.conflict, decision, custom_row);
  if (!change.is_ok()) return change.status().with_context(name);
  const bool has_change = !change->empty();
  const std::string bytes = has_change ? encode_change(*change) : std::string();
  const std::string new_status = decision == Decision::kSkip ? "skipped" : "resolved";
  const std::string id_text = std::to_string(stored.id);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string decided = std::string(decision_name(decision)) + " " + std::to_string(now_ms) +
                              " " + std::string(decided_by);
  const std::string row_bytes =
      decision == Decision::kCustom && custom_row ? encode_sortable_key(*custom_row) : "";
  const std::vector<std::string> k = keys();
  const std::string nkeys = std::to_string(kPartCount);
  // The script records the decision only if the conflict is still pending (see kDecide).
  std::vector<std::string_view> args{"EVAL", kDecide, nkeys};
  for (const std::string& key : k) args.push_back(key);
  args.insert(args.end(),
              {std::string_view(ttl_), std::string_view(id_text), std::string_view(new_status),
               std::string_view(decided), has_change ? "1" : "0", std::string_view(bytes),
               std::string_view(row_bytes)});
  Result<RedisReply> r = conn_.command(args);
  if (!r.is_ok())
    return fail(r.status(), "recording the decision on " + name +
                                " (if the connection dropped after the request was sent, it may "
                                "be recorded: look at its status before deciding again)");
  const redisReply* flag = r->element(0);
  if (!r->is_array() || !flag || flag->type != REDIS_REPLY_INTEGER)
    return fail(unexpected(conn_, "EVAL", *r), "recording the decision on " + name);
  if (flag->integer == -1) return error(ErrorCode::kNotFound, name + " not found");
  std::optional<std::string_view> s = element_string(r->element(1));
  if (flag->integer == 0) {
    already = true;  // decided by someone else since we read it
    return error(ErrorCode::kConflict, name + " is already " + std::string(s.value_or("decided")));
  }
  return new_status;
}

Result<int64_t> RedisStage::decide_all(Decision decision, const ConflictResolver& resolver,
                                       std::string_view decided_by) {
  if (decision == Decision::kCustom)
    return error(ErrorCode::kInvalidArgument,
                 "deciding all conflicts cannot take a custom decision (each row is different)");
  int64_t count = 0;
  int64_t after = 0;
  for (;;) {
    // In pages, so that thousands of conflicts do not sit in memory at once.
    DBSYNC_ASSIGN_OR_RETURN(std::vector<StoredConflict> page,
                            list_conflicts(after, 500, std::string("pending")));
    if (page.empty()) return count;
    for (const StoredConflict& c : page) {
      bool already = false;
      Result<std::string> st = decide_stored(c, decision, nullptr, resolver, decided_by, already);
      if (already) continue;  // decided meanwhile by someone else: not ours to count
      if (!st.is_ok()) return st.status();
      ++count;
    }
    after = page.back().id;
  }
}

}  // namespace dbsync::redis
