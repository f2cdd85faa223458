// The webhook dispatcher: one poller thread claims due rows (woken by notify(), by the store when
// a commit queued rows, by a retry coming due, or every second) for as many workers as are free,
// so nothing waits in memory for long; `delivery.workers` threads POST them with their own
// keep-alive clients and record each outcome. New messages usually skip the poller: the store's
// group commit hands their rows over already claimed (the hot path, store.h DeliveryConsumer)
// while slots are free and no older row is due, so their bytes are never read back.
#include "delivery/dispatcher.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <random>
#include <semaphore>
#include <set>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "common/memory_budget.h"
#include "common/return_path.h"
#include "common/thread_name.h"
#include "common/time.h"
#include "common/url.h"
#include "common/version.h"
#include "config/config.h"
#include "delivery/bounces.h"
#include "delivery/dispatcher_events.h"
#include "delivery/dispatcher_http.h"
#include "delivery/dispatcher_metrics.h"
#include "delivery/dispatcher_policy.h"
#include "delivery/formats.h"
#include "delivery/payload.h"
#include "delivery/signing.h"
#include "obs/log.h"
#include "store/store.h"

namespace delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::seconds(1);
constexpr auto kPruneInterval = std::chrono::minutes(1);
// Rows whose lease ended (a lost worker, an outcome that could not be committed) are looked for
// this often: a lease is minutes long, so they wait at most a few seconds more.
constexpr auto kSweepInterval = std::chrono::seconds(5);

int64_t now_ms() {
  return common::unix_ms(common::Clock::now());
}

struct Target {
  const config::Route* route = nullptr;
  const config::Endpoint* endpoint = nullptr;
};

// What the endpoint's document is rendered with: its route's settings, its own cap, and links
// that expire api.links.ttl after now.
RenderOptions render_options(const config::Config& config, const Target& target,
                             const store::DeliveryRow& row, int64_t now_seconds) {
  RenderOptions options;
  options.rcpt_to = row.rcpt_to;
  options.include_raw = target.route->include_raw;
  options.max_attachment_bytes = target.route->max_attachment_bytes;
  options.extract_reply = target.route->extract_reply;
  options.attachments_by_url = target.route->attachments == config::AttachmentMode::url;
  options.url_threshold = target.route->attachment_url_threshold;
  options.max_payload_bytes = target.endpoint->max_payload_bytes;
  const config::Links& links = config.api.links;
  if (!links.base_url.empty() && !links.secrets.empty()) {
    auto ttl = std::chrono::duration_cast<std::chrono::seconds>(links.ttl).count();
    options.links = {links.base_url, links.secrets.front(), now_seconds + ttl};
  }
  return options;
}

// The first configured endpoint with this name (rows name their endpoint by name; one name has
// one set of settings, config/load_routes.cpp).
Target find_target(const config::Config& config, const std::string& name) {
  for (const config::Route& route : config.routes) {
    for (const config::Endpoint& endpoint : route.endpoints) {
      if (endpoint.key() == name) return {&route, &endpoint};
    }
  }
  return {};
}

std::vector<std::string> configured_names(const config::Config& config) {
  std::vector<std::string> names;
  for (const config::Route& route : config.routes)
    for (const config::Endpoint& endpoint : route.endpoints) names.push_back(endpoint.key());
  return names;
}

// The endpoint's document in its format (README "Payload formats"), with its Content-Type.
FormatBody render_for(const config::Endpoint& endpoint, const InboundView& view,
                      const RenderOptions& options) {
  switch (endpoint.format) {
    case config::PayloadFormat::postmark:
      return render_postmark(view, options);
    case config::PayloadFormat::mailgun:
      return render_mailgun(view, options,
                            {endpoint.signing_key, now_ms() / 1000, mailgun_token(), {}});
    case config::PayloadFormat::bridge_v1:
      break;
  }
  return {render_bridge_v1_text(view, options), "application/json; charset=utf-8"};
}

bool is_authorization(std::string_view name) {
  static constexpr std::string_view kName = "authorization";
  return std::equal(name.begin(), name.end(), kName.begin(), kName.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
}

uint64_t render_reservation(const config::Endpoint& endpoint, size_t message_bytes) {
  return endpoint.format == config::PayloadFormat::bridge_v1 ? render_memory(message_bytes)
                                                             : format_render_memory(message_bytes);
}

bool reserved_header(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "content-type" || name == "content-length" || name == "user-agent" ||
         name == "host" || name.rfind("webhook-", 0) == 0;
}

}  // namespace

// Messages from this size on are rendered at most one per core at a time. A render is bound by
// the CPU, so more at once only multiply its buffers (the message, its decoded attachments and
// the document: ~3x the message) in workers that wait for a core. Measured with 1.4 MB messages
// and 16 workers: peak RSS 97-128 MiB without the limit, 90-109 MiB with it.
constexpr size_t kLargeMessage = 256 * 1024;

// Holds one of `slots` (when not null) for its lifetime.
class RenderSlot {
 public:
  explicit RenderSlot(std::counting_semaphore<1024>* slots) : slots_(slots) {
    if (slots_ != nullptr) slots_->acquire();
  }
  ~RenderSlot() {
    if (slots_ != nullptr) slots_->release();
  }
  RenderSlot(const RenderSlot&) = delete;
  RenderSlot& operator=(const RenderSlot&) = delete;

 private:
  std::counting_semaphore<1024>* slots_;
};

struct Dispatcher::Impl {
  Impl(const config::Config& config, store::Store& store, obs::Registry& registry)
      : config(config),
        store(store),
        metrics(registry, store),
        events(config, store, registry),
        large_renders(std::clamp<std::ptrdiff_t>(std::thread::hardware_concurrency(), 1, 1024)) {}

  const config::Config& config;
  store::Store& store;
  Metrics metrics;
  EventDispatcher events;  // the delivery events' rows (issue 14), its own threads
  std::counting_semaphore<1024> large_renders;  // kLargeMessage and up, one per core
  common::MemoryBudget* memory = nullptr;       // the process's budget renders draw from

  std::mutex mutex;  // guards everything below
  std::condition_variable poll_wake, work_wake;
  bool started = false, stopping = false;
  bool notified = false;  // notify() since the last claim
  bool remote = false;    // notify_remote() since the last claim
  bool rearm = false;     // a retry time was added: recompute the poller's deadline
  bool more_due = false;  // the last claim was cut short by the free workers
  std::deque<store::DeliveryJob> jobs;
  size_t busy = 0;
  size_t reserved = 0;  // slots promised to the store's hot path, not yet handed over
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> retry_times;
  std::thread poller;
  std::vector<std::thread> workers;

  size_t worker_count() const { return std::max(1u, config.delivery.workers); }
  // Claimed rows (each with its message's bytes) wait in `jobs` up to a quarter more than the
  // workers, so that each claim hands out a small batch instead of one row whenever one worker
  // frees up, while memory stays near one message per worker.
  size_t capacity() const { return worker_count() + batch(); }
  size_t batch() const { return std::max<size_t>(1, worker_count() / 4); }
  size_t free_slots() const {
    size_t taken = busy + jobs.size() + reserved;
    return taken >= capacity() ? 0 : capacity() - taken;
  }
  // A backlog is refilled only once this many slots are free (a batch per claim).
  bool refill_due() const { return more_due && free_slots() >= batch(); }
  // Appends `claimed` to `jobs` and wakes one idle worker per job. notify_all would wake every
  // idle worker for each job: all but one find the queue empty again, after a fight for the
  // mutex (measured: ~8 context switches per message on the workers instead of ~4).
  void hand_out(std::vector<store::DeliveryJob>& claimed) {
    for (auto& job : claimed) {
      jobs.push_back(std::move(job));
      work_wake.notify_one();
    }
  }

  // The hot path's side: called on the store's writer thread around each group commit.
  struct Consumer final : store::DeliveryConsumer {
    explicit Consumer(Impl& impl) : impl(impl) {}
    size_t reserve(size_t rows) override;
    void take(std::vector<store::DeliveryJob> claimed, size_t granted, size_t queued) override;
    Impl& impl;
  };
  Consumer consumer{*this};

  void run_poller();
  SteadyClock::time_point next_deadline(SteadyClock::time_point prune_at);
  void prune();
  void sweep();
  void run_worker();
  void deliver(store::DeliveryJob& job, Clients& clients, std::mt19937_64& random);
  bool reserve_render(uint64_t bytes, common::BudgetLease& lease);
  // `rendered` = false: render_attempts is kept (store.h finish_delivery).
  void finish(const store::DeliveryJob& job, const std::string& label, const Decision& decision,
              double seconds, bool rendered = true);
  void quarantine(const store::DeliveryJob& job, const std::string& label,
                  const std::string& reason);
  void orphan(const store::DeliveryJob& job);
  void consume(const store::DeliveryJob& job);
  std::set<std::string> orphans_logged;  // endpoint names (guarded by mutex)
};

SteadyClock::time_point Dispatcher::Impl::next_deadline(SteadyClock::time_point prune_at) {
  auto deadline = std::min(SteadyClock::now() + kPollInterval, prune_at);
  if (!retry_times.empty()) {
    auto wait = std::chrono::milliseconds(std::max<int64_t>(0, retry_times.top() - now_ms()));
    deadline = std::min(deadline, SteadyClock::now() + wait);
  }
  return deadline;
}

void Dispatcher::Impl::run_poller() {
  auto prune_at = SteadyClock::now();
  auto sweep_at = SteadyClock::now() + kSweepInterval;
  std::unique_lock lock(mutex);
  while (!stopping) {
    auto deadline = next_deadline(std::min(prune_at, sweep_at));
    poll_wake.wait_until(
        lock, deadline, [this] { return stopping || notified || remote || rearm || refill_due(); });
    if (stopping) break;
    bool due = notified || refill_due() || SteadyClock::now() >= deadline;
    bool only_remote = remote && !due;
    rearm = false;
    remote = false;
    if (!due && !only_remote) continue;  // only the deadline moved
    notified = false;
    int64_t now = now_ms();
    while (!retry_times.empty() && retry_times.top() <= now) retry_times.pop();
    size_t limit = free_slots();
    // Another replica's rows: taken into free slots only. A busy replica leaves them to the
    // others (or to its next tick) and keeps its own hot path, instead of queueing its new rows
    // behind them, which would wake the others in turn.
    if (only_remote && limit == 0) continue;
    reserved += limit;  // the hot path must not promise these slots during the claim
    lock.unlock();      // never hold the lock across the store: its writer calls the consumer
    if (SteadyClock::now() >= prune_at) {
      prune();
      prune_at = SteadyClock::now() + kPruneInterval;
    }
    if (SteadyClock::now() >= sweep_at) {
      sweep();  // before the claim below, which takes the rows it returned
      sweep_at = SteadyClock::now() + kSweepInterval;
    }
    std::vector<store::DeliveryJob> claimed;
    if (limit > 0) claimed = store.claim_deliveries(limit, now);
    lock.lock();
    reserved -= limit;
    more_due = limit == 0 || claimed.size() == limit;
    hand_out(claimed);
  }
}

// Rows queued or deferred in the store and due go first (oldest first, as claims take them): while
// any may be waiting, new rows are queued behind them instead of taking the free slots.
size_t Dispatcher::Impl::Consumer::reserve(size_t rows) {
  std::lock_guard lock(impl.mutex);
  bool older_due = impl.more_due || impl.notified ||
                   (!impl.retry_times.empty() && impl.retry_times.top() <= now_ms());
  if (!impl.started || impl.stopping || older_due) return 0;
  size_t granted = std::min(rows, impl.free_slots());
  impl.reserved += granted;
  return granted;
}

void Dispatcher::Impl::Consumer::take(std::vector<store::DeliveryJob> claimed, size_t granted,
                                      size_t queued) {
  std::lock_guard lock(impl.mutex);
  impl.reserved -= std::min(granted, impl.reserved);
  // Not after stop(): such rows stay in_flight and the next open of the store queues them
  // again (at least once). stop() removes the consumer first, so this is only a safeguard.
  if (!impl.stopping) impl.hand_out(claimed);
  if (queued > 0) {
    impl.notified = true;
    impl.poll_wake.notify_one();
  }
}

// Retention (ARCHITECTURE.md "The Store"): finished messages go after their time.
void Dispatcher::Impl::prune() {
  int64_t now = now_ms();
  uint64_t deleted = store.prune(now - config.store.retention_delivered.count(),
                                 now - config.store.retention_dead.count());
  if (deleted > 0) obs::info("pruned inbound messages past retention", {{"messages", deleted}});
}

// Leases (ARCHITECTURE.md): rows held past their lease go back to the queue while the process
// runs. In one process this finds the rows whose outcome was lost (store.h finish_delivery).
void Dispatcher::Impl::sweep() {
  uint64_t requeued = store.requeue_expired(now_ms());
  if (requeued == 0) return;
  metrics.lease_expired(requeued);
  obs::warn("in-flight rows whose lease ended were queued again", {{"rows", requeued}});
}

void Dispatcher::Impl::run_worker() {
  Clients clients;
  std::mt19937_64 random{std::random_device{}()};
  std::unique_lock lock(mutex);
  for (;;) {
    work_wake.wait(lock, [this] { return stopping || !jobs.empty(); });
    // Jobs still queued at stop stay in_flight: the next start queues them again (at least once).
    if (stopping) return;
    store::DeliveryJob job = std::move(jobs.front());
    jobs.pop_front();
    ++busy;
    lock.unlock();
    deliver(job, clients, random);
    lock.lock();
    --busy;
    if (refill_due()) poll_wake.notify_one();
  }
}

void Dispatcher::Impl::deliver(store::DeliveryJob& job, Clients& clients, std::mt19937_64& random) {
  const store::DeliveryRow& row = job.delivery;
  if (row.endpoint == common::kBounceEndpoint) {
    consume(job);
    return;
  }
  Target target = find_target(config, row.endpoint);
  if (target.endpoint == nullptr) {
    orphan(job);
    return;
  }
  // The endpoint's current URL: changed under the same name, the backlog goes to the new one.
  std::optional<common::EndpointUrl> url = common::parse_endpoint_url(target.endpoint->url);
  if (!url) {  // config refuses such URLs: never reached
    finish(job, "invalid", {store::DeliveryOutcome::dead, 0, "endpoint URL not usable"}, -1);
    return;
  }
  // Poison messages (issue 11): the claim counted this render before it starts, so renders that
  // crashed the process count too. Enough of them, and the row is dead instead of crashing the
  // process again at each restart (and with it every other delivery).
  const int max_renders = static_cast<int>(std::max(1u, config.delivery.max_render_attempts));
  if (row.render_attempts - 1 >= max_renders) {
    quarantine(job, url->origin,
               "render failed or crashed the process " + std::to_string(row.render_attempts - 1) +
                   " times");
    return;
  }
  FormatBody body;
  Attempt attempt;
  common::BudgetLease render_lease;
  if (!reserve_render(render_reservation(*target.endpoint, job.data.size()), render_lease)) {
    // Not a render failure: the count the claim made is given back (rendered = true).
    attempt.error = "the memory budget had no room for the render";
    finish(
        job, url->origin,
        decide(attempt, row.attempts, job.received_at_ms, now_ms(), config.delivery.retry, random),
        -1, /*rendered=*/true);
    return;
  }
  try {
    RenderSlot slot(job.data.size() >= kLargeMessage ? &large_renders : nullptr);
    InboundView view{row.message_id, job.received_at_ms, job.envelope_json, job.data};
    body = render_for(*target.endpoint, view, render_options(config, target, row, now_ms() / 1000));
  } catch (const std::exception& error) {  // a renderer bug: retried, then dead, never lost
    if (row.render_attempts >= max_renders) {
      quarantine(job, url->origin,
                 "render failed or crashed the process " + std::to_string(row.render_attempts) +
                     " times; the last: " + error.what());
      return;
    }
    attempt.error = std::string("cannot render the payload: ") + error.what();
    finish(
        job, url->origin,
        decide(attempt, row.attempts, job.received_at_ms, now_ms(), config.delivery.retry, random),
        -1, /*rendered=*/false);
    return;
  }
  // The document holds what the POST needs: the message bytes go now, not after a slow endpoint.
  std::string().swap(job.data);
  // Standard Webhooks headers (CONTRACTS.md 1), in every format: the row id is the stable
  // webhook-id receivers can deduplicate by; signed when the endpoint has secrets.
  int64_t timestamp = now_ms() / 1000;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"User-Agent", std::string("smtp-bridge/") + common::kVersion},
      {"webhook-id", row.id},
      {"webhook-timestamp", std::to_string(timestamp)},
      {"webhook-attempt", std::to_string(row.attempts)},
  };
  std::string signature = sign(target.endpoint->secrets, row.id, timestamp, body.body);
  if (!signature.empty()) headers.emplace_back("webhook-signature", std::move(signature));
  // Postmark's basic auth from the URL's user:password@ (moved out of the URL at load).
  const std::string& basic = target.endpoint->basic_auth;
  bool postmark = target.endpoint->format == config::PayloadFormat::postmark && !basic.empty();
  if (postmark) headers.emplace_back("Authorization", "Basic " + common::base64_encode(basic));
  for (const auto& [name, value] : target.endpoint->headers) {
    if (!reserved_header(name) && !(postmark && is_authorization(name)))
      headers.emplace_back(name, value);
  }
  PostResult posted = clients.post(*url, headers, std::move(body.body), target.endpoint->timeout,
                                   target.endpoint->ca_file, body.content_type);
  attempt.status = posted.status;
  attempt.error = posted.error;
  attempt.retry_after = posted.retry_after;
  finish(job, url->origin,
         decide(attempt, row.attempts, job.received_at_ms, now_ms(), config.delivery.retry, random),
         posted.seconds);
}

// Its endpoint is not configured (renamed or removed): held as orphaned, not dead, and queued
// again by start() once a configuration names it (issue 11). Logged once per endpoint.
// ARCHITECTURE.md, Memory: a render holds up to render_memory(size); it waits for that much of
// the process's budget (SMTP buffers and API bodies give it back as their transactions end), in
// slices so that stop() is not held up, and for at most kRenderBudgetWait: well inside
// delivery.lease, so a waiting row is never taken back as expired (which would count a render).
bool Dispatcher::Impl::reserve_render(uint64_t bytes, common::BudgetLease& lease) {
  if (memory == nullptr) return true;
  constexpr auto kRenderBudgetWait = std::chrono::seconds(30);
  auto deadline = std::chrono::steady_clock::now() + kRenderBudgetWait;
  for (;;) {
    auto slice = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (memory->reserve_wait(bytes, slice)) {
      lease = common::BudgetLease(*memory, bytes);
      return true;
    }
    std::lock_guard lock(mutex);
    if (stopping || std::chrono::steady_clock::now() >= deadline) return false;
  }
}

// A DSN for a VERP return path (README "Bounces"): recorded on the outbound recipient by the
// bounce consumer, not POSTed anywhere.
void Dispatcher::Impl::consume(const store::DeliveryJob& job) {
  BounceOutcome outcome = consume_bounce(store, config, job, now_ms());
  Decision decision{store::DeliveryOutcome::delivered, 0, ""};
  if (outcome.result == BounceOutcome::Result::unmatched)
    decision = {store::DeliveryOutcome::dead, 0, outcome.reason};
  if (outcome.result == BounceOutcome::Result::retry)
    decision = {store::DeliveryOutcome::deferred, now_ms() + 30000, outcome.reason};
  metrics.bounce(outcome.result == BounceOutcome::Result::recorded
                     ? (outcome.bounced > 0 ? "bounced" : "recorded")
                 : outcome.result == BounceOutcome::Result::retry ? "retry"
                                                                  : "unmatched");
  finish(job, std::string(common::kBounceEndpoint), decision, -1);
  if (outcome.result == BounceOutcome::Result::routed) {  // its new rows are due now
    std::lock_guard lock(mutex);
    notified = true;
    poll_wake.notify_one();
  }
}

void Dispatcher::Impl::orphan(const store::DeliveryJob& job) {
  const std::string& name = job.delivery.endpoint;
  metrics.orphaned();
  bool first = false;
  {
    std::lock_guard lock(mutex);
    first = orphans_logged.insert(name).second;
  }
  if (first) {
    obs::warn("deliveries to an endpoint that is not configured are held as orphaned",
              {{"endpoint", name}, {"delivery", job.delivery.id}});
  }
  std::string label = job.delivery.origin.empty() ? "unknown" : job.delivery.origin;
  finish(job, label,
         {store::DeliveryOutcome::orphaned, 0, "endpoint '" + name + "' is not configured"}, -1);
}

void Dispatcher::Impl::quarantine(const store::DeliveryJob& job, const std::string& label,
                                  const std::string& reason) {
  metrics.quarantined(label);
  obs::error("webhook delivery quarantined as a poison message",
             {{"delivery", job.delivery.id},
              {"message", job.delivery.message_id},
              {"endpoint", label},
              {"reason", reason}});
  finish(job, label, Decision{store::DeliveryOutcome::dead, 0, reason}, -1, false);
}

void Dispatcher::Impl::finish(const store::DeliveryJob& job, const std::string& label,
                              const Decision& decision, double seconds, bool rendered) {
  // Not waiting for the commit: a crash before it repeats this delivery (at least once).
  store.finish_delivery_later(job.delivery.id, decision.outcome, decision.next_attempt_at_ms,
                              decision.last_error, job.delivery.attempts, rendered,
                              decision.outcome == store::DeliveryOutcome::orphaned ? "" : label);
  metrics.attempt(label, decision.outcome, seconds);
  bool delivered = decision.outcome == store::DeliveryOutcome::delivered;
  if (delivered && !obs::enabled(obs::Level::debug)) return;  // the common case: nothing to log
  nlohmann::json fields = {{"delivery", job.delivery.id},
                           {"message", job.delivery.message_id},
                           {"endpoint", label},
                           {"attempt", job.delivery.attempts},
                           {"outcome", outcome_name(decision.outcome)}};
  if (delivered) {
    obs::debug("webhook delivered", fields);
    return;
  }
  fields["error"] = decision.last_error;
  if (decision.outcome == store::DeliveryOutcome::orphaned) return;  // logged by orphan()
  if (decision.outcome == store::DeliveryOutcome::dead) {
    obs::warn("webhook delivery is a dead letter", fields);
    return;
  }
  fields["next_attempt_at"] = common::rfc3339_utc(
      common::Clock::time_point(std::chrono::milliseconds(decision.next_attempt_at_ms)));
  obs::info("webhook delivery deferred", fields);
  std::lock_guard lock(mutex);
  retry_times.push(decision.next_attempt_at_ms);
  rearm = true;
  poll_wake.notify_one();
}

Dispatcher::Dispatcher(const config::Config& config, store::Store& store, obs::Registry& registry,
                       common::MemoryBudget* memory)
    : impl_(std::make_unique<Impl>(config, store, registry)) {
  impl_->memory = memory;
}

Dispatcher::~Dispatcher() {
  stop();
  impl_->metrics.detach();
}

void Dispatcher::start() {
  // Rows held as orphaned whose endpoint this configuration names again are delivered now.
  if (uint64_t returned = impl_->store.requeue_orphaned(configured_names(impl_->config), now_ms()))
    obs::info("orphaned deliveries queued again: their endpoint is configured",
              {{"deliveries", returned}});
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->started) return;
    start_threads();
  }
  // Outside the lock: the writer holds the store's side while it calls the consumer.
  impl_->store.set_delivery_consumer(&impl_->consumer);
  impl_->events.start();
}

void Dispatcher::start_threads() {
  impl_->started = true;
  impl_->stopping = false;
  // Rows may be waiting in the store (queued before this start, or requeued after a crash): new
  // rows queue behind them until the first claim has seen how many there are.
  impl_->more_due = true;
  impl_->poller = std::thread([impl = impl_.get()] {
    common::name_this_thread("dispatch-poll");
    impl->run_poller();
  });
  for (size_t i = 0; i < impl_->worker_count(); ++i) {
    impl_->workers.emplace_back([impl = impl_.get(), i] {
      common::name_this_thread("dispatch-" + std::to_string(i));
      impl->run_worker();
    });
  }
}

void Dispatcher::notify() {
  std::lock_guard lock(impl_->mutex);
  impl_->notified = true;
  impl_->poll_wake.notify_one();
}

void Dispatcher::notify_remote() {
  std::lock_guard lock(impl_->mutex);
  impl_->remote = true;
  impl_->poll_wake.notify_one();
}

void Dispatcher::stop() {
  impl_->events.stop();
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started) return;
  }
  // Before anything stops: returns once no hot-path handover is in progress.
  impl_->store.set_delivery_consumer(nullptr);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->poll_wake.notify_all();
  impl_->work_wake.notify_all();
  if (impl_->poller.joinable()) impl_->poller.join();
  for (std::thread& worker : impl_->workers) worker.join();
  std::lock_guard lock(impl_->mutex);
  impl_->workers.clear();
  impl_->jobs.clear();  // still in_flight in the store: queued again at the next open
  impl_->reserved = 0;
  impl_->started = false;
}

}  // namespace delivery
