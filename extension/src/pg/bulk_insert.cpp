#include "extension/src/pg/bulk_insert.hpp"

#include "extension/src/pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
}

namespace dbsync::pg::bulk {
namespace {

constexpr int kChunk = 1000;  // rows per table_multi_insert (COPY's MAX_BUFFERED_TUPLES)

bytea* make_bytea(const std::string& bytes) {
  bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + bytes.size()));
  SET_VARSIZE(b, VARHDRSZ + bytes.size());
  memcpy(VARDATA(b), bytes.data(), bytes.size());
  return b;
}

}  // namespace

bool insert_sync_state(int64_t sync_id, const std::vector<std::string>& keys,
                       const std::vector<std::string>& states) {
  if (keys.size() != states.size())
    throw PgError(ERRCODE_INTERNAL_ERROR, "insert_sync_state: keys and states differ in number");
  if (keys.empty()) return true;
  const std::string* key_p = keys.data();
  const std::string* state_p = states.data();
  const int n = static_cast<int>(keys.size());
  // Plain C inside: nothing with a destructor lives in the lambda.
  return pg_call([&]() -> bool {
    Oid nsp = get_namespace_oid("dbsync", false);
    Oid relid = get_relname_relid("sync_state", nsp);
    if (!OidIsValid(relid)) elog(ERROR, "dbsync.sync_state is missing");
    if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
      aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "sync_state");
    Relation rel = table_open(relid, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    const bool plain = rel->rd_rel->relkind == RELKIND_RELATION && rel->trigdesc == nullptr &&
                       (desc->constr == nullptr || desc->constr->num_check == 0) &&
                       check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED &&
                       rel->rd_tableam == GetHeapamTableAmRoutine() && desc->natts == 3;
    if (!plain) {
      table_close(rel, RowExclusiveLock);
      return false;
    }
    EState* estate = CreateExecutorState();
    ResultRelInfo* rri = makeNode(ResultRelInfo);
    InitResultRelInfo(rri, rel, 1, nullptr, 0);
    ExecOpenIndices(rri, false);
    const CommandId cid = GetCurrentCommandId(true);
    BulkInsertState bistate = GetBulkInsertState();
    MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "dbsync sync_state rows",
                                                    ALLOCSET_DEFAULT_SIZES);
    // The slots share one copy of the descriptor that is not reference-counted: a slot made on
    // the relation's own descriptor pins it in the resource owner, and 1000 pins per batch, each
    // released by a search of the owner's array, cost more than the rows' index inserts.
    TupleDesc slot_desc = CreateTupleDescCopy(desc);
    const TupleTableSlotOps* slot_ops = table_slot_callbacks(rel);
    TupleTableSlot* slots[kChunk];
    const int nslots = n < kChunk ? n : kChunk;
    for (int i = 0; i < nslots; ++i) slots[i] = MakeSingleTupleTableSlot(slot_desc, slot_ops);
    for (int done = 0; done < n;) {
      const int m = n - done < kChunk ? n - done : kChunk;
      MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
      for (int i = 0; i < m; ++i) {
        TupleTableSlot* slot = slots[i];
        ExecClearTuple(slot);
        slot->tts_values[0] = Int64GetDatum(sync_id);
        slot->tts_values[1] = PointerGetDatum(make_bytea(key_p[done + i]));
        slot->tts_values[2] = PointerGetDatum(make_bytea(state_p[done + i]));
        slot->tts_isnull[0] = slot->tts_isnull[1] = slot->tts_isnull[2] = false;
        ExecStoreVirtualTuple(slot);
      }
      MemoryContextSwitchTo(old);
      table_multi_insert(rel, slots, m, cid, 0, bistate);
      for (int i = 0; i < m; ++i) {
        List* recheck = ExecInsertIndexTuples(rri, slots[i], estate, false, false, nullptr, NIL);
        list_free(recheck);
        ResetPerTupleExprContext(estate);
      }
      MemoryContextReset(chunk_cxt);
      done += m;
    }
    for (int i = 0; i < nslots; ++i) ExecDropSingleTupleTableSlot(slots[i]);
    FreeTupleDesc(slot_desc);
    FreeBulkInsertState(bistate);
    ExecCloseIndices(rri);
    FreeExecutorState(estate);
    MemoryContextDelete(chunk_cxt);
    table_close(rel, NoLock);   // the lock stays to the end of the transaction, as an INSERT's
    CommandCounterIncrement();  // later statements of the transaction see the rows
    return true;
  });
}

}  // namespace dbsync::pg::bulk
