#include "extension/src/catalog_stage.hpp"

#include <string>

#include "engine/row_codec.hpp"
#include "engine/status.hpp"
#include "extension/src/pg/session.hpp"

namespace dbsync::ext {
namespace {

int64_t to_int64(const std::string& s) { return std::stoll(s); }

}  // namespace

Result<ConflictRecord> decode_stored_conflict(const std::string& record_hex) {
  Result<std::string> bytes = pg::spi::bytea_from_hex(record_hex);
  if (!bytes.is_ok()) return bytes.status().with_context("dbsync.conflicts record");
  Result<ConflictRecord> c = decode_conflict(*bytes);
  if (!c.is_ok()) return c.status().with_context("dbsync.conflicts record");
  return c;
}

Result<StoredConflict> load_conflict(int64_t conflict_id, bool lock) {
  pg::spi::Rows r = pg::spi::with_safe_search_path([&] {
    return pg::spi::execute(
        std::string("SELECT id, job_id, sync_id, status, record FROM dbsync.conflicts "
                    "WHERE id = $1::pg_catalog.int8") +
            (lock ? " FOR UPDATE" : ""),
        {std::to_string(conflict_id)});
  });
  if (r.empty())
    return error(ErrorCode::kNotFound, "conflict " + std::to_string(conflict_id) + " not found");
  StoredConflict out;
  out.id = to_int64(r.text(0, 0));
  out.job_id = to_int64(r.text(0, 1));
  out.sync_id = to_int64(r.text(0, 2));
  out.status = r.text(0, 3);
  DBSYNC_ASSIGN_OR_RETURN(out.record, decode_stored_conflict(r.text(0, 4)));
  return out;
}

}  // namespace dbsync::ext
