// Structured log lines: one JSON object per event on stderr, e.g.
//   {"ts":"2026-11-24T23:59:01.123Z","level":"info","event":"request","method":"GET",...}
// Callers never pass secrets or tokens: fields are chosen, not dumped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "daemon/config.hpp"

namespace dbsync::daemon {

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_event(LogLevel level, const std::string& event,
               nlohmann::json fields = nlohmann::json::object());

}  // namespace dbsync::daemon
