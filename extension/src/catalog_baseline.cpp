#include "extension/src/catalog_baseline.hpp"

#include <optional>
#include <utility>

#include "engine/row_codec.hpp"
#include "engine/status.hpp"
#include "extension/src/pg/spi.hpp"

namespace dbsync::ext {
namespace {

using pg::spi::Param;

// bytea as PostgreSQL prints it (bytea_output = hex, set by with_safe_search_path) and back.
std::string bytea_literal(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> bytea_from_text(const std::string& text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
    return error(ErrorCode::kInternal, "bytea not in hex output form");
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) return error(ErrorCode::kInternal, "bytea not in hex output form");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

class CatalogBaselineReader final : public BaselineReader {
 public:
  CatalogBaselineReader(std::string sync_id, std::optional<std::string> after,
                        std::optional<std::string> upto, size_t page_rows)
      : sync_id_(std::move(sync_id)), upto_(std::move(upto)), page_rows_(page_rows) {
    if (after) after_literal_ = bytea_literal(*after);
  }

  Status next(const BaselineEntry*& entry) override {
    entry = nullptr;
    if (pos_ >= page_.size()) {
      if (done_) return Status::ok();
      fetch();
      if (page_.empty()) return Status::ok();
    }
    size_t r = pos_++;
    if (!page_.at(r, 0) || !page_.at(r, 1))
      return error(ErrorCode::kInternal, "dbsync.sync_state: a NULL key or state");
    Result<std::string> key_bytes = bytea_from_text(*page_.at(r, 0));
    if (!key_bytes.is_ok()) return key_bytes.status().with_context("dbsync.sync_state key");
    Result<std::string> state_bytes = bytea_from_text(*page_.at(r, 1));
    if (!state_bytes.is_ok()) return state_bytes.status().with_context("dbsync.sync_state state");
    Result<Row> key = decode_sortable_key(*key_bytes);
    if (!key.is_ok()) return key.status().with_context("dbsync.sync_state key");
    Result<BaselineEntry> decoded = decode_baseline(*state_bytes, std::move(key).value());
    if (!decoded.is_ok()) return decoded.status().with_context("dbsync.sync_state state");
    current_ = std::move(decoded).value();
    entry = &current_;
    return Status::ok();
  }

 private:
  void fetch() {
    // The previous page's last key, as printed: it binds back as the same bytea.
    if (!page_.empty()) after_literal_ = page_.at(page_.size() - 1, 0);
    std::vector<Param> params{sync_id_};
    std::string sql = "SELECT key, state FROM dbsync.sync_state WHERE sync_id = $1::bigint";
    if (after_literal_) {
      params.push_back(after_literal_);
      sql += " AND key > $" + std::to_string(params.size()) + "::bytea";
    }
    if (upto_) {
      params.push_back(bytea_literal(*upto_));
      sql += " AND key <= $" + std::to_string(params.size()) + "::bytea";
    }
    sql += " ORDER BY key LIMIT " + std::to_string(page_rows_);
    page_ = pg::spi::with_safe_search_path([&] { return pg::spi::execute(sql, params); });
    pos_ = 0;
    if (page_.size() < page_rows_) done_ = true;
  }

  std::string sync_id_;
  std::optional<std::string> upto_;
  std::optional<std::string> after_literal_;  // as a bytea literal
  size_t page_rows_;
  pg::spi::Rows page_;
  size_t pos_ = 0;
  bool done_ = false;
  BaselineEntry current_;
};

}  // namespace

CatalogBaseline::CatalogBaseline(std::string sync_id, size_t page_rows)
    : sync_id_(std::move(sync_id)), page_rows_(page_rows ? page_rows : 1000) {}

Result<std::unique_ptr<BaselineReader>> CatalogBaseline::scan(const KeyRange& range) {
  std::optional<std::string> after, upto;
  if (range.after) after = encode_sortable_key(*range.after);
  if (range.upto) upto = encode_sortable_key(*range.upto);
  return std::unique_ptr<BaselineReader>(
      new CatalogBaselineReader(sync_id_, std::move(after), std::move(upto), page_rows_));
}

Status CatalogBaseline::apply(const std::vector<PlannedChange>&) {
  return error(ErrorCode::kInternal,
               "the catalog baseline is read-only so far (dbsync.diff writes nothing)");
}

}  // namespace dbsync::ext
