#include "engine/introspection.hpp"

#include <algorithm>
#include <utility>

namespace dbsync {

bool TableDescription::unique_on(const std::vector<std::string>& names) const {
  for (const auto& index : unique_indexes) {
    bool covered = !index.empty() && std::all_of(index.begin(), index.end(), [&](const auto& c) {
      return std::find(names.begin(), names.end(), c) != names.end();
    });
    if (covered) return true;
  }
  return false;
}

std::vector<std::string> TableDescription::key_columns() const {
  std::vector<std::pair<int, std::string>> keyed;
  for (const ColumnDescription& c : columns)
    if (c.key_position) keyed.emplace_back(*c.key_position, c.name);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> out;
  for (auto& [position, name] : keyed) out.push_back(std::move(name));
  return out;
}

}  // namespace dbsync
