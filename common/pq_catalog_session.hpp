// The catalog session over libpq (dbsyncd, the tools): common/catalog_session.hpp on a
// pg::PgConnection.
#pragma once

#include <string_view>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "common/catalog_session.hpp"

namespace dbsync {

// Bytea parameters go binary, the rest as text.
std::vector<pg::PgParam> pq_params(const std::vector<SqlParam>& params);
CatalogRows pq_rows(const pg::PgResult& result);
// CatalogSession::read_bytes on `conn` (a binary result copied into the page).
Status pq_read_bytes(pg::PgConnection& conn, std::string_view sql,
                     const std::vector<SqlParam>& params, BytesPage& out);

// Each statement on its own (autocommit), or inside whatever transaction the connection has
// open. Statements are not kept prepared: libpq sends each with its parameters in one round trip.
class PqCatalogSession final : public CatalogSession {
 public:
  explicit PqCatalogSession(pg::PgConnection& conn) : conn_(conn) {}
  Result<CatalogRows> run(std::string_view sql, const std::vector<SqlParam>& params,
                          bool kept = false) override;
  Status read_bytes(std::string_view sql, const std::vector<SqlParam>& params, BytesPage& out,
                    bool kept = false) override;

 private:
  pg::PgConnection& conn_;
};

}  // namespace dbsync
