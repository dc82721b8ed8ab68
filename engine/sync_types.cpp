#include "engine/sync_types.hpp"

// Inlined XXH3: row hashing runs once per row per side, on short inputs where a call into the
// shared library costs as much as the hash.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace dbsync {

namespace {
template <typename E, size_t N>
Result<E> parse_name(std::string_view s, const std::pair<const char*, E> (&names)[N],
                     const char* what) {
  std::string expected;
  for (const auto& [name, value] : names) {
    if (s == name) return value;
    expected += expected.empty() ? name : std::string(", ") + name;
  }
  return error(ErrorCode::kInvalidArgument, std::string("unknown ") + what + " '" + std::string(s) +
                                                "' (expected " + expected + ")");
}

constexpr std::pair<const char*, Direction> kDirections[] = {{"one_way", Direction::kOneWay},
                                                             {"two_way", Direction::kTwoWay}};
constexpr std::pair<const char*, Strategy> kStrategies[] = {{"source_wins", Strategy::kSourceWins},
                                                            {"target_wins", Strategy::kTargetWins},
                                                            {"manual", Strategy::kManual},
                                                            {"merge", Strategy::kMerge},
                                                            {"webhook", Strategy::kWebhook}};
constexpr std::pair<const char*, MergeFallback> kFallbacks[] = {{"source", MergeFallback::kSource},
                                                                {"target", MergeFallback::kTarget},
                                                                {"manual", MergeFallback::kManual}};
constexpr std::pair<const char*, ManualMode> kManualModes[] = {
    {"hold_all", ManualMode::kHoldAll}, {"apply_clean", ManualMode::kApplyClean}};
constexpr std::pair<const char*, Decision> kDecisions[] = {{"source", Decision::kSource},
                                                           {"target", Decision::kTarget},
                                                           {"merge", Decision::kMerge},
                                                           {"custom", Decision::kCustom},
                                                           {"skip", Decision::kSkip}};
}  // namespace

const char* direction_name(Direction d) { return kDirections[static_cast<int>(d)].first; }
const char* strategy_name(Strategy s) { return kStrategies[static_cast<int>(s)].first; }
const char* decision_name(Decision d) { return kDecisions[static_cast<int>(d)].first; }

Result<Direction> parse_direction(std::string_view s) {
  return parse_name(s, kDirections, "direction");
}
Result<Strategy> parse_strategy(std::string_view s) {
  return parse_name(s, kStrategies, "conflict strategy");
}
Result<MergeFallback> parse_merge_fallback(std::string_view s) {
  return parse_name(s, kFallbacks, "merge fallback");
}
Result<ManualMode> parse_manual_mode(std::string_view s) {
  return parse_name(s, kManualModes, "manual mode");
}
Result<Decision> parse_decision(std::string_view s) {
  return parse_name(s, kDecisions, "decision");
}

Status parse_delete_policy(std::string_view s, SyncPolicy& policy) {
  if (s == "propagate") {
    policy.delete_policy = DeletePolicy::kPropagate;
  } else if (s == "ignore") {
    policy.delete_policy = DeletePolicy::kIgnore;
  } else if (s.substr(0, 5) == "soft:" && s.size() > 5) {
    policy.delete_policy = DeletePolicy::kSoft;
    policy.soft_delete_column = std::string(s.substr(5));
  } else {
    return error(ErrorCode::kInvalidArgument,
                 "unknown delete policy '" + std::string(s) +
                     "' (expected propagate, ignore or soft:<column>)");
  }
  return Status::ok();
}

uint64_t hash_row(const Row& row, size_t count) {
  thread_local std::string buf;
  buf.clear();
  for (size_t i = 0; i < count && i < row.size(); ++i) {
    const Value& v = row[i];
    switch (v.type()) {
      case ValueType::kText:
      case ValueType::kBytes:
      case ValueType::kJson: {
        // The common case, written directly: tag, 4-byte length, bytes (JSON's canonical ones).
        thread_local std::string json_scratch;
        const std::string_view s = v.type() == ValueType::kJson ? v.canonical_json(json_scratch)
                                                                : std::string_view(v.str());
        uint32_t len = static_cast<uint32_t>(s.size());
        char head[5] = {static_cast<char>(v.type()), static_cast<char>(len & 0xff),
                        static_cast<char>((len >> 8) & 0xff), static_cast<char>((len >> 16) & 0xff),
                        static_cast<char>(len >> 24)};
        buf.append(head, 5);
        buf.append(s);
        break;
      }
      case ValueType::kDecimal: {
        buf.push_back(static_cast<char>(v.type()));
        size_t at = buf.size();
        buf.append(4, '\0');
        v.append_canonical(buf);
        uint32_t len = static_cast<uint32_t>(buf.size() - at - 4);
        for (int b = 0; b < 4; ++b)
          buf[at + static_cast<size_t>(b)] = static_cast<char>((len >> (8 * b)) & 0xff);
        break;
      }
      default:
        buf.push_back(static_cast<char>(v.type()));
        v.append_canonical(buf);
    }
  }
  return XXH3_64bits(buf.data(), buf.size());
}

const char* diff_kind_name(DiffKind k) {
  switch (k) {
    case DiffKind::kUnchanged:
      return "unchanged";
    case DiffKind::kInStep:
      return "in_step";
    case DiffKind::kSourceChanged:
      return "source_changed";
    case DiffKind::kTargetChanged:
      return "target_changed";
    case DiffKind::kBothChanged:
      return "both_changed";
    case DiffKind::kSourceInserted:
      return "source_inserted";
    case DiffKind::kTargetInserted:
      return "target_inserted";
    case DiffKind::kFirstRunConflict:
      return "first_run_conflict";
    case DiffKind::kSourceDeleted:
      return "source_deleted";
    case DiffKind::kSourceDeletedTargetChanged:
      return "source_deleted_target_changed";
    case DiffKind::kTargetDeleted:
      return "target_deleted";
    case DiffKind::kTargetDeletedSourceChanged:
      return "target_deleted_source_changed";
    case DiffKind::kBothDeleted:
      return "both_deleted";
    case DiffKind::kRowError:
      return "row_error";
  }
  return "unknown";
}

bool is_conflict(DiffKind k) {
  return k == DiffKind::kBothChanged || k == DiffKind::kFirstRunConflict ||
         k == DiffKind::kSourceDeletedTargetChanged || k == DiffKind::kTargetDeletedSourceChanged;
}

const char* row_op_name(RowOp op) {
  switch (op) {
    case RowOp::kNone:
      return "none";
    case RowOp::kInsert:
      return "insert";
    case RowOp::kUpdate:
      return "update";
    case RowOp::kDelete:
      return "delete";
    case RowOp::kSoftDelete:
      return "soft_delete";
  }
  return "unknown";
}

void set_expectations(PlannedChange& change, uint64_t source_fp, const Row* source_raw,
                      uint64_t target_fp, const Row* target) {
  auto expects = [](RowOp op) {
    return op == RowOp::kUpdate || op == RowOp::kDelete || op == RowOp::kSoftDelete;
  };
  change.expect_target_fp = change.expect_source_fp = 0;
  change.expect_target.clear();
  change.expect_source.clear();
  if (expects(change.target_op)) {
    change.expect_target_fp = target_fp;
    if (target_fp == 0 && target) change.expect_target = *target;
  }
  if (expects(change.source_op)) {
    change.expect_source_fp = source_fp;
    if (source_fp == 0 && source_raw) change.expect_source = *source_raw;
  }
}

}  // namespace dbsync
