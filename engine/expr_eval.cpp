// Evaluating compiled mapping rules: operators, row and JSON access. Functions are in
// expr_functions.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "engine/decimal.hpp"
#include "engine/expr_ast.hpp"
#include "engine/expr_json.hpp"
#include "engine/timeutil.hpp"

namespace dbsync::expr {

const char* kind_name(ValueType type) { return value_type_name(type); }

Status eval_error(const Node& node, const std::string& message) {
  return error(ErrorCode::kEvaluation, message + " (at position " + std::to_string(node.pos) + ")");
}

namespace {

// ---- numbers ----

bool as_decimal_text(const Value& v, std::string& out) {
  if (v.type() == ValueType::kInt) {
    out = decimal::from_int(v.as_int());
    return true;
  }
  if (v.type() == ValueType::kDecimal) {
    out = v.str();
    return true;
  }
  return false;
}

double as_double(const Value& v) {
  switch (v.type()) {
    case ValueType::kInt:
      return static_cast<double>(v.as_int());
    case ValueType::kFloat:
      return v.as_float();
    case ValueType::kDecimal:
      return decimal::to_double(v.str());
    default:
      return 0;
  }
}

const char* verb(Op op) {
  switch (op) {
    case Op::kAdd:
      return "add";
    case Op::kSub:
      return "subtract";
    case Op::kMul:
      return "multiply";
    case Op::kDiv:
    case Op::kFloorDiv:
      return "divide";
    case Op::kMod:
      return "take the remainder of";
    default:
      return "combine";
  }
}

}  // namespace

Result<Value> float_result(const Node& node, double d) {
  if (!std::isfinite(d)) return eval_error(node, "float result out of range");
  return Value::floating(d);
}

Result<Value> decimal_result(const Node& node, std::string digits) {
  // A guard against runaway sizes (e.g. repeated multiplication of huge literals).
  if (digits.size() > kMaxDecimalChars) return eval_error(node, "numeric result too large");
  return Value::decimal_unchecked(std::move(digits));
}

Result<Value> floor_decimal_mod(const Node& node, const std::string& a, const std::string& b,
                                bool want_quotient) {
  if (decimal::is_zero(b)) return eval_error(node, "division by zero");
  Result<std::string> r = decimal::mod(a, b);
  if (!r) return eval_error(node, r.status().message());
  std::string rem = std::move(r).value();
  // Python semantics: the remainder takes the divisor's sign, the quotient is floored.
  if (!decimal::is_zero(rem) && decimal::sign(rem) != decimal::sign(b)) rem = decimal::add(rem, b);
  if (!want_quotient) return decimal_result(node, rem);
  Result<std::string> q = decimal::div(decimal::sub(a, rem), b, 0);
  if (!q) return eval_error(node, q.status().message());
  return decimal_result(node, std::move(q).value());
}

Result<Value> arithmetic(const Node& node, Op op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return Value::null();  // SQL-like: null in, null out
  if (op == Op::kAdd && a.type() == ValueType::kText && b.type() == ValueType::kText) {
    return Value::text(a.str() + b.str());
  }
  if (!a.is_number() || !b.is_number()) {
    return eval_error(node, std::string("cannot ") + verb(op) + " " + kind_name(a.type()) +
                                " and " + kind_name(b.type()));
  }
  if (a.type() == ValueType::kFloat || b.type() == ValueType::kFloat) {
    double x = as_double(a), y = as_double(b);
    switch (op) {
      case Op::kAdd:
        return float_result(node, x + y);
      case Op::kSub:
        return float_result(node, x - y);
      case Op::kMul:
        return float_result(node, x * y);
      case Op::kDiv:
        if (y == 0) return eval_error(node, "division by zero");
        return float_result(node, x / y);
      case Op::kFloorDiv:
      case Op::kMod: {
        if (y == 0) return eval_error(node, "division by zero");
        double m = std::fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        if (op == Op::kMod) return float_result(node, m);
        return float_result(node, std::round((x - m) / y));
      }
      default:
        break;
    }
    return eval_error(node, "bad arithmetic operator");
  }
  if (a.type() == ValueType::kInt && b.type() == ValueType::kInt) {
    int64_t x = a.as_int(), y = b.as_int(), r = 0;
    switch (op) {
      case Op::kAdd:
        if (!__builtin_add_overflow(x, y, &r)) return Value::integer(r);
        break;
      case Op::kSub:
        if (!__builtin_sub_overflow(x, y, &r)) return Value::integer(r);
        break;
      case Op::kMul:
        if (!__builtin_mul_overflow(x, y, &r)) return Value::integer(r);
        break;
      case Op::kFloorDiv:
      case Op::kMod: {
        if (y == 0) return eval_error(node, "division by zero");
        if (y == -1) {
          if (op == Op::kMod) return Value::integer(0);
          if (x == std::numeric_limits<int64_t>::min()) break;  // overflows: decimal below
          return Value::integer(-x);
        }
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          m += y;
          q -= 1;
        }
        return Value::integer(op == Op::kMod ? m : q);
      }
      case Op::kDiv:
        break;  // exact decimal below
      default:
        break;
    }
  }
  // Exact decimal arithmetic (ints widened; int64 overflow lands here too).
  std::string x, y;
  as_decimal_text(a, x);
  as_decimal_text(b, y);
  if ((op == Op::kMul || op == Op::kDiv || op == Op::kFloorDiv || op == Op::kMod) &&
      (x.size() > kMaxDecimalOperandChars || y.size() > kMaxDecimalOperandChars)) {
    return eval_error(node, "numeric operand too large");
  }
  switch (op) {
    case Op::kAdd:
      return decimal_result(node, decimal::add(x, y));
    case Op::kSub:
      return decimal_result(node, decimal::sub(x, y));
    case Op::kMul:
      return decimal_result(node, decimal::mul(x, y));
    case Op::kDiv: {
      if (decimal::is_zero(y)) return eval_error(node, "division by zero");
      // Enough digits for ratios, then trailing zeros dropped down to the operands' own scale:
      // 10 / 4 = 2.5, 10.00 / 4 = 2.50, 1 / 3 = 0.3333333333333333.
      int keep = std::max(decimal::scale_of(x), decimal::scale_of(y));
      int scale = std::max(decimal::kDefaultDivisionScale, keep);
      Result<std::string> q = decimal::div(x, y, scale);
      if (!q) return eval_error(node, q.status().message());
      std::string digits = std::move(q).value();
      std::string_view stripped = decimal::strip_trailing_zeros(digits);
      if (decimal::scale_of(stripped) < keep) {
        digits = decimal::round(stripped, keep);
      } else {
        digits = std::string(stripped);
      }
      return decimal_result(node, std::move(digits));
    }
    case Op::kFloorDiv:
      return floor_decimal_mod(node, x, y, true);
    case Op::kMod:
      return floor_decimal_mod(node, x, y, false);
    default:
      break;
  }
  return eval_error(node, "bad arithmetic operator");
}

// <0, 0, >0 for two numbers of any kind, by value. NaN compares as unordered (returns 2).
int compare_numbers(const Value& a, const Value& b) {
  auto t = [](auto x, auto y) { return x < y ? -1 : (x > y ? 1 : 0); };
  ValueType ta = a.type(), tb = b.type();
  if (ta == ValueType::kInt && tb == ValueType::kInt) return t(a.as_int(), b.as_int());
  if (ta == ValueType::kDecimal && tb == ValueType::kDecimal) {
    return decimal::compare(a.str(), b.str());
  }
  if (ta == ValueType::kDecimal && tb == ValueType::kInt) {
    return decimal::compare_with_int(a.str(), b.as_int());
  }
  if (ta == ValueType::kInt && tb == ValueType::kDecimal) {
    return -decimal::compare_with_int(b.str(), a.as_int());
  }
  // At least one float.
  double fa = as_double(a), fb = as_double(b);
  if (std::isnan(fa) || std::isnan(fb)) return 2;
  if (std::isinf(fa) || std::isinf(fb)) return t(fa, fb);
  if (ta == ValueType::kFloat && tb == ValueType::kFloat) return t(fa, fb);
  if (ta == ValueType::kFloat) {
    return tb == ValueType::kInt ? -decimal::compare_with_double(decimal::from_int(b.as_int()), fa)
                                 : -decimal::compare_with_double(b.str(), fa);
  }
  return ta == ValueType::kInt ? decimal::compare_with_double(decimal::from_int(a.as_int()), fb)
                               : decimal::compare_with_double(a.str(), fb);
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case ValueType::kNull:
      return true;
    case ValueType::kBool:
    case ValueType::kTimestamp:
    case ValueType::kDate:
    case ValueType::kTime:
      return a.as_int() == b.as_int();
    default:
      return a.str() == b.str();
  }
}

namespace {

Result<Value> compare_op(const Node& node, Op op, const Value& a, const Value& b) {
  if (op == Op::kEq) return Value::boolean(values_equal(a, b));
  if (op == Op::kNe) return Value::boolean(!values_equal(a, b));
  // Ordering with null is false, as in SQL's "unknown" taken as not-true.
  if (a.is_null() || b.is_null()) return Value::boolean(false);
  int c = 0;
  if (a.is_number() && b.is_number()) {
    c = compare_numbers(a, b);
    if (c == 2) return Value::boolean(false);
  } else if (a.type() == b.type() &&
             (a.type() == ValueType::kText || a.type() == ValueType::kBytes)) {
    c = a.str().compare(b.str());
  } else if (a.type() == b.type() &&
             (a.type() == ValueType::kBool || a.type() == ValueType::kTimestamp ||
              a.type() == ValueType::kDate || a.type() == ValueType::kTime)) {
    c = a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  } else {
    return eval_error(
        node, std::string("cannot compare ") + kind_name(a.type()) + " and " + kind_name(b.type()));
  }
  switch (op) {
    case Op::kLt:
      return Value::boolean(c < 0);
    case Op::kLe:
      return Value::boolean(c <= 0);
    case Op::kGt:
      return Value::boolean(c > 0);
    default:
      return Value::boolean(c >= 0);
  }
}

Result<Value> negate(const Node& node, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return Value::null();
    case ValueType::kInt:
      if (v.as_int() == std::numeric_limits<int64_t>::min()) {
        return Value::decimal_unchecked(decimal::negate(decimal::from_int(v.as_int())));
      }
      return Value::integer(-v.as_int());
    case ValueType::kFloat:
      return Value::floating(-v.as_float());
    case ValueType::kDecimal:
      return Value::decimal_unchecked(decimal::negate(v.str()));
    default:
      return eval_error(node, std::string("cannot negate ") + kind_name(v.type()));
  }
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The code point (as UTF-8 bytes) at character index i, or npos-length when out of range.
bool utf8_char_at(std::string_view s, int64_t i, std::string& out) {
  int64_t n = static_cast<int64_t>(utf8_length(s));
  if (i < 0) i += n;
  if (i < 0 || i >= n) return false;
  int64_t k = -1;
  size_t start = 0;
  for (size_t p = 0; p < s.size(); ++p) {
    if ((static_cast<unsigned char>(s[p]) & 0xC0) != 0x80) {
      if (++k == i) {
        start = p;
        size_t e = p + 1;
        while (e < s.size() && (static_cast<unsigned char>(s[e]) & 0xC0) == 0x80) ++e;
        out.assign(s.substr(start, e - start));
        return true;
      }
    }
  }
  return false;
}

}  // namespace

// base.key / base[key] on JSON (and text indexing). Missing members give null, like Jinja's
// undefined, so optional JSON fields do not fail rows.
Result<Value> json_member(const Node& node, const Value& base, const Value& key) {
  if (base.is_null() || key.is_null()) return Value::null();
  if (base.type() == ValueType::kText && key.type() == ValueType::kInt) {
    std::string ch;
    if (!utf8_char_at(base.str(), key.as_int(), ch)) return Value::null();
    return Value::text(std::move(ch));
  }
  if (base.type() != ValueType::kJson) {
    return eval_error(node, std::string("cannot access a member of ") + kind_name(base.type()));
  }
  const std::string& doc = base.str();
  DBSYNC_RETURN_IF_ERROR(charge_work(node, doc.size()));
  char kind = json_kind(doc);
  std::string_view found;
  bool hit = false;
  if (kind == 'o') {
    if (key.type() != ValueType::kText) {
      return eval_error(node, std::string("a JSON object member name must be text, not ") +
                                  kind_name(key.type()));
    }
    const std::string& want = key.str();
    json_for_each(doc, [&](std::string_view k, std::string_view e) {
      if (k != want) return true;
      found = e;
      hit = true;
      return false;
    });
  } else if (kind == 'a') {
    if (key.type() != ValueType::kInt) {
      if (key.type() == ValueType::kText) return Value::null();  // arrays have no members
      return eval_error(
          node, std::string("a JSON array index must be an int, not ") + kind_name(key.type()));
    }
    int64_t want = key.as_int();
    if (want < 0) {
      int64_t count = 0;
      json_for_each(doc, [&](std::string_view, std::string_view) {
        ++count;
        return true;
      });
      want += count;
      if (want < 0) return Value::null();
    }
    int64_t i = 0;
    json_for_each(doc, [&](std::string_view, std::string_view e) {
      if (i++ != want) return true;
      found = e;
      hit = true;
      return false;
    });
  } else {
    return Value::null();  // a JSON scalar has no members
  }
  if (!hit) return Value::null();
  Result<Value> v = json_element_value(found);
  if (!v) return eval_error(node, v.status().message());
  return v;
}

std::string to_json_text(const Value& v) {
  std::string out;
  switch (v.type()) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
      return v.as_bool() ? "true" : "false";
    case ValueType::kInt:
      return std::to_string(v.as_int());
    case ValueType::kDecimal:
      return v.str();
    case ValueType::kFloat: {
      Result<std::string> d = decimal::from_double(v.as_float());
      return d ? std::move(d).value() : "null";
    }
    case ValueType::kJson:
      return v.str();
    case ValueType::kTimestamp:
      json_quote(format_timestamp_utc(v.micros()), out);
      return out;
    case ValueType::kDate:
      json_quote(format_date(v.days()), out);
      return out;
    case ValueType::kTime:
      json_quote(format_time_of_day(v.micros()), out);
      return out;
    default:
      json_quote(v.to_string(), out);
      return out;
  }
}

namespace {

Status column_value(const Node& node, const EvalContext& ctx, const Value*& out) {
  static const Value kNull;
  const Row* row = node.side == RowSide::kSource ? ctx.source : ctx.target;
  if (row == nullptr) {
    if (node.side == RowSide::kTarget) {  // no target row yet
      out = &kNull;
      return Status::ok();
    }
    return eval_error(node, "no source row to evaluate against");
  }
  if (node.column >= row->size()) {
    return eval_error(node, "column index " + std::to_string(node.column) +
                                " is outside the row (" + std::to_string(row->size()) + " values)");
  }
  out = &(*row)[node.column];
  credit_work(payload_size(*out));
  return Status::ok();
}

// An operand without copying it when it is a literal or a column (the common case); other
// nodes are evaluated into `tmp`.
Status operand(const Node& node, const EvalContext& ctx, Value& tmp, const Value*& out) {
  if (node.op == Op::kLiteral) {
    out = &node.literal;
    return Status::ok();
  }
  if (node.op == Op::kColumn) return column_value(node, ctx, out);
  Result<Value> r = eval_node(node, ctx);
  if (!r) return r.status();
  tmp = std::move(r).value();
  out = &tmp;
  return Status::ok();
}

}  // namespace

#define DBSYNC_OPERAND(name, kid)                                    \
  Value name##_tmp;                                                  \
  const Value* name##_ptr = nullptr;                                 \
  DBSYNC_RETURN_IF_ERROR(operand(kid, ctx, name##_tmp, name##_ptr)); \
  const Value& name = *name##_ptr

Result<Value> eval_node(const Node& node, const EvalContext& ctx) {
  switch (node.op) {
    case Op::kLiteral:
      return node.literal;
    case Op::kColumn: {
      const Value* v = nullptr;
      DBSYNC_RETURN_IF_ERROR(column_value(node, ctx, v));
      return *v;
    }
    case Op::kMember: {
      DBSYNC_OPERAND(base, *node.kids[0]);
      return json_member(node, base, node.literal);
    }
    case Op::kIndex: {
      DBSYNC_OPERAND(base, *node.kids[0]);
      DBSYNC_OPERAND(key, *node.kids[1]);
      return json_member(node, base, key);
    }
    case Op::kNeg: {
      DBSYNC_OPERAND(v, *node.kids[0]);
      return negate(node, v);
    }
    case Op::kPos: {
      DBSYNC_ASSIGN_OR_RETURN(Value v, eval_node(*node.kids[0], ctx));
      if (!v.is_null() && !v.is_number()) {
        return eval_error(node,
                          std::string("unary '+' needs a number, not ") + kind_name(v.type()));
      }
      return v;
    }
    case Op::kNot: {
      DBSYNC_OPERAND(v, *node.kids[0]);
      return Value::boolean(!v.truthy());
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kFloorDiv:
    case Op::kMod: {
      DBSYNC_OPERAND(a, *node.kids[0]);
      DBSYNC_OPERAND(b, *node.kids[1]);
      return arithmetic(node, node.op, a, b);
    }
    case Op::kConcat: {
      DBSYNC_OPERAND(a, *node.kids[0]);
      DBSYNC_OPERAND(b, *node.kids[1]);
      std::string s = a.to_string();
      s += b.to_string();
      if (s.size() > kMaxTextBytes) return eval_error(node, "text result too large");
      DBSYNC_RETURN_IF_ERROR(charge_work(node, s.size()));
      return Value::text(std::move(s));
    }
    case Op::kEq:
    case Op::kNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      DBSYNC_OPERAND(a, *node.kids[0]);
      DBSYNC_OPERAND(b, *node.kids[1]);
      return compare_op(node, node.op, a, b);
    }
    case Op::kAnd: {
      DBSYNC_ASSIGN_OR_RETURN(Value a, eval_node(*node.kids[0], ctx));
      if (!a.truthy()) return a;
      return eval_node(*node.kids[1], ctx);
    }
    case Op::kOr: {
      DBSYNC_ASSIGN_OR_RETURN(Value a, eval_node(*node.kids[0], ctx));
      if (a.truthy()) return a;
      return eval_node(*node.kids[1], ctx);
    }
    case Op::kCond: {
      DBSYNC_OPERAND(c, *node.kids[1]);
      return eval_node(*node.kids[c.truthy() ? 0 : 2], ctx);
    }
    case Op::kCall:
      return eval_call(node, ctx);
    case Op::kInterpolate: {
      std::string out = node.pieces[0];
      for (size_t i = 0; i < node.kids.size(); ++i) {
        DBSYNC_OPERAND(v, *node.kids[i]);
        std::string piece = v.to_string();  // null interpolates as ""
        DBSYNC_RETURN_IF_ERROR(charge_work(node, piece.size()));
        out += piece;
        out += node.pieces[i + 1];
        if (out.size() > kMaxTextBytes) return eval_error(node, "text result too large");
      }
      return Value::text(std::move(out));
    }
  }
  return error(ErrorCode::kInternal, "unknown expression node");
}

}  // namespace dbsync::expr
