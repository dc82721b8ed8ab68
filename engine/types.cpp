#include "engine/types.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <type_traits>
#include <utility>

#include "engine/decimal.hpp"
#include "engine/hex.hpp"
#include "engine/json_canonical.hpp"
#include "engine/utf8.hpp"

namespace dbsync {
namespace {

// ======================= parse_type =======================

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// A declared type split into its parts: "int(10) unsigned" -> base "int", args {"10"},
// modifiers {"unsigned"}; "enum('a','b')" -> args {"a", "b"} with args_quoted.
struct DeclaredType {
  std::string base;                    // one or two words, lower case
  std::vector<std::string> modifiers;  // words after the base, lower case
  bool has_args = false;
  bool args_quoted = false;
  std::vector<std::string> args;
  bool is_array = false;
};

Status invalid_type(std::string_view declared, const std::string& why) {
  return Status(ErrorCode::kInvalidArgument,
                "invalid column type '" + std::string(declared.substr(0, 80)) + "': " + why);
}

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

// Splits words (identifier characters and '.') separated by spaces.
bool split_words(std::string_view text, std::vector<std::string>& words) {
  std::string word;
  for (char c : text) {
    if (is_space(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else if (is_identifier_char(lower(c)) || c == '.' || c == '"') {
      if (c != '"') word.push_back(lower(c));  // "char" is PostgreSQL's quoted internal name
    } else {
      return false;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return true;
}

Result<DeclaredType> split_declared(std::string_view declared) {
  DeclaredType out;
  std::string_view text = declared;
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty()) return invalid_type(declared, "empty");

  // Array suffixes: "integer[]", "text[][]", "int[3]".
  while (!text.empty() && text.back() == ']') {
    size_t open = text.rfind('[');
    if (open == std::string_view::npos) return invalid_type(declared, "unbalanced brackets");
    for (char c : text.substr(open + 1, text.size() - open - 2)) {
      if (!(c >= '0' && c <= '9')) return invalid_type(declared, "bad array bounds");
    }
    out.is_array = true;
    text = text.substr(0, open);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  }

  std::vector<std::string> words;
  size_t open = text.find('(');
  if (open == std::string_view::npos) {
    if (text.find(')') != std::string_view::npos)
      return invalid_type(declared, "unbalanced parentheses");
    if (!split_words(text, words)) return invalid_type(declared, "unexpected character");
  } else {
    if (!split_words(text.substr(0, open), words))
      return invalid_type(declared, "unexpected character");
    out.has_args = true;
    // Arguments: numbers or quoted strings ('' escapes a quote, as MySQL reports ENUM values).
    size_t i = open + 1;
    std::string current;
    bool expecting_arg = true;
    bool closed = false;
    while (i < text.size()) {
      char c = text[i];
      if (is_space(c)) {
        ++i;
      } else if (c == '\'') {
        if (!expecting_arg) return invalid_type(declared, "missing ',' between arguments");
        std::string value;
        ++i;
        bool terminated = false;
        while (i < text.size()) {
          if (text[i] == '\'') {
            if (i + 1 < text.size() && text[i + 1] == '\'') {
              value.push_back('\'');
              i += 2;
              continue;
            }
            terminated = true;
            ++i;
            break;
          }
          if (text[i] == '\\' && i + 1 < text.size()) ++i;  // MySQL backslash escapes
          value.push_back(text[i++]);
        }
        if (!terminated) return invalid_type(declared, "unterminated quoted string");
        out.args.push_back(std::move(value));
        out.args_quoted = true;
        expecting_arg = false;
      } else if (c >= '0' && c <= '9') {
        if (!expecting_arg) return invalid_type(declared, "missing ',' between arguments");
        std::string number;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') number.push_back(text[i++]);
        if (out.args_quoted) return invalid_type(declared, "mixed arguments");
        out.args.push_back(std::move(number));
        expecting_arg = false;
      } else if (c == ',') {
        if (expecting_arg) return invalid_type(declared, "empty argument");
        expecting_arg = true;
        ++i;
      } else if (c == ')') {
        if (expecting_arg && !out.args.empty()) return invalid_type(declared, "empty argument");
        closed = true;
        ++i;
        break;
      } else {
        return invalid_type(declared, "unexpected character in arguments");
      }
    }
    if (!closed) return invalid_type(declared, "unbalanced parentheses");
    if (out.args.empty()) return invalid_type(declared, "empty argument list");
    std::string_view rest = text.substr(i);
    if (rest.find_first_of("()") != std::string_view::npos) {
      return invalid_type(declared, "unexpected parentheses");
    }
    std::vector<std::string> after;
    if (!split_words(rest, after)) return invalid_type(declared, "unexpected character");
    if (words.empty()) return invalid_type(declared, "missing type name");
    // Words after the arguments are modifiers, but keep a two-word base together first.
    words.insert(words.end(), after.begin(), after.end());
  }
  if (words.empty()) return invalid_type(declared, "missing type name");

  // Schema-qualified names: "pg_catalog.int4", "public.citext".
  std::string& first = words[0];
  if (size_t dot = first.rfind('.'); dot != std::string::npos) first = first.substr(dot + 1);
  for (const auto& w : words) {
    if (w.empty() || w.find('.') != std::string::npos)
      return invalid_type(declared, "unexpected '.'");
  }
  if (!(first[0] >= 'a' && first[0] <= 'z') && first[0] != '_') {
    return invalid_type(declared, "type name must start with a letter");
  }
  size_t base_words = 1;
  if (words.size() >= 2) {
    const std::string& second = words[1];
    if ((first == "double" && second == "precision") ||
        ((first == "character" || first == "char" || first == "bit" || first == "national") &&
         second == "varying") ||
        (first == "long" && (second == "varchar" || second == "varbinary"))) {
      base_words = 2;
    }
  }
  for (size_t k = 0; k < base_words; ++k) {
    if (k > 0) out.base.push_back(' ');
    out.base += words[k];
  }
  out.modifiers.assign(words.begin() + static_cast<std::ptrdiff_t>(base_words), words.end());
  return out;
}

bool parse_arg(const std::string& arg, int64_t& out) {
  auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), out);
  return ec == std::errc() && ptr == arg.data() + arg.size();
}

// The arguments of "numeric(10,2)", "varchar(40)": whole numbers, not quoted.
Status numeric_args(const DeclaredType& d, std::string_view declared, std::vector<int64_t>& args) {
  if (d.args_quoted) return invalid_type(declared, "quoted arguments");
  for (const auto& a : d.args) {
    int64_t v;
    if (!parse_arg(a, v)) return invalid_type(declared, "bad argument");
    args.push_back(v);
  }
  return Status::ok();
}

// Removes the modifiers a type family allows and reports whether anything unknown is left.
struct Modifiers {
  bool is_unsigned = false;
  bool zerofill = false;
  bool with_time_zone = false;
  bool without_time_zone = false;
};

Status take_modifiers(const DeclaredType& d, std::string_view declared, Modifiers& m) {
  const auto& w = d.modifiers;
  for (size_t k = 0; k < w.size(); ++k) {
    if (w[k] == "unsigned") {
      m.is_unsigned = true;
    } else if (w[k] == "signed") {
    } else if (w[k] == "zerofill") {
      m.zerofill = true;
      m.is_unsigned = true;  // ZEROFILL implies UNSIGNED
    } else if ((w[k] == "with" || w[k] == "without") && k + 2 < w.size() && w[k + 1] == "time" &&
               w[k + 2] == "zone") {
      (w[k] == "with" ? m.with_time_zone : m.without_time_zone) = true;
      k += 2;
    } else if ((w[k] == "collate" || w[k] == "charset") && k + 1 < w.size()) {
      ++k;  // collation and character set do not change the value domain
    } else if (w[k] == "character" && k + 2 < w.size() && w[k + 1] == "set") {
      k += 2;
    } else if (w[k] == "binary" || w[k] == "ascii" || w[k] == "unicode" || w[k] == "byte") {
    } else {
      return invalid_type(declared, "unexpected '" + w[k] + "'");
    }
  }
  return Status::ok();
}

Result<TypeSpec> parse_postgres(const DeclaredType& d, std::string_view declared, TypeSpec t) {
  Modifiers m;
  const std::string& b = d.base;
  auto text_fallback = [&](const std::string& why) {
    t.kind = TypeKind::kText;
    t.note = why;
    return t;
  };
  if (d.is_array || b == "array" || (b.size() > 1 && b[0] == '_')) {
    return text_fallback("array type '" + std::string(declared) + "' is compared as text");
  }
  // interval, with fields and a precision or not ("interval day to second(2)", as format_type
  // prints them): PostgreSQL's own text is compared, and written back through the column's type.
  if (b == "interval")
    return text_fallback("type '" + std::string(declared) + "' is compared as text");
  DBSYNC_RETURN_IF_ERROR(take_modifiers(d, declared, m));
  if (m.is_unsigned || m.zerofill) return invalid_type(declared, "UNSIGNED is MySQL syntax");
  bool timeish = b == "timestamp" || b == "time" || b == "timestamptz" || b == "timetz";
  if ((m.with_time_zone || m.without_time_zone) && !timeish) {
    return invalid_type(declared, "time zone clause on a non-time type");
  }
  std::vector<int64_t> args;
  DBSYNC_RETURN_IF_ERROR(numeric_args(d, declared, args));
  auto no_args = [&]() -> Status {
    return d.has_args ? invalid_type(declared, "takes no arguments") : Status::ok();
  };
  auto at_most_args = [&](size_t n) -> Status {
    return args.size() > n ? invalid_type(declared, "too many arguments") : Status::ok();
  };

  if (b == "smallint" || b == "int2" || b == "smallserial" || b == "serial2" || b == "integer" ||
      b == "int" || b == "int4" || b == "serial" || b == "serial4" || b == "bigint" ||
      b == "int8" || b == "bigserial" || b == "serial8") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kInt;
    t.int_bits = (b == "smallint" || b == "int2" || b == "smallserial" || b == "serial2") ? 16
                 : (b == "bigint" || b == "int8" || b == "bigserial" || b == "serial8")   ? 64
                                                                                          : 32;
    return t;
  }
  if (b == "real" || b == "float4" || b == "double precision" || b == "float8" || b == "float") {
    t.kind = TypeKind::kFloat;
    t.precision = (b == "real" || b == "float4") ? 24 : 53;
    if (b == "float" && !args.empty()) {
      DBSYNC_RETURN_IF_ERROR(at_most_args(1));
      if (args[0] < 1 || args[0] > 53) return invalid_type(declared, "precision must be 1..53");
      t.precision = args[0] <= 24 ? 24 : 53;
    } else {
      DBSYNC_RETURN_IF_ERROR(no_args());
    }
    return t;
  }
  if (b == "numeric" || b == "decimal") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(2));
    t.kind = TypeKind::kDecimal;
    if (!args.empty()) {
      if (args[0] < 1 || args[0] > 1000) return invalid_type(declared, "precision must be 1..1000");
      t.precision = static_cast<int>(args[0]);
      t.scale = args.size() == 2 ? static_cast<int>(args[1]) : 0;
      if (t.scale > 1000) return invalid_type(declared, "scale must be 0..1000");
    }
    return t;
  }
  if (b == "text" || b == "citext" || b == "name" || b == "varchar" || b == "character varying" ||
      b == "char varying") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    if ((b == "text" || b == "citext" || b == "name") && !args.empty()) {
      return invalid_type(declared, "takes no length");
    }
    t.kind = TypeKind::kText;
    if (!args.empty()) {
      if (args[0] < 1) return invalid_type(declared, "length must be at least 1");
      t.max_length = args[0];
    }
    return t;
  }
  if (b == "character" || b == "char" || b == "bpchar") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    t.kind = TypeKind::kText;
    if (!args.empty()) {
      if (args[0] < 1) return invalid_type(declared, "length must be at least 1");
      t.max_length = args[0];
      t.fixed_length = true;
    } else if (b != "bpchar") {  // "character" alone is char(1); bare bpchar is unlimited
      t.max_length = 1;
      t.fixed_length = true;
    }
    return t;
  }
  if (b == "uuid") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kText;
    t.is_uuid = true;
    return t;
  }
  if (b == "bytea") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kBytes;
    return t;
  }
  if (b == "boolean" || b == "bool") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kBool;
    return t;
  }
  if (b == "timestamp" || b == "timestamptz") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    if (m.with_time_zone && m.without_time_zone)
      return invalid_type(declared, "conflicting zone clauses");
    if (b == "timestamptz" && m.without_time_zone)
      return invalid_type(declared, "conflicting zone clauses");
    t.kind = TypeKind::kTimestamp;
    t.with_time_zone = b == "timestamptz" || m.with_time_zone;
    // PostgreSQL reduces a precision above 6 to 6 (with a warning).
    t.fractional_digits = args.empty() ? 6 : static_cast<int>(std::min<int64_t>(args[0], 6));
    return t;
  }
  if (b == "time" || b == "timetz") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    if (b == "timetz" || m.with_time_zone) {
      return text_fallback("time with time zone is compared as text");
    }
    t.kind = TypeKind::kTime;
    t.fractional_digits = args.empty() ? 6 : static_cast<int>(std::min<int64_t>(args[0], 6));
    return t;
  }
  if (b == "date") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kDate;
    return t;
  }
  if (b == "json" || b == "jsonb") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kJson;
    t.json_text = b == "json";
    return t;
  }
  return text_fallback("type '" + std::string(declared) +
                       "' is not known to the engine and is compared as text");
}

Result<TypeSpec> parse_mysql(const DeclaredType& d, std::string_view declared, TypeSpec t) {
  Modifiers m;
  const std::string& b = d.base;
  auto text_fallback = [&](const std::string& why) {
    t.kind = TypeKind::kText;
    t.note = why;
    return t;
  };
  if (d.is_array)
    return text_fallback("array type '" + std::string(declared) + "' is compared as text");
  DBSYNC_RETURN_IF_ERROR(take_modifiers(d, declared, m));
  if (m.with_time_zone || m.without_time_zone)
    return invalid_type(declared, "time zone clause is PostgreSQL syntax");

  if (b == "enum" || b == "set") {
    if (!d.args_quoted) return invalid_type(declared, "expects quoted values");
    t.kind = TypeKind::kText;
    if (b == "enum") t.enum_values = d.args;
    return t;
  }
  std::vector<int64_t> args;
  DBSYNC_RETURN_IF_ERROR(numeric_args(d, declared, args));
  auto no_args = [&]() -> Status {
    return d.has_args ? invalid_type(declared, "takes no arguments") : Status::ok();
  };
  auto at_most_args = [&](size_t n) -> Status {
    return args.size() > n ? invalid_type(declared, "too many arguments") : Status::ok();
  };
  bool numeric_family = b == "bool" || b == "boolean" || b == "tinyint" || b == "smallint" ||
                        b == "mediumint" || b == "int" || b == "integer" || b == "bigint" ||
                        b == "int1" || b == "int2" || b == "int3" || b == "int4" || b == "int8" ||
                        b == "middleint" || b == "serial" || b == "decimal" || b == "numeric" ||
                        b == "dec" || b == "fixed" || b == "float" || b == "double" ||
                        b == "double precision" || b == "real" || b == "float4" || b == "float8";
  if ((m.is_unsigned || m.zerofill) && !numeric_family) {
    return invalid_type(declared, "UNSIGNED on a non-numeric type");
  }

  if (b == "bool" || b == "boolean" || (b == "tinyint" && args.size() == 1 && args[0] == 1)) {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    t.kind = TypeKind::kBool;  // MySQL's BOOL is TINYINT(1); the display width marks it
    t.int_bits = 8;
    t.is_unsigned = m.is_unsigned;
    return t;
  }
  if (b == "tinyint" || b == "int1" || b == "smallint" || b == "int2" || b == "mediumint" ||
      b == "middleint" || b == "int3" || b == "int" || b == "integer" || b == "int4" ||
      b == "bigint" || b == "int8" || b == "serial" || b == "year") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));  // a display width, which changes nothing
    t.kind = TypeKind::kInt;
    t.is_unsigned = m.is_unsigned || b == "serial";
    if (b == "tinyint" || b == "int1") {
      t.int_bits = 8;
    } else if (b == "smallint" || b == "int2" || b == "year") {
      t.int_bits = 16;
    } else if (b == "mediumint" || b == "middleint" || b == "int3") {
      t.int_bits = 24;
    } else if (b == "bigint" || b == "int8" || b == "serial") {
      t.int_bits = 64;
    } else {
      t.int_bits = 32;
    }
    return t;
  }
  if (b == "decimal" || b == "numeric" || b == "dec" || b == "fixed") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(2));
    t.kind = TypeKind::kDecimal;
    t.is_unsigned = m.is_unsigned;
    t.precision = args.empty() ? 10 : static_cast<int>(std::min<int64_t>(args[0], 1000));
    t.scale = args.size() == 2 ? static_cast<int>(std::min<int64_t>(args[1], 1000)) : 0;
    if (t.precision < 1 || t.precision > 65)
      return invalid_type(declared, "precision must be 1..65");
    if (t.scale > 30 || t.scale > t.precision) {
      return invalid_type(declared, "scale must be 0..30 and not above the precision");
    }
    return t;
  }
  if (b == "float" || b == "double" || b == "double precision" || b == "real" || b == "float4" ||
      b == "float8") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(2));
    t.kind = TypeKind::kFloat;
    t.is_unsigned = m.is_unsigned;
    t.precision = (b == "float" || b == "float4") ? 24 : 53;
    if (b == "float" && args.size() == 1) {
      if (args[0] > 53) return invalid_type(declared, "precision must be 0..53");
      t.precision = args[0] <= 24 ? 24 : 53;
    }
    return t;
  }
  if (b == "char" || b == "character" || b == "nchar" || b == "varchar" ||
      b == "character varying" || b == "char varying" || b == "nvarchar" ||
      b == "national varying") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    t.kind = TypeKind::kText;
    bool fixed = b == "char" || b == "character" || b == "nchar";
    if (args.empty() && !fixed) return invalid_type(declared, "VARCHAR needs a length");
    t.max_length = args.empty() ? 1 : args[0];
    t.fixed_length = fixed;
    return t;
  }
  if (b == "tinytext" || b == "text" || b == "mediumtext" || b == "longtext" || b == "long" ||
      b == "long varchar") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));  // TEXT(n) picks the smallest type that fits
    t.kind = TypeKind::kText;
    t.max_length_in_bytes = true;
    t.max_length = b == "tinytext"                                             ? 255
                   : b == "text"                                               ? 65535
                   : (b == "mediumtext" || b == "long" || b == "long varchar") ? 16777215
                                                                               : 4294967295LL;
    return t;
  }
  if (b == "binary" || b == "varbinary" || b == "tinyblob" || b == "blob" || b == "mediumblob" ||
      b == "longblob" || b == "long varbinary") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    t.kind = TypeKind::kBytes;
    if (b == "binary") {
      t.max_length = args.empty() ? 1 : args[0];
      t.fixed_length = true;  // BINARY(n) pads with 0x00
    } else if (b == "varbinary") {
      if (args.empty()) return invalid_type(declared, "VARBINARY needs a length");
      t.max_length = args[0];
    } else {
      t.max_length = b == "tinyblob"                                ? 255
                     : b == "blob"                                  ? 65535
                     : (b == "mediumblob" || b == "long varbinary") ? 16777215
                                                                    : 4294967295LL;
    }
    return t;
  }
  if (b == "datetime" || b == "timestamp" || b == "time") {
    DBSYNC_RETURN_IF_ERROR(at_most_args(1));
    if (!args.empty() && args[0] > 6)
      return invalid_type(declared, "fractional seconds precision must be 0..6");
    t.kind = b == "time" ? TypeKind::kTime : TypeKind::kTimestamp;
    t.fractional_digits = args.empty() ? 0 : static_cast<int>(args[0]);
    t.with_time_zone = b == "timestamp";  // TIMESTAMP stores UTC; DATETIME is wall-clock
    return t;
  }
  if (b == "date") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kDate;
    return t;
  }
  if (b == "json") {
    DBSYNC_RETURN_IF_ERROR(no_args());
    t.kind = TypeKind::kJson;
    return t;
  }
  return text_fallback("type '" + std::string(declared) +
                       "' is not known to the engine and is compared as text");
}

// ======================= coercion helpers =======================

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Byte offset of the code point number `chars` (s must be valid UTF-8).
size_t utf8_prefix_bytes(std::string_view s, int64_t chars) {
  size_t i = 0;
  while (i < s.size() && chars > 0) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    --chars;
  }
  return i;
}

// The type as messages show it.
std::string type_label(const TypeSpec& t) {
  if (!t.name.empty()) return t.name;
  switch (t.kind) {
    case TypeKind::kBool:
      return "boolean";
    case TypeKind::kInt:
      return "integer(" + std::to_string(t.int_bits) + " bits)";
    case TypeKind::kFloat:
      return t.precision == 24 ? "real" : "double precision";
    case TypeKind::kDecimal:
      return t.precision < 0 ? "numeric"
                             : "numeric(" + std::to_string(t.precision) + "," +
                                   std::to_string(std::max(t.scale, 0)) + ")";
    case TypeKind::kText:
      return t.max_length < 0 ? "text" : "varchar(" + std::to_string(t.max_length) + ")";
    case TypeKind::kBytes:
      return "bytes";
    case TypeKind::kTimestamp:
      return t.with_time_zone ? "timestamp with time zone" : "timestamp";
    case TypeKind::kDate:
      return "date";
    case TypeKind::kTime:
      return "time";
    case TypeKind::kJson:
      return "json";
  }
  return "unknown";
}

// The value as messages show it: at most ~40 characters, text quoted.
std::string show(const Value& v) {
  std::string text = v.to_string();
  if (text.size() > 40) {
    size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  switch (v.type()) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
    case ValueType::kInt:
    case ValueType::kFloat:
    case ValueType::kDecimal:
      return text;
    default:
      return "'" + text + "'";
  }
}

Status mismatch(const Value& v, const TypeSpec& t, std::string_view why = {}) {
  std::string message = "invalid value for " + type_label(t) + ": " + show(v);
  if (!why.empty()) {
    message += " ";
    message += why;
  }
  return Status(ErrorCode::kTypeMismatch, std::move(message));
}

Status out_of_range(const Value& v, const TypeSpec& t, std::string_view why) {
  return Status(ErrorCode::kOutOfRange, "value " + show(v) + " out of range for " + type_label(t) +
                                            ": " + std::string(why));
}

// Parses an integer written in decimal ("42", "-7", "+3"); kOutOfRange when it has valid digits
// but does not fit int64, kTypeMismatch when it is not an integer at all.
ErrorCode parse_int64(std::string_view text, int64_t& out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return ErrorCode::kTypeMismatch;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ptr != text.data() + text.size()) return ErrorCode::kTypeMismatch;
  if (ec == std::errc::result_out_of_range) return ErrorCode::kOutOfRange;
  if (ec != std::errc()) return ErrorCode::kTypeMismatch;
  return ErrorCode::kOk;
}

// Rounds a finite double half away from zero into int64 (false when it does not fit).
bool round_to_int64(double d, int64_t& out) {
  double r = std::round(d);  // half away from zero
  if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) return false;
  out = static_cast<int64_t>(r);
  return true;
}

bool parse_bool_word(std::string_view text, bool& out) {
  text = trim(text);
  static constexpr std::string_view kTrue[] = {"t", "true", "yes", "y", "on", "1"};
  static constexpr std::string_view kFalse[] = {"f", "false", "no", "n", "off", "0"};
  for (auto w : kTrue) {
    if (ascii_iequals(text, w)) {
      out = true;
      return true;
    }
  }
  for (auto w : kFalse) {
    if (ascii_iequals(text, w)) {
      out = false;
      return true;
    }
  }
  return false;
}

// Rounds µs half away from zero to `digits` fractional second digits.
int64_t round_micros(int64_t micros, int digits) {
  if (digits >= 6) return micros;
  int64_t unit = 1;
  for (int k = digits; k < 6; ++k) unit *= 10;
  int64_t half = unit / 2;
  if (micros >= 0) return (micros + half) / unit * unit;
  return -((-micros + half) / unit * unit);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Nesting the fast JSON path takes (deeper documents go through Value::json, which checks).
constexpr int kJsonFastMaxDepth = 64;

// Between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr int64_t kPgEpochMicros = 10957LL * kMicrosPerDay;

// A timestamp at `digits` fractional digits as PostgreSQL stores it (AdjustTimestampForTypmod):
// half away from zero on its own count, which starts in 2000, so a tie between 1970 and 2000
// rounds down. Infinities stay.
int64_t round_timestamp_pg(int64_t micros, int digits) {
  if (!timestamp_is_finite(micros) || digits >= 6) return micros;
  return round_micros(micros - kPgEpochMicros, digits) + kPgEpochMicros;
}

constexpr int64_t kMySQLDatetimeMin = -719162LL * kMicrosPerDay;         // 0001-01-01
constexpr int64_t kMySQLDatetimeEnd = 2932897LL * kMicrosPerDay;         // 10000-01-01
constexpr int32_t kMySQLDateMin = -719162;                               // 0001-01-01
constexpr int32_t kMySQLDateMax = 2932896;                               // 9999-12-31
constexpr int64_t kMySQLTimestampMin = 1 * kMicrosPerSecond;             // 1970-01-01 00:00:01 UTC
constexpr int64_t kMySQLTimestampEnd = 2147483648LL * kMicrosPerSecond;  // 2038-01-19 03:14:08 UTC

// ======================= coercion per kind =======================
// Each takes the value as `const Value&` (coerce of an lvalue) or `Value&&` (the caller gave it
// up), so an unchanged value is copied or moved once and never passed around by value.

template <typename V>
std::string take_or_copy_str(V&& v) {
  if constexpr (std::is_const_v<std::remove_reference_t<V>>) {
    return v.str();
  } else {
    return v.take_str();
  }
}

template <typename V>
Result<Value> to_int(V&& v, const TypeSpec& t) {
  const bool mysql = t.dialect == Dialect::kMySQL;
  int64_t i = 0;
  switch (v.type()) {
    case ValueType::kInt:
      i = v.as_int();
      break;
    case ValueType::kBool:
      if (!mysql) return mismatch(v, t, "(PostgreSQL does not store booleans in integer columns)");
      i = v.as_bool() ? 1 : 0;
      break;
    case ValueType::kFloat:
      if (!std::isfinite(v.as_float()) || !round_to_int64(v.as_float(), i)) {
        return out_of_range(v, t, "not representable as an integer");
      }
      break;
    case ValueType::kDecimal:
      if (!decimal::to_int64(decimal::round(v.str(), 0), i)) {
        return out_of_range(v, t, "does not fit a 64-bit integer");
      }
      break;
    case ValueType::kText: {
      std::string_view text = trim(v.str());
      ErrorCode code = parse_int64(text, i);
      if (code == ErrorCode::kOutOfRange)
        return out_of_range(v, t, "does not fit a 64-bit integer");
      if (code != ErrorCode::kOk) {
        // MySQL reads a decimal-looking string as a number and rounds it; PostgreSQL refuses.
        auto parsed =
            mysql ? decimal::parse(text) : Result<std::string>(Status(ErrorCode::kParseError, ""));
        if (!parsed.is_ok()) return mismatch(v, t, "is not an integer");
        if (!decimal::to_int64(decimal::round(*parsed, 0), i)) {
          return out_of_range(v, t, "does not fit a 64-bit integer");
        }
      }
      break;
    }
    default:
      return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not an integer)");
  }
  int bits = std::clamp(t.int_bits, 8, 64);
  int64_t lo, hi;
  if (t.is_unsigned) {
    lo = 0;
    hi = bits >= 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << bits) - 1;
  } else {
    lo = bits >= 64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (bits - 1));
    hi = bits >= 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (bits - 1)) - 1;
  }
  if (i < lo || i > hi) {
    return out_of_range(v, t, std::to_string(lo) + ".." + std::to_string(hi));
  }
  if (v.type() == ValueType::kInt) return std::forward<V>(v);
  return Value::integer(i);
}

template <typename V>
Result<Value> to_bool(V&& v, const TypeSpec& t) {
  const bool mysql = t.dialect == Dialect::kMySQL;
  // MySQL's BOOL is a TINYINT: any number in its range is stored, and nonzero reads as true.
  auto from_number = [&](const Value& number) -> Result<Value> {
    if (mysql) {
      TypeSpec tinyint = t;
      tinyint.kind = TypeKind::kInt;
      tinyint.int_bits = 8;
      DBSYNC_ASSIGN_OR_RETURN(Value i, to_int(number, tinyint));
      return Value::boolean(i.as_int() != 0);
    }
    int c0, c1;
    if (number.type() == ValueType::kInt) {
      c0 = number.as_int() == 0 ? 0 : 1;
      c1 = number.as_int() == 1 ? 0 : 1;
    } else if (number.type() == ValueType::kFloat) {
      c0 = number.as_float() == 0 ? 0 : 1;
      c1 = number.as_float() == 1 ? 0 : 1;
    } else {
      c0 = decimal::compare_with_int(number.str(), 0);
      c1 = decimal::compare_with_int(number.str(), 1);
    }
    if (c0 == 0) return Value::boolean(false);
    if (c1 == 0) return Value::boolean(true);
    return mismatch(v, t, "(only 0 and 1 are booleans)");
  };
  switch (v.type()) {
    case ValueType::kBool:
      return std::forward<V>(v);
    case ValueType::kInt:
    case ValueType::kFloat:
    case ValueType::kDecimal:
      return from_number(v);
    case ValueType::kText: {
      bool b;
      if (parse_bool_word(v.str(), b)) return Value::boolean(b);
      if (mysql) {
        if (auto parsed = decimal::parse(v.str()); parsed.is_ok()) {
          return from_number(Value::decimal_unchecked(std::move(parsed).value()));
        }
      }
      return mismatch(v, t, "is not a boolean");
    }
    case ValueType::kJson: {
      std::string scratch;
      const std::string_view c = v.canonical_json(scratch);
      if (c == "true") return Value::boolean(true);
      if (c == "false") return Value::boolean(false);
      return mismatch(v, t, "is not a boolean");
    }
    default:
      return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not a boolean)");
  }
}

template <typename V>
Result<Value> to_float(V&& v, const TypeSpec& t) {
  const bool mysql = t.dialect == Dialect::kMySQL;
  double d = 0;
  switch (v.type()) {
    case ValueType::kFloat:
      d = v.as_float();
      break;
    case ValueType::kInt:
      d = static_cast<double>(v.as_int());
      break;
    case ValueType::kDecimal:
      d = decimal::to_double(v.str());
      break;
    case ValueType::kBool:
      if (!mysql) return mismatch(v, t, "(PostgreSQL does not store booleans in float columns)");
      d = v.as_bool() ? 1 : 0;
      break;
    case ValueType::kText: {
      std::string_view text = trim(v.str());
      if (!text.empty() && text.front() == '+') text.remove_prefix(1);
      if (ascii_iequals(text, "infinity") || ascii_iequals(text, "inf")) {
        d = std::numeric_limits<double>::infinity();
      } else if (ascii_iequals(text, "-infinity") || ascii_iequals(text, "-inf")) {
        d = -std::numeric_limits<double>::infinity();
      } else if (ascii_iequals(text, "nan")) {
        d = std::numeric_limits<double>::quiet_NaN();
      } else {
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (text.empty() || ptr != text.data() + text.size() ||
            (ec != std::errc() && ec != std::errc::result_out_of_range)) {
          return mismatch(v, t, "is not a number");
        }
        if (ec == std::errc::result_out_of_range)
          return out_of_range(v, t, "overflow or underflow");
      }
      break;
    }
    default:
      return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not a number)");
  }
  if (mysql && !std::isfinite(d)) return out_of_range(v, t, "MySQL stores no NaN or infinity");
  if (t.is_unsigned && d < 0) return out_of_range(v, t, "negative value in an UNSIGNED column");
  if (t.precision == 24) {
    auto f = static_cast<float>(d);
    if (std::isinf(f) && !std::isinf(d)) return out_of_range(v, t, "overflow of single precision");
    d = static_cast<double>(f);
  }
  if (v.type() == ValueType::kFloat && d == v.as_float()) return std::forward<V>(v);
  return Value::floating(d);
}

template <typename V>
Result<Value> to_decimal(V&& v, const TypeSpec& t) {
  const bool mysql = t.dialect == Dialect::kMySQL;
  std::string converted;  // the digits when the input is not already a decimal
  switch (v.type()) {
    case ValueType::kDecimal:
      break;
    case ValueType::kInt:
      converted = decimal::from_int(v.as_int());
      break;
    case ValueType::kFloat: {
      const double d = v.as_float();
      if (!std::isfinite(d)) {  // numeric holds them too (MySQL's DECIMAL: refused below)
        converted = std::isnan(d) ? decimal::kNaN
                    : d > 0       ? decimal::kInfinity
                                  : decimal::kMinusInfinity;
        break;
      }
      auto from_double = decimal::from_double(d);
      if (!from_double.is_ok()) return out_of_range(v, t, "not a decimal number");
      converted = std::move(from_double).value();
      break;
    }
    case ValueType::kBool:
      if (!mysql) return mismatch(v, t, "(PostgreSQL does not store booleans in numeric columns)");
      converted = v.as_bool() ? "1" : "0";
      break;
    case ValueType::kText: {
      auto parsed = decimal::parse(v.str());
      if (!parsed.is_ok()) {
        if (parsed.status().code() == ErrorCode::kOutOfRange)
          return out_of_range(v, t, "too many digits");
        return mismatch(v, t, "is not a number");
      }
      converted = std::move(parsed).value();
      break;
    }
    default:
      return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not a number)");
  }
  const bool is_decimal = v.type() == ValueType::kDecimal;
  std::string_view digits = is_decimal ? std::string_view(v.str()) : std::string_view(converted);
  if (decimal::is_special(digits)) {
    if (mysql) return out_of_range(v, t, "MySQL's DECIMAL holds no NaN or infinity");
    if (!decimal::is_nan(digits) && t.precision >= 0) {
      return Status(ErrorCode::kOutOfRange, "numeric field overflow: " + show(v) +
                                                " does not fit " + type_label(t) +
                                                " (it cannot hold an infinite value)");
    }
  }
  if (t.is_unsigned && decimal::sign(digits) < 0) {
    return out_of_range(v, t, "negative value in an UNSIGNED column");
  }
  int scale = t.scale >= 0 ? t.scale : (t.precision >= 0 ? 0 : -1);
  // Reuse the input when it already is canonical at the column's scale (the common case).
  bool unchanged = is_decimal && decimal::is_canonical(digits) &&
                   (scale < 0 || decimal::scale_of(digits) == scale);
  std::string rounded;
  if (!unchanged) {
    rounded = scale >= 0 ? decimal::round(digits, scale) : std::string(digits);
    digits = rounded;
  }
  if (t.precision >= 0 && !decimal::fits_precision(digits, t.precision, scale)) {
    return Status(ErrorCode::kOutOfRange,
                  "numeric field overflow: " + show(v) + " does not fit " + type_label(t));
  }
  if (unchanged) return std::forward<V>(v);
  return Value::decimal_unchecked(std::move(rounded));
}

// PostgreSQL's uuid input: 32 hex digits, optionally in braces and with hyphens after any
// group of four; output is lowercase 8-4-4-4-12.
bool normalise_uuid(std::string_view text, std::string& out) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}')
    text = text.substr(1, text.size() - 2);
  std::string hex;
  for (size_t k = 0; k < text.size(); ++k) {
    char c = lower(text[k]);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      hex.push_back(c);
    } else if (c == '-' && !hex.empty() && hex.size() % 4 == 0 && k + 1 < text.size() &&
               text[k + 1] != '-') {
    } else {
      return false;
    }
  }
  if (hex.size() != 32) return false;
  out = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
        hex.substr(16, 4) + "-" + hex.substr(20);
  return true;
}

template <typename V>
Result<Value> to_text(V&& v, const TypeSpec& t) {
  const bool mysql = t.dialect == Dialect::kMySQL;
  // Fast path: valid text that the column stores unchanged (chars <= bytes <= max_length).
  if (v.type() == ValueType::kText && !t.is_uuid && t.enum_values.empty() && !t.fixed_length &&
      (t.max_length < 0 || static_cast<int64_t>(v.str().size()) <= t.max_length) &&
      utf8_char_count(v.str()) >= 0 && (mysql || v.str().find('\0') == std::string::npos)) {
    return std::forward<V>(v);
  }
  // The value is ours (taken by value): reuse its string rather than copying it.
  std::string text =
      v.type() == ValueType::kText ? take_or_copy_str(std::forward<V>(v)) : v.to_string();
  auto shown = [&]() { return Value::text(text.substr(0, 44)); };  // only built for errors

  int64_t length = utf8_char_count(text);
  if (length < 0) {
    return Status(ErrorCode::kInvalidArgument, "invalid value for " + type_label(t) + ": " +
                                                   show(Value::bytes(text.substr(0, 20))) +
                                                   " is not valid UTF-8");
  }
  if (!mysql && text.find('\0') != std::string::npos) {
    return Status(ErrorCode::kInvalidArgument, "invalid value for " + type_label(t) + ": " +
                                                   show(shown()) +
                                                   " (PostgreSQL text cannot contain NUL bytes)");
  }
  if (t.is_uuid) {
    std::string normalised;
    if (!normalise_uuid(text, normalised)) return mismatch(shown(), t, "is not a UUID");
    return Value::text(std::move(normalised));
  }
  if (!t.enum_values.empty()) {
    // MySQL matches ENUM members ignoring trailing spaces and (with the usual collations)
    // ASCII case, and stores the member as declared.
    std::string_view wanted = text;
    while (!wanted.empty() && wanted.back() == ' ') wanted.remove_suffix(1);
    for (const auto& member : t.enum_values) {
      if (member == wanted) return Value::text(member);
    }
    for (const auto& member : t.enum_values) {
      if (ascii_iequals(member, wanted)) return Value::text(member);
    }
    return Status(ErrorCode::kInvalidArgument, "invalid value for " + type_label(t) + ": " +
                                                   show(shown()) + " is not one of its values");
  }
  if (t.max_length >= 0) {
    if (t.max_length_in_bytes) {
      if (static_cast<int64_t>(text.size()) > t.max_length) {
        return Status(ErrorCode::kOutOfRange, "value too long for " + type_label(t) + ": " +
                                                  std::to_string(text.size()) + " bytes (at most " +
                                                  std::to_string(t.max_length) +
                                                  "): " + show(shown()));
      }
    } else if (length > t.max_length) {
      // Both databases drop excess characters only when they are all spaces.
      size_t keep = utf8_prefix_bytes(text, t.max_length);
      if (text.find_first_not_of(' ', keep) != std::string::npos) {
        return Status(ErrorCode::kOutOfRange, "value too long for " + type_label(t) + ": " +
                                                  std::to_string(length) + " characters (" +
                                                  show(shown()) + ")");
      }
      text.resize(keep);
      length = t.max_length;
    }
  }
  if (t.fixed_length) {
    // A CHAR(n) value is kept without its trailing spaces: MySQL returns it so, and PostgreSQL's
    // char(n) pads on storing, ignores the padding when comparing and drops it in a cast to text
    // or varchar. So char(n) -> text gives what PostgreSQL's cast gives, and keys order as
    // bpchar orders them.
    size_t end = text.find_last_not_of(' ');
    text.resize(end == std::string::npos ? 0 : end + 1);
  }
  return Value::text(std::move(text));
}

template <typename V>
Result<Value> to_bytes(V&& v, const TypeSpec& t) {
  if (v.type() != ValueType::kBytes && v.type() != ValueType::kText) {
    return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not bytes)");
  }
  const auto size = static_cast<int64_t>(v.str().size());
  if (t.max_length >= 0 && size > t.max_length) {
    return Status(ErrorCode::kOutOfRange, "value too long for " + type_label(t) + ": " +
                                              std::to_string(size) + " bytes (" + show(v) + ")");
  }
  bool pad = t.fixed_length && t.max_length > size;  // MySQL BINARY(n) pads with 0x00
  if (v.type() == ValueType::kBytes && !pad) return std::forward<V>(v);
  std::string b = take_or_copy_str(std::forward<V>(v));
  if (pad) b.append(static_cast<size_t>(t.max_length - size), '\0');
  return Value::bytes(std::move(b));
}

template <typename V>
Result<Value> to_timestamp(V&& v, const TypeSpec& t, const CoerceOptions& opts) {
  const TimeZone& zone = opts.zone ? *opts.zone : *TimeZone::utc();
  const bool mysql = t.dialect == Dialect::kMySQL;
  int64_t micros;
  switch (v.type()) {
    case ValueType::kTimestamp:
      micros = v.micros();
      break;
    case ValueType::kDate:
      if (v.days() == kDateInfinity) {
        micros = kTimestampInfinity;
      } else if (v.days() == kDateMinusInfinity) {
        micros = kTimestampMinusInfinity;
      } else if (v.days() < kMinDate || v.days() >= kEndTimestampMicros / kMicrosPerDay) {
        return out_of_range(v, t, "beyond the timestamps' range");
      } else {
        micros = zone.local_to_utc_micros(int64_t{v.days()} * kMicrosPerDay);
      }
      break;
    case ValueType::kText: {
      auto parsed = parse_timestamp(v.str(), zone);
      if (!parsed.is_ok()) {
        if (parsed.status().code() == ErrorCode::kOutOfRange)
          return out_of_range(v, t, "beyond the timestamps' range");
        return mismatch(v, t, "is not a timestamp");
      }
      micros = *parsed;
      break;
    }
    case ValueType::kInt:
      return mismatch(v, t, "(a number is ambiguous as a timestamp: convert it explicitly)");
    default:
      return mismatch(v, t,
                      std::string("(a ") + value_type_name(v.type()) + " is not a timestamp)");
  }
  const int digits = std::clamp(t.fractional_digits, 0, 6);
  if (mysql) {
    if (!timestamp_is_finite(micros)) return out_of_range(v, t, "MySQL has no infinite timestamps");
    micros = round_micros(micros, digits);
    if (micros < kMySQLDatetimeMin || micros >= kMySQLDatetimeEnd)
      return out_of_range(v, t, "years 0001..9999");
    if (t.with_time_zone && (micros < kMySQLTimestampMin || micros >= kMySQLTimestampEnd)) {
      return out_of_range(v, t,
                          "MySQL TIMESTAMP holds 1970-01-01 00:00:01..2038-01-19 03:14:07 UTC");
    }
  } else {
    // A zoneless column rounds its wall clock: the same as rounding the instant, as zone
    // offsets are whole seconds.
    micros = round_timestamp_pg(micros, digits);
    if (timestamp_is_finite(micros) &&
        (micros < kMinTimestampMicros || micros >= kEndTimestampMicros)) {
      return out_of_range(v, t, "beyond the timestamps' range");
    }
  }
  if (v.type() == ValueType::kTimestamp && micros == v.micros()) return std::forward<V>(v);
  return Value::timestamp(micros);
}

template <typename V>
Result<Value> to_date(V&& v, const TypeSpec& t, const CoerceOptions& opts) {
  const TimeZone& zone = opts.zone ? *opts.zone : *TimeZone::utc();
  int32_t days;
  switch (v.type()) {
    case ValueType::kDate:
      days = v.days();
      break;
    case ValueType::kTimestamp:
      if (v.micros() == kTimestampInfinity) {
        days = kDateInfinity;
      } else if (v.micros() == kTimestampMinusInfinity) {
        days = kDateMinusInfinity;
      } else {
        days = static_cast<int32_t>(floor_div(zone.utc_to_local_micros(v.micros()), kMicrosPerDay));
      }
      break;
    case ValueType::kText: {
      auto parsed = parse_date(v.str());
      if (!parsed.is_ok()) {
        if (parsed.status().code() == ErrorCode::kOutOfRange)
          return out_of_range(v, t, "beyond the dates' range");
        return mismatch(v, t, "is not a date");
      }
      days = *parsed;
      break;
    }
    default:
      return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not a date)");
  }
  if (t.dialect == Dialect::kMySQL && (days < kMySQLDateMin || days > kMySQLDateMax))
    return out_of_range(v, t,
                        date_is_finite(days) ? "years 0001..9999" : "MySQL has no infinite dates");
  if (v.type() == ValueType::kDate) return std::forward<V>(v);
  return Value::date(days);
}

template <typename V>
Result<Value> to_time(V&& v, const TypeSpec& t, const CoerceOptions& opts) {
  const TimeZone& zone = opts.zone ? *opts.zone : *TimeZone::utc();
  int64_t micros;
  switch (v.type()) {
    case ValueType::kTime:
      micros = v.micros();
      break;
    case ValueType::kTimestamp: {
      if (!timestamp_is_finite(v.micros())) return out_of_range(v, t, "an infinite timestamp");
      int64_t local = zone.utc_to_local_micros(v.micros());
      micros = local - floor_div(local, kMicrosPerDay) * kMicrosPerDay;
      break;
    }
    case ValueType::kText: {
      auto parsed = parse_time_of_day(v.str());
      if (!parsed.is_ok()) return mismatch(v, t, "is not a time of day");
      micros = *parsed;
      break;
    }
    default:
      return mismatch(v, t, std::string("(a ") + value_type_name(v.type()) + " is not a time)");
  }
  // Rounding 23:59:59.9 to whole seconds gives 24:00:00, which PostgreSQL keeps as such.
  micros = std::min(round_micros(micros, std::clamp(t.fractional_digits, 0, 6)), kMicrosPerDay);
  if (v.type() == ValueType::kTime && micros == v.micros()) return std::forward<V>(v);
  return Value::time_of_day(micros);
}

template <typename V>
Result<Value> to_json(V&& v, const TypeSpec& t) {
  switch (v.type()) {
    case ValueType::kJson:
      return std::forward<V>(v);
    case ValueType::kText: {
      if (!t.json_text) {
        // jsonb and MySQL's JSON store a document, not its text: within the fast canonical
        // subset (integers, plain strings) the canonical text is the same document, kept as
        // such (hashing and comparing it then costs nothing more). Fractions keep their text.
        std::string canonical;
        if (detail::canonical_json_fast(v.str(), canonical, kJsonFastMaxDepth))
          return Value::json_unchecked(std::move(canonical));
      }
      auto parsed = Value::json(v.str());
      if (!parsed.is_ok())
        return mismatch(v, t, "is not valid JSON (" + parsed.status().message() + ")");
      return parsed;
    }
    case ValueType::kBool:
      return Value::json_unchecked(v.as_bool() ? "true" : "false");
    case ValueType::kInt:
      return Value::json_unchecked(v.to_string());
    case ValueType::kFloat:
      if (!std::isfinite(v.as_float())) return out_of_range(v, t, "JSON has no NaN or infinity");
      return Value::json(v.to_string());
    case ValueType::kDecimal: {
      auto parsed = Value::json(v.str());
      if (!parsed.is_ok()) return out_of_range(v, t, "not representable as a JSON number");
      return parsed;
    }
    default: {
      // Bytes, dates and times become JSON strings of their text form.
      std::string quoted = "\"";
      for (char c : v.to_string()) {
        if (c == '"' || c == '\\') quoted.push_back('\\');
        quoted.push_back(c);
      }
      quoted.push_back('"');
      return Value::json_unchecked(std::move(quoted));
    }
  }
}

template <typename V>
Result<Value> coerce_owned(V&& v, const TypeSpec& t, const CoerceOptions& opts) {
  if (v.is_null()) return std::forward<V>(v);
  switch (t.kind) {
    case TypeKind::kBool:
      return to_bool(std::forward<V>(v), t);
    case TypeKind::kInt:
      return to_int(std::forward<V>(v), t);
    case TypeKind::kFloat:
      return to_float(std::forward<V>(v), t);
    case TypeKind::kDecimal:
      return to_decimal(std::forward<V>(v), t);
    case TypeKind::kText:
      return to_text(std::forward<V>(v), t);
    case TypeKind::kBytes:
      return to_bytes(std::forward<V>(v), t);
    case TypeKind::kTimestamp:
      return to_timestamp(std::forward<V>(v), t, opts);
    case TypeKind::kDate:
      return to_date(std::forward<V>(v), t, opts);
    case TypeKind::kTime:
      return to_time(std::forward<V>(v), t, opts);
    case TypeKind::kJson:
      return to_json(std::forward<V>(v), t);
  }
  return Status(ErrorCode::kInternal, "unknown column type kind");
}

// PostgreSQL bytea output: "\x4142" (hex format) or the older escape format ("AB\\\001").
Result<std::string> decode_postgres_bytea(std::string_view text, const TypeSpec& t) {
  std::string out;
  auto bad = [&]() {
    return Status(ErrorCode::kTypeMismatch, "invalid value for " + type_label(t) + ": '" +
                                                std::string(text.substr(0, 40)) +
                                                "' is not bytea text");
  };
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    std::string_view hex = text.substr(2);
    if (hex.size() % 2 != 0) return bad();
    out.reserve(hex.size() / 2);
    for (size_t k = 0; k < hex.size(); k += 2) {
      int hi = hex::digit(hex[k]), lo = hex::digit(hex[k + 1]);
      if (hi < 0 || lo < 0) return bad();
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
  }
  for (size_t k = 0; k < text.size(); ++k) {
    if (text[k] != '\\') {
      out.push_back(text[k]);
    } else if (k + 1 < text.size() && text[k + 1] == '\\') {
      out.push_back('\\');
      ++k;
    } else if (k + 3 < text.size() + 0 && text[k + 1] >= '0' && text[k + 1] <= '3' &&
               text[k + 2] >= '0' && text[k + 2] <= '7' && text[k + 3] >= '0' &&
               text[k + 3] <= '7') {
      out.push_back(static_cast<char>((text[k + 1] - '0') * 64 + (text[k + 2] - '0') * 8 +
                                      (text[k + 3] - '0')));
      k += 3;
    } else {
      return bad();
    }
  }
  return out;
}

}  // namespace

Result<TypeSpec> parse_type(std::string_view declared, Dialect dialect) {
  TypeSpec t;
  t.dialect = dialect;
  t.name = std::string(trim(declared));
  if (ascii_iequals(t.name, "USER-DEFINED")) {
    // information_schema.columns.data_type for enums, domains and extension types.
    t.note = "user-defined type is compared as text";
    return t;
  }
  DBSYNC_ASSIGN_OR_RETURN(DeclaredType d, split_declared(declared));
  if (dialect == Dialect::kPostgres) return parse_postgres(d, declared, std::move(t));
  return parse_mysql(d, declared, std::move(t));
}

Result<Value> coerce(const Value& v, const TypeSpec& t, const CoerceOptions& opts) {
  return coerce_owned(v, t, opts);  // V = const Value&
}

Result<Value> coerce(Value&& v, const TypeSpec& t, const CoerceOptions& opts) {
  return coerce_owned(std::move(v), t, opts);
}

Result<Value> value_from_text(std::string_view text, const TypeSpec& t, const CoerceOptions& opts) {
  if (t.kind == TypeKind::kBytes && t.dialect == Dialect::kPostgres) {
    DBSYNC_ASSIGN_OR_RETURN(std::string raw, decode_postgres_bytea(text, t));
    return coerce_owned(Value::bytes(std::move(raw)), t, opts);
  }
  if (t.kind == TypeKind::kBytes) return coerce_owned(Value::bytes(std::string(text)), t, opts);
  if (t.kind == TypeKind::kDecimal) {
    auto parsed = decimal::parse(text);
    if (!parsed.is_ok()) {
      return Status(parsed.status().code() == ErrorCode::kOutOfRange ? ErrorCode::kOutOfRange
                                                                     : ErrorCode::kTypeMismatch,
                    "invalid value for " + type_label(t) + ": '" + std::string(text.substr(0, 40)) +
                        "' is not a number");
    }
    return coerce_owned(Value::decimal_unchecked(std::move(parsed).value()), t, opts);
  }
  return coerce_owned(Value::text(std::string(text)), t, opts);
}

}  // namespace dbsync
