// dbsyncd against the local stack: the real binary on a free port, a fresh database with the
// extension per test, real sockets (httplib client).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <poll.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>

#include "adapters/postgres/pg_connection.hpp"
#include "daemon/webhooks.hpp"
#include "test/adapters/redis_test_env.hpp"
#include "test/daemon/dbsyncd_process.hpp"

namespace dbsync::daemon::testing {
namespace {

using nlohmann::json;

const std::string kToken = "test-admin-token-0123456789abcdef";

std::string header(const httplib::Headers& h, const char* key, size_t, const char* def) {
  auto it = h.find(key);
  return it == h.end() ? def : it->second;
}

bool stack_present() { return std::getenv("PGHOST") && std::getenv("PGPORT"); }

std::string pg_url(const std::string& db) {
  return "postgresql://" + std::string(std::getenv("PGUSER") ? std::getenv("PGUSER") : "postgres") +
         "@" + std::getenv("PGHOST") + ":" + std::getenv("PGPORT") + "/" + db;
}

// A database of its own for one test, dropped afterwards.
class TestDatabase {
 public:
  void create(bool with_extension) {
    static std::atomic<int> counter{0};
    name_ = "dbsyncd_t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    auto admin = pg::PgConnection::connect("");
    ASSERT_TRUE(admin.is_ok()) << admin.status().to_string();
    ASSERT_TRUE(admin->exec("DROP DATABASE IF EXISTS " + pg::quote_ident(name_)).is_ok());
    auto st = admin->exec("CREATE DATABASE " + pg::quote_ident(name_));
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    auto c = pg::PgConnection::connect(pg_url(name_));
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    conn_ = std::move(c).value();
    if (with_extension) sql("CREATE EXTENSION dbsync");
  }
  // An existing database (kept afterwards).
  void attach(const std::string& name) {
    auto c = pg::PgConnection::connect(pg_url(name));
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    conn_ = std::move(c).value();
    name_ = name;
    keep_ = true;
  }
  ~TestDatabase() {
    if (name_.empty() || keep_) return;
    conn_ = pg::PgConnection();
    auto admin = pg::PgConnection::connect("");
    if (admin.is_ok())
      (void)admin->exec("DROP DATABASE IF EXISTS " + pg::quote_ident(name_) + " WITH (FORCE)");
  }
  void sql(const std::string& text) {
    Status st = conn_.exec(text);
    ASSERT_TRUE(st.is_ok()) << st.to_string() << "\nin: " << text;
  }
  std::string value(const std::string& text) {
    auto r = conn_.query(text);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (!r.is_ok() || r->rows() == 0 || r->is_null(0, 0)) return "<null>";
    return std::string(r->get(0, 0));
  }
  const std::string& name() const { return name_; }
  std::string url() const { return pg_url(name_); }

 private:
  std::string name_;
  bool keep_ = false;
  pg::PgConnection conn_;
};

// dbsyncd's SECRET_KEY in these tests (it seals webhook secrets).
const std::string kSecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::map<std::string, std::string> daemon_env(const std::string& url, bool admin_token = true) {
  std::map<std::string, std::string> env{
      {"DATABASE_URL", url}, {"CORS_ORIGINS", "http://app.example"}, {"DBSYNC_LOG_LEVEL", "info"}};
  if (admin_token) env["DBSYNC_ADMIN_TOKEN"] = kToken;
  env["SECRET_KEY"] = kSecretKey;
  return env;
}

class DbsyncdApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_present()) << "PGHOST/PGPORT not set: start the stack (test/stack/stack "
                                    "start; eval \"$(test/stack/stack env)\")";
    prepare_database();
    if (HasFatalFailure()) return;
    daemon_.start(daemon_env(db_.url()), {"--listen=127.0.0.1:0", "--max-body-bytes=65536",
                                          "--workers=16", "--db-connections=3"});
    port_ = daemon_.wait_listening();
    ASSERT_GT(port_, 0) << daemon_.stderr_text();
  }
  virtual void prepare_database() { db_.create(true); }
  void TearDown() override {
    if (port_ > 0) {
      daemon_.signal(SIGTERM);
      EXPECT_EQ(daemon_.wait_exit(), 0) << daemon_.stderr_text();
      // Never a token in the log.
      EXPECT_EQ(daemon_.stderr_text().find(kToken), std::string::npos);
    }
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }
  httplib::Headers auth(const std::string& token = kToken) {
    return {{"Authorization", "Bearer " + token}};
  }

  struct Answer {
    int status = 0;
    json body;
    std::string text;
    httplib::Headers headers;
  };
  Answer call(const std::string& method, const std::string& path, const std::string& body = "",
              const httplib::Headers& headers = {{"Authorization", "Bearer " + kToken}}) {
    auto c = client();
    auto send = [&]() -> httplib::Result {
      if (method == "POST") return c.Post(path.c_str(), headers, body, "application/json");
      if (method == "PUT") return c.Put(path.c_str(), headers, body, "application/json");
      if (method == "DELETE") return c.Delete(path.c_str(), headers);
      if (method == "OPTIONS") return c.Options(path.c_str(), headers);
      return c.Get(path.c_str(), headers);
    };
    httplib::Result r = send();
    Answer a;
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": no answer (" << httplib::to_string(r.error())
                    << ")";
      return a;
    }
    a.status = r->status;
    a.text = r->body;
    a.headers = r->headers;
    a.body = json::parse(r->body, nullptr, false);
    return a;
  }
  Answer call(const std::string& method, const std::string& path, const json& body) {
    return call(method, path, body.dump());
  }

  // The error shape, its status and code.
  void expect_error(const Answer& a, int status, const std::string& code,
                    const std::string& field = "") {
    EXPECT_EQ(a.status, status) << a.text;
    ASSERT_TRUE(a.body.is_object()) << a.text;
    ASSERT_TRUE(a.body.contains("error")) << a.text;
    const json& e = a.body["error"];
    EXPECT_TRUE(e["code"].is_string() && e["message"].is_string() && e["details"].is_object())
        << a.text;
    if (!code.empty()) {
      EXPECT_EQ(e.value("code", ""), code) << a.text;
    }
    if (!field.empty()) {
      EXPECT_EQ(e["details"].value("field", ""), field) << a.text;
    }
  }

  long long make_local_datasource(const std::string& name) {
    auto a = call("POST", "/api/datasources", json{{"name", name}, {"kind", "local"}});
    EXPECT_EQ(a.status, 201) << a.text;
    return a.body.value("id", 0LL);
  }

  // src (3 rows) -> dst through a local datasource; returns the sync config's id.
  long long make_sync(const std::string& name = "items") {
    db_.sql("CREATE TABLE IF NOT EXISTS public.src (id integer PRIMARY KEY, name text)");
    db_.sql("CREATE TABLE IF NOT EXISTS public.dst (id integer PRIMARY KEY, title text)");
    db_.sql(
        "INSERT INTO public.src VALUES (1, 'one'), (2, 'two'), (3, 'three') "
        "ON CONFLICT DO NOTHING");
    if (!ds_) ds_ = make_local_datasource("here");
    auto a = call("POST", "/api/sync-configs",
                  json{{"name", name},
                       {"source", "here"},
                       {"source_table", "public.src"},
                       {"target", "here"},
                       {"target_table", "public.dst"},
                       {"mapping", {{"id", "id"}, {"title", "@name"}}}});
    EXPECT_EQ(a.status, 201) << a.text;
    return a.body.value("id", 0LL);
  }

  TestDatabase db_;
  DaemonProcess daemon_;
  int port_ = -1;
  long long ds_ = 0;
};

// ---------------------------------------------------------------------------- process

TEST(DbsyncdProcess, HelpDocumentsEverySetting) {
  DaemonProcess p;
  p.start({}, {"--help"});
  EXPECT_EQ(p.wait_exit(), 0);
  std::string out = p.stdout_text();
  for (const char* s : {"DATABASE_URL", "SECRET_KEY", "CORS_ORIGINS", "DBSYNC_ADMIN_TOKEN",
                        "--listen", "--workers", "--log-level", "--max-body-bytes", ".env"})
    EXPECT_NE(out.find(s), std::string::npos) << s;
}

TEST(DbsyncdProcess, BadSettingsExitTwoWithOneLine) {
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
    std::string says;
  };
  const std::string url = "postgresql://nobody@127.0.0.1:1/x";
  std::vector<Case> cases = {
      {{}, {}, "DATABASE_URL is not set"},
      {{{"DATABASE_URL", url}, {"SECRET_KEY", "abc"}}, {}, "SECRET_KEY must be 64 hex digits"},
      {{{"DATABASE_URL", url}, {"SECRET_KEY", std::string(64, 'g')}}, {}, "non-hex"},
      {{{"DATABASE_URL", url}}, {"--listen=nowhere"}, "--listen must be host:port"},
      {{{"DATABASE_URL", url}}, {"--listen=127.0.0.1:99999"}, "port must be"},
      {{{"DATABASE_URL", url}}, {"--workers=0"}, "--workers"},
      {{{"DATABASE_URL", url}}, {"--db-connections=0"}, "--db-connections"},
      {{{"DATABASE_URL", url}}, {"--sse-max-subscribers=-1"}, "--sse-max-subscribers"},
      {{{"DATABASE_URL", url}}, {"--log-level=loud"}, "--log-level"},
      {{{"DATABASE_URL", url}}, {"--max-body-bytes=12"}, "--max-body-bytes"},
      {{{"DATABASE_URL", url}}, {"--no-such-flag=1"}, "unknown option --no-such-flag"},
      {{{"DATABASE_URL", url}}, {"--workers"}, "needs a value"},
      {{{"DATABASE_URL", url}, {"DBSYNC_ADMIN_TOKEN", "short"}}, {}, "DBSYNC_ADMIN_TOKEN"},
      {{{"DATABASE_URL", url}, {"CORS_ORIGINS", "not an origin"}}, {}, "CORS_ORIGINS"},
      {{{"DATABASE_URL", url}}, {"--env-file=/nonexistent/.env"}, "cannot read the env file"},
  };
  for (const Case& c : cases) {
    DaemonProcess p;
    p.start(c.env, c.args);
    EXPECT_EQ(p.wait_exit(), 2) << c.says;
    std::string err = p.stderr_text();
    EXPECT_NE(err.find(c.says), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;  // one line
  }
}

TEST(DbsyncdProcess, FlagsWinOverEnvironmentOverEnvFile) {
  std::string dir = "/tmp/dbsyncd-envfile-" + std::to_string(::getpid());
  ASSERT_EQ(::system(("mkdir -p " + dir).c_str()), 0);
  {
    std::ofstream f(dir + "/.env");
    f << "# comment\nexport DATABASE_URL='postgresql://nobody@127.0.0.1:1/x'\nDBSYNC_WORKERS=1\n";
  }
  // The .env's bad worker count is read (./.env by default)...
  DaemonProcess a;
  a.start({}, {}, dir);
  EXPECT_EQ(a.wait_exit(), 2);
  EXPECT_NE(a.stderr_text().find("--workers"), std::string::npos) << a.stderr_text();
  // ... the environment wins over it (then the unreachable master: exit 1) ...
  DaemonProcess b;
  b.start({{"DBSYNC_WORKERS", "4"}}, {}, dir);
  EXPECT_EQ(b.wait_exit(), 1);
  EXPECT_NE(b.stderr_text().find("cannot connect to the master"), std::string::npos)
      << b.stderr_text();
  // ... and a flag wins over the environment.
  DaemonProcess c;
  c.start({{"DBSYNC_WORKERS", "4"}}, {"--workers=0"}, dir);
  EXPECT_EQ(c.wait_exit(), 2);
  EXPECT_NE(c.stderr_text().find("--workers"), std::string::npos);
  ASSERT_EQ(::system(("rm -rf " + dir).c_str()), 0);
}

TEST(DbsyncdProcess, MasterWithoutTheExtensionExitsOne) {
  ASSERT_TRUE(stack_present());
  TestDatabase db;
  db.create(false);
  DaemonProcess p;
  p.start(daemon_env(db.url()), {"--listen=127.0.0.1:0"});
  EXPECT_EQ(p.wait_exit(), 1);
  EXPECT_NE(p.stderr_text().find("extension is not installed"), std::string::npos)
      << p.stderr_text();
}

TEST(DbsyncdProcess, FirstTokenIsGeneratedAndPrintedOnce) {
  ASSERT_TRUE(stack_present());
  TestDatabase db;
  db.create(true);
  std::string token;
  {
    DaemonProcess p;
    p.start(daemon_env(db.url(), false), {"--listen=127.0.0.1:0"});
    int port = p.wait_listening();
    ASSERT_GT(port, 0) << p.stderr_text();
    std::string out = p.stdout_text();
    size_t at = out.find("dbs_");
    ASSERT_NE(at, std::string::npos) << out;
    token = out.substr(at, 4 + 64);
    EXPECT_EQ(p.stderr_text().find(token), std::string::npos);  // never in the log
    // Stored hashed: the catalog holds its SHA-256, not the token.
    EXPECT_EQ(db.value("SELECT count(*) FROM dbsync.api_tokens"), "1");
    EXPECT_EQ(db.value("SELECT count(*) FROM dbsync.api_tokens WHERE position('" + token +
                       "'::bytea in token_hash) > 0"),
              "0");
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/api/tokens", {{"Authorization", "Bearer " + token}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0);
  }
  DaemonProcess again;
  again.start(daemon_env(db.url(), false), {"--listen=127.0.0.1:0"});
  ASSERT_GT(again.wait_listening(), 0);
  EXPECT_EQ(again.stdout_text().find("dbs_"), std::string::npos);  // printed once only
  EXPECT_EQ(db.value("SELECT count(*) FROM dbsync.api_tokens"), "1");
  again.signal(SIGINT);
  EXPECT_EQ(again.wait_exit(), 0);
}

// A request in flight when SIGTERM arrives is answered before the process exits.
TEST_F(DbsyncdApi, SigtermLetsInFlightRequestsFinish) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string body = R"({"name":"late"})";
  std::string head =
      "POST /api/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  std::string first = head + body.substr(0, 5);
  ASSERT_EQ(::send(fd, first.data(), first.size(), 0), static_cast<ssize_t>(first.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  daemon_.signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(daemon_.exited()) << "exited with a request in flight";
  std::string rest = body.substr(5);
  ASSERT_EQ(::send(fd, rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"token\""), std::string::npos);
  EXPECT_EQ(daemon_.wait_exit(), 0) << daemon_.stderr_text();
  EXPECT_NE(daemon_.stderr_text().find("\"event\":\"stopped\""), std::string::npos);
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.api_tokens WHERE name = 'late'"), "1");
  port_ = -1;  // already stopped
}

// ---------------------------------------------------------------------------- open endpoints

TEST_F(DbsyncdApi, HealthzMetricsOpenapiDocsNeedNoToken) {
  auto h = call("GET", "/healthz", "", {});
  EXPECT_EQ(h.status, 200) << h.text;
  EXPECT_EQ(h.body.value("status", ""), "ok");
  EXPECT_TRUE(h.body["extension"].is_string());

  call("GET", "/api/jobs");  // one request to count
  auto m = call("GET", "/metrics", "", {});
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.text.find("dbsync_master_up 1"), std::string::npos) << m.text;
  EXPECT_NE(m.text.find("dbsync_jobs{status=\"queued\"} 0"), std::string::npos) << m.text;
  EXPECT_NE(m.text.find("dbsync_conflicts_pending 0"), std::string::npos);
  EXPECT_NE(m.text.find(
                "dbsync_http_requests_total{route=\"/api/jobs\",method=\"GET\",status=\"200\"} 1"),
            std::string::npos)
      << m.text;
  EXPECT_NE(
      m.text.find("dbsync_http_request_duration_seconds_bucket{route=\"/api/jobs\",le=\"+Inf\"} 1"),
      std::string::npos);

  auto o = call("GET", "/openapi.json", "", {});
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.body.value("openapi", ""), "3.0.3");
  // Every documented path has a route (a documented path answering "no_route" is a lie).
  for (auto& [path, ops] : o.body["paths"].items()) {
    std::string concrete = path;
    for (const char* p : {"{id}", "{configId}", "{jobId}", "{conflictId}", "{table}"})
      if (auto at = concrete.find(p); at != std::string::npos)
        concrete.replace(at, strlen(p), "999");
    for (auto& [method, op] : ops.items()) {
      if (method == "parameters") continue;
      std::string m = method;
      for (char& ch : m) ch = static_cast<char>(std::toupper(ch));
      auto a = call(m, concrete, std::string("{}"));
      if (a.body.is_object() && a.body.contains("error")) {
        EXPECT_NE(a.body["error"].value("code", ""), "no_route") << m << " " << concrete;
      }
    }
  }
  auto d = call("GET", "/docs", "", {});
  EXPECT_EQ(d.status, 200);
  EXPECT_NE(d.text.find("/api/sync-configs/{id}/preview"), std::string::npos);
}

TEST_F(DbsyncdApi, UnknownRouteIsJson404) {
  expect_error(call("GET", "/api/nothing-here"), 404, "no_route");
  expect_error(call("GET", "/nothing", "", {}), 404, "no_route");
}

// ---------------------------------------------------------------------------- auth

TEST_F(DbsyncdApi, EveryApiCallNeedsAValidBearerToken) {
  for (const char* path : {"/api/jobs", "/api/datasources", "/api/sync-configs", "/api/settings",
                           "/api/tokens", "/api/sync/1/status", "/api/nothing-here"}) {
    auto none = call("GET", path, "", {});
    expect_error(none, 401, "unauthorized");
    EXPECT_EQ(header(none.headers, "WWW-Authenticate", 0, ""), "Bearer realm=\"dbsync\"");
    expect_error(call("GET", path, "", auth("wrong-token-wrong-token")), 401, "unauthorized");
    expect_error(call("GET", path, "", {{"Authorization", "Basic " + kToken}}), 401,
                 "unauthorized");
    expect_error(call("GET", path, "", {{"Authorization", "Bearer "}}), 401, "unauthorized");
  }
  EXPECT_EQ(call("GET", "/api/jobs", "", {{"Authorization", "bearer " + kToken}}).status, 200);
  expect_error(call("POST", "/api/datasources", json{{"name", "x"}, {"kind", "local"}}.dump(), {}),
               401, "unauthorized");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.datasources"), "0");
}

TEST_F(DbsyncdApi, TokensAreCreatedShownOnceListedAndRevoked) {
  auto created = call("POST", "/api/tokens", json{{"name", "ci"}});
  ASSERT_EQ(created.status, 201) << created.text;
  std::string token = created.body.value("token", "");
  ASSERT_EQ(token.size(), 68u);
  long long id = created.body.value("id", 0LL);
  EXPECT_EQ(call("GET", "/api/jobs", "", auth(token)).status, 200);

  auto list = call("GET", "/api/tokens", "", auth(token));
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 2u);
  EXPECT_EQ(list.text.find(token), std::string::npos);
  EXPECT_EQ(list.text.find(kToken), std::string::npos);
  for (const auto& t : list.body["items"]) EXPECT_FALSE(t.contains("token"));
  EXPECT_FALSE(list.body["items"][1]["last_used_at"].is_null());  // ci was used

  expect_error(call("POST", "/api/tokens", json{{"name", "x\"; DROP TABLE t; --"}}), 422, "invalid",
               "name");
  expect_error(call("POST", "/api/tokens", json::object()), 422, "missing_field", "name");
  expect_error(call("DELETE", "/api/tokens/999"), 404, "not_found");
  expect_error(call("DELETE", "/api/tokens/abc"), 404, "not_found");

  auto del = call("DELETE", "/api/tokens/" + std::to_string(id));
  EXPECT_EQ(del.status, 204) << del.text;
  expect_error(call("GET", "/api/jobs", "", auth(token)), 401, "unauthorized");
  expect_error(call("DELETE", "/api/tokens/" + std::to_string(id)), 409, "conflict");
  // The admin token is the last active one: not revocable.
  auto admin_id = list.body["items"][0].value("id", 0LL);
  expect_error(call("DELETE", "/api/tokens/" + std::to_string(admin_id)), 409, "conflict");
  EXPECT_EQ(call("GET", "/api/jobs").status, 200);
}

TEST_F(DbsyncdApi, CorsPreflightAndOrigins) {
  auto pre = call("OPTIONS", "/api/jobs", "",
                  {{"Origin", "http://app.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(header(pre.headers, "Access-Control-Allow-Origin", 0, ""), "http://app.example");
  EXPECT_NE(header(pre.headers, "Access-Control-Allow-Headers", 0, "").find("Authorization"),
            std::string::npos);
  auto other = call("OPTIONS", "/api/jobs", "", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(header(other.headers, "Access-Control-Allow-Origin", 0, "none"), "none");
  auto get = call("GET", "/api/jobs", "",
                  {{"Origin", "http://app.example"}, {"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(header(get.headers, "Access-Control-Allow-Origin", 0, ""), "http://app.example");
  auto denied = call("GET", "/api/jobs", "", {{"Origin", "http://app.example"}});
  EXPECT_EQ(denied.status, 401);  // the error carries CORS headers too, so a browser reads it
  EXPECT_EQ(header(denied.headers, "Access-Control-Allow-Origin", 0, ""), "http://app.example");
}

// ---------------------------------------------------------------------------- datasources

TEST_F(DbsyncdApi, DatasourcesCrud) {
  auto a = call("POST", "/api/datasources", json{{"name", "here"}, {"kind", "local"}});
  ASSERT_EQ(a.status, 201) << a.text;
  long long id = a.body.value("id", 0LL);
  EXPECT_EQ(a.body.value("kind", ""), "local");
  EXPECT_EQ(header(a.headers, "Location", 0, ""), "/api/datasources/" + std::to_string(id));
  std::string path = "/api/datasources/" + std::to_string(id);

  auto g = call("GET", path);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body.value("name", ""), "here");
  auto l = call("GET", "/api/datasources");
  ASSERT_EQ(l.body["items"].size(), 1u);

  expect_error(call("POST", "/api/datasources", json{{"name", "here"}, {"kind", "local"}}), 409,
               "already_exists");
  expect_error(
      call("POST", "/api/datasources", json{{"name", "x\"; DROP TABLE t; --"}, {"kind", "local"}}),
      422, "invalid");
  expect_error(call("POST", "/api/datasources", json{{"name", "ok"}, {"kind", "oracle"}}), 422,
               "invalid");
  expect_error(call("POST", "/api/datasources", json{{"name", "ok"}}), 422, "missing_field",
               "kind");
  expect_error(call("POST", "/api/datasources", json{{"name", 5}, {"kind", "local"}}), 422,
               "invalid_type", "name");
  expect_error(
      call("POST", "/api/datasources", json{{"name", "ok"}, {"kind", "local"}, {"password", "x"}}),
      422, "unknown_field", "password");
  expect_error(call("POST", "/api/datasources", json{{"name", "ok"}, {"kind", "postgres"}}), 422,
               "invalid");  // a postgres datasource needs a conninfo

  auto put = call("PUT", path, json{{"name", "renamed"}, {"options", {{"connect_timeout", 5}}}});
  EXPECT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(put.body.value("name", ""), "renamed");
  EXPECT_EQ(put.body["options"].value("connect_timeout", 0), 5);
  expect_error(call("PUT", path, json{{"options", {{"connect_timeout", -1}}}}), 422, "invalid");
  expect_error(call("PUT", path, json{{"name", nullptr}}), 422, "invalid_type", "name");

  for (const char* bad : {"/api/datasources/999", "/api/datasources/abc", "/api/datasources/-1",
                          "/api/datasources/99999999999999999999999"}) {
    expect_error(call("GET", bad), 404, "not_found");
    expect_error(call("PUT", bad, json{{"name", "n"}}), 404, "not_found");
    expect_error(call("DELETE", bad), 404, "not_found");
    expect_error(call("POST", std::string(bad) + "/test"), 404, "not_found");
  }

  EXPECT_EQ(call("DELETE", path).status, 204);
  expect_error(call("GET", path), 404, "not_found");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.datasources"), "0");
}

TEST_F(DbsyncdApi, DatasourceSecretsAreNeverReturnedOrLogged) {
  const std::string secret = "Sup3rSecretPassw0rd";
  std::string conninfo = "host=" + std::string(std::getenv("PGHOST")) +
                         " port=" + std::getenv("PGPORT") + " dbname=" + db_.name() +
                         " user=postgres password=" + secret;
  auto a = call("POST", "/api/datasources",
                json{{"name", "remote"}, {"kind", "postgres"}, {"conninfo", conninfo}});
  ASSERT_EQ(a.status, 201) << a.text;
  EXPECT_EQ(a.text.find(secret), std::string::npos);
  EXPECT_FALSE(a.body.contains("conninfo"));
  EXPECT_NE(a.body.value("endpoint", "").find(db_.name()), std::string::npos);
  std::string path = "/api/datasources/" + std::to_string(a.body.value("id", 0LL));
  EXPECT_EQ(call("GET", path).text.find(secret), std::string::npos);
  EXPECT_EQ(call("GET", "/api/datasources").text.find(secret), std::string::npos);

  auto t = call("POST", path + "/test");
  EXPECT_EQ(t.status, 200) << t.text;
  EXPECT_EQ(t.body.value("ok", false), true) << t.text;
  EXPECT_TRUE(t.body["server_version"].is_string());

  // Unreachable: ok false with the error, still a 200 (the test itself worked); no secret.
  auto put = call("PUT", path,
                  json{{"conninfo", "host=127.0.0.1 port=1 dbname=x user=u password=" + secret}});
  EXPECT_EQ(put.status, 200) << put.text;
  auto bad = call("POST", path + "/test");
  EXPECT_EQ(bad.status, 200) << bad.text;
  EXPECT_EQ(bad.body.value("ok", true), false);
  EXPECT_EQ(bad.text.find(secret), std::string::npos);
  EXPECT_EQ(daemon_.stderr_text().find(secret), std::string::npos);
}

// ---------------------------------------------------------------------------- sync configs

TEST_F(DbsyncdApi, SyncConfigsCrudAndPreview) {
  long long id = make_sync();
  ASSERT_GT(id, 0);
  std::string path = "/api/sync-configs/" + std::to_string(id);
  auto g = call("GET", path);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body.value("name", ""), "items");
  EXPECT_EQ(g.body.value("source", ""), "here");
  EXPECT_EQ(g.body.value("strategy", ""), "source_wins");
  EXPECT_EQ(call("GET", "/api/sync-configs").body["items"].size(), 1u);

  auto p = call("POST", path + "/preview", json{{"limit", 2}});
  ASSERT_EQ(p.status, 200) << p.text;
  ASSERT_EQ(p.body["rows"].size(), 2u);
  EXPECT_EQ(p.body["rows"][0], (json{{"id", 1}, {"title", "one"}}));
  ASSERT_TRUE(p.body["diff"].is_array()) << p.text;
  ASSERT_EQ(p.body["diff"].size(), 2u);
  EXPECT_EQ(p.body["diff"][0].value("action", ""), "insert");
  EXPECT_EQ(db_.value("SELECT count(*) FROM public.dst"), "0");  // nothing written
  expect_error(call("POST", path + "/preview", json{{"limit", 0}}), 422, "invalid_value", "limit");
  expect_error(call("POST", path + "/preview", json{{"limit", "2"}}), 422, "invalid_type", "limit");

  auto put =
      call("PUT", path, json{{"strategy", "manual"}, {"batch_size", 50}, {"filter", "id > 1"}});
  EXPECT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(put.body.value("strategy", ""), "manual");
  EXPECT_EQ(put.body.value("batch_size", 0), 50);
  auto cleared = call("PUT", path, json{{"filter", nullptr}});
  EXPECT_TRUE(cleared.body["filter"].is_null()) << cleared.text;
  expect_error(call("PUT", path, json{{"strategy", "coin_flip"}}), 422, "invalid");
  expect_error(call("PUT", path, json{{"name", "other"}}), 422, "read_only_field", "name");
  expect_error(call("PUT", path, json{{"batch_size", 0}}), 422, "invalid");
  expect_error(call("PUT", path, json{{"mapping", {{"title", "@nope("}}}}), 422, "invalid");
  expect_error(call("PUT", path, json{{"key", {1, 2}}}), 422, "invalid_type", "key");

  json base = {{"name", "second"},
               {"source", "here"},
               {"source_table", "public.src"},
               {"target", "here"},
               {"target_table", "public.dst"},
               {"mapping", {{"id", "id"}}}};
  json dup = base;
  dup["name"] = "items";
  expect_error(call("POST", "/api/sync-configs", dup), 409, "already_exists");
  json no_ds = base;
  no_ds["source"] = "nowhere";
  expect_error(call("POST", "/api/sync-configs", no_ds), 422, "");
  json hostile = base;
  hostile["source_table"] = "public.\"x\"\"; DROP TABLE public.src; --\"";
  expect_error(call("POST", "/api/sync-configs", hostile), 422, "");
  json missing = base;
  missing.erase("target_table");
  expect_error(call("POST", "/api/sync-configs", missing), 422, "missing_field", "target_table");
  EXPECT_EQ(db_.value("SELECT count(*) FROM public.src"), "3");

  // The datasource is in use: 409; then the sync goes, then the datasource.
  expect_error(call("DELETE", "/api/datasources/" + std::to_string(ds_)), 409, "conflict");
  EXPECT_EQ(call("DELETE", path).status, 204);
  expect_error(call("GET", path), 404, "not_found");
  expect_error(call("POST", path + "/preview"), 404, "not_found");
  EXPECT_EQ(call("DELETE", "/api/datasources/" + std::to_string(ds_)).status, 204);
}

// A schedule is set with the sync (one transaction: a bad one leaves nothing behind).
TEST_F(DbsyncdApi, SyncConfigSchedules) {
  long long id = make_sync();
  std::string path = "/api/sync-configs/" + std::to_string(id);
  EXPECT_TRUE(call("GET", path).body["schedule"].is_null());
  auto set = call("PUT", path, json{{"schedule", "*/5 * * * *"}});
  ASSERT_EQ(set.status, 200) << set.text;
  ASSERT_TRUE(set.body["schedule"].is_string()) << set.text;
  std::string cron = set.body["schedule"];
  EXPECT_NE(cron.find("*/5"), std::string::npos) << cron;
  expect_error(call("PUT", path, json{{"schedule", "every tuesday"}, {"batch_size", 7}}), 422, "",
               "schedule");
  auto kept = call("GET", path);
  EXPECT_EQ(kept.body.value("schedule", ""), cron);  // unchanged
  EXPECT_NE(kept.body.value("batch_size", 0), 7);    // rolled back with it
  EXPECT_TRUE(call("PUT", path, json{{"schedule", nullptr}}).body["schedule"].is_null());

  json b = {{"name", "nightly"},
            {"source", "here"},
            {"source_table", "public.src"},
            {"target", "here"},
            {"target_table", "public.dst"},
            {"mapping", {{"id", "id"}}},
            {"schedule", "61 * * * *"}};
  expect_error(call("POST", "/api/sync-configs", b), 422, "", "schedule");
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.syncs WHERE name = 'nightly'"), "0");
  b["schedule"] = "@daily";
  auto created = call("POST", "/api/sync-configs", b);
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_TRUE(created.body["schedule"].is_string());
  // No connection was left inside a transaction.
  EXPECT_EQ(db_.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dbsyncd' "
                      "AND state LIKE 'idle in transaction%'"),
            "0");
}

// ---------------------------------------------------------------------------- jobs

TEST_F(DbsyncdApi, RunQueuesAJobAndReportsIt) {
  long long id = make_sync();
  auto run = call("POST", "/api/sync/" + std::to_string(id));
  ASSERT_EQ(run.status, 202) << run.text;
  const json& job = run.body["job"];
  long long job_id = job.value("id", 0LL);
  EXPECT_EQ(job.value("trigger", ""), "api");
  EXPECT_EQ(job.value("sync", ""), "items");
  EXPECT_EQ(job.value("requested_by", ""), "api:admin");
  EXPECT_EQ(run.body.value("created", false), true);
  EXPECT_EQ(header(run.headers, "Location", 0, ""),
            "/api/sync/" + std::to_string(job_id) + "/status");

  auto st = call("GET", "/api/sync/" + std::to_string(job_id) + "/status");
  ASSERT_EQ(st.status, 200) << st.text;
  EXPECT_EQ(st.body.value("id", 0LL), job_id);
  EXPECT_TRUE(st.body.contains("duration_ms"));
  EXPECT_EQ(db_.value("SELECT trigger FROM dbsync.jobs WHERE id = " + std::to_string(job_id)),
            "api");

  // One unfinished job per sync: a second run returns it while it is unfinished.
  auto again = call("POST", "/api/sync/" + std::to_string(id));
  ASSERT_EQ(again.status, 202);
  if (!again.body.value("created", true)) {
    EXPECT_EQ(again.body["job"].value("id", 0LL), job_id);
  }

  expect_error(call("POST", "/api/sync/999"), 404, "not_found");
  expect_error(call("POST", "/api/sync/abc"), 404, "not_found");
  expect_error(call("POST", "/api/sync/" + std::to_string(id), json{{"wait", true}}), 422,
               "unknown_field", "wait");
  expect_error(call("GET", "/api/sync/999/status"), 404, "not_found");
  expect_error(call("GET", "/api/sync/x/status"), 404, "not_found");

  auto jobs = call("GET", "/api/jobs");
  ASSERT_EQ(jobs.status, 200) << jobs.text;
  EXPECT_GE(jobs.body["items"].size(), 1u);
  EXPECT_EQ(jobs.body["items"][0].value("sync", ""), "items");
  EXPECT_EQ(call("GET", "/api/jobs?sync=items").body["items"].size(), jobs.body["items"].size());
  EXPECT_EQ(call("GET", "/api/jobs?sync=" + std::to_string(id)).body["items"].size(),
            jobs.body["items"].size());
  EXPECT_EQ(call("GET", "/api/jobs?sync=nothing").body["items"].size(), 0u);
  std::string status = st.body.value("status", "");
  EXPECT_GE(call("GET", "/api/jobs?status=" + status).body["items"].size(), 1u);
  auto page = call("GET", "/api/jobs?limit=1");
  ASSERT_EQ(page.body["items"].size(), 1u);
  auto before =
      call("GET", "/api/jobs?before=" + std::to_string(page.body["items"][0].value("id", 0LL)));
  EXPECT_EQ(before.body["items"].size(), jobs.body["items"].size() - 1);
  expect_error(call("GET", "/api/jobs?status=done"), 422, "invalid_value", "status");
  expect_error(call("GET", "/api/jobs?limit=0"), 422, "invalid_value", "limit");
  expect_error(call("GET", "/api/jobs?limit=100000"), 422, "invalid_value", "limit");
  expect_error(call("GET", "/api/jobs?before=x"), 422, "invalid_value", "before");
  expect_error(call("GET", "/api/jobs?page=2"), 422, "unknown_parameter", "page");
}

// ---------------------------------------------------------------------------- settings

TEST_F(DbsyncdApi, SettingsAreStoredWithPasswordsMasked) {
  // A Redis of this test's own with a password: a setting is saved only when Redis answers
  // PING with it.
  redis::testing::LocalRedis redis(std::string("pw-secret"));
  ASSERT_TRUE(redis.start()) << "redis-server did not start";
  const std::string port = std::to_string(redis.port());
  auto g = call("GET", "/api/settings");
  ASSERT_EQ(g.status, 200);
  EXPECT_TRUE(g.body["redis_url"].is_null());
  auto put = call("PUT", "/api/settings",
                  json{{"redis_url", "redis://:hunter22@127.0.0.1:" + port + "/0"},
                       {"redis_password", "pw-secret"}});
  ASSERT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(put.body.value("redis_url", ""), "redis://:********@127.0.0.1:" + port + "/0");
  EXPECT_EQ(put.body.value("redis_password", ""), "********");
  EXPECT_EQ(put.text.find("hunter22"), std::string::npos);
  EXPECT_EQ(put.text.find("pw-secret"), std::string::npos);
  // Stored sealed with SECRET_KEY ({"sealed": hex}); the URL's own password is not kept.
  const std::string stored_password =
      "SELECT value::text FROM dbsync.settings WHERE key = 'daemon.redis_password'";
  const std::string sealed = db_.value(stored_password);
  EXPECT_EQ(sealed.rfind("{\"sealed\": \"", 0), 0u) << sealed;
  EXPECT_EQ(sealed.find("pw-secret"), std::string::npos) << sealed;
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.settings WHERE value::text LIKE '%hunter22%' "
                      "OR value::text LIKE '%pw-secret%'"),
            "0");
  // The masked value sent back leaves the password as it was (and is checked with it).
  EXPECT_EQ(call("PUT", "/api/settings", json{{"redis_password", "********"}}).status, 200);
  EXPECT_EQ(db_.value(stored_password), sealed);
  // A wrong password, a Redis that does not answer, TLS: refused, naming the field; nothing
  // saved.
  auto wrong = call("PUT", "/api/settings", json{{"redis_password", "nope"}});
  expect_error(wrong, 422, "invalid_value", "redis_password");
  EXPECT_EQ(wrong.text.find("nope"), std::string::npos) << wrong.text;
  EXPECT_EQ(db_.value(stored_password), sealed);
  const std::string nobody = std::to_string(redis::testing::free_port());
  expect_error(
      call("PUT", "/api/settings", json{{"redis_url", "redis://127.0.0.1:" + nobody + "/0"}}), 422,
      "redis_unreachable", "redis_url");
  expect_error(call("PUT", "/api/settings", json{{"redis_url", "rediss://127.0.0.1:" + port}}), 422,
               "invalid_value", "redis_url");
  EXPECT_EQ(call("GET", "/api/settings").body.value("redis_url", ""),
            "redis://:********@127.0.0.1:" + port + "/0");
  expect_error(call("PUT", "/api/settings", json{{"redis_url", "http://x"}}), 422, "invalid_value",
               "redis_url");
  expect_error(call("PUT", "/api/settings", json{{"smtp", "x"}}), 422, "unknown_field", "smtp");
  expect_error(call("PUT", "/api/settings", json{{"redis_url", 6379}}), 422, "invalid_type",
               "redis_url");
  auto removed =
      call("PUT", "/api/settings", json{{"redis_url", nullptr}, {"redis_password", nullptr}});
  EXPECT_TRUE(removed.body["redis_url"].is_null());
  EXPECT_TRUE(removed.body["redis_password"].is_null());
  EXPECT_EQ(daemon_.stderr_text().find("hunter22"), std::string::npos);
  EXPECT_EQ(daemon_.stderr_text().find("pw-secret"), std::string::npos);
}

// ---------------------------------------------------------------------------- webhooks

TEST_F(DbsyncdApi, WebhookTriggersNeedTheSyncsSecret) {
  long long sync = make_sync();
  const std::string id = std::to_string(sync);
  auto made = call("POST", "/api/sync-configs/" + id + "/webhook-secret", std::string("{}"));
  ASSERT_EQ(made.status, 201) << made.text;
  const std::string secret = made.body.value("secret", "");
  ASSERT_EQ(secret.size(), 64u);
  EXPECT_EQ(made.body["endpoints"][0], "/webhooks/n8n/" + id);
  // Kept sealed, never shown again.
  EXPECT_EQ(call("GET", "/api/sync-configs/" + id).text.find(secret), std::string::npos);
  EXPECT_EQ(db_.value("SELECT position('" + secret +
                      "' IN encode(secret, 'escape')) FROM dbsync.webhook_secrets"),
            "0");
  EXPECT_EQ(daemon_.stderr_text().find(secret), std::string::npos);

  auto hook = [&](const std::string& path, const std::string& body,
                  const httplib::Headers& headers) { return call("POST", path, body, headers); };
  const std::string path = "/webhooks/n8n/" + id;
  // The token header: a job, triggered by the provider.
  auto a = hook(path, R"({"from": "n8n"})", {{"X-Dbsync-Token", secret}});
  ASSERT_EQ(a.status, 202) << a.text;
  long long job = a.body["job"].value("id", 0LL);
  EXPECT_EQ(db_.value("SELECT trigger || ' ' || requested_by FROM dbsync.jobs WHERE id = " +
                      std::to_string(job)),
            "webhook:n8n webhook:n8n");
  EXPECT_EQ(a.body["created"], true);
  // A signature of timestamp + body, in the replay window: the same unfinished job.
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const std::string body = R"({"event": "row changed"})";
  auto sign = [&](long long t, const std::string& b) {
    return "t=" + std::to_string(t) + ",v1=" + webhooks::signature(secret, t, b);
  };
  auto b = hook("/webhooks/zapier/" + id, body, {{"X-Dbsync-Signature", sign(now, body)}});
  ASSERT_EQ(b.status, 202) << b.text;
  EXPECT_EQ(b.body["job"].value("id", 0LL), job);
  EXPECT_EQ(b.body["created"], false);

  // Refused: no credentials, a wrong token, a signature of another body, an old one, garbage.
  expect_error(hook(path, body, {}), 401, "unauthorized");
  expect_error(hook(path, body, {{"X-Dbsync-Token", std::string(64, '0')}}), 401, "unauthorized");
  expect_error(hook(path, body, {{"X-Dbsync-Signature", sign(now, body + " ")}}), 401,
               "unauthorized");
  auto old = hook(path, body, {{"X-Dbsync-Signature", sign(now - 3600, body)}});
  expect_error(old, 401, "unauthorized");
  EXPECT_NE(old.text.find("replayed"), std::string::npos) << old.text;
  expect_error(hook(path, body, {{"X-Dbsync-Signature", "t=x,v1=y"}}), 401, "unauthorized");
  // The secret of one sync does not start another; unknown providers and syncs.
  long long other = make_sync("other");
  expect_error(hook("/webhooks/n8n/" + std::to_string(other), body, {{"X-Dbsync-Token", secret}}),
               401, "unauthorized");
  expect_error(hook("/webhooks/ifttt/" + id, body, {{"X-Dbsync-Token", secret}}), 404, "not_found");
  expect_error(hook("/webhooks/n8n/999999", body, {{"X-Dbsync-Token", secret}}), 401,
               "unauthorized");
  expect_error(hook("/webhooks/n8n/1;DROP", body, {{"X-Dbsync-Token", secret}}), 404, "not_found");
  // Managing the secret needs the API token.
  EXPECT_EQ(call("POST", "/api/sync-configs/" + id + "/webhook-secret", "{}", {}).status, 401);
  expect_error(call("POST", "/api/sync-configs/424242/webhook-secret", std::string("{}")), 404,
               "not_found");
  // A new secret replaces the old one; a deleted one stops the triggers.
  auto renewed = call("POST", "/api/sync-configs/" + id + "/webhook-secret", std::string("{}"));
  ASSERT_EQ(renewed.status, 201);
  expect_error(hook(path, body, {{"X-Dbsync-Token", secret}}), 401, "unauthorized");
  EXPECT_EQ(call("DELETE", "/api/sync-configs/" + id + "/webhook-secret").status, 204);
  expect_error(hook(path, body, {{"X-Dbsync-Token", renewed.body.value("secret", std::string())}}),
               401, "unauthorized");
  expect_error(call("DELETE", "/api/sync-configs/" + id + "/webhook-secret"), 404, "not_found");
}

// Without SECRET_KEY dbsyncd keeps no webhook secret and takes no trigger.
TEST(DbsyncdWebhooks, OffWithoutSecretKey) {
  if (!stack_present()) GTEST_SKIP() << "the stack is not running";
  TestDatabase db;
  db.create(true);
  if (::testing::Test::HasFatalFailure()) return;
  auto env = daemon_env(db.url());
  env.erase("SECRET_KEY");
  DaemonProcess d;
  d.start(env, {"--listen=127.0.0.1:0", "--workers=4", "--db-connections=2"});
  int port = d.wait_listening();
  ASSERT_GT(port, 0) << d.stderr_text();
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(kToken);
  auto r = c.Post("/api/sync-configs/1/webhook-secret", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(r->body.find("SECRET_KEY"), std::string::npos) << r->body;
  auto h = c.Post("/webhooks/n8n/1", "{}", "application/json");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503) << h->body;
}

// Raw garbage on the socket: a 400 (or a closed connection), and the server keeps serving.
TEST_F(DbsyncdApi, GarbageOnTheSocketIsRefused) {
  for (const std::string& garbage :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("POST /api/tokens HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
        std::string(20000, 'A') + "\r\n\r\n", std::string("\0\1\2\3\r\n\r\n", 8)}) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    (void)::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    std::string answer;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
    ::close(fd);
    if (!answer.empty()) {
      EXPECT_EQ(answer.rfind("HTTP/1.1 4", 0), 0u) << answer;
    }
  }
  EXPECT_EQ(call("GET", "/healthz", "", {}).status, 200);
  EXPECT_FALSE(daemon_.exited());
}

// Clients in parallel over keep-alive connections: every answer right, the pool bounded.
TEST_F(DbsyncdApi, ParallelKeepAliveClients) {
  make_sync();
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_keep_alive(true);
      for (int i = 0; i < 25; ++i) {
        auto r = c.Get(i % 2 ? "/api/jobs" : "/api/sync-configs", auth());
        (r && r->status == 200 ? ok : bad)++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(bad.load(), 0);
  // --db-connections=3: never more connections to the master, however many clients.
  EXPECT_LE(std::stoi(db_.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                "'dbsyncd' AND datname = current_database()")),
            3);
}

// The master closed the daemon's idle connections (a restart, pg_terminate_backend): the next
// requests get new ones instead of an error.
TEST_F(DbsyncdApi, ReconnectsAfterTheMasterDroppedItsConnections) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call("GET", "/api/jobs").status, 200);
  EXPECT_NE(db_.value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE application_name = 'dbsyncd' AND datname = current_database()"),
            "0");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < 5; ++i) {
    auto a = call("GET", "/api/jobs");
    EXPECT_EQ(a.status, 200) << a.text;
  }
  EXPECT_EQ(call("GET", "/healthz", "", {}).status, 200);
}

// ---------------------------------------------------------------------------- bad input

TEST_F(DbsyncdApi, BadInputCorpusGets4xxAndNeverHurtsTheServer) {
  long long sync = make_sync();
  std::string sync_path = "/api/sync-configs/" + std::to_string(sync);
  const std::string hostile = "x\"; DROP TABLE t; --";
  std::vector<std::pair<std::string, std::string>> bodies = {
      {"{", "malformed"},
      {"{\"name\": }", "malformed"},
      {"[1,2,3]", "array"},
      {"\"just a string\"", "string"},
      {"null", "null"},
      {"123", "number"},
      {"{\"name\": \"\xff\xfe\"}", "invalid utf-8"},
      {"{\"name\": \"a\\u0000b\", \"kind\": \"local\"}", "NUL"},
      {std::string(100000, '['), "deep"},
      {std::string(60, '[') + std::string(60, ']'), "nested array"},
      {"{\"name\": {\"$gt\": \"\"}, \"kind\": \"local\"}", "object for a string"},
      {"{\"name\": [\"" + hostile + "\"], \"kind\": \"local\"}", "array for a string"},
      {json{{"name", hostile}, {"kind", hostile}}.dump(), "hostile"},
      {json{{"name", std::string(5000, 'a')}, {"kind", "local"}}.dump(), "long name"},
      {json{{"name", "ok"}, {"kind", "local"}, {"options", "{}"}}.dump(), "options string"},
      {json{{"name", "ok"}, {"kind", "local"}, {"options", {{"connect_timeout", "x"}}}}.dump(),
       "bad option"},
  };
  std::vector<std::string> targets = {"/api/datasources", "/api/sync-configs", "/api/tokens",
                                      sync_path + "/preview"};
  for (const auto& [body, what] : bodies) {
    for (const std::string& target : targets) {
      auto a = call("POST", target, body);
      EXPECT_GE(a.status, 400) << what << " -> " << target << ": " << a.text;
      EXPECT_LT(a.status, 500) << what << " -> " << target << ": " << a.text;
      EXPECT_TRUE(a.body.is_object() && a.body.contains("error")) << what << ": " << a.text;
    }
    auto p = call("PUT", "/api/settings", body);
    EXPECT_GE(p.status, 400) << what;
    EXPECT_LT(p.status, 500) << what << ": " << p.text;
  }
  // Hostile strings in sync fields: 4xx, and nothing dropped.
  for (const char* field : {"source_table", "target_table", "filter", "delete_policy", "direction",
                            "source", "target", "name"}) {
    json b = {{"name", "h"},
              {"source", "here"},
              {"source_table", "public.src"},
              {"target", "here"},
              {"target_table", "public.dst"},
              {"mapping", {{"id", "id"}}}};
    b[field] = hostile;
    auto a = call("POST", "/api/sync-configs", b);
    EXPECT_GE(a.status, 400) << field << ": " << a.text;
    EXPECT_LT(a.status, 500) << field << ": " << a.text;
  }
  auto m = call("POST", "/api/sync-configs",
                json{{"name", "h2"},
                     {"source", "here"},
                     {"source_table", "public.src"},
                     {"target", "here"},
                     {"target_table", "public.dst"},
                     {"mapping", {{hostile, "id"}, {"id", hostile}}}});
  EXPECT_EQ(m.status, 422) << m.text;
  EXPECT_EQ(db_.value("SELECT count(*) FROM public.src"), "3");

  // Oversize: 413 with the JSON error (limit 65536 in this fixture).
  auto big = call("POST", "/api/datasources",
                  json{{"name", std::string(70000, 'a')}, {"kind", "local"}}.dump());
  expect_error(big, 413, "payload_too_large");
  // Hostile paths and query strings.
  expect_error(call("GET", "/api/datasources/1%3B%20DROP%20TABLE%20t"), 404, "");
  auto hs = call("GET", "/api/jobs?sync=" + httplib::detail::encode_query_param(hostile));
  EXPECT_EQ(hs.status, 200) << hs.text;
  EXPECT_EQ(hs.body["items"].size(), 0u);
  EXPECT_EQ(call("GET", "/healthz", "", {}).status, 200);
  EXPECT_FALSE(daemon_.exited());
  EXPECT_EQ(daemon_.stderr_text().find("internal_error"), std::string::npos)
      << daemon_.stderr_text();
}

// ---------------------------------------------------------------------------- event streams

// A server-sent events client on a raw socket: the request, the status line, then the chunked
// body split into events (blank-line separated blocks).
struct SseEvent {
  std::string event;  // "" for a comment
  std::string data;
  std::string id;
  std::string comment;
};

class SseClient {
 public:
  SseClient() = default;
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;
  ~SseClient() { close(); }

  // Sends the request; returns the HTTP status (0: no answer). `body` gets a non-stream answer.
  // `gzip`: send a browser's Accept-Encoding (an error body then comes compressed).
  int open(int port, const std::string& path, const std::string& token = kToken, bool gzip = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
    // A browser's headers: gzip must not buffer the stream.
    std::string req = "GET " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                      (gzip ? "Accept-Encoding: gzip, deflate\r\n" : "") +
                      "Authorization: Bearer " + token + "\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    size_t end;
    while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return 0;
    }
    head_ = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    int status = std::atoi(head_.c_str() + 9);
    if (status != 200) {
      // A JSON error with Content-Length: read it whole.
      size_t cl = head_.find("Content-Length: ");
      size_t n = cl == std::string::npos ? 0 : std::stoul(head_.substr(cl + 16));
      while (raw_.size() < n && fill(deadline)) {
      }
      body_ = raw_;
    }
    return status;
  }
  const std::string& head() const { return head_; }
  const std::string& error_body() const { return body_; }

  // The next event or comment within `timeout`; false on timeout or end of stream.
  bool next(SseEvent& out, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      dechunk();
      size_t end = body_.find("\n\n");
      if (end != std::string::npos) {
        std::string block = body_.substr(0, end);
        body_.erase(0, end + 2);
        out = SseEvent{};
        std::istringstream lines(block);
        std::string line;
        bool any = false;
        while (std::getline(lines, line)) {
          if (line.rfind(":", 0) == 0) {
            out.comment = line.substr(1);
            any = true;
          } else if (line.rfind("event: ", 0) == 0) {
            out.event = line.substr(7);
            any = true;
          } else if (line.rfind("data: ", 0) == 0) {
            out.data = line.substr(6);
          } else if (line.rfind("id: ", 0) == 0) {
            out.id = line.substr(4);
          }
        }
        if (any) return true;
        continue;  // "retry:" alone
      }
      if (ended_ || !fill(deadline)) return false;
    }
  }
  // The next event named `name` (progress/end/shutdown), skipping comments.
  bool next_event(SseEvent& out, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (!next(out, left)) return false;
      if (!out.event.empty()) return true;
    }
    return false;
  }
  // The server closed the stream (the last chunk arrived, or the socket closed).
  bool ended() {
    dechunk();
    return ended_;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0 || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      ended_ = true;
      return false;
    }
    raw_.append(buf, static_cast<size_t>(n));
    return true;
  }
  void dechunk() {
    for (;;) {
      size_t eol = raw_.find("\r\n");
      if (eol == std::string::npos) return;
      size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
      if (size == 0) {
        ended_ = true;
        raw_.clear();
        return;
      }
      if (raw_.size() < eol + 2 + size + 2) return;
      body_.append(raw_, eol + 2, size);
      raw_.erase(0, eol + 2 + size + 2);
    }
  }
  int fd_ = -1;
  std::string raw_, head_, body_;
  bool ended_ = false;
};

// A job row of the test database driven by hand: the daemon test databases have no executor
// (the stack's workers serve dbsync_test only), so progress is written the way an executor
// writes it, into dbsync.jobs.
long long queue_job_row(TestDatabase& db, long long sync_id) {
  return std::stoll(db.value("SELECT job_id FROM dbsync.queue_job(" + std::to_string(sync_id) +
                             ", 'api', 'test')"));
}

TEST_F(DbsyncdApi, JobEventsStreamProgressUntilTheJobEnds) {
  long long sync = make_sync();
  long long job = queue_job_row(db_, sync);
  std::string path = "/api/jobs/" + std::to_string(job) + "/events";
  SseClient c;
  ASSERT_EQ(c.open(port_, path), 200) << c.head();
  EXPECT_NE(c.head().find("Content-Type: text/event-stream"), std::string::npos) << c.head();
  EXPECT_EQ(c.head().find("Content-Encoding"), std::string::npos) << c.head();  // not buffered
  SseEvent e;
  ASSERT_TRUE(c.next_event(e)) << "the first event is the job as it is";
  EXPECT_EQ(e.event, "progress");
  json j = json::parse(e.data);
  EXPECT_EQ(j.value("id", 0LL), job);
  EXPECT_EQ(j.value("status", ""), "queued");
  EXPECT_FALSE(j.contains("duration"));

  // An executor's progress: each change is one event, in order.
  db_.sql(
      "UPDATE dbsync.jobs SET status = 'running', phase = 'scan', total = 100, scanned = 10, "
      "started_at = now() WHERE id = " +
      std::to_string(job));
  ASSERT_TRUE(c.next_event(e));
  j = json::parse(e.data);
  EXPECT_EQ(e.event, "progress");
  EXPECT_EQ(j.value("status", ""), "running");
  EXPECT_EQ(j.value("phase", ""), "scan");
  EXPECT_EQ(j.value("scanned", 0), 10);
  EXPECT_EQ(j.value("total", 0), 100);
  std::string first_id = e.id;
  db_.sql("UPDATE dbsync.jobs SET scanned = 60, inserted = 7 WHERE id = " + std::to_string(job));
  ASSERT_TRUE(c.next_event(e));
  j = json::parse(e.data);
  EXPECT_EQ(j.value("scanned", 0), 60);
  EXPECT_EQ(j.value("inserted", 0), 7);
  EXPECT_GT(std::stoll(e.id), std::stoll(first_id));

  // Nothing changes: a heartbeat comment (every 5 s), no event.
  ASSERT_TRUE(c.next(e, std::chrono::seconds(8)));
  EXPECT_EQ(e.event, "");
  EXPECT_EQ(e.comment, " heartbeat");

  // The end: a final event, then the stream closes.
  db_.sql(
      "UPDATE dbsync.jobs SET status = 'succeeded', scanned = 100, finished_at = now() "
      "WHERE id = " +
      std::to_string(job));
  ASSERT_TRUE(c.next_event(e));
  EXPECT_EQ(e.event, "end");
  EXPECT_EQ(json::parse(e.data).value("status", ""), "succeeded");
  EXPECT_FALSE(c.next(e, std::chrono::seconds(3)));
  EXPECT_TRUE(c.ended());

  // A finished job: its state, at once, and the end.
  SseClient done;
  ASSERT_EQ(done.open(port_, path), 200);
  ASSERT_TRUE(done.next_event(e));
  EXPECT_EQ(e.event, "end");
  EXPECT_FALSE(done.next(e, std::chrono::seconds(3)));

  // Errors are the JSON shape, not a stream.
  SseClient missing;
  EXPECT_EQ(missing.open(port_, "/api/jobs/999999/events", kToken, false), 404);
  EXPECT_NE(missing.error_body().find("\"not_found\""), std::string::npos);
  SseClient bad;
  EXPECT_EQ(bad.open(port_, "/api/jobs/1%3BDROP/events"), 404);
  SseClient unauth;
  EXPECT_EQ(unauth.open(port_, path, "wrong-token-0123456789"), 401);
  expect_error(call("GET", path + "?since=1"), 422, "unknown_parameter", "since");

  // The hub reads the catalog once per tick for every stream, not once per subscriber.
  // Streams are counted as requests but kept out of the latency histogram (their duration is
  // the job's): only the three error answers are timed.
  Answer m;
  const std::string streams =
      "dbsync_http_requests_total{route=\"/api/jobs/{id}/events\",method=\"GET\",status=\"200\"} "
      "2";
  for (int i = 0; i < 40; ++i) {
    m = call("GET", "/metrics", "", {});
    if (m.text.find(streams) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(m.text.find("dbsync_sse_polls_total "), std::string::npos) << m.text;
  EXPECT_NE(m.text.find(streams), std::string::npos) << m.text;
  EXPECT_NE(m.text.find("dbsync_http_request_duration_seconds_count{route=\"/api/jobs/{id}/"
                        "events\"} 3"),
            std::string::npos)
      << m.text;
}

TEST_F(DbsyncdApi, JobEventStreamsAreBoundedWithA503) {
  long long job = queue_job_row(db_, make_sync());
  std::string path = "/api/jobs/" + std::to_string(job) + "/events";
  // --workers=16: at most 16 - max(2, 16/4) = 12 streams; the other 4 threads serve requests.
  std::vector<std::unique_ptr<SseClient>> open;
  for (int i = 0; i < 12; ++i) {
    open.push_back(std::make_unique<SseClient>());
    ASSERT_EQ(open.back()->open(port_, path), 200) << i;
  }
  SseClient extra;
  EXPECT_EQ(extra.open(port_, path, kToken, false), 503) << extra.head() << "\n"
                                                         << extra.error_body();
  json err = json::parse(extra.error_body(), nullptr, false);
  EXPECT_EQ(err["error"].value("code", ""), "too_many_subscribers") << extra.error_body();
  EXPECT_EQ(err["error"]["details"].value("max_subscribers", 0), 12);
  // Ordinary requests still get a thread.
  EXPECT_EQ(call("GET", "/api/jobs").status, 200);
  auto m = call("GET", "/metrics", "", {});
  EXPECT_NE(m.text.find("dbsync_sse_subscribers 12"), std::string::npos) << m.text;
  EXPECT_NE(m.text.find("dbsync_sse_max_subscribers 12"), std::string::npos);

  // A subscriber leaves (its heartbeat write fails within 5 s): the slot is free again.
  open.pop_back();
  bool reopened = false;
  for (int i = 0; i < 80 && !reopened; ++i) {
    SseClient again;
    int st = again.open(port_, path);
    reopened = st == 200;
    if (!reopened) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(reopened);
}

// 100 subscribers to one job: each sees every change; SIGTERM ends every stream at once (a
// 'shutdown' event) and the daemon exits cleanly.
TEST(DbsyncdEvents, HundredSubscribersThenSigtermEndsEveryStream) {
  ASSERT_TRUE(stack_present());
  TestDatabase db;
  db.create(true);
  if (::testing::Test::HasFatalFailure()) return;
  db.sql("CREATE TABLE public.t (id integer PRIMARY KEY)");
  db.sql("CREATE TABLE public.t2 (id integer PRIMARY KEY)");
  db.value("SELECT dbsync.add_datasource('here', 'local')");
  db.value(
      "SELECT dbsync.create_sync('s', 'here', 'public.t', 'here', 'public.t2', "
      "mapping => '{\"id\": \"id\"}')");
  DaemonProcess d;
  // --sse-max-subscribers: 100 streams with threads of their own, beside 8 for requests.
  d.start(daemon_env(db.url()), {"--listen=127.0.0.1:0", "--workers=8", "--db-connections=4",
                                 "--sse-max-subscribers=100"});
  int port = d.wait_listening();
  ASSERT_GT(port, 0) << d.stderr_text();
  long long job = std::stoll(
      db.value("SELECT job_id FROM dbsync.queue_job((SELECT id FROM dbsync.syncs), 'api')"));
  std::string path = "/api/jobs/" + std::to_string(job) + "/events";
  std::vector<std::unique_ptr<SseClient>> subs;
  for (int i = 0; i < 100; ++i) {
    subs.push_back(std::make_unique<SseClient>());
    ASSERT_EQ(subs.back()->open(port, path), 200) << i;
  }
  {
    SseClient extra;
    EXPECT_EQ(extra.open(port, path, kToken, false), 503) << extra.error_body();
  }
  SseEvent e;
  for (auto& s : subs) ASSERT_TRUE(s->next_event(e));
  for (int round = 1; round <= 3; ++round) {
    db.sql("UPDATE dbsync.jobs SET status = 'running', started_at = now(), scanned = " +
           std::to_string(round * 10) + " WHERE id = " + std::to_string(job));
    for (auto& s : subs) {
      ASSERT_TRUE(s->next_event(e)) << "round " << round;
      EXPECT_EQ(json::parse(e.data).value("scanned", 0), round * 10);
    }
  }
  // The hub polled the catalog a few times a second, not 100 times per change.
  httplib::Client c("127.0.0.1", port);
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("dbsync_sse_subscribers 100"), std::string::npos);

  auto t0 = std::chrono::steady_clock::now();
  d.signal(SIGTERM);
  for (auto& s : subs) {
    ASSERT_TRUE(s->next_event(e, std::chrono::seconds(5)));
    EXPECT_EQ(e.event, "shutdown");
  }
  EXPECT_EQ(d.wait_exit(), 0) << d.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------- browse

TEST_F(DbsyncdApi, BrowseTablesSchemaAndRows) {
  db_.sql("CREATE SCHEMA shop");
  db_.sql(
      "CREATE TABLE shop.items (id integer PRIMARY KEY, title text NOT NULL, price "
      "numeric(10,2))");
  db_.sql("INSERT INTO shop.items SELECT i, 'item ' || i, i FROM generate_series(1, 5) i");
  db_.sql("CREATE TABLE shop.pairs (a text, b integer, PRIMARY KEY (b, a))");
  db_.sql("INSERT INTO shop.pairs VALUES ('x', 1), ('y', 1), ('a', 2)");
  db_.sql("CREATE TABLE shop.loose (id integer)");
  db_.sql("CREATE TABLE shop.\"x\"\"; DROP TABLE t; --\" (id integer PRIMARY KEY)");
  db_.sql("INSERT INTO shop.\"x\"\"; DROP TABLE t; --\" VALUES (1)");
  long long ds = make_local_datasource("here");
  std::string base = "/api/datasources/" + std::to_string(ds);

  auto t = call("GET", base + "/tables?after_schema=shop&after_name=&limit=3");
  ASSERT_EQ(t.status, 200) << t.text;
  ASSERT_EQ(t.body["items"].size(), 3u);
  EXPECT_EQ(t.body["items"][0].value("name", ""), "items");
  EXPECT_EQ(t.body["items"][1].value("name", ""), "loose");
  EXPECT_EQ(t.body["items"][0].value("kind", ""), "table");
  ASSERT_TRUE(t.body["next"].is_object());
  auto t2 =
      call("GET", base + "/tables?limit=3&after_schema=shop&after_name=" +
                      httplib::detail::encode_query_param(t.body["next"].value("after_name", "")));
  ASSERT_EQ(t2.status, 200) << t2.text;
  ASSERT_GE(t2.body["items"].size(), 1u);
  EXPECT_EQ(t2.body["items"][0].value("name", ""), "x\"; DROP TABLE t; --");

  auto sc = call("GET", base + "/tables/shop.pairs/schema");
  ASSERT_EQ(sc.status, 200) << sc.text;
  EXPECT_EQ(sc.body["primary_key"], json({"b", "a"}));
  ASSERT_EQ(sc.body["columns"].size(), 2u);
  EXPECT_EQ(sc.body["columns"][0].value("name", ""), "a");
  EXPECT_EQ(sc.body["columns"][0].value("type", ""), "text");
  EXPECT_EQ(sc.body["columns"][0].value("nullable", true), false);

  auto r = call("GET", base + "/tables/shop.items/rows?limit=2");
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_EQ(r.body["items"].size(), 2u);
  EXPECT_EQ(r.body["items"][1].value("title", ""), "item 2");
  EXPECT_EQ(r.body["next_after"], json({{"id", 2}}));
  std::vector<int> ids;
  json after = r.body["next_after"];
  for (const json& row : r.body["items"]) ids.push_back(row.value("id", 0));
  while (!after.is_null()) {
    auto p = call("GET", base + "/tables/shop.items/rows?limit=2&after=" +
                             httplib::detail::encode_query_param(after.dump()));
    ASSERT_EQ(p.status, 200) << p.text;
    for (const json& row : p.body["items"]) ids.push_back(row.value("id", 0));
    after = p.body["next_after"];
  }
  EXPECT_EQ(ids, std::vector<int>({1, 2, 3, 4, 5}));
  auto pairs = call("GET", base + "/tables/shop.pairs/rows?limit=2");
  EXPECT_EQ(pairs.body["next_after"], json({{"b", 1}, {"a", "y"}}));
  auto hostile = call(
      "GET", base + "/tables/" +
                 httplib::detail::encode_query_param("shop.\"x\"\"; DROP TABLE t; --\"") + "/rows");
  ASSERT_EQ(hostile.status, 200) << hostile.text;
  EXPECT_EQ(hostile.body["items"], json::parse("[{\"id\": 1}]"));

  // A remote datasource (this server over TCP) through the extension's libpq connection, and
  // one that is down: 502 naming the datasource, not the master.
  std::string conninfo = "host=" + std::string(std::getenv("PGHOST")) +
                         " port=" + std::getenv("PGPORT") + " dbname=" + db_.name() +
                         " user=postgres password=unused";
  auto far = call("POST", "/api/datasources",
                  json{{"name", "far"}, {"kind", "postgres"}, {"conninfo", conninfo}});
  ASSERT_EQ(far.status, 201) << far.text;
  std::string far_base = "/api/datasources/" + std::to_string(far.body.value("id", 0LL));
  auto fr = call("GET", far_base + "/tables/shop.items/rows?limit=2&after=" +
                            httplib::detail::encode_query_param("{\"id\": 3}"));
  ASSERT_EQ(fr.status, 200) << fr.text;
  EXPECT_EQ(fr.body["items"].size(), 2u);
  EXPECT_EQ(fr.body["items"][0].value("id", 0), 4);
  auto down = call("POST", "/api/datasources",
                   json{{"name", "down"},
                        {"kind", "postgres"},
                        {"conninfo", "host=127.0.0.1 port=1 dbname=x user=u password=p"},
                        {"options", {{"connect_timeout", 2}}}});
  ASSERT_EQ(down.status, 201) << down.text;
  expect_error(
      call("GET", "/api/datasources/" + std::to_string(down.body.value("id", 0LL)) + "/tables"),
      502, "datasource_unavailable");

  expect_error(call("GET", "/api/datasources/999/tables"), 404, "not_found");
  expect_error(call("GET", base + "/tables/shop.nope/schema"), 404, "not_found");
  expect_error(call("GET", base + "/tables/shop.nope/rows"), 404, "not_found");
  expect_error(call("GET", base + "/tables/shop.loose/rows"), 422, "invalid");
  expect_error(call("GET", base + "/tables/shop.items/rows?after=5"), 422, "invalid_value",
               "after");
  expect_error(call("GET", base + "/tables/shop.items/rows?after=%7B%22title%22%3A1%7D"), 422,
               "invalid", "after");
  expect_error(call("GET", base + "/tables/shop.items/rows?limit=1001"), 422, "invalid_value",
               "limit");
  expect_error(call("GET", base + "/tables?after_schema=shop"), 422, "invalid_value", "after_name");
  expect_error(call("GET", base + "/tables?page=2"), 422, "unknown_parameter", "page");
  EXPECT_EQ(db_.value("SELECT count(*) FROM shop.items"), "5");
}

// ---------------------------------------------------------------------------- conflicts

// Conflict rows as an executor leaves them (the record is never decoded on these paths).
long long insert_conflict(TestDatabase& db, long long job, long long sync, int key,
                          const char* status = "pending") {
  std::string resolved = std::string(status) == "pending" ? "NULL" : "now()";
  return std::stoll(db.value(
      "INSERT INTO dbsync.conflicts (job_id, sync_id, key, kind, record, status, resolved_at) "
      "VALUES (" +
      std::to_string(job) + ", " + std::to_string(sync) + ", '{\"id\": " + std::to_string(key) +
      "}', 'update_update', '\\x00', '" + status + "', " + resolved + ") RETURNING id"));
}

TEST_F(DbsyncdApi, ConflictsAreListedFilteredAndPaged) {
  long long sync = make_sync("items");
  long long other = make_sync("others");
  long long job = queue_job_row(db_, sync);
  long long other_job = queue_job_row(db_, other);
  std::vector<long long> ids;
  for (int k = 1; k <= 3; ++k) ids.push_back(insert_conflict(db_, job, sync, k));
  long long skipped = insert_conflict(db_, job, sync, 4, "skipped");
  long long foreign = insert_conflict(db_, other_job, other, 1);
  std::string base = "/api/sync/" + std::to_string(sync);

  auto all = call("GET", base + "/conflicts");
  ASSERT_EQ(all.status, 200) << all.text;
  ASSERT_EQ(all.body["items"].size(), 4u);
  EXPECT_EQ(all.body["items"][0].value("sync", ""), "items");
  EXPECT_EQ(all.body["items"][0]["key"], json({{"id", 1}}));
  EXPECT_TRUE(all.body["next_after"].is_null());
  EXPECT_EQ(call("GET", base + "/conflicts?status=pending").body["items"].size(), 3u);
  auto sk = call("GET", base + "/conflicts?status=skipped");
  ASSERT_EQ(sk.body["items"].size(), 1u);
  EXPECT_EQ(sk.body["items"][0].value("id", 0LL), skipped);
  EXPECT_EQ(call("GET", base + "/conflicts?job=" + std::to_string(job)).body["items"].size(), 4u);
  EXPECT_EQ(call("GET", base + "/conflicts?job=" + std::to_string(other_job)).body["items"].size(),
            0u);
  auto p1 = call("GET", base + "/conflicts?limit=2");
  ASSERT_EQ(p1.body["items"].size(), 2u);
  EXPECT_EQ(p1.body["next_after"], json(ids[1]));
  auto p2 = call("GET", base + "/conflicts?limit=2&after=" + std::to_string(ids[1]));
  ASSERT_EQ(p2.body["items"].size(), 2u);
  EXPECT_EQ(p2.body["items"][0].value("id", 0LL), ids[2]);

  expect_error(call("GET", "/api/sync/999/conflicts"), 404, "not_found");
  expect_error(call("GET", base + "/conflicts?status=open"), 422, "invalid_value", "status");
  expect_error(call("GET", base + "/conflicts?job=x"), 422, "invalid_value", "job");
  expect_error(call("GET", base + "/conflicts?after=-1"), 422, "invalid_value", "after");
  expect_error(call("GET", base + "/conflicts?limit=0"), 422, "invalid_value", "limit");
  expect_error(call("GET", base + "/conflicts?sort=id"), 422, "unknown_parameter", "sort");

  // A conflict of another sync does not exist for this one: 404, and it stays pending.
  auto a = call("POST", base + "/resolve/" + std::to_string(foreign), json{{"decision", "source"}});
  expect_error(a, 404, "not_found");
  auto b = call("POST", base + "/resolve", json{{"decision", "skip"}, {"ids", {foreign}}});
  expect_error(b, 404, "not_found");
  EXPECT_EQ(b.body["error"]["details"].value("conflict_id", 0LL), foreign);
  expect_error(call("POST", base + "/resolve/99999999", json{{"decision", "source"}}), 404,
               "not_found");
  EXPECT_EQ(db_.value("SELECT status FROM dbsync.conflicts WHERE id = " + std::to_string(foreign)),
            "pending");
  // An already decided conflict: 409 from dbsync.resolve.
  expect_error(
      call("POST", base + "/resolve/" + std::to_string(skipped), json{{"decision", "source"}}), 409,
      "conflict");
}

// The sync option audit: set at creation, shown by GET, changed by PUT; a wrong type is 422
// naming it, and the extension's rule (alter_sync) is the one applied.
TEST_F(DbsyncdApi, SyncConfigAuditOptionRoundTrip) {
  make_sync("items");  // the tables and the datasource
  json body = {{"name", "quiet"},
               {"source", "here"},
               {"source_table", "public.src"},
               {"target", "here"},
               {"target_table", "public.dst"},
               {"mapping", {{"id", "id"}, {"title", "@name"}}},
               {"audit", false}};
  auto made = call("POST", "/api/sync-configs", body);
  ASSERT_EQ(made.status, 201) << made.text;
  EXPECT_EQ(made.body["audit"], json(false)) << made.text;
  std::string path = "/api/sync-configs/" + std::to_string(made.body.value("id", 0LL));
  EXPECT_EQ(call("GET", path).body["audit"], json(false));
  EXPECT_EQ(db_.value("SELECT audit FROM dbsync.syncs WHERE name = 'quiet'"), "f");
  // The default is true; the list shows the field too.
  auto list = call("GET", "/api/sync-configs");
  ASSERT_EQ(list.body["items"].size(), 2u) << list.text;
  EXPECT_EQ(list.body["items"][0].value("name", ""), "items");
  EXPECT_EQ(list.body["items"][0]["audit"], json(true));
  EXPECT_EQ(list.body["items"][1]["audit"], json(false));

  auto on = call("PUT", path, json{{"audit", true}});
  ASSERT_EQ(on.status, 200) << on.text;
  EXPECT_EQ(on.body["audit"], json(true));
  EXPECT_EQ(db_.value("SELECT audit FROM dbsync.syncs WHERE name = 'quiet'"), "t");
  // A PUT without it leaves it alone.
  auto other = call("PUT", path, json{{"batch_size", 10}});
  ASSERT_EQ(other.status, 200) << other.text;
  EXPECT_EQ(other.body["audit"], json(true));
  ASSERT_EQ(call("PUT", path, json{{"audit", false}}).status, 200);
  EXPECT_EQ(call("GET", path).body["audit"], json(false));

  for (const json& bad : {json("false"), json(0), json(1), json(nullptr), json::array()}) {
    expect_error(call("PUT", path, json{{"audit", bad}}), 422, "invalid_type", "audit");
    json create = body;
    create["name"] = "again";
    create["audit"] = bad;
    expect_error(call("POST", "/api/sync-configs", create), 422, "invalid_type", "audit");
  }
  EXPECT_EQ(call("GET", path).body["audit"], json(false));
  EXPECT_EQ(db_.value("SELECT count(*) FROM dbsync.syncs"), "2");
}

// An audit batch as the job runner writes it (engine/audit.hpp): one row per batch and side,
// keys, operations (one letter each: the name's first) and fields in step. Returns its id.
long long insert_audit(TestDatabase& db, long long job, int digest, const json& keys,
                       const std::vector<std::string>& ops, const json& fields,
                       const std::string& side = "target") {
  std::string letters;
  for (const std::string& op : ops) letters += op.at(0);
  return std::stoll(
      db.value("INSERT INTO dbsync.audit (job_id, side, digest, columns, keys, operations, fields) "
               "VALUES (" +
               std::to_string(job) + ", '" + side + "', " + std::to_string(digest) +
               ", ARRAY['id','title'], '" + keys.dump() + "'::json, '" + letters + "', '" +
               fields.dump() + "'::json) RETURNING id"));
}

TEST_F(DbsyncdApi, AuditIsListedByJobAndSyncWithKeysetPages) {
  long long sync = make_sync("items");
  long long other = make_sync("others");
  long long job1 = queue_job_row(db_, sync);
  db_.sql("UPDATE dbsync.jobs SET status = 'succeeded', finished_at = now() WHERE id = " +
          std::to_string(job1));
  long long job2 = queue_job_row(db_, sync);
  long long foreign_job = queue_job_row(db_, other);
  long long a1 = insert_audit(db_, job1, 1, json::array({{{"id", 1}}, {{"id", 2}}, {{"id", 3}}}),
                              {"insert", "insert", "insert"}, json(nullptr));  // every entry null
  long long a2 = insert_audit(db_, job2, 2, json::array({{{"id", 2}}, {{"id", 3}}}),
                              {"update", "delete"}, json::array({json::array({"title"}), nullptr}));
  insert_audit(db_, foreign_job, 3, json::array({{{"id", 9}}}), {"insert"}, json::array({nullptr}));
  const std::string base = "/api/sync-configs/" + std::to_string(sync) + "/audit";

  auto all = call("GET", base);
  ASSERT_EQ(all.status, 200) << all.text;
  ASSERT_EQ(all.body["items"].size(), 5u) << all.text;
  EXPECT_TRUE(all.body["next_after"].is_null());
  const json& first = all.body["items"][0];
  EXPECT_EQ(first.value("job_id", 0LL), job1);
  EXPECT_EQ(first.value("side", ""), "target");
  EXPECT_EQ(first["key"], json({{"id", 1}}));
  EXPECT_EQ(first.value("operation", ""), "insert");
  EXPECT_EQ(first["fields"], json::array({"id", "title"}));  // null: every mapped column
  EXPECT_TRUE(first["at"].is_string());
  const json& upd = all.body["items"][3];
  EXPECT_EQ(upd.value("job_id", 0LL), job2);
  EXPECT_EQ(upd.value("operation", ""), "update");
  EXPECT_EQ(upd["fields"], json::array({"title"}));
  EXPECT_EQ(all.body["items"][4].value("operation", ""), "delete");
  for (const json& it : all.body["items"]) EXPECT_NE(it["key"], json({{"id", 9}})) << it;

  // Pages of 2 cross the batches: 1,2 | 3 (end of batch 1), 2 (batch 2) | 3.
  auto p1 = call("GET", base + "?limit=2");
  ASSERT_EQ(p1.status, 200) << p1.text;
  ASSERT_EQ(p1.body["items"].size(), 2u);
  EXPECT_EQ(p1.body["next_after"], json(std::to_string(a1) + ":2"));
  auto p2 = call("GET", base + "?limit=2&after=" + p1.body["next_after"].get<std::string>());
  ASSERT_EQ(p2.body["items"].size(), 2u) << p2.text;
  EXPECT_EQ(p2.body["items"][0]["key"], json({{"id", 3}}));
  EXPECT_EQ(p2.body["items"][0].value("job_id", 0LL), job1);
  EXPECT_EQ(p2.body["items"][1].value("audit_id", 0LL), a2);
  EXPECT_EQ(p2.body["items"][1]["key"], json({{"id", 2}}));
  EXPECT_EQ(p2.body["next_after"], json(std::to_string(a2) + ":1"));
  auto p3 = call("GET", base + "?limit=2&after=" + p2.body["next_after"].get<std::string>());
  ASSERT_EQ(p3.body["items"].size(), 1u) << p3.text;
  EXPECT_EQ(p3.body["items"][0].value("operation", ""), "delete");
  EXPECT_TRUE(p3.body["next_after"].is_null());

  // Filter by job, and the job's own route.
  auto j1 = call("GET", base + "?job=" + std::to_string(job1));
  ASSERT_EQ(j1.body["items"].size(), 3u) << j1.text;
  EXPECT_EQ(call("GET", base + "?job=" + std::to_string(foreign_job)).body["items"].size(), 0u);
  auto by_job = call("GET", "/api/jobs/" + std::to_string(job2) + "/audit");
  ASSERT_EQ(by_job.status, 200) << by_job.text;
  ASSERT_EQ(by_job.body["items"].size(), 2u);
  EXPECT_EQ(by_job.body["items"][0].value("operation", ""), "update");
  auto jp = call("GET", "/api/jobs/" + std::to_string(job2) + "/audit?limit=1");
  ASSERT_EQ(jp.body["items"].size(), 1u);
  auto jp2 = call("GET", "/api/jobs/" + std::to_string(job2) +
                             "/audit?limit=1&after=" + jp.body["next_after"].get<std::string>());
  ASSERT_EQ(jp2.body["items"].size(), 1u) << jp2.text;
  EXPECT_EQ(jp2.body["items"][0].value("operation", ""), "delete");
  auto foreign = call("GET", "/api/jobs/" + std::to_string(foreign_job) + "/audit");
  ASSERT_EQ(foreign.body["items"].size(), 1u);
  EXPECT_EQ(foreign.body["items"][0]["key"], json({{"id", 9}}));

  // Unknown ids: 404; bad parameters: 422 naming them; no token: 401.
  expect_error(call("GET", "/api/sync-configs/99999/audit"), 404, "not_found");
  expect_error(call("GET", "/api/sync-configs/x/audit"), 404, "not_found");
  expect_error(call("GET", "/api/jobs/99999/audit"), 404, "not_found");
  expect_error(call("GET", "/api/jobs/0/audit"), 404, "not_found");
  expect_error(call("GET", base + "?limit=0"), 422, "invalid_value", "limit");
  expect_error(call("GET", base + "?limit=1001"), 422, "invalid_value", "limit");
  expect_error(call("GET", base + "?after=5"), 422, "invalid_value", "after");
  expect_error(call("GET", base + "?after=1:x"), 422, "invalid_value", "after");
  expect_error(call("GET", base + "?after=%27%3B--:1"), 422, "invalid_value", "after");
  expect_error(call("GET", base + "?job=x"), 422, "invalid_value", "job");
  expect_error(call("GET", base + "?sort=at"), 422, "unknown_parameter", "sort");
  expect_error(call("GET", "/api/jobs/" + std::to_string(job1) + "/audit?job=1"), 422,
               "unknown_parameter", "job");
  expect_error(call("GET", base, "", {}), 401, "unauthorized");
  expect_error(call("GET", "/api/jobs/" + std::to_string(job1) + "/audit", "",
                    {{"Authorization", "Bearer wrong"}}),
               401, "unauthorized");
}

TEST_F(DbsyncdApi, ResolveBadInputGets4xxNamingTheField) {
  long long sync = make_sync();
  long long job = queue_job_row(db_, sync);
  long long c = insert_conflict(db_, job, sync, 1);
  std::string one = "/api/sync/" + std::to_string(sync) + "/resolve/" + std::to_string(c);
  std::string bulk = "/api/sync/" + std::to_string(sync) + "/resolve";
  struct Case {
    std::string body;
    int status;
    std::string code, field;
  };
  std::vector<Case> cases = {
      {"{", 400, "", ""},
      {"[]", 422, "", ""},
      {"{}", 422, "missing_field", "decision"},
      {R"({"decision": 1})", 422, "invalid_type", "decision"},
      {R"({"decision": "source", "extra": 1})", 422, "unknown_field", "extra"},
      {R"({"decision": "source", "row": "x"})", 422, "invalid_type", "row"},
      {R"({"decision": "maybe"})", 422, "invalid", "decision"},
      {R"({"decision": "x\"; DROP TABLE t; --"})", 422, "invalid", "decision"},
  };
  for (const Case& k : cases) {
    auto a = call("POST", one, k.body);
    EXPECT_EQ(a.status, k.status) << k.body << ": " << a.text;
    if (!k.code.empty()) expect_error(a, k.status, k.code, k.field);
  }
  std::vector<Case> bulk_cases = {
      {R"({"decision": "source", "ids": "1"})", 422, "invalid_value", "ids"},
      {R"({"decision": "source", "ids": []})", 422, "invalid_value", "ids"},
      {R"({"decision": "source", "ids": [1, 1]})", 422, "invalid_value", "ids"},
      {R"({"decision": "source", "ids": ["1"]})", 422, "invalid_type", "ids"},
      {R"({"decision": "source", "ids": [-4]})", 422, "invalid_type", "ids"},
      {R"({"decision": "source", "ids": [1.5]})", 422, "invalid_type", "ids"},
      {R"({"decision": "source", "ids": [99999999999999999999999]})", 422, "invalid_type", "ids"},
      {R"({"decision": "custom"})", 422, "invalid", ""},
      {R"({"ids": [1]})", 422, "missing_field", "decision"},
  };
  for (const Case& k : bulk_cases) {
    auto a = call("POST", bulk, k.body);
    expect_error(a, k.status, k.code, k.field);
  }
  // Hostile and huge ids in paths: 404, never SQL.
  for (const std::string& id :
       {std::string("1;DROP"), std::string("..%2F.."), std::string("99999999999999999999999"),
        std::string("-1"), std::string("0"), std::string("1e3")}) {
    expect_error(call("POST", "/api/sync/" + id + "/resolve/1", json{{"decision", "skip"}}), 404,
                 "");
    expect_error(call("POST", "/api/sync/" + std::to_string(sync) + "/resolve/" + id,
                      json{{"decision", "skip"}}),
                 404, "");
    expect_error(call("GET", "/api/sync/" + id + "/conflicts"), 404, "");
    expect_error(call("GET", "/api/datasources/" + id + "/tables"), 404, "");
    expect_error(call("GET", "/api/jobs/" + id + "/events"), 404, "");
  }
  EXPECT_EQ(db_.value("SELECT status FROM dbsync.conflicts WHERE id = " + std::to_string(c)),
            "pending");
  EXPECT_EQ(daemon_.stderr_text().find("internal_error"), std::string::npos);
}

TEST_F(DbsyncdApi, MetricsCountRowsAppliedByOperation) {
  long long sync = make_sync();
  long long job = queue_job_row(db_, sync);
  db_.sql(
      "UPDATE dbsync.jobs SET status = 'succeeded', finished_at = now(), inserted = 5, "
      "updated = 3, deleted = 2, source_updated = 4 WHERE id = " +
      std::to_string(job));
  insert_conflict(db_, job, sync, 1);
  auto m = call("GET", "/metrics", "", {});
  ASSERT_EQ(m.status, 200);
  for (const char* line : {"dbsync_rows_applied{operation=\"insert\",side=\"target\"} 5",
                           "dbsync_rows_applied{operation=\"update\",side=\"target\"} 3",
                           "dbsync_rows_applied{operation=\"delete\",side=\"target\"} 2",
                           "dbsync_rows_applied{operation=\"update\",side=\"source\"} 4",
                           "dbsync_rows_applied{operation=\"insert\",side=\"source\"} 0",
                           "dbsync_jobs{status=\"succeeded\"} 1", "dbsync_conflicts_pending 1",
                           "# TYPE dbsync_rows_applied gauge"})
    EXPECT_NE(m.text.find(line), std::string::npos) << line << "\n" << m.text;
}

// ---------------------------------------------------------------------------- the full cycle

// In the database the stack's background workers serve (dbsync_test): a real job with the
// manual strategy stops with conflicts; they are listed and decided through the API while the
// job's events stream; the last decision commits the job and the stream ends.
class DbsyncdWorkersDb : public DbsyncdApi {
 protected:
  void prepare_database() override {
    db_.attach("dbsync_test");
    if (HasFatalFailure()) return;
    db_.sql("CREATE EXTENSION IF NOT EXISTS dbsync");
    tag_ = "dapi_" + std::to_string(::getpid());
    cleanup();
  }
  void TearDown() override {
    DbsyncdApi::TearDown();
    cleanup();
  }
  void cleanup() {
    db_.value("SELECT count(dbsync.drop_sync(name)) FROM dbsync.syncs WHERE name LIKE '" + tag_ +
              "%'");
    db_.value("SELECT count(dbsync.drop_datasource(name)) FROM dbsync.datasources WHERE name = '" +
              tag_ + "'");
    db_.sql("DROP SCHEMA IF EXISTS " + tag_ + " CASCADE");
  }
  std::string tag_;
};

TEST_F(DbsyncdWorkersDb, ConflictCycleThroughTheApiWithLiveEvents) {
  const std::string s = tag_;
  db_.sql("CREATE SCHEMA " + s);
  db_.sql("CREATE TABLE " + s + ".l (id integer PRIMARY KEY, name text)");
  db_.sql("CREATE TABLE " + s + ".r (id integer PRIMARY KEY, name text)");
  db_.sql("INSERT INTO " + s + ".l SELECT i, 'n' || i FROM generate_series(1, 5) i");
  db_.value("SELECT dbsync.add_datasource('" + s + "', 'local')");
  db_.value("SELECT dbsync.create_sync('" + s + "', '" + s + "', '" + s + ".l', '" + s + "', '" +
            s + ".r', mapping => '{\"id\": \"id\", \"name\": \"name\"}', strategy => 'manual')");
  db_.value("SELECT dbsync.create_sync('" + s + "_2', '" + s + "', '" + s + ".r', '" + s + "', '" +
            s + ".l', mapping => '{\"id\": \"id\", \"name\": \"name\"}')");
  ASSERT_EQ(db_.value("SELECT status FROM dbsync.run('" + s + "')"), "succeeded");
  // Both sides change rows 1..3 (conflicts); the source alone changes row 4 (clean).
  db_.sql("UPDATE " + s + ".l SET name = 'src ' || id WHERE id <= 4");
  db_.sql("UPDATE " + s + ".r SET name = 'tgt ' || id WHERE id <= 3");
  long long sync = std::stoll(db_.value("SELECT id FROM dbsync.syncs WHERE name = '" + s + "'"));
  long long other = std::stoll(db_.value("SELECT id FROM dbsync.syncs WHERE name = '" + s + "_2'"));
  std::string base = "/api/sync/" + std::to_string(sync);

  auto run = call("POST", base);
  ASSERT_EQ(run.status, 202) << run.text;
  long long job = run.body["job"].value("id", 0LL);
  SseClient events;
  ASSERT_EQ(events.open(port_, "/api/jobs/" + std::to_string(job) + "/events"), 200);
  SseEvent e;
  std::string status;
  for (int i = 0; i < 50 && status != "awaiting_resolution"; ++i) {
    ASSERT_TRUE(events.next_event(e, std::chrono::seconds(30))) << "last status " << status;
    ASSERT_EQ(e.event, "progress") << e.data;
    status = json::parse(e.data).value("status", "");
  }
  EXPECT_EQ(json::parse(e.data).value("conflicts_pending", 0), 3) << e.data;

  auto list = call("GET", base + "/conflicts?status=pending&job=" + std::to_string(job));
  ASSERT_EQ(list.status, 200) << list.text;
  ASSERT_EQ(list.body["items"].size(), 3u) << list.text;
  std::map<int, long long> by_key;
  for (const json& c : list.body["items"]) by_key[c["key"].value("id", 0)] = c.value("id", 0LL);
  std::string c1 = std::to_string(by_key[1]);

  // Decisions the extension refuses, with the field named.
  expect_error(call("POST", base + "/resolve/" + c1, json{{"decision", "maybe"}}), 422, "invalid",
               "decision");
  expect_error(call("POST", base + "/resolve/" + c1, json{{"decision", "custom"}}), 422, "invalid",
               "row");
  expect_error(
      call("POST", base + "/resolve/" + c1, json{{"decision", "custom"}, {"row", {{"nope", 1}}}}),
      422, "invalid_reference", "row");
  expect_error(
      call("POST", base + "/resolve/" + c1, json{{"decision", "source"}, {"row", {{"name", "x"}}}}),
      422, "invalid", "row");
  // The other sync's path: 404.
  expect_error(call("POST", "/api/sync/" + std::to_string(other) + "/resolve/" + c1,
                    json{{"decision", "source"}}),
               404, "not_found");

  // One custom decision.
  auto r1 = call("POST", base + "/resolve/" + c1,
                 json{{"decision", "custom"}, {"row", {{"name", "custom 1"}}}});
  ASSERT_EQ(r1.status, 200) << r1.text;
  EXPECT_EQ(r1.body.value("result", ""), "resolved");
  EXPECT_EQ(r1.body["conflict"].value("status", ""), "resolved");
  EXPECT_EQ(r1.body["conflict"].value("resolution", ""), "custom");
  expect_error(call("POST", base + "/resolve/" + c1, json{{"decision", "source"}}), 409,
               "conflict");
  // Bulk with ids is all or none: the decided c1 among them refuses the whole request.
  auto none = call("POST", base + "/resolve",
                   json{{"decision", "source"}, {"ids", {by_key[2], by_key[1]}}});
  expect_error(none, 409, "conflict");
  EXPECT_EQ(none.body["error"]["details"].value("conflict_id", 0LL), by_key[1]);
  EXPECT_EQ(
      db_.value("SELECT status FROM dbsync.conflicts WHERE id = " + std::to_string(by_key[2])),
      "pending");
  auto some = call("POST", base + "/resolve", json{{"decision", "source"}, {"ids", {by_key[2]}}});
  ASSERT_EQ(some.status, 200) << some.text;
  EXPECT_EQ(some.body.value("decided", 0), 1);
  // The rest in one go (dbsync.resolve_all): the job commits.
  auto rest = call("POST", base + "/resolve", json{{"decision", "target"}});
  ASSERT_EQ(rest.status, 200) << rest.text;
  EXPECT_EQ(rest.body.value("decided", 0), 1);

  for (int i = 0; i < 50 && e.event != "end"; ++i)
    ASSERT_TRUE(events.next_event(e, std::chrono::seconds(30)));
  ASSERT_EQ(e.event, "end");
  EXPECT_EQ(json::parse(e.data).value("status", ""), "succeeded") << e.data;
  EXPECT_FALSE(events.next(e, std::chrono::seconds(3)));
  EXPECT_EQ(db_.value("SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM " + s + ".r"),
            "1=custom 1,2=src 2,3=tgt 3,4=src 4,5=n5");
  EXPECT_EQ(call("GET", base + "/conflicts?status=pending").body["items"].size(), 0u);
}

}  // namespace
}  // namespace dbsync::daemon::testing
