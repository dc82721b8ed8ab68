// The catalog session over SPI (common/catalog_session.hpp): the extension's way to the catalog
// for the code it shares with dbsyncd (the job lifecycle, the catalog baseline and stage).
// Statements run under the safe search_path (spi::with_safe_search_path) inside the caller's SPI
// session and transaction; a statement run `kept` is planned once and kept for the life of this
// object (a job's progress once per batch, the baseline's pages, the audit). Its fast paths stay
// here: kept plans, bytes pages read without copies, the baseline's bulk insert. PostgreSQL
// ERRORs are thrown (as everywhere in the extension), never returned as a Status.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/catalog_session.hpp"
#include "extension/src/pg/session.hpp"

namespace dbsync::pg {

class SpiCatalogSession final : public CatalogSession {
 public:
  Result<CatalogRows> run(std::string_view sql, const std::vector<SqlParam>& params,
                          bool kept = false) override;
  Status read_bytes(std::string_view sql, const std::vector<SqlParam>& params, BytesPage& out,
                    bool kept = false) override;
  // pg/bulk_insert.hpp's insert_sync_state.
  bool bulk_insert_baseline(int64_t sync_id, const std::vector<std::string>& keys,
                            const std::vector<std::string>& states) override;

 private:
  spi::KeptPlan& kept_plan(std::string_view sql, size_t params);  // inside a session

  std::map<std::string, std::unique_ptr<spi::KeptPlan>, std::less<>> kept_;
};

}  // namespace dbsync::pg
