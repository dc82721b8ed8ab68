#include "common/pq_catalog_session.hpp"

namespace dbsync {

std::vector<pg::PgParam> pq_params(const std::vector<SqlParam>& params) {
  std::vector<pg::PgParam> out;
  out.reserve(params.size());
  for (const SqlParam& p : params) {
    if (!p.value)
      out.push_back(pg::PgParam::null());
    else if (p.bytes)
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

Result<CatalogRows> PqCatalogSession::run(std::string_view sql, const std::vector<SqlParam>& params,
                                          bool) {
  DBSYNC_ASSIGN_OR_RETURN(pg::PgResult r, conn_.query(sql, pq_params(params)));
  return pq_rows(r);
}

}  // namespace dbsync
