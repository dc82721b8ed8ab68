// PostgreSQL's introspection (adapters/postgres/pg_introspection) over libpq against the stack's
// server: what validation and browsing read of a table, and keyset pages of its rows.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_introspection.hpp"
#include "adapters/postgres/pg_schema.hpp"
#include "test/adapters/pg_test_env.hpp"

namespace dbsync::pg::testing {
namespace {

class PgIntrospection : public PgTest {
 protected:
  PgIntrospection() : reader_(conn_), introspector_(reader_) {}

  // The values of `column` in the rows of a page (JSON objects).
  static std::vector<std::string> column_of(const std::vector<std::string>& page,
                                            const std::string& column) {
    std::vector<std::string> out;
    for (const std::string& row : page) out.push_back(nlohmann::json::parse(row)[column].dump());
    return out;
  }

  // A collation that does not sort by bytes (ICU's root collation puts "a" before "B"), or the
  // database default when the server has no ICU.
  std::string non_byte_collation() {
    Result<PgResult> r = conn_.query(
        "SELECT quote_ident(collname) FROM pg_collation WHERE collname = 'und-x-icu' LIMIT 1");
    if (r.is_ok() && r->rows() == 1) return " COLLATE " + std::string(r->get(0, 0));
    return "";
  }

  PqCatalogReader reader_;
  PgIntrospector introspector_;
};

TEST_F(PgIntrospection, CompositeKeyUniqueIndexesAndColumns) {
  sql("CREATE TABLE " + table("orders") +
      " (region text, id bigint, code varchar(8) NOT NULL, note text DEFAULT 'none', "
      " total numeric(10,2), PRIMARY KEY (region, id))");
  sql("ALTER TABLE " + table("orders") + " ADD COLUMN gone int");
  sql("ALTER TABLE " + table("orders") + " DROP COLUMN gone");
  sql("CREATE UNIQUE INDEX ON " + table("orders") + " (code)");
  sql("CREATE UNIQUE INDEX ON " + table("orders") + " (note) WHERE note <> 'none'");  // partial
  sql("CREATE UNIQUE INDEX ON " + table("orders") + " (lower(note))");                // expression
  sql("CREATE UNIQUE INDEX ON " + table("orders") + " (total) INCLUDE (note)");

  Result<PgTableDescription> d = introspector_.describe_table(schema_ + ".orders");
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->qualified, schema_ + ".orders");
  EXPECT_EQ(d->kind, "table");
  EXPECT_TRUE(d->indexable);
  EXPECT_TRUE(d->types.is_ok()) << d->types.to_string();
  ASSERT_EQ(d->columns.size(), 5u);
  EXPECT_EQ(d->columns[2].name, "code");
  EXPECT_EQ(d->columns[2].declared_type, "character varying(8)");
  EXPECT_FALSE(d->columns[2].nullable);
  EXPECT_TRUE(d->columns[2].collatable);
  EXPECT_FALSE(d->columns[1].collatable);
  EXPECT_EQ(d->columns[3].default_expression.value_or(""), "'none'::text");
  EXPECT_FALSE(d->columns[4].default_expression);
  EXPECT_EQ(d->columns[0].key_position, 1);
  EXPECT_EQ(d->columns[1].key_position, 2);
  EXPECT_FALSE(d->columns[2].key_position);
  EXPECT_EQ(d->key_columns(), (std::vector<std::string>{"region", "id"}));
  EXPECT_EQ(d->schema.key_names(), (std::vector<std::string>{"region", "id"}));
  EXPECT_EQ(d->type_names[4], "pg_catalog.\"numeric\"");
  EXPECT_EQ(d->udt[4], "numeric");
  // The primary key, code, and total (its INCLUDE column is no key); not the partial or the
  // expression index.
  ASSERT_EQ(d->unique_indexes.size(), 3u);
  EXPECT_TRUE(d->unique_on({"id", "region"}));
  EXPECT_TRUE(d->unique_on({"code", "note"}));
  EXPECT_TRUE(d->unique_on({"total"}));
  EXPECT_FALSE(d->unique_on({"id"}));
  EXPECT_FALSE(d->unique_on({"note"}));

  // The interface's answer is the same description; pg_schema's is made from it.
  Result<TableDescription> base = introspector_.describe(schema_ + ".orders");
  ASSERT_TRUE(base.is_ok());
  EXPECT_EQ(base->key_columns(), d->key_columns());
  Result<TableInfo> info = describe_table_info(conn_, {schema_, "orders"});
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->unique_indexes, d->unique_indexes);
  EXPECT_EQ(info->collatable, (std::vector<bool>{true, false, true, true, false}));
}

TEST_F(PgIntrospection, ViewsOtherRelationsAndBadNames) {
  sql("CREATE TABLE " + table("base") + " (id int PRIMARY KEY, v text)");
  sql("CREATE VIEW " + table("look") + " AS SELECT id, v FROM " + table("base"));
  sql("CREATE SEQUENCE " + table("seq"));
  Result<PgTableDescription> view = introspector_.describe_table(schema_ + ".look");
  ASSERT_TRUE(view.is_ok()) << view.status().to_string();
  EXPECT_EQ(view->kind, "view");
  EXPECT_FALSE(view->indexable);
  EXPECT_TRUE(view->key_columns().empty());

  Result<PgTableDescription> seq = introspector_.describe_table(schema_ + ".seq");
  ASSERT_FALSE(seq.is_ok());
  EXPECT_EQ(seq.status().code(), ErrorCode::kTypeMismatch);

  Result<PgTableDescription> missing = introspector_.describe_table(schema_ + ".nope");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "relation \"" + schema_ + ".nope\" does not exist");

  Result<PgTableDescription> bad = introspector_.describe_table("x; DROP TABLE t");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kParseError);
  EXPECT_EQ(bad.status().message().rfind("invalid table name \"x; DROP TABLE t\": ", 0), 0u)
      << bad.status().message();
  EXPECT_EQ(count("SELECT count(*) FROM " + table("base")), 0);  // untouched
}

TEST_F(PgIntrospection, PagesRowsInKeyOrderWithTextKeysInByteOrder) {
  sql("CREATE TABLE " + table("words") + " (w text" + non_byte_collation() +
      ", n int, PRIMARY KEY (w, n))");
  sql("INSERT INTO " + table("words") +
      " VALUES ('b', 1), ('B', 1), ('a', 2), ('a', 1), ('\u00e4', 1)");
  Result<PgTableDescription> d = introspector_.describe_table(schema_ + ".words");
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();

  Result<std::vector<std::string>> first = introspector_.page_rows(*d, std::nullopt, 3);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(column_of(*first, "w"), (std::vector<std::string>{"\"B\"", "\"a\"", "\"a\""}));
  EXPECT_EQ(column_of(*first, "n"), (std::vector<std::string>{"1", "1", "2"}));
  // The next page starts after the last row (its other members are ignored).
  Result<std::vector<std::string>> next = introspector_.page_rows(*d, first->back(), 3);
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_EQ(column_of(*next, "w"), (std::vector<std::string>{"\"b\"", "\"\u00e4\""}));
  Result<std::vector<std::string>> none =
      introspector_.page_rows(*d, std::string(R"({"w": "\u00e4", "n": 1})"), 3);
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_TRUE(none->empty());

  Result<std::vector<std::string>> lacking =
      introspector_.page_rows(*d, std::string(R"({"w": "a"})"), 3);
  ASSERT_FALSE(lacking.is_ok());
  EXPECT_EQ(lacking.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(lacking.status().message(), "after lacks the key column \"n\"");
  Result<std::vector<std::string>> array = introspector_.page_rows(*d, std::string("[1]"), 3);
  EXPECT_EQ(array.status().code(), ErrorCode::kInvalidArgument);

  sql("CREATE TABLE " + table("loose") + " (a int)");
  Result<PgTableDescription> loose = introspector_.describe_table(schema_ + ".loose");
  ASSERT_TRUE(loose.is_ok());
  Result<std::vector<std::string>> unkeyed = introspector_.page_rows(*loose, std::nullopt, 3);
  ASSERT_FALSE(unkeyed.is_ok());
  EXPECT_EQ(unkeyed.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(PgIntrospection, HostileNamesAreBoundAndQuoted) {
  const std::string evil = "x\"; DROP TABLE t; --";
  sql("CREATE TABLE " + table(evil) + " (" + quote_ident(evil) + " text PRIMARY KEY, v int)");
  sql("INSERT INTO " + table(evil) + " VALUES ('k1', 1), ('k2', 2)");
  Result<PgTableDescription> d = introspector_.describe_table(table(evil));
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->key_columns(), (std::vector<std::string>{evil}));
  Result<std::vector<std::string>> page =
      introspector_.page_rows(*d, nlohmann::json{{evil, "k1"}}.dump(), 10);
  ASSERT_TRUE(page.is_ok()) << page.status().to_string();
  EXPECT_EQ(column_of(*page, evil), (std::vector<std::string>{"\"k2\""}));
}

TEST_F(PgIntrospection, ListsTablesInByteOrderAfterAPosition) {
  sql("CREATE TABLE " + table("b_table") + " (id int PRIMARY KEY)");
  sql("CREATE TABLE " + table("B_upper") + " (id int PRIMARY KEY)");
  sql("CREATE VIEW " + table("a_view") + " AS SELECT 1 AS one");
  sql("CREATE TABLE " + table("parted") + " (id int) PARTITION BY RANGE (id)");
  sql("CREATE TABLE " + table("parted_1") + " PARTITION OF " + table("parted") +
      " FOR VALUES FROM (0) TO (10)");
  // From the start of this test's schema ("" sorts first), two at a time.
  std::vector<TableEntry> seen;
  std::optional<TablePosition> after = TablePosition{schema_, ""};
  for (int pages = 0; pages < 10; ++pages) {
    Result<std::vector<TableEntry>> page = introspector_.list_tables(after, 2);
    ASSERT_TRUE(page.is_ok()) << page.status().to_string();
    bool left_schema = page->empty();
    for (const TableEntry& t : *page) {
      if (t.schema != schema_) left_schema = true;
      if (t.schema == schema_) seen.push_back(t);
    }
    if (left_schema) break;
    after = TablePosition{page->back().schema, page->back().name};
  }
  std::vector<std::string> names, kinds;
  for (const TableEntry& t : seen) names.push_back(t.name), kinds.push_back(t.kind);
  // Byte order ("B" before "a"); a partition is listed through its parent only.
  EXPECT_EQ(names, (std::vector<std::string>{"B_upper", "a_view", "b_table", "parted"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"table", "view", "table", "table"}));
}

}  // namespace
}  // namespace dbsync::pg::testing
