// The batch send: every item parsed and built like a single POST /v1/messages, the valid ones
// committed together in one transaction (all or none), the answer listing each item's id or its
// errors in request order. The first stored message carries the batch's Idempotency-Key and the
// whole answer, so a replay returns the batch's 202 exactly.
#include "api/batch.h"

#include <nlohmann/json.hpp>

#include <set>
#include <vector>

#include "api/send_request.h"
#include "common/memory_budget.h"
#include "obs/metrics.h"
#include "store/store.h"

namespace api {
namespace {

std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json errors_json(const std::vector<FieldError>& errors) {
  nlohmann::json list = nlohmann::json::array();
  for (const FieldError& error : errors)
    list.push_back({{"field", error.field}, {"message", error.message}});
  return list;
}

Reply memory_refused() {
  Reply reply = problem(503, "memory-budget", "Service Unavailable",
                        "the bridge's memory budget cannot hold this batch's messages now; "
                        "nothing was queued; try again later or send smaller batches");
  reply.headers.emplace_back("Retry-After", "5");
  return reply;
}

Reply accepted(std::string body, bool replayed) {
  Reply reply;
  reply.status = 202;
  reply.body = std::move(body);
  if (replayed) reply.headers.emplace_back("Idempotent-Replayed", "true");
  return reply;
}

// The items' results and the messages to store, built in request order. False when the memory
// budget cannot hold the built messages (each is reserved once built; nothing is kept then).
struct Built {
  nlohmann::json results = nlohmann::json::array();
  std::vector<store::OutboundMessage> messages;
  std::vector<common::BudgetLease> leases;
  size_t invalid = 0;
};

bool build_items(std::vector<Parsed<SendRequest>>& items, const SendContext& context,
                 common::MemoryBudget* memory, Built& built) {
  for (size_t i = 0; i < items.size(); ++i) {
    Parsed<SendRequest>& item = items[i];
    if (item.ok() && item.value.content_bytes > context.max_message_bytes) {
      item.errors.push_back(
          {"messages[" + std::to_string(i) + "]",
           "the message is larger than " + std::to_string(context.max_message_bytes) + " bytes"});
    }
    if (!item.ok()) {
      built.results.push_back({{"status", "invalid"}, {"errors", errors_json(item.errors)}});
      ++built.invalid;
      continue;
    }
    store::OutboundMessage message = build_outbound(item.value, context);
    item.value = {};  // the request's decoded attachments are not needed any more
    if (memory != nullptr) {
      if (!memory->try_reserve(message.data.size())) return false;
      built.leases.emplace_back(*memory, message.data.size());
    }
    built.results.push_back(
        {{"id", message.id}, {"status", "queued"}, {"message_id", message.message_id}});
    built.messages.push_back(std::move(message));
  }
  return true;
}

// Each queued item's recipients as the suppression list reads now, in one lookup (README
// "Suppressions"); the insert decides again in the batch's transaction, authoritatively.
void name_recipients(store::Store& store, Built& built) {
  std::vector<std::string> all;
  for (const store::OutboundMessage& m : built.messages)
    all.insert(all.end(), m.rcpt_to.begin(), m.rcpt_to.end());
  std::vector<std::string> found = store.suppressed(all);
  std::set<std::string> off(found.begin(), found.end());
  size_t next = 0;
  for (nlohmann::json& result : built.results) {
    if (!result.contains("id") || next >= built.messages.size()) continue;
    nlohmann::json recipients = nlohmann::json::array();
    for (const std::string& rcpt : built.messages[next++].rcpt_to)
      recipients.push_back(
          {{"address", rcpt}, {"status", off.count(rcpt) ? "suppressed" : "queued"}});
    result["recipients"] = std::move(recipients);
  }
}

}  // namespace

BatchMetrics::BatchMetrics(obs::Registry& registry)
    : queued_(registry
                  .counter("smtp_bridge_api_batch_items_total",
                           "Items of POST /v1/messages/batch by result: queued (committed) or "
                           "invalid (answered with errors).")
                  .add({{"result", "queued"}})),
      invalid_(
          registry.counter("smtp_bridge_api_batch_items_total", "").add({{"result", "invalid"}})) {}

void BatchMetrics::count(size_t queued, size_t invalid) {
  if (queued > 0) queued_.inc(static_cast<double>(queued));
  if (invalid > 0) invalid_.inc(static_cast<double>(invalid));
}

Reply send_batch(store::Store& store, const SendContext& context, std::string_view body,
                 common::MemoryBudget* memory, BatchMetrics* metrics) {
  std::vector<FieldError> errors = check_context(context);
  if (!errors.empty())
    return problem(422, "invalid-request", "Invalid Request", "the request is not valid", errors);
  BatchProblem shape;
  std::vector<Parsed<SendRequest>> items = parse_send_batch(body, kMaxBatchItems, shape);
  if (shape.too_many) {
    return problem(413, "too-many-messages", "Content Too Large",
                   "a batch holds at most " + std::to_string(kMaxBatchItems) + " send requests",
                   shape.errors);
  }
  if (!shape.errors.empty())
    return problem(422, "invalid-request", "Invalid Request", "the batch is not valid",
                   shape.errors);

  Built built;
  if (!build_items(items, context, memory, built)) return memory_refused();
  items.clear();
  name_recipients(store, built);
  size_t queued = built.messages.size();
  std::string answer =
      dump({{"results", std::move(built.results)}, {"queued", queued}, {"invalid", built.invalid}});
  if (queued == 0) {  // nothing to store: every item answered with its errors
    if (metrics) metrics->count(0, built.invalid);
    return accepted(std::move(answer), false);
  }
  for (store::OutboundMessage& message : built.messages) message.api_key = context.key_name;
  store::OutboundMessage& first = built.messages.front();
  if (context.idempotency_key) {
    // Scoped to the API key like a single send's; the hash tells a batch body from any other.
    first.idempotency_key = context.key_name + ":" + *context.idempotency_key;
    first.request_hash = sha256_hex(body);
  }
  first.response_json = answer;  // what a replay of the batch answers
  store::OutboundEnqueued result = store.enqueue_outbound_batch_wait(std::move(built.messages));
  if (result.status != store::Status::ok) return unavailable(result.status);
  if (result.conflict) {
    return problem(409, "idempotency-conflict", "Conflict",
                   "this Idempotency-Key was used with a different request body");
  }
  if (result.replay) return accepted(std::move(result.response_json), true);
  if (metrics) metrics->count(queued, built.invalid);
  if (context.queued) context.queued();
  return accepted(std::move(answer), false);
}

}  // namespace api
