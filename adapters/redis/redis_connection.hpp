// A connection to one Redis server (hiredis 0.14, blocking, with connect and command timeouts).
// Every failure is a Status naming host:port and what failed; a server that cannot be reached,
// a dropped connection or a timeout is ErrorCode::kUnavailable (retry later). After such a
// failure the context is dropped and the next command reconnects (AUTH, SELECT again); the
// failed command itself is never re-sent, because its effect is unknown.
// Like a hiredis context, a connection belongs to one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"

struct redisContext;
struct redisReply;

namespace dbsync::redis {

// redis://[[user]:password@]host[:port][/db]; the password may be percent-encoded.
struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::optional<std::string> user;
  std::optional<std::string> password;
};
Result<RedisUrl> parse_redis_url(std::string_view url);
// The URL with its password (if any) replaced by "********", the user kept: for storing a URL
// whose password is kept elsewhere (a password passed to connect() wins over the URL's).
std::string redis_url_with_masked_password(std::string_view url);

struct RedisOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
};

// One reply (owned). Accessors check the type, so an unexpected reply is a Status, not a crash.
class RedisReply {
 public:
  RedisReply() = default;
  explicit RedisReply(redisReply* r);
  RedisReply(RedisReply&&) noexcept = default;
  RedisReply& operator=(RedisReply&&) noexcept = default;

  bool is_nil() const;
  bool is_error() const;
  bool is_array() const;
  bool is_integer() const;
  bool is_string() const;        // a bulk string or a status ("OK", "QUEUED")
  std::string_view str() const;  // string, status or error text; empty otherwise
  long long integer() const;     // 0 unless an integer
  size_t size() const;           // elements of an array
  // Element i of an array (a view into this reply, valid while it lives).
  const redisReply* element(size_t i) const;
  const redisReply* raw() const { return reply_.get(); }
  const char* type_name() const;

 private:
  struct Free {
    void operator()(redisReply* r) const;
  };
  std::unique_ptr<redisReply, Free> reply_;
};

// The text of a raw element (string or status), or nullopt for any other type.
std::optional<std::string_view> element_string(const redisReply* r);
// The value of a raw integer element, or nullopt for any other type.
std::optional<long long> element_integer(const redisReply* r);

class RedisConnection {
 public:
  // Parses the URL and connects. `password` (when set) wins over one in the URL.
  static Result<RedisConnection> connect(std::string_view url,
                                         const std::optional<std::string>& password = std::nullopt,
                                         RedisOptions options = {});

  RedisConnection() = default;
  RedisConnection(RedisConnection&&) noexcept;
  RedisConnection& operator=(RedisConnection&&) noexcept;
  ~RedisConnection();

  // One command, its arguments binary-safe. A reply of type error becomes a failed Status
  // (LOADING, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, READONLY, OOM: kUnavailable, retry
  // later; NOAUTH, WRONGPASS, NOPERM: kInvalidArgument; anything else kInternal), so a
  // returned reply is never an error.
  Result<RedisReply> command(const std::vector<std::string_view>& args);
  // Several commands sent at once, their replies in order. An I/O failure fails the whole call;
  // error replies are returned as they are (MULTI/EXEC needs to see them).
  Result<std::vector<RedisReply>> pipeline(const std::vector<std::vector<std::string_view>>& cmds);

  Status ping();
  // Connects again now if the last command broke the connection (commands do it on demand).
  Status ensure_connected();
  bool is_connected() const { return ctx_ != nullptr; }
  // "host:port", for messages.
  const std::string& endpoint() const { return endpoint_; }
  // The Status of an error reply (or error text) to `what`, classified as command() does.
  Status reply_error(std::string_view what, std::string_view message) const;

 private:
  Status open();
  void drop();
  // The Status of a failed hiredis call (context error), then drops the context.
  Status io_error(std::string_view what);

  RedisUrl url_;
  RedisOptions options_;
  std::string endpoint_;
  redisContext* ctx_ = nullptr;
};

// PING with a short timeout (the settings endpoint's check). Ok, or why not.
Status check_redis(const std::string& url, const std::optional<std::string>& password);

}  // namespace dbsync::redis
