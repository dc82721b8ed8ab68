// HTTP metrics for /metrics (Prometheus text format): requests by route, method and status,
// and a latency histogram per route. Routes are the patterns ("/api/datasources/{id}"), never
// raw paths, so the series stay few.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace dbsync::daemon {

class HttpMetrics {
 public:
  // `timed`: false for a streamed answer (its duration is the stream's, not the server's), which
  // is counted but kept out of the latency histogram.
  void observe(const std::string& route, const std::string& method, int status, double seconds,
               bool timed = true);
  // The dbsync_http_* series, Prometheus text format.
  std::string render() const;

 private:
  static constexpr std::array<double, 11> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5};
  struct Histogram {
    std::array<unsigned long long, kBuckets.size()> le{};
    unsigned long long count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, unsigned long long> requests_;
  std::map<std::string, Histogram> latency_;
};

// A label value escaped for the text format.
std::string prom_label(const std::string& v);

}  // namespace dbsync::daemon
