#include "engine/job_progress.hpp"

#include <algorithm>

namespace dbsync {

ProgressTally::Report ProgressTally::next(const Progress& p) {
  Report r{p, {}};
  if (p.phase == "committing" || p.phase == "done") {
    r.shown.scanned = std::max(p.scanned, scan_.scanned);
    r.shown.unchanged = std::max(p.unchanged, scan_.unchanged);
    r.shown.conflicts = std::max(p.conflicts, scan_.conflicts);
    r.shown.errors = std::max(p.errors, scan_.errors);
  } else {
    scan_ = p;
  }
  r.delta = r.shown;
  r.delta.source_inserted -= reported_.source_inserted;
  r.delta.source_updated -= reported_.source_updated;
  r.delta.source_deleted -= reported_.source_deleted;
  return r;
}

void ProgressTally::written(const Report& r) {
  reported_.source_inserted = r.shown.source_inserted;
  reported_.source_updated = r.shown.source_updated;
  reported_.source_deleted = r.shown.source_deleted;
}

std::string row_errors_text(int64_t errors, const std::vector<std::string>& first) {
  if (errors == 0) return {};
  std::string out = std::to_string(errors) + (errors == 1 ? " row" : " rows") +
                    " could not be synced (left as they were)";
  for (size_t i = 0; i < first.size(); ++i) out += (i ? "; " : ": ") + first[i];
  return out;
}

}  // namespace dbsync
