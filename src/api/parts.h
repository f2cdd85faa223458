// GET /v1/inbound/{id}/parts/{part} and GET /v1/inbound/{id}/raw (issue 15, README "Large
// attachments by link"): one part's decoded bytes, or the message as received, for a receiver
// holding a signed link (no API key) or an API key. No HTTP library here: server.cpp checks the
// link or the key and adapts the Reply.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "api/reply.h"
#include "store/store.h"

namespace common {
class MemoryBudget;
}

namespace api {

// How the request was let in: a signed link (its query's expires and signature) or a key.
struct LinkQuery {
  const std::string* expires = nullptr;
  const std::string* signature = nullptr;
};

// 403 link-invalid / link-expired when the link does not verify against `secrets` (an empty list
// verifies nothing); nullopt when it does. Checked before the store is read: a forged link learns
// nothing of which messages exist.
std::optional<Reply> check_link(const std::vector<std::string>& secrets, const std::string& id,
                                const std::string& part, const LinkQuery& link, int64_t now);

// The part (IMAP number, as bridge.v1's `part`) transfer-decoded, with its Content-Type and a
// Content-Disposition: attachment naming its filename (RFC 6266, RFC 8187); served so that a
// browser never renders it (nosniff, CSP sandbox). 404 for a pruned message, an unknown part or a
// multipart container. The message and the decoded bytes are held against `memory` (503 with
// Retry-After when it has no room), until the body has been sent.
Reply get_inbound_part(store::Store& store, common::MemoryBudget* memory, const std::string& id,
                       const std::string& part);
// The stored bytes (Received header included) as message/rfc822.
Reply get_inbound_raw(store::Store& store, common::MemoryBudget* memory, const std::string& id);

}  // namespace api
