// Webhook triggers (POST /webhooks/{n8n,zapier,activepieces,generic}/{configId}): n8n, Zapier,
// ActivePieces or anything else that can send an HTTP request starts a sync. No bearer token:
// each sync has a secret of its own (created through the API, shown once, kept sealed with
// SECRET_KEY in dbsync.webhook_secrets), presented one of two ways:
//   X-Dbsync-Token: <secret>
//   X-Dbsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
// A signature older or newer than the replay window (300 s) is refused, so a captured request
// cannot be sent again later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.hpp"

namespace dbsync::daemon::webhooks {

inline constexpr int64_t kReplayWindowSeconds = 300;

// The providers a trigger may name (recorded as the job's trigger, webhook:<provider>).
bool known_provider(std::string_view provider);

// A new secret: 32 random bytes as 64 hex digits.
std::string new_secret();

// Hex HMAC-SHA256 of "<timestamp>." + body under `secret`.
std::string signature(const std::string& secret, int64_t timestamp, std::string_view body);

// Checks a request's credentials against the sync's secret: the token header, or else the
// signature header (t=...,v1=...) within the replay window around `now`. Ok, or
// kInvalidArgument with a message saying what is wrong (never the secret): a 401.
Status verify(const std::string& secret, const std::optional<std::string>& token_header,
              const std::optional<std::string>& signature_header, std::string_view body,
              int64_t now);

}  // namespace dbsync::daemon::webhooks
