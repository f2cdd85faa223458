// The bounce consumer; see bounces.h.
#include "delivery/bounces.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "common/return_path.h"
#include "mime/dsn.h"

namespace delivery {
namespace {

bool same_address(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The DSN's group for `rcpt`: the one naming it (Original-Recipient, then Final-Recipient, which
// a forwarding MTA may have rewritten), else the only one, else the first that failed.
const mime::DsnRecipient* group_for(const mime::Dsn& dsn, std::string_view rcpt) {
  for (const mime::DsnRecipient& group : dsn.recipients)
    if (same_address(group.original_recipient, rcpt) || same_address(group.final_recipient, rcpt))
      return &group;
  if (dsn.recipients.size() == 1) return &dsn.recipients.front();
  for (const mime::DsnRecipient& group : dsn.recipients)
    if (group.action == "failed") return &group;
  return dsn.recipients.empty() ? nullptr : &dsn.recipients.front();
}

// A DSN that matched nothing is routed like any message (README "Bounces"): rows for the
// endpoints of the routes its recipients match, or a dead letter when none does.
BounceOutcome route_unmatched(store::Store& store, const config::Config& config,
                              const store::DeliveryJob& job, int64_t now_ms, std::string reason) {
  BounceOutcome outcome;
  std::vector<store::Delivery> deliveries;
  for (config::RouteGroup& group : config::group_by_endpoint(config.routes, job.delivery.rcpt_to))
    deliveries.push_back(store::Delivery{config.routes[group.route].endpoints[group.endpoint].url,
                                         std::move(group.rcpt_to)});
  if (deliveries.empty()) {
    outcome.reason = std::move(reason);
    return outcome;
  }
  store::Status status = store.route_inbound(job.delivery.message_id, deliveries, now_ms);
  if (status != store::Status::ok) {
    outcome.result = BounceOutcome::Result::retry;
    outcome.reason =
        std::string("the store could not route the message: ") + store::to_string(status);
    return outcome;
  }
  outcome.result = BounceOutcome::Result::routed;
  return outcome;
}

}  // namespace

BounceOutcome consume_bounce(store::Store& store, const config::Config& config,
                             const store::DeliveryJob& job, int64_t now_ms) {
  const config::Relay& relay = config.relay;
  BounceOutcome outcome;
  std::optional<mime::Dsn> dsn = mime::parse_dsn(job.data);
  if (!dsn)
    return route_unmatched(store, config, job, now_ms,
                           "not a delivery status notification (RFC 3464)");
  size_t recorded = 0;
  for (const std::string& rcpt : job.delivery.rcpt_to) {
    auto target =
        common::parse_return_path(rcpt, relay.return_path_domain, relay.return_path_secrets);
    if (!target) continue;  // its secret was rotated out since the SMTP session accepted it
    std::optional<store::StoredOutbound> sent = store.find_outbound(target->message_id);
    if (!sent && !store.readable()) {  // "none" may mean the database is away: try again
      outcome.result = BounceOutcome::Result::retry;
      outcome.reason = "the store cannot be read now";
      return outcome;
    }
    if (!sent || target->position < 0 ||
        static_cast<size_t>(target->position) >= sent->recipients.size())
      continue;  // pruned, or never ours
    const mime::DsnRecipient* group =
        group_for(*dsn, sent->recipients[static_cast<size_t>(target->position)].rcpt);
    if (group == nullptr || group->action.empty()) continue;  // Action is required (2.3.3)
    store::Bounce bounce;
    bounce.message_id = target->message_id;
    bounce.position = target->position;
    bounce.at_ms = now_ms;
    bounce.inbound_id = job.delivery.message_id;
    bounce.action = group->action;
    bounce.status = group->status;
    bounce.code = group->diagnostic_smtp_code;
    bounce.diagnostic = group->diagnostic_code;
    bounce.remote_mta = group->remote_mta;
    bounce.reporting_mta = dsn->reporting_mta;
    bounce.final_recipient = group->final_recipient;
    store::BounceRecorded result = store.record_bounce(bounce);
    if (result.status != store::Status::ok) {
      outcome.result = BounceOutcome::Result::retry;
      outcome.reason =
          std::string("the store could not record the bounce: ") + store::to_string(result.status);
      return outcome;
    }
    if (!result.matched) continue;
    ++recorded;
    if (bounce.action == "failed") ++outcome.bounced;
  }
  if (recorded == 0)
    return route_unmatched(store, config, job, now_ms, "a DSN for no message the store holds");
  outcome.result = BounceOutcome::Result::recorded;
  return outcome;
}

}  // namespace delivery
