// libFuzzer target for the mapping-expression language: every input is compiled as a rule
// (and, split at the first newline, as a legacy column + transform); whatever compiles is
// evaluated against a row holding every value kind, with and without a target row.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expression.hpp"

namespace {

using dbsync::ColumnResolver;
using dbsync::EvalContext;
using dbsync::Expression;
using dbsync::Row;
using dbsync::RowSide;
using dbsync::Value;

const std::vector<std::string>& column_names() {
  static const std::vector<std::string> names = {"id",   "title", "price", "meta",    "tags",
                                                 "when", "day",   "tod",   "ratio",   "blob",
                                                 "flag", "nul",   "x",     "col name"};
  return names;
}

Row make_row() {
  Row row;
  row.push_back(Value::integer(-9223372036854775807LL - 1));
  row.push_back(Value::text("Hello W\xc3\xb6rld \xff"));
  row.push_back(Value::decimal("12345678901234567890.125").value());
  row.push_back(Value::json(R"({"a":{"b":[1,2.5,"x",null,true]},"k":"v","n":-0.0})").value());
  row.push_back(Value::json(R"(["red","green",3,{"z":1}])").value());
  row.push_back(Value::timestamp(1714559400123456));
  row.push_back(Value::date(-719468));
  row.push_back(Value::time_of_day(86399999999));
  row.push_back(Value::floating(-0.0));
  row.push_back(Value::bytes(std::string("\0\x01\xfe", 3)));
  row.push_back(Value::boolean(true));
  row.push_back(Value::null());
  row.push_back(Value::floating(1e308));
  row.push_back(Value::text(""));
  return row;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Row row = make_row();
  static const ColumnResolver resolver = [](RowSide,
                                            std::string_view name) -> std::optional<size_t> {
    const auto& names = column_names();
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return i;
    }
    return std::nullopt;
  };
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto run = [&](const Expression& e) {
    EvalContext with_target{&row, &row, 1714559400000000};
    EvalContext without_target{&row, nullptr, -1};
    auto a = e.evaluate(with_target);
    auto b = e.evaluate(without_target);
    if (a) (void)a->to_string();
    if (b) (void)b->to_string();
    (void)e.plain_source_column();
    (void)e.reads_target();
    (void)e.source_columns();
  };

  auto compiled = Expression::compile(text, resolver);
  if (compiled) run(*compiled);

  const size_t nl = text.find('\n');
  if (nl != std::string_view::npos) {
    auto t = Expression::compile_transform(text.substr(0, nl), text.substr(nl + 1), resolver);
    if (t) run(*t);
  }
  return 0;
}
