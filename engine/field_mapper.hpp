// A sync's field mapping (target column <- expression), compiled against the source and target
// schemas. It decides which columns each side must read (projections), the key on each side,
// maps a source row into the target's type domain, and reverses plain renames for two-way sync.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expression.hpp"
#include "engine/schema.hpp"
#include "engine/status.hpp"
#include "engine/types.hpp"

namespace dbsync {

struct MappingRule {
  std::string target_column;
  std::string expression;     // rule text (string form or {"expression": ...})
  std::string source_column;  // object form {"source": ...}
  std::string transform;      // object form {"transform": "default:draft"}
  bool key = false;
  bool skip = false;
};

struct MappingSpec {
  std::vector<MappingRule> rules;  // empty: every target column with a same-named source column
  std::vector<std::string> target_key;  // empty: rules marked key, else the target's primary key
  std::vector<std::string> source_key;  // empty: the source columns the target key is mapped from
};

// Parses the mapping document: an object, target column -> rule, where a rule is a string
// (expression, `@col` or bare column name) or an object with `source`, `transform`,
// `expression`, `key`, `skip`. Errors name the offending target column.
Result<MappingSpec> parse_mapping_json(std::string_view json_text);

struct MapperOptions {
  CoerceOptions coerce;
};

class FieldMapper {
 public:
  static Result<FieldMapper> compile(const MappingSpec& spec, const Schema& source,
                                     const Schema& target, const MapperOptions& options = {});

  // Target columns that are written and compared, keys first: the layout of mapped rows and of
  // the hashed part of target rows. `key_count()` leading entries are the key.
  const std::vector<std::string>& mapped_columns() const { return mapped_names_; }
  size_t mapped_count() const { return mapped_names_.size(); }
  size_t key_count() const { return key_count_; }
  const TypeSpec& mapped_type(size_t i) const { return mapped_types_[i]; }

  // Columns to read, as indexes into the source / target schema. Rows handed to the mapper are
  // in these orders. Both start with the key columns in key order (the scan order).
  const std::vector<size_t>& source_projection() const { return source_projection_; }
  const std::vector<size_t>& target_projection() const { return target_projection_; }
  // Target schema index of each mapped column.
  const std::vector<size_t>& mapped_target_columns() const { return mapped_target_index_; }

  // The target key of a source row (projected), coerced into the target key types.
  Status map_key(const Row& source_row, Row& key_out) const;
  // True when every target key column is a plain copy of a source key column: map_key then
  // needs only the source row's key columns (a light scan's rows).
  bool key_from_source_key() const;
  // Maps a projected source row (and the current projected target row, or null) into `out`
  // (mapped layout, every value coerced to its target column type). An error names the column.
  Status map_row(const Row& source_row, const Row* target_row, int64_t now_micros, Row& out) const;
  // Brings a projected target row read from the target into canonical form (in place).
  Status canonicalize_target(Row& target_row) const;

  // Two-way sync: a mapped column can flow back when its rule is a plain source column.
  bool reversible(size_t mapped_index) const { return reverse_source_[mapped_index] >= 0; }
  // Source projection position that mapped column `i` reverses into (-1 when not reversible).
  int reverse_position(size_t mapped_index) const { return reverse_source_[mapped_index]; }
  // The source key of a target row (projected target row -> source key, coerced to source types).
  Status reverse_key(const Row& target_row, Row& source_key_out) const;
  // Value of mapped column `i` converted to the type of the source column it came from.
  Result<Value> reverse_value(size_t mapped_index, const Value& v) const;

  const Schema& source_schema() const { return source_; }
  const Schema& target_schema() const { return target_; }

 private:
  Schema source_;
  Schema target_;
  MapperOptions options_;
  std::vector<std::string> mapped_names_;
  std::vector<TypeSpec> mapped_types_;
  std::vector<size_t> mapped_target_index_;
  size_t key_count_ = 0;
  std::vector<Expression> rules_;    // one per mapped column
  std::vector<int> plain_source_;    // source projection position when the rule is a plain copy
  std::vector<int> reverse_source_;  // as plain_source_, -1 when not reversible
  std::vector<size_t> source_projection_;
  std::vector<size_t> target_projection_;
  friend struct MapperBuilder;
};

// Coerces in place, skipping the work when the value is already what the type stores.
Status coerce_in_place(Value& v, const TypeSpec& t, const CoerceOptions& opts);

}  // namespace dbsync
