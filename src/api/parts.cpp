// The part and raw routes (parts.h): the stored message is read whole (the store keeps it as one
// value), parsed for its part table, and the part decoded once; the reply then holds that one
// buffer, sent in slices by server.cpp.
#include "api/parts.h"

#include <chrono>

#include "common/memory_budget.h"
#include "common/part_link.h"
#include "mime/message.h"

namespace api {
namespace {

// The buffer a reply streams, and the budget it holds while it lives.
struct Held {
  std::string bytes;
  common::BudgetLease lease;
};

std::shared_ptr<const std::string> hold(std::string bytes, common::BudgetLease lease) {
  auto held = std::make_shared<Held>(Held{std::move(bytes), std::move(lease)});
  return std::shared_ptr<const std::string>(held, &held->bytes);
}

Reply no_room() {
  Reply reply = problem(503, "memory-budget", "Service Unavailable",
                        "the bridge's memory budget has no room for this message now");
  reply.headers.emplace_back("Retry-After", "5");
  return reply;
}

// The store's copy, the parse, and the decoded part: about 3 × the message.
bool reserve(common::MemoryBudget* memory, uint64_t bytes, common::BudgetLease& lease) {
  if (memory == nullptr) return true;
  if (!memory->reserve_wait(bytes, std::chrono::steady_clock::now() + std::chrono::seconds(10)))
    return false;
  lease = common::BudgetLease(*memory, bytes);
  return true;
}

// bridge.v1's part numbers: the root of a message that is not multipart is "1".
std::string number_of(const mime::Message& message, size_t index) {
  const mime::Part& part = message.parts[index];
  if (!part.number.empty()) return part.number;
  return part.is_multipart() && !part.children.empty() ? std::string() : std::string("1");
}

// RFC 6266 4.3 with RFC 8187: an ASCII filename= for old agents, filename*= with the UTF-8.
std::string disposition(const std::string& filename) {
  if (filename.empty()) return "attachment";
  std::string ascii, encoded;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : filename) {
    bool plain = c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%' && c != ';';
    ascii += plain ? static_cast<char>(c) : '_';
    bool attr_char =
        std::isalnum(c) ||
        std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (attr_char && c < 0x80) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 0x0f];
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// Content served from the API's origin must never run there: an HTML attachment is someone
// else's page.
void add_safety_headers(Reply& reply) {
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  reply.headers.emplace_back("Content-Security-Policy", "sandbox");
  reply.headers.emplace_back("Cache-Control", "private, no-store");
}

}  // namespace

std::optional<Reply> check_link(const std::vector<std::string>& secrets, const std::string& id,
                                const std::string& part, const LinkQuery& link, int64_t now) {
  common::LinkCheck result =
      link.expires == nullptr || link.signature == nullptr
          ? common::LinkCheck::bad_signature
          : common::check_part_link(secrets, id, part, *link.expires, *link.signature, now);
  if (result == common::LinkCheck::valid) return std::nullopt;
  if (result == common::LinkCheck::expired)
    return problem(403, "link-expired", "Forbidden",
                   "the link has expired: the message's document has a fresh one at each delivery");
  return problem(403, "link-invalid", "Forbidden",
                 "the link's signature does not match (expires and signature as made)");
}

Reply get_inbound_part(store::Store& store, common::MemoryBudget* memory, const std::string& id,
                       const std::string& part) {
  std::optional<store::StoredInbound> stored = store.find_inbound(id);
  if (!stored && !store.readable()) return store_unreadable();
  if (!stored) return not_found("no inbound message has the id '" + id + "' (or it was pruned)");
  common::BudgetLease lease;
  if (!reserve(memory, 3 * uint64_t(stored->data.size()), lease)) return no_room();
  mime::Message message = mime::parse(stored->data);
  for (size_t i = 0; i < message.parts.size(); ++i) {
    if (number_of(message, i) != part) continue;
    const mime::Part& found = message.parts[i];
    if (found.is_multipart())
      return not_found("part " + part + " is a multipart container; fetch its parts");
    Reply reply;
    reply.content_type = found.content_type;
    if (!found.charset.empty() && found.content_type.rfind("text/", 0) == 0)
      reply.content_type += "; charset=" + found.charset;
    reply.headers.emplace_back("Content-Disposition", disposition(found.filename));
    add_safety_headers(reply);
    std::string decoded = mime::decode_body(stored->data, found);
    std::string().swap(stored->data);
    reply.stream = hold(std::move(decoded), std::move(lease));
    return reply;
  }
  return not_found("message '" + id + "' has no part " + part);
}

Reply get_inbound_raw(store::Store& store, common::MemoryBudget* memory, const std::string& id) {
  std::optional<store::StoredInbound> stored = store.find_inbound(id);
  if (!stored && !store.readable()) return store_unreadable();
  if (!stored) return not_found("no inbound message has the id '" + id + "' (or it was pruned)");
  common::BudgetLease lease;
  if (!reserve(memory, uint64_t(stored->data.size()), lease)) return no_room();
  Reply reply;
  reply.content_type = "message/rfc822";
  reply.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + id + ".eml\"");
  add_safety_headers(reply);
  reply.stream = hold(std::move(stored->data), std::move(lease));
  return reply;
}

}  // namespace api
