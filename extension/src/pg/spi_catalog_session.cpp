#include "extension/src/pg/spi_catalog_session.hpp"

#include "engine/hex.hpp"
#include "extension/src/pg/bulk_insert.hpp"
#include "extension/src/pg/spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
}

namespace dbsync::pg {
namespace {

std::vector<spi::Param> spi_params(const std::vector<SqlParam>& params) {
  std::vector<spi::Param> out;
  out.reserve(params.size());
  for (const SqlParam& p : params) {
    if (!p.value)
      out.emplace_back(std::nullopt);
    else if (p.kind == SqlParam::Kind::kBytea)
      out.emplace_back(hex::encode_bytea(*p.value));  // bytea's text input form
    else
      out.emplace_back(*p.value);
  }
  return out;
}

// A statement with array parameters: Datum parameters built in a context of its own.
CatalogRows run_typed(const std::string& sql, const std::vector<SqlParam>& params) {
  MemoryContext cxt = spi::create_context("dbsync catalog statement");
  spi::Rows r = spi::with_safe_search_path([&] {
    std::vector<spi::TypedParam> typed;
    typed.reserve(params.size());
    for (const SqlParam& p : params) {
      switch (p.kind) {
        case SqlParam::Kind::kTextArray:
          typed.push_back({TEXTARRAYOID, spi::varlena_array(p.items, TEXTOID, cxt), false});
          break;
        case SqlParam::Kind::kByteaArray:
          typed.push_back(
              {BYTEAARRAYOID, spi::varlena_array(*p.bytes_items, BYTEAOID, cxt), false});
          break;
        case SqlParam::Kind::kBytea:
          typed.push_back(spi::text_param(
              p.value ? spi::Param(hex::encode_bytea(*p.value)) : spi::Param(), cxt));
          break;
        case SqlParam::Kind::kText:
          typed.push_back(spi::text_param(p.value, cxt));
          break;
      }
    }
    return spi::execute_typed_rows(sql, typed);
  });
  spi::delete_context(cxt);
  CatalogRows out;
  out.rows = std::move(r.rows);
  return out;
}

}  // namespace

Result<CatalogRows> SpiCatalogSession::run(std::string_view sql,
                                           const std::vector<SqlParam>& params, bool kept) {
  for (const SqlParam& p : params)
    if (p.is_array()) return run_typed(std::string(sql), params);
  const std::vector<spi::Param> values = spi_params(params);
  if (!kept) {
    spi::Rows r = spi::query(std::string(sql), values);
    CatalogRows out;
    out.rows = std::move(r.rows);
    return out;
  }
  return spi::with_safe_search_path([&] {
    kept_plan(sql, values.size()).run(values);
    CatalogRows out;
    out.rows = spi::take_tuptable(false).rows;
    return out;
  });
}

spi::KeptPlan& SpiCatalogSession::kept_plan(std::string_view sql, size_t params) {
  auto it = kept_.find(sql);
  if (it == kept_.end())
    it = kept_.emplace(std::string(sql), std::make_unique<spi::KeptPlan>()).first;
  spi::KeptPlan& plan = *it->second;
  if (!plan.prepared()) plan.prepare(std::string(sql), static_cast<int>(params));
  return plan;
}

Status SpiCatalogSession::read_bytes(std::string_view sql, const std::vector<SqlParam>& params,
                                     BytesPage& out, bool kept) {
  const std::vector<spi::Param> values = spi_params(params);
  // SPI's reader fills the caller's page (one type, reused buffers): nothing is copied.
  spi::with_safe_search_path([&] {
    if (kept)
      spi::run_bytes_into(kept_plan(sql, values.size()), values, out);
    else
      spi::execute_bytes_into(std::string(sql), values, out);
  });
  return Status::ok();
}

bool SpiCatalogSession::bulk_insert_baseline(int64_t sync_id, const std::vector<std::string>& keys,
                                             const std::vector<std::string>& states) {
  return spi::with_safe_search_path([&] { return bulk::insert_sync_state(sync_id, keys, states); });
}

}  // namespace dbsync::pg
