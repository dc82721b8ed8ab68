// The HTTP side in-process (as cpp-httplib's own tests do): a real server on a free port on a
// thread, spoken to over sockets, stopped and joined in teardown. What needs no master: the
// router (404, 405, ids), the error boundary, CORS, the bearer-token refusal, and that the
// OpenAPI document lists exactly the routes there are.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "daemon/api/api.hpp"
#include "daemon/api/api_server.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/server.hpp"
#include "daemon/log.hpp"

namespace dbsync::daemon {
namespace {

using nlohmann::json;

// A master that refuses connections at once (nothing listens on port 1).
const char* kNoMaster = "host=127.0.0.1 port=1 dbname=none connect_timeout=2";

// ---------------------------------------------------------------------------- the router

TEST(DbsyncdRouter, MatchesPatternsAndParsesIdsOnce) {
  Router r;
  r.add("GET", "/api/things/{id}", {"thing"}, [](Request&) { return Reply::no_content(); });
  r.add("POST", "/api/things/{id}/parts/{partId}/{name}", {"thing", "part"},
        [](Request&) { return Reply::no_content(); });

  auto m = r.match("GET", "/api/things/42");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/things/{id}");
  auto p = Router::path_params(m);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p.value().size(), 1u);
  EXPECT_EQ(p.value()[0].id, 42);

  auto two = r.match("POST", "/api/things/7/parts/9/wheel");
  ASSERT_EQ(two.kind, Router::Match::Kind::kFound);
  auto q = Router::path_params(two);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.value()[1].id, 9);
  EXPECT_EQ(q.value()[2].text, "wheel");

  // HEAD is GET.
  EXPECT_EQ(r.match("HEAD", "/api/things/1").kind, Router::Match::Kind::kFound);
}

TEST(DbsyncdRouter, AnIdThatIsNotAPositiveIntegerIsNotFoundWithItsNoun) {
  Router r;
  r.add("POST", "/api/things/{id}/parts/{partId}", {"thing", "part"},
        [](Request&) { return Reply::no_content(); });
  for (const char* bad : {"0", "-1", "+1", "abc", "1;DROP", "99999999999999999999"}) {
    auto m = r.match("POST", std::string("/api/things/") + bad + "/parts/1");
    ASSERT_EQ(m.kind, Router::Match::Kind::kFound) << bad;
    auto p = Router::path_params(m);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().status, 404);
    EXPECT_EQ(p.error().code, "not_found");
    EXPECT_EQ(p.error().message, std::string("thing ") + bad + " does not exist");
  }
  auto m = r.match("POST", "/api/things/3/parts/x");
  auto p = Router::path_params(m);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "part x does not exist");
}

TEST(DbsyncdRouter, UnknownPathsAndOtherMethods) {
  Router r;
  r.add("GET", "/api/things", {}, [](Request&) { return Reply::no_content(); });
  r.add("POST", "/api/things", {}, [](Request&) { return Reply::no_content(); });
  EXPECT_EQ(r.match("GET", "/api/things/").kind, Router::Match::Kind::kNoRoute);
  EXPECT_EQ(r.match("GET", "/api/thing").kind, Router::Match::Kind::kNoRoute);
  EXPECT_EQ(r.match("GET", "/api/things/1").kind, Router::Match::Kind::kNoRoute);
  auto m = r.match("DELETE", "/api/things");
  EXPECT_EQ(m.kind, Router::Match::Kind::kWrongMethod);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(DbsyncdRouter, EveryIdOfAPatternNeedsItsNoun) {
  Router r;
  EXPECT_THROW(r.add("GET", "/api/things/{id}", {}, [](Request&) { return Reply::no_content(); }),
               std::logic_error);
}

// ---------------------------------------------------------------------------- the server

class DbsyncdHttpServer : public ::testing::Test {
 protected:
  void SetUp() override { set_log_level(LogLevel::kError); }  // the request lines are noise here
  void start(HttpOptions options = {}) {
    server_ = std::make_unique<HttpServer>(options, router_, pool_, metrics_);
    std::string error;
    port_ = server_->bind(error);
    ASSERT_GT(port_, 0) << error;
    thread_ = std::thread([this] { server_->listen(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    return c;
  }
  static json body(const httplib::Result& r) { return json::parse(r->body, nullptr, false); }

  Router router_;
  catalog::Pool pool_{kNoMaster, 2};
  HttpMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(DbsyncdHttpServer, AThrowingHandlerIsA500JsonAndTheServerGoesOn) {
  router_.add("GET", "/boom", {}, [](Request&) -> Reply { throw std::runtime_error("kaboom"); });
  router_.add("GET", "/odd", {}, [](Request&) -> Reply { throw 42; });
  router_.add("GET", "/fine", {}, [](Request&) { return Reply::json(200, {{"ok", true}}); });
  start();
  auto c = client();
  for (const char* path : {"/boom", "/odd"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(body(r)["error"]["code"], "internal");
    // The exception's text stays in the log, not in the answer.
    EXPECT_EQ(r->body.find("kaboom"), std::string::npos);
  }
  auto ok = c.Get("/fine");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(body(ok)["ok"], true);
  // Counted under their route patterns.
  std::string m = metrics_.render();
  EXPECT_NE(m.find("route=\"/boom\",method=\"GET\",status=\"500\"} 1"), std::string::npos) << m;
}

TEST_F(DbsyncdHttpServer, NoRouteIs404AndAnotherMethodIs405) {
  router_.add("GET", "/things/{id}", {"thing"}, [](Request& req) {
    return Reply::json(200, {{"id", req.id("id")}});
  });
  start();
  auto c = client();
  auto none = c.Get("/nothing/here");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_EQ(body(none)["error"]["code"], "no_route");
  EXPECT_EQ(body(none)["error"]["message"], "no such endpoint: GET /nothing/here");

  auto wrong = c.Delete("/things/1");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(body(wrong)["error"]["code"], "method_not_allowed");
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET");

  auto bad = c.Get("/things/x1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 404);
  EXPECT_EQ(body(bad)["error"]["code"], "not_found");
  EXPECT_EQ(body(bad)["error"]["message"], "thing x1 does not exist");
  EXPECT_EQ(body(bad)["error"]["details"]["id"], "x1");

  auto good = c.Get("/things/17");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_EQ(body(good)["id"], 17);
}

TEST_F(DbsyncdHttpServer, ApiRoutesNeedABearerTokenBeforeAnythingElse) {
  bool called = false;
  router_.add("GET", "/api/things", {}, [&called](Request&) {
    called = true;
    return Reply::no_content();
  });
  start();
  auto c = client();
  for (const char* auth : {"", "Basic abc", "Bearer", "Bearer "}) {
    httplib::Headers h;
    if (*auth) h.emplace("Authorization", auth);
    // Unknown /api paths too: nothing is told before the token is checked.
    for (const char* path : {"/api/things", "/api/nothing-here"}) {
      auto r = c.Get(path, h);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401) << auth << " " << path;
      EXPECT_EQ(body(r)["error"]["code"], "unauthorized");
      EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"dbsync\"");
    }
  }
  // A token to check, but the master is away: its failure, as JSON (502 master_unavailable).
  auto r = c.Get("/api/things", {{"Authorization", "bearer dbs_0123456789abcdef"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(body(r)["error"]["code"], "master_unavailable");
  EXPECT_FALSE(called);
}

TEST_F(DbsyncdHttpServer, CorsPreflightAndAllowedOrigins) {
  router_.add("GET", "/things", {}, [](Request&) { return Reply::json(200, json::object()); });
  HttpOptions options;
  options.cors_origins = {"https://ui.example"};
  start(options);
  auto c = client();
  // A preflight needs no token, and is answered for an allowed origin only.
  auto pre = c.Options(
      "/api/things", {{"Origin", "https://ui.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://ui.example");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "Authorization, Content-Type");
  EXPECT_NE(pre->get_header_value("Access-Control-Allow-Methods").find("DELETE"),
            std::string::npos);
  auto other = c.Options("/api/things", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 204);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  // An ordinary answer carries the origin too (errors included).
  auto get = c.Get("/things", {{"Origin", "https://ui.example"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "https://ui.example");
  EXPECT_EQ(get->get_header_value("Vary"), "Origin");
  auto missing = c.Get("/nothing", {{"Origin", "https://ui.example"}});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("Access-Control-Allow-Origin"), "https://ui.example");
}

TEST_F(DbsyncdHttpServer, ABodyTooLargeIs413Json) {
  router_.add("POST", "/things", {}, [](Request&) { return Reply::no_content(); });
  HttpOptions options;
  options.max_body_bytes = 1024;
  start(options);
  auto r = client().Post("/things", std::string(4096, 'x'), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(body(r)["error"]["code"], "payload_too_large");
}

// ---------------------------------------------------------------------------- the API's routes

class DbsyncdApiRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_level(LogLevel::kError);
    config_.database_url = kNoMaster;
    config_.listen_port = 0;
    config_.workers = 4;
    server_ = std::make_unique<ApiServer>(config_, pool_);
    std::string error;
    port_ = server_->bind(error);
    ASSERT_GT(port_, 0) << error;
    thread_ = std::thread([this] { server_->listen(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }
  Config config_;
  catalog::Pool pool_{kNoMaster, 2};
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  int port_ = 0;
};

// /openapi.json documents every route of the router, and nothing else.
TEST_F(DbsyncdApiRoutes, TheOpenApiDocumentListsExactlyTheRoutes) {
  std::set<std::string> routed, documented;
  for (const Route& r : server_->router().routes()) {
    std::string m = r.method;
    for (char& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    routed.insert(m + " " + r.pattern);
  }
  httplib::Client c("127.0.0.1", port_);
  auto r = c.Get("/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json doc = json::parse(r->body);
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items())
      if (method != "parameters") documented.insert(method + " " + path);
  EXPECT_EQ(routed, documented);
  EXPECT_GE(routed.size(), 36u);
}

TEST_F(DbsyncdApiRoutes, WithoutTheMasterHealthzSays503AndMetricsSaysDown) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(15, 0);
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503);
  json e = json::parse(h->body);
  EXPECT_EQ(e["error"]["code"], "unavailable");
  EXPECT_EQ(e["error"]["message"].get<std::string>().rfind("the master is unreachable: ", 0), 0u)
      << h->body;
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("dbsync_master_up 0"), std::string::npos) << m->body;
  // A path id is checked before anything else: no master needed to refuse it.
  auto w = c.Post("/webhooks/n8n/abc", "{}", "application/json");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 404);
  EXPECT_EQ(json::parse(w->body)["error"]["message"], "sync config abc does not exist");
}

}  // namespace
}  // namespace dbsync::daemon
