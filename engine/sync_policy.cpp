#include "engine/sync_policy.hpp"

#include <string>

#include <nlohmann/json.hpp>

namespace dbsync {

Status parse_strategy_options(std::string_view json, SyncPolicy& policy) {
  nlohmann::json opts = nlohmann::json::parse(json, nullptr, false);
  if (!opts.is_object())
    return error(ErrorCode::kInvalidArgument, "strategy_options must be a JSON object");
  bool has_url = false;
  for (auto it = opts.begin(); it != opts.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    const bool is_text_option = k == "merge_fallback" || k == "manual_mode" ||
                                k == "webhook_fallback" || k == "url" || k == "secret";
    if (is_text_option && !v.is_string())
      return error(ErrorCode::kInvalidArgument, "strategy option \"" + k + "\" must be a string");
    if (k == "merge_fallback") {
      DBSYNC_ASSIGN_OR_RETURN(policy.merge_fallback, parse_merge_fallback(v.get<std::string>()));
    } else if (k == "manual_mode") {
      DBSYNC_ASSIGN_OR_RETURN(policy.manual_mode, parse_manual_mode(v.get<std::string>()));
    } else if (k == "webhook_fallback") {
      DBSYNC_ASSIGN_OR_RETURN(policy.webhook_fallback, parse_strategy(v.get<std::string>()));
      if (policy.webhook_fallback == Strategy::kWebhook)
        return error(ErrorCode::kInvalidArgument, "webhook_fallback cannot be webhook");
    } else if (k == "url") {
      const std::string url = v.get<std::string>();
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        return error(ErrorCode::kInvalidArgument, "strategy option \"url\" must be an http(s) URL");
      has_url = true;
    } else if (k == "secret") {
      // any string
    } else if (k == "timeout_ms" || k == "retries") {
      if (!v.is_number_unsigned())
        return error(ErrorCode::kInvalidArgument,
                     "strategy option \"" + k + "\" must be a non-negative integer");
    } else {
      return error(ErrorCode::kInvalidArgument,
                   "unknown strategy option \"" + k +
                       "\" (expected merge_fallback, manual_mode, webhook_fallback, url, secret, "
                       "timeout_ms, retries)");
    }
  }
  if (policy.strategy == Strategy::kWebhook && !has_url)
    return error(ErrorCode::kInvalidArgument, "strategy webhook needs strategy_options.url");
  return Status::ok();
}

Result<SyncPolicy> parse_sync_policy(std::string_view direction, std::string_view strategy,
                                     std::string_view strategy_options,
                                     std::string_view delete_policy) {
  SyncPolicy p;
  DBSYNC_ASSIGN_OR_RETURN(p.direction, parse_direction(direction));
  DBSYNC_ASSIGN_OR_RETURN(p.strategy, parse_strategy(strategy));
  DBSYNC_RETURN_IF_ERROR(parse_strategy_options(strategy_options, p));
  DBSYNC_RETURN_IF_ERROR(parse_delete_policy(delete_policy, p));
  return p;
}

Status check_batch_size(int64_t batch_size) {
  if (batch_size < 1 || batch_size > 1000000)
    return error(ErrorCode::kInvalidArgument, "batch_size must be between 1 and 1000000");
  return Status::ok();
}

}  // namespace dbsync
