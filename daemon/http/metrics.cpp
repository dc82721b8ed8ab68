#include "daemon/http/metrics.hpp"

#include <cstdio>

namespace dbsync::daemon {

std::string prom_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void HttpMetrics::observe(const std::string& route, const std::string& method, int status,
                          double seconds, bool timed) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, method, status}];
  if (!timed) return;
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.le[i];
  ++h.count;
  h.sum += seconds;
}

std::string HttpMetrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP dbsync_http_requests_total HTTP requests served, by route, method and status.\n";
  out += "# TYPE dbsync_http_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    const auto& [route, method, status] = k;
    out += "dbsync_http_requests_total{route=\"" + prom_label(route) + "\",method=\"" +
           prom_label(method) + "\",status=\"" + std::to_string(status) + "\"} " +
           std::to_string(n) + "\n";
  }
  out += "# HELP dbsync_http_request_duration_seconds Latency of HTTP requests, by route.\n";
  out += "# TYPE dbsync_http_request_duration_seconds histogram\n";
  char num[64];
  for (const auto& [route, h] : latency_) {
    std::string r = prom_label(route);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(num, sizeof num, "%g", kBuckets[i]);
      out += "dbsync_http_request_duration_seconds_bucket{route=\"" + r + "\",le=\"" + num +
             "\"} " + std::to_string(h.le[i]) + "\n";
    }
    out += "dbsync_http_request_duration_seconds_bucket{route=\"" + r + "\",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    std::snprintf(num, sizeof num, "%.6f", h.sum);
    out += "dbsync_http_request_duration_seconds_sum{route=\"" + r + "\"} " + num + "\n";
    out += "dbsync_http_request_duration_seconds_count{route=\"" + r + "\"} " +
           std::to_string(h.count) + "\n";
  }
  return out;
}

}  // namespace dbsync::daemon
