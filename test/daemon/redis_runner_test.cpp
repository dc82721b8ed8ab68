// dbsyncd's Redis stage against the local stack: with daemon.redis_url set, a manual sync's job
// runs in dbsyncd and keeps its change set and conflicts in Redis (nothing in dbsync.stage or
// dbsync.conflicts, the target untouched); conflicts are decided through RedisConflicts (the
// module the API's resolve endpoints call), the job commits, its decided conflicts are copied to
// dbsync.conflicts, the keys are deleted. Kill -9 while the job waits and mid-commit (each
// conflict copied once); a Redis that goes away mid-run (the job pauses, then resumes); a stage
// whose keys are gone before the commit (the job fails clearly); the janitor deleting the keys
// of cancelled and failed jobs (also after Redis was down); the sealed Redis password.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/redis/redis_connection.hpp"
#include "adapters/redis/redis_stage.hpp"
#include "daemon/runner/redis_conflicts.hpp"
#include "daemon/runner/redis_stage_factory.hpp"
#include "test/adapters/redis_test_env.hpp"
#include "test/daemon/dbsyncd_process.hpp"

namespace dbsync::daemon::testing {
namespace {

using nlohmann::json;
using redis::testing::LocalRedis;

const std::string kToken = "redis-runner-admin-token-0123456789abcdef";

std::string url_of(const std::string& db) {
  return "postgresql://" + std::string(std::getenv("PGUSER") ? std::getenv("PGUSER") : "postgres") +
         "@" + std::getenv("PGHOST") + ":" + std::getenv("PGPORT") + "/" + db;
}

class Database {
 public:
  void create() {
    static std::atomic<int> counter{0};
    name_ = "dbsyncd_rs_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    auto admin = pg::PgConnection::connect("");
    ASSERT_TRUE(admin.is_ok()) << admin.status().to_string();
    ASSERT_TRUE(admin->exec("DROP DATABASE IF EXISTS " + pg::quote_ident(name_)).is_ok());
    Status st = admin->exec("CREATE DATABASE " + pg::quote_ident(name_));
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    auto c = pg::PgConnection::connect(url_of(name_));
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    conn_ = std::move(c).value();
    sql("CREATE EXTENSION dbsync");
  }
  ~Database() {
    if (name_.empty()) return;
    conn_ = pg::PgConnection();
    auto admin = pg::PgConnection::connect("");
    if (admin.is_ok())
      (void)admin->exec("DROP DATABASE IF EXISTS " + pg::quote_ident(name_) + " WITH (FORCE)");
  }
  void sql(const std::string& text) {
    Status st = conn_.query(text).status();
    ASSERT_TRUE(st.is_ok()) << st.to_string() << "\nin: " << text;
  }
  std::string value(const std::string& text) {
    auto r = conn_.query(text);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string() << "\nin: " << text;
    if (!r.is_ok() || r->rows() == 0 || r->is_null(0, 0)) return "<null>";
    return std::string(r->get(0, 0));
  }
  std::string url() const { return url_of(name_); }
  pg::PgConnection& conn() { return conn_; }

 private:
  std::string name_;
  pg::PgConnection conn_;
};

class DbsyncdRedisStage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::getenv("PGHOST") && std::getenv("PGPORT"))
        << "PGHOST/PGPORT not set: start the stack";
    std::optional<std::string> r = redis::testing::stack_redis_url();
    ASSERT_TRUE(r) << redis::testing::kStartTheStack;
    stack_redis_ = *r;
    db_.create();
    if (HasFatalFailure()) return;
    db_.sql("SELECT dbsync.add_datasource('master', 'local')");
  }

  std::unique_ptr<DaemonProcess> start_daemon(std::vector<std::string> extra = {},
                                              std::map<std::string, std::string> env = {}) {
    auto d = std::make_unique<DaemonProcess>();
    std::vector<std::string> args{"--listen=127.0.0.1:0", "--workers=4", "--db-connections=2",
                                  "--poll-seconds=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    env.insert({{"DATABASE_URL", db_.url()},
                {"DBSYNC_ADMIN_TOKEN", kToken},
                {"DBSYNC_LOG_LEVEL", "info"}});
    d->start(env, args);
    EXPECT_GT(d->wait_listening(), 0) << d->stderr_text();
    return d;
  }

  void set_redis(const std::string& url) {
    db_.sql("INSERT INTO dbsync.settings (key, value) VALUES ('daemon.redis_url', to_jsonb('" +
            url + "'::text)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");
  }

  std::string make_sync(const std::string& name, int rows, int batch) {
    db_.sql("CREATE TABLE src (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2))");
    db_.sql("CREATE TABLE dst (id integer PRIMARY KEY, title text, price numeric(10,2))");
    db_.sql("INSERT INTO src SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, " +
            std::to_string(rows) + ") g");
    return db_.value("SELECT dbsync.create_sync('" + name +
                     "', 'master', 'public.src', 'master', 'public.dst', mapping => "
                     "'{\"title\": \"name\", \"price\": \"price\"}', batch_size => " +
                     std::to_string(batch) + ", strategy => 'manual')");
  }

  std::string queue(const std::string& sync_id) {
    return db_.value("SELECT job_id FROM dbsync.queue_job(" + sync_id + ", 'sql')");
  }
  std::string job(const std::string& id, const std::string& column) {
    return db_.value("SELECT " + column + " FROM dbsync.jobs WHERE id = " + id);
  }
  std::string wait_status(const std::string& id, const std::set<std::string>& wanted,
                          int seconds = 60) {
    std::string st;
    for (int i = 0; i < seconds * 20; ++i) {
      st = job(id, "status");
      if (wanted.count(st)) return st;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return st;
  }
  std::string mismatches() {
    return db_.value(
        "SELECT count(*) FROM src s FULL JOIN dst d ON d.id = s.id WHERE s.id IS NULL OR "
        "d.id IS NULL OR d.title IS DISTINCT FROM s.name OR d.price IS DISTINCT FROM s.price");
  }

  // The job's Redis keys (as the runner names them) and how many of them exist in `url`.
  std::vector<std::string> keys_of(const std::string& job_id, const std::string& url) {
    Result<redis::RedisStageOptions> o = redis_stage_options(db_.conn());
    EXPECT_TRUE(o.is_ok()) << o.status().to_string();
    auto conn = redis::RedisConnection::connect(url);
    EXPECT_TRUE(conn.is_ok()) << conn.status().to_string();
    if (!o.is_ok() || !conn.is_ok()) return {};
    auto stage = redis::RedisStage::open(*conn, job_id, *o);
    EXPECT_TRUE(stage.is_ok());
    if (!stage.is_ok()) return {};
    return (*stage)->keys();
  }
  long long redis_int(const std::string& url, const std::vector<std::string>& cmd) {
    auto conn = redis::RedisConnection::connect(url);
    EXPECT_TRUE(conn.is_ok()) << conn.status().to_string();
    if (!conn.is_ok()) return -1;
    std::vector<std::string_view> args(cmd.begin(), cmd.end());
    auto r = conn->command(args);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? r->integer() : -1;
  }
  long long existing_keys(const std::string& job_id, const std::string& url) {
    std::vector<std::string> cmd{"EXISTS"};
    for (const std::string& k : keys_of(job_id, url)) cmd.push_back(k);
    return redis_int(url, cmd);
  }
  // The keys go right after the job's final status commits (or at the janitor's next tick):
  // how many remain after waiting up to `seconds` for them to go.
  long long keys_after_waiting(const std::string& job_id, const std::string& url,
                               int seconds = 10) {
    long long n = existing_keys(job_id, url);
    for (int i = 0; i < seconds * 10 && n != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      n = existing_keys(job_id, url);
    }
    return n;
  }
  // The job's conflicts as dbsync.conflict_list shows them, one line each in key order:
  // "<key> <status> <resolution> <resolved_row title or -> <resolved_by> <resolved_at set>".
  std::string catalog_conflicts(const std::string& job_id) {
    return db_.value(
        "SELECT string_agg(concat_ws(' ', key ->> 'id', status, resolution, "
        "COALESCE(resolved_row ->> 'title', '-'), resolved_by, "
        "(resolved_at IS NOT NULL)::text), '; ' ORDER BY (key ->> 'id')::int) "
        "FROM dbsync.conflict_list WHERE job_id = " +
        job_id);
  }

  // A first run (target empty: only inserts, committed at once), then rows 1-3 changed on both
  // sides and row 4 on the source: the second job waits with 3 conflicts. Returns its id.
  std::string run_until_conflicts(const std::string& sync, std::string url = {}) {
    if (url.empty()) url = stack_redis_;
    std::string j1 = queue(sync);
    EXPECT_EQ(job(j1, "executor_kind"), "daemon");
    EXPECT_EQ(wait_status(j1, {"succeeded", "failed", "awaiting_resolution"}), "succeeded")
        << job(j1, "error");
    EXPECT_EQ(job(j1, "stage"), "redis");
    EXPECT_EQ(mismatches(), "0");
    EXPECT_EQ(keys_after_waiting(j1, url), 0);
    db_.sql("UPDATE src SET name = 'src ' || id WHERE id <= 4");
    db_.sql("UPDATE dst SET title = 'dst ' || id WHERE id <= 3");
    std::string j2 = queue(sync);
    EXPECT_EQ(wait_status(j2, {"succeeded", "failed", "awaiting_resolution"}),
              "awaiting_resolution")
        << job(j2, "error");
    return j2;
  }

  // Waits (up to 12 s) until the job runs and has scanned at least `scanned` rows.
  bool wait_running(const std::string& id, long long scanned) {
    for (int i = 0; i < 1200; ++i) {
      if (job(id, "status") == "running" && std::stoll("0" + job(id, "scanned")) >= scanned)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Waits until the job's column has `want` (up to `seconds`); returns its last value.
  std::string wait_column(const std::string& id, const std::string& column, const std::string& want,
                          int seconds = 20) {
    std::string v;
    for (int i = 0; i < seconds * 10; ++i) {
      v = job(id, column);
      if (v == want) return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return v;
  }

  struct Answer {
    int status = 0;
    std::string text;
    json body;
  };
  Answer api(int port, const std::string& method, const std::string& path,
             const json& body = nullptr) {
    httplib::Client c("127.0.0.1", port);
    c.set_bearer_token_auth(kToken);
    httplib::Result r = method == "GET"   ? c.Get(path)
                        : method == "PUT" ? c.Put(path, body.dump(), "application/json")
                                          : c.Post(path, body.dump(), "application/json");
    if (!r) return {};
    return {r->status, r->body, json::parse(r->body, nullptr, false)};
  }

  Database db_;
  std::string stack_redis_;
};

// Two SECRET_KEYs: the one the password is sealed with, and another.
const std::string kKeyA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string kKeyB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

TEST_F(DbsyncdRedisStage, FullCycleStagesInRedisDecidesAndCommits) {
  std::string sync = make_sync("manual", 10, 100);
  // Without Redis a manual sync is the workers'; with it, dbsyncd's (default --executors).
  EXPECT_EQ(db_.value("SELECT dbsync.executor_kind(" + sync + ")"), "worker");
  set_redis(stack_redis_);
  EXPECT_EQ(db_.value("SELECT dbsync.executor_kind(" + sync + ")"), "daemon");
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();

  // Everything waits in Redis: nothing in the catalog's stage, the target untouched.
  EXPECT_EQ(job(j, "stage"), "redis");
  EXPECT_EQ(job(j, "executor"), "<null>");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.stage WHERE job_id = " + j), "0");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j), "0");
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 4"),
            "dst 1,dst 2,dst 3,item 4");
  std::vector<std::string> keys = keys_of(j, stack_redis_);
  ASSERT_EQ(keys.size(), 7u);
  EXPECT_EQ(keys[0].rfind("dbsync:", 0), 0u) << keys[0];
  EXPECT_NE(keys[0].find("{job:" + j + "}"), std::string::npos) << keys[0];
  EXPECT_GE(existing_keys(j, stack_redis_), 4);
  // hold_all: row 4's change is staged too (one change, the three conflicts pending).
  EXPECT_EQ(redis_int(stack_redis_, {"LLEN", keys_of(j, stack_redis_)[0]}), 1);
  // dbsync.resolve_all knows nothing of Redis conflicts and does not requeue the job.
  EXPECT_EQ(db_.value("SELECT dbsync.resolve_all('manual', 'source')"), "0");
  EXPECT_EQ(job(j, "status"), "awaiting_resolution");

  RedisConflicts rc(db_.url(), nullptr);
  auto page = rc.list(std::stoll(sync), std::string("pending"), 0, 2);
  ASSERT_TRUE(page.is_ok()) << page.status().to_string();
  EXPECT_EQ((*page)["job_id"], std::stoll(j));
  ASSERT_EQ((*page)["items"].size(), 2u);
  EXPECT_EQ((*page)["next_after"], 2);
  const json& first = (*page)["items"][0];
  EXPECT_EQ(first["key"], json({{"id", 1}}));
  EXPECT_EQ(first["kind"], "both_changed");
  EXPECT_EQ(first["source_row"]["title"], "src 1");
  EXPECT_EQ(first["target_row"]["title"], "dst 1");
  EXPECT_EQ(first["conflicting"], json({"title"}));
  EXPECT_EQ(first["status"], "pending");
  auto rest = rc.list(std::stoll(sync), std::nullopt, 2, 100);
  ASSERT_TRUE(rest.is_ok()) << rest.status().to_string();
  ASSERT_EQ((*rest)["items"].size(), 1u);
  EXPECT_EQ((*rest)["items"][0]["key"], json({{"id", 3}}));
  EXPECT_EQ((*rest)["next_after"], nullptr);

  // Errors: unknown conflict, bad decision, a custom row naming a column the sync lacks.
  auto unknown = rc.decide(std::stoll(sync), 99, "source", std::nullopt, "tester");
  EXPECT_EQ(unknown.status().code(), ErrorCode::kNotFound) << unknown.status().to_string();
  auto bad = rc.decide(std::stoll(sync), 1, "sideways", std::nullopt, "tester");
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  auto bad_row = rc.decide(std::stoll(sync), 3, "custom", json{{"nope", 1}}, "tester");
  EXPECT_EQ(bad_row.status().code(), ErrorCode::kInvalidArgument);
  auto no_sync = rc.decide(987654, 1, "source", std::nullopt, "tester");
  EXPECT_EQ(no_sync.status().code(), ErrorCode::kNotFound);

  auto d1 = rc.decide(std::stoll(sync), 1, "source", std::nullopt, "tester");
  ASSERT_TRUE(d1.is_ok()) << d1.status().to_string();
  EXPECT_EQ((*d1)["status"], "resolved");
  EXPECT_EQ((*d1)["pending"], 2);
  EXPECT_EQ((*d1)["job_requeued"], false);
  auto twice = rc.decide(std::stoll(sync), 1, "target", std::nullopt, "tester");
  EXPECT_EQ(twice.status().code(), ErrorCode::kConflict) << twice.status().to_string();
  auto d2 = rc.decide(std::stoll(sync), 2, "target", std::nullopt, "tester");
  ASSERT_TRUE(d2.is_ok()) << d2.status().to_string();
  EXPECT_EQ(job(j, "status"), "awaiting_resolution");
  auto decided = rc.list(std::stoll(sync), std::string("resolved"), 0, 10);
  ASSERT_TRUE(decided.is_ok());
  ASSERT_EQ((*decided)["items"].size(), 2u);
  EXPECT_EQ((*decided)["items"][0]["resolution"], "source");
  EXPECT_EQ((*decided)["items"][0]["resolved_by"], "tester");
  auto d3 = rc.decide(std::stoll(sync), 3, "custom", json{{"title", "custom 3"}}, "tester");
  ASSERT_TRUE(d3.is_ok()) << d3.status().to_string();
  EXPECT_EQ((*d3)["pending"], 0);
  EXPECT_EQ((*d3)["job_requeued"], true);

  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "succeeded") << job(j, "error");
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 5"),
            "src 1,dst 2,custom 3,src 4,item 5");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "10");
  EXPECT_EQ(job(j, "updated"), "3");
  EXPECT_EQ(job(j, "conflicts"), "3");
  // The decided conflicts outlive Redis: in the catalog with their decisions, once.
  EXPECT_EQ(catalog_conflicts(j),
            "1 resolved source - tester true; 2 resolved target - tester true; "
            "3 resolved custom custom 3 tester true");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j +
                      " AND sync_id = " + sync +
                      " AND kind = 'both_changed' AND "
                      "conflicting = '{title}' AND source_row ->> 'title' = 'src ' || (key ->> "
                      "'id') AND target_row ->> 'title' = 'dst ' || (key ->> 'id') AND "
                      "length(record) > 0"),
            "3");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.job_list WHERE id = " + j +
                      " AND conflicts_pending = 0"),
            "1");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_), 0);
  EXPECT_EQ(job(j, "stage_cleared"), "t");
  // The commit from Redis left its audit in the catalog, in the order staged: row 4's clean
  // change (the run), then the decisions (row 2's "target" wrote nothing).
  EXPECT_EQ(db_.value("SELECT string_agg(side || ' ' || (key->>'id') || ' ' || operation || ' ' "
                      "|| array_to_string(fields, '|'), ',' ORDER BY audit_id, position) FROM "
                      "dbsync.audit_log WHERE job_id = " +
                      j),
            "target 4 update title,target 1 update title,target 3 update title");
  // The baseline holds the decisions: a third run finds nothing to do.
  std::string j3 = queue(sync);
  EXPECT_EQ(wait_status(j3, {"succeeded", "failed", "awaiting_resolution"}), "succeeded");
  EXPECT_EQ(job(j3, "updated"), "0");
  EXPECT_EQ(job(j3, "conflicts"), "0");
  // No unfinished Redis job any more.
  auto none = rc.list(std::stoll(sync), std::nullopt, 0, 10);
  EXPECT_EQ(none.status().code(), ErrorCode::kNotFound);
}

// The whole cycle through the HTTP API: Redis set with PUT /api/settings (checked with PING),
// runs started with POST /api/sync/{id}, the waiting job's conflicts listed and decided through
// /conflicts and /resolve (one at a time, then the rest in bulk), the job committed.
TEST_F(DbsyncdRedisStage, FullCycleOverTheHttpApi) {
  std::string sync = make_sync("manual", 10, 100);
  auto d = start_daemon();
  const int port = d->wait_listening();
  ASSERT_GT(port, 0);
  httplib::Client api("127.0.0.1", port);
  api.set_bearer_token_auth(kToken);
  auto call = [&](const char* method, const std::string& path,
                  const json& body = nullptr) -> std::pair<int, json> {
    httplib::Result r =
        std::string(method) == "GET" ? api.Get(path)
        : std::string(method) == "PUT"
            ? api.Put(path, body.dump(), "application/json")
            : api.Post(path, body.is_null() ? "{}" : body.dump(), "application/json");
    if (!r) return {0, nullptr};
    return {r->status, json::parse(r->body, nullptr, false)};
  };
  auto [set_status, set_body] = call("PUT", "/api/settings", json{{"redis_url", stack_redis_}});
  ASSERT_EQ(set_status, 200) << set_body.dump();
  EXPECT_EQ(db_.value("SELECT dbsync.executor_kind(" + sync + ")"), "daemon");

  auto run = [&]() {
    auto [status, body] = call("POST", "/api/sync/" + sync);
    EXPECT_EQ(status, 202) << body.dump();
    return body["job"].is_object() ? std::to_string(body["job"].value("id", 0LL)) : "0";
  };
  std::string j1 = run();
  ASSERT_EQ(wait_status(j1, {"succeeded", "failed", "awaiting_resolution"}), "succeeded")
      << job(j1, "error");
  db_.sql("UPDATE src SET name = 'src ' || id WHERE id <= 4");
  db_.sql("UPDATE dst SET title = 'dst ' || id WHERE id <= 3");
  std::string j = run();
  ASSERT_EQ(wait_status(j, {"succeeded", "failed", "awaiting_resolution"}), "awaiting_resolution")
      << job(j, "error");
  EXPECT_EQ(job(j, "stage"), "redis");

  const std::string base = "/api/sync/" + sync;
  auto [list_status, list] = call("GET", base + "/conflicts?status=pending");
  ASSERT_EQ(list_status, 200) << list.dump();
  EXPECT_EQ(list["stage"], "redis");
  EXPECT_EQ(list["job_id"], std::stoll(j));
  ASSERT_EQ(list["items"].size(), 3u) << list.dump();
  EXPECT_EQ(list["items"][0]["key"], json({{"id", 1}}));
  EXPECT_EQ(list["items"][0]["source_row"]["title"], "src 1");

  auto [r1, b1] = call("POST", base + "/resolve/1", json{{"decision", "source"}});
  ASSERT_EQ(r1, 200) << b1.dump();
  EXPECT_EQ(b1["result"], "resolved");
  EXPECT_EQ(b1["conflict"]["status"], "resolved");
  EXPECT_EQ(b1["pending"], 2);
  auto [again, again_body] = call("POST", base + "/resolve/1", json{{"decision", "target"}});
  EXPECT_EQ(again, 409) << again_body.dump();
  auto [unknown, unknown_body] = call("POST", base + "/resolve/77", json{{"decision", "skip"}});
  EXPECT_EQ(unknown, 404) << unknown_body.dump();
  auto [bad, bad_body] = call("POST", base + "/resolve/2", json{{"decision", "sideways"}});
  EXPECT_EQ(bad, 422) << bad_body.dump();
  EXPECT_EQ(bad_body["error"]["details"]["field"], "decision");
  auto [custom, custom_body] = call("POST", base + "/resolve/2",
                                    json{{"decision", "custom"}, {"row", {{"title", "mine 2"}}}});
  ASSERT_EQ(custom, 200) << custom_body.dump();
  EXPECT_EQ(job(j, "status"), "awaiting_resolution");
  EXPECT_EQ(db_.value("SELECT title FROM dst WHERE id = 2"), "dst 2");  // nothing applied yet

  auto [bulk, bulk_body] = call("POST", base + "/resolve", json{{"decision", "target"}});
  ASSERT_EQ(bulk, 200) << bulk_body.dump();
  EXPECT_EQ(bulk_body["decided"], 1);
  EXPECT_EQ(bulk_body["job_requeued"], true);
  ASSERT_EQ(wait_status(j, {"succeeded", "failed"}), "succeeded") << job(j, "error");
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 4"),
            "src 1,mine 2,dst 3,src 4");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_), 0);
  // Done with Redis: the listing falls back to the catalog's conflicts, where the decided ones
  // were copied with the final status.
  auto [after_status, after] = call("GET", base + "/conflicts?status=resolved");
  ASSERT_EQ(after_status, 200) << after.dump();
  EXPECT_EQ(after["stage"], "catalog");
  ASSERT_EQ(after["items"].size(), 3u) << after.dump();
  std::map<int, json> by_key;
  for (const json& c : after["items"]) by_key[c["key"]["id"].get<int>()] = c;
  EXPECT_EQ(by_key[1]["resolution"], "source");
  EXPECT_EQ(by_key[2]["resolution"], "custom");
  EXPECT_EQ(by_key[2]["resolved_row"]["title"], "mine 2") << by_key[2].dump();
  EXPECT_EQ(by_key[3]["resolution"], "target");
  for (auto& [k, c] : by_key) {
    EXPECT_EQ(c["status"], "resolved") << c.dump();
    EXPECT_EQ(c["job_id"], std::stoll(j)) << c.dump();
    EXPECT_EQ(c["resolved_by"].get<std::string>().rfind("api token ", 0), 0u) << c.dump();
    EXPECT_TRUE(c["resolved_at"].is_string()) << c.dump();
    EXPECT_EQ(c["source_row"]["title"], "src " + std::to_string(k)) << c.dump();
  }
  auto [none_status, none] = call("GET", base + "/conflicts?status=pending");
  EXPECT_EQ(none_status, 200);
  EXPECT_EQ(none["items"].size(), 0u) << none.dump();
}

TEST_F(DbsyncdRedisStage, Kill9WhileAwaitingResolutionLosesNothingAndAppliesOnce) {
  std::string sync = make_sync("manual", 10, 100);
  set_redis(stack_redis_);
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  d->signal(SIGKILL);
  d->wait_exit();
  d = start_daemon();
  RedisConflicts rc(db_.url(), nullptr);
  auto all = rc.decide_all(std::stoll(sync), "source", "tester");
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ((*all)["decided"], 3);
  EXPECT_EQ((*all)["job_requeued"], true);
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "succeeded") << job(j, "error");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(job(j, "updated"), "4");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_), 0);
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j +
                      " AND resolution = 'source' AND resolved_by = 'tester'"),
            "3");
  std::string j3 = queue(sync);
  EXPECT_EQ(wait_status(j3, {"succeeded", "failed", "awaiting_resolution"}), "succeeded");
  EXPECT_EQ(job(j3, "updated"), "0");
}

TEST_F(DbsyncdRedisStage, RedisDownMidRunPausesTheJobWhichResumesWhenItIsBack) {
  LocalRedis server;
  ASSERT_TRUE(server.start()) << "could not start redis-server on port " << server.port();
  std::string sync = make_sync("manual", 20000, 20);
  set_redis(server.url());
  auto d = start_daemon();
  std::string j = queue(sync);
  const bool mid = wait_running(j, 1);
  ASSERT_TRUE(mid) << job(j, "status") << " " << job(j, "error");
  server.stop();
  // Paused: back in the queue, the reason in its error, the target untouched (hold_all).
  bool paused = false;
  for (int i = 0; i < 600 && !paused; ++i) {
    paused = job(j, "phase") == "paused";
    if (!paused) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(paused) << job(j, "status") << " " << job(j, "error") << d->stderr_text();
  EXPECT_EQ(job(j, "status"), "queued");
  std::string err = job(j, "error");
  EXPECT_EQ(
      err.rfind("paused: Redis 127.0.0.1:" + std::to_string(server.port()) + " unavailable", 0), 0u)
      << err;
  EXPECT_NE(err.find("retrying in 10 s"), std::string::npos) << err;
  EXPECT_EQ(job(j, "pauses"), "1");
  EXPECT_EQ(job(j, "executor"), "<null>");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "0");
  // Its conflicts cannot be decided while the run is unfinished (a resume may rewind it).
  RedisConflicts rc(db_.url(), nullptr);
  auto early = rc.decide(std::stoll(sync), 1, "source", std::nullopt, "tester");
  EXPECT_EQ(early.status().code(), ErrorCode::kConflict) << early.status().to_string();
  EXPECT_NE(early.status().message().find("is still running"), std::string::npos);
  // The stage's position was committed with the checkpoint.
  std::string mark = job(j, "stage_mark");
  EXPECT_EQ(mark.rfind("run ", 0), 0u) << mark;
  ASSERT_TRUE(server.start());
  {
    // A put whose outcome was unknown and did happen (or whose batch never committed): the
    // last staged change again, beyond the mark. The resumed run must drop it (applied twice,
    // the local target would see "rows appeared" and fail the job).
    const std::string changes = keys_of(j, server.url())[0];
    auto conn = redis::RedisConnection::connect(server.url());
    ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
    auto last = conn->command({"LINDEX", changes, "-1"});
    ASSERT_TRUE(last.is_ok()) << last.status().to_string();
    ASSERT_TRUE(last->is_string());
    std::string dup(last->str());
    auto pushed = conn->command({"RPUSH", changes, dup});
    ASSERT_TRUE(pushed.is_ok()) << pushed.status().to_string();
    const long long staged = std::stoll(mark.substr(4, mark.find(' ', 4) - 4));
    EXPECT_GE(pushed->integer(), staged + 1);
  }
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}, 120), "succeeded") << job(j, "error");
  EXPECT_EQ(job(j, "inserted"), "20000");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "20000");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(job(j, "error"), "<null>");
  EXPECT_EQ(job(j, "pauses"), "1");
  EXPECT_EQ(keys_after_waiting(j, server.url()), 0);
}

// Redis restarted without persistence mid-run: what the job staged is gone. A run that went on
// (or resumed from its mark) would commit only what it staged afterwards and lose the rest; it
// must stop instead, naming the loss, with nothing applied, and the next run sync everything.
TEST_F(DbsyncdRedisStage, RedisRestartedEmptyMidRunStopsTheJobNamingTheLoss) {
  LocalRedis server;
  ASSERT_TRUE(server.start()) << "could not start redis-server on port " << server.port();
  std::string sync = make_sync("manual", 20000, 20);
  set_redis(server.url());
  auto d = start_daemon();
  std::string j = queue(sync);
  const bool mid = wait_running(j, 2000);
  ASSERT_TRUE(mid) << job(j, "status") << " " << job(j, "error");
  server.crash_and_forget();
  ASSERT_TRUE(server.start());  // at once, and empty
  EXPECT_EQ(wait_status(j, {"succeeded", "failed", "awaiting_resolution"}, 120), "failed")
      << job(j, "error");
  const std::string err = job(j, "error");
  EXPECT_NE(err.find("in Redis 127.0.0.1:" + std::to_string(server.port()) + " lost its data"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("Run the sync again"), std::string::npos) << err;
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "0");  // hold_all: nothing was applied

  std::string again = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  RedisConflicts rc(db_.url(), nullptr);
  auto all = rc.decide_all(std::stoll(sync), "source", "tester");
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(wait_status(again, {"succeeded", "failed"}, 120), "succeeded") << job(again, "error");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "20000");
  EXPECT_EQ(mismatches(), "0");
}

// Redis restarted without persistence while a job waits for decisions: its conflicts are gone.
// The runner's janitor finds the waiting job's stage missing and sends it to its commit step,
// which fails it clearly instead of leaving it waiting for conflicts nobody can decide.
TEST_F(DbsyncdRedisStage, AWaitingJobWhoseStageVanishedFailsClearly) {
  LocalRedis server;
  ASSERT_TRUE(server.start()) << "could not start redis-server on port " << server.port();
  std::string sync = make_sync("manual", 10, 1);
  set_redis(server.url());
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync, server.url());
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  server.crash_and_forget();
  ASSERT_TRUE(server.start());
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}, 60), "failed") << job(j, "error");
  const std::string err = job(j, "error");
  EXPECT_NE(err.find("is no longer in Redis 127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << err;
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 4"),
            "dst 1,dst 2,dst 3,item 4");  // nothing of the lost change set was applied
}

TEST_F(DbsyncdRedisStage, AResumedCommitNeverAppliesAnAppliedBatchAgain) {
  std::string sync = make_sync("manual", 10, 1);
  set_redis(stack_redis_);
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  d->signal(SIGKILL);
  d->wait_exit();
  RedisConflicts rc(db_.url(), nullptr);
  auto all = rc.decide_all(std::stoll(sync), "source", "tester");
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  // Staged in order: row 4's change (the run), then the decisions of rows 1, 2, 3.
  EXPECT_EQ(redis_int(stack_redis_, {"LLEN", keys_of(j, stack_redis_)[0]}), 4);
  // A commit cut off after its first batch (row 4) committed but before its LTRIM: the
  // committed mark says 1 applied, Redis still holds it. Row 4 is as that batch left it.
  db_.sql("UPDATE dst SET title = 'src 4' WHERE id = 4");
  db_.sql("UPDATE dbsync.jobs SET stage_mark = 'commit 1' WHERE id = " + j);
  d = start_daemon();
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "succeeded") << job(j, "error");
  EXPECT_EQ(mismatches(), "0");
  // Rows 1-3 applied by this commit; row 4 not again.
  EXPECT_EQ(job(j, "updated"), "3");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_), 0);
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j), "3");
}

TEST_F(DbsyncdRedisStage, AStageWhoseKeysAreGoneFailsTheCommitClearly) {
  std::string sync = make_sync("manual", 10, 100);
  set_redis(stack_redis_);
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  // The TTL ran out (or someone deleted the keys) while the decisions were being made.
  std::vector<std::string> del{"DEL"};
  for (const std::string& k : keys_of(j, stack_redis_)) del.push_back(k);
  EXPECT_GE(redis_int(stack_redis_, del), 4);
  db_.sql("UPDATE dbsync.jobs SET status = 'queued', step = 'commit' WHERE id = " + j);
  db_.sql("NOTIFY dbsync_jobs");
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "failed");
  std::string err = job(j, "error");
  EXPECT_NE(err.find("sync \"manual\""), std::string::npos) << err;
  EXPECT_NE(err.find("is no longer in Redis"), std::string::npos) << err;
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 4"),
            "dst 1,dst 2,dst 3,item 4");
}

// A commit killed (kill -9) after part of its changes were applied, resumed by another dbsyncd
// after the lease: every change applied once, and each conflict copied to the catalog once, with
// its decision, in the transaction of the final status.
TEST_F(DbsyncdRedisStage, Kill9MidCommitResumesAndCopiesEachConflictOnce) {
  std::string sync = make_sync("manual", 3000, 5);
  set_redis(stack_redis_);
  auto d = start_daemon({"--lease-seconds=3"});
  std::string j1 = queue(sync);
  ASSERT_EQ(wait_status(j1, {"succeeded", "failed", "awaiting_resolution"}, 120), "succeeded")
      << job(j1, "error");
  db_.sql("UPDATE src SET name = 'src ' || id");
  db_.sql("UPDATE dst SET title = 'dst ' || id WHERE id <= 40");
  std::string j = queue(sync);
  ASSERT_EQ(wait_status(j, {"succeeded", "failed", "awaiting_resolution"}, 120),
            "awaiting_resolution")
      << job(j, "error");
  RedisConflicts rc(db_.url(), nullptr);
  auto all = rc.decide_all(std::stoll(sync), "source", "tester");
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ((*all)["decided"], 40);
  // Killed mid-commit: some batches applied and committed, not all.
  bool mid = false;
  for (int i = 0; i < 3000 && !mid; ++i) {
    mid = job(j, "status") == "committing" && std::stoll(job(j, "updated")) >= 200;
    if (!mid) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  d->signal(SIGKILL);
  d->wait_exit();
  ASSERT_TRUE(mid) << job(j, "status") << " " << job(j, "updated") << " " << job(j, "error");
  const long long applied = std::stoll(job(j, "updated"));
  EXPECT_LT(applied, 3000) << "the commit ended before the kill";
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j), "0");
  EXPECT_EQ(job(j, "status"), "committing");
  d = start_daemon({"--lease-seconds=3"});
  ASSERT_EQ(wait_status(j, {"succeeded", "failed"}, 120), "succeeded") << job(j, "error");
  EXPECT_EQ(job(j, "interruptions"), "1");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(job(j, "updated"), "3000");
  EXPECT_EQ(db_.value("SELECT count(*) || ' ' || count(DISTINCT key) FROM dbsync.conflicts "
                      "WHERE job_id = " +
                      j +
                      " AND status = 'resolved' AND resolution = 'source' AND "
                      "resolved_by = 'tester' AND resolved_at IS NOT NULL"),
            "40 40");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts"), "40");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_), 0);
  EXPECT_EQ(wait_column(j, "stage_cleared", "t"), "t");
}

// dbsync.cancel of a job awaiting decisions (no dbsyncd is running it): the janitor deletes its
// keys within a few poll ticks and marks the job.
TEST_F(DbsyncdRedisStage, AJobCancelledFromSqlLosesItsKeys) {
  std::string sync = make_sync("manual", 10, 100);
  set_redis(stack_redis_);
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  EXPECT_GE(existing_keys(j, stack_redis_), 4);
  EXPECT_EQ(job(j, "stage_cleared"), "f");
  EXPECT_EQ(db_.value("SELECT dbsync.cancel(" + j + ")"), "cancelled");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_, 10), 0);
  EXPECT_EQ(wait_column(j, "stage_cleared", "t"), "t");
  EXPECT_NE(d->stderr_text().find("stage janitor: deleted the stage keys of finished jobs"),
            std::string::npos)
      << d->stderr_text();
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 4"),
            "dst 1,dst 2,dst 3,item 4");
}

// A job that fails (its target is gone when its commit step starts): its keys are deleted too.
TEST_F(DbsyncdRedisStage, AFailedJobLosesItsKeys) {
  std::string sync = make_sync("manual", 10, 100);
  set_redis(stack_redis_);
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync);
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  d->signal(SIGKILL);
  d->wait_exit();
  RedisConflicts rc(db_.url(), nullptr);
  auto all = rc.decide_all(std::stoll(sync), "source", "tester");
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ((*all)["job_requeued"], true);
  db_.sql("ALTER TABLE dst RENAME TO dst_gone");
  d = start_daemon();
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "failed");
  EXPECT_EQ(keys_after_waiting(j, stack_redis_, 10), 0);
  EXPECT_EQ(wait_column(j, "stage_cleared", "t"), "t");
}

// Redis unreachable when the janitor runs: nothing fails, the job stays marked as having keys,
// and they are deleted once Redis is back.
TEST_F(DbsyncdRedisStage, TheJanitorDeletesTheKeysOnceRedisIsBack) {
  LocalRedis server;
  ASSERT_TRUE(server.start()) << "could not start redis-server on port " << server.port();
  std::string sync = make_sync("manual", 10, 100);
  set_redis(server.url());
  auto d = start_daemon();
  std::string j = run_until_conflicts(sync, server.url());
  ASSERT_FALSE(HasFailure()) << d->stderr_text();
  EXPECT_GE(existing_keys(j, server.url()), 4);
  server.stop();
  EXPECT_EQ(db_.value("SELECT dbsync.cancel(" + j + ")"), "cancelled");
  bool warned = false;
  for (int i = 0; i < 100 && !warned; ++i) {
    warned = d->stderr_text().find("stage janitor: could not clean up") != std::string::npos;
    if (!warned) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(warned) << d->stderr_text();
  EXPECT_EQ(job(j, "stage_cleared"), "f");
  EXPECT_EQ(job(j, "status"), "cancelled");
  ASSERT_TRUE(server.start());
  EXPECT_EQ(keys_after_waiting(j, server.url(), 90), 0);
  EXPECT_EQ(wait_column(j, "stage_cleared", "t"), "t");
}

// The Redis password: stored sealed with SECRET_KEY (never in clear, never returned), unsealed
// by the runner; another key or none is a clear error; without SECRET_KEY none is stored; a
// clear password from before is still read and sealed by the next PUT.
TEST_F(DbsyncdRedisStage, ThePasswordIsSealedWithTheSecretKey) {
  LocalRedis server(std::string("s3cret-pw"));
  ASSERT_TRUE(server.start()) << "could not start redis-server on port " << server.port();
  std::string sync = make_sync("manual", 10, 100);
  const std::string stored =
      "SELECT jsonb_typeof(value) || ' ' || value::text FROM dbsync.settings WHERE key = "
      "'daemon.redis_password'";
  {
    // Without SECRET_KEY: refused, nothing stored.
    auto d = start_daemon();
    const int port = d->wait_listening();
    Answer a = api(port, "PUT", "/api/settings",
                   json{{"redis_url", server.url()}, {"redis_password", "s3cret-pw"}});
    EXPECT_EQ(a.status, 409) << a.text;
    EXPECT_EQ(a.body["error"]["code"], "secret_key_missing") << a.text;
    EXPECT_NE(a.text.find("SECRET_KEY"), std::string::npos) << a.text;
    EXPECT_EQ(db_.value(stored), "<null>");
    // Nor in the URL.
    Answer in_url =
        api(port, "PUT", "/api/settings",
            json{{"redis_url",
                  "redis://:s3cret-pw@127.0.0.1:" + std::to_string(server.port()) + "/0"}});
    EXPECT_EQ(in_url.status, 409) << in_url.text;
    EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.settings WHERE key LIKE 'daemon.%'"), "0");
  }
  auto d = start_daemon({}, {{"SECRET_KEY", kKeyA}});
  int port = d->wait_listening();
  Answer put = api(port, "PUT", "/api/settings",
                   json{{"redis_url", server.url()}, {"redis_password", "s3cret-pw"}});
  ASSERT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(put.body["redis_password"], "********");
  std::string value = db_.value(stored);
  EXPECT_EQ(value.rfind("object {\"sealed\": \"01", 0), 0u) << value;  // format version 1
  EXPECT_EQ(value.find("s3cret-pw"), std::string::npos) << value;
  Answer got = api(port, "GET", "/api/settings");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body["redis_password"], "********");
  EXPECT_EQ(got.body["redis_url"], server.url());
  EXPECT_EQ(got.text.find("s3cret-pw"), std::string::npos) << got.text;
  // The masked value sent back keeps it (checked with PING using the unsealed password).
  EXPECT_EQ(api(port, "PUT", "/api/settings", json{{"redis_password", "********"}}).status, 200);
  // The runner unseals it: a job staged in this Redis.
  std::string j1 = queue(sync);
  ASSERT_EQ(wait_status(j1, {"succeeded", "failed", "awaiting_resolution"}), "succeeded")
      << job(j1, "error");
  EXPECT_EQ(job(j1, "stage"), "redis");
  EXPECT_EQ(mismatches(), "0");

  // A password written in the URL is moved out of it and sealed the same way.
  const std::string with_pw =
      "redis://:s3cret-pw@127.0.0.1:" + std::to_string(server.port()) + "/0";
  Answer moved =
      api(port, "PUT", "/api/settings", json{{"redis_url", with_pw}, {"redis_password", nullptr}});
  ASSERT_EQ(moved.status, 200) << moved.text;
  EXPECT_EQ(moved.text.find("s3cret-pw"), std::string::npos) << moved.text;
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.settings WHERE value::text LIKE "
                      "'%s3cret-pw%'"),
            "0");
  EXPECT_EQ(db_.value("SELECT jsonb_typeof(value) FROM dbsync.settings WHERE key = "
                      "'daemon.redis_password'"),
            "object");
  d->signal(SIGTERM);
  d->wait_exit();

  // Another key: the job fails saying why.
  d = start_daemon({}, {{"SECRET_KEY", kKeyB}});
  db_.sql("UPDATE src SET name = 'again ' || id WHERE id = 1");
  std::string j2 = queue(sync);
  ASSERT_EQ(wait_status(j2, {"succeeded", "failed", "awaiting_resolution"}), "failed");
  std::string err = job(j2, "error");
  EXPECT_NE(err.find("cannot decrypt the Redis password"), std::string::npos) << err;
  EXPECT_NE(err.find("SECRET_KEY"), std::string::npos) << err;
  EXPECT_EQ(err.find("s3cret-pw"), std::string::npos) << err;
  // The API says so too, instead of checking with a wrong password.
  Answer unreadable =
      api(d->wait_listening(), "PUT", "/api/settings", json{{"redis_url", server.url()}});
  EXPECT_EQ(unreadable.status, 409) << unreadable.text;
  EXPECT_EQ(unreadable.body["error"]["code"], "redis_password_unreadable") << unreadable.text;
  d->signal(SIGTERM);
  d->wait_exit();

  // No key: the same, naming the setting.
  d = start_daemon();
  std::string j3 = queue(sync);
  ASSERT_EQ(wait_status(j3, {"succeeded", "failed", "awaiting_resolution"}), "failed");
  err = job(j3, "error");
  EXPECT_NE(err.find("sealed with SECRET_KEY, which is not set"), std::string::npos) << err;
  d->signal(SIGTERM);
  d->wait_exit();

  // A clear password stored before sealing existed: still read, sealed by the next PUT.
  db_.sql(
      "UPDATE dbsync.settings SET value = to_jsonb('s3cret-pw'::text) WHERE key = "
      "'daemon.redis_password'");
  db_.sql("UPDATE dbsync.settings SET value = to_jsonb('" + server.url() +
          "'::text) WHERE key = 'daemon.redis_url'");
  d = start_daemon({}, {{"SECRET_KEY", kKeyA}});
  port = d->wait_listening();
  std::string j4 = queue(sync);
  ASSERT_EQ(wait_status(j4, {"succeeded", "failed", "awaiting_resolution"}), "succeeded")
      << job(j4, "error");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(db_.value(stored), "string \"s3cret-pw\"");
  Answer resealed = api(port, "PUT", "/api/settings", json{{"redis_password", "********"}});
  ASSERT_EQ(resealed.status, 200) << resealed.text;
  value = db_.value(stored);
  EXPECT_EQ(value.rfind("object {\"sealed\": ", 0), 0u) << value;
  EXPECT_EQ(value.find("s3cret-pw"), std::string::npos) << value;
  EXPECT_EQ(d->stderr_text().find("s3cret-pw"), std::string::npos);
}

}  // namespace
}  // namespace dbsync::daemon::testing
