// Rows of the extension's own catalog table dbsync.sync_state written the way COPY writes them:
// table_multi_insert (a page of rows per WAL record and buffer lock) then each index, instead of
// an INSERT ... SELECT unnest(...) that inserts, logs and locks row by row. The baseline of a
// first sync is most of what an initial load writes in the master.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dbsync::pg::bulk {

// Inserts (sync_id, keys[i], states[i]) into dbsync.sync_state in the current transaction, as
// the current user (who needs INSERT on it, as for the INSERT it replaces). A key that exists
// already is a unique violation (ERROR 23505), as with INSERT. Returns false, having written
// nothing, when the table has anything a plain heap insert would skip (triggers, CHECK
// constraints, row-level security, another table AM): the caller then uses SQL.
bool insert_sync_state(int64_t sync_id, const std::vector<std::string>& keys,
                       const std::vector<std::string>& states);

}  // namespace dbsync::pg::bulk
