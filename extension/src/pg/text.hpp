// Text and jsonb arguments and results, through the guard.
#pragma once

#include <optional>
#include <string>

extern "C" {
#include "postgres.h"

#include "fmgr.h"
}

namespace dbsync::pg {

// The text argument `n` (ERROR 22004 when null).
std::string text_arg(FunctionCallInfo fcinfo, int n);
// The jsonb argument `n` as JSON text (ERROR 22004 when null).
std::string jsonb_arg_text(FunctionCallInfo fcinfo, int n);
// A text Datum (palloc'd in the current memory context).
Datum text_datum(const std::string& s);

}  // namespace dbsync::pg

namespace dbsync::pg {

// Bytes as a bytea literal in hex form ("\x0a1b..."), for a text parameter cast to bytea.
std::string bytea_hex(const std::string& bytes);
// The hex output form of a bytea back to bytes; nullopt when `text` is not in that form.
std::optional<std::string> bytea_from_hex(const std::string& text);

}  // namespace dbsync::pg
