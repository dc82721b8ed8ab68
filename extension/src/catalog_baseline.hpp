// A sync's baseline as the extension reads and writes it: the catalog baseline of
// common/catalog_baseline.hpp (dbsync.sync_state, shared with dbsyncd) over an SPI catalog
// session of its own (pg/spi_catalog_session.hpp: kept plans for the pages and the audit, the
// pages read as raw bytes, new keys inserted in bulk). Reads and writes happen inside the
// caller's SPI session and transaction; errors from PostgreSQL are thrown.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "common/catalog_baseline.hpp"
#include "extension/src/pg/spi_catalog_session.hpp"

namespace dbsync::ext {

namespace detail {
// The session is a base so that it is built before the baseline that refers to it.
struct SpiSessionHolder {
  pg::SpiCatalogSession spi_session_;
};
}  // namespace detail

class CatalogBaseline final : private detail::SpiSessionHolder, public dbsync::CatalogBaseline {
 public:
  explicit CatalogBaseline(std::string sync_id, size_t page_rows = 1000)
      : dbsync::CatalogBaseline(spi_session_, std::move(sync_id), page_rows) {}
};

}  // namespace dbsync::ext
