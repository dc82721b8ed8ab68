// A sync's policy as its catalog row holds it (dbsync.syncs: direction, strategy,
// strategy_options, delete_policy, batch_size), parsed and checked once for every shell: the
// extension when a sync is created, altered or loaded, dbsyncd when its runner loads one. An
// error is a Status (kInvalidArgument for a bad option) that each shell turns into its own error
// (an SQLSTATE, an HTTP status).
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/status.hpp"
#include "engine/sync_types.hpp"

namespace dbsync {

// strategy_options, a JSON object, into `policy` (whose strategy is already set): merge_fallback,
// manual_mode, webhook_fallback (not webhook), url (http or https), secret (strings),
// timeout_ms, retries (non-negative integers); any other key is an error, as is a webhook
// strategy without a url.
Status parse_strategy_options(std::string_view json, SyncPolicy& policy);

// The whole policy, checked in the order a sync's columns are: direction, strategy,
// strategy_options, delete_policy.
Result<SyncPolicy> parse_sync_policy(std::string_view direction, std::string_view strategy,
                                     std::string_view strategy_options,
                                     std::string_view delete_policy);

// A sync's batch_size: 1 to 1,000,000 rows.
Status check_batch_size(int64_t batch_size);

}  // namespace dbsync
