#include "extension/src/pg/index_scan.hpp"

#include "extension/src/pg/spi.hpp"

#include <memory>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace dbsync::pg::index_scan {

int mode = kOn;

namespace {
const config_enum_entry kModes[] = {
    {"off", kOff, false}, {"on", kOn, false}, {"require", kRequire, false}, {nullptr, 0, false}};
}  // namespace

void define_guc() {
  DefineCustomEnumVariable(
      "dbsync.direct_scan",
      "Reads local tables' keyset pages straight from a btree index instead of through SPI.",
      "off: always SPI; require: fail a scan the index cannot serve (for tests).", &mode, kOn,
      kModes, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

namespace {

// Everything below, up to read_page, is plain C called inside pg_call lambdas.

// Whether `ind` is a btree index that scans may use now (its state flags change as CREATE and
// DROP INDEX CONCURRENTLY go on).
bool index_usable(Relation ind) {
  if (ind->rd_rel->relam != BTREE_AM_OID) return false;
  Form_pg_index form = ind->rd_index;
  return form->indisvalid && form->indisready && form->indislive;
}

// The version of `ind`'s pg_index row (the relcache keeps it up to date): another value means
// another row, a state change or an index that took over the OID of a dropped one.
uint32_t index_row_version(Relation ind) {
  return HeapTupleHeaderGetXmin(ind->rd_indextuple->t_data);
}

// Whether `ind` gives the rows of `rel` in the order of the SPI page query's ORDER BY on the key
// columns `keys` (attribute numbers).
bool index_fits(Relation rel, Relation ind, const int16_t* keys, int k) {
  if (!index_usable(ind)) return false;
  Form_pg_index form = ind->rd_index;
  if (form->indnkeyatts < k) return false;
  if (!heap_attisnull(ind->rd_indextuple, Anum_pg_index_indpred, nullptr)) return false;
  bool isnull = false;
  Datum d = SysCacheGetAttr(INDEXRELID, ind->rd_indextuple, Anum_pg_index_indclass, &isnull);
  if (isnull) return false;
  oidvector* indclass = reinterpret_cast<oidvector*>(DatumGetPointer(d));
  TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < k; ++i) {
    if (form->indkey.values[i] != keys[i]) return false;  // 0: an expression
    if (ind->rd_indoption[i] != 0) return false;          // DESC or NULLS FIRST
    Oid type = TupleDescAttr(desc, keys[i] - 1)->atttypid;
    if (indclass->values[i] != GetDefaultOpClass(type, BTREE_AM_OID)) return false;
    // Our key order is byte order: COLLATE "C".
    Oid coll = ind->rd_indcollation[i];
    if (OidIsValid(coll) && !lc_collate_is_c(coll)) return false;
  }
  return true;
}

// The index (opened, AccessShareLock) that serves a scan of `rel`'s columns, or null with the
// reason in *why. Every index looked at stays locked to the end of the transaction, as the
// planner leaves them. `chosen_before` (the spec's memory, updated here): the index an earlier
// page used is taken again without checking its definition, which never changes (pg_index's
// key columns, operator classes, options, collations and predicate are fixed at creation), while
// it is still one of the table's indexes, usable, and its pg_index row the same version;
// otherwise every index is looked at, as on the first page.
Relation choose_index(Relation rel, const int16_t* attnums, const Oid* types, int ncols, int k,
                      Spec::ChosenIndex* chosen_before, const char** why) {
  const char relkind = rel->rd_rel->relkind;
  if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW) {
    *why = "not a table or a materialized view";
    return nullptr;
  }
  if (rel->rd_rel->relam != HEAP_TABLE_AM_OID) {
    *why = "not a heap table";
    return nullptr;
  }
  if (!RelationIsPopulated(rel)) {
    *why = "a materialized view not populated";
    return nullptr;
  }
  // The SPI query checks privileges (column privileges too) and applies row-level security: it
  // reads (and says why not) whenever the table-level check is not plainly passed.
  if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK) {
    *why = "no SELECT privilege on the whole table";
    return nullptr;
  }
  if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_NONE) {
    *why = "row-level security applies";
    return nullptr;
  }
  TupleDesc desc = RelationGetDescr(rel);
  for (int c = 0; c < ncols; ++c) {
    if (attnums[c] < 1 || attnums[c] > desc->natts ||
        TupleDescAttr(desc, attnums[c] - 1)->attisdropped ||
        TupleDescAttr(desc, attnums[c] - 1)->atttypid != types[c]) {
      *why = "the table's columns changed";
      return nullptr;
    }
  }
  List* indexes = RelationGetIndexList(rel);
  Relation chosen = nullptr;
  if (OidIsValid(chosen_before->index) && list_member_oid(indexes, chosen_before->index)) {
    Relation ind = index_open(chosen_before->index, AccessShareLock);
    if (index_row_version(ind) == chosen_before->row_version && index_usable(ind))
      chosen = ind;
    else
      index_close(ind, NoLock);
  }
  for (int i = 0; i < list_length(indexes) && chosen == nullptr; ++i) {
    Relation ind = index_open(list_nth_oid(indexes, i), AccessShareLock);
    if (index_fits(rel, ind, attnums, k)) {
      chosen = ind;
      chosen_before->index = RelationGetRelid(ind);
      chosen_before->row_version = index_row_version(ind);
    } else {
      index_close(ind, NoLock);
    }
  }
  list_free(indexes);
  if (chosen == nullptr) {
    chosen_before->index = InvalidOid;
    *why =
        "no btree index on the key columns (in order, ascending, default operator classes, "
        "\"C\" collation)";
  }
  return chosen;
}

// `key` becomes ROW(index columns 1..k) <strategy> ROW(values): a plain scan key for one column,
// a row comparison (header and members, as the executor builds it) for more.
void init_bound(ScanKey key, Relation ind, int k, StrategyNumber strategy, const Datum* values) {
  if (k == 1) {
    Oid type = ind->rd_opcintype[0];
    Oid op = get_opfamily_member(ind->rd_opfamily[0], type, type, strategy);
    if (!OidIsValid(op)) elog(ERROR, "dbsync: no btree operator of strategy %d", strategy);
    ScanKeyEntryInitialize(key, 0, 1, strategy, type, ind->rd_indcollation[0], get_opcode(op),
                           values[0]);
    return;
  }
  ScanKey members = static_cast<ScanKey>(palloc0(sizeof(ScanKeyData) * static_cast<size_t>(k)));
  for (int i = 0; i < k; ++i) {
    Oid type = ind->rd_opcintype[i];
    RegProcedure cmp = get_opfamily_proc(ind->rd_opfamily[i], type, type, BTORDER_PROC);
    if (!RegProcedureIsValid(cmp)) elog(ERROR, "dbsync: no btree comparison support function");
    ScanKeyEntryInitialize(&members[i], SK_ROW_MEMBER, static_cast<AttrNumber>(i + 1), strategy,
                           type, ind->rd_indcollation[i], cmp, values[i]);
  }
  members[k - 1].sk_flags |= SK_ROW_END;
  memset(key, 0, sizeof(ScanKeyData));
  key->sk_flags = SK_ROW_HEADER;
  key->sk_attno = 1;
  key->sk_strategy = strategy;
  key->sk_argument = PointerGetDatum(members);
}

// A bound's text (the key columns' output forms) as Datums of the key columns' types.
void read_bound(const char* const* text, const Oid* types, int k, Datum* out) {
  for (int i = 0; i < k; ++i) {
    Oid func, ioparam;
    getTypeInputInfo(types[i], &func, &ioparam);
    out[i] = OidInputFunctionCall(func, const_cast<char*>(text[i]), ioparam, -1);
  }
}

// The state of one page's scan, released by close_scan on the normal path; an ERROR leaves it
// to the transaction abort.
struct Scan {
  Relation rel = nullptr;
  Relation ind = nullptr;
  Snapshot snapshot = nullptr;
  IndexScanDesc desc = nullptr;
  TupleTableSlot* slot = nullptr;
};

void close_scan(Scan* s) {
  if (s->slot) ExecDropSingleTupleTableSlot(s->slot);
  if (s->desc) index_endscan(s->desc);
  if (s->snapshot) {
    UnregisterSnapshot(s->snapshot);
    PopActiveSnapshot();
  }
  // Locks stay to the end of the transaction, as the SPI query's do.
  if (s->ind) index_close(s->ind, NoLock);
  if (s->rel) table_close(s->rel, NoLock);
  *s = Scan{};
}

}  // namespace

std::optional<Spec> make_spec(Oid relid, const std::vector<const Column*>& columns,
                              size_t key_count, std::string& why_not) {
  Spec spec;
  spec.relid = relid;
  spec.key_count = key_count;
  for (const Column* col : columns) {
    const char* name = col->name.c_str();
    Oid type = InvalidOid;
    Oid* type_p = &type;
    AttrNumber attnum = pg_call([&] {
      AttrNumber a = get_attnum(relid, name);
      if (a != InvalidAttrNumber) *type_p = get_atttype(relid, a);
      return a;
    });
    if (attnum <= 0) {
      why_not = "no column \"" + col->name + "\"";
      return std::nullopt;
    }
    spec.attnums.push_back(attnum);
    spec.types.push_back(type);
  }
  if (key_count == 0 || key_count > spec.attnums.size()) {
    why_not = "no key columns";
    return std::nullopt;
  }
  return spec;
}

std::string unsuitable(Spec& spec) {
  const char* why = nullptr;
  Spec::ChosenIndex* chosen = &spec.chosen;
  const Oid relid = spec.relid;
  const int16_t* attnums = spec.attnums.data();
  const Oid* types = spec.types.data();
  const int ncols = static_cast<int>(spec.attnums.size());
  const int k = static_cast<int>(spec.key_count);
  pg_call([&] {
    Relation rel = table_open(relid, AccessShareLock);
    Relation ind = choose_index(rel, attnums, types, ncols, k, chosen, &why);
    if (ind) index_close(ind, NoLock);
    table_close(rel, NoLock);
  });
  return why ? std::string(why) : std::string();
}

bool read_page(Spec& spec, const std::vector<spi::Param>* after,
               const std::vector<spi::Param>* upto, size_t limit,
               const std::vector<const Column*>& columns, bool fingerprints, spi::ValuePage& out) {
  const int k = static_cast<int>(spec.key_count);
  const int ncols = static_cast<int>(spec.attnums.size());
  if (columns.size() != spec.attnums.size())
    throw PgError(ERRCODE_INTERNAL_ERROR, "index_scan::read_page: columns do not match the spec");
  // A NULL in a bound: the SPI query's row comparison says what that means.
  std::vector<const char*> after_text, upto_text;
  for (const auto& [bound, text] : {std::pair{after, &after_text}, std::pair{upto, &upto_text}}) {
    if (bound == nullptr) continue;
    if (bound->size() != spec.key_count) return false;
    for (const spi::Param& p : *bound) {
      if (!p) return false;
      text->push_back(p->c_str());
    }
  }

  const Oid relid = spec.relid;
  const int16_t* attnums = spec.attnums.data();
  const Oid* types = spec.types.data();
  Spec::ChosenIndex* chosen = &spec.chosen;
  Scan scan;
  Scan* s = &scan;
  const char* why = nullptr;
  pg_call([&] {
    s->rel = table_open(relid, AccessShareLock);
    s->ind = choose_index(s->rel, attnums, types, ncols, k, chosen, &why);
    if (s->ind == nullptr) close_scan(s);
  });
  if (scan.ind == nullptr) return false;

  out.errors.clear();  // rows are kept: their storage is reused by the next page
  out.last_key_text.clear();
  out.fingerprints.clear();
  spi::RowConverter conv;
  spi::RowConverter* conv_p = &conv;
  std::vector<Datum> datums(columns.size());
  std::unique_ptr<bool[]> isnull(new bool[columns.size()]);
  Datum* datums_p = datums.data();
  bool* isnull_p = isnull.get();
  std::vector<const char*> key_text(spec.key_count);
  const char** key_text_p = key_text.data();
  int maxatt = 0;
  for (int16_t a : spec.attnums) maxatt = a > maxatt ? a : maxatt;
  size_t n = 0;
  try {
    conv.begin(types, columns, spec.key_count);
    MemoryContext page_cxt = conv.page_context();
    const char* const* after_p = after ? after_text.data() : nullptr;
    const char* const* upto_p = upto ? upto_text.data() : nullptr;
    pg_call([&] {
      MemoryContext old = MemoryContextSwitchTo(page_cxt);
      ScanKey keys = static_cast<ScanKey>(palloc0(sizeof(ScanKeyData) * 2));
      Datum* bound = static_cast<Datum*>(palloc(sizeof(Datum) * static_cast<size_t>(k)));
      int nkeys = 0;
      if (after_p) {
        read_bound(after_p, types, k, bound);
        init_bound(&keys[nkeys++], s->ind, k, BTGreaterStrategyNumber, bound);
        bound = static_cast<Datum*>(palloc(sizeof(Datum) * static_cast<size_t>(k)));
      }
      if (upto_p) {
        read_bound(upto_p, types, k, bound);
        init_bound(&keys[nkeys++], s->ind, k, BTLessEqualStrategyNumber, bound);
      }
      // The snapshot SPI would take for a (non read-only) query: the transaction's, seeing this
      // transaction's own earlier commands.
      PushActiveSnapshot(GetTransactionSnapshot());
      CommandCounterIncrement();
      UpdateActiveSnapshotCommandId();
      s->snapshot = RegisterSnapshot(GetActiveSnapshot());
      s->desc = index_beginscan(s->rel, s->ind, s->snapshot, nkeys, 0);
      index_rescan(s->desc, keys, nkeys, nullptr, 0);
      s->slot = table_slot_create(s->rel, nullptr);
      MemoryContextSwitchTo(old);
    });

    TransactionId xmin = InvalidTransactionId;
    TransactionId* xmin_p = &xmin;
    while (n < limit) {
      bool found = pg_call([&] {
        CHECK_FOR_INTERRUPTS();
        MemoryContext old = MemoryContextSwitchTo(page_cxt);
        bool got = index_getnext_slot(s->desc, ForwardScanDirection, s->slot);
        if (got) {
          TupleTableSlot* slot = s->slot;
          slot_getsomeattrs(slot, maxatt);
          for (int c = 0; c < ncols; ++c) {
            datums_p[c] = slot->tts_values[attnums[c] - 1];
            isnull_p[c] = slot->tts_isnull[attnums[c] - 1];
          }
          if (fingerprints) {
            bool xnull = false;
            Datum x = slot_getsysattr(slot, MinTransactionIdAttributeNumber, &xnull);
            *xmin_p = xnull ? InvalidTransactionId : DatumGetTransactionId(x);
          }
          conv_p->extract(datums_p, isnull_p);
        }
        MemoryContextSwitchTo(old);
        return got;
      });
      if (!found) break;
      if (out.rows.size() <= n) out.rows.emplace_back();
      if (out.errors.size() <= n) out.errors.emplace_back();
      out.errors[n] = conv.convert(datums_p, isnull_p, out.rows[n]);
      if (fingerprints) out.fingerprints.push_back(xmin);
      ++n;
      if (n == limit) {
        // A full page: its last key, as printed, is where the next one starts.
        pg_call([&] {
          for (int c = 0; c < k; ++c)
            key_text_p[c] = isnull_p[c] ? nullptr : conv_p->print_key(c, datums_p[c]);
        });
        for (const char* t : key_text) {
          if (t == nullptr)
            out.last_key_text.emplace_back(std::nullopt);
          else
            out.last_key_text.emplace_back(std::string(t));
        }
      }
    }
  } catch (const PostgresError&) {
    throw;  // the transaction abort releases the scan, the relations and the snapshot
  } catch (...) {
    pg_call([&] { close_scan(s); });
    conv.end();
    throw;
  }
  out.rows.resize(n);
  out.errors.resize(n);
  pg_call([&] { close_scan(s); });
  conv.end();
  return true;
}

}  // namespace dbsync::pg::index_scan
