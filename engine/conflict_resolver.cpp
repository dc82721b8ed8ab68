#include "engine/conflict_resolver.hpp"

namespace dbsync {

namespace {

// A row's hashes into `fields` (its storage reused) and the returned row hash: those the differ
// already computed when `row` is one of the item's own rows (classify hashed both rows, and
// their fields when a row hash differed from the baseline).
uint64_t hashes_into(const Row& row, size_t n, const DiffItem* item,
                     std::vector<uint64_t>& fields) {
  const bool source = item && &row == &item->source;
  const bool target = item && &row == &item->target;
  if ((source || target) && item->fields_hashed) {
    const std::vector<uint64_t>& known = source ? item->source_hashes : item->target_hashes;
    fields.assign(known.begin(), known.end());
  } else {
    fields.resize(n);
    for (size_t i = 0; i < n; ++i) fields[i] = hash_value(row[i]);
  }
  if (source) return item->source_hash;
  if (target) return item->target_hash;
  return hash_row(row, n);
}
uint64_t row_hash(const Row& row, size_t n, const DiffItem* item) {
  if (item && &row == &item->source) return item->source_hash;
  if (item && &row == &item->target) return item->target_hash;
  return hash_row(row, n);
}

// The baseline after a change: what each side holds once the change is applied. `item`: the
// differ's item whose rows `source_after`/`target_after` may be (their hashes are reused).
void finish(PlannedChange& p, const Row* source_after, const Row* target_after, size_t n,
            const DiffItem* item = nullptr) {
  if (!source_after && !target_after) {
    p.baseline_op = BaselineOp::kErase;
    return;
  }
  BaselineEntry& b = p.baseline;
  p.baseline_op = BaselineOp::kSet;
  b.key = p.key;
  b.source_present = source_after != nullptr;
  b.target_present = target_after != nullptr;
  if (source_after) {
    b.source_hash = hashes_into(*source_after, n, item, b.source_fields);
  } else {
    b.source_hash = 0;
    b.source_fields.clear();
  }
  if (target_after == source_after ||
      (source_after && target_after && b.source_hash == row_hash(*target_after, n, item))) {
    b.target_fields = b.source_fields;
    b.target_hash = b.source_hash;
  } else if (target_after) {
    b.target_hash = hashes_into(*target_after, n, item, b.target_fields);
  } else {
    b.target_hash = 0;
    b.target_fields.clear();
  }
}

// The change's target row becomes the item's mapped source row (after finish(), which hashes
// it in place). Taken when the caller allows (out.source_row), else copied; either way into
// storage from out.spare_rows when there is some, so a steady run allocates no rows: element-
// wise copies into values that already hold strings of the right sizes cost no allocation.
void set_target_row(PlannedChange& p, const DiffItem& item, ConflictResolver::Outcome& out) {
  if (p.target_values.empty() && out.spare_rows && !out.spare_rows->empty()) {
    p.target_values = std::move(out.spare_rows->back());
    out.spare_rows->pop_back();
  }
  if (out.source_row == &item.source)
    p.target_values.swap(*out.source_row);
  else
    p.target_values = item.source;
}

std::string field_list(const FieldSet& fields, const FieldMapper& mapper) {
  std::string s;
  fields.for_each([&](size_t i) { s += (s.empty() ? "" : ", ") + mapper.mapped_columns()[i]; });
  return s;
}

}  // namespace

ConflictResolver::ConflictResolver(const FieldMapper& mapper, SyncPolicy policy,
                                   ConflictWebhook* webhook)
    : mapper_(mapper), policy_(std::move(policy)), webhook_(webhook) {}

ConflictRecord ConflictResolver::record_of(const DiffItem& item) const {
  ConflictRecord c;
  c.kind = item.kind;
  c.key = item.key;
  if (item.has_source) {
    c.source = item.source;
    if (item.source_raw) c.source_raw = *item.source_raw;
  }
  if (item.has_target)
    c.target = Row(item.target.begin(),
                   item.target.begin() + static_cast<std::ptrdiff_t>(mapper_.mapped_count()));
  if (item.baseline) c.baseline = *item.baseline;
  c.source_fp = item.has_source ? item.source_fp : 0;
  c.target_fp = item.has_target ? item.target_fp : 0;
  c.source_changed = item.source_changed;
  c.target_changed = item.target_changed;
  c.conflicting = item.conflicting;
  return c;
}

void ConflictResolver::write_target(const ConflictRecord& c, const Row& want,
                                    PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  p.changed.reset(n);
  if (!c.target) {
    p.target_op = RowOp::kInsert;
    for (size_t i = 0; i < n; ++i) p.changed.set(i);
  } else {
    for (size_t i = 0; i < n; ++i)
      if (want[i] != (*c.target)[i]) p.changed.set(i);
    if (!p.changed.any()) return;
    p.target_op = RowOp::kUpdate;
  }
  p.target_values = want;
}

Status ConflictResolver::write_source(const ConflictRecord& c, const Row& want,
                                      PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  bool differs = !c.source;
  if (c.source)
    for (size_t i = 0; i < n && !differs; ++i)
      differs = mapper_.reversible(i) && want[i] != (*c.source)[i];
  if (!differs) return Status::ok();
  DBSYNC_RETURN_IF_ERROR(mapper_.reverse_key(want, p.source_key));
  p.source_values.clear();
  for (size_t i = 0; i < n; ++i) {
    if (!mapper_.reversible(i)) continue;
    bool take_raw = c.source && c.source_raw && want[i] == (*c.source)[i];
    if (take_raw) {
      p.source_values.push_back((*c.source_raw)[static_cast<size_t>(mapper_.reverse_position(i))]);
    } else {
      DBSYNC_ASSIGN_OR_RETURN(Value v, mapper_.reverse_value(i, want[i]));
      p.source_values.push_back(std::move(v));
    }
  }
  p.source_op = c.source ? RowOp::kUpdate : RowOp::kInsert;
  return Status::ok();
}

// What the source maps to once write_source(want) is applied: the source row as written back
// (reversible fields from `want`, the rest as they were, null for a new row), mapped again, so
// that computed columns are remembered as the source will compute them.
Row ConflictResolver::source_after_write(const ConflictRecord& c, const Row& want) const {
  const FieldMapper& m = mapper_;
  Row raw = c.source_raw ? *c.source_raw : Row(m.source_projection().size());
  bool rebuilt = raw.size() >= m.source_projection().size();
  for (size_t i = 0; i < m.mapped_count() && rebuilt; ++i) {
    if (!m.reversible(i)) continue;
    Result<Value> v = m.reverse_value(i, want[i]);
    if (!v.is_ok())
      rebuilt = false;
    else
      raw[static_cast<size_t>(m.reverse_position(i))] = std::move(v).value();
  }
  Row mapped;
  if (rebuilt && m.map_row(raw, &want, now_micros_, mapped).is_ok()) return mapped;
  // The row does not map (e.g. a computed column fails on the nulls of a new row): remember
  // the reversible fields as written and the others as they were.
  Row after = c.source ? *c.source : want;
  for (size_t i = 0; i < m.mapped_count(); ++i)
    if (m.reversible(i)) after[i] = want[i];
  return after;
}

Status ConflictResolver::delete_target(const ConflictRecord& c, PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  switch (policy_.delete_policy) {
    case DeletePolicy::kPropagate:
      if (c.target) p.target_op = RowOp::kDelete;
      finish(p, nullptr, nullptr, n);
      break;
    case DeletePolicy::kIgnore:
      finish(p, nullptr, c.target ? &*c.target : nullptr, n);
      break;
    case DeletePolicy::kSoft:
      if (c.target) p.target_op = RowOp::kSoftDelete;
      finish(p, nullptr, c.target ? &*c.target : nullptr, n);
      break;
  }
  return Status::ok();
}

Status ConflictResolver::delete_source(const ConflictRecord& c, PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  if (c.source && policy_.delete_policy != DeletePolicy::kIgnore) {
    DBSYNC_RETURN_IF_ERROR(mapper_.reverse_key(*c.source, p.source_key));
    p.source_op =
        policy_.delete_policy == DeletePolicy::kPropagate ? RowOp::kDelete : RowOp::kSoftDelete;
  }
  const Row* kept =
      policy_.delete_policy == DeletePolicy::kPropagate || !c.source ? nullptr : &*c.source;
  finish(p, kept, nullptr, n);
  return Status::ok();
}

Status ConflictResolver::take_source(const ConflictRecord& c, PlannedChange& p) const {
  if (!c.source) return delete_target(c, p);
  write_target(c, *c.source, p);
  finish(p, &*c.source, &*c.source, mapper_.mapped_count());
  return Status::ok();
}

Status ConflictResolver::take_target(const ConflictRecord& c, PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  if (!c.target) {
    if (policy_.direction == Direction::kTwoWay) return delete_source(c, p);
    finish(p, c.source ? &*c.source : nullptr, nullptr, n);  // accept the target's delete
    return Status::ok();
  }
  if (policy_.direction == Direction::kTwoWay) {
    DBSYNC_RETURN_IF_ERROR(write_source(c, *c.target, p));
    Row after = source_after_write(c, *c.target);
    finish(p, &after, &*c.target, n);
  } else {
    finish(p, c.source ? &*c.source : nullptr, &*c.target, n);
  }
  return Status::ok();
}

Status ConflictResolver::merge(const ConflictRecord& c, MergeFallback fallback,
                               PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  if (!c.source || !c.target) {
    // A delete against a change: decided for the whole row.
    switch (c.kind) {
      case DiffKind::kSourceDeleted:
        return take_source(c, p);
      case DiffKind::kTargetDeleted:
      case DiffKind::kTargetChanged:
      case DiffKind::kTargetInserted:
        return take_target(c, p);
      default:
        break;
    }
    if (fallback == MergeFallback::kSource) return take_source(c, p);
    if (fallback == MergeFallback::kTarget) return take_target(c, p);
    return error(ErrorCode::kConflict,
                 std::string("merge cannot decide: the row was deleted on one side and changed on "
                             "the other"));
  }
  const Row& s = *c.source;
  const Row& t = *c.target;
  Row want_target = t, want_source = s;
  FieldSet undecided(n);
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == t[i]) continue;
    bool sc = c.source_changed.size() > i && c.source_changed.test(i);
    bool tc = c.target_changed.size() > i && c.target_changed.test(i);
    if (sc && !tc) {
      want_target[i] = s[i];
    } else if (tc && !sc) {
      want_source[i] = t[i];
    } else if (sc && tc) {
      if (fallback == MergeFallback::kSource)
        want_target[i] = s[i];
      else if (fallback == MergeFallback::kTarget)
        want_source[i] = t[i];
      else
        undecided.set(i);
    }
    // Changed on neither side: a difference kept by an earlier decision stays.
  }
  if (undecided.any())
    return error(ErrorCode::kConflict, "merge cannot decide field(s) " +
                                           field_list(undecided, mapper_) +
                                           ": changed on both sides to different values");
  write_target(c, want_target, p);
  if (policy_.direction == Direction::kTwoWay) {
    DBSYNC_RETURN_IF_ERROR(write_source(c, want_source, p));
    Row after = source_after_write(c, want_source);
    finish(p, &after, &want_target, n);
  } else {
    finish(p, &s, &want_target, n);
  }
  return Status::ok();
}

Status ConflictResolver::custom(const ConflictRecord& c, const Row& row, PlannedChange& p) const {
  const size_t n = mapper_.mapped_count();
  if (row.size() != n)
    return error(ErrorCode::kInvalidArgument, "custom row has " + std::to_string(row.size()) +
                                                  " values, expected " + std::to_string(n));
  Row want = row;
  for (size_t i = 0; i < n; ++i) {
    Status st = coerce_in_place(want[i], mapper_.mapped_type(i), {});
    if (!st.is_ok())
      return st.with_context("custom row, column '" + mapper_.mapped_columns()[i] + "'");
  }
  for (size_t i = 0; i < mapper_.key_count(); ++i)
    if (want[i] != c.key[i])
      return error(ErrorCode::kInvalidArgument,
                   "custom row changes key column '" + mapper_.mapped_columns()[i] + "'");
  write_target(c, want, p);
  if (policy_.direction == Direction::kTwoWay) {
    DBSYNC_RETURN_IF_ERROR(write_source(c, want, p));
    Row after = source_after_write(c, want);
    finish(p, &after, &want, n);
  } else {
    finish(p, c.source ? &*c.source : nullptr, &want, n);
  }
  return Status::ok();
}

void ConflictResolver::skip(const ConflictRecord& c, PlannedChange& p) const {
  finish(p, c.source ? &*c.source : nullptr, c.target ? &*c.target : nullptr,
         mapper_.mapped_count());
}

Status ConflictResolver::by_strategy(Strategy strategy, const ConflictRecord& c,
                                     Outcome& out) const {
  PlannedChange& p = out.change;
  switch (strategy) {
    case Strategy::kSourceWins:
      if (c.kind == DiffKind::kTargetChanged && c.source && c.target) {
        // Revert the target's drift; differences kept by earlier decisions stay.
        Row want = *c.target;
        c.target_changed.for_each([&](size_t i) { want[i] = (*c.source)[i]; });
        write_target(c, want, p);
        finish(p, &*c.source, &want, mapper_.mapped_count());
        return Status::ok();
      }
      return take_source(c, p);
    case Strategy::kTargetWins:
      return take_target(c, p);
    case Strategy::kMerge: {
      Status st = merge(c, policy_.merge_fallback, p);
      if (st.code() == ErrorCode::kConflict) {
        p = PlannedChange{};
        p.kind = c.kind;
        p.key = c.key;
        out.pending = c;
        out.pending->reason = st.message();
        return Status::ok();
      }
      return st;
    }
    case Strategy::kManual:
      out.pending = c;
      out.pending->reason = "manual strategy";
      return Status::ok();
    case Strategy::kWebhook: {
      std::string failure = "no webhook configured";
      if (webhook_) {
        Result<WebhookAnswer> answer = webhook_->decide(c);
        if (answer.is_ok()) {
          Result<PlannedChange> r =
              resolve(c, answer->decision, answer->row ? &*answer->row : nullptr);
          if (r.is_ok()) {
            p = std::move(r).value();
            return Status::ok();
          }
          failure = "webhook answer could not be applied: " + r.status().message();
        } else {
          failure = "webhook failed: " + answer.status().message();
        }
      }
      Strategy fallback = policy_.webhook_fallback == Strategy::kWebhook ? Strategy::kManual
                                                                         : policy_.webhook_fallback;
      DBSYNC_RETURN_IF_ERROR(by_strategy(fallback, c, out));
      if (out.pending) out.pending->reason = failure;
      return Status::ok();
    }
  }
  return error(ErrorCode::kInternal, "unknown strategy");
}

Status ConflictResolver::plan(const DiffItem& item, Outcome& out) const {
  DBSYNC_RETURN_IF_ERROR(plan_change(item, out));
  // A source row that comes back after a soft delete: the target row is live again.
  PlannedChange& p = out.change;
  if (policy_.delete_policy == DeletePolicy::kSoft && item.baseline &&
      !item.baseline->source_present && item.has_source && item.has_target && !out.pending &&
      p.target_op != RowOp::kDelete && p.target_op != RowOp::kSoftDelete) {
    if (p.target_op == RowOp::kNone) {
      p.target_op = RowOp::kUpdate;
      p.target_values.assign(
          item.target.begin(),
          item.target.begin() + static_cast<std::ptrdiff_t>(mapper_.mapped_count()));
      if (p.key.empty()) p.key = item.key;
    }
    p.restore_soft = true;
  }
  return Status::ok();
}

Status ConflictResolver::plan_change(const DiffItem& item, Outcome& out) const {
  out.pending.reset();
  out.conflict = false;
  PlannedChange& p = out.change;
  // A change may be one reused from an applied batch: reset, its vectors keep their storage.
  p.reset();
  if (item.kind == DiffKind::kUnchanged || item.kind == DiffKind::kRowError) {
    p.kind = item.kind;  // the common case: an empty change
    return Status::ok();
  }
  p.kind = item.kind;
  p.key = item.key;
  const size_t n = mapper_.mapped_count();
  const bool two_way = policy_.direction == Direction::kTwoWay;

  switch (item.kind) {
    case DiffKind::kInStep:
      finish(p, &item.source, &item.target, n, &item);
      return Status::ok();
    case DiffKind::kSourceInserted:
      p.target_op = RowOp::kInsert;
      p.changed.reset(n);
      for (size_t i = 0; i < n; ++i) p.changed.set(i);
      finish(p, &item.source, &item.source, n, &item);
      set_target_row(p, item, out);
      return Status::ok();
    case DiffKind::kSourceChanged: {
      if (!item.has_target) {
        p.target_op = RowOp::kInsert;
        finish(p, &item.source, &item.source, n, &item);
        set_target_row(p, item, out);
        return Status::ok();
      }
      Row want(item.target.begin(), item.target.begin() + static_cast<std::ptrdiff_t>(n));
      item.source_changed.for_each([&](size_t i) { want[i] = item.source[i]; });
      p.changed = item.source_changed;
      if (want != Row(item.target.begin(), item.target.begin() + static_cast<std::ptrdiff_t>(n))) {
        p.target_op = RowOp::kUpdate;
        p.target_values = want;
      }
      finish(p, &item.source, &want, n, &item);
      return Status::ok();
    }
    case DiffKind::kBothDeleted:
      p.baseline_op = BaselineOp::kErase;
      return Status::ok();
    default:
      break;
  }

  ConflictRecord c = record_of(item);
  switch (item.kind) {
    case DiffKind::kTargetInserted:
      if (two_way) return take_target(c, p);
      return Status::ok();  // one-way leaves rows that only the target has alone
    case DiffKind::kTargetChanged:
      if (two_way) {
        if (!c.source) {
          skip(c, p);
          return Status::ok();
        }
        Row want = *c.source;
        c.target_changed.for_each([&](size_t i) { want[i] = (*c.target)[i]; });
        DBSYNC_RETURN_IF_ERROR(write_source(c, want, p));
        Row after = source_after_write(c, want);
        finish(p, &after, &*c.target, n);
        return Status::ok();
      }
      if (!c.source) {  // the source's delete was ignored earlier: accept the target's edit
        skip(c, p);
        return Status::ok();
      }
      out.conflict = true;
      return by_strategy(policy_.strategy, c, out);
    case DiffKind::kSourceDeleted:
      return take_source(c, p);
    case DiffKind::kTargetDeleted:
      if (two_way) return take_target(c, p);
      out.conflict = true;
      return by_strategy(policy_.strategy, c, out);
    case DiffKind::kSourceDeletedTargetChanged:
      if (policy_.delete_policy == DeletePolicy::kIgnore) return take_source(c, p);
      [[fallthrough]];
    default:
      out.conflict = true;
      return by_strategy(policy_.strategy, c, out);
  }
}

Result<PlannedChange> ConflictResolver::resolve(const ConflictRecord& c, Decision decision,
                                                const Row* custom_row) const {
  PlannedChange p;
  p.kind = c.kind;
  p.key = c.key;
  switch (decision) {
    case Decision::kSource:
      DBSYNC_RETURN_IF_ERROR(take_source(c, p));
      break;
    case Decision::kTarget:
      DBSYNC_RETURN_IF_ERROR(take_target(c, p));
      break;
    case Decision::kMerge:
      DBSYNC_RETURN_IF_ERROR(merge(c, policy_.merge_fallback, p));
      break;
    case Decision::kCustom:
      if (!custom_row) return error(ErrorCode::kInvalidArgument, "decision 'custom' needs a row");
      DBSYNC_RETURN_IF_ERROR(custom(c, *custom_row, p));
      break;
    case Decision::kSkip:
      skip(c, p);
      break;
  }
  // The decision was made on the rows the record shows: it writes only those row versions.
  set_expectations(p, c.source_fp, c.source_raw ? &*c.source_raw : nullptr, c.target_fp,
                   c.target ? &*c.target : nullptr);
  return p;
}

}  // namespace dbsync
