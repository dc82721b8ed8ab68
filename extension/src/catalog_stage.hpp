// Conflicts staged in the master's catalog (dbsync.conflicts) as dbsync.resolve reads them back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/catalog_stage.hpp"
#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"

namespace dbsync::ext {

// The stage itself (dbsync.stage, dbsync.conflicts) is common/catalog_stage.hpp's, over the
// SPI catalog session (pg/spi_catalog_session.hpp).
using dbsync::CatalogStage;

// One row of dbsync.conflicts with its engine record decoded (for dbsync.resolve).
struct StoredConflict {
  int64_t id = 0;
  int64_t job_id = 0;
  int64_t sync_id = 0;
  std::string status;  // pending, resolved, skipped
  ConflictRecord record;
};

// The `record` column as spi::execute returns it (bytea in hex text form), decoded.
Result<ConflictRecord> decode_stored_conflict(const std::string& record_hex);

// The conflict `conflict_id` (kNotFound when there is none). Inside an SPI session; reads with
// FOR UPDATE when `lock` (a resolution then owns the row until the transaction ends).
Result<StoredConflict> load_conflict(int64_t conflict_id, bool lock = false);

}  // namespace dbsync::ext
