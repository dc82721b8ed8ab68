// The adapter tests' PostgreSQL: the local stack's server, found through PGHOST/PGPORT/PGUSER.
// Each test gets a schema of its own, dropped afterwards. A missing stack is a failure, not a
// skip: a suite that skips proves nothing.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "adapters/postgres/pg_connection.hpp"

namespace dbsync::pg::testing {

inline bool stack_env_present() { return std::getenv("PGHOST") && std::getenv("PGPORT"); }

inline const char* kStartTheStack =
    "no PostgreSQL configured: PGHOST/PGPORT are not set. Start the local stack and load its "
    "environment:  test/stack/stack start && . .run/stack/env  (or: eval \"$(test/stack/stack "
    "env)\")";

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_env_present()) << kStartTheStack;
    Result<PgConnection> c = PgConnection::connect("");
    ASSERT_TRUE(c.is_ok()) << c.status().to_string() << "\n" << kStartTheStack;
    conn_ = std::move(c).value();
    static std::atomic<int> counter{0};
    schema_ = "dbsync_t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    ASSERT_TRUE(conn_.exec("CREATE SCHEMA " + quote_ident(schema_)).is_ok());
  }
  void TearDown() override {
    if (conn_.is_open() && !schema_.empty()) {
      conn_.rollback_quietly();
      Status st = conn_.exec("DROP SCHEMA " + quote_ident(schema_) + " CASCADE");
      EXPECT_TRUE(st.is_ok()) << st.to_string();
    }
  }

  // "schema"."name", as a table argument.
  std::string table(const std::string& name) const {
    return quote_ident(schema_) + "." + quote_ident(name);
  }
  void sql(const std::string& text) {
    Status st = conn_.exec(text);
    ASSERT_TRUE(st.is_ok()) << st.to_string() << "\nin: " << text;
  }
  int64_t count(const std::string& text) {
    Result<PgResult> r = conn_.query(text);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (!r.is_ok() || r->rows() == 0) return -1;
    return std::strtoll(std::string(r->get(0, 0)).c_str(), nullptr, 10);
  }

  PgConnection conn_;
  std::string schema_;
};

}  // namespace dbsync::pg::testing
