// The shell-independent parts of a table description (engine/introspection.hpp).
#include "engine/introspection.hpp"

#include <gtest/gtest.h>

namespace dbsync {
namespace {

ColumnDescription column(const char* name, std::optional<int> key_position = std::nullopt) {
  ColumnDescription c;
  c.name = name;
  c.key_position = key_position;
  return c;
}

TEST(TableDescription, KeyColumnsComeInKeyOrderNotColumnOrder) {
  TableDescription t;
  t.columns = {column("id", 2), column("note"), column("region", 1), column("day", 3)};
  EXPECT_EQ(t.key_columns(), (std::vector<std::string>{"region", "id", "day"}));
  t.columns = {column("a"), column("b")};
  EXPECT_TRUE(t.key_columns().empty());
}

TEST(TableDescription, UniqueOnNeedsAnIndexWhollyAmongTheColumns) {
  TableDescription t;
  EXPECT_FALSE(t.unique_on({"id"}));  // no index at all
  t.unique_indexes = {{"region", "id"}, {"code"}, {}};
  EXPECT_TRUE(t.unique_on({"id", "region"}));
  EXPECT_TRUE(t.unique_on({"code", "anything"}));
  EXPECT_FALSE(t.unique_on({"id"}));
  EXPECT_FALSE(t.unique_on({"region", "note"}));
  EXPECT_FALSE(t.unique_on({}));  // an empty index covers nothing
}

}  // namespace
}  // namespace dbsync
