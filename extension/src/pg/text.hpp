// Text and jsonb arguments and results, through the guard.
#pragma once

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
