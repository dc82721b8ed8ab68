#include "common/pq_catalog_session.hpp"

#include <cstdint>

namespace dbsync {

namespace {

void append_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// A one-dimensional array in PostgreSQL's binary array format, of elements of type `elem_oid`
// (text and bytea elements are their bytes as they are).
const std::string* item(const std::optional<std::string>& s) { return s ? &*s : nullptr; }
const std::string* item(const std::string& s) { return &s; }

template <typename Items>
std::string binary_array(const Items& items, uint32_t elem_oid) {
  std::string out;
  bool nulls = false;
  size_t total = 20;
  for (const auto& e : items) {
    const std::string* s = item(e);
    total += 4 + (s ? s->size() : 0);
    nulls = nulls || !s;
  }
  out.reserve(total);
  append_be32(out, 1);  // dimensions
  append_be32(out, nulls ? 1 : 0);
  append_be32(out, elem_oid);
  append_be32(out, static_cast<uint32_t>(items.size()));
  append_be32(out, 1);  // lower bound
  for (const auto& e : items) {
    const std::string* s = item(e);
    if (!s) {
      append_be32(out, 0xffffffffu);  // -1: NULL
      continue;
    }
    append_be32(out, static_cast<uint32_t>(s->size()));
    out += *s;
  }
  return out;
}

constexpr uint32_t kTextOid = 25, kByteaOid = 17;

}  // namespace

std::vector<pg::PgParam> pq_params(const std::vector<SqlParam>& params) {
  std::vector<pg::PgParam> out;
  out.reserve(params.size());
  for (const SqlParam& p : params) {
    switch (p.kind) {
      case SqlParam::Kind::kTextArray:
        out.push_back(pg::PgParam::binary(binary_array(p.items, kTextOid)));
        continue;
      case SqlParam::Kind::kByteaArray:
        out.push_back(pg::PgParam::binary(binary_array(*p.bytes_items, kByteaOid)));
        continue;
      case SqlParam::Kind::kText:
      case SqlParam::Kind::kBytea:
        break;
    }
    if (!p.value)
      out.push_back(pg::PgParam::null());
    else if (p.kind == SqlParam::Kind::kBytea)
      out.push_back(pg::PgParam::binary(*p.value));
    else
      out.push_back(pg::PgParam::text(*p.value));
  }
  return out;
}

CatalogRows pq_rows(const pg::PgResult& result) {
  CatalogRows out;
  const int rows = result.rows(), cols = result.cols();
  out.rows.reserve(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    std::vector<std::optional<std::string>> row;
    row.reserve(static_cast<size_t>(cols));
    for (int c = 0; c < cols; ++c) {
      if (result.is_null(r, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(result.get(r, c)));
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

Status pq_read_bytes(pg::PgConnection& conn, std::string_view sql,
                     const std::vector<SqlParam>& params, BytesPage& out) {
  out.data.clear();
  out.cells.clear();
  out.nulls.clear();
  out.ncols = 0;
  DBSYNC_ASSIGN_OR_RETURN(pg::PgResult r, conn.query(sql, pq_params(params), /*binary=*/true));
  const int rows = r.rows(), cols = r.cols();
  out.ncols = static_cast<size_t>(cols);
  for (int i = 0; i < rows; ++i) {
    for (int c = 0; c < cols; ++c) {
      const bool null = r.is_null(i, c);
      const std::string_view v = null ? std::string_view() : r.get(i, c);
      out.cells.emplace_back(out.data.size(), v.size());
      out.nulls.push_back(null);
      out.data.append(v);
    }
  }
  return Status::ok();
}

Status PqCatalogSession::read_bytes(std::string_view sql, const std::vector<SqlParam>& params,
                                    BytesPage& out, bool) {
  return pq_read_bytes(conn_, sql, params, out);
}

Result<CatalogRows> PqCatalogSession::run(std::string_view sql, const std::vector<SqlParam>& params,
                                          bool) {
  DBSYNC_ASSIGN_OR_RETURN(pg::PgResult r, conn_.query(sql, pq_params(params)));
  return pq_rows(r);
}

}  // namespace dbsync
