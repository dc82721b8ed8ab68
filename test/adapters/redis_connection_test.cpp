#include "adapters/redis/redis_connection.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test/adapters/redis_test_env.hpp"

namespace dbsync::redis::testing {
namespace {

::testing::AssertionResult has(const Status& st, ErrorCode code, const std::string& needle) {
  if (st.is_ok()) return ::testing::AssertionFailure() << "ok, expected an error with " << needle;
  if (st.code() != code)
    return ::testing::AssertionFailure() << "code " << error_code_name(st.code()) << ", expected "
                                         << error_code_name(code) << ": " << st.message();
  if (st.message().find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "\"" << st.message() << "\" lacks \"" << needle << "\"";
  return ::testing::AssertionSuccess();
}

TEST(RedisUrl, ParsesHostPortDatabaseAndPassword) {
  Result<RedisUrl> u = parse_redis_url("redis://cache.local:6380/3");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->host, "cache.local");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 3);
  EXPECT_FALSE(u->password);
  EXPECT_FALSE(u->user);

  u = parse_redis_url("redis://127.0.0.1");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->port, 6379);
  EXPECT_EQ(u->db, 0);

  u = parse_redis_url("redis://:s%40cret%3A1@10.0.0.2:7000/");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->host, "10.0.0.2");
  EXPECT_EQ(u->port, 7000);
  EXPECT_EQ(u->db, 0);
  EXPECT_EQ(u->password, "s@cret:1");
  EXPECT_FALSE(u->user);

  u = parse_redis_url("redis://app:pw@[::1]:6390/2");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 6390);
  EXPECT_EQ(u->db, 2);
  EXPECT_EQ(u->user, "app");
  EXPECT_EQ(u->password, "pw");
}

TEST(RedisUrl, RefusesBadUrlsClearly) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},
      {"rediss://h:6379/0", "TLS"},
      {"http://h:6379", "unsupported scheme \"http\""},
      {"localhost:6379", "missing the redis:// scheme"},
      {"redis://", "missing host"},
      {"redis://:6379/0", "missing host"},
      {"redis://:pw@/0", "missing host"},
      {"redis://h:0", "bad port \"0\""},
      {"redis://h:65536", "bad port \"65536\""},
      {"redis://h:63x9", "bad port \"63x9\""},
      {"redis://h:", "bad port \"\""},
      {"redis://h:6379/x", "bad database number \"x\""},
      {"redis://h:6379/-1", "bad database number \"-1\""},
      {"redis://h:6379/0?ssl=true", "query parameters"},
      {"redis://ho st:6379", "bad character in the host"},
      {"redis://h;rm -rf:6379", "bad character in the host"},
      {"redis://pw@h:6379", "needs a ':'"},
      {"redis://:@h:6379", "empty password"},
      {"redis://:p%zz@h", "bad %-escape in the password"},
      {"redis://[::1:6379", "unclosed '['"},
      {"\x01\x02garbage", "missing the redis:// scheme"},
  };
  for (const auto& [url, why] : cases) {
    Result<RedisUrl> u = parse_redis_url(url);
    EXPECT_TRUE(has(u.status(), ErrorCode::kInvalidArgument, why)) << "url: " << url;
    if (!u.is_ok()) {
      EXPECT_NE(u.status().message().find("redis URL"), std::string::npos);
    }
    // connect and check_redis say the same without touching the network.
    EXPECT_TRUE(has(check_redis(url, std::nullopt), ErrorCode::kInvalidArgument, why)) << url;
  }
}

TEST(RedisConnection, NothingListeningIsUnavailableNamingHostAndPort) {
  const int port = free_port();
  const std::string url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  Result<RedisConnection> c = RedisConnection::connect(url);
  EXPECT_TRUE(has(c.status(), ErrorCode::kUnavailable,
                  "redis 127.0.0.1:" + std::to_string(port) + ": cannot connect"));
  EXPECT_TRUE(has(check_redis(url, std::nullopt), ErrorCode::kUnavailable, "cannot connect"));
  // A name that does not resolve: also unavailable (DNS may come back), never a crash.
  EXPECT_EQ(check_redis("redis://no-such-host.invalid:6379", std::nullopt).code(),
            ErrorCode::kUnavailable);
}

class RedisStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> url = stack_redis_url();
    if (!url) {
      GTEST_SKIP() << kStartTheStack;
    }
    url_ = *url;
  }
  std::string url_;
};

TEST_F(RedisStackTest, PingsAndRunsBinarySafeCommands) {
  ASSERT_TRUE(check_redis(url_, std::nullopt).is_ok());
  Result<RedisConnection> c = RedisConnection::connect(url_);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_TRUE(c->ping().is_ok());
  const std::string key = "dbsync-test:" + test_job("bin");
  const std::string value("a\0b\r\n\xff", 6);
  ASSERT_TRUE(c->command({"SET", key, value}).is_ok());
  Result<RedisReply> r = c->command({"GET", key});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->str(), value);
  ASSERT_TRUE(c->command({"DEL", key}).is_ok());
  r = c->command({"GET", key});
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->is_nil());
  // An error reply is a Status naming the endpoint and the command, and the connection lives.
  Result<RedisReply> bad = c->command({"NOSUCHCOMMAND", "x"});
  EXPECT_TRUE(has(bad.status(), ErrorCode::kInternal, "NOSUCHCOMMAND failed: ERR unknown command"));
  EXPECT_NE(bad.status().message().find(c->endpoint()), std::string::npos);
  EXPECT_TRUE(c->ping().is_ok());
}

TEST_F(RedisStackTest, SelectsTheDatabaseOfTheUrl) {
  Result<RedisUrl> u = parse_redis_url(url_);
  ASSERT_TRUE(u.is_ok());
  const std::string base = "redis://" + u->host + ":" + std::to_string(u->port);
  Result<RedisConnection> db5 = RedisConnection::connect(base + "/5");
  Result<RedisConnection> db0 = RedisConnection::connect(base + "/0");
  ASSERT_TRUE(db5.is_ok()) << db5.status().to_string();
  ASSERT_TRUE(db0.is_ok()) << db0.status().to_string();
  const std::string key = "dbsync-test:" + test_job("db");
  ASSERT_TRUE(db5->command({"SET", key, "five"}).is_ok());
  EXPECT_TRUE(db0->command({"GET", key})->is_nil());
  EXPECT_EQ(db5->command({"GET", key})->str(), "five");
  ASSERT_TRUE(db5->command({"DEL", key}).is_ok());

  Result<RedisConnection> db99 = RedisConnection::connect(base + "/99");
  EXPECT_TRUE(has(db99.status(), ErrorCode::kInvalidArgument, "SELECT 99 failed"));
}

TEST_F(RedisStackTest, ADroppedConnectionFailsOneCommandThenReconnects) {
  Result<RedisConnection> c = RedisConnection::connect(url_);
  Result<RedisConnection> admin = RedisConnection::connect(url_);
  ASSERT_TRUE(c.is_ok() && admin.is_ok());
  Result<RedisReply> id = c->command({"CLIENT", "ID"});
  ASSERT_TRUE(id.is_ok() && id->is_integer());
  Result<RedisReply> killed =
      admin->command({"CLIENT", "KILL", "ID", std::to_string(id->integer())});
  ASSERT_TRUE(killed.is_ok()) << killed.status().to_string();
  ASSERT_EQ(killed->integer(), 1);
  // The server closed it: the next command fails as unavailable (no crash, no SIGPIPE death)...
  Status st = c->ping();
  EXPECT_TRUE(has(st, ErrorCode::kUnavailable, "redis " + c->endpoint() + ": PING failed"));
  EXPECT_FALSE(c->is_connected());
  // ...and the one after reconnects on its own.
  EXPECT_TRUE(c->ping().is_ok());
  Result<RedisReply> id2 = c->command({"CLIENT", "ID"});
  ASSERT_TRUE(id2.is_ok());
  EXPECT_NE(id2->integer(), id->integer());
  // Writing to a killed connection many times over never kills the process either.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(admin->command({"CLIENT", "KILL", "ID", std::to_string(id2->integer())}).is_ok());
    std::vector<std::vector<std::string_view>> cmds(200, {"PING"});
    Result<std::vector<RedisReply>> p = c->pipeline(cmds);
    EXPECT_EQ(p.status().code(), ErrorCode::kUnavailable);
    ASSERT_TRUE(c->ping().is_ok());
    id2 = c->command({"CLIENT", "ID"});
    ASSERT_TRUE(id2.is_ok());
  }
}

TEST(RedisPrivateServer, WrongOrMissingPasswordIsAClearError) {
  LocalRedis server("s3cret pass");
  ASSERT_TRUE(server.start()) << "could not start redis-server on port " << server.port();
  EXPECT_TRUE(check_redis(server.url(), "s3cret pass").is_ok());
  // In the URL, percent-encoded.
  EXPECT_TRUE(
      check_redis("redis://:s3cret%20pass@127.0.0.1:" + std::to_string(server.port()), std::nullopt)
          .is_ok());
  Status wrong = check_redis(server.url(), "wrong");
  EXPECT_TRUE(has(wrong, ErrorCode::kInvalidArgument, "AUTH failed: WRONGPASS"));
  EXPECT_NE(wrong.message().find("127.0.0.1:" + std::to_string(server.port())), std::string::npos);
  EXPECT_EQ(wrong.message().find("s3cret"), std::string::npos);  // never the password
  Status missing = check_redis(server.url(), std::nullopt);
  EXPECT_TRUE(has(missing, ErrorCode::kInvalidArgument, "NOAUTH"));
}

TEST(RedisPrivateServer, StoppedServerIsUnavailableThenWorksWhenBack) {
  LocalRedis server;
  ASSERT_TRUE(server.start());
  RedisOptions quick;
  quick.connect_timeout = std::chrono::milliseconds(500);
  quick.command_timeout = std::chrono::milliseconds(500);
  Result<RedisConnection> c = RedisConnection::connect(server.url(), std::nullopt, quick);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_TRUE(c->command({"SET", "k", "kept"}).is_ok());

  server.stop();
  Status down = c->ping();
  EXPECT_TRUE(
      has(down, ErrorCode::kUnavailable, "redis 127.0.0.1:" + std::to_string(server.port())));
  Status still_down = c->ping();  // reconnecting fails the same way
  EXPECT_TRUE(has(still_down, ErrorCode::kUnavailable, "cannot connect"));

  ASSERT_TRUE(server.start());
  EXPECT_TRUE(c->ping().is_ok());
  Result<RedisReply> v = c->command({"GET", "k"});
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->str(), "kept");  // the append-only file kept it
}

TEST(RedisPrivateServer, AServerThatStopsAnsweringTimesOut) {
  LocalRedis server;
  ASSERT_TRUE(server.start());
  RedisOptions quick;
  quick.connect_timeout = std::chrono::milliseconds(300);
  quick.command_timeout = std::chrono::milliseconds(300);
  Result<RedisConnection> c = RedisConnection::connect(server.url(), std::nullopt, quick);
  ASSERT_TRUE(c.is_ok());
  server.pause();
  auto t0 = std::chrono::steady_clock::now();
  Status st = c->ping();
  auto took = std::chrono::steady_clock::now() - t0;
  server.resume();
  EXPECT_TRUE(has(st, ErrorCode::kUnavailable, "timed out"));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(c->ping().is_ok());
}

}  // namespace
}  // namespace dbsync::redis::testing
