// The catalog session over SPI (common/catalog_session.hpp): the background workers' way to the
// catalog. Statements run under the safe search_path (spi::with_safe_search_path) inside the
// caller's SPI session and transaction; a statement run `kept` is planned once and kept for the
// life of this object (a job's progress, once per batch). PostgreSQL ERRORs are thrown (as
// everywhere in the extension), never returned as a Status.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/catalog_session.hpp"
#include "extension/src/pg/spi.hpp"

namespace dbsync::pg {

class SpiCatalogSession final : public CatalogSession {
 public:
  Result<CatalogRows> run(std::string_view sql, const std::vector<SqlParam>& params,
                          bool kept = false) override;

 private:
  std::map<std::string, std::unique_ptr<spi::KeptPlan>, std::less<>> kept_;
};

}  // namespace dbsync::pg
