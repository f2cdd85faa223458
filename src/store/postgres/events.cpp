// Delivery events' SQL on the PostgreSQL writer connection (events.h). Order: a row is due only
// when no earlier row (seq, an identity: a message's events are inserted causally, each after the
// commit of the one before) of its (endpoint, message) is still to be delivered.
#include "store/postgres/events.h"

#include <algorithm>
#include <map>

#include "common/ids.h"

namespace store::postgres {
namespace {

constexpr const char* kColumns =
    "seq, id, endpoint, type, message_id, rcpt, payload, state, attempts, next_attempt_at,"
    " created_at, last_error";
constexpr const char* kInsertQueued =
    "INSERT INTO event_deliveries (id, endpoint, type, message_id, rcpt, payload, state,"
    " attempts, next_attempt_at, created_at, updated_at)"
    " SELECT e.id, e.endpoint, 'message.queued', $1, '', e.payload, 'queued', 0, $2::bigint,"
    " $2::bigint, $2::bigint FROM unnest($3::text[], $4::text[], $5::text[])"
    " AS e(id, endpoint, payload)";
// Any one event for one recipient (message.bounced), its rows per subscribed endpoint.
constexpr const char* kInsertEvent =
    "INSERT INTO event_deliveries (id, endpoint, type, message_id, rcpt, payload, state,"
    " attempts, next_attempt_at, created_at, updated_at)"
    " SELECT e.id, e.endpoint, $1::text, $2::text, $3::text, e.payload, 'queued', 0, $4::bigint,"
    " $4::bigint, $4::bigint FROM unnest($5::text[], $6::text[], $7::text[])"
    " AS e(id, endpoint, payload)";
// The recipient's outcome (outbound.cpp kFinish) and, when it was in flight, its status
// history entry and its events.
constexpr const char* kFinishWithEvents =
    "WITH done AS (UPDATE outbound_recipients SET state = $3::text,"
    " next_attempt_at = CASE WHEN $3::text = 'deferred' THEN $4::bigint ELSE next_attempt_at END,"
    " last_code = $5, last_enhanced = $6, last_text = $7, updated_at = $8::bigint"
    " WHERE message_id = $1::text AND rcpt = $2::text AND state = 'in_flight'"
    " RETURNING position),"
    " history AS (INSERT INTO outbound_history (message_id, position, created_at, state, code,"
    " enhanced, text) SELECT $1::text, position, $8::bigint, $3::text, $5, $6, $7 FROM done)"
    " INSERT INTO event_deliveries (id, endpoint, type, message_id, rcpt, payload, state,"
    " attempts, next_attempt_at, created_at, updated_at)"
    " SELECT e.id, e.endpoint, $9::text, $1::text, $2::text, e.payload, 'queued', 0, $8::bigint,"
    " $8::bigint, $8::bigint FROM done, unnest($10::text[], $11::text[], $12::text[])"
    " AS e(id, endpoint, payload)";
constexpr const char* kMessageFacts =
    "SELECT id, api_key, coalesce(metadata, '') FROM outbound_messages WHERE id = ANY($1::text[])";
constexpr const char* kClaim =
    "WITH due AS (SELECT seq FROM event_deliveries e"
    " WHERE state IN ('queued', 'deferred')"  // the partial index event_deliveries_due
    " AND (state = 'queued' OR next_attempt_at <= $1::bigint)"
    " AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.endpoint = e.endpoint"
    "  AND p.message_id = e.message_id AND p.seq < e.seq"
    "  AND p.state NOT IN ('delivered', 'dead'))"
    " ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)"
    " UPDATE event_deliveries d SET state = 'in_flight', attempts = d.attempts + 1,"
    " updated_at = $1::bigint, lease_until = $3::bigint, lease_owner = $4"
    " FROM due WHERE d.seq = due.seq RETURNING d.seq, d.id, d.endpoint, d.type, d.message_id,"
    " d.rcpt, d.payload, d.state, d.attempts, d.next_attempt_at, d.created_at, d.last_error";
constexpr const char* kFinish =
    "UPDATE event_deliveries SET state = $2::text,"
    " next_attempt_at = CASE WHEN $2::text = 'deferred' THEN $3::bigint ELSE next_attempt_at END,"
    " last_error = $4, updated_at = $5, lease_until = 0, lease_owner = ''"
    " WHERE id = $1 AND state = 'in_flight' AND lease_owner = $6"
    " AND ($7::integer = 0 OR attempts = $7::integer)";
constexpr const char* kRequeueExpired =
    "UPDATE event_deliveries SET state = 'queued', lease_until = 0, lease_owner = '',"
    " updated_at = $1 WHERE state = 'in_flight' AND lease_until < $1";
constexpr const char* kPrune =
    "DELETE FROM event_deliveries WHERE (state = 'delivered' AND updated_at < $1)"
    " OR (state = 'dead' AND updated_at < $2)";

EventRow read_row(const Result& rows, int r) {
  EventRow event;
  event.seq = rows.integer(r, 0);
  event.id = rows.text(r, 1);
  event.endpoint = rows.text(r, 2);
  event.type = rows.text(r, 3);
  event.message_id = rows.text(r, 4);
  event.rcpt = rows.text(r, 5);
  event.payload = rows.text(r, 6);
  event.state = rows.text(r, 7);
  event.attempts = static_cast<int>(rows.integer(r, 8));
  event.next_attempt_at_ms = rows.integer(r, 9);
  event.created_at_ms = rows.integer(r, 10);
  event.last_error = rows.text(r, 11);
  return event;
}

// The rows' ids, endpoints and payloads for one event (three parallel arrays).
void add_rows(const std::vector<EventSubscription>& endpoints, const EventFacts& facts,
              Params& params) {
  std::vector<std::string> ids, names, payloads;
  for (const std::string& endpoint : subscribers(endpoints, facts.type)) {
    ids.push_back(common::uuid_v7());
    names.push_back(endpoint);
    payloads.push_back(event_payload(ids.back(), facts));
  }
  params.text_array(ids).text_array(names).text_array(payloads);
}

}  // namespace

bool EventWriter::record_queued(const OutboundMessage& message, int64_t now_ms) {
  if (!enabled()) return true;
  Params params;
  params.text(message.id).integer(now_ms);
  EventFacts facts;
  facts.type = "message.queued";
  facts.message_id = message.id;
  facts.api_key = message.api_key;
  facts.metadata_json = message.metadata_json;
  facts.recipients = message.rcpt_to;
  facts.at_ms = now_ms;
  add_rows(endpoints_, facts, params);
  Result added = writer_.db().run("sb_events_queued", kInsertQueued, params);
  return added.ok() || writer_.db().fail(added);
}

bool EventWriter::record(EventFacts facts, int64_t now_ms) {
  if (!enabled() || subscribers(endpoints_, facts.type).empty()) return true;
  Params lookup;
  lookup.text_array({facts.message_id});
  Result found = writer_.db().run("sb_events_facts", kMessageFacts, lookup);
  if (!found.ok()) return writer_.db().fail(found);
  if (found.rows() > 0) {
    facts.api_key = found.text(0, 1);
    facts.metadata_json = found.text(0, 2);
  }
  Params params;
  params.text(facts.type).text(facts.message_id).text(facts.recipient).integer(now_ms);
  add_rows(endpoints_, facts, params);
  Result added = writer_.db().run("sb_events_insert", kInsertEvent, params);
  return added.ok() || writer_.db().fail(added);
}

bool EventWriter::finish_commands(const std::vector<OutboundFinishRow>& finishes, int64_t now_ms,
                                  std::vector<Command>& commands) {
  std::vector<std::string> ids;
  for (const OutboundFinishRow& finish : finishes)
    if (std::find(ids.begin(), ids.end(), finish.message_id) == ids.end())
      ids.push_back(finish.message_id);
  Params lookup;
  lookup.text_array(ids);
  Result found = writer_.db().run("sb_events_facts", kMessageFacts, lookup);
  if (!found.ok()) return writer_.db().fail(found);
  std::map<std::string, std::pair<std::string, std::string>> facts_of;
  for (int r = 0; r < found.rows(); ++r)
    facts_of[found.text(r, 0)] = {found.text(r, 1), found.text(r, 2)};
  for (const OutboundFinishRow& finish : finishes) {
    const RecipientResult& r = finish.result;
    const auto& [api_key, metadata] = facts_of[finish.message_id];
    EventFacts facts;
    facts.type = event_type(r.outcome);
    facts.message_id = finish.message_id;
    facts.api_key = api_key;
    facts.metadata_json = metadata;
    facts.result = &r;
    facts.at_ms = now_ms;
    Params params;
    params.text(finish.message_id)
        .text(r.rcpt)
        .text(to_string(r.outcome))
        .integer(r.next_attempt_at_ms)
        .integer(r.code)
        .text(r.enhanced)
        .text(r.text)
        .integer(now_ms)
        .text(facts.type);
    add_rows(endpoints_, facts, params);
    commands.push_back({"sb_outbound_finish_events", kFinishWithEvents, std::move(params)});
  }
  return true;
}

std::vector<EventRow> EventWriter::claim(size_t limit, int64_t now_ms) {
  std::vector<EventRow> rows;
  if (limit == 0 || !writer_.ensure()) return rows;
  Params params;
  params.integer(now_ms)
      .integer(static_cast<int64_t>(limit))
      .integer(now_ms + lease_ms_)
      .text(writer_.owner());
  Result claimed = writer_.db().run("sb_events_claim", kClaim, params);  // autocommit
  if (!claimed.ok()) return writer_.db().fail(claimed), rows;
  for (int r = 0; r < claimed.rows(); ++r) rows.push_back(read_row(claimed, r));
  std::sort(rows.begin(), rows.end(),
            [](const EventRow& a, const EventRow& b) { return a.seq < b.seq; });
  return rows;
}

bool EventWriter::finish(const std::string& id, DeliveryOutcome outcome, int64_t next_attempt_at_ms,
                         const std::string& last_error, int attempt, int64_t now_ms) {
  if (!writer_.ensure()) return false;
  Params params;
  params.text(id)
      .text(to_string(outcome))
      .integer(next_attempt_at_ms)
      .text(last_error)
      .integer(now_ms)
      .text(writer_.owner())
      .integer(attempt);
  Result updated = writer_.db().run("sb_events_finish", kFinish, params);
  return updated.ok() || writer_.db().fail(updated);
}

uint64_t EventWriter::requeue_expired(int64_t now_ms) {
  if (!writer_.ensure()) return 0;
  Params params;
  params.integer(now_ms);
  Result updated = writer_.db().run("sb_events_requeue_expired", kRequeueExpired, params);
  return updated.ok() ? updated.affected() : (writer_.db().fail(updated), 0);
}

uint64_t EventWriter::prune(int64_t delivered_before_ms, int64_t dead_before_ms) {
  if (!writer_.ensure()) return 0;
  Params params;
  params.integer(delivered_before_ms).integer(dead_before_ms);
  Result deleted = writer_.db().run("sb_events_prune", kPrune, params);
  return deleted.ok() ? deleted.affected() : (writer_.db().fail(deleted), 0);
}

std::vector<EventRow> EventWriter::find(const std::string& message_id) {
  std::vector<EventRow> rows;
  if (!writer_.ensure()) return rows;
  Params params;
  params.text(message_id);
  static const std::string sql = std::string("SELECT ") + kColumns +
                                 " FROM event_deliveries WHERE message_id = $1 ORDER BY seq";
  Result found = writer_.db().run("sb_events_find", sql.c_str(), params);
  if (!found.ok()) return writer_.db().fail(found), rows;
  for (int r = 0; r < found.rows(); ++r) rows.push_back(read_row(found, r));
  return rows;
}

}  // namespace store::postgres
