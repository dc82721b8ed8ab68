// Datums to engine values: the decoding of a row's Datums (numeric and jsonb read from their
// stored forms, the rest through output functions) shared by every reader of the master's rows
// (SPI pages: run_values, defined in datum.cpp; direct index scans in index_scan.cpp). Only for
// files in pg/.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/schema.hpp"
#include "engine/status.hpp"
#include "engine/types.hpp"
#include "engine/value.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/session.hpp"

namespace dbsync::pg::spi {

// Converts rows of Datums to engine values of `columns` types, the same way for every reader of
// the master's rows (SPI pages and direct index scans): int2/4/8, float4/8, bool, text and varchar
// are read from their Datums, timestamps, dates, jsonb and numeric from their Datums where they
// can, other types through their output function and value_from_text (the same values the text
// path gives). Per page: begin(), then per row extract() (inside a
// pg_call: detoasting and output functions into a context reset per row) and convert() (C++
// only, while the row's Datums are still valid), then end().
class RowConverter {
 public:
  RowConverter() = default;
  RowConverter(const RowConverter&) = delete;
  RowConverter& operator=(const RowConverter&) = delete;

  // `types[c]`: the PostgreSQL type of column c. Output functions are also looked up for the
  // first `key_text_columns` columns (print_key). Creates the page's memory contexts under the
  // current one (an ERROR deletes them with it).
  void begin(const Oid* types, const std::vector<const Column*>& columns, size_t key_text_columns);
  // Plain C calls only: for use inside a pg_call lambda.
  void extract(const Datum* datums, const bool* isnull);
  Status convert(const Datum* datums, const bool* isnull, Row& row) const;
  // Plain C calls only (inside a pg_call): column c's value as its output function prints it,
  // allocated in the row context (valid until the next extract or end()).
  const char* print_key(size_t c, Datum value);
  // A context that lives until end(): for whatever else a page allocates.
  MemoryContext page_context() const { return page_cxt_; }
  void end();

 private:
  // kTimestamp, kDate, kJsonb, kNumeric: from the Datum itself where it can (infinities too;
  // jsonb within the canonical fast form: plain strings, integers), else through the output
  // text. Every kind from kTimestamp on has its output function looked up (the fallback).
  enum class ReadAs : uint8_t {
    kInt2,
    kInt4,
    kInt8,
    kFloat4,
    kFloat8,
    kBool,
    kText,
    kTimestamp,
    kDate,
    kJsonb,
    kNumeric,
    kOutput
  };
  static ReadAs read_as(Oid type, const TypeSpec& spec, bool utf8);

  const std::vector<const Column*>* columns_ = nullptr;
  std::vector<ReadAs> how_;
  std::vector<FmgrInfo> output_;
  std::vector<const char*> text_;  // per column: the output text, or canonical JSON text
  std::vector<int> text_len_;
  // kJsonb: text_ holds canonical JSON; kNumeric: text_ holds the numeric's bytes after its
  // varlena header (not output text).
  std::vector<uint8_t> canonical_;
  MemoryContext page_cxt_ = nullptr, row_cxt_ = nullptr;
};

}  // namespace dbsync::pg::spi
