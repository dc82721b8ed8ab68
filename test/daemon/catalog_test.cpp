// The HTTP side's way to the master (daemon/catalog/db.hpp) against the stack's PostgreSQL: a
// failure keeps its SQLSTATE and texts (the API answers by them), the pool's limits and its
// handling of broken connections, and the transaction guard.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "daemon/catalog/db.hpp"
#include "daemon/http/api_error.hpp"

namespace dbsync::daemon::catalog {
namespace {

class DbsyncdCatalog : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::getenv("PGHOST") && std::getenv("PGPORT"))
        << "PGHOST/PGPORT not set: start the stack (test/stack/stack start)";
  }
  // libpq's defaults: the stack's PGHOST, PGPORT, PGUSER, PGDATABASE.
  Pool pool_{"", 2};
};

TEST_F(DbsyncdCatalog, AFailureKeepsItsSqlstateMessageDetailAndHint) {
  auto conn = pool_.acquire();
  ASSERT_TRUE(conn.is_ok()) << conn.failure().message;
  pg::PgConnection& db = conn.value().pg();

  auto missing = run(db, "SELECT * FROM no_such_table_here");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.failure().sqlstate, "42P01");
  EXPECT_EQ(missing.failure().message, "relation \"no_such_table_here\" does not exist");
  EXPECT_EQ(error_from_db(missing.failure()).status, 404);
  EXPECT_EQ(error_from_db(missing.failure(), 422).code, "invalid_reference");

  auto raised = exec(db,
                     "DO $$ BEGIN RAISE EXCEPTION 'taken' USING ERRCODE = '23505', "
                     "DETAIL = 'the name is used', HINT = 'pick another'; END $$");
  ASSERT_FALSE(raised.is_ok());
  EXPECT_EQ(raised.failure().sqlstate, "23505");
  EXPECT_EQ(raised.failure().message, "taken");  // without the detail
  EXPECT_EQ(raised.failure().detail, "the name is used");
  EXPECT_EQ(raised.failure().hint, "pick another");
  ApiError e = error_from_db(raised.failure());
  EXPECT_EQ(e.status, 409);
  EXPECT_EQ(e.details["detail"], "the name is used");
  EXPECT_EQ(e.details["hint"], "pick another");
  EXPECT_EQ(e.details["sqlstate"], "23505");

  // The next statement starts afresh.
  auto fine = json_row(db, "SELECT jsonb_build_object('n', $1::int)", {"7"});
  ASSERT_TRUE(fine.is_ok());
  EXPECT_EQ((*fine.value())["n"], 7);
  EXPECT_TRUE(db.last_failure().sqlstate.empty());
  auto none = json_row(db, "SELECT '{}'::jsonb WHERE false");
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none.value());
  // NULL parameters are bound as NULL.
  auto null = run(db, "SELECT $1::text IS NULL", {std::nullopt});
  ASSERT_TRUE(null.is_ok());
  EXPECT_EQ(null.value().get(0, 0), "t");
}

TEST_F(DbsyncdCatalog, TheSessionIsTheHttpSidesOwn) {
  auto conn = pool_.acquire();
  ASSERT_TRUE(conn.is_ok());
  auto r = run(conn.value().pg(),
               "SELECT current_setting('application_name'), current_setting('search_path'), "
               "current_setting('statement_timeout')");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().get(0, 0), "dbsyncd");
  EXPECT_EQ(r.value().get(0, 1), "pg_catalog, pg_temp");
  EXPECT_EQ(r.value().get(0, 2), "1min");
}

TEST_F(DbsyncdCatalog, ThePoolIsBoundedAndWaitsInTurn) {
  auto a = pool_.acquire();
  auto b = pool_.acquire();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto c = pool_.acquire(std::chrono::milliseconds(100));
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.failure().sqlstate, "53300");
  EXPECT_EQ(error_from_db(c.failure()).status, 503);
  {
    Connection gone = std::move(a).value();  // back to the pool at the end of this scope
  }
  auto d = pool_.acquire(std::chrono::milliseconds(100));
  EXPECT_TRUE(d.is_ok());
}

TEST_F(DbsyncdCatalog, ABrokenConnectionIsDroppedNotReused) {
  {
    auto conn = pool_.acquire();
    ASSERT_TRUE(conn.is_ok());
    auto killed = run(conn.value().pg(), "SELECT pg_terminate_backend(pg_backend_pid())");
    ASSERT_FALSE(killed.is_ok());
    EXPECT_GE(error_from_db(killed.failure()).status, 500) << killed.failure().sqlstate;
  }
  // The next request gets a working connection.
  auto again = pool_.acquire();
  ASSERT_TRUE(again.is_ok());
  auto r = run(again.value().pg(), "SELECT 1");
  EXPECT_TRUE(r.is_ok()) << (r.is_ok() ? "" : r.failure().message);
}

TEST_F(DbsyncdCatalog, ATransactionNotCommittedIsRolledBack) {
  auto conn = pool_.acquire();
  ASSERT_TRUE(conn.is_ok());
  pg::PgConnection& db = conn.value().pg();
  {
    Transaction tx(db);
    ASSERT_FALSE(tx.begin_failure());
    ASSERT_TRUE(exec(db, "CREATE TEMP TABLE catalog_test_t (x int)").is_ok());
  }
  auto gone = run(db, "SELECT * FROM pg_temp.catalog_test_t");
  ASSERT_FALSE(gone.is_ok());
  EXPECT_EQ(gone.failure().sqlstate, "42P01");
  {
    Transaction tx(db);
    ASSERT_TRUE(exec(db, "CREATE TEMP TABLE catalog_test_t (x int)").is_ok());
    ASSERT_TRUE(tx.commit().is_ok());
  }
  EXPECT_TRUE(run(db, "SELECT * FROM pg_temp.catalog_test_t").is_ok());
  ASSERT_TRUE(exec(db, "DROP TABLE pg_temp.catalog_test_t").is_ok());
}

}  // namespace
}  // namespace dbsync::daemon::catalog
