// How the executor's progress reports become a job's counts in the catalog (the extension's job
// runner and dbsyncd's share it): a commit step counts only what it applies, so what the scan
// counted is kept; source write-backs (two-way) are added per report, so each report carries
// what is new since the last one written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/sync_types.hpp"

namespace dbsync {

class ProgressTally {
 public:
  struct Report {
    Progress shown;  // what the job shows now (this attempt's counts)
    Progress delta;  // shown, with source_inserted/updated/deleted as increments
  };
  Report next(const Progress& p);
  // The report was written: later deltas count from it.
  void written(const Report& r);

 private:
  Progress scan_, reported_;
};

// The job's message about rows that could not be synced: "N rows could not be synced (left as
// they were): <first ones>", or empty.
std::string row_errors_text(int64_t errors, const std::vector<std::string>& first);

}  // namespace dbsync
