// dbsyncd's job runner against the local stack: real dbsyncd processes claim and run jobs
// queued in a fresh database per test (the stack's launcher serves only its own database, so
// here the daemons are the only executors). Kill -9, SIGTERM, cancel, two daemons, a remote
// end, the manual cycle with dbsync.resolve in SQL.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "test/daemon/dbsyncd_process.hpp"

namespace dbsync::daemon::testing {
namespace {

const std::string kToken = "runner-admin-token-0123456789abcdef";

bool stack_present() { return std::getenv("PGHOST") && std::getenv("PGPORT"); }

std::string url_of(const std::string& db) {
  return "postgresql://" + std::string(std::getenv("PGUSER") ? std::getenv("PGUSER") : "postgres") +
         "@" + std::getenv("PGHOST") + ":" + std::getenv("PGPORT") + "/" + db;
}

// A database of its own, dropped afterwards.
class Database {
 public:
  void create(bool with_extension) {
    static std::atomic<int> counter{0};
    name_ = "dbsyncd_r_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    auto admin = pg::PgConnection::connect("");
    ASSERT_TRUE(admin.is_ok()) << admin.status().to_string();
    ASSERT_TRUE(admin->exec("DROP DATABASE IF EXISTS " + pg::quote_ident(name_)).is_ok());
    Status st = admin->exec("CREATE DATABASE " + pg::quote_ident(name_));
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    auto c = pg::PgConnection::connect(url_of(name_));
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    conn_ = std::move(c).value();
    if (with_extension) sql("CREATE EXTENSION dbsync");
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
  const std::string& name() const { return name_; }
  std::string url() const { return url_of(name_); }

 private:
  std::string name_;
  pg::PgConnection conn_;
};

class DbsyncdJobRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_present()) << "PGHOST/PGPORT not set: start the stack (test/stack/stack "
                                    "start; eval \"$(test/stack/stack env)\")";
    db_.create(true);
    if (HasFatalFailure()) return;
    // The key of dbsync.secret_key_file (relative to the data directory): the daemon's
    // SECRET_KEY, so that it reads what the extension sealed.
    key_ = db_.value("SELECT trim(pg_read_file('dbsync.key'))");
    ASSERT_EQ(key_.size(), 64u) << key_;
    db_.sql("SELECT dbsync.add_datasource('master', 'local')");
  }

  // A daemon that runs any job (--executors=all) with `extra` flags; waits until it listens.
  std::unique_ptr<DaemonProcess> start_daemon(std::vector<std::string> extra = {},
                                              std::optional<std::string> key = std::nullopt) {
    auto d = std::make_unique<DaemonProcess>();
    std::vector<std::string> args{"--listen=127.0.0.1:0", "--workers=4", "--db-connections=2",
                                  "--poll-seconds=1"};
    bool has_executors = false;
    for (const auto& a : extra) has_executors = has_executors || a.rfind("--executors", 0) == 0;
    if (!has_executors) args.push_back("--executors=all");
    args.insert(args.end(), extra.begin(), extra.end());
    std::map<std::string, std::string> env{
        {"DATABASE_URL", db_.url()}, {"DBSYNC_ADMIN_TOKEN", kToken}, {"DBSYNC_LOG_LEVEL", "info"}};
    std::string k = key.value_or(key_);
    if (!k.empty()) env["SECRET_KEY"] = k;
    d->start(env, args);
    int port = d->wait_listening();
    EXPECT_GT(port, 0) << d->stderr_text();
    return d;
  }

  // Tables src (id, name, price) with `rows` rows and an empty dst (id, title, price), and a
  // sync between them; returns the sync's id.
  std::string make_sync(const std::string& name, int rows, int batch, const std::string& extra = "",
                        const std::string& suffix = "") {
    db_.sql("CREATE TABLE src" + suffix +
            " (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2))");
    db_.sql("CREATE TABLE dst" + suffix +
            " (id integer PRIMARY KEY, title text, price numeric(10,2))");
    db_.sql("INSERT INTO src" + suffix +
            " SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, " + std::to_string(rows) +
            ") g");
    return db_.value("SELECT dbsync.create_sync('" + name + "', 'master', 'public.src" + suffix +
                     "', 'master', 'public.dst" + suffix +
                     "', mapping => '{\"title\": \"name\", \"price\": \"price\"}', batch_size => " +
                     std::to_string(batch) + extra + ")");
  }

  std::string queue(const std::string& sync_id) {
    return db_.value("SELECT job_id FROM dbsync.queue_job(" + sync_id + ", 'sql')");
  }

  std::string job(const std::string& id, const std::string& column) {
    return db_.value("SELECT " + column + " FROM dbsync.jobs WHERE id = " + id);
  }

  // Waits until the job's status is one of `wanted` (up to `seconds`); returns the status.
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

  // Waits until the running job committed at least one batch.
  bool wait_mid_run(const std::string& id) {
    for (int i = 0; i < 1200; ++i) {
      if (job(id, "status") == "running" && job(id, "inserted") != "0") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  // Rows of dst that differ from what the mapping makes of src (both directions).
  std::string mismatches(const std::string& suffix = "") {
    return db_.value("SELECT count(*) FROM src" + suffix + " s FULL JOIN dst" + suffix +
                     " d ON d.id = s.id WHERE s.id IS NULL OR d.id IS NULL OR "
                     "d.title IS DISTINCT FROM s.name OR d.price IS DISTINCT FROM s.price");
  }

  Database db_;
  std::string key_;
};

TEST_F(DbsyncdJobRunner, LocalToLocalRunByTheDaemonWithExactRowsAndCounts) {
  std::string sync = make_sync("s1", 1000, 100);
  // A daemon with the default --executors=daemon leaves this (worker) job alone.
  auto only_daemon_jobs = start_daemon({"--executors=daemon"});
  std::string j1 = queue(sync);
  EXPECT_EQ(job(j1, "executor_kind"), "worker");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(job(j1, "status"), "queued");
  only_daemon_jobs->signal(SIGTERM);
  EXPECT_EQ(only_daemon_jobs->wait_exit(), 0) << only_daemon_jobs->stderr_text();

  auto d = start_daemon();
  EXPECT_EQ(wait_status(j1, {"succeeded", "failed"}), "succeeded") << job(j1, "error");
  EXPECT_EQ(job(j1, "inserted"), "1000");
  EXPECT_EQ(job(j1, "scanned"), "1000");
  EXPECT_EQ(job(j1, "updated"), "0");
  EXPECT_EQ(job(j1, "attempts"), "1");
  EXPECT_EQ(job(j1, "interruptions"), "0");
  EXPECT_EQ(job(j1, "executor"), "<null>");
  EXPECT_EQ(job(j1, "phase"), "done");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.sync_state WHERE sync_id = " + sync), "1000");
  // The audit: one row per applied batch (10 of 100), one audit_log row per insert, each
  // writing every mapped column.
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.audit WHERE job_id = " + j1), "10");
  EXPECT_EQ(db_.value("SELECT count(*) || ' ' || count(DISTINCT key) || ' ' || min(fields::text) "
                      "|| ' ' || max(fields::text) FROM dbsync.audit_log WHERE job_id = " +
                      j1 + " AND side = 'target' AND operation = 'insert' AND sync = 's1'"),
            "1000 1000 {id,price,title} {id,price,title}");

  // A second run: 10 updates, 5 deletes, 3 inserts, the rest unchanged.
  db_.sql("UPDATE src SET price = price + 1 WHERE id <= 10");
  db_.sql("DELETE FROM src WHERE id BETWEEN 991 AND 995");
  db_.sql("INSERT INTO src VALUES (2001, 'new a', 1), (2002, 'new b', 2), (2003, 'new c', 3)");
  std::string j2 = queue(sync);
  EXPECT_EQ(wait_status(j2, {"succeeded", "failed"}), "succeeded") << job(j2, "error");
  EXPECT_EQ(job(j2, "inserted"), "3");
  EXPECT_EQ(job(j2, "updated"), "10");
  EXPECT_EQ(job(j2, "deleted"), "5");
  EXPECT_EQ(job(j2, "unchanged"), "985");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "998");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.sync_state WHERE sync_id = " + sync), "998");
  // Its audit: the 18 changes with their operations and changed fields, in key order.
  EXPECT_EQ(db_.value("SELECT string_agg(operation || ':' || array_to_string(fields, '|'), ',' "
                      "ORDER BY operation) FROM (SELECT DISTINCT operation, fields "
                      "FROM dbsync.audit_log WHERE job_id = " +
                      j2 + ") o"),
            "delete:,insert:id|price|title,update:price");
  EXPECT_EQ(db_.value("SELECT string_agg(key->>'id', ',' ORDER BY audit_id, position) FROM "
                      "dbsync.audit_log WHERE job_id = " +
                      j2 + " AND operation <> 'update'"),
            "991,992,993,994,995,2001,2002,2003");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.audit_log WHERE job_id = " + j2 +
                      " AND operation = 'update' AND fields = '{price}' AND (key->>'id')::int "
                      "<= 10"),
            "10");
  EXPECT_NE(d->stderr_text().find("\"event\":\"job claimed\""), std::string::npos);
}

TEST_F(DbsyncdJobRunner, RemotePostgresTargetThroughItsEncryptedConninfo) {
  Database other;
  other.create(false);
  ASSERT_FALSE(HasFatalFailure());
  other.sql("CREATE TABLE items (id integer PRIMARY KEY, title text, price numeric(10,2))");
  other.sql("INSERT INTO items VALUES (1, 'stale', 0), (9999, 'only in the target', 1)");
  db_.sql("SELECT dbsync.add_datasource('shop', 'postgres', 'host=" +
          std::string(std::getenv("PGHOST")) + " port=" + std::getenv("PGPORT") +
          " dbname=" + other.name() + " user=postgres')");
  db_.sql("CREATE TABLE src (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2))");
  db_.sql("INSERT INTO src SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 500) g");
  std::string sync = db_.value(
      "SELECT dbsync.create_sync('to_shop', 'master', 'public.src', 'shop', 'public.items', "
      "mapping => '{\"title\": \"name\", \"price\": \"price\"}', batch_size => 64)");
  std::string j = queue(sync);
  auto d = start_daemon();
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "succeeded") << job(j, "error");
  // Row 1 existed without a baseline: a first-run conflict, source wins; 9999 is left alone
  // (one-way).
  EXPECT_EQ(job(j, "inserted"), "499");
  EXPECT_EQ(other.value("SELECT count(*) FROM items"), "501");
  EXPECT_EQ(other.value("SELECT title || ' ' || price FROM items WHERE id = 1"), "item 1 1.50");
  EXPECT_EQ(other.value("SELECT title FROM items WHERE id = 9999"), "only in the target");
  EXPECT_EQ(other.value("SELECT count(*) FROM items WHERE id <= 500 AND title = 'item ' || id "
                        "AND price = id * 1.5"),
            "500");
  // The conninfo never reaches the log.
  EXPECT_EQ(d->stderr_text().find("user=postgres"), std::string::npos);
}

TEST_F(DbsyncdJobRunner, ManualStrategySurvivesKill9WhileAwaitingResolution) {
  std::string sync = make_sync("manual", 10, 100, ", strategy => 'manual'");
  auto d = start_daemon();
  std::string j1 = queue(sync);
  ASSERT_EQ(wait_status(j1, {"succeeded", "failed", "awaiting_resolution"}), "succeeded")
      << job(j1, "error");
  ASSERT_EQ(mismatches(), "0");

  // Both sides change rows 1-3 differently; row 4 changes on the source only.
  db_.sql("UPDATE src SET name = 'src ' || id WHERE id <= 4");
  db_.sql("UPDATE dst SET title = 'dst ' || id WHERE id <= 3");
  std::string j2 = queue(sync);
  ASSERT_EQ(wait_status(j2, {"succeeded", "failed", "awaiting_resolution"}), "awaiting_resolution")
      << job(j2, "error");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j2 +
                      " AND status = 'pending'"),
            "3");
  // hold_all: nothing reached the target; the whole change set waits in the stage.
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 4"),
            "dst 1,dst 2,dst 3,item 4");
  EXPECT_EQ(job(j2, "executor"), "<null>");
  std::string staged = db_.value("SELECT count(*) FROM dbsync.stage WHERE job_id = " + j2);
  EXPECT_EQ(staged, "1");

  d->signal(SIGKILL);
  d->wait_exit();
  d = start_daemon();
  db_.sql("SELECT dbsync.resolve(id, 'source') FROM dbsync.conflicts WHERE job_id = " + j2 +
          " AND key = '{\"id\": 1}'");
  db_.sql("SELECT dbsync.resolve(id, 'target') FROM dbsync.conflicts WHERE job_id = " + j2 +
          " AND key = '{\"id\": 2}'");
  EXPECT_EQ(job(j2, "status"), "awaiting_resolution");
  db_.sql(
      "SELECT dbsync.resolve(id, 'custom', '{\"title\": \"custom 3\"}') FROM "
      "dbsync.conflicts WHERE job_id = " +
      j2 + " AND key = '{\"id\": 3}'");
  EXPECT_EQ(wait_status(j2, {"succeeded", "failed"}), "succeeded") << job(j2, "error");
  EXPECT_EQ(db_.value("SELECT string_agg(title, ',' ORDER BY id) FROM dst WHERE id <= 5"),
            "src 1,dst 2,custom 3,src 4,item 5");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "10");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.stage WHERE job_id = " + j2), "0");
  // Applied once: row 1 (source), 3 (custom) and 4; row 2 kept the target's value.
  EXPECT_EQ(job(j2, "updated"), "3");
  // A third run finds nothing to do: the decisions stuck in the baseline.
  std::string j3 = queue(sync);
  EXPECT_EQ(wait_status(j3, {"succeeded", "failed", "awaiting_resolution"}), "succeeded");
  EXPECT_EQ(job(j3, "updated"), "0");
  EXPECT_EQ(job(j3, "conflicts"), "0");
}

TEST_F(DbsyncdJobRunner, Kill9MidRunResumesInAnotherDaemonAfterTheLease) {
  std::string sync = make_sync("big", 20000, 20);
  auto first = start_daemon({"--lease-seconds=3"});
  std::string j = queue(sync);
  ASSERT_TRUE(wait_mid_run(j)) << job(j, "status") << first->stderr_text();
  first->signal(SIGKILL);
  first->wait_exit();
  std::string committed = job(j, "inserted");
  EXPECT_EQ(job(j, "status"), "running");
  EXPECT_NE(job(j, "checkpoint"), "<null>");
  // What was committed is exactly what the target holds.
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), committed);

  auto second = start_daemon({"--lease-seconds=3"});
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}, 120), "succeeded") << job(j, "error");
  EXPECT_EQ(job(j, "interruptions"), "1");
  EXPECT_EQ(job(j, "attempts"), "2");
  EXPECT_EQ(job(j, "inserted"), "20000");
  EXPECT_EQ(mismatches(), "0");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.sync_state WHERE sync_id = " + sync), "20000");
  EXPECT_NE(second->stderr_text().find("\"event\":\"job resumed\""), std::string::npos);
}

TEST_F(DbsyncdJobRunner, TwoDaemonsRunTwentyJobsEachExactlyOnce) {
  std::vector<std::string> jobs;
  std::vector<std::string> syncs;
  for (int i = 0; i < 20; ++i)
    syncs.push_back(make_sync("s" + std::to_string(i), 200, 50, "", "_" + std::to_string(i)));
  for (const auto& s : syncs) jobs.push_back(queue(s));
  auto a = start_daemon({"--runners=2"});
  auto b = start_daemon({"--runners=2"});
  for (const auto& j : jobs) {
    EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "succeeded") << job(j, "error");
    EXPECT_EQ(job(j, "attempts"), "1");
    EXPECT_EQ(job(j, "interruptions"), "0");
    EXPECT_EQ(job(j, "inserted"), "200");
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(mismatches("_" + std::to_string(i)), "0") << i;
  // Each job was claimed once, by one of the two.
  std::string logs = a->stderr_text() + b->stderr_text();
  for (const auto& j : jobs) {
    std::string claimed = "\"event\":\"job claimed\",\"job\":" + j + ",";
    size_t first = logs.find(claimed);
    EXPECT_NE(first, std::string::npos) << j;
    if (first != std::string::npos) {
      EXPECT_EQ(logs.find(claimed, first + 1), std::string::npos) << j;
    }
  }
  EXPECT_EQ(logs.find("\"event\":\"job resumed\""), std::string::npos);
}

TEST_F(DbsyncdJobRunner, SigtermReleasesTheRunningJobForAnotherDaemon) {
  std::string sync = make_sync("big", 20000, 20);
  auto first = start_daemon();
  std::string j = queue(sync);
  ASSERT_TRUE(wait_mid_run(j)) << job(j, "status") << first->stderr_text();
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait_exit(), 0) << first->stderr_text();
  EXPECT_NE(first->stderr_text().find("\"event\":\"job released\""), std::string::npos);
  EXPECT_EQ(job(j, "status"), "queued");
  EXPECT_EQ(job(j, "executor"), "<null>");
  EXPECT_EQ(job(j, "lease_until"), "<null>");
  EXPECT_NE(job(j, "checkpoint"), "<null>");
  std::string committed = job(j, "inserted");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), committed);

  auto second = start_daemon();
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}, 120), "succeeded") << job(j, "error");
  EXPECT_EQ(job(j, "interruptions"), "0");
  EXPECT_EQ(job(j, "inserted"), "20000");
  EXPECT_EQ(mismatches(), "0");
}

TEST_F(DbsyncdJobRunner, CancelOfARunningJobKeepsWhatItCommitted) {
  std::string sync = make_sync("big", 20000, 20);
  auto d = start_daemon();
  std::string j = queue(sync);
  ASSERT_TRUE(wait_mid_run(j)) << job(j, "status") << d->stderr_text();
  EXPECT_EQ(db_.value("SELECT dbsync.cancel(" + j + ")"), "cancel requested");
  EXPECT_EQ(wait_status(j, {"cancelled", "succeeded", "failed"}), "cancelled") << job(j, "error");
  EXPECT_EQ(job(j, "executor"), "<null>");
  std::string inserted = job(j, "inserted");
  EXPECT_LT(std::stoll(inserted), 20000);
  // The target and the baseline hold exactly what the job's count says.
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), inserted);
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.sync_state WHERE sync_id = " + sync), inserted);
  // The next run continues: every row in the end.
  std::string j2 = queue(sync);
  EXPECT_EQ(wait_status(j2, {"succeeded", "failed"}, 120), "succeeded") << job(j2, "error");
  EXPECT_EQ(std::to_string(std::stoll(inserted) + std::stoll(job(j2, "inserted"))), "20000");
  EXPECT_EQ(mismatches(), "0");
}

// Issue 12: a cancel that arrives while a small job reads its only batch (a filter waits on an
// advisory lock this test holds) is read from the job's row before the batch is applied.
TEST_F(DbsyncdJobRunner, CancelActsWithinTheBatchOfASmallJob) {
  db_.sql(
      "CREATE FUNCTION gate(k integer) RETURNS boolean LANGUAGE sql AS "
      "$$ SELECT pg_advisory_xact_lock_shared(k) IS NOT NULL $$");
  std::string sync = make_sync("small", 6, 10, ", filter => 'id <> 4 OR public.gate(2)'");
  auto d = start_daemon();
  db_.sql("SELECT pg_advisory_lock(2)");
  std::string j = queue(sync);
  bool gated = false;
  for (int i = 0; i < 1200 && !gated; ++i) {
    gated = db_.value(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT "
                "granted") != "0";
    if (!gated) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(gated) << job(j, "status") << d->stderr_text();
  EXPECT_EQ(db_.value("SELECT dbsync.cancel(" + j + ")"), "cancel requested");
  db_.sql("SELECT pg_advisory_unlock(2)");
  EXPECT_EQ(wait_status(j, {"cancelled", "succeeded", "failed"}), "cancelled") << job(j, "error");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "0");
  EXPECT_EQ(job(j, "inserted"), "0");
}

// Issue 12: a manual job cancelled while staging (catalog stage) leaves no conflict pending:
// they end skipped, and its stage is dropped.
TEST_F(DbsyncdJobRunner, ACancelledStagingJobSkipsItsConflicts) {
  db_.sql(
      "CREATE FUNCTION gate(k integer) RETURNS boolean LANGUAGE sql AS "
      "$$ SELECT pg_advisory_xact_lock_shared(k) IS NOT NULL $$");
  // 400 rows in batches of 2, the source fetched 100 rows at a time and read ahead: conflicts
  // of earlier batches are recorded before the job reaches the gate at row 301.
  std::string sync = make_sync("staging", 400, 2);
  auto d = start_daemon();
  std::string j1 = queue(sync);
  ASSERT_EQ(wait_status(j1, {"succeeded", "failed"}), "succeeded") << job(j1, "error");
  db_.sql("UPDATE src SET name = 'src ' || id");
  db_.sql("UPDATE dst SET title = 'dst ' || id");
  db_.sql(
      "SELECT dbsync.alter_sync('staging', strategy => 'manual', filter => 'id <= 300 OR "
      "public.gate(2)')");
  db_.sql("SELECT pg_advisory_lock(2)");
  std::string j = queue(sync);
  bool gated = false;
  for (int i = 0; i < 1200 && !gated; ++i) {
    gated = db_.value(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT "
                "granted") != "0";
    if (!gated) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(gated) << job(j, "status") << d->stderr_text();
  EXPECT_EQ(db_.value("SELECT dbsync.cancel(" + j + ")"), "cancel requested");
  db_.sql("SELECT pg_advisory_unlock(2)");
  EXPECT_EQ(wait_status(j, {"cancelled", "succeeded", "failed", "awaiting_resolution"}),
            "cancelled")
      << job(j, "error");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j +
                      " AND status = 'pending'"),
            "0");
  EXPECT_NE(db_.value("SELECT count(*) FROM dbsync.conflicts WHERE job_id = " + j +
                      " AND status = 'skipped'"),
            "0");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.stage WHERE job_id = " + j), "0");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst WHERE title LIKE 'dst %'"), "400");
}

TEST_F(DbsyncdJobRunner, ADroppedSourceTableFailsTheJobNamingIt) {
  std::string sync = make_sync("gone", 10, 100);
  db_.sql("DROP TABLE src");
  auto d = start_daemon();
  std::string j = queue(sync);
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "failed");
  std::string err = job(j, "error");
  EXPECT_NE(err.find("public.src"), std::string::npos) << err;
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  EXPECT_NE(err.find("\"gone\""), std::string::npos) << err;
  EXPECT_EQ(job(j, "executor"), "<null>");
}

TEST_F(DbsyncdJobRunner, TakesExpiredLeasesOfDaemonsNeverJobsOfAWorker) {
  std::string worker_sync = make_sync("held_by_worker", 10, 100, "", "_w");
  std::string daemon_sync = make_sync("held_by_dead_daemon", 10, 100, "", "_d");
  std::string wj = queue(worker_sync);
  std::string dj = queue(daemon_sync);
  // As if a background worker ran the first (its lease looks stale: a long batch) and a dbsyncd
  // that died ran the second.
  db_.sql(
      "UPDATE dbsync.jobs SET status = 'running', executor = 'worker 999999', "
      "lease_until = now() - interval '1 minute', started_at = now() WHERE id = " +
      wj);
  db_.sql(
      "UPDATE dbsync.jobs SET status = 'running', executor = 'dbsyncd gone:1', "
      "lease_until = now() - interval '1 minute', started_at = now(), attempts = 1 "
      "WHERE id = " +
      dj);
  auto d = start_daemon();
  EXPECT_EQ(wait_status(dj, {"succeeded", "failed"}), "succeeded") << job(dj, "error");
  EXPECT_EQ(job(dj, "interruptions"), "1");
  EXPECT_EQ(job(dj, "attempts"), "2");
  EXPECT_EQ(mismatches("_d"), "0");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(job(wj, "status"), "running");
  EXPECT_EQ(job(wj, "executor"), "worker 999999");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst_w"), "0");

  // A job whose daemons died 5 times fails instead of looping.
  std::string j3 = queue(daemon_sync);
  db_.sql(
      "UPDATE dbsync.jobs SET status = 'running', executor = 'dbsyncd gone:2', "
      "lease_until = now() - interval '1 minute', started_at = now(), interruptions = 4 "
      "WHERE id = " +
      j3);
  EXPECT_EQ(wait_status(j3, {"succeeded", "failed"}), "failed");
  EXPECT_EQ(job(j3, "error"), "its executor died 5 times; given up");
  EXPECT_EQ(job(j3, "interruptions"), "5");
}

TEST_F(DbsyncdJobRunner, TheOwnersRevokedPrivilegeFailsTheJobAsInTheExtension) {
  const std::string role = db_.name() + "_owner";
  db_.sql("CREATE ROLE " + role + " IN ROLE dbsync_admin");
  db_.sql("CREATE TABLE src (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2))");
  db_.sql("CREATE TABLE dst (id integer PRIMARY KEY, title text, price numeric(10,2))");
  db_.sql("INSERT INTO src VALUES (1, 'a', 1)");
  db_.sql("GRANT SELECT ON src TO " + role);
  db_.sql("GRANT ALL ON dst TO " + role);
  db_.sql("SET ROLE " + role);
  std::string sync = db_.value(
      "SELECT dbsync.create_sync('owned', 'master', 'public.src', 'master', 'public.dst', "
      "mapping => '{\"title\": \"name\", \"price\": \"price\"}')");
  db_.sql("RESET ROLE");
  db_.sql("REVOKE SELECT ON src FROM " + role);
  auto d = start_daemon();
  std::string j = queue(sync);
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "failed");
  // The extension's message and detail, as its workers record them.
  EXPECT_EQ(job(j, "error"), "role \"" + role +
                                 "\" lacks SELECT on the source public.src (A sync reads and "
                                 "writes its local tables with the privileges of the role that "
                                 "created or last altered it.)");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dst"), "0");
  db_.sql("DROP OWNED BY " + role);
  db_.sql("DROP ROLE " + role);
}

TEST_F(DbsyncdJobRunner, TheListenerReconnectsWhenItsConnectionDies) {
  std::string sync = make_sync("woken", 100, 50);
  // A long poll: only a notification wakes the runner in time.
  auto d = start_daemon({"--poll-seconds=300"});
  const std::string listener =
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = "
      "'LISTEN dbsync_jobs' AND pid <> pg_backend_pid()";
  std::string first;
  for (int i = 0; i < 100 && (first = db_.value(listener)) == "<null>"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(first, "<null>") << d->stderr_text();
  EXPECT_EQ(db_.value("SELECT pg_terminate_backend(" + first + ")"), "t");
  std::string second = "<null>";
  for (int i = 0; i < 200; ++i) {
    second = db_.value(listener);
    if (second != "<null>" && second != first) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(second, "<null>");
  ASSERT_NE(second, first);
  std::string j = queue(sync);
  EXPECT_EQ(wait_status(j, {"succeeded", "failed"}, 20), "succeeded") << d->stderr_text();
  EXPECT_EQ(mismatches(), "0");
  EXPECT_NE(d->stderr_text().find("lost the master connection"), std::string::npos);
}

TEST_F(DbsyncdJobRunner, AWrongOrMissingSecretKeyFailsTheJobNamingTheDatasource) {
  const std::string secret = "Pa55word-not-for-logs";
  db_.sql("SELECT dbsync.add_datasource('shop', 'postgres', 'host=" +
          std::string(std::getenv("PGHOST")) + " port=" + std::getenv("PGPORT") +
          " dbname=" + db_.name() + " user=postgres password=" + secret + "')");
  db_.sql("CREATE TABLE src (id integer PRIMARY KEY, name text NOT NULL)");
  db_.sql("CREATE TABLE items (id integer PRIMARY KEY, name text)");
  std::string sync = db_.value(
      "SELECT dbsync.create_sync('to_shop', 'master', 'public.src', 'shop', 'public.items')");
  struct Case {
    std::string key;
    std::string message;
  } cases[] = {{std::string(64, 'a'), "cannot decrypt the conninfo of datasource \"shop\""},
               {"", "SECRET_KEY is not set: cannot read the conninfo of datasource \"shop\""}};
  for (const Case& c : cases) {
    auto d = start_daemon({}, c.key);
    std::string j = queue(sync);
    EXPECT_EQ(wait_status(j, {"succeeded", "failed"}), "failed");
    std::string err = job(j, "error");
    EXPECT_NE(err.find(c.message), std::string::npos) << err;
    EXPECT_NE(err.find("sync \"to_shop\""), std::string::npos) << err;
    EXPECT_EQ(err.find(secret), std::string::npos) << err;
    d->signal(SIGTERM);
    EXPECT_EQ(d->wait_exit(), 0);
    EXPECT_EQ(d->stderr_text().find(secret), std::string::npos);
  }
}

}  // namespace
}  // namespace dbsync::daemon::testing
