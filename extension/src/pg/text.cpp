#include "extension/src/pg/text.hpp"
#include "extension/src/pg/guard.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

namespace dbsync::pg {

namespace {
void require_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n))
    throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                  "argument " + std::to_string(n + 1) + " must not be null");
}
}  // namespace

std::string text_arg(FunctionCallInfo fcinfo, int n) {
  require_arg(fcinfo, n);
  text* t = pg_call([&] { return PG_GETARG_TEXT_PP(n); });
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

std::string jsonb_arg_text(FunctionCallInfo fcinfo, int n) {
  require_arg(fcinfo, n);
  char* out = pg_call([&] {
    Jsonb* j = PG_GETARG_JSONB_P(n);
    return JsonbToCString(nullptr, &j->root, VARSIZE(j));
  });
  std::string s(out);
  pg_call([&] { pfree(out); });
  return s;
}

Datum text_datum(const std::string& s) {
  return pg_call([&] {
    return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
  });
}

}  // namespace dbsync::pg
