#include "adapters/redis/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <utility>

namespace dbsync::redis {
namespace {

// A write to a connection the server closed raises SIGPIPE, whose default action kills the
// process. hiredis uses write(), so the signal is blocked for this thread while a command runs
// and a SIGPIPE it caused is consumed before the mask is restored.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    pending_before_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    if (!pending_before_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        (void)sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool pending_before_ = false;
  bool blocked_ = false;
};

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() <= 0) ms = std::chrono::milliseconds(1);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Status url_error(const std::string& why) {
  return error(ErrorCode::kInvalidArgument,
               "redis URL: " + why + " (expected redis://[:password@]host[:port][/db])");
}

Result<std::string> percent_decode(std::string_view s, const char* what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= s.size()) return url_error(std::string("bad %-escape in the ") + what);
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return url_error(std::string("bad %-escape in the ") + what);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// Digits only, within [lo, hi].
std::optional<int> parse_number(std::string_view s, int lo, int hi) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// The first word of an error reply ("WRONGPASS invalid username-password pair").
std::string_view error_prefix(std::string_view msg) {
  size_t sp = msg.find(' ');
  return sp == std::string_view::npos ? msg : msg.substr(0, sp);
}

}  // namespace

std::string redis_url_with_masked_password(std::string_view url) {
  // As parse_redis_url reads it: the last '@' ends the userinfo, its first ':' starts the
  // password.
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < scheme + 3) return std::string(url);
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "********" + std::string(url.substr(at));
}

Result<RedisUrl> parse_redis_url(std::string_view url) {
  if (url.empty()) return url_error("empty");
  constexpr std::string_view kScheme = "redis://";
  if (url.starts_with("rediss://"))
    return url_error(
        "rediss:// (TLS) is not supported: this build's hiredis has no TLS; use redis:// on a "
        "trusted network or a TLS tunnel");
  if (!url.starts_with(kScheme)) {
    size_t colon = url.find("://");
    if (colon != std::string_view::npos)
      return url_error("unsupported scheme \"" + std::string(url.substr(0, colon)) + "\"");
    return url_error("missing the redis:// scheme");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos)
    return url_error("query parameters and fragments are not supported");
  RedisUrl out;
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos)
      return url_error(
          "the part before '@' needs a ':' (redis://:password@host or "
          "redis://user:password@host)");
    if (colon > 0) {
      DBSYNC_ASSIGN_OR_RETURN(std::string user, percent_decode(userinfo.substr(0, colon), "user"));
      out.user = std::move(user);
    }
    DBSYNC_ASSIGN_OR_RETURN(std::string pass,
                            percent_decode(userinfo.substr(colon + 1), "password"));
    if (pass.empty()) return url_error("empty password after ':'");
    out.password = std::move(pass);
  }
  std::string_view hostport = rest, db;
  size_t slash = rest.find('/');
  bool has_db = slash != std::string_view::npos;
  if (has_db) {
    hostport = rest.substr(0, slash);
    db = rest.substr(slash + 1);
  }
  std::string_view host, port;
  bool has_port = false;
  if (hostport.starts_with('[')) {  // [IPv6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return url_error("unclosed '[' in the host");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return url_error("unexpected text after ']'");
      has_port = true;
      port = after.substr(1);
    }
    for (char c : host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return url_error("bad IPv6 address \"" + std::string(host) + "\"");
  } else {
    size_t colon = hostport.find(':');
    host = hostport.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = hostport.substr(colon + 1);
    }
    for (char c : host)
      if (!host_char(c))
        return url_error("bad character in the host \"" + std::string(host) + "\"");
  }
  if (host.empty()) return url_error("missing host");
  out.host = std::string(host);
  if (has_port) {
    std::optional<int> p = parse_number(port, 1, 65535);
    if (!p) return url_error("bad port \"" + std::string(port) + "\" (1 to 65535)");
    out.port = *p;
  }
  if (has_db && !db.empty()) {
    std::optional<int> d = parse_number(db, 0, 1 << 20);
    if (!d) return url_error("bad database number \"" + std::string(db) + "\"");
    out.db = *d;
  }
  return out;
}

// ---- RedisReply ----

RedisReply::RedisReply(redisReply* r) : reply_(r) {}
void RedisReply::Free::operator()(redisReply* r) const { freeReplyObject(r); }

bool RedisReply::is_nil() const { return !reply_ || reply_->type == REDIS_REPLY_NIL; }
bool RedisReply::is_error() const { return reply_ && reply_->type == REDIS_REPLY_ERROR; }
bool RedisReply::is_array() const { return reply_ && reply_->type == REDIS_REPLY_ARRAY; }
bool RedisReply::is_integer() const { return reply_ && reply_->type == REDIS_REPLY_INTEGER; }
bool RedisReply::is_string() const {
  return reply_ && (reply_->type == REDIS_REPLY_STRING || reply_->type == REDIS_REPLY_STATUS);
}
std::string_view RedisReply::str() const {
  if (!reply_) return {};
  if (reply_->type == REDIS_REPLY_STRING || reply_->type == REDIS_REPLY_STATUS ||
      reply_->type == REDIS_REPLY_ERROR)
    return {reply_->str, reply_->len};
  return {};
}
long long RedisReply::integer() const { return is_integer() ? reply_->integer : 0; }
size_t RedisReply::size() const { return is_array() ? reply_->elements : 0; }
const redisReply* RedisReply::element(size_t i) const {
  return i < size() ? reply_->element[i] : nullptr;
}
const char* RedisReply::type_name() const {
  if (!reply_) return "no reply";
  switch (reply_->type) {
    case REDIS_REPLY_STRING:
      return "string";
    case REDIS_REPLY_ARRAY:
      return "array";
    case REDIS_REPLY_INTEGER:
      return "integer";
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "status";
    case REDIS_REPLY_ERROR:
      return "error";
    default:
      return "unknown";
  }
}

std::optional<std::string_view> element_string(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return std::nullopt;
  return std::string_view(r->str, r->len);
}

std::optional<long long> element_integer(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_INTEGER) return std::nullopt;
  return r->integer;
}

// ---- RedisConnection ----

Result<RedisConnection> RedisConnection::connect(std::string_view url,
                                                 const std::optional<std::string>& password,
                                                 RedisOptions options) {
  DBSYNC_ASSIGN_OR_RETURN(RedisUrl parsed, parse_redis_url(url));
  if (password && !password->empty()) parsed.password = *password;
  RedisConnection c;
  c.url_ = std::move(parsed);
  c.options_ = options;
  c.endpoint_ =
      (c.url_.host.find(':') != std::string::npos ? "[" + c.url_.host + "]" : c.url_.host) + ":" +
      std::to_string(c.url_.port);
  DBSYNC_RETURN_IF_ERROR(c.open());
  return c;
}

RedisConnection::RedisConnection(RedisConnection&& o) noexcept
    : url_(std::move(o.url_)),
      options_(o.options_),
      endpoint_(std::move(o.endpoint_)),
      ctx_(std::exchange(o.ctx_, nullptr)) {}

RedisConnection& RedisConnection::operator=(RedisConnection&& o) noexcept {
  if (this != &o) {
    drop();
    url_ = std::move(o.url_);
    options_ = o.options_;
    endpoint_ = std::move(o.endpoint_);
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}

RedisConnection::~RedisConnection() { drop(); }

void RedisConnection::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisConnection::io_error(std::string_view what) {
  std::string why = "connection lost";
  if (ctx_ && ctx_->err) {
    why = ctx_->errstr;
    if (ctx_->err == REDIS_ERR_IO && (why.find("temporarily unavailable") != std::string::npos ||
                                      why.find("timed out") != std::string::npos))
      why = "timed out (no answer within " + std::to_string(options_.command_timeout.count()) +
            " ms)";
  }
  drop();  // a broken context is never reused: the next command reconnects
  return error(ErrorCode::kUnavailable,
               "redis " + endpoint_ + ": " + std::string(what) + " failed: " + why);
}

Status RedisConnection::reply_error(std::string_view what, std::string_view msg) const {
  std::string_view prefix = error_prefix(msg);
  ErrorCode code = ErrorCode::kInternal;
  if (prefix == "LOADING" || prefix == "BUSY" || prefix == "MASTERDOWN" || prefix == "TRYAGAIN" ||
      prefix == "CLUSTERDOWN" || prefix == "READONLY" || prefix == "OOM")
    code = ErrorCode::kUnavailable;
  else if (prefix == "NOAUTH" || prefix == "WRONGPASS" || prefix == "NOPERM")
    code = ErrorCode::kInvalidArgument;
  return error(code,
               "redis " + endpoint_ + ": " + std::string(what) + " failed: " + std::string(msg));
}

Status RedisConnection::open() {
  drop();
  ctx_ =
      redisConnectWithTimeout(url_.host.c_str(), url_.port, to_timeval(options_.connect_timeout));
  if (!ctx_) return error(ErrorCode::kInternal, "redis " + endpoint_ + ": out of memory");
  if (ctx_->err) {
    std::string why = ctx_->errstr;
    drop();
    return error(ErrorCode::kUnavailable, "redis " + endpoint_ + ": cannot connect: " + why);
  }
  if (redisSetTimeout(ctx_, to_timeval(options_.command_timeout)) != REDIS_OK)
    return io_error("setting the command timeout");
  auto run = [&](const std::vector<std::string_view>& args, const char* what) -> Status {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    SigpipeGuard guard;
    RedisReply r(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r.raw()) return io_error(what);
    if (r.is_error()) {
      Status st = reply_error(what, r.str());
      drop();
      // A refused password or database is a setting to fix, not a server to wait for.
      if (st.code() == ErrorCode::kInternal)
        return error(ErrorCode::kInvalidArgument, st.message());
      return st;
    }
    return Status::ok();
  };
  if (url_.password) {
    if (url_.user)
      DBSYNC_RETURN_IF_ERROR(run({"AUTH", *url_.user, *url_.password}, "AUTH"));
    else
      DBSYNC_RETURN_IF_ERROR(run({"AUTH", *url_.password}, "AUTH"));
  }
  if (url_.db != 0) {
    std::string db = std::to_string(url_.db);
    DBSYNC_RETURN_IF_ERROR(run({"SELECT", db}, ("SELECT " + db).c_str()));
  }
  return Status::ok();
}

Status RedisConnection::ensure_connected() {
  if (ctx_) return Status::ok();
  if (endpoint_.empty()) return error(ErrorCode::kInternal, "redis: connection not configured");
  return open();
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string_view>& args) {
  if (args.empty()) return error(ErrorCode::kInternal, "redis: empty command");
  DBSYNC_RETURN_IF_ERROR(ensure_connected());
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  SigpipeGuard guard;
  RedisReply r(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r.raw()) return io_error(args[0]);
  if (r.is_error()) return reply_error(args[0], r.str());
  return r;
}

Result<std::vector<RedisReply>> RedisConnection::pipeline(
    const std::vector<std::vector<std::string_view>>& cmds) {
  std::vector<RedisReply> out;
  if (cmds.empty()) return out;
  DBSYNC_RETURN_IF_ERROR(ensure_connected());
  SigpipeGuard guard;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : cmds) {
    if (args.empty()) return error(ErrorCode::kInternal, "redis: empty command in a pipeline");
    argv.clear();
    lens.clear();
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK)
      return io_error(cmds.front()[0]);
  }
  out.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(ctx_, &reply) != REDIS_OK || !reply) {
      if (reply) freeReplyObject(reply);
      return io_error(cmds[i][0]);
    }
    out.emplace_back(static_cast<redisReply*>(reply));
  }
  return out;
}

Status RedisConnection::ping() {
  DBSYNC_ASSIGN_OR_RETURN(RedisReply r, command({"PING"}));
  if (r.str() != "PONG")
    return error(ErrorCode::kInternal, "redis " + endpoint_ + ": PING answered " +
                                           std::string(r.type_name()) + " \"" +
                                           std::string(r.str()) + "\", not PONG");
  return Status::ok();
}

Status check_redis(const std::string& url, const std::optional<std::string>& password) {
  RedisOptions options;
  options.connect_timeout = std::chrono::milliseconds(1500);
  options.command_timeout = std::chrono::milliseconds(1500);
  Result<RedisConnection> c = RedisConnection::connect(url, password, options);
  if (!c.is_ok()) return c.status();
  return c->ping();
}

}  // namespace dbsync::redis
