// dbsync-run CONFIG.json: runs one sync between two PostgreSQL tables, described by a JSON
// file, with the baseline and the stage in PostgreSQL tables. For the demo, benchmarks and
// scripts. Linear: parse arguments -> load the config -> open the ends -> run -> report.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/pg_state.hpp"
#include "adapters/postgres/pg_table.hpp"
#include "engine/field_mapper.hpp"
#include "engine/sync_executor.hpp"

namespace {

using namespace dbsync;
using nlohmann::json;

constexpr int kExitSucceeded = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitAwaiting = 3;
constexpr int kExitCancelled = 130;

constexpr const char* kHelp = R"(usage: dbsync-run CONFIG.json
       dbsync-run --help

Runs one sync (a job) between two PostgreSQL tables and prints a JSON summary on stdout;
progress goes to stderr. The config is a JSON object:

  {
    "name": "products",                  sync name: the baseline's key and the stage's job id
    "source": {"url": "postgresql://user:pw@host:5432/db", "table": "public.products"},
    "target": {"url": "host=... dbname=...",               "table": "public.wp_products"},
    "state_url": "...",                  where dbsync_state / dbsync_stage live (default: source url)
    "state_schema": "public",            schema of those tables (created when missing)
    "mapping": {"post_title": "title", "price": "@price",
                "status": {"source": "status", "transform": "default:draft"},
                "id": {"source": "id", "key": true}},
                                         target column -> rule; absent: same-named columns
    "source_key": ["id"], "target_key": ["id"],   optional; default: from the mapping / primary key
    "direction": "one_way",              one_way | two_way
    "strategy": "source_wins",           source_wins | target_wins | merge | manual
    "merge_fallback": "manual",          source | target | manual (strategy merge)
    "manual_mode": "hold_all",           hold_all | apply_clean
    "delete_policy": "propagate",        propagate | ignore | soft:<column>
    "batch_size": 1000,
    "max_row_errors": -1,                fail the job past this many rows that cannot be mapped
    "connect_timeout": 10,               seconds
    "create_target": false               create the target table when missing, from the mapped
                                         columns' source types and the key
  }

An empty url means libpq's defaults (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD...).
Table names follow PostgreSQL rules: public.products, "Mixed Case", sales."Q1".
Each run is a new job: a stage left by an earlier run of the same sync is cleared first.

Exit status: 0 succeeded, 3 awaiting_resolution (conflicts wait in the stage), 1 failed,
2 bad config or usage, 130 cancelled by SIGINT/SIGTERM (the summary shows the checkpoint).
)";

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

struct Endpoint {
  std::string url;
  std::string table;
};

struct Config {
  std::string name;
  Endpoint source, target;
  std::string state_url;
  std::string state_schema = "public";
  MappingSpec mapping;
  SyncPolicy policy;
  size_t batch_size = 1000;
  int64_t max_row_errors = -1;
  int connect_timeout = 10;
  bool create_target = false;
};

Status bad(const std::string& field, const std::string& why) {
  return error(ErrorCode::kInvalidArgument, "config: " + field + ": " + why);
}

Result<std::string> get_string(const json& doc, const char* key, bool required,
                               std::string fallback = {}) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    if (required) return bad(key, "missing");
    return fallback;
  }
  if (!it->is_string()) return bad(key, "must be a string");
  return it->get<std::string>();
}

Result<Endpoint> get_endpoint(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_object())
    return bad(key, "missing (an object with \"url\" and \"table\")");
  Endpoint e;
  auto url = it->find("url");
  if (url != it->end() && !url->is_null()) {
    if (!url->is_string()) return bad(std::string(key) + ".url", "must be a string");
    e.url = url->get<std::string>();
  }
  auto table = it->find("table");
  if (table == it->end() || !table->is_string() || table->get<std::string>().empty())
    return bad(std::string(key) + ".table", "missing");
  e.table = table->get<std::string>();
  DBSYNC_RETURN_IF_ERROR(pg::QualifiedName::parse(e.table).status().with_context(
      std::string("config: ") + key + ".table"));
  return e;
}

Result<std::vector<std::string>> get_names(const json& doc, const char* key) {
  std::vector<std::string> out;
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return out;
  if (!it->is_array()) return bad(key, "must be an array of column names");
  for (const json& v : *it) {
    if (!v.is_string()) return bad(key, "must be an array of column names");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<Config> parse_config(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return error(ErrorCode::kInvalidArgument, "config: not valid JSON");
  if (!doc.is_object()) return error(ErrorCode::kInvalidArgument, "config: must be a JSON object");
  Config c;
  DBSYNC_ASSIGN_OR_RETURN(c.name, get_string(doc, "name", true));
  if (c.name.empty()) return bad("name", "must not be empty");
  DBSYNC_ASSIGN_OR_RETURN(c.source, get_endpoint(doc, "source"));
  DBSYNC_ASSIGN_OR_RETURN(c.target, get_endpoint(doc, "target"));
  DBSYNC_ASSIGN_OR_RETURN(c.state_url, get_string(doc, "state_url", false, c.source.url));
  DBSYNC_ASSIGN_OR_RETURN(c.state_schema, get_string(doc, "state_schema", false, "public"));

  std::string mapping_text = "null";
  if (auto it = doc.find("mapping"); it != doc.end()) {
    if (!it->is_object() && !it->is_null())
      return bad("mapping", "must be an object: target column -> rule");
    mapping_text = it->dump();
  }
  Result<MappingSpec> spec = parse_mapping_json(mapping_text);
  if (!spec.is_ok()) return spec.status().with_context("config: mapping");
  c.mapping = std::move(spec).value();
  DBSYNC_ASSIGN_OR_RETURN(std::vector<std::string> source_key, get_names(doc, "source_key"));
  DBSYNC_ASSIGN_OR_RETURN(std::vector<std::string> target_key, get_names(doc, "target_key"));
  if (!source_key.empty()) c.mapping.source_key = source_key;
  if (!target_key.empty()) c.mapping.target_key = target_key;

  DBSYNC_ASSIGN_OR_RETURN(std::string direction, get_string(doc, "direction", false, "one_way"));
  Result<Direction> d = parse_direction(direction);
  if (!d.is_ok()) return d.status().with_context("config: direction");
  c.policy.direction = *d;
  DBSYNC_ASSIGN_OR_RETURN(std::string strategy, get_string(doc, "strategy", false, "source_wins"));
  Result<Strategy> s = parse_strategy(strategy);
  if (!s.is_ok()) return s.status().with_context("config: strategy");
  if (*s == Strategy::kWebhook) return bad("strategy", "webhook needs the daemon (dbsyncd)");
  c.policy.strategy = *s;
  DBSYNC_ASSIGN_OR_RETURN(std::string fallback, get_string(doc, "merge_fallback", false, "manual"));
  Result<MergeFallback> f = parse_merge_fallback(fallback);
  if (!f.is_ok()) return f.status().with_context("config: merge_fallback");
  c.policy.merge_fallback = *f;
  DBSYNC_ASSIGN_OR_RETURN(std::string manual_mode,
                          get_string(doc, "manual_mode", false, "hold_all"));
  Result<ManualMode> mm = parse_manual_mode(manual_mode);
  if (!mm.is_ok()) return mm.status().with_context("config: manual_mode");
  c.policy.manual_mode = *mm;
  DBSYNC_ASSIGN_OR_RETURN(std::string deletes,
                          get_string(doc, "delete_policy", false, "propagate"));
  DBSYNC_RETURN_IF_ERROR(
      parse_delete_policy(deletes, c.policy).with_context("config: delete_policy"));

  if (auto it = doc.find("batch_size"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1000000)
      return bad("batch_size", "must be an integer from 1 to 1000000");
    c.batch_size = static_cast<size_t>(it->get<int64_t>());
  }
  if (auto it = doc.find("max_row_errors"); it != doc.end()) {
    if (!it->is_number_integer()) return bad("max_row_errors", "must be an integer (-1: no limit)");
    c.max_row_errors = it->get<int64_t>();
  }
  if (auto it = doc.find("connect_timeout"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 3600)
      return bad("connect_timeout", "must be a number of seconds from 1 to 3600");
    c.connect_timeout = static_cast<int>(it->get<int64_t>());
  }
  if (auto it = doc.find("create_target"); it != doc.end()) {
    if (!it->is_boolean()) return bad("create_target", "must be true or false");
    c.create_target = it->get<bool>();
  }
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(ErrorCode::kInvalidArgument, "cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str());
}

// The source column a mapping rule copies, or empty when it computes something.
std::string plain_source(const MappingRule& r, const Schema& source) {
  if (!r.source_column.empty()) return r.transform.empty() ? r.source_column : std::string();
  std::string e = r.expression;
  if (!e.empty() && e[0] == '@') e.erase(0, 1);
  return source.index_of(e) >= 0 ? e : std::string();
}

// CREATE TABLE for a missing target: the mapped columns with their source columns' types
// (text for computed ones), NOT NULL and PRIMARY KEY on the key.
Status create_target_table(pg::PgConnection& conn, const pg::QualifiedName& name,
                           const MappingSpec& spec, const Schema& source) {
  struct Col {
    std::string name, type;
    std::string from;  // the source column it copies, empty when computed
    bool marked_key = false;
  };
  std::vector<Col> cols;
  if (spec.rules.empty()) {
    for (const Column& c : source.columns) cols.push_back({c.name, c.type.name, c.name, false});
  } else {
    for (const MappingRule& r : spec.rules) {
      if (r.skip) continue;
      std::string from = plain_source(r, source);
      std::string type = from.empty()
                             ? "text"
                             : source.columns[static_cast<size_t>(source.index_of(from))].type.name;
      cols.push_back({r.target_column, type, from, r.key});
    }
  }
  std::vector<std::string> key = spec.target_key;
  if (key.empty())
    for (const Col& c : cols)
      if (c.marked_key) key.push_back(c.name);
  if (key.empty()) {
    // The source key's columns, under the target names they are copied to, in key order.
    for (size_t k : source.key) {
      const std::string& src = source.columns[k].name;
      auto it = std::find_if(cols.begin(), cols.end(), [&](const Col& c) { return c.from == src; });
      key.push_back(it != cols.end() ? it->name : src);
    }
  }
  // Key columns the mapping does not mention but the source has under the same name.
  for (const std::string& k : key) {
    if (std::any_of(cols.begin(), cols.end(), [&](const Col& c) { return c.name == k; })) continue;
    int i = source.index_of(k);
    if (i < 0)
      return bad("create_target", "key column '" + k + "' is neither mapped nor a source column");
    cols.insert(cols.begin(), {k, source.columns[static_cast<size_t>(i)].type.name, k, true});
  }
  if (key.empty())
    return bad("create_target",
               "cannot tell the target's key: mark a rule with \"key\": true or give target_key");
  std::string sql = "CREATE TABLE " + name.quoted() + " (";
  for (size_t i = 0; i < cols.size(); ++i) {
    bool in_key = std::find(key.begin(), key.end(), cols[i].name) != key.end();
    // The type is the catalog's format_type text of the source column, not user input.
    sql += (i ? ", " : "") + pg::quote_ident(cols[i].name) + " " + cols[i].type +
           (in_key ? " NOT NULL" : "");
  }
  sql += ", PRIMARY KEY (";
  for (size_t i = 0; i < key.size(); ++i) sql += (i ? ", " : "") + pg::quote_ident(key[i]);
  sql += "))";
  Status st = conn.exec(sql);
  return st.is_ok() ? st : st.with_context("creating target table " + name.display());
}

std::string progress_line(const std::string& name, const Progress& p, double seconds) {
  char buf[256];
  double rate = seconds > 0 ? static_cast<double>(p.scanned) / seconds : 0;
  std::string total = p.total >= 0 ? std::to_string(p.total) : "?";
  std::snprintf(buf, sizeof buf,
                "%s: %s %lld/%s rows, +%lld ~%lld -%lld, %lld conflicts, %.0f rows/s", name.c_str(),
                p.phase.c_str(), static_cast<long long>(p.scanned), total.c_str(),
                static_cast<long long>(p.inserted), static_cast<long long>(p.updated),
                static_cast<long long>(p.deleted), static_cast<long long>(p.conflicts), rate);
  return buf;
}

json summary(const std::string& name, const char* state, const Progress& p, double seconds,
             const Status& err) {
  json j;
  j["name"] = name;
  j["state"] = state;
  j["phase"] = p.phase;
  j["total"] = p.total;
  j["scanned"] = p.scanned;
  j["inserted"] = p.inserted;
  j["updated"] = p.updated;
  j["deleted"] = p.deleted;
  j["source_inserted"] = p.source_inserted;
  j["source_updated"] = p.source_updated;
  j["source_deleted"] = p.source_deleted;
  j["unchanged"] = p.unchanged;
  j["conflicts"] = p.conflicts;
  j["conflicts_pending"] = p.conflicts_pending;
  j["errors"] = p.errors;
  j["seconds"] = seconds;
  j["rows_per_second"] = seconds > 0 ? static_cast<double>(p.scanned) / seconds : 0.0;
  j["checkpoint"] = p.checkpoint ? json(key_to_string(*p.checkpoint)) : json(nullptr);
  j["error"] = err.is_ok() ? json(nullptr) : json(err.to_string());
  return j;
}

void print_summary(const json& j) {
  std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
}

int fail(const std::string& name, const Status& st, double seconds = 0) {
  std::cerr << "dbsync-run: " << st.to_string() << "\n";
  print_summary(summary(name, "failed", Progress{}, seconds, st));
  return kExitFailed;
}

int run(const Config& cfg) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  // The ends. A missing target is created when asked to.
  Result<std::unique_ptr<pg::PgTable>> source =
      pg::PgTable::open(cfg.source.url, cfg.source.table, cfg.connect_timeout);
  if (!source.is_ok()) return fail(cfg.name, source.status().with_context("source"));
  Result<std::unique_ptr<pg::PgTable>> target =
      pg::PgTable::open(cfg.target.url, cfg.target.table, cfg.connect_timeout);
  if (!target.is_ok() && target.status().code() == ErrorCode::kNotFound && cfg.create_target) {
    Result<pg::PgConnection> conn = pg::PgConnection::connect(cfg.target.url, cfg.connect_timeout);
    if (!conn.is_ok()) return fail(cfg.name, conn.status().with_context("target"));
    Status st = create_target_table(*conn, *pg::QualifiedName::parse(cfg.target.table), cfg.mapping,
                                    (*source)->schema());
    if (!st.is_ok()) {
      std::cerr << "dbsync-run: " << st.to_string() << "\n";
      return st.code() == ErrorCode::kInvalidArgument ? kExitUsage : fail(cfg.name, st);
    }
    std::cerr << "dbsync-run: created target table " << cfg.target.table << "\n";
    target = pg::PgTable::open(cfg.target.url, cfg.target.table, cfg.connect_timeout);
  }
  if (!target.is_ok()) return fail(cfg.name, target.status().with_context("target"));

  Result<FieldMapper> mapper =
      FieldMapper::compile(cfg.mapping, (*source)->schema(), (*target)->schema());
  if (!mapper.is_ok()) {
    std::cerr << "dbsync-run: mapping " << cfg.source.table << " -> " << cfg.target.table << ": "
              << mapper.status().to_string() << "\n";
    return kExitUsage;
  }

  Result<pg::PgConnection> state = pg::PgConnection::connect(cfg.state_url, cfg.connect_timeout);
  if (!state.is_ok()) return fail(cfg.name, state.status().with_context("state database"));
  Result<std::unique_ptr<pg::PgBaseline>> baseline =
      pg::PgBaseline::open(*state, cfg.state_schema, cfg.name);
  if (!baseline.is_ok()) return fail(cfg.name, baseline.status());
  Result<std::unique_ptr<pg::PgStage>> stage =
      pg::PgStage::open(*state, cfg.state_schema, cfg.name);
  if (!stage.is_ok()) return fail(cfg.name, stage.status());
  if (Status st = (*stage)->clear(); !st.is_ok())
    return fail(cfg.name, st.with_context("clearing the stage"));

  SyncEndpoints ends;
  ends.source = source->get();
  ends.source_writer = source->get();
  ends.target = target->get();
  ends.baseline = baseline->get();
  ends.stage = stage->get();
  Result<SyncExecutor> executor = SyncExecutor::create(*mapper, cfg.policy, ends);
  if (!executor.is_ok()) {
    std::cerr << "dbsync-run: " << executor.status().to_string() << "\n";
    return kExitUsage;
  }

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  double last_report = -1;
  int64_t row_errors_shown = 0;
  JobOptions opt;
  opt.batch_size = cfg.batch_size;
  opt.max_row_errors = cfg.max_row_errors;
  opt.now_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  opt.cancelled = []() { return g_stop != 0; };
  opt.on_progress = [&](const Progress& p) {
    double now = elapsed();
    if (now - last_report < 0.5 && p.phase != "done") return;
    last_report = now;
    std::cerr << (tty ? "\r" : "") << progress_line(cfg.name, p, now) << (tty ? "\x1b[K" : "\n")
              << std::flush;
  };
  opt.on_row_error = [&](const Row& key, const Status& why) {
    if (row_errors_shown++ < 20)
      std::cerr << (tty ? "\n" : "") << "dbsync-run: row " << key_to_string(key) << ": "
                << why.to_string() << "\n";
  };

  JobOutcome outcome = executor->run(opt);
  const double seconds = elapsed();
  if (tty) std::cerr << "\n";
  print_summary(
      summary(cfg.name, job_state_name(outcome.state), outcome.progress, seconds, outcome.error));
  switch (outcome.state) {
    case JobState::kSucceeded:
      return kExitSucceeded;
    case JobState::kAwaitingResolution:
      return kExitAwaiting;
    case JobState::kCancelled:
      return kExitCancelled;
    case JobState::kFailed:
      break;
  }
  std::cerr << "dbsync-run: failed: " << outcome.error.to_string() << "\n";
  return kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
      std::cout << kHelp;
      return kExitSucceeded;
    }
    if (argc != 2 || std::string(argv[1]).empty()) {
      std::cerr << "usage: dbsync-run CONFIG.json   (--help describes the config)\n";
      return kExitUsage;
    }
    Result<Config> cfg = load_config(argv[1]);
    if (!cfg.is_ok()) {
      std::cerr << "dbsync-run: " << cfg.status().message() << "\n";
      return kExitUsage;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    return run(*cfg);
  } catch (const std::exception& e) {
    std::cerr << "dbsync-run: internal error: " << e.what() << "\n";
    return kExitFailed;
  } catch (...) {
    std::cerr << "dbsync-run: internal error\n";
    return kExitFailed;
  }
}
