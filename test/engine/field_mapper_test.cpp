#include "engine/field_mapper.hpp"

#include <gtest/gtest.h>

#include "test/engine/memory_endpoints.hpp"

namespace dbsync::testing {
namespace {

Value t(const char* s) { return Value::text(s); }

class FieldMapperTest : public ::testing::Test {
 protected:
  // The seed's shape: a CMS row into WordPress-like columns.
  Schema source = make_schema({{"id", "bigint"},
                               {"title", "text"},
                               {"content", "text"},
                               {"price", "numeric(10,2)"},
                               {"status", "text"},
                               {"slug", "varchar(20)"}});
  Schema target = make_schema({{"id", "bigint"},
                               {"post_title", "text"},
                               {"post_content", "text"},
                               {"price", "numeric(10,2)"},
                               {"post_status", "varchar(20)"},
                               {"post_name", "varchar(10)"}});

  Result<FieldMapper> compile(const char* json) {
    Result<MappingSpec> spec = parse_mapping_json(json);
    if (!spec.is_ok()) return spec.status();
    return FieldMapper::compile(*spec, source, target);
  }
  // Maps one full source row (schema order) through the mapper's projection.
  Result<Row> map(const FieldMapper& m, const Row& full) {
    Row projected;
    for (size_t c : m.source_projection()) projected.push_back(full[c]);
    Row out;
    Status st = m.map_row(projected, nullptr, 0, out);
    if (!st.is_ok()) return st;
    return out;
  }
  Row sample{Value::integer(7), t("Hello"), t("Body"), *Value::decimal("10"), Value(), t("hello")};
};

TEST_F(FieldMapperTest, SeedRenamesAndTransforms) {
  auto m = compile(R"({
    "post_title": "title",
    "post_content": "@content",
    "price": "{{ master.price * 1.2 }}",
    "post_status": {"source": "status", "transform": "default:draft"},
    "post_name": {"source": "slug", "transform": "upper"}
  })");
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->mapped_columns(), (std::vector<std::string>{"id", "post_title", "post_content",
                                                           "price", "post_status", "post_name"}));
  EXPECT_EQ(m->key_count(), 1u);
  auto row = map(*m, sample);
  ASSERT_TRUE(row.is_ok()) << row.status().to_string();
  EXPECT_EQ((*row)[0], Value::integer(7));
  EXPECT_EQ((*row)[1], t("Hello"));
  EXPECT_EQ((*row)[2], t("Body"));
  EXPECT_EQ((*row)[3], *Value::decimal("12.00"));  // a number, in numeric(10,2)
  EXPECT_EQ((*row)[4], t("draft"));                // default on null
  EXPECT_EQ((*row)[5], t("HELLO"));
}

TEST_F(FieldMapperTest, LowerTransformAndInterpolation) {
  auto m = compile(R"({"post_title": {"source": "title", "transform": "lower"},
                       "post_content": "Hello {{ m.title }}!"})");
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  auto row = map(*m, sample);
  ASSERT_TRUE(row.is_ok());
  EXPECT_EQ((*row)[1], t("hello"));
  EXPECT_EQ((*row)[2], t("Hello Hello!"));
}

TEST_F(FieldMapperTest, EmptyMappingMapsSameNamedColumns) {
  auto spec = parse_mapping_json("{}");
  ASSERT_TRUE(spec.is_ok());
  auto m = FieldMapper::compile(*spec, source, target);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->mapped_columns(), (std::vector<std::string>{"id", "price"}));
}

TEST_F(FieldMapperTest, ProjectionReadsOnlyWhatTheRulesUse) {
  auto m = compile(R"({"post_title": "title"})");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->source_projection(), (std::vector<size_t>{0, 1}));  // id, title: not the body
  EXPECT_EQ(m->target_projection(), (std::vector<size_t>{0, 1}));
}

TEST_F(FieldMapperTest, ErrorsNameTheColumn) {
  auto unknown_target = compile(R"({"nope": "title"})");
  EXPECT_EQ(unknown_target.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(unknown_target.status().message().find("'nope'"), std::string::npos);

  auto unknown_source = compile(R"({"post_title": "titel"})");
  EXPECT_FALSE(unknown_source.is_ok());
  EXPECT_NE(unknown_source.status().message().find("post_title"), std::string::npos)
      << unknown_source.status().message();
  EXPECT_NE(unknown_source.status().message().find("titel"), std::string::npos);

  auto bad_expr = compile(R"({"price": "{{ m.price * }}"})");
  EXPECT_EQ(bad_expr.status().code(), ErrorCode::kParseError);
  EXPECT_NE(bad_expr.status().message().find("position"), std::string::npos);

  EXPECT_EQ(parse_mapping_json("[1,2]").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_mapping_json("{").status().code(), ErrorCode::kParseError);
  auto bad_field = parse_mapping_json(R"({"a": {"source": "x", "colour": 1}})");
  EXPECT_NE(bad_field.status().message().find("colour"), std::string::npos);
  EXPECT_FALSE(parse_mapping_json(R"({"a": 5})").is_ok());
  EXPECT_FALSE(parse_mapping_json(R"({"a": {"transform": "upper"}})").is_ok());
}

TEST_F(FieldMapperTest, SkippedRulesAreIgnored) {
  auto m =
      compile(R"({"post_title": "title", "post_content": {"source": "content", "skip": true}})");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->mapped_count(), 2u);
}

TEST_F(FieldMapperTest, ValueTooLongForTheTargetIsARowErrorNamingTheColumn) {
  auto m = compile(R"({"post_name": "title"})");
  ASSERT_TRUE(m.is_ok());
  Row long_title = sample;
  long_title[1] = t("a title far longer than ten characters");
  auto row = map(*m, long_title);
  ASSERT_FALSE(row.is_ok());
  EXPECT_EQ(row.status().code(), ErrorCode::kOutOfRange);
  EXPECT_NE(row.status().message().find("post_name"), std::string::npos) << row.status().message();
}

TEST_F(FieldMapperTest, KeyMustBeAPlainColumn) {
  Schema nokey = target;
  nokey.key.clear();
  auto spec = parse_mapping_json(R"({"post_title": "title"})");
  auto m = FieldMapper::compile(*spec, source, nokey);
  EXPECT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("primary key"), std::string::npos);

  auto computed = compile(R"({"id": {"expression": "{{ m.id * 2 }}", "key": true}})");
  EXPECT_FALSE(computed.is_ok());
  EXPECT_NE(computed.status().message().find("plain source column"), std::string::npos);
}

TEST_F(FieldMapperTest, ReverseMapsPlainRenamesOnly) {
  auto m = compile(R"({"post_title": "title", "post_content": "{{ m.content | upper }}"})");
  ASSERT_TRUE(m.is_ok());
  EXPECT_TRUE(m->reversible(0));
  EXPECT_TRUE(m->reversible(1));
  EXPECT_FALSE(m->reversible(2));
  Row target_row{Value::integer(7), t("T"), t("C")};
  Row key;
  ASSERT_TRUE(m->reverse_key(target_row, key).is_ok());
  EXPECT_EQ(key, (Row{Value::integer(7)}));
  EXPECT_EQ(*m->reverse_value(1, t("T")), t("T"));
  EXPECT_FALSE(m->reverse_value(2, t("C")).is_ok());
}

TEST_F(FieldMapperTest, TargetRowsAreCanonicalised) {
  auto m = compile(R"({"price": "price"})");
  ASSERT_TRUE(m.is_ok());
  Row target_row{Value::integer(1), *Value::decimal("10.5")};
  ASSERT_TRUE(m->canonicalize_target(target_row).is_ok());
  EXPECT_EQ(target_row[1].str(), "10.50");
}

}  // namespace
}  // namespace dbsync::testing
