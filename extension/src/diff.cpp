// dbsync.diff(sync, lim): what a run of a sync between PostgreSQL ends (this server or remote
// ones) would do, key by key, computed by
// the engine (ThreeWayDiff over both tables and the baseline, then the ConflictResolver's plan)
// without writing anything. The scans stream in keyset pages; the answer is a tuplestore (it
// spills to disk past work_mem), so memory grows with the number of changes, not the tables.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/conflict_json.hpp"
#include "engine/conflict_resolver.hpp"
#include "engine/endpoints.hpp"
#include "engine/field_mapper.hpp"
#include "engine/field_set.hpp"
#include "engine/sync_types.hpp"
#include "engine/three_way_diff.hpp"
#include "engine/value.hpp"
#include "extension/src/catalog_baseline.hpp"
#include "extension/src/local_source.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/spi.hpp"
#include "extension/src/pg/text.hpp"
#include "extension/src/syncs.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
}

namespace dbsync::ext {
namespace {

using pg::PgError;

// One answer row: key (JSON object of target key columns), action, fields, detail (JSON).
struct PlanRow {
  std::string key;
  std::string action;
  std::vector<std::string> fields;
  std::string detail;
};

std::string json_names(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + json_string(names[i]);
  return out + "]";
}

std::vector<std::string> field_names(const FieldMapper& m, const FieldSet& set) {
  std::vector<std::string> out;
  set.for_each([&](size_t i) {
    if (i < m.mapped_count()) out.push_back(m.mapped_columns()[i]);
  });
  return out;
}

// The operations of a plan in words: "update", "source_delete", "refresh_baseline", ...
std::vector<std::string> plan_words(const PlannedChange& p) {
  std::vector<std::string> out;
  if (p.target_op != RowOp::kNone) out.push_back(row_op_name(p.target_op));
  if (p.source_op != RowOp::kNone) out.push_back(std::string("source_") + row_op_name(p.source_op));
  if (out.empty() && p.baseline_op != BaselineOp::kKeep) out.push_back("refresh_baseline");
  return out;
}

// The key of an item: target key columns, or the source key columns when the source row's key
// could not be mapped (a target row's unreadable key has no source row: target columns).
std::string render_key(const FieldMapper& m, const DiffItem& item) {
  if (item.key_mapped || item.source_raw == nullptr) return render_row(m, item.key);
  std::string out = "{";
  for (size_t i = 0; i < item.key.size() && i < m.key_count(); ++i) {
    const std::string& name = m.source_schema().columns[m.source_projection()[i]].name;
    out += (i ? ", " : "") + json_string(name) + ": " + render_value(item.key[i]);
  }
  return out + "}";
}

// Fills `row` for one item; false when the key needs nothing.
bool describe(const FieldMapper& m, const ConflictResolver& resolver, const DiffItem& item,
              PlanRow& row) {
  row.key = render_key(m, item);
  row.fields.clear();
  std::string kind = json_string(diff_kind_name(item.kind));
  auto row_error = [&](const std::string& message) {
    row.action = "row_error";
    row.detail = "{\"kind\": " + kind + ", \"error\": " + json_string(message) + "}";
    return true;
  };
  if (item.kind == DiffKind::kRowError) return row_error(item.error.message());

  ConflictResolver::Outcome outcome;
  if (Status st = resolver.plan(item, outcome); !st.is_ok()) return row_error(st.message());
  const PlannedChange& p = outcome.change;
  std::vector<std::string> words = plan_words(p);

  if (outcome.conflict || outcome.pending) {
    row.action = "conflict";
    const FieldSet& fields = item.conflicting.any() ? item.conflicting
                             : item.differing.any() ? item.differing
                                                    : item.source_changed | item.target_changed;
    row.fields = field_names(m, fields);
    std::string resolution;
    if (outcome.pending)
      resolution = resolver.policy().strategy == Strategy::kWebhook ? "webhook" : "manual";
    else
      resolution = words.empty() ? "none" : words[0];
    row.detail = "{\"kind\": " + kind +
                 ", \"strategy\": " + json_string(strategy_name(resolver.policy().strategy)) +
                 ", \"resolution\": " + json_string(resolution) +
                 ", \"source_changed\": " + field_names_json(m, item.source_changed) +
                 ", \"target_changed\": " + field_names_json(m, item.target_changed);
    if (outcome.pending && !outcome.pending->reason.empty() &&
        resolver.policy().strategy != Strategy::kWebhook)
      row.detail += ", \"reason\": " + json_string(outcome.pending->reason);
    if (!outcome.pending && words.size() > 1)
      row.detail += ", \"also\": " + json_names({words.begin() + 1, words.end()});
    row.detail += "}";
    return true;
  }
  if (words.empty()) return false;
  row.action = words[0];
  if (p.target_op != RowOp::kNone) {
    row.fields = field_names(m, p.changed);
  } else if (p.source_op == RowOp::kInsert || p.source_op == RowOp::kUpdate) {
    // A write-back carries the reversible columns (of an update: those the target changed).
    FieldSet back(m.mapped_count());
    for (size_t i = 0; i < m.mapped_count(); ++i)
      if (m.reversible(i) && (p.source_op == RowOp::kInsert || item.target_changed.size() <= i ||
                              item.target_changed.test(i)))
        back.set(i);
    row.fields = field_names(m, p.changed.any() ? p.changed : back);
  }
  row.detail = "{\"kind\": " + kind;
  if (words.size() > 1) row.detail += ", \"also\": " + json_names({words.begin() + 1, words.end()});
  row.detail += "}";
  return true;
}

// Appends one row to the function's tuplestore; the Datums live in `scratch`, reset after.
void put_row(ReturnSetInfo* rsinfo, MemoryContext scratch, const PlanRow& row) {
  std::vector<const char*> fields;
  fields.reserve(row.fields.size());
  for (const std::string& f : row.fields) fields.push_back(f.c_str());
  const char* key = row.key.c_str();
  const char* action = row.action.c_str();
  const char* detail = row.detail.c_str();
  const int nfields = static_cast<int>(fields.size());
  const char* const* field_data = fields.data();
  pg::pg_call([&] {
    MemoryContext old = MemoryContextSwitchTo(scratch);
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (nfields ? nfields : 1)));
    for (int i = 0; i < nfields; ++i) elems[i] = CStringGetTextDatum(field_data[i]);
    Datum values[4];
    bool nulls[4] = {false, false, false, false};
    values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(key));
    values[1] = CStringGetTextDatum(action);
    values[2] = PointerGetDatum(construct_array(elems, nfields, TEXTOID, -1, false, TYPALIGN_INT));
    values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail));
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    MemoryContextSwitchTo(old);
    MemoryContextReset(scratch);
  });
}

}  // namespace
}  // namespace dbsync::ext

using namespace dbsync;  // NOLINT: the SQL entry point below

// dbsync.diff(sync, lim) -> TABLE(key jsonb, action text, fields text[], detail jsonb): one row
// per key that a run would change (at most lim rows; NULL: all), nothing written.
DBSYNC_FUNCTION(dbsync_diff) {
  std::string name = pg::text_arg(fcinfo, 0);
  int64_t limit = -1;
  if (!PG_ARGISNULL(1)) {
    limit = PG_GETARG_INT32(1);
    if (limit < 0) throw pg::PgError(ERRCODE_INVALID_PARAMETER_VALUE, "lim must not be negative");
  }
  const int64_t now = ext::now_unix_micros();

  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::pg_call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
  MemoryContext scratch = pg::pg_call([&] {
    return AllocSetContextCreate(CurrentMemoryContext, "dbsync diff row", ALLOCSET_SMALL_SIZES);
  });

  pg::spi::session([&] {
    ext::CheckedSync k = ext::load_postgres_sync(name, "diff");
    const FieldMapper& m = *k.mapper;
    const size_t page = static_cast<size_t>(k.batch_size);

    std::unique_ptr<Source> source = ext::source_reader(k);
    std::unique_ptr<Source> target = ext::target_reader(k);
    ext::CatalogBaseline baseline(k.id, page);
    ScanRequest src_req{m.source_projection(), m.key_count(), {}, page};
    ScanRequest tgt_req{m.target_projection(), m.key_count(), {}, page};
    std::unique_ptr<RowReader> src =
        pg::value_or_throw(source->scan(src_req), "reading the source " + k.source.table);
    std::unique_ptr<RowReader> tgt =
        pg::value_or_throw(target->scan(tgt_req), "reading the target " + k.target.table);
    std::unique_ptr<BaselineReader> base =
        pg::value_or_throw(baseline.scan(KeyRange{}), "reading the baseline");

    ThreeWayDiff diff(m, *src, *tgt, *base, now);
    // No webhook: a diff never calls out; webhook conflicts show as such.
    ConflictResolver resolver(m, k.policy, nullptr);
    resolver.set_now(now);
    ext::PlanRow row;
    int64_t emitted = 0;
    while (limit < 0 || emitted < limit) {
      const DiffItem* item = nullptr;
      pg::throw_if_error(diff.next(item), "sync \"" + name + "\"");
      if (item == nullptr) break;
      if (!ext::describe(m, resolver, *item, row)) continue;
      ext::put_row(rsinfo, scratch, row);
      ++emitted;
    }
  });
  pg::pg_call([&] { MemoryContextDelete(scratch); });
  return Datum(0);
}
