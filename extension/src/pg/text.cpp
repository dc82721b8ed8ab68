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

namespace dbsync::pg {

std::string bytea_hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::optional<std::string> bytea_from_hex(const std::string& text) {
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace dbsync::pg
