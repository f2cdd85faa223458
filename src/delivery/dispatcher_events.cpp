// The events' dispatcher (dispatcher_events.h): one poller claims due event rows for the free
// workers (woken by notify(), by a worker that finished, by a retry coming due, or every
// kPollInterval); kWorkers threads POST them with their own keep-alive clients. A worker that
// delivers a row wakes the poller, since the next event of that message may now be due.
#include "delivery/dispatcher_events.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <vector>

#include "common/thread_name.h"
#include "common/time.h"
#include "common/url.h"
#include "common/version.h"
#include "config/config.h"
#include "delivery/dispatcher_http.h"
#include "delivery/dispatcher_metrics.h"
#include "delivery/dispatcher_policy.h"
#include "delivery/signing.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/store.h"

namespace delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(500);
constexpr size_t kWorkers = 4;

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

const config::EventEndpoint* find_endpoint(const config::Config& config, const std::string& name) {
  for (const config::EventEndpoint& endpoint : config.events.endpoints)
    if (endpoint.endpoint.key() == name) return &endpoint;
  return nullptr;
}

bool reserved_header(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "content-type" || name == "content-length" || name == "user-agent" ||
         name == "host" || name.rfind("webhook-", 0) == 0;
}

}  // namespace

struct EventDispatcher::Impl {
  Impl(const config::Config& config, store::Store& store, obs::Registry& registry)
      : config(config),
        store(store),
        attempts(registry.counter("smtp_bridge_event_attempts_total",
                                  "Delivery event POST attempts by events endpoint (name) and "
                                  "outcome (delivered, deferred, dead).")),
        latency(registry
                    .histogram("smtp_bridge_event_latency_seconds",
                               "Duration of one delivery event POST, in seconds.",
                               obs::latency_buckets())
                    .add({})),
        dead_letters(registry.counter("smtp_bridge_event_dead_letters_total",
                                      "Delivery events that became dead letters, by events "
                                      "endpoint (name).")) {}

  const config::Config& config;
  store::Store& store;
  obs::Family<obs::Counter>& attempts;
  obs::Histogram& latency;
  obs::Family<obs::Counter>& dead_letters;

  std::mutex mutex;  // guards everything below
  std::condition_variable poll_wake, work_wake;
  bool started = false, stopping = false, notified = false;
  std::deque<store::EventRow> jobs;
  size_t busy = 0;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> retry_times;
  std::thread poller;
  std::vector<std::thread> workers;

  void run_poller();
  void run_worker();
  void deliver(const store::EventRow& row, Clients& clients, std::mt19937_64& random);
  void finish(const store::EventRow& row, const Decision& decision, double seconds);
};

void EventDispatcher::Impl::run_poller() {
  std::unique_lock lock(mutex);
  while (!stopping) {
    auto deadline = SteadyClock::now() + kPollInterval;
    if (!retry_times.empty()) {
      auto wait = std::chrono::milliseconds(std::max<int64_t>(0, retry_times.top() - now_ms()));
      deadline = std::min(deadline, SteadyClock::now() + wait);
    }
    poll_wake.wait_until(lock, deadline, [this] { return stopping || notified; });
    if (stopping) break;
    notified = false;
    int64_t now = now_ms();
    while (!retry_times.empty() && retry_times.top() <= now) retry_times.pop();
    size_t taken = busy + jobs.size();
    size_t limit = taken >= kWorkers ? 0 : kWorkers - taken;
    if (limit == 0) continue;
    lock.unlock();  // never across the store
    std::vector<store::EventRow> claimed = store.claim_events(limit, now);
    lock.lock();
    for (store::EventRow& row : claimed) {
      jobs.push_back(std::move(row));
      work_wake.notify_one();
    }
  }
}

void EventDispatcher::Impl::run_worker() {
  Clients clients;
  std::mt19937_64 random{std::random_device{}()};
  std::unique_lock lock(mutex);
  for (;;) {
    work_wake.wait(lock, [this] { return stopping || !jobs.empty(); });
    if (stopping) return;  // rows still queued here stay in_flight until their lease ends
    store::EventRow row = std::move(jobs.front());
    jobs.pop_front();
    ++busy;
    lock.unlock();
    deliver(row, clients, random);
    lock.lock();
    --busy;
    notified = true;  // the message's next event may be due now
    poll_wake.notify_one();
  }
}

void EventDispatcher::Impl::deliver(const store::EventRow& row, Clients& clients,
                                    std::mt19937_64& random) {
  const config::EventEndpoint* target = find_endpoint(config, row.endpoint);
  if (target == nullptr) {  // removed from the configuration: held, retried like a failure
    Attempt attempt;
    attempt.error = "events endpoint '" + row.endpoint + "' is not configured";
    finish(
        row,
        decide(attempt, row.attempts, row.created_at_ms, now_ms(), config.delivery.retry, random),
        -1);
    return;
  }
  const config::Endpoint& endpoint = target->endpoint;
  std::optional<common::EndpointUrl> url = common::parse_endpoint_url(endpoint.url);
  if (!url) {  // config refuses such URLs: never reached
    finish(row, {store::DeliveryOutcome::dead, 0, "endpoint URL not usable"}, -1);
    return;
  }
  // Standard Webhooks (CONTRACTS.md 1): the row id is the event's id and its webhook-id.
  int64_t timestamp = now_ms() / 1000;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"User-Agent", std::string("smtp-bridge/") + common::kVersion},
      {"webhook-id", row.id},
      {"webhook-timestamp", std::to_string(timestamp)},
      {"webhook-attempt", std::to_string(row.attempts)},
  };
  std::string signature = sign(endpoint.secrets, row.id, timestamp, row.payload);
  if (!signature.empty()) headers.emplace_back("webhook-signature", std::move(signature));
  for (const auto& [name, value] : endpoint.headers)
    if (!reserved_header(name)) headers.emplace_back(name, value);
  PostResult posted = clients.post(*url, headers, row.payload, endpoint.timeout, endpoint.ca_file);
  Attempt attempt{posted.status, posted.error, posted.retry_after};
  finish(row,
         decide(attempt, row.attempts, row.created_at_ms, now_ms(), config.delivery.retry, random),
         posted.seconds);
}

void EventDispatcher::Impl::finish(const store::EventRow& row, const Decision& decision,
                                   double seconds) {
  store.finish_event(row.id, decision.outcome, decision.next_attempt_at_ms, decision.last_error,
                     row.attempts);
  attempts.add({{"endpoint", row.endpoint}, {"outcome", outcome_name(decision.outcome)}}).inc();
  if (seconds >= 0) latency.observe(seconds);
  if (decision.outcome == store::DeliveryOutcome::delivered) return;
  nlohmann::json fields = {{"event", row.id},           {"type", row.type},
                           {"message", row.message_id}, {"endpoint", row.endpoint},
                           {"attempt", row.attempts},   {"error", decision.last_error}};
  if (decision.outcome == store::DeliveryOutcome::dead) {
    dead_letters.add({{"endpoint", row.endpoint}}).inc();
    obs::warn("delivery event is a dead letter", fields);
    return;
  }
  obs::info("delivery event deferred", fields);
  std::lock_guard lock(mutex);
  retry_times.push(decision.next_attempt_at_ms);
  poll_wake.notify_one();
}

EventDispatcher::EventDispatcher(const config::Config& config, store::Store& store,
                                 obs::Registry& registry)
    : impl_(std::make_unique<Impl>(config, store, registry)) {}

EventDispatcher::~EventDispatcher() {
  stop();
}

void EventDispatcher::start() {
  if (impl_->config.events.endpoints.empty()) return;
  std::lock_guard lock(impl_->mutex);
  if (impl_->started) return;
  impl_->started = true;
  impl_->stopping = false;
  impl_->notified = true;  // rows may be waiting from before this start: claim them at once
  impl_->poller = std::thread([impl = impl_.get()] {
    common::name_this_thread("events-poll");
    impl->run_poller();
  });
  for (size_t i = 0; i < kWorkers; ++i) {
    impl_->workers.emplace_back([impl = impl_.get(), i] {
      common::name_this_thread("events-" + std::to_string(i));
      impl->run_worker();
    });
  }
}

void EventDispatcher::notify() {
  std::lock_guard lock(impl_->mutex);
  impl_->notified = true;
  impl_->poll_wake.notify_one();
}

void EventDispatcher::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started) return;
    impl_->stopping = true;
  }
  impl_->poll_wake.notify_all();
  impl_->work_wake.notify_all();
  if (impl_->poller.joinable()) impl_->poller.join();
  for (std::thread& worker : impl_->workers) worker.join();
  std::lock_guard lock(impl_->mutex);
  impl_->workers.clear();
  impl_->jobs.clear();
  impl_->started = false;
}

}  // namespace delivery
