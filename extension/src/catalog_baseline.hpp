// A sync's baseline as stored in the master's catalog, dbsync.sync_state (sync_id, key, state),
// read as an engine Baseline: entries in key order, in keyset pages.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/endpoints.hpp"

namespace dbsync::ext {

// Keys are stored as encode_sortable_key bytes, so bytea order is key order: a page is
// `... WHERE sync_id = $1 AND key > $2 ORDER BY key LIMIT n` after the previous page's last
// key, and a KeyRange's ends become encoded bounds. Reads happen inside the caller's SPI session
// and errors from PostgreSQL are thrown (as LocalSource's); a stored entry that does not decode
// is a Status.
//
// apply() writes a batch with at most two statements, the keys and states bound as bytea[]
// arrays: an upsert of the kSet entries and a delete of the kErase keys (the last operation per
// key wins), inside the caller's transaction (nothing here commits).
class CatalogBaseline final : public Baseline {
 public:
  explicit CatalogBaseline(std::string sync_id, size_t page_rows = 1000);

  Result<std::unique_ptr<BaselineReader>> scan(const KeyRange& range) override;
  Status apply(const std::vector<PlannedChange>& changes) override;
  // Written in the job's transaction, which the job runner commits in on_progress.
  bool commits_with_progress() const override { return true; }

 private:
  std::string sync_id_;
  size_t page_rows_;
};

}  // namespace dbsync::ext
