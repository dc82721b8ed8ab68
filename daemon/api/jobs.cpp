// Jobs: start one (POST /api/sync/{configId}), its status, the job list, and live progress as
// server-sent events (one hub polls the catalog for every stream, daemon/events.hpp).
#include <set>

#include "daemon/api/api.hpp"
#include "daemon/catalog/jobs.hpp"

namespace dbsync::daemon::api {

using nlohmann::json;

namespace {

const std::set<std::string> kJobStatuses = {
    "queued", "running", "awaiting_resolution", "committing", "succeeded", "failed", "cancelled"};

Reply start(Request& req) {
  API_DO(parse_body(req.http.body, {}));
  TRY(db, req.db());
  return queued_job_reply(*db, req, "api", "api:" + (req.who ? req.who->name : std::string("?")));
}

Reply status(Request& req) {
  TRY(db, req.db());
  TRY(row, from_db(catalog::job_status(*db, req.id("jobId"))));
  if (!row) return Reply::error(not_found("job", req.param("jobId")));
  return Reply::json(200, std::move(*row));
}

Reply list(Request& req) {
  API_CHECK(check_params(req.http, {"limit", "before", "status", "sync"}));
  catalog::JobFilter f;
  TRY(limit, limit_param(req.http, 50, 500));
  TRY(before, id_query(req.http, "before"));
  f.limit = limit;
  f.before = before;
  if (req.http.has_param("status")) {
    f.status = req.http.get_param_value("status");
    if (!kJobStatuses.count(*f.status))
      return Reply::error(bad_field(422, "invalid_value", "status",
                                    "status must be one of queued, running, awaiting_resolution, "
                                    "committing, succeeded, failed, cancelled"));
  }
  if (req.http.has_param("sync")) {
    std::string s = req.http.get_param_value("sync");
    // Sync names start with a letter or _: digits are an id.
    if (auto n = parse_id(s))
      f.sync_id = *n;
    else
      f.sync_name = s;
  }
  TRY(db, req.db());
  TRY(items, from_db(catalog::list_jobs(*db, f)));
  json next = nullptr;
  if (static_cast<long long>(items.size()) == limit) next = items.back()["id"];
  return Reply::json(200, {{"items", items}, {"next_before", next}});
}

Reply events(Request& req, Services& s) {
  const long long id = req.id("id");
  API_CHECK(check_params(req.http, {}));
  catalog::JobState first;
  {
    TRY(db, req.db());
    TRY(state, from_db(catalog::job_state(*db, id)));
    if (!state) return Reply::error(not_found("job", req.param("id")));
    first = std::move(*state);
  }
  req.release_db();  // a stream holds no connection: the hub reads for everyone
  auto sub = s.hub.subscribe(id, first.json, JobEventHub::is_final_status(first.status));
  if (!sub) {
    ApiError e{503, "too_many_subscribers",
               "too many event streams are open (at most " +
                   std::to_string(s.hub.max_subscribers()) + "); retry later",
               json::object()};
    e.details["max_subscribers"] = s.hub.max_subscribers();
    return Reply::error(e);
  }
  struct Stream {
    std::shared_ptr<JobSubscription> sub;
    uint64_t seen = 0;
    bool opened = false;
  };
  auto st = std::make_shared<Stream>();
  st->sub = std::move(sub);
  Reply r;
  r.content_type = "text/event-stream";
  r.stream = [st, heartbeat = s.sse_heartbeat](size_t, httplib::DataSink& sink) -> bool {
    auto send = [&sink](const std::string& text) { return sink.write(text.data(), text.size()); };
    if (!st->opened) {
      st->opened = true;
      return send("retry: 2000\n\n");
    }
    JobSnapshot snap;
    switch (st->sub->wait(st->seen, heartbeat, snap)) {
      case JobSubscription::Wake::kStopping:
        if (!send("event: shutdown\ndata: {\"reason\": \"the server is stopping\"}\n\n"))
          return false;
        sink.done();
        return true;
      case JobSubscription::Wake::kTimeout:
        return send(": heartbeat\n\n");
      case JobSubscription::Wake::kChanged:
        break;
    }
    st->seen = snap.version;
    if (!send("id: " + std::to_string(snap.version) +
              "\nevent: " + (snap.final ? "end" : "progress") + "\ndata: " + snap.json + "\n\n"))
      return false;
    if (snap.final) sink.done();
    return true;
  };
  return r;
}

}  // namespace

void add_job_routes(Router& r, Services& s) {
  r.add("POST", "/api/sync/{configId}", {"sync config"}, start).doc =
      doc::op("Run a sync: queues a job (or returns its unfinished one)", "202", doc::obj());
  r.add("GET", "/api/sync/{jobId}/status", {"job"}, status).doc =
      doc::op("A job's status and progress", "200", doc::ref("Job"));
  r.add("GET", "/api/jobs", {}, list).doc = doc::op(
      "Jobs, newest first (?status=, ?sync=id|name, ?limit=, ?before=)", "200", doc::list("Job"));
  nlohmann::json stream = doc::op(
      "Live progress as server-sent events: 'progress' (data: the job) at each change, 'end' when "
      "it is finished (then the stream closes), 'shutdown' when the server stops, a ': heartbeat' "
      "comment every 5 s. 503 too_many_subscribers beyond the limit (workers - max(2, "
      "workers/4) by default)",
      "200", nullptr);
  stream["responses"]["200"]["content"] = {{"text/event-stream", {{"schema", doc::str()}}}};
  r.add("GET", "/api/jobs/{id}/events", {"job"}, [&s](Request& req) {
     return events(req, s);
   }).doc = stream;
}

}  // namespace dbsync::daemon::api
