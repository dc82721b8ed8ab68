// Internal to the expression language: the compiled form of a mapping rule (a small tree that
// is built once per sync and walked per row) and the table of filters/functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expression.hpp"
#include "engine/status.hpp"
#include "engine/value.hpp"

namespace dbsync::expr {

// Trees deeper than this are refused at compile time, so evaluation (which recurses) and
// destruction stay within a small, known stack budget whatever the input.
constexpr int kMaxDepth = 128;

enum class Op : uint8_t {
  kLiteral,  // literal
  kColumn,   // side/column
  kMember,   // kids[0] . literal (text key)
  kIndex,    // kids[0] [ kids[1] ]
  kNeg,      // - kids[0]
  kPos,      // + kids[0]
  kNot,      // not kids[0]
  kAdd,
  kSub,
  kMul,
  kDiv,
  kFloorDiv,
  kMod,
  kConcat,  // ~
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,  // returns the deciding operand, like Python/Jinja
  kOr,
  kCond,         // kids[0] if kids[1] else kids[2]
  kCall,         // func(kids...)
  kInterpolate,  // pieces[0] kids[0] pieces[1] ... : always text
};

enum class Func : uint8_t {
  kUpper,
  kLower,
  kTrim,
  kCapitalize,
  kTitle,
  kDefault,
  kDefaultIfEmpty,  // the legacy `default:<text>` transform: null or ""
  kRound,
  kInt,
  kFloat,
  kString,
  kBool,
  kReplace,
  kTruncate,
  kSlugify,
  kLength,
  kSplit,
  kJoin,
  kJson,
  kDate,
  kNow,
  kCoalesce,
  kAbs,
  kMin,
  kMax,
  kFirst,
  kLast,
};

struct FuncInfo {
  const char* name;
  Func func;
  int min_args;                     // counting the filtered value as the first argument
  int max_args;                     // -1: any number
  std::vector<const char*> params;  // names for keyword arguments, by position
};

// nullptr when there is no such (user-visible) filter/function.
const FuncInfo* find_function(std::string_view name);
const FuncInfo& function_info(Func func);

struct Node {
  Op op = Op::kLiteral;
  Func func = Func::kUpper;
  RowSide side = RowSide::kSource;
  uint16_t height = 1;
  uint32_t pos = 0;  // byte offset in the rule text, for evaluation messages
  size_t column = 0;
  Value literal;
  std::vector<std::unique_ptr<Node>> kids;
  std::vector<std::string> pieces;  // kInterpolate
};

// Walks the tree for one row. Depth is bounded by kMaxDepth.
Result<Value> eval_node(const Node& node, const EvalContext& ctx);
// A kCall node (expr_functions.cpp).
Result<Value> eval_call(const Node& node, const EvalContext& ctx);

// Decimal operands of *, /, //, % longer than this are refused (schoolbook multiplication and
// long division are quadratic); results longer than PostgreSQL's numeric limits too.
constexpr size_t kMaxDecimalOperandChars = 2000;
constexpr size_t kMaxDecimalChars = 131072 + 16383 + 2;

// + - * / // % on two values (null gives null; int overflow widens to decimal).
Result<Value> arithmetic(const Node& node, Op op, const Value& a, const Value& b);
// <0, 0, >0 between two numbers of any kind, by value; 2 when a NaN is involved.
int compare_numbers(const Value& a, const Value& b);
// == in the language: numbers by value across kinds, otherwise same kind and same value.
bool values_equal(const Value& a, const Value& b);
Result<Value> float_result(const Node& node, double d);

// Bytes of text that one evaluation may read and produce in functions, concatenation,
// interpolation and JSON access. Per-result caps alone do not bound work: a chain of filters
// each just under the cap would still run for seconds. The budget is a base amount plus a
// multiple of what the rule reads from the rows (so large columns can still be worked on), up
// to a hard maximum. Reset by Expression::evaluate (per thread).
constexpr size_t kWorkBaseBytes = 8u << 20;
constexpr size_t kWorkPerInputByte = 8;
constexpr size_t kWorkMaxBytes = 256u << 20;
constexpr size_t kMaxTextBytes = 16u << 20;  // largest text/JSON result of one operation
void reset_work_budget();
Status charge_work(const Node& node, size_t bytes);
void credit_work(size_t input_bytes);
size_t payload_size(const Value& v);
Result<Value> decimal_result(const Node& node, std::string digits);

// Shared helpers between the evaluator and the functions.
const char* kind_name(ValueType type);
Status eval_error(const Node& node, const std::string& message);
// A JSON document's element as a Value: strings become text, integers int, other numbers
// decimal, objects and arrays json.
Result<Value> json_member(const Node& node, const Value& base, const Value& key);
std::string to_json_text(const Value& v);

}  // namespace dbsync::expr
