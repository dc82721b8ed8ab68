// GET /healthz (the master and its extension) and GET /metrics (Prometheus text format).
#include "daemon/api/api.hpp"
#include "daemon/catalog/jobs.hpp"
#include "daemon/catalog/settings.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

Reply healthz(Request& req) {
  auto db = req.db();
  if (!db.ok())
    return Reply::error(
        {503, "unavailable", "the master is unreachable: " + db.error().message, json::object()});
  auto ext = catalog::dbsync_extension(*db.value());
  if (!ext.is_ok())
    return Reply::error({503, "unavailable", "the master does not answer: " + ext.failure().message,
                         json::object()});
  if (!ext.value())
    return Reply::error({503, "unavailable", "the dbsync extension is not installed in the master",
                         json::object()});
  return Reply::json(200,
                     {{"status", "ok"}, {"master", "ok"}, {"extension", ext.value()->version}});
}

void gauge(std::string& out, const char* name, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
}

Reply metrics(Request& req, Services& s) {
  std::string out;
  std::optional<catalog::CatalogGauges> g;
  if (auto db = req.db(); db.ok())
    if (auto r = catalog::catalog_gauges(*db.value()); r.is_ok()) g = std::move(r).value();
  gauge(out, "dbsync_master_up", "Whether the master answered this scrape.");
  out += std::string("dbsync_master_up ") + (g ? "1" : "0") + "\n";
  if (g) {
    gauge(out, "dbsync_jobs", "Jobs in the catalog, by status.");
    for (const auto& [status, n] : g->jobs_by_status)
      out += "dbsync_jobs{status=\"" + prom_label(status) + "\"} " + n + "\n";
    if (g->conflicts_pending) {
      gauge(out, "dbsync_conflicts_pending", "Conflicts waiting for a decision.");
      out += "dbsync_conflicts_pending " + *g->conflicts_pending + "\n";
    }
    if (!g->rows_applied.empty()) {
      // Sums over the jobs the catalog keeps (deleting old jobs lowers them).
      gauge(out, "dbsync_rows_applied",
            "Rows written by the jobs in the catalog, by operation and side (target; source for "
            "two-way syncs).");
      const char* ops[] = {"insert", "update", "delete"};
      for (int i = 0; i < 6; ++i)
        out += std::string("dbsync_rows_applied{operation=\"") + ops[i % 3] + "\",side=\"" +
               (i < 3 ? "target" : "source") + "\"} " + g->rows_applied[i] + "\n";
    }
  }
  gauge(out, "dbsync_sse_subscribers", "Open /api/jobs/{id}/events streams.");
  out += "dbsync_sse_subscribers " + std::to_string(s.hub.subscribers()) + "\n";
  gauge(out, "dbsync_sse_max_subscribers", "The most event streams open at once (beyond: 503).");
  out += "dbsync_sse_max_subscribers " + std::to_string(s.hub.max_subscribers()) + "\n";
  out +=
      "# HELP dbsync_sse_polls_total Catalog polls of the event hub (one per tick for all "
      "streams).\n";
  out += "# TYPE dbsync_sse_polls_total counter\n";
  out += "dbsync_sse_polls_total " + std::to_string(s.hub.polls()) + "\n";
  out += s.metrics.render();
  return Reply::plain("text/plain; version=0.0.4", out);
}

}  // namespace

void add_health_routes(Router& r, Services& s) {
  r.add("GET", "/healthz", {}, healthz).doc =
      doc::op("Liveness: the master answers and has the extension", "200", doc::obj(), false);
  r.add("GET", "/metrics", {}, [&s](Request& req) { return metrics(req, s); }).doc =
      doc::op("Prometheus metrics (text)", "200", nullptr, false);
}

}  // namespace dbsync::daemon::api
