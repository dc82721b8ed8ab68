// dbsyncd's settings: flags, then the environment, then a .env file (flags win over the
// environment, the environment over .env). A missing or wrong setting is one clear message.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "engine/status.hpp"

namespace dbsync::daemon {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct Config {
  std::string database_url;               // DATABASE_URL: the master (required)
  std::string secret_key_hex;             // SECRET_KEY: 64 hex digits (optional; see usage())
  std::vector<std::string> cors_origins;  // CORS_ORIGINS: comma-separated; "*" for any
  std::string admin_token;                // DBSYNC_ADMIN_TOKEN: the first API token
  std::string listen_host = "127.0.0.1";
  int listen_port = 8001;  // 0: any free port (printed in the "listening" line)
  int workers = 64;        // HTTP worker threads
  int db_connections = 8;  // connections to the master (a request waits for one)
  LogLevel log_level = LogLevel::kInfo;
  size_t max_body_bytes = 1 << 20;
  int keep_alive_seconds = 2;
  // Event streams (/api/jobs/{id}/events) open at once, each holding a thread of its own on top
  // of --workers; -1: a share of --workers (see ServerOptions::sse_max_subscribers).
  int sse_max_subscribers = -1;
  // The job runner (daemon/runner/runner.hpp).
  bool executors_all = false;  // --executors=all: any job; daemon (default): executor_kind daemon
  int runners = 2;             // jobs run at once; 0: no job runner (API only)
  int lease_seconds = 60;      // a job's lease; renewed every third of it and after each batch
  int poll_seconds = 5;        // the queue is also polled this often (besides LISTEN)
};

enum class ParseOutcome { kRun, kHelp };

// Parses argv and the environment (`env`: name -> value, e.g. from environ) and the .env file
// named by --env-file (default ./.env when it exists). Errors are kInvalidArgument with a
// one-line message naming the setting.
Result<ParseOutcome> parse_config(const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& env, Config& out);

// The --help text.
std::string usage();

const char* log_level_name(LogLevel level);

}  // namespace dbsync::daemon
