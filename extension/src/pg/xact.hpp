// Transactions of a background worker, each with an SPI connection: a worker opens one, works
// through SPI (spi::execute), and commits it (or aborts it after an ERROR). The job runner
// commits after every batch with commit_and_continue(): what was applied, the baseline and the
// job's checkpoint become visible together.
#pragma once

#include <cstdint>

namespace dbsync::pg::xact {

// StartTransactionCommand, an active snapshot, SPI_connect.
void begin();
// SPI_finish, CommitTransactionCommand.
void commit();
// commit() then begin(): nothing read through SPI may be kept across it (rows are copied out
// by spi::execute, so readers of keyset pages are not affected).
void commit_and_continue();
// After an ERROR (a PostgresError) or to drop what the transaction did: aborts whatever is
// open (SPI is cleaned up by the abort).
void abort();

// The id of the current top-level transaction, 0 when it has none yet (GetTopTransactionIdIfAny:
// reading it cannot fail).
uint32_t top_transaction_id_if_any();

}  // namespace dbsync::pg::xact
