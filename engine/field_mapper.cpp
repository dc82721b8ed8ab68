#include "engine/field_mapper.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace dbsync {

namespace {

// Digits before and after the point of a canonical decimal text.
void decimal_shape(const std::string& d, int& int_digits, int& frac_digits) {
  size_t start = (!d.empty() && d[0] == '-') ? 1 : 0;
  size_t dot = d.find('.');
  size_t int_end = dot == std::string::npos ? d.size() : dot;
  int_digits = static_cast<int>(int_end - start);
  if (int_digits == 1 && d[start] == '0') int_digits = 0;
  frac_digits = dot == std::string::npos ? 0 : static_cast<int>(d.size() - dot - 1);
}

bool already_canonical(const Value& v, const TypeSpec& t) {
  switch (v.type()) {
    case ValueType::kNull:
      return true;
    case ValueType::kInt:
      return t.kind == TypeKind::kInt && t.int_bits == 64 && !t.is_unsigned;
    case ValueType::kBool:
      return t.kind == TypeKind::kBool;
    case ValueType::kText:
      // A UTF-8 text has at most as many characters as bytes: within the limit by bytes means
      // within it by characters, without counting.
      return t.kind == TypeKind::kText && !t.fixed_length && t.enum_values.empty() &&
             (t.max_length < 0 || static_cast<int64_t>(v.str().size()) <= t.max_length);
    case ValueType::kBytes:
      return t.kind == TypeKind::kBytes && t.max_length < 0;
    case ValueType::kFloat:
      return t.kind == TypeKind::kFloat && t.precision != 24;
    case ValueType::kTimestamp:
      return t.kind == TypeKind::kTimestamp && t.fractional_digits >= 6;
    case ValueType::kDate:
      return t.kind == TypeKind::kDate;
    case ValueType::kTime:
      return t.kind == TypeKind::kTime && t.fractional_digits >= 6;
    case ValueType::kJson:
      return t.kind == TypeKind::kJson;
    case ValueType::kDecimal: {
      if (t.kind != TypeKind::kDecimal) return false;
      if (t.scale < 0 && t.precision < 0) return true;
      int int_digits = 0, frac_digits = 0;
      decimal_shape(v.str(), int_digits, frac_digits);
      if (t.scale >= 0 && frac_digits != t.scale) return false;
      if (t.precision >= 0 && int_digits > t.precision - std::max(t.scale, 0)) return false;
      return true;
    }
  }
  return false;
}

}  // namespace

Status coerce_in_place(Value& v, const TypeSpec& t, const CoerceOptions& opts) {
  if (already_canonical(v, t)) return Status::ok();
  Result<Value> r = coerce(v, t, opts);
  if (!r.is_ok()) return r.status();
  v = std::move(r).value();
  return Status::ok();
}

Result<MappingSpec> parse_mapping_json(std::string_view json_text) {
  // ordered_json: mapped columns keep the order the document gives them.
  nlohmann::ordered_json doc =
      nlohmann::ordered_json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return error(ErrorCode::kParseError, "mapping is not valid JSON");
  MappingSpec spec;
  if (doc.is_null()) return spec;
  if (!doc.is_object())
    return error(ErrorCode::kInvalidArgument,
                 "mapping must be a JSON object of target column -> rule");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    MappingRule rule;
    rule.target_column = it.key();
    if (rule.target_column.empty())
      return error(ErrorCode::kInvalidArgument, "mapping has an empty target column name");
    const nlohmann::ordered_json& v = it.value();
    std::string where = "mapping for target column '" + rule.target_column + "': ";
    if (v.is_string()) {
      rule.expression = v.get<std::string>();
      if (rule.expression.empty())
        return error(ErrorCode::kInvalidArgument, where + "the rule is empty");
    } else if (v.is_object()) {
      for (auto f = v.begin(); f != v.end(); ++f) {
        const std::string& name = f.key();
        const nlohmann::ordered_json& fv = f.value();
        if (name == "source" || name == "transform" || name == "expression") {
          if (!fv.is_string())
            return error(ErrorCode::kInvalidArgument, where + "\"" + name + "\" must be a string");
          std::string s = fv.get<std::string>();
          if (name == "source") rule.source_column = s;
          if (name == "transform") rule.transform = s;
          if (name == "expression") rule.expression = s;
        } else if (name == "key" || name == "skip") {
          if (!fv.is_boolean())
            return error(ErrorCode::kInvalidArgument,
                         where + "\"" + name + "\" must be true or false");
          (name == "key" ? rule.key : rule.skip) = fv.get<bool>();
        } else {
          return error(ErrorCode::kInvalidArgument,
                       where + "unknown field \"" + name +
                           "\" (expected source, transform, expression, key, skip)");
        }
      }
      if (!rule.skip && rule.source_column.empty() && rule.expression.empty())
        return error(ErrorCode::kInvalidArgument, where + "needs \"source\" or \"expression\"");
      if (!rule.source_column.empty() && !rule.expression.empty())
        return error(ErrorCode::kInvalidArgument,
                     where + "give either \"source\" or \"expression\", not both");
      if (!rule.transform.empty() && rule.source_column.empty())
        return error(ErrorCode::kInvalidArgument, where + "\"transform\" needs \"source\"");
    } else {
      return error(ErrorCode::kInvalidArgument, where + "a rule must be a string or an object");
    }
    spec.rules.push_back(std::move(rule));
  }
  return spec;
}

struct MapperBuilder {
  FieldMapper& m;
  const MappingSpec& spec;

  ColumnResolver schema_resolver() const {
    return [this](RowSide side, std::string_view name) -> std::optional<size_t> {
      const Schema& s = side == RowSide::kSource ? m.source_ : m.target_;
      int i = s.index_of(name);
      if (i < 0) return std::nullopt;
      return static_cast<size_t>(i);
    };
  }

  // Resolves names to positions in the projections, extending them as rules reference columns.
  ColumnResolver projection_resolver() {
    return [this](RowSide side, std::string_view name) -> std::optional<size_t> {
      const Schema& s = side == RowSide::kSource ? m.source_ : m.target_;
      std::vector<size_t>& proj =
          side == RowSide::kSource ? m.source_projection_ : m.target_projection_;
      int i = s.index_of(name);
      if (i < 0) return std::nullopt;
      auto found = std::find(proj.begin(), proj.end(), static_cast<size_t>(i));
      if (found != proj.end()) return static_cast<size_t>(found - proj.begin());
      proj.push_back(static_cast<size_t>(i));
      return proj.size() - 1;
    };
  }

  Result<Expression> compile_rule(const MappingRule& rule, const ColumnResolver& resolver) {
    Result<Expression> e =
        rule.source_column.empty()
            ? Expression::compile(rule.expression, resolver)
            : Expression::compile_transform(rule.source_column, rule.transform, resolver);
    if (!e.is_ok())
      return e.status().with_context("mapping for target column '" + rule.target_column + "'");
    return e;
  }

  Status build() {
    // 1. The rules in force.
    std::vector<MappingRule> rules;
    if (spec.rules.empty()) {
      for (const Column& c : m.target_.columns)
        if (m.source_.index_of(c.name) >= 0)
          rules.push_back({c.name, c.name, "", "", false, false});
      if (rules.empty())
        return error(ErrorCode::kInvalidArgument,
                     "no mapping given and no target column has a same-named source column");
    } else {
      for (const MappingRule& r : spec.rules)
        if (!r.skip) rules.push_back(r);
    }
    for (size_t i = 0; i < rules.size(); ++i) {
      if (m.target_.index_of(rules[i].target_column) < 0)
        return error(ErrorCode::kNotFound, "mapping names target column '" +
                                               rules[i].target_column +
                                               "', which the target table does not have");
      for (size_t j = 0; j < i; ++j)
        if (rules[j].target_column == rules[i].target_column)
          return error(ErrorCode::kInvalidArgument,
                       "target column '" + rules[i].target_column + "' is mapped twice");
    }

    // 2. The target key.
    std::vector<std::string> key = spec.target_key;
    if (key.empty())
      for (const MappingRule& r : rules)
        if (r.key) key.push_back(r.target_column);
    if (key.empty()) key = m.target_.key_names();
    if (key.empty())
      return error(ErrorCode::kInvalidArgument,
                   "the target table has no primary key: give the key columns");
    for (const std::string& k : key) {
      if (m.target_.index_of(k) < 0)
        return error(ErrorCode::kNotFound, "key column '" + k + "' is not a target column");
      auto has_rule = [&](const MappingRule& r) { return r.target_column == k; };
      if (std::none_of(rules.begin(), rules.end(), has_rule)) {
        if (m.source_.index_of(k) < 0)
          return error(ErrorCode::kInvalidArgument,
                       "key column '" + k + "' of the target is not mapped from the source");
        rules.push_back({k, k, "", "", true, false});
      }
    }
    for (size_t i = 0; i < key.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (key[i] == key[j])
          return error(ErrorCode::kInvalidArgument, "key column '" + key[i] + "' is listed twice");
    // Mapped layout: keys in key order, then the other rules in the order given.
    std::vector<const MappingRule*> ordered;
    for (const std::string& k : key)
      for (const MappingRule& r : rules)
        if (r.target_column == k) ordered.push_back(&r);
    for (const MappingRule& r : rules)
      if (std::find(key.begin(), key.end(), r.target_column) == key.end()) ordered.push_back(&r);
    m.key_count_ = key.size();
    for (const MappingRule* r : ordered) {
      size_t ti = static_cast<size_t>(m.target_.index_of(r->target_column));
      m.mapped_names_.push_back(r->target_column);
      m.mapped_types_.push_back(m.target_.columns[ti].type);
      m.mapped_target_index_.push_back(ti);
    }

    // 3. The source key: given, or the plain source columns the target key is mapped from.
    std::vector<size_t> source_key;
    if (!spec.source_key.empty()) {
      if (spec.source_key.size() != key.size())
        return error(ErrorCode::kInvalidArgument,
                     "source key has " + std::to_string(spec.source_key.size()) +
                         " columns but the target key has " + std::to_string(key.size()));
      for (const std::string& k : spec.source_key) {
        int i = m.source_.index_of(k);
        if (i < 0)
          return error(ErrorCode::kNotFound,
                       "source key column '" + k + "' is not a source column");
        source_key.push_back(static_cast<size_t>(i));
      }
    } else {
      for (size_t i = 0; i < m.key_count_; ++i) {
        DBSYNC_ASSIGN_OR_RETURN(Expression e, compile_rule(*ordered[i], schema_resolver()));
        std::optional<size_t> plain = e.plain_source_column();
        if (!plain)
          return error(ErrorCode::kInvalidArgument,
                       "key column '" + ordered[i]->target_column +
                           "' must be mapped from a plain source column (or give the source key)");
        source_key.push_back(*plain);
      }
    }
    m.source_projection_ = source_key;
    m.target_projection_ = m.mapped_target_index_;

    // 4. Compile every rule against the projections.
    ColumnResolver resolver = projection_resolver();
    for (size_t i = 0; i < ordered.size(); ++i) {
      DBSYNC_ASSIGN_OR_RETURN(Expression e, compile_rule(*ordered[i], resolver));
      if (i < m.key_count_ && e.reads_target())
        return error(ErrorCode::kInvalidArgument,
                     "key column '" + ordered[i]->target_column + "' cannot read the target row");
      std::optional<size_t> plain = e.plain_source_column();
      m.plain_source_.push_back(plain ? static_cast<int>(*plain) : -1);
      m.rules_.push_back(std::move(e));
    }
    // A source column copied into several target columns flows back from the first only: a
    // write-back must set each source column once.
    m.reverse_source_ = m.plain_source_;
    for (size_t i = 0; i < m.reverse_source_.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (m.reverse_source_[i] >= 0 && m.reverse_source_[i] == m.plain_source_[j]) {
          m.reverse_source_[i] = -1;
          break;
        }
    return Status::ok();
  }
};

Result<FieldMapper> FieldMapper::compile(const MappingSpec& spec, const Schema& source,
                                         const Schema& target, const MapperOptions& options) {
  FieldMapper m;
  m.source_ = source;
  m.target_ = target;
  m.options_ = options;
  MapperBuilder builder{m, spec};
  DBSYNC_RETURN_IF_ERROR(builder.build());
  return m;
}

Status FieldMapper::map_key(const Row& source_row, Row& key_out) const {
  key_out.resize(key_count_);
  for (size_t i = 0; i < key_count_; ++i) {
    if (plain_source_[i] >= 0) {
      key_out[i] = source_row[static_cast<size_t>(plain_source_[i])];
    } else {
      EvalContext ctx{&source_row, nullptr, 0};
      Result<Value> r = rules_[i].evaluate(ctx);
      if (!r.is_ok()) return r.status().with_context("key column '" + mapped_names_[i] + "'");
      key_out[i] = std::move(r).value();
    }
    if (key_out[i].is_null())
      return error(ErrorCode::kInvalidArgument, "key column '" + mapped_names_[i] + "' is null");
    Status st = coerce_in_place(key_out[i], mapped_types_[i], options_.coerce);
    if (!st.is_ok()) return st.with_context("key column '" + mapped_names_[i] + "'");
  }
  return Status::ok();
}

bool FieldMapper::key_from_source_key() const {
  for (size_t i = 0; i < key_count_; ++i)
    if (plain_source_[i] < 0 || static_cast<size_t>(plain_source_[i]) >= key_count_) return false;
  return true;
}

Status FieldMapper::map_row(const Row& source_row, const Row* target_row, int64_t now_micros,
                            Row& out) const {
  out.resize(mapped_names_.size());
  EvalContext ctx{&source_row, target_row, now_micros};
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (plain_source_[i] >= 0) {
      out[i] = source_row[static_cast<size_t>(plain_source_[i])];
    } else {
      Result<Value> r = rules_[i].evaluate(ctx);
      if (!r.is_ok()) return r.status().with_context("column '" + mapped_names_[i] + "'");
      out[i] = std::move(r).value();
    }
    Status st = coerce_in_place(out[i], mapped_types_[i], options_.coerce);
    if (!st.is_ok()) return st.with_context("column '" + mapped_names_[i] + "'");
  }
  return Status::ok();
}

Status FieldMapper::canonicalize_target(Row& target_row) const {
  for (size_t i = 0; i < target_row.size() && i < target_projection_.size(); ++i) {
    const Column& c = target_.columns[target_projection_[i]];
    Status st = coerce_in_place(target_row[i], c.type, options_.coerce);
    if (!st.is_ok()) return st.with_context("target column '" + c.name + "'");
  }
  return Status::ok();
}

Status FieldMapper::reverse_key(const Row& target_row, Row& source_key_out) const {
  source_key_out.resize(key_count_);
  for (size_t j = 0; j < key_count_; ++j) {
    bool found = false;
    for (size_t i = 0; i < key_count_ && !found; ++i) {
      if (reverse_source_[i] != static_cast<int>(j)) continue;
      DBSYNC_ASSIGN_OR_RETURN(source_key_out[j], reverse_value(i, target_row[i]));
      found = true;
    }
    if (!found)
      return error(ErrorCode::kInvalidArgument,
                   "source key column '" + source_.columns[source_projection_[j]].name +
                       "' is not a plain copy of a target key column: rows cannot flow back");
  }
  return Status::ok();
}

Result<Value> FieldMapper::reverse_value(size_t mapped_index, const Value& v) const {
  int pos = reverse_source_[mapped_index];
  if (pos < 0)
    return error(ErrorCode::kInvalidArgument,
                 "column '" + mapped_names_[mapped_index] + "' is computed and cannot flow back");
  const Column& c = source_.columns[source_projection_[static_cast<size_t>(pos)]];
  Result<Value> r = coerce(v, c.type, options_.coerce);
  if (!r.is_ok()) return r.status().with_context("source column '" + c.name + "'");
  return r;
}

}  // namespace dbsync
