#include "engine/three_way_diff.hpp"

namespace dbsync {

namespace {

Status out_of_order(const char* stream, const Row& key, const Row& last) {
  bool duplicate = compare_keys(key, last) == 0;
  return error(ErrorCode::kOrdering,
               std::string(stream) +
                   (duplicate ? " has a duplicate key " : " rows are not in key order: ") +
                   key_to_string(key) + (duplicate ? "" : " came after " + key_to_string(last)) +
                   (duplicate ? ": the key columns must be unique"
                              : ": the key must be unique and read in ascending (byte) order"));
}

// Fields whose hash differs from the baseline's; all fields when the baseline has none.
void changed_fields(const std::vector<uint64_t>& now, const std::vector<uint64_t>& before,
                    FieldSet& out) {
  if (before.size() != now.size()) {
    for (size_t i = 0; i < now.size(); ++i) out.set(i);
    return;
  }
  for (size_t i = 0; i < now.size(); ++i)
    if (now[i] != before[i]) out.set(i);
}

}  // namespace

ThreeWayDiff::ThreeWayDiff(const FieldMapper& mapper, RowReader& source, RowReader& target,
                           BaselineReader& baseline, int64_t now_micros, size_t window)
    : mapper_(mapper),
      source_(source),
      target_(target),
      baseline_(baseline),
      now_(now_micros),
      light_(source.light() || target.light()),
      window_(window ? window : 1000) {}

Status ThreeWayDiff::advance_source() {
  DBSYNC_RETURN_IF_ERROR(source_.next(src_));
  src_consumed_ = false;
  if (!src_) return Status::ok();
  src_key_error_ = mapper_.map_key(*src_, src_key_);
  if (!src_key_error_.is_ok()) return Status::ok();
  const size_t k = std::min(mapper_.key_count(), src_->size());
  if (have_last_src_) {
    const int c = compare_keys(src_key_, last_src_key_);
    if (c == 0) {
      // Two source keys that map to one target key (1.0 and 1.00 into an integer, or a source
      // key that is not unique): the first one is synced, this one is a row error.
      const Row own(src_->begin(), src_->begin() + static_cast<std::ptrdiff_t>(k));
      src_key_error_ = error(ErrorCode::kInvalidArgument,
                             "source key " + key_to_string(own) + " maps to the target key " +
                                 key_to_string(src_key_) + ", as the source key " +
                                 key_to_string(last_src_raw_key_) +
                                 " before it does: the mapped key must be unique; this row is "
                                 "left out");
      return Status::ok();
    }
    if (c < 0) return out_of_order("source", src_key_, last_src_key_);
  }
  last_src_key_ = src_key_;
  last_src_raw_key_.assign(src_->begin(), src_->begin() + static_cast<std::ptrdiff_t>(k));
  have_last_src_ = true;
  return Status::ok();
}

Status ThreeWayDiff::advance_target() {
  DBSYNC_RETURN_IF_ERROR(target_.next(tgt_raw_));
  tgt_consumed_ = false;
  if (!tgt_raw_) return Status::ok();
  tgt_ = *tgt_raw_;
  Status st = mapper_.canonicalize_target(tgt_);
  if (!st.is_ok()) return st.with_context("target row");
  tgt_.resize(std::max(tgt_.size(), mapper_.mapped_count()));
  const size_t k = mapper_.key_count();
  tgt_key_error_ = Status::ok();
  for (size_t i = 0; i < k; ++i)
    if (tgt_[i].is_null()) {
      // A nullable unique key: such a row has no key to sync by. It is a row error, left alone,
      // and the stream's order is checked without it (PostgreSQL sorts nulls last).
      const std::string where =
          k > 1 ? " (key " + key_to_string(Row(tgt_.begin(), tgt_.begin() + k)) + ")" : "";
      tgt_key_error_ =
          error(ErrorCode::kInvalidArgument,
                "key column '" + mapper_.mapped_columns()[i] + "' of a target row" + where +
                    " is null: the row has no key to sync by and is left alone");
      return Status::ok();
    }
  if (have_last_tgt_) {
    int c = 0;
    for (size_t i = 0; i < k && c == 0; ++i) c = compare_values(tgt_[i], last_tgt_key_[i]);
    if (c <= 0) return out_of_order("target", Row(tgt_.begin(), tgt_.begin() + k), last_tgt_key_);
  }
  last_tgt_key_.assign(tgt_.begin(), tgt_.begin() + static_cast<std::ptrdiff_t>(k));
  have_last_tgt_ = true;
  return Status::ok();
}

Status ThreeWayDiff::advance_baseline() {
  DBSYNC_RETURN_IF_ERROR(baseline_.next(base_));
  base_consumed_ = false;
  if (!base_) return Status::ok();
  if (have_last_base_ && compare_keys(base_->key, last_base_key_) <= 0)
    return out_of_order("baseline", base_->key, last_base_key_);
  last_base_key_ = base_->key;
  have_last_base_ = true;
  return Status::ok();
}

bool ThreeWayDiff::at_min_key(const Row*& min_key, bool& at_src, bool& at_tgt,
                              bool& at_base) const {
  min_key = nullptr;
  at_src = at_tgt = at_base = false;
  if (src_) {
    min_key = &src_key_;
    at_src = true;
  }
  auto consider = [&](const Row& key, bool& at) {
    if (!min_key) {
      min_key = &key;
      at = true;
      return;
    }
    int c = compare_keys(key, *min_key);
    if (c < 0) {
      at_src = at_tgt = at_base = false;
      min_key = &key;
      at = true;
    } else if (c == 0) {
      at = true;
    }
  };
  if (tgt_raw_) consider(last_tgt_key_, at_tgt);
  if (base_) consider(base_->key, at_base);
  return min_key != nullptr;
}

bool ThreeWayDiff::unchanged_by_fingerprint(const BaselineEntry* b, bool has_source,
                                            bool has_target, uint64_t source_fp,
                                            uint64_t target_fp) {
  return b && (has_source || has_target) && has_source == b->source_present &&
         has_target == b->target_present &&
         (!has_source || (source_fp != 0 && source_fp == b->source_fp)) &&
         (!has_target || (target_fp != 0 && target_fp == b->target_fp));
}

void ThreeWayDiff::row_error_item(const Row& source_row, const Status& st) {
  item_.kind = DiffKind::kRowError;
  item_.key_mapped = false;
  item_.key.clear();
  for (size_t i = 0; i < mapper_.key_count() && i < source_row.size(); ++i)
    item_.key.push_back(source_row[i]);
  item_.source_raw = &source_row;
  item_.error = st;
}

void ThreeWayDiff::target_row_error_item(const Row& key, const Status& st) {
  item_.kind = DiffKind::kRowError;
  item_.key_mapped = false;
  item_.key = key;
  item_.source_raw = nullptr;
  item_.error = st;
}

void ThreeWayDiff::unchanged_item() {
  const size_t n = mapper_.mapped_count();
  item_.kind = DiffKind::kUnchanged;
  item_.fields_hashed = false;
  item_.source_hash = item_.baseline ? item_.baseline->source_hash : 0;
  item_.target_hash = item_.baseline ? item_.baseline->target_hash : 0;
  item_.source_changed.reset(n);
  item_.target_changed.reset(n);
  item_.differing.reset(n);
  item_.conflicting.reset(n);
}

void ThreeWayDiff::note_refresh() {
  const BaselineEntry* b = item_.baseline;
  item_.refresh_fingerprints =
      item_.kind == DiffKind::kUnchanged && b &&
      ((item_.has_source && item_.source_fp != 0 && item_.source_fp != b->source_fp) ||
       (item_.has_target && item_.target_fp != 0 && item_.target_fp != b->target_fp));
}

Status ThreeWayDiff::next(DiffItem*& item) {
  item = nullptr;
  item_.error = Status::ok();
  item_.source_raw = nullptr;
  item_.baseline = nullptr;
  item_.has_source = item_.has_target = false;
  item_.source_fp = item_.target_fp = 0;
  item_.refresh_fingerprints = false;

  if (light_) {
    if (pending_next_ >= pending_used_) {
      DBSYNC_RETURN_IF_ERROR(fill_window());
      if (pending_used_ == 0) return Status::ok();  // the end
    }
    DBSYNC_RETURN_IF_ERROR(emit(pending_[pending_next_++]));
    item = &item_;
    return Status::ok();
  }

  if (src_consumed_) DBSYNC_RETURN_IF_ERROR(advance_source());
  if (tgt_consumed_) DBSYNC_RETURN_IF_ERROR(advance_target());
  if (base_consumed_) DBSYNC_RETURN_IF_ERROR(advance_baseline());

  // A source row whose key cannot be mapped is reported on its own.
  if (src_ && !src_key_error_.is_ok()) {
    row_error_item(*src_, src_key_error_);
    src_consumed_ = true;
    item = &item_;
    return Status::ok();
  }
  if (tgt_raw_ && !tgt_key_error_.is_ok()) {
    target_row_error_item(
        Row(tgt_.begin(), tgt_.begin() + static_cast<std::ptrdiff_t>(mapper_.key_count())),
        tgt_key_error_);
    tgt_consumed_ = true;
    item = &item_;
    return Status::ok();
  }

  const Row* min_key = nullptr;
  bool at_src, at_tgt, at_base;
  if (!at_min_key(min_key, at_src, at_tgt, at_base)) return Status::ok();  // all streams done
  item_.key = *min_key;
  item_.key_mapped = true;

  item_.has_source = at_src;
  item_.has_target = at_tgt;
  src_consumed_ = at_src;
  tgt_consumed_ = at_tgt;
  base_consumed_ = at_base;
  item_.baseline = at_base ? base_ : nullptr;
  item_.source_fp = at_src ? source_.fingerprint() : 0;
  item_.target_fp = at_tgt ? target_.fingerprint() : 0;
  if (at_src) item_.source_raw = src_;

  // Both sides as the baseline last saw them: nothing to map or hash.
  if (unchanged_by_fingerprint(item_.baseline, at_src, at_tgt, item_.source_fp, item_.target_fp)) {
    unchanged_item();
    item = &item_;
    return Status::ok();
  }
  if (item_.has_target) item_.target.swap(tgt_);
  if (item_.has_source) {
    Status st =
        mapper_.map_row(*src_, item_.has_target ? &item_.target : nullptr, now_, item_.source);
    if (!st.is_ok()) {
      item_.kind = DiffKind::kRowError;
      item_.error = st;
      item = &item_;
      return Status::ok();
    }
  }
  classify();
  note_refresh();
  item = &item_;
  return Status::ok();
}

// Reads keys into the window until it holds `window_` keys to read in full, or 4 times as many
// keys in all, or the streams end; then reads the changed rows in full, a lookup per side.
Status ThreeWayDiff::fill_window() {
  pending_used_ = pending_next_ = 0;
  const size_t k = mapper_.key_count();
  const bool src_light = source_.light(), tgt_light = target_.light();
  std::vector<Row> src_keys, tgt_keys;
  auto slot = [&]() -> Pending& {
    if (pending_used_ == pending_.size()) pending_.emplace_back();
    Pending& p = pending_[pending_used_++];
    p.has_source = p.has_target = p.candidate = p.row_error = p.target_error = p.has_baseline =
        false;
    p.source_fp = p.target_fp = 0;
    return p;
  };
  auto key_part = [&](const Row& row, Row& out) {
    out.assign(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(std::min(k, row.size())));
  };

  while (!streams_done_ && src_keys.size() < window_ && tgt_keys.size() < window_ &&
         pending_used_ < window_ * 4) {
    if (src_consumed_) DBSYNC_RETURN_IF_ERROR(advance_source());
    if (tgt_consumed_) DBSYNC_RETURN_IF_ERROR(advance_target());
    if (base_consumed_) DBSYNC_RETURN_IF_ERROR(advance_baseline());

    if (src_ && !src_key_error_.is_ok()) {
      Pending& p = slot();
      p.row_error = true;
      p.error = src_key_error_;
      p.source_row = *src_;
      src_consumed_ = true;
      continue;
    }
    if (tgt_raw_ && !tgt_key_error_.is_ok()) {
      Pending& p = slot();
      p.row_error = p.target_error = true;
      p.error = tgt_key_error_;
      key_part(tgt_, p.key);
      tgt_consumed_ = true;
      continue;
    }
    const Row* min_key = nullptr;
    bool at_src, at_tgt, at_base;
    if (!at_min_key(min_key, at_src, at_tgt, at_base)) {
      streams_done_ = true;
      break;
    }
    Pending& p = slot();
    p.key = *min_key;
    p.has_source = at_src;
    p.has_target = at_tgt;
    p.source_fp = at_src ? source_.fingerprint() : 0;
    p.target_fp = at_tgt ? target_.fingerprint() : 0;
    if (at_src) key_part(*src_, p.source_key);
    const BaselineEntry* b = at_base ? base_ : nullptr;
    p.candidate = !unchanged_by_fingerprint(b, at_src, at_tgt, p.source_fp, p.target_fp);
    if (p.candidate) {
      p.has_baseline = b != nullptr;
      if (b) p.baseline = *b;
      if (at_src) {
        if (src_light)
          src_keys.push_back(p.source_key);
        else
          p.source_row = *src_;
      }
      if (at_tgt) {
        if (tgt_light) {
          key_part(*tgt_raw_, p.target_key);
          tgt_keys.push_back(p.target_key);
        } else {
          p.target_row = *tgt_raw_;
        }
      }
    }
    src_consumed_ = at_src;
    tgt_consumed_ = at_tgt;
    base_consumed_ = at_base;
  }

  // The changed keys' full rows. A row gone since its key was read is absent on that side.
  auto read_full = [&](RowReader& reader, const std::vector<Row>& keys, bool source_side,
                       const char* side) -> Status {
    if (keys.empty()) return Status::ok();
    size_t i = 0;  // the next pending entry to match
    auto next_wanting = [&]() {
      for (; i < pending_used_; ++i) {
        const Pending& p = pending_[i];
        if (p.candidate && !p.row_error && (source_side ? p.has_source : p.has_target)) return;
      }
    };
    auto own_key = [&](const Pending& p) -> const Row& {
      return source_side ? p.source_key : p.target_key;
    };
    std::vector<bool> found(pending_used_, false);
    next_wanting();
    Status st = reader.lookup(keys, [&](const Row& row, uint64_t fp) -> Status {
      Row key(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(std::min(k, row.size())));
      while (i < pending_used_ && compare_keys(own_key(pending_[i]), key) < 0) {
        ++i;
        next_wanting();
      }
      if (i >= pending_used_ || compare_keys(own_key(pending_[i]), key) != 0)
        return error(ErrorCode::kOrdering, std::string(side) + " lookup returned the key " +
                                               key_to_string(key) +
                                               " that was not asked for, or out of order");
      Pending& p = pending_[i];
      (source_side ? p.source_row : p.target_row) = row;
      (source_side ? p.source_fp : p.target_fp) = fp;
      found[i] = true;
      ++i;
      next_wanting();
      return Status::ok();
    });
    if (!st.is_ok()) return st.with_context(std::string("reading changed ") + side + " rows");
    for (size_t j = 0; j < pending_used_; ++j) {
      Pending& p = pending_[j];
      if (!p.candidate || p.row_error || found[j]) continue;
      if (source_side && p.has_source) p.has_source = false;
      if (!source_side && p.has_target) p.has_target = false;
    }
    return Status::ok();
  };
  if (src_light) DBSYNC_RETURN_IF_ERROR(read_full(source_, src_keys, true, "source"));
  if (tgt_light) DBSYNC_RETURN_IF_ERROR(read_full(target_, tgt_keys, false, "target"));
  return Status::ok();
}

Status ThreeWayDiff::emit(Pending& p) {
  if (p.row_error) {
    if (p.target_error)
      target_row_error_item(p.key, p.error);
    else
      row_error_item(p.source_row, p.error);
    return Status::ok();
  }
  item_.key = p.key;
  item_.key_mapped = true;
  item_.has_source = p.has_source;
  item_.has_target = p.has_target;
  item_.source_fp = p.source_fp;
  item_.target_fp = p.target_fp;
  item_.baseline = p.has_baseline ? &p.baseline : nullptr;
  if (!p.candidate) {
    unchanged_item();
    if (p.has_source) item_.source_raw = &p.source_key;
    return Status::ok();
  }
  if (p.has_target) {
    item_.target.swap(p.target_row);
    Status st = mapper_.canonicalize_target(item_.target);
    if (!st.is_ok()) return st.with_context("target row");
    item_.target.resize(std::max(item_.target.size(), mapper_.mapped_count()));
  }
  if (p.has_source) {
    item_.source_raw = &p.source_row;
    Status st =
        mapper_.map_row(p.source_row, p.has_target ? &item_.target : nullptr, now_, item_.source);
    if (!st.is_ok()) {
      item_.kind = DiffKind::kRowError;
      item_.error = st;
      return Status::ok();
    }
  }
  classify();
  note_refresh();
  return Status::ok();
}

void ThreeWayDiff::compute_field_hashes() {
  DiffItem& d = item_;
  const size_t n = mapper_.mapped_count();
  if (d.has_source) {
    d.source_hashes.resize(n);
    for (size_t i = 0; i < n; ++i) d.source_hashes[i] = hash_value(d.source[i]);
  }
  if (d.has_target) {
    d.target_hashes.resize(n);
    for (size_t i = 0; i < n; ++i) d.target_hashes[i] = hash_value(d.target[i]);
  }
  d.differing.reset(n);
  if (d.has_source && d.has_target)
    for (size_t i = 0; i < n; ++i)
      if (d.source_hashes[i] != d.target_hashes[i]) d.differing.set(i);
}

void ThreeWayDiff::classify() {
  DiffItem& d = item_;
  const size_t n = mapper_.mapped_count();
  d.source_changed.reset(n);
  d.target_changed.reset(n);
  d.differing.reset(n);
  d.conflicting.reset(n);
  d.fields_hashed = false;
  const bool S = d.has_source, T = d.has_target;
  d.source_hash = S ? hash_row(d.source, n) : 0;
  d.target_hash = T ? hash_row(d.target, n) : 0;
  const BaselineEntry* b = d.baseline;

  // The common case: both sides exactly as the baseline remembers them.
  if (b && S == b->source_present && T == b->target_present &&
      (!S || d.source_hash == b->source_hash) && (!T || d.target_hash == b->target_hash)) {
    d.kind = (S || T) ? DiffKind::kUnchanged : DiffKind::kBothDeleted;
    return;
  }
  if (!b && !(S && T)) {
    d.kind = S ? DiffKind::kSourceInserted : DiffKind::kTargetInserted;
    return;
  }
  compute_field_hashes();
  d.fields_hashed = true;

  if (!b) {
    if (d.differing.any()) {
      d.kind = DiffKind::kFirstRunConflict;
      d.source_changed = d.target_changed = d.conflicting = d.differing;
    } else {
      d.kind = DiffKind::kInStep;
    }
    return;
  }

  bool sc, tc;
  if (S) {
    if (b->source_present)
      changed_fields(d.source_hashes, b->source_fields, d.source_changed);
    else
      for (size_t i = 0; i < n; ++i) d.source_changed.set(i);
    sc = d.source_changed.any();
  } else {
    sc = b->source_present;
  }
  if (T) {
    if (b->target_present)
      changed_fields(d.target_hashes, b->target_fields, d.target_changed);
    else
      for (size_t i = 0; i < n; ++i) d.target_changed.set(i);
    tc = d.target_changed.any();
  } else {
    tc = b->target_present;
  }

  if (S && T) {
    if (!d.differing.any())
      d.kind = (sc || tc) ? DiffKind::kInStep : DiffKind::kUnchanged;
    else if (!sc && !tc)
      d.kind = DiffKind::kUnchanged;  // kept apart by an earlier decision
    else if (sc && !tc)
      d.kind = DiffKind::kSourceChanged;
    else if (!sc && tc)
      d.kind = DiffKind::kTargetChanged;
    else {
      d.kind = DiffKind::kBothChanged;
      d.conflicting = d.source_changed & d.target_changed & d.differing;
    }
  } else if (S) {
    if (!tc)
      d.kind = sc ? DiffKind::kSourceChanged : DiffKind::kUnchanged;
    else
      d.kind = sc ? DiffKind::kTargetDeletedSourceChanged : DiffKind::kTargetDeleted;
  } else if (T) {
    if (!sc)
      d.kind = tc ? DiffKind::kTargetChanged : DiffKind::kUnchanged;
    else
      d.kind = tc ? DiffKind::kSourceDeletedTargetChanged : DiffKind::kSourceDeleted;
  } else {
    d.kind = DiffKind::kBothDeleted;
  }
}

}  // namespace dbsync
