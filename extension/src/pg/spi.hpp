// SPI and Datum decoding for the files in extension/src/pg/: the session API of pg/session.hpp
// (usable everywhere in the extension), the guard (pg_call, DBSYNC_FUNCTION) and RowConverter
// (pg/datum.hpp). Files outside pg/ include pg/session.hpp instead.
#pragma once

#include "extension/src/pg/datum.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/session.hpp"

namespace dbsync::pg::spi {

// The rows SPI_tuptable holds (a statement just run, e.g. a KeptPlan's), as text; the table is
// freed. `column_names`: also read the columns' names (Rows::columns).
Rows take_tuptable(bool column_names = true);

}  // namespace dbsync::pg::spi
