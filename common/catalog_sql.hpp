// SQL text about the catalog that both job runners (the extension's, over SPI, and dbsyncd's,
// over libpq) send the same way.
#pragma once

namespace dbsync::catalog_sql {

// The count columns of a progress update of dbsync.jobs: $3..$9 the job's counts (earlier
// attempts' plus this one's), $10..$12 the source write-backs since the last report.
inline constexpr const char* kJobCountColumns =
    "scanned = $3::bigint, inserted = $4::bigint, updated = $5::bigint, deleted = $6::bigint, "
    "unchanged = $7::bigint, conflicts = $8::bigint, errors = $9::bigint, "
    "source_inserted = source_inserted + $10::bigint, source_updated = source_updated + "
    "$11::bigint, source_deleted = source_deleted + $12::bigint";

}  // namespace dbsync::catalog_sql
