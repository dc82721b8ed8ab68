// PgConnection's non-blocking libpq and its socket-wait hook, the password rule, and PgTable's
// filter and unique-index description, against the local stack's server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/pg_table.hpp"
#include "test/adapters/pg_test_env.hpp"

namespace dbsync::pg::testing {
namespace {

std::atomic<int> g_waits{0};
std::atomic<bool> g_interrupt{false};

// Counts the waits and, once g_interrupt is set, abandons them as a backend's cancel does.
Status counting_wait(int fd, bool for_read, bool for_write, int64_t deadline_ms) {
  ++g_waits;
  if (g_interrupt) throw std::runtime_error("interrupted");
  // Short slices, so that an interrupt set meanwhile is noticed.
  int64_t slice = steady_clock_ms() + 50;
  Status st = poll_socket_wait(fd, for_read, for_write,
                               deadline_ms < 0 ? slice : std::min(slice, deadline_ms));
  if (!st.is_ok() && (deadline_ms < 0 || steady_clock_ms() < deadline_ms)) return Status::ok();
  return st;
}

// Installs a hook for one test and restores the previous one.
class HookScope {
 public:
  explicit HookScope(SocketWait hook) : previous_(set_socket_wait(hook)) {
    g_waits = 0;
    g_interrupt = false;
  }
  ~HookScope() {
    set_socket_wait(previous_);
    g_interrupt = false;
  }

 private:
  SocketWait previous_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class PgNonBlocking : public PgTest {};

TEST_F(PgNonBlocking, EveryWaitGoesThroughTheHook) {
  HookScope hook(&counting_wait);
  Result<PgConnection> c = PgConnection::connect("", ConnectOptions{5000, false});
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_GT(g_waits.load(), 0);  // the connection's handshake waited through it
  int before = g_waits;
  Result<PgResult> r = c->query("SELECT pg_sleep(0.2), $1::int + 1", {PgParam::text("41")});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->get(0, 1), "42");
  EXPECT_GT(g_waits.load(), before);  // the 200 ms were spent in the hook, not inside libpq

  // COPY both ways, several MB: the output buffer fills and PQputCopyData has to wait.
  sql("CREATE TABLE " + table("big") + " (id int PRIMARY KEY, pad text)");
  std::string data;
  const std::string pad(1000, 'x');
  for (int i = 0; i < 5000; ++i) data += std::to_string(i) + "\t" + pad + "\n";
  Status in = c->copy_in("COPY " + table("big") + " FROM STDIN", data);
  ASSERT_TRUE(in.is_ok()) << in.to_string();
  EXPECT_EQ(count("SELECT count(*) FROM " + table("big")), 5000);
  int64_t lines = 0, bytes = 0;
  Status out = c->copy_out("COPY " + table("big") + " TO STDOUT", [&](std::string_view line) {
    ++lines;
    bytes += static_cast<int64_t>(line.size());
    return Status::ok();
  });
  ASSERT_TRUE(out.is_ok()) << out.to_string();
  EXPECT_EQ(lines, 5000);
  EXPECT_EQ(bytes, static_cast<int64_t>(data.size()) - 5000);  // without the newlines

  // Errors come back as statuses and leave the connection usable.
  Result<PgResult> bad = c->query("SELECT * FROM " + table("nope"));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kNotFound);
  Status bad_copy = c->copy_in("COPY " + table("big") + " FROM STDIN", "1\tdup\n");
  ASSERT_FALSE(bad_copy.is_ok());
  EXPECT_EQ(bad_copy.code(), ErrorCode::kConflict) << bad_copy.to_string();
  EXPECT_TRUE(c->exec("SET work_mem = '8MB'; SET lock_timeout = 0").is_ok());
  Result<PgResult> again = c->query("SELECT 7");
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->get(0, 0), "7");
}

TEST_F(PgNonBlocking, AHookThatThrowsAbandonsALongQueryAtOnce) {
  HookScope hook(&counting_wait);
  auto t0 = std::chrono::steady_clock::now();
  {
    Result<PgConnection> c = PgConnection::connect("", ConnectOptions{5000, false});
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    g_interrupt = true;  // the next wait is "cancelled"
    EXPECT_THROW((void)c->query("SELECT pg_sleep(20)"), std::runtime_error);
  }  // the connection closes (RAII) while the server still sleeps
  EXPECT_LT(seconds_since(t0), 5.0);
}

TEST(PgConnectTimeout, AServerThatNeverAnswersTimesOut) {
  // A listening socket that never accepts: TCP connects, the startup packet gets no answer.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  auto t0 = std::chrono::steady_clock::now();
  Result<PgConnection> c = PgConnection::connect(
      "host=127.0.0.1 port=" + port + " dbname=x user=u password=pw sslmode=disable",
      ConnectOptions{300, false});
  double took = seconds_since(t0);
  ::close(fd);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(c.status().message().find("timeout"), std::string::npos) << c.status().message();
  EXPECT_GE(took, 0.25);
  EXPECT_LT(took, 3.0);
}

TEST(PgRequirePassword, AConnectionWithoutPasswordIsRefusedWhenRequired) {
  ASSERT_TRUE(stack_env_present()) << kStartTheStack;
  // The stack's server trusts local connections: no password is asked.
  std::string server_message = "untouched";
  Result<PgConnection> c = PgConnection::connect("", ConnectOptions{5000, true}, &server_message);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("password is required", 0), 0u) << c.status().message();
  EXPECT_EQ(server_message, "untouched");  // not a failure of the server's
  EXPECT_TRUE(PgConnection::connect("", ConnectOptions{5000, false}).is_ok());
  // Without a password in the conninfo it is refused before connecting (PGPASSWORD or a .pgpass
  // would be the process's password, not the caller's).
  Result<PgConnection> none =
      PgConnection::connect("host=127.0.0.1 port=1", ConnectOptions{5000, true});
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("the connection string has none"), std::string::npos)
      << none.status().message();
  Result<PgConnection> with = PgConnection::connect("password=x", ConnectOptions{5000, true});
  ASSERT_FALSE(with.is_ok());
  EXPECT_NE(with.status().message().find("accepted the connection without one"), std::string::npos)
      << with.status().message();

  std::string refused;
  Result<PgConnection> down = PgConnection::connect("host=127.0.0.1 port=1 password=hunter2",
                                                    ConnectOptions{2000, false}, &refused);
  ASSERT_FALSE(down.is_ok());
  EXPECT_NE(refused.find("Connection refused"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("hunter2"), std::string::npos);
}

class PgTableRemote : public PgTest {};

TEST_F(PgTableRemote, UniqueIndexesCanonicalNameAndFilteredScans) {
  sql("CREATE TABLE " + table("Items") +
      " (id int PRIMARY KEY, sku text NOT NULL, title text, a int, b int, active boolean)");
  sql("CREATE UNIQUE INDEX ON " + table("Items") + " (sku)");
  sql("CREATE UNIQUE INDEX ON " + table("Items") + " (a, b)");
  sql("CREATE UNIQUE INDEX ON " + table("Items") + " (title) WHERE active");  // partial: no
  sql("CREATE UNIQUE INDEX ON " + table("Items") + " (lower(title))");        // expression: no
  sql("INSERT INTO " + table("Items") +
      " SELECT i, 'S' || i, 'T' || i, i, i, i % 2 = 0 FROM generate_series(1, 10) i");

  Result<std::unique_ptr<PgTable>> opened = PgTable::open("", table("Items"));
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  PgTable& t = **opened;
  const TableInfo& info = t.info();
  EXPECT_EQ(info.qualified, schema_ + ".\"Items\"");
  EXPECT_EQ(info.name.schema, schema_);
  EXPECT_EQ(info.relkind, 'r');
  EXPECT_TRUE(info.indexable());
  EXPECT_EQ(info.unique_indexes.size(), 3u);
  EXPECT_TRUE(info.unique_on({"id"}));
  EXPECT_TRUE(info.unique_on({"sku"}));
  EXPECT_TRUE(info.unique_on({"title", "sku"}));
  EXPECT_TRUE(info.unique_on({"a", "b"}));
  EXPECT_FALSE(info.unique_on({"a"}));
  EXPECT_FALSE(info.unique_on({"title"}));

  // The filter: checked without reading, applied with key ranges.
  EXPECT_TRUE(t.check_filter("active AND id > 2").is_ok());
  Status unknown = t.check_filter("nope > 1");
  EXPECT_EQ(unknown.code(), ErrorCode::kNotFound) << unknown.to_string();
  Status two = t.check_filter("true; DROP TABLE " + table("Items"));
  EXPECT_FALSE(two.is_ok());
  Status comment = t.check_filter("true) OR (true -- ");
  EXPECT_TRUE(comment.is_ok()) << comment.to_string();  // still one boolean condition
  t.set_filter("active -- even ids only");
  Result<std::unique_ptr<RowReader>> r =
      t.scan({{0, 2}, 1, KeyRange{Row{Value::integer(3)}, {}}, 2});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  std::vector<int64_t> ids;
  for (;;) {
    const Row* row = nullptr;
    Status st = (*r)->next(row);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    if (!row) break;
    ids.push_back((*row)[0].as_int());
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{4, 6, 8, 10}));
  EXPECT_EQ(count("SELECT count(*) FROM " + table("Items")), 10);

  Result<std::unique_ptr<PgTable>> strict = PgTable::open("", table("Items"), {5000, true});
  EXPECT_FALSE(strict.is_ok());
}

TEST_F(PgTableRemote, ViewsAreNotIndexable) {
  sql("CREATE TABLE " + table("base") + " (id int PRIMARY KEY)");
  sql("CREATE VIEW " + table("v") + " AS SELECT id FROM " + table("base"));
  Result<std::unique_ptr<PgTable>> v = PgTable::open("", table("v"));
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ((*v)->info().relkind, 'v');
  EXPECT_FALSE((*v)->info().indexable());
  EXPECT_TRUE((*v)->info().unique_indexes.empty());
}

}  // namespace
}  // namespace dbsync::pg::testing
