// Keyset pages of a local table read straight from a btree index through the table AM: no SPI,
// no executor, no tuple copies; the Datums are read from the scan's slot and converted by the
// same RowConverter as SPI pages. It gives exactly the rows, in exactly the order, of the SPI
// page query
//   SELECT cols, xmin FROM t WHERE ROW(key) > ROW(after) AND ROW(key) <= ROW(upto)
//   ORDER BY key LIMIT n             (text keys COLLATE "C")
// and is used only when it can: a heap table or populated materialized view, SELECT on it
// without row-level security, and a valid, ready btree index whose leading columns are the key
// columns in order, ascending (NULLS LAST), with their default operator classes and, for
// collatable columns, a collation that orders as "C". A multi-column bound is a row comparison
// scan key (SK_ROW_HEADER), as the executor builds for ROW(...) > ROW(...).
//
// Nothing but the chosen index's OID is kept between pages (a job commits between batches):
// each page locks and opens the table (AccessShareLock, held to the end of the transaction as a
// query's is), checks the table and the index chosen before again (or chooses anew), scans under
// a fresh snapshot taken as SPI takes it (the transaction snapshot after a command counter
// increment) and closes everything. An ERROR inside leaves the cleanup
// to the transaction abort (resource owner), and the caller must not call again before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/schema.hpp"
#include "extension/src/pg/session.hpp"

namespace dbsync::pg::index_scan {

// The GUC dbsync.direct_scan (superuser only): on (default), off (always SPI pages: tests compare
// both paths), require (a scan that cannot read directly fails, naming why: tests of the choice).
enum Mode : int { kOff = 0, kOn = 1, kRequire = 2 };
extern int mode;
// Defines dbsync.direct_scan (from _PG_init; plain C calls only).
void define_guc();

// What a scan reads: the table, and the attribute numbers and types of the page's columns (key
// columns first), fixed when the scan starts; and the index chosen for its last page.
struct Spec {
  Oid relid = 0;  // InvalidOid
  std::vector<int16_t> attnums;
  std::vector<Oid> types;
  size_t key_count = 0;
  // Set by unsuitable() and read_page(): the next page takes this index again while it is still
  // the table's, usable, and its pg_index row (row_version: its xmin) unchanged.
  struct ChosenIndex {
    Oid index = 0;  // InvalidOid
    uint32_t row_version = 0;
  } chosen;
};

// The spec of `columns` (by name) of table `relid`, or why there is none (a view, a dropped
// column...). Call inside an SPI session.
std::optional<Spec> make_spec(Oid relid, const std::vector<const Column*>& columns,
                              size_t key_count, std::string& why_not);

// Why the direct scan cannot read `spec` now ("" when it can). Locks the table
// (AccessShareLock); remembers the index chosen in spec.chosen.
std::string unsuitable(Spec& spec);

// One page: at most `limit` rows with key > `after` (when given) and key <= `upto` (when given),
// in key order, converted as spi::run_values converts them (the bounds are text in the key
// columns' output forms; call under spi::with_safe_search_path, so that they read back as they
// were printed). `columns` are the page's columns in spec order; with `fingerprints`, each row's
// xmin goes into out.fingerprints. out.last_key_text is the last row's key when the page is full
// (the only case in which a keyset reader continues). Returns false, having read nothing, when
// the direct scan cannot serve this page (an index dropped since the scan started, privileges
// revoked...): the caller reads it through SPI.
bool read_page(Spec& spec, const std::vector<spi::Param>* after,
               const std::vector<spi::Param>* upto, size_t limit,
               const std::vector<const Column*>& columns, bool fingerprints, spi::ValuePage& out);

}  // namespace dbsync::pg::index_scan
