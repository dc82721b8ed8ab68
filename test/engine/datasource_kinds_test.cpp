#include "engine/datasource_kinds.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace dbsync {
namespace {

TEST(DatasourceKinds, OneRowPerKindInOrder) {
  std::string names;
  std::set<std::string_view> seen;
  for (const DatasourceKind& k : datasource_kinds()) {
    EXPECT_TRUE(seen.insert(k.name).second) << k.name << " listed twice";
    EXPECT_EQ(find_datasource_kind(k.name), &k);
  }
  EXPECT_EQ(datasource_kind_names(), "local, postgres, supabase, neon, mysql, wordpress");
  EXPECT_EQ(datasource_kind_names(KindFamily::kPostgres), "local, postgres, supabase, neon");
  EXPECT_EQ(datasource_kind_names(KindFamily::kMysql), "mysql, wordpress");
  EXPECT_EQ(find_datasource_kind("oracle"), nullptr);
  EXPECT_EQ(find_datasource_kind("Postgres"), nullptr);  // names are exact
}

TEST(DatasourceKinds, FamiliesAndExecutors) {
  for (const char* k : {"local", "postgres", "supabase", "neon"}) {
    EXPECT_TRUE(is_postgres_family(k)) << k;
    EXPECT_EQ(find_datasource_kind(k)->executor, KindExecutor::kWorkers) << k;
    EXPECT_TRUE(find_datasource_kind(k)->fingerprints) << k;
  }
  for (const char* k : {"mysql", "wordpress"}) {
    EXPECT_FALSE(is_postgres_family(k)) << k;
    EXPECT_EQ(find_datasource_kind(k)->executor, KindExecutor::kDaemon) << k;
    EXPECT_EQ(find_datasource_kind(k)->conninfo, ConninfoForm::kMysqlUrl) << k;
  }
  EXPECT_FALSE(is_postgres_family("redis"));
}

TEST(DatasourceKinds, OnlyTheMasterTakesNoConninfo) {
  for (const DatasourceKind& k : datasource_kinds())
    EXPECT_EQ(k.is_master, k.conninfo == ConninfoForm::kNone) << k.name;
  EXPECT_TRUE(is_master_kind("local"));
  EXPECT_FALSE(is_master_kind("postgres"));
  EXPECT_FALSE(is_master_kind("nothing"));
  EXPECT_EQ(find_datasource_kind("neon")->conninfo, ConninfoForm::kLibpq);
}

TEST(DatasourceKinds, NamesForTheCatalog) {
  EXPECT_STREQ(kind_family_name(KindFamily::kPostgres), "postgres");
  EXPECT_STREQ(kind_family_name(KindFamily::kMysql), "mysql");
  // dbsync.executor_kind() answers these words.
  EXPECT_STREQ(kind_executor_name(KindExecutor::kWorkers), "worker");
  EXPECT_STREQ(kind_executor_name(KindExecutor::kDaemon), "daemon");
  EXPECT_STREQ(conninfo_form_name(ConninfoForm::kMysqlUrl), "mysql_url");
}

}  // namespace
}  // namespace dbsync
