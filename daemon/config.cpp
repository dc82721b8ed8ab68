#include "daemon/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

namespace dbsync::daemon {
namespace {

// One setting: its flag, its environment variable (maybe none), and how to apply a value.
struct Setting {
  const char* flag;
  const char* env;
  const char* help;
  Status (*apply)(const std::string& value, Config& c);
};

Status bad(const std::string& what) { return error(ErrorCode::kInvalidArgument, what); }

std::optional<long long> parse_int(const std::string& s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

Status set_database_url(const std::string& v, Config& c) {
  if (trim(v).empty()) return bad("DATABASE_URL is empty");
  c.database_url = v;
  return Status::ok();
}

Status set_secret_key(const std::string& v, Config& c) {
  if (v.size() != 64)
    return bad("SECRET_KEY must be 64 hex digits (32 bytes), not " + std::to_string(v.size()) +
               " characters");
  for (char ch : v)
    if (!std::isxdigit(static_cast<unsigned char>(ch)))
      return bad("SECRET_KEY must be 64 hex digits (32 bytes): found a non-hex character");
  c.secret_key_hex = v;
  return Status::ok();
}

Status set_cors(const std::string& v, Config& c) {
  c.cors_origins.clear();
  std::stringstream in(v);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    if (item != "*" && item.find("://") == std::string::npos)
      return bad("CORS_ORIGINS: '" + item + "' is not an origin (scheme://host[:port]) or *");
    if (item.find_first_of(" \r\n\t") != std::string::npos)
      return bad("CORS_ORIGINS: an origin contains white space");
    c.cors_origins.push_back(item);
  }
  return Status::ok();
}

Status set_admin_token(const std::string& v, Config& c) {
  if (v.size() < 16) return bad("DBSYNC_ADMIN_TOKEN must be at least 16 characters");
  for (char ch : v)
    if (ch <= 0x20 || ch >= 0x7f)
      return bad("DBSYNC_ADMIN_TOKEN must be printable ASCII without spaces");
  c.admin_token = v;
  return Status::ok();
}

Status set_listen(const std::string& v, Config& c) {
  size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return bad("--listen must be host:port (e.g. 127.0.0.1:8001), not '" + v + "'");
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = parse_int(v.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535)
    return bad("--listen: the port must be a number from 0 to 65535, not '" + v.substr(colon + 1) +
               "'");
  c.listen_host = host;
  c.listen_port = static_cast<int>(*port);
  return Status::ok();
}

Status set_workers(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 2 || *n > 1024) return bad("--workers must be a number from 2 to 1024");
  c.workers = static_cast<int>(*n);
  return Status::ok();
}

Status set_db_connections(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 1 || *n > 1000) return bad("--db-connections must be a number from 1 to 1000");
  c.db_connections = static_cast<int>(*n);
  return Status::ok();
}

Status set_sse_max(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 0 || *n > 4096)
    return bad("--sse-max-subscribers must be a number from 0 to 4096");
  c.sse_max_subscribers = static_cast<int>(*n);
  return Status::ok();
}

Status set_log_level(const std::string& v, Config& c) {
  if (v == "debug")
    c.log_level = LogLevel::kDebug;
  else if (v == "info")
    c.log_level = LogLevel::kInfo;
  else if (v == "warn")
    c.log_level = LogLevel::kWarn;
  else if (v == "error")
    c.log_level = LogLevel::kError;
  else
    return bad("--log-level must be debug, info, warn or error, not '" + v + "'");
  return Status::ok();
}

Status set_max_body(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 1024 || *n > (1LL << 30))
    return bad("--max-body-bytes must be a number from 1024 to 1073741824");
  c.max_body_bytes = static_cast<size_t>(*n);
  return Status::ok();
}

Status set_keep_alive(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 0 || *n > 60) return bad("--keep-alive must be a number of seconds from 0 to 60");
  c.keep_alive_seconds = static_cast<int>(*n);
  return Status::ok();
}

Status set_executors(const std::string& v, Config& c) {
  if (v != "daemon" && v != "all")
    return bad("--executors must be daemon (the jobs left to dbsyncd) or all, not '" + v + "'");
  c.executors_all = v == "all";
  return Status::ok();
}

Status set_runners(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 0 || *n > 256) return bad("--runners must be a number from 0 to 256");
  c.runners = static_cast<int>(*n);
  return Status::ok();
}

Status set_lease(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 2 || *n > 3600) return bad("--lease-seconds must be a number from 2 to 3600");
  c.lease_seconds = static_cast<int>(*n);
  return Status::ok();
}

Status set_poll(const std::string& v, Config& c) {
  auto n = parse_int(v);
  if (!n || *n < 1 || *n > 300) return bad("--poll-seconds must be a number from 1 to 300");
  c.poll_seconds = static_cast<int>(*n);
  return Status::ok();
}

const Setting kSettings[] = {
    {"--database-url", "DATABASE_URL",
     "the master PostgreSQL (postgres:// URL or conninfo); required", set_database_url},
    {"--secret-key", "SECRET_KEY",
     "64 hex digits: the key of dbsync.secret_key_file (reads datasource secrets; seals webhook "
     "secrets and the Redis password); optional",
     set_secret_key},
    {"--cors-origins", "CORS_ORIGINS", "comma-separated allowed origins, or *; default none",
     set_cors},
    {"--admin-token", "DBSYNC_ADMIN_TOKEN",
     "the first API token (at least 16 characters); generated and printed once when absent",
     set_admin_token},
    {"--listen", "DBSYNC_LISTEN", "host:port to listen on; default 127.0.0.1:8001", set_listen},
    {"--workers", "DBSYNC_WORKERS",
     "HTTP worker threads; an idle keep-alive connection holds one for "
     "--keep-alive seconds; default 64",
     set_workers},
    {"--db-connections", "DBSYNC_DB_CONNECTIONS",
     "connections to the master; a request waits up to 5 s for one (503 then); default 8",
     set_db_connections},
    {"--log-level", "DBSYNC_LOG_LEVEL", "debug, info, warn or error; default info", set_log_level},
    {"--max-body-bytes", "DBSYNC_MAX_BODY_BYTES",
     "largest request body accepted (413 beyond); default 1048576", set_max_body},
    {"--keep-alive", "DBSYNC_KEEP_ALIVE", "idle keep-alive seconds; default 2", set_keep_alive},
    {"--sse-max-subscribers", "DBSYNC_SSE_MAX_SUBSCRIBERS",
     "event streams (/api/jobs/{id}/events) open at once, each with a thread of its own besides "
     "--workers (503 beyond); default: workers - max(2, workers/4) of the --workers threads",
     set_sse_max},
    {"--executors", "DBSYNC_EXECUTORS",
     "which queued jobs the job runner claims: daemon (those left to dbsyncd: MySQL, "
     "WordPress, webhooks) or all (also the background workers' jobs); default daemon",
     set_executors},
    {"--runners", "DBSYNC_RUNNERS", "jobs run at once; 0 turns the job runner off; default 2",
     set_runners},
    {"--lease-seconds", "DBSYNC_LEASE_SECONDS",
     "a running job's lease, renewed by a heartbeat: a job whose dbsyncd died is resumed by "
     "another executor once it runs out; default 60",
     set_lease},
    {"--poll-seconds", "DBSYNC_POLL_SECONDS",
     "the job queue is polled this often besides LISTEN dbsync_jobs; default 5", set_poll},
};

// KEY=VALUE lines; # comments; optional "export "; values may be single- or double-quoted.
Result<std::map<std::string, std::string>> read_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return bad("cannot read the env file " + path);
  std::map<std::string, std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      return bad(path + ":" + std::to_string(n) + ": expected KEY=VALUE");
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    out[key] = value;
  }
  return out;
}

}  // namespace

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string usage() {
  std::string s =
      "Usage: dbsyncd [options]\n"
      "\n"
      "The HTTP API of dbsync. Its state is the master's catalog (schema dbsync of the\n"
      "extension): it needs DATABASE_URL and the extension installed there, and exits with\n"
      "status 1 when the master is unreachable at start or lacks the extension (a supervisor\n"
      "restarts it). A missing or wrong setting exits with status 2.\n"
      "\n"
      "Each option may also come from the environment or from a .env file (KEY=VALUE lines):\n"
      "flags win over the environment, the environment over the .env file.\n"
      "\n";
  for (const Setting& st : kSettings) {
    std::string left = std::string("  ") + st.flag + "=V";
    left += std::string(left.size() < 24 ? 24 - left.size() : 1, ' ');
    s += left + st.env + ": " + st.help + "\n";
  }
  s += "  --env-file=PATH         the .env file (default ./.env when it exists)\n"
       "  -h, --help              this text\n"
       "\n"
       "Tokens are shown once: the first API token (DBSYNC_ADMIN_TOKEN, or generated and\n"
       "printed on stdout when the catalog has none) and each token created with\n"
       "POST /api/tokens. Bind to 127.0.0.1 (the default) and put a TLS reverse proxy in\n"
       "front for exposure.\n";
  return s;
}

Result<ParseOutcome> parse_config(const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& env, Config& out) {
  std::map<std::string, std::string> flags;  // env name -> value
  std::optional<std::string> env_file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return ParseOutcome::kHelp;
    std::string name = a, value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (!has_value) {
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
        if (name == "--env-file" || std::any_of(std::begin(kSettings), std::end(kSettings),
                                                [&](const Setting& st) { return name == st.flag; }))
          return bad("option " + name + " needs a value");
        return bad("unknown option " + name + " (see dbsyncd --help)");
      }
      value = args[++i];
    }
    if (name == "--env-file") {
      env_file = value;
      continue;
    }
    const Setting* found = nullptr;
    for (const Setting& st : kSettings)
      if (name == st.flag) found = &st;
    if (!found) return bad("unknown option " + name + " (see dbsyncd --help)");
    flags[found->env] = value;
  }

  std::map<std::string, std::string> file;
  if (env_file) {
    DBSYNC_ASSIGN_OR_RETURN(file, read_env_file(*env_file));
  } else if (std::ifstream(".env").good()) {
    DBSYNC_ASSIGN_OR_RETURN(file, read_env_file(".env"));
  }

  Config c;
  for (const Setting& st : kSettings) {
    const std::string* v = nullptr;
    if (auto f = flags.find(st.env); f != flags.end()) {
      v = &f->second;
    } else if (auto e = env.find(st.env); e != env.end() && !e->second.empty()) {
      v = &e->second;
    } else if (auto d = file.find(st.env); d != file.end() && !d->second.empty()) {
      v = &d->second;
    }
    if (!v) continue;
    Status s = st.apply(*v, c);
    if (!s.is_ok()) return s;
  }
  if (c.database_url.empty())
    return bad(
        "DATABASE_URL is not set (the master PostgreSQL; --database-url or the environment)");
  out = std::move(c);
  return ParseOutcome::kRun;
}

}  // namespace dbsync::daemon
