// The suppression list's routes (README "Suppressions", issue 14): list in pages, add, remove.
// A suppressed address is not relayed to by later sends (the store decides it at the enqueue).
// No HTTP library here (server.cpp adapts it).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "api/inbound.h"
#include "api/reply.h"

namespace store {
class Store;
}

namespace api {

// GET /v1/suppressions?limit=&cursor=: {"items": [entry...], "next_cursor": string | null}, in
// the order of the (lower-cased) address; 422 naming limit or cursor.
Reply list_suppressions(store::Store& store, const Params& params);
// POST /v1/suppressions {"address", "reason"?: "manual"}: 201 with the entry when added, 200
// with it when the address was already there (reason, details and
// created_at then become this add's); 422
// naming `address` (RFC 5321 4.1.2 Mailbox) or `reason`.
Reply add_suppression(store::Store& store, std::string_view body, int64_t now_ms);
// DELETE /v1/suppressions/{address} (percent-decoded): 204, or 404 when not suppressed.
Reply remove_suppression(store::Store& store, const std::string& address);

// How many recipients a send's or a batch's 202 body lists with status "suppressed" (the
// metric's count).
size_t suppressed_in(const std::string& body);

}  // namespace api
