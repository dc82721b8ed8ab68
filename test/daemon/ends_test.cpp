// The end registry (daemon/runner/ends.hpp) in-process: the kinds it refuses, the capabilities
// and connection profile of each end, against the local stack's PostgreSQL for the ends it
// opens (libpq's defaults from PGHOST/PGPORT/PGUSER/PGDATABASE are the master).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "daemon/runner/ends.hpp"

namespace dbsync::daemon::testing {
namespace {

EndSpec spec(const std::string& kind, const std::string& side = "source") {
  EndSpec e;
  e.side = side;
  e.datasource = "shop";
  e.kind = kind;
  e.table = "public.items";
  return e;
}

TEST(DbsyncdEnds, RefusesTheKindsItCannotOpenNamingThem) {
  for (const char* kind : {"mysql", "wordpress", "oracle"}) {
    SCOPED_TRACE(kind);
    EXPECT_FALSE(can_open_kind(kind));
    Result<OpenedEnd> end = open_end(spec(kind, "target"), EndContext{});
    ASSERT_FALSE(end.is_ok());
    EXPECT_EQ(end.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(end.status().message(), std::string("the target datasource \"shop\" is of kind ") +
                                          kind + ", which this dbsyncd cannot reach yet");
  }
  for (const char* kind : {"local", "postgres", "supabase", "neon"})
    EXPECT_TRUE(can_open_kind(kind));
}

TEST(DbsyncdEnds, ProfilesCarryTheKindTimeoutAndPasswordRule) {
  EndSpec remote = spec("supabase");
  remote.connect_timeout = "2.5";
  remote.require_password = true;
  pg::ConnectionProfile p = postgres_profile(remote, *find_datasource_kind("supabase"));
  EXPECT_EQ(p.kind, "supabase");
  EXPECT_EQ(p.connect.timeout_ms, 2500);
  EXPECT_TRUE(p.connect.require_password);
  EXPECT_EQ(p.pooler_mode, pg::PoolerMode::kSession);

  remote.connect_timeout = "0";  // out of range: the default
  remote.require_password = false;
  p = postgres_profile(remote, *find_datasource_kind("neon"));
  EXPECT_EQ(p.kind, "neon");
  EXPECT_EQ(p.connect.timeout_ms, 10000);
  EXPECT_FALSE(p.connect.require_password);

  // The master is the daemon's own DATABASE_URL: no password rule, whatever the owner.
  EndSpec local = spec("local");
  local.connect_timeout = "3";
  p = postgres_profile(local, *find_datasource_kind("local"));
  EXPECT_EQ(p.kind, "local");
  EXPECT_EQ(p.connect.timeout_ms, 10000);
  EXPECT_FALSE(p.connect.require_password);
}

TEST(DbsyncdEnds, ARemoteEndNeedsItsConninfoAndTheKey) {
  Result<OpenedEnd> none = open_end(spec("postgres"), EndContext{});
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().message(), "datasource \"shop\" has no conninfo");

  EndSpec sealed = spec("postgres");
  sealed.sealed_conninfo = "not really sealed";
  Result<OpenedEnd> no_key = open_end(sealed, EndContext{});
  ASSERT_FALSE(no_key.is_ok());
  EXPECT_NE(no_key.status().message().find("SECRET_KEY is not set"), std::string::npos)
      << no_key.status().message();
}

class DbsyncdEndsOnTheStack : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::getenv("PGHOST") && std::getenv("PGPORT"))
        << "PGHOST/PGPORT not set: start the stack (test/stack/stack start; eval \"$(test/stack/"
           "stack env)\")";
    auto c = pg::PgConnection::connect("");
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    db_ = std::move(c).value();
    schema_ = "ends_test_" + std::to_string(::getpid());
    sql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    sql("CREATE SCHEMA " + schema_);
    sql("CREATE TABLE " + schema_ + ".items (id int PRIMARY KEY, name text)");
    sql("INSERT INTO " + schema_ + ".items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    sql("CREATE VIEW " + schema_ + ".items_view AS SELECT id, name FROM " + schema_ + ".items");
  }
  void TearDown() override {
    if (db_.is_open()) (void)db_.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  void sql(const std::string& text) {
    Status st = db_.exec(text);
    ASSERT_TRUE(st.is_ok()) << st.to_string() << "\nin: " << text;
  }
  EndSpec on_stack(const std::string& kind, const std::string& table) {
    EndSpec e = spec(kind);
    e.table = schema_ + "." + table;
    return e;
  }
  size_t rows(Target& t) {
    Result<std::unique_ptr<RowReader>> r = t.scan({{0, 1}, 1, {}, 100});
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (!r.is_ok()) return 0;
    size_t n = 0;
    for (;;) {
      const Row* row = nullptr;
      Status st = (*r)->next(row);
      EXPECT_TRUE(st.is_ok()) << st.to_string();
      if (!st.is_ok() || !row) return n;
      ++n;
    }
  }

  pg::PgConnection db_;
  std::string schema_;
};

TEST_F(DbsyncdEndsOnTheStack, TheMastersTableSharesItsTransaction) {
  EndSpec e = on_stack("local", "items");
  e.filter = "id >= 2";
  Result<OpenedEnd> end = open_end(e, EndContext{"", nullptr});
  ASSERT_TRUE(end.is_ok()) << end.status().to_string();
  EXPECT_EQ(end->kind, "local");
  ASSERT_NE(end->schema, nullptr);
  ASSERT_EQ(end->schema->columns.size(), 2u);
  EXPECT_EQ(end->schema->columns[1].name, "name");
  EXPECT_TRUE(end->caps.shares_master_transaction);
  EXPECT_TRUE(end->caps.fingerprints);
  EXPECT_EQ(end->caps.filter_dialect, KindFamily::kPostgres);
  ASSERT_NE(end->master_connection, nullptr);
  EXPECT_TRUE(end->master_connection->is_open());
  EXPECT_EQ(rows(*end->table), 2u);  // the filter reached the table
}

TEST_F(DbsyncdEndsOnTheStack, AViewCarriesNoFingerprints) {
  Result<OpenedEnd> end = open_end(on_stack("local", "items_view"), EndContext{"", nullptr});
  ASSERT_TRUE(end.is_ok()) << end.status().to_string();
  EXPECT_FALSE(end->caps.fingerprints);
  EXPECT_EQ(rows(*end->table), 3u);
}

TEST_F(DbsyncdEndsOnTheStack, ARemoteEndIsOpenedWithItsKindsProfile) {
  Result<secrets::Key> key = secrets::parse_key(std::string(64, 'a'));
  ASSERT_TRUE(key.is_ok()) << key.status().to_string();
  // The stack lets this host in without a password.
  const std::string conninfo =
      std::string("host=") + std::getenv("PGHOST") + " port=" + std::getenv("PGPORT") +
      (std::getenv("PGUSER") ? std::string(" user=") + std::getenv("PGUSER") : std::string()) +
      (std::getenv("PGDATABASE") ? std::string(" dbname=") + std::getenv("PGDATABASE")
                                 : std::string());
  Result<std::string> sealed = secrets::seal(*key, conninfo);
  ASSERT_TRUE(sealed.is_ok()) << sealed.status().to_string();
  EndSpec e = on_stack("neon", "items");
  e.sealed_conninfo = *sealed;
  e.require_password = false;
  Result<OpenedEnd> end = open_end(e, EndContext{"", &*key});
  ASSERT_TRUE(end.is_ok()) << end.status().to_string();
  EXPECT_FALSE(end->caps.shares_master_transaction);
  EXPECT_EQ(end->master_connection, nullptr);
  EXPECT_TRUE(end->caps.fingerprints);
  EXPECT_EQ(rows(*end->table), 3u);

  // The owner is not a superuser: the profile's password rule refuses this conninfo.
  e.require_password = true;
  Result<OpenedEnd> strict = open_end(e, EndContext{"", &*key});
  ASSERT_FALSE(strict.is_ok());
  EXPECT_NE(strict.status().message().find("password is required"), std::string::npos)
      << strict.status().message();
  EXPECT_NE(strict.status().message().find("the source " + schema_ +
                                           ".items on datasource "
                                           "\"shop\""),
            std::string::npos)
      << strict.status().message();
}

}  // namespace
}  // namespace dbsync::daemon::testing
