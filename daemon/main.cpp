// dbsyncd: parse the settings, connect to the master, serve and run jobs until SIGTERM/SIGINT.
// Exit status: 0 after a graceful stop, 1 when the master is unreachable or lacks the extension
// at start (a supervisor restarts it), 2 for a missing or wrong setting.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "daemon/api/api_server.hpp"
#include "daemon/catalog/db.hpp"
#include "daemon/catalog/settings.hpp"
#include "daemon/config.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/log.hpp"
#include "daemon/runner/job_runner.hpp"
#include "daemon/runner/redis_stage_factory.hpp"
#include "daemon/runner/runner.hpp"

extern char** environ;

using namespace dbsync::daemon;

namespace {

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// One line: libpq's messages span several.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The master has the extension (with the api section of the catalog).
int check_master(catalog::Pool& pool) {
  auto conn = pool.acquire();
  if (!conn.is_ok()) {
    std::fprintf(stderr, "dbsyncd: cannot connect to the master (DATABASE_URL): %s\n",
                 one_line(conn.failure().message).c_str());
    return 1;
  }
  auto ext = catalog::dbsync_extension(conn.value().pg());
  if (!ext.is_ok()) {
    std::fprintf(stderr, "dbsyncd: the master does not answer: %s\n",
                 one_line(ext.failure().message).c_str());
    return 1;
  }
  if (!ext.value()) {
    std::fprintf(stderr,
                 "dbsyncd: the dbsync extension is not installed in the master database "
                 "(CREATE EXTENSION dbsync)\n");
    return 1;
  }
  if (!ext.value()->has_api) {
    std::fprintf(stderr,
                 "dbsyncd: the dbsync extension in the master (version %s) has no "
                 "dbsync.api_tokens: update it (ALTER EXTENSION dbsync UPDATE)\n",
                 ext.value()->version.c_str());
    return 1;
  }
  log_event(LogLevel::kInfo, "master", {{"extension", ext.value()->version}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Config config;
  auto parsed = parse_config(args, environment(), config);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "dbsyncd: %s\n", parsed.status().message().c_str());
    return 2;
  }
  if (*parsed == ParseOutcome::kHelp) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  set_log_level(config.log_level);

  // Signals go to the waiting thread only: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  catalog::Pool pool(config.database_url, config.db_connections);
  if (int rc = check_master(pool); rc != 0) return rc;
  {
    auto conn = pool.acquire();
    if (!conn.is_ok()) {
      std::fprintf(stderr, "dbsyncd: cannot connect to the master: %s\n",
                   one_line(conn.failure().message).c_str());
      return 1;
    }
    auto first = bootstrap_tokens(conn.value().pg(), config.admin_token);
    if (!first.is_ok()) {
      std::fprintf(stderr, "dbsyncd: %s\n", first.status().message().c_str());
      return 1;
    }
    if (first.value()) {
      // Shown once, on stdout (never in the log): the catalog keeps only its hash.
      std::printf("dbsyncd: first API token (shown once, keep it): %s\n", first.value()->c_str());
      std::fflush(stdout);
    }
  }

  ServerOptions server_options;
  server_options.sse_max_subscribers = config.sse_max_subscribers;
  ApiServer server(config, pool, server_options);
  std::string bind_error;
  int port = server.bind(bind_error);
  if (port < 0) {
    std::fprintf(stderr, "dbsyncd: %s\n", bind_error.c_str());
    return 1;
  }
  log_event(LogLevel::kInfo, "listening",
            {{"host", config.listen_host},
             {"port", port},
             {"workers", config.workers},
             {"db_connections", config.db_connections},
             {"max_body_bytes", config.max_body_bytes}});

  // The job runner (--runners, --executors): claims and runs jobs until the stop signal. A
  // job's stage is in Redis when the settings name one (daemon.redis_url), else the catalog's;
  // the janitor deletes the Redis keys of finished jobs.
  JobRunner runner(config, redis_stage_factory(), redis_stage_janitor());
  if (dbsync::Status st = runner.start(); !st.is_ok()) {
    std::fprintf(stderr, "dbsyncd: %s\n", st.message().c_str());
    return 2;
  }

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_event(LogLevel::kInfo, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.stop();
  });
  bool ok = server.listen();
  // listen() returned on its own (not by a signal): wake the waiter so it can be joined.
  kill(getpid(), SIGTERM);
  waiter.join();
  // Running jobs stop after their current batch and go back to the queue.
  runner.stop();
  log_event(LogLevel::kInfo, "stopped", {{"clean", ok}});
  return ok ? 0 : 1;
}
