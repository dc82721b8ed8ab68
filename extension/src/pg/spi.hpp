// SPI and Datum decoding for the files in extension/src/pg/: the session API of pg/session.hpp
// (usable everywhere in the extension), the guard (pg_call, DBSYNC_FUNCTION) and RowConverter
// (pg/datum.hpp). Files outside pg/ include pg/session.hpp instead.
#pragma once

#include "extension/src/pg/datum.hpp"
#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/session.hpp"
