// Binary encodings of rows and changes:
//  - sortable keys: byte strings whose memcmp order is the key order (compare_keys) for keys
//    of one sync, so a database can store them as bytea and return them ORDER BY key;
//  - compact self-describing rows, planned changes and conflicts, for the stages (Redis
//    values, bytea in the master) — what a resumed job reads back must be exactly what it wrote.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"
#include "engine/sync_types.hpp"
#include "engine/value.hpp"

namespace dbsync {

std::string encode_sortable_key(const Row& key);
Result<Row> decode_sortable_key(std::string_view bytes);
// The same into a row whose storage is reused.
Status decode_sortable_key_into(std::string_view bytes, Row& key);

void encode_row(const Row& row, std::string& out);
std::string encode_change(const PlannedChange& change);
Result<PlannedChange> decode_change(std::string_view bytes);
std::string encode_conflict(const ConflictRecord& conflict);
Result<ConflictRecord> decode_conflict(std::string_view bytes);
std::string encode_baseline(const BaselineEntry& entry);  // without the key
Result<BaselineEntry> decode_baseline(std::string_view bytes, Row key);
// The same into an entry whose storage is reused (a reader's current entry); the key is left.
Status decode_baseline_into(std::string_view bytes, BaselineEntry& entry);

// What a batch writes to a baseline table, the last operation per key winning: keys
// (encode_sortable_key) with states (encode_baseline) that are new to the baseline (found
// without an entry: plain inserts), keys whose state is set (upserts), keys to erase. Both
// catalog baselines (the extension's and dbsyncd's) write these.
struct BaselineWrites {
  std::vector<std::string> new_keys, new_states, set_keys, set_states, erase_keys;
  bool empty() const { return new_keys.empty() && set_keys.empty() && erase_keys.empty(); }
};
BaselineWrites baseline_writes(const std::vector<PlannedChange>& changes);

}  // namespace dbsync
