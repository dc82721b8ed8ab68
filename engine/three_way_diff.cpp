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
                           BaselineReader& baseline, int64_t now_micros)
    : mapper_(mapper), source_(source), target_(target), baseline_(baseline), now_(now_micros) {}

Status ThreeWayDiff::advance_source() {
  DBSYNC_RETURN_IF_ERROR(source_.next(src_));
  src_consumed_ = false;
  if (!src_) return Status::ok();
  src_key_error_ = mapper_.map_key(*src_, src_key_);
  if (!src_key_error_.is_ok()) return Status::ok();
  if (have_last_src_ && compare_keys(src_key_, last_src_key_) <= 0)
    return out_of_order("source", src_key_, last_src_key_);
  last_src_key_ = src_key_;
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

Status ThreeWayDiff::next(const DiffItem*& item) {
  item = nullptr;
  if (src_consumed_) DBSYNC_RETURN_IF_ERROR(advance_source());
  if (tgt_consumed_) DBSYNC_RETURN_IF_ERROR(advance_target());
  if (base_consumed_) DBSYNC_RETURN_IF_ERROR(advance_baseline());

  item_.error = Status::ok();
  item_.source_raw = nullptr;
  item_.baseline = nullptr;
  item_.has_source = item_.has_target = false;

  // A source row whose key cannot be mapped is reported on its own.
  if (src_ && !src_key_error_.is_ok()) {
    item_.kind = DiffKind::kRowError;
    item_.key_mapped = false;
    item_.key.clear();
    for (size_t i = 0; i < mapper_.key_count() && i < src_->size(); ++i)
      item_.key.push_back((*src_)[i]);
    item_.source_raw = src_;
    item_.error = src_key_error_;
    src_consumed_ = true;
    item = &item_;
    return Status::ok();
  }

  // The smallest current key, and which streams are at it (at most two comparisons).
  const Row* min_key = nullptr;
  bool at_src = false, at_tgt = false, at_base = false;
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
  if (!min_key) return Status::ok();  // all three streams are done
  item_.key = *min_key;
  item_.key_mapped = true;

  item_.has_source = at_src;
  item_.has_target = at_tgt;
  bool has_base = at_base;
  src_consumed_ = at_src;
  tgt_consumed_ = at_tgt;
  base_consumed_ = at_base;
  item_.baseline = has_base ? base_ : nullptr;
  if (item_.has_target) item_.target.swap(tgt_);

  if (item_.has_source) {
    item_.source_raw = src_;
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
  item = &item_;
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
