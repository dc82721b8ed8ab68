// The field-mapping expression language (compatible with the original Python tool):
//   @title                      the source column `title`
//   title                       the same: a bare rule is a source column, whatever its name
//                               holds (`unit price`); an unknown one is an error, never text
//   {{ 'draft' }}               a literal text
//   {{ m.price * 1.2 }}         an expression; master/source/m = source row, slave/target/s =
//   target row Hello {{ m.name }}!         text with interpolation (always text)
//   {{ m.first ~ ' ' ~ m.last }}, {{ s.status if s.status else 'draft' }}, {{ m.title | upper }}
// Compiled once against the schemas, evaluated per row on typed values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.hpp"
#include "engine/value.hpp"

namespace dbsync {

enum class RowSide { kSource, kTarget };

// Resolves a column name on one side to its index in the rows given at evaluation time;
// nullopt means "no such column" (a compile error naming the column).
using ColumnResolver = std::function<std::optional<size_t>(RowSide, std::string_view)>;

struct EvalContext {
  const Row* source = nullptr;  // the source row (required)
  const Row* target = nullptr;  // the current target row, or null when the target has none
  int64_t now_micros = 0;       // now(): fixed per job so a run is deterministic
};

namespace expr {
struct Node;
}

class Expression {
 public:
  // Compiles a mapping rule. Parse errors are kParseError with "position N" (0-based byte
  // offset into `text`) and what was expected; unknown columns are kNotFound naming the column.
  static Result<Expression> compile(std::string_view text, const ColumnResolver& resolver);

  // The original tool's object form: {"source": "status", "transform": "default:draft"}.
  // transform is one of upper, lower, trim, default:<text> (or empty for a plain copy).
  static Result<Expression> compile_transform(std::string_view source_column,
                                              std::string_view transform,
                                              const ColumnResolver& resolver);

  // Evaluation errors (division by zero, type mismatch, bad argument) are kEvaluation values
  // for that row, never exceptions or crashes.
  Result<Value> evaluate(const EvalContext& ctx) const;

  // If the whole rule is a plain source column (`@x`, `x`, `{{ m.x }}`), its index: such rules
  // can be reversed for two-way sync.
  std::optional<size_t> plain_source_column() const;
  // Whether the rule reads the target row (s.x / slave.x / target.x).
  bool reads_target() const;
  // Source column indexes the rule reads.
  const std::vector<size_t>& source_columns() const;

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const expr::Node> root_;
  std::optional<size_t> plain_source_;
  bool reads_target_ = false;
  std::vector<size_t> source_columns_;
  friend class ExpressionCompiler;
};

}  // namespace dbsync
