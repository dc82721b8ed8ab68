#include "daemon/api/api_server.hpp"

#include <algorithm>

namespace dbsync::daemon {

ApiServer::ApiServer(const Config& config, catalog::Pool& pool, ServerOptions options) {
  if (!config.secret_key_hex.empty())
    if (Result<secrets::Key> k = secrets::parse_key(config.secret_key_hex); k.is_ok())
      secret_key_ = *k;
  const secrets::Key* key = secret_key_ ? &*secret_key_ : nullptr;
  redis_conflicts_ = std::make_unique<RedisConflicts>(config.database_url, key);
  // Each open event stream holds a pool thread. Derived limit: a share of --workers, the rest
  // left to ordinary requests; an explicit limit gets threads of its own on top of --workers.
  int threads = config.workers;
  int sse_max = options.sse_max_subscribers;
  if (sse_max < 0) {
    sse_max = threads - std::max(2, threads / 4);
  } else {
    threads += sse_max;
  }
  hub_ = std::make_unique<JobEventHub>(pool, sse_max, options.sse_tick);
  hub_->start();
  services_.reset(
      new api::Services{config, metrics_, *hub_, *redis_conflicts_, key, options.sse_heartbeat});
  api::add_all_routes(router_, *services_);
  http_ = std::make_unique<HttpServer>(
      HttpOptions{config.listen_host, config.listen_port, threads, config.keep_alive_seconds,
                  config.max_body_bytes, config.cors_origins},
      router_, pool, metrics_);
}

ApiServer::~ApiServer() { hub_->stop(); }

int ApiServer::bind(std::string& error) { return http_->bind(error); }
bool ApiServer::listen() { return http_->listen(); }

void ApiServer::stop() {
  hub_->stop();  // event streams end first: each holds a pool thread that stop() waits for
  http_->stop();
}

}  // namespace dbsync::daemon
