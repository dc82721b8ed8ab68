#include "extension/src/pg/xact.hpp"

#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "pgstat.h"
#include "utils/snapmgr.h"
}

namespace dbsync::pg::xact {

void begin() {
  pg_call([] {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
  });
  spi::connect();
}

void commit() {
  spi::finish();
  pg_call([] {
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_stat(false);
  });
}

void commit_and_continue() {
  commit();
  begin();
}

void abort() {
  pg_call([] { AbortOutOfAnyTransaction(); });
}

uint32_t top_transaction_id_if_any() { return GetTopTransactionIdIfAny(); }

}  // namespace dbsync::pg::xact
