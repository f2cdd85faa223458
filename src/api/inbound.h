// The inbound browsing and replay routes (CONTRACTS.md 2), as functions from request values to
// a Reply: GET /v1/inbound, GET /v1/inbound/{id}, POST /v1/inbound/{id}/redeliver.
// No HTTP library here: server.cpp adapts them, and tests may call them directly.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "api/paging.h"
#include "api/reply.h"
#include "store/store.h"

namespace api {

// Renders one stored message as its bridge.v1 document (JSON text), for all its recipients.
// Injected by the app: the renderer lives in delivery/, which api/ must not include.
// nullopt: no room in the memory budget for the render now (503 with Retry-After).
using RenderInbound = std::function<std::optional<std::string>(const store::StoredInbound&)>;

// ?status=queued|deferred|dead|delivered|orphaned&limit=1..500&cursor=<next_cursor>; newest first.
// Invalid parameters → 422 with `errors`.
Reply list_inbound(store::Store& store, const Params& params);
// {"message": bridge.v1, "deliveries": [...]}, or 404.
Reply get_inbound(store::Store& store, const RenderInbound& render, const std::string& id);
// Every delivery back to queued (dead letters included): 202 {"id", "deliveries": n}; 404 for
// an unknown message, 409 for a message without endpoints. `requeued` is called when n > 0.
Reply redeliver_inbound(store::Store& store, const std::string& id, int64_t now_ms,
                        const std::function<void()>& requeued);

// Opaque paging cursors: base64url of the last id of a page. nullopt for anything that is not
// a cursor this server made.
std::optional<std::string> decode_cursor(const std::string& cursor);

}  // namespace api
