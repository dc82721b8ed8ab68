// PostgreSQL's introspection (engine/introspection.hpp), written once over a small reader of
// catalog queries, so that the same code describes a remote server over libpq (PqCatalogReader
// below: dbsyncd, the extension's remote ends, PgTable::open through pg_schema) and the master
// from inside the extension over SPI (extension/src/pg/spi_catalog_reader.*, as the caller).
//
// Why not common/catalog_session.hpp's CatalogSession: common/ builds on adapters/ (CMake's
// dbsync_catalog links dbsync_adapter_postgres), so an adapter cannot use it; and it runs
// everything under the extension's safe search_path, where a table name as the caller writes it
// would not resolve. The reader is the one thing that differs between libpq and SPI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/postgres/pg_connection.hpp"
#include "engine/introspection.hpp"

namespace dbsync::pg {

// Rows as text (PostgreSQL's output forms; NULL as nullopt).
using TextRows = std::vector<std::vector<std::optional<std::string>>>;

class CatalogReader {
 public:
  // How the statement's names resolve: kCatalog, the statement names only pg_catalog objects
  // (the SPI reader runs it under the extension's safe search_path); kCaller, a parameter is a
  // name as the user writes it (resolved through the session's own search_path).
  enum class Names { kCatalog, kCaller };
  virtual ~CatalogReader() = default;
  // One statement with bound text parameters (NULL: nullopt). A failure is a Status (kParseError
  // for a name that does not parse, SQLSTATE 42602); the SPI reader throws PostgreSQL's ERROR
  // instead, as the extension does everywhere.
  virtual Result<TextRows> read(std::string_view sql,
                                const std::vector<std::optional<std::string>>& params,
                                Names names = Names::kCatalog) = 0;
};

// The reader over a libpq connection (each statement in one round trip, in whatever transaction
// the connection has open).
class PqCatalogReader final : public CatalogReader {
 public:
  explicit PqCatalogReader(PgConnection& conn) : conn_(conn) {}
  Result<TextRows> read(std::string_view sql, const std::vector<std::optional<std::string>>& params,
                        Names names = Names::kCatalog) override;

 private:
  PgConnection& conn_;
};

// A PostgreSQL table described, with what PostgreSQL's own code needs besides the engine's view.
struct PgTableDescription : TableDescription {
  std::string oid;     // as text, for binding
  QualifiedName name;  // as resolved: schema and name
  char relkind = 'r';
  // per column: the type by its catalog name without a type modifier, quoted and qualified
  // (pg_catalog.bpchar, pg_catalog."bit"), for casts of values being written
  std::vector<std::string> type_names;
  std::vector<std::string> udt;  // per column: the type's bare name (uuid, citext, an enum)
};

// "invalid table name \"<name>\": <why>": the one wording of a name PostgreSQL cannot parse (the
// SPI reader's callers reword PostgreSQL's ERROR with it).
std::string invalid_table_name(std::string_view name, std::string_view why);

class PgIntrospector final : public Introspector {
 public:
  explicit PgIntrospector(CatalogReader& reader) : reader_(reader) {}

  Result<std::vector<TableEntry>> list_tables(const std::optional<TablePosition>& after,
                                              int64_t limit) override;
  Result<TableDescription> describe(std::string_view name) override;
  Result<std::vector<std::string>> page_rows(const TableDescription& table,
                                             const std::optional<std::string>& after,
                                             int64_t limit) override;

  // describe() with PostgreSQL's details.
  Result<PgTableDescription> describe_table(std::string_view name);

 private:
  CatalogReader& reader_;
};

}  // namespace dbsync::pg
