#include "engine/sync_executor.hpp"

#include <memory>

#include "engine/three_way_diff.hpp"

namespace dbsync {

namespace {

// A baseline reader whose first entry was read ahead (to learn whether there is one).
class PeekedBaselineReader final : public BaselineReader {
 public:
  explicit PeekedBaselineReader(std::unique_ptr<BaselineReader> inner) : inner_(std::move(inner)) {}
  Status peek(bool& empty) {
    DBSYNC_RETURN_IF_ERROR(inner_->next(first_));
    peeked_ = true;
    empty = first_ == nullptr;
    return Status::ok();
  }
  Status next(const BaselineEntry*& entry) override {
    if (peeked_) {
      peeked_ = false;
      entry = first_;
      return Status::ok();
    }
    return inner_->next(entry);
  }

 private:
  std::unique_ptr<BaselineReader> inner_;
  const BaselineEntry* first_ = nullptr;
  bool peeked_ = false;
};

// The fingerprints a change's new baseline remembers: a side left as it was read keeps the
// fingerprint read; a side the change writes gets its writer's (SyncExecutor::apply), unknown
// until then.
void set_fingerprints(const DiffItem& item, PlannedChange& p) {
  if (p.baseline_op != BaselineOp::kSet) return;
  p.baseline.source_fp = p.source_op == RowOp::kNone && item.has_source && p.baseline.source_present
                             ? item.source_fp
                             : 0;
  p.baseline.target_fp = p.target_op == RowOp::kNone && item.has_target && p.baseline.target_present
                             ? item.target_fp
                             : 0;
}

bool writes_row(RowOp op) {
  return op == RowOp::kInsert || op == RowOp::kUpdate || op == RowOp::kSoftDelete;
}

}  // namespace

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kAwaitingResolution:
      return "awaiting_resolution";
    case JobState::kCancelled:
      return "cancelled";
    case JobState::kFailed:
      return "failed";
  }
  return "unknown";
}

Result<Value> soft_delete_value(const TypeSpec& type, int64_t now_micros) {
  switch (type.kind) {
    case TypeKind::kBool:
      return Value::boolean(true);
    case TypeKind::kTimestamp:
      return Value::timestamp(now_micros);
    case TypeKind::kDate:
      return Value::date(static_cast<int32_t>(now_micros / kMicrosPerDay));
    case TypeKind::kInt:
      return Value::integer(1);
    default:
      return error(ErrorCode::kInvalidArgument,
                   "soft delete column of type " + type.name +
                       " is not supported (use boolean, a timestamp, a date or an integer)");
  }
}

Value soft_restore_value(const TypeSpec& type) {
  switch (type.kind) {
    case TypeKind::kBool:
      return Value::boolean(false);
    case TypeKind::kInt:
      return Value::integer(0);
    default:
      return Value::null();
  }
}

Result<SyncExecutor> SyncExecutor::create(const FieldMapper& mapper, const SyncPolicy& policy,
                                          const SyncEndpoints& e) {
  if (!e.source || !e.target || !e.baseline || !e.stage)
    return error(ErrorCode::kInvalidArgument,
                 "executor needs a source, a target, a baseline and a stage");
  if (policy.direction == Direction::kTwoWay && !e.source_writer)
    return error(ErrorCode::kInvalidArgument, "two-way sync needs a writable source");
  SyncExecutor x(mapper, policy, e);
  const bool manual_possible =
      policy.strategy == Strategy::kManual ||
      (policy.strategy == Strategy::kMerge && policy.merge_fallback == MergeFallback::kManual) ||
      (policy.strategy == Strategy::kWebhook &&
       (policy.webhook_fallback == Strategy::kManual ||
        policy.webhook_fallback == Strategy::kWebhook ||
        (policy.webhook_fallback == Strategy::kMerge &&
         policy.merge_fallback == MergeFallback::kManual)));
  x.hold_ = manual_possible && policy.manual_mode == ManualMode::kHoldAll;
  if (policy.delete_policy == DeletePolicy::kSoft) {
    const std::string& col = policy.soft_delete_column;
    x.target_soft_column_ = mapper.target_schema().index_of(col);
    if (x.target_soft_column_ < 0)
      return error(ErrorCode::kNotFound, "soft delete column '" + col + "' is not a target column");
    DBSYNC_RETURN_IF_ERROR(
        soft_delete_value(
            mapper.target_schema().columns[static_cast<size_t>(x.target_soft_column_)].type, 0)
            .status());
    if (policy.direction == Direction::kTwoWay) {
      x.source_soft_column_ = mapper.source_schema().index_of(col);
      if (x.source_soft_column_ < 0)
        return error(ErrorCode::kNotFound,
                     "soft delete column '" + col + "' is not a source column (two-way sync)");
    }
  }
  if (policy.direction == Direction::kTwoWay) {
    Row probe;
    for (size_t i = 0; i < mapper.key_count(); ++i)
      if (!mapper.reversible(i))
        return error(ErrorCode::kInvalidArgument,
                     "two-way sync needs every key column mapped as a plain column; '" +
                         mapper.mapped_columns()[i] + "' is computed");
    for (size_t i = 0; i < mapper.mapped_count(); ++i)
      if (mapper.reversible(i))
        x.source_write_columns_.push_back(
            mapper.source_projection()[static_cast<size_t>(mapper.reverse_position(i))]);
  }
  return x;
}

int64_t SyncExecutor::leave_skipped(std::vector<PlannedChange>& changes,
                                    const std::vector<size_t>& item_change,
                                    const std::vector<size_t>& skipped, bool source_side) {
  int64_t n = 0;
  for (size_t i : skipped) {
    if (i >= item_change.size()) continue;
    PlannedChange& c = changes[item_change[i]];
    RowOp& op = source_side ? c.source_op : c.target_op;
    const bool insert = op == RowOp::kInsert;
    op = RowOp::kNone;
    // The baseline stays as it was for this key: the next run reads the row again and decides.
    c.baseline_op = BaselineOp::kKeep;
    ++n;
    const std::string side = source_side ? "source" : "target";
    if (on_moved_)
      on_moved_(c.key, error(ErrorCode::kConflict,
                             insert ? "the key exists in the " + side +
                                          " already (inserted while the job ran, or a row the "
                                          "sync's filter hides): it was not overwritten"
                                    : "the " + side +
                                          " row changed while the job ran: it was not "
                                          "overwritten, the next run decides it again"));
  }
  return n;
}

Status SyncExecutor::apply(std::vector<PlannedChange>& changes, Progress& progress,
                           int64_t now_micros, bool* in_flight) {
  if (in_flight) *in_flight = false;
  const size_t k = mapper_.key_count();
  ChangeBatch& target = target_batch_;  // its items are reused: their keys keep their storage
  target.key_columns.assign(
      mapper_.mapped_target_columns().begin(),
      mapper_.mapped_target_columns().begin() + static_cast<std::ptrdiff_t>(k));
  target.columns = mapper_.mapped_target_columns();
  ChangeBatch source;
  source.key_columns.assign(mapper_.source_projection().begin(),
                            mapper_.source_projection().begin() + static_cast<std::ptrdiff_t>(k));
  source.columns = source_write_columns_;
  if (target_soft_column_ >= 0) {
    const TypeSpec& soft_type =
        mapper_.target_schema().columns[static_cast<size_t>(target_soft_column_)].type;
    target.soft_delete_column = target_soft_column_;
    DBSYNC_ASSIGN_OR_RETURN(target.soft_delete_value, soft_delete_value(soft_type, now_micros));
    target.soft_restore_value = soft_restore_value(soft_type);
  }
  if (source_soft_column_ >= 0) {
    source.soft_delete_column = source_soft_column_;
    DBSYNC_ASSIGN_OR_RETURN(
        source.soft_delete_value,
        soft_delete_value(
            mapper_.source_schema().columns[static_cast<size_t>(source_soft_column_)].type,
            now_micros));
  }

  target.expect_columns = target.columns;
  source.expect_columns = mapper_.source_projection();
  size_t used = 0;
  target_changes_.clear();
  std::vector<size_t> source_changes;
  for (size_t ci = 0; ci < changes.size(); ++ci) {
    PlannedChange& c = changes[ci];
    if (c.target_op != RowOp::kNone) {
      if (used == target.items.size()) target.items.emplace_back();
      ChangeBatch::Item& it = target.items[used++];
      it.op = c.target_op;
      it.key = c.key;
      if (c.target_op == RowOp::kInsert || c.target_op == RowOp::kUpdate)
        it.values = std::move(c.target_values);
      else
        it.values.clear();
      it.restore = c.restore_soft && target_soft_column_ >= 0;
      it.expect_fp = c.expect_target_fp;
      it.expect.swap(c.expect_target);
      c.expect_target.clear();
      target_changes_.push_back(ci);
    }
    if (c.source_op != RowOp::kNone) {
      ChangeBatch::Item it{c.source_op,
                           c.source_key,
                           c.source_op == RowOp::kInsert || c.source_op == RowOp::kUpdate
                               ? std::move(c.source_values)
                               : Row{},
                           false,
                           c.expect_source_fp,
                           std::move(c.expect_source)};
      source.items.push_back(std::move(it));
      source_changes.push_back(ci);
    }
  }
  target.items.resize(used);
  if (!target.items.empty()) {
    // Pipelined only when nothing else of the batch depends on the target's answer first, and
    // only inserts: what the target leaves of such a batch (keys that appeared since the read)
    // is known only when it is finished, and for inserts the baseline can be put right then.
    bool inserts_only = true;
    for (const ChangeBatch::Item& it : target.items) inserts_only &= it.op == RowOp::kInsert;
    const bool pipeline = in_flight != nullptr && source.items.empty() && inserts_only &&
                          endpoints_.target->pipelined();
    Status st =
        pipeline ? endpoints_.target->start_apply(target) : endpoints_.target->apply(target);
    if (!st.is_ok()) return st.with_context("applying to the target");
    if (pipeline)
      *in_flight = true;
    else
      progress.errors +=
          leave_skipped(changes, target_changes_, endpoints_.target->skipped(), false);
    const uint64_t fp = endpoints_.target->written_fingerprint();
    for (PlannedChange& c : changes)
      if (writes_row(c.target_op) && c.baseline_op == BaselineOp::kSet) c.baseline.target_fp = fp;
    // The target keeps nothing of the batch once started: its rows go back for reuse (at most a
    // batch's worth, the memory the batch held anyway).
    for (ChangeBatch::Item& it : target.items)
      if (!it.values.empty() && spare_rows_.size() < changes.size())
        spare_rows_.push_back(std::move(it.values));
  }
  if (!source.items.empty()) {
    if (!endpoints_.source_writer)
      return error(ErrorCode::kInternal, "a change for the source but no writable source");
    Status st = endpoints_.source_writer->apply(source);
    if (!st.is_ok()) return st.with_context("applying to the source");
    progress.errors +=
        leave_skipped(changes, source_changes, endpoints_.source_writer->skipped(), true);
    const uint64_t fp = endpoints_.source_writer->written_fingerprint();
    for (PlannedChange& c : changes)
      if (writes_row(c.source_op) && c.baseline_op == BaselineOp::kSet) c.baseline.source_fp = fp;
  }
  // With the target batch in flight, a baseline that commits on its own waits for it (the
  // caller writes it when the batch is settled).
  if (!(in_flight && *in_flight) || endpoints_.baseline->commits_with_progress()) {
    Status st = endpoints_.baseline->apply(changes);
    if (!st.is_ok()) return st.with_context("updating the baseline");
  }
  // What was written (a change left unwritten lost its op in leave_skipped).
  auto count = [](RowOp op, int64_t& inserted, int64_t& updated, int64_t& deleted) {
    if (op == RowOp::kInsert)
      ++inserted;
    else if (op == RowOp::kUpdate)
      ++updated;
    else if (op != RowOp::kNone)
      ++deleted;  // deletes and soft deletes
  };
  for (const PlannedChange& c : changes) {
    count(c.target_op, progress.inserted, progress.updated, progress.deleted);
    count(c.source_op, progress.source_inserted, progress.source_updated, progress.source_deleted);
  }
  return Status::ok();
}

JobOutcome SyncExecutor::run(const JobOptions& options) {
  JobOutcome out;
  Progress& progress = out.progress;
  auto fail = [&](Status st) {
    out.state = JobState::kFailed;
    out.error = std::move(st);
    return out;
  };
  auto report = [&]() {
    if (options.on_progress) options.on_progress(progress);
  };

  progress.phase = hold_ ? "staging" : "scanning";
  if (Result<int64_t> est = endpoints_.source->estimate_rows(); est.is_ok()) progress.total = *est;
  progress.checkpoint = options.resume_after;
  progress.source_checkpoint = options.resume_after_source;
  resolver_.set_now(options.now_micros);
  on_moved_ = options.on_row_error;
  report();

  const size_t k = mapper_.key_count();
  KeyRange range;
  range.after = options.resume_after;
  ScanRequest src_req{mapper_.source_projection(), k, range, options.batch_size};
  if (options.resume_after) {
    // The checkpoint is a target key; the source is scanned after its own key. Without the
    // source checkpoint it can be derived only when the key is a plain copy.
    if (options.resume_after_source) {
      src_req.range.after = options.resume_after_source;
    } else {
      Row source_key;
      Status st = mapper_.reverse_key(*options.resume_after, source_key);
      if (!st.is_ok())
        return fail(error(ErrorCode::kInvalidArgument,
                          "cannot resume: the checkpoint has no source key and the target key "
                          "is not a plain copy of it (" +
                              st.message() + ")"));
      src_req.range.after = source_key;
    }
  }
  ScanRequest tgt_req{mapper_.target_projection(), k, range, options.batch_size};

  Result<std::unique_ptr<BaselineReader>> base_scan = endpoints_.baseline->scan(range);
  if (!base_scan.is_ok()) return fail(base_scan.status().with_context("reading the baseline"));
  PeekedBaselineReader base(std::move(base_scan).value());
  bool first_sync = true;
  if (Status st = base.peek(first_sync); !st.is_ok())
    return fail(st.with_context("reading the baseline"));
  // With a baseline to compare with, read keys and fingerprints first and only the changed rows
  // in full (where the readers can); a first sync reads everything in full anyway.
  src_req.light = tgt_req.light = !first_sync && mapper_.key_from_source_key();

  Result<std::unique_ptr<RowReader>> src = endpoints_.source->scan(src_req);
  if (!src.is_ok()) return fail(src.status().with_context("reading the source"));
  Result<std::unique_ptr<RowReader>> tgt = endpoints_.target->scan(tgt_req);
  if (!tgt.is_ok()) return fail(tgt.status().with_context("reading the target"));

  ThreeWayDiff diff(mapper_, **src, **tgt, base, options.now_micros, options.batch_size);
  std::vector<PlannedChange> batch;
  std::vector<PlannedChange> refreshes;  // baseline entries that learn new fingerprints
  std::vector<ConflictRecord> pending;
  batch.reserve(options.batch_size);
  ConflictResolver::Outcome outcome;
  outcome.spare_rows = &spare_rows_;
  // Applied changes are planned into again (PlannedChange::reset keeps their storage): at most
  // a batch's worth is kept.
  auto recycle = [&](std::vector<PlannedChange>& done) {
    for (PlannedChange& c : done)
      if (spare_changes_.size() < options.batch_size) spare_changes_.push_back(std::move(c));
    done.clear();
  };
  std::optional<Row> last_key, last_source_key;

  // A target batch in flight (pipelined) and the progress that reports it: the batch's
  // checkpoint is reported (and so committed with the baseline) only once the target has
  // committed the batch, after the next batch was read meanwhile. Every way out of the loop
  // settles it first.
  bool in_flight = false;
  Progress in_flight_progress;
  std::vector<PlannedChange> in_flight_baseline;  // its baseline, when written after it
  auto settle = [&]() -> Status {
    if (!in_flight) return Status::ok();
    in_flight = false;
    Status st = endpoints_.target->finish_apply();
    if (!st.is_ok()) return st.with_context("applying to the target");
    if (const std::vector<size_t>& skipped = endpoints_.target->skipped(); !skipped.empty()) {
      // Inserts (a pipelined batch has nothing else) of keys that appeared since the read.
      int64_t n = 0;
      if (!in_flight_baseline.empty()) {
        n = leave_skipped(in_flight_baseline, target_changes_, skipped, false);
      } else {
        // The baseline went with the batch (it commits with the progress, not yet reported):
        // the keys left are forgotten, so the next run meets two rows without a baseline and
        // decides them as on a first sync (equal: in step; different: a conflict). (The batch's
        // audit, written with it, still lists them: a rare race, the rows are safe.)
        std::vector<PlannedChange> forget(skipped.size());
        std::vector<size_t> each(skipped.size());  // forget[i] is item i of its own batch
        for (size_t i = 0; i < skipped.size(); ++i) {
          forget[i].key = target_batch_.items[skipped[i]].key;
          forget[i].target_op = RowOp::kInsert;
          each[i] = i;
        }
        n = leave_skipped(forget, each, each, false);
        for (PlannedChange& f : forget) f.baseline_op = BaselineOp::kErase;
        st = endpoints_.baseline->apply(forget);
        if (!st.is_ok()) return st.with_context("updating the baseline");
      }
      for (Progress* p : {&in_flight_progress, &progress}) {
        p->inserted -= n;
        p->errors += n;
      }
    }
    if (!in_flight_baseline.empty()) {
      st = endpoints_.baseline->apply(in_flight_baseline);
      recycle(in_flight_baseline);
      if (!st.is_ok()) return st.with_context("updating the baseline");
    }
    if (options.on_progress) options.on_progress(in_flight_progress);
    return Status::ok();
  };
  auto flush = [&]() -> Status {
    DBSYNC_RETURN_IF_ERROR(settle());
    if (!batch.empty()) {
      if (hold_)
        DBSYNC_RETURN_IF_ERROR(endpoints_.stage->put_changes(batch));
      else
        DBSYNC_RETURN_IF_ERROR(apply(batch, progress, options.now_micros, &in_flight));
      if (in_flight && !endpoints_.baseline->commits_with_progress())
        in_flight_baseline.swap(batch);
      recycle(batch);
    }
    if (!pending.empty()) {
      DBSYNC_RETURN_IF_ERROR(endpoints_.stage->put_conflicts(pending));
      pending.clear();
    }
    if (!refreshes.empty()) {
      Status st = endpoints_.baseline->apply(refreshes);
      if (!st.is_ok()) return st.with_context("updating the baseline");
      refreshes.clear();
    }
    if (last_key) progress.checkpoint = last_key;
    if (last_source_key) progress.source_checkpoint = last_source_key;
    if (in_flight)
      in_flight_progress = progress;
    else
      report();
    return Status::ok();
  };

  // A cancel is polled every 1024 rows and before each batch is applied or staged, so it acts
  // within the current batch however small the job.
  auto cancelled = [&] { return options.cancelled && options.cancelled(); };
  auto stop = [&]() {
    // What was sent is finished and reported, so a cancelled job keeps what it applied.
    if (Status ss = settle(); !ss.is_ok()) return fail(ss);
    if (hold_) {
      // Nothing staged is kept, so there is no point to resume from: start over.
      (void)endpoints_.stage->clear();
      progress.checkpoint.reset();
      progress.source_checkpoint.reset();
    }
    out.state = JobState::kCancelled;
    return out;
  };
  size_t rows_since_flush = 0;
  for (;;) {
    if (in_flight && (progress.scanned & 255) == 0) {
      if (Status ps = endpoints_.target->pump(); !ps.is_ok())
        return fail(ps.with_context("applying to the target"));
    }
    if ((progress.scanned & 1023) == 0 && cancelled()) return stop();
    DiffItem* item = nullptr;
    Status st = diff.next(item);
    if (!st.is_ok()) return fail(st);
    if (!item) break;
    ++progress.scanned;
    ++rows_since_flush;

    Status row_error = item->kind == DiffKind::kRowError ? item->error : Status::ok();
    if (row_error.is_ok()) {
      outcome.source_row = &item->source;  // nothing below reads it again
      row_error = resolver_.plan(*item, outcome);
      if (row_error.is_ok()) {
        if (outcome.conflict) ++progress.conflicts;
        if (outcome.pending) {
          ++progress.conflicts_pending;
          pending.push_back(std::move(*outcome.pending));
        }
        if (item->kind == DiffKind::kUnchanged) ++progress.unchanged;
        if (!outcome.change.empty()) {
          set_fingerprints(*item, outcome.change);
          set_expectations(outcome.change, item->has_source ? item->source_fp : 0,
                           item->has_source ? item->source_raw : nullptr,
                           item->has_target ? item->target_fp : 0,
                           item->has_target ? &item->target : nullptr);
          // A key written back into the source (two-way) is a source key the scan has passed:
          // a job resumed after this batch must not read it again as new.
          if (outcome.change.source_op != RowOp::kNone && item->key_mapped &&
              (!last_source_key || compare_keys(outcome.change.source_key, *last_source_key) > 0))
            last_source_key = outcome.change.source_key;
          batch.push_back(std::move(outcome.change));
          if (!spare_changes_.empty()) {
            outcome.change = std::move(spare_changes_.back());
            spare_changes_.pop_back();
          }
        } else if (item->refresh_fingerprints && !outcome.pending) {
          // Unchanged, but a row was rewritten (or the baseline predates fingerprints): the
          // baseline learns the fingerprints, so the next run passes over the row unread.
          // Written at the next flush whether the job stages or not: it changes no hash.
          PlannedChange refresh;
          refresh.kind = DiffKind::kUnchanged;
          refresh.key = item->key;
          refresh.baseline_op = BaselineOp::kSet;
          refresh.baseline = *item->baseline;
          refresh.baseline.key = item->key;
          set_fingerprints(*item, refresh);
          refreshes.push_back(std::move(refresh));
        }
      }
    }
    if (!row_error.is_ok()) {
      ++progress.errors;
      if (options.on_row_error) options.on_row_error(item->key, row_error);
      if (options.max_row_errors >= 0 && progress.errors > options.max_row_errors)
        return fail(error(ErrorCode::kInvalidArgument, "too many row errors (" +
                                                           std::to_string(progress.errors) +
                                                           "); the last: " + row_error.message()));
    }
    if (item->key_mapped) last_key = item->key;
    if (item->source_raw) {
      if (!last_source_key) last_source_key.emplace();
      last_source_key->assign(item->source_raw->begin(),
                              item->source_raw->begin() + static_cast<std::ptrdiff_t>(k));
    }
    if (batch.size() >= options.batch_size || rows_since_flush >= options.batch_size * 8 ||
        pending.size() >= options.batch_size || refreshes.size() >= options.batch_size) {
      if (cancelled()) return stop();
      if (Status fs = flush(); !fs.is_ok()) return fail(fs);
      rows_since_flush = 0;
    }
  }
  if (cancelled()) return stop();
  if (Status fs = flush(); !fs.is_ok()) return fail(fs);
  if (Status ss = settle(); !ss.is_ok()) return fail(ss);

  Result<int64_t> waiting = endpoints_.stage->pending_conflicts();
  if (!waiting.is_ok()) return fail(waiting.status().with_context("reading the stage"));
  progress.conflicts_pending = *waiting;
  if (*waiting > 0) {
    out.state = JobState::kAwaitingResolution;
    report();
    return out;
  }
  if (hold_) {
    JobOutcome committed = commit(options);
    committed.progress.scanned = progress.scanned;
    committed.progress.unchanged = progress.unchanged;
    committed.progress.conflicts = progress.conflicts;
    committed.progress.errors += progress.errors;  // plus rows the commit left (moved on)
    committed.progress.total = progress.total;
    committed.progress.checkpoint = progress.checkpoint;
    committed.progress.source_checkpoint = progress.source_checkpoint;
    return committed;
  }
  progress.phase = "done";
  report();
  out.state = JobState::kSucceeded;
  return out;
}

JobOutcome SyncExecutor::commit(const JobOptions& options) {
  JobOutcome out;
  Progress& progress = out.progress;
  Result<int64_t> waiting = endpoints_.stage->pending_conflicts();
  if (!waiting.is_ok()) {
    out.error = waiting.status().with_context("reading the stage");
    return out;
  }
  if (*waiting > 0) {
    progress.conflicts_pending = *waiting;
    out.state = JobState::kAwaitingResolution;
    return out;
  }
  on_moved_ = options.on_row_error;
  progress.phase = "committing";
  if (options.on_progress) options.on_progress(progress);
  Status st = endpoints_.stage->read_changes(
      options.batch_size, [&](std::vector<PlannedChange>& changes) -> Status {
        if (options.cancelled && options.cancelled())
          return error(ErrorCode::kCancelled, "cancelled while committing");
        DBSYNC_RETURN_IF_ERROR(apply(changes, progress, options.now_micros));
        if (options.on_progress) options.on_progress(progress);
        return Status::ok();
      });
  if (!st.is_ok()) {
    out.state = st.code() == ErrorCode::kCancelled ? JobState::kCancelled : JobState::kFailed;
    out.error = st;
    return out;
  }
  if (Status cs = endpoints_.stage->clear(); !cs.is_ok()) {
    out.error = cs.with_context("clearing the stage");
    return out;
  }
  progress.phase = "done";
  if (options.on_progress) options.on_progress(progress);
  out.state = JobState::kSucceeded;
  return out;
}

}  // namespace dbsync
