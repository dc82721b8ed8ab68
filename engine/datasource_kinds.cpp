#include "engine/datasource_kinds.hpp"

#include <array>
#include <optional>

namespace dbsync {
namespace {

using F = KindFamily;
using E = KindExecutor;
using C = ConninfoForm;

// clang-format off
constexpr std::array<DatasourceKind, 6> kKinds{{
  // name        family        executor      conninfo       master fingerprints
  {"local",      F::kPostgres, E::kWorkers,  C::kNone,      true,  true},
  {"postgres",   F::kPostgres, E::kWorkers,  C::kLibpq,     false, true},
  {"supabase",   F::kPostgres, E::kWorkers,  C::kLibpq,     false, true},
  {"neon",       F::kPostgres, E::kWorkers,  C::kLibpq,     false, true},
  {"mysql",      F::kMysql,    E::kDaemon,   C::kMysqlUrl,  false, false},
  {"wordpress",  F::kMysql,    E::kDaemon,   C::kMysqlUrl,  false, false},
}};
// clang-format on

}  // namespace

std::span<const DatasourceKind> datasource_kinds() { return kKinds; }

const DatasourceKind* find_datasource_kind(std::string_view name) {
  for (const DatasourceKind& k : kKinds)
    if (k.name == name) return &k;
  return nullptr;
}

bool is_postgres_family(std::string_view name) {
  const DatasourceKind* k = find_datasource_kind(name);
  return k != nullptr && k->family == KindFamily::kPostgres;
}

bool is_master_kind(std::string_view name) {
  const DatasourceKind* k = find_datasource_kind(name);
  return k != nullptr && k->is_master;
}

namespace {
std::string names_of(const std::optional<KindFamily>& family) {
  std::string out;
  for (const DatasourceKind& k : kKinds) {
    if (family && k.family != *family) continue;
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}
}  // namespace

std::string datasource_kind_names() { return names_of(std::nullopt); }
std::string datasource_kind_names(KindFamily family) { return names_of(family); }

const char* kind_family_name(KindFamily family) {
  switch (family) {
    case KindFamily::kPostgres:
      return "postgres";
    case KindFamily::kMysql:
      return "mysql";
  }
  return "?";
}

const char* kind_executor_name(KindExecutor executor) {
  switch (executor) {
    case KindExecutor::kWorkers:
      return "worker";
    case KindExecutor::kDaemon:
      return "daemon";
  }
  return "?";
}

const char* conninfo_form_name(ConninfoForm form) {
  switch (form) {
    case ConninfoForm::kNone:
      return "none";
    case ConninfoForm::kLibpq:
      return "libpq";
    case ConninfoForm::kMysqlUrl:
      return "mysql_url";
  }
  return "?";
}

}  // namespace dbsync
