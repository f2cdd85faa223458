// The writer thread both backends share (group_commit.h): the queues, the group commit with its
// hot-path claims, the outcomes that ride it or wait for their retry, and readiness.
#include "store/group_commit.h"

#include <algorithm>

#include "common/thread_name.h"
#include "common/time.h"
#include "store/row_codec.h"

namespace store {

GroupCommitStore::GroupCommitStore(const Options& options) : options_(options) {
  if (options_.max_batch == 0) options_.max_batch = 1;
}

// The derived destructor has closed the store (its hooks are gone by now); this only makes sure
// no thread outlives the object.
GroupCommitStore::~GroupCommitStore() {
  if (thread_.joinable()) thread_.join();
}

void GroupCommitStore::start() {
  thread_ = std::thread([this] {
    common::name_this_thread("store-writer");
    run_writer();
  });
}

void GroupCommitStore::enqueue_inbound(InboundMessage message, Done done) {
  // Endpoints by name (Options::resolve_endpoint): on the caller's thread, not the writer's.
  for (Delivery& delivery : message.deliveries) {
    EndpointRef ref = resolve_endpoint(options_.resolve_endpoint, delivery.endpoint,
                                       /*derive_name=*/false);
    delivery.endpoint = std::move(ref.name);
    delivery.origin = std::move(ref.origin);
  }
  if (!push(Inbound{std::move(message), done})) done(Status::closed);
}

Status GroupCommitStore::route_inbound(const std::string& message_id,
                                       std::vector<Delivery> deliveries, int64_t now_ms) {
  for (Delivery& delivery : deliveries) {
    EndpointRef ref = resolve_endpoint(options_.resolve_endpoint, delivery.endpoint,
                                       /*derive_name=*/false);
    delivery.endpoint = std::move(ref.name);
    delivery.origin = std::move(ref.origin);
  }
  if (deliveries.empty()) return Status::ok;
  return run_on_writer(Status::closed,
                       [&] { return add_deliveries(message_id, deliveries, now_ms); });
}

void GroupCommitStore::enqueue_outbound(OutboundMessage message,
                                        std::function<void(OutboundEnqueued)> done) {
  OutboundEnqueued closed = refused(Status::closed, message);
  if (!push(Outbound{std::move(message), done, {}})) done(std::move(closed));
}

// One pending for the whole batch: a group commit takes it whole (one transaction), and a failed
// group retries it alone, still whole.
void GroupCommitStore::enqueue_outbound_batch(std::vector<OutboundMessage> messages,
                                              std::function<void(OutboundEnqueued)> done) {
  if (messages.empty()) {
    done(refused(Status::io_error, {}));
    return;
  }
  OutboundMessage first = std::move(messages.front());
  messages.erase(messages.begin());
  for (OutboundMessage& m : messages) m.idempotency_key.clear();  // the first's key stands for all
  OutboundEnqueued closed = refused(Status::closed, first);
  if (!push(Outbound{std::move(first), done, {}, std::move(messages)})) done(std::move(closed));
}

bool GroupCommitStore::push(Pending pending) {
  std::lock_guard lock(mutex_);
  if (closing_) return false;
  queue_.push_back(std::move(pending));
  wake_.notify_one();
  return true;
}

void GroupCommitStore::set_delivery_consumer(DeliveryConsumer* consumer) {
  std::lock_guard lock(consumer_mutex_);  // waits for a reserve/take pair in progress
  consumer_ = consumer;
}

// Outcomes wait in their own queue; the writer commits all that wait in one transaction (one
// fsync for many workers). Returns once durably recorded.
void GroupCommitStore::finish_delivery(const std::string& id, DeliveryOutcome outcome,
                                       int64_t next_attempt_at_ms, const std::string& last_error,
                                       int attempt, bool rendered, const std::string& origin) {
  auto committed = std::make_shared<std::promise<void>>();
  std::future<void> done = committed->get_future();
  if (queue_finish({id, outcome, next_attempt_at_ms, last_error, attempt, rendered, origin},
                   std::move(committed)))
    done.get();
}

void GroupCommitStore::finish_delivery_later(const std::string& id, DeliveryOutcome outcome,
                                             int64_t next_attempt_at_ms,
                                             const std::string& last_error, int attempt,
                                             bool rendered, const std::string& origin) {
  queue_finish({id, outcome, next_attempt_at_ms, last_error, attempt, rendered, origin}, nullptr);
}

// Like finish_delivery: the results of several callers are committed in one transaction,
// durably (a lost "sent" would send the message twice). Returns once committed.
void GroupCommitStore::finish_outbound(const std::string& id,
                                       const std::vector<RecipientResult>& results) {
  if (results.empty()) return;
  PendingOutboundFinish pending{{}, std::make_shared<std::promise<void>>()};
  for (const RecipientResult& result : results) pending.finishes.push_back({id, result});
  std::future<void> done = pending.committed->get_future();
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;  // stays in_flight: queued again later (at least once)
    outbound_finishes_.push_back(std::move(pending));
    wake_.notify_one();
  }
  done.get();
}

bool GroupCommitStore::writable() {
  // Outcomes that could not be committed wait for their retry: not ready until they are in,
  // whatever a probe says.
  if (finishes_failing_.load()) return false;
  if (writable_.load()) return true;
  // Only a later success makes the store ready again, and Kubernetes sends no mail to an unready
  // pod: so the check tries one, at most once per interval.
  {
    std::lock_guard lock(probe_mutex_);
    auto now = std::chrono::steady_clock::now();
    if (now - last_probe_ < kProbeInterval) return false;
    last_probe_ = now;
  }
  bool room = run_on_writer(false, [this] { return has_room(kProbeBytes); });
  if (room) writable_ = true;
  return room;
}

void GroupCommitStore::close() {
  std::lock_guard close_lock(close_mutex_);
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  after_close();
}

OutboundEnqueued GroupCommitStore::refused(Status status, const OutboundMessage& message) {
  OutboundEnqueued result;
  result.status = status;
  result.response_json = message.response_json;
  return result;
}

// Blocks until messages, tasks or awaited outcomes wait, or outcomes have lingered for
// kOutcomeLinger (or close); empty work means closed and drained.
GroupCommitStore::Work GroupCommitStore::take_work() {
  std::unique_lock lock(mutex_);
  auto ready = [this] {
    return closing_ || !queue_.empty() || !tasks_.empty() || !outbound_finishes_.empty() ||
           finish_awaited_ || finishes_.size() >= kMaxLingering || retry_due();
  };
  while (!ready()) {
    if (retrying() && finishes_.empty()) {
      wake_.wait_until(lock, retry_at_);
    } else if (finishes_.empty()) {
      writer_asleep_ = true;
      wake_.wait(lock);
      writer_asleep_ = false;
    } else if (wake_.wait_until(lock, lingering_since_ + kOutcomeLinger) ==
               std::cv_status::timeout) {
      break;
    }
  }
  finish_awaited_ = false;
  if (options_.commit_delay.count() > 0 && !closing_ && tasks_.empty() && !queue_.empty() &&
      queue_.size() < options_.max_batch) {
    // Give other sessions a moment to join this transaction's flush.
    wake_.wait_for(lock, options_.commit_delay, [this] {
      return closing_ || queue_.size() >= options_.max_batch || !tasks_.empty();
    });
  }
  Work work;
  work.tasks.assign(std::make_move_iterator(tasks_.begin()), std::make_move_iterator(tasks_.end()));
  tasks_.clear();
  work.finishes.assign(std::make_move_iterator(finishes_.begin()),
                       std::make_move_iterator(finishes_.end()));
  finishes_.clear();
  work.outbound_finishes.assign(std::make_move_iterator(outbound_finishes_.begin()),
                                std::make_move_iterator(outbound_finishes_.end()));
  outbound_finishes_.clear();
  size_t take = std::min(queue_.size(), options_.max_batch);
  work.group.reserve(take);
  for (size_t i = 0; i < take; ++i) {
    work.group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return work;
}

void GroupCommitStore::run_writer() {
  for (Work work = take_work(); !work.empty() || retry_due(); work = take_work()) {
    if (retry_due()) retry_finishes();
    // Outcomes before tasks: a claim queued after finish_delivery_later() must see its row.
    // Without tasks they ride the group's transaction instead (one commit, not two). Not while
    // older ones wait for a retry: those go first.
    bool ride = work.tasks.empty() && !work.group.empty() && !retrying();
    if (!work.finishes.empty() && !ride) commit_finishes(work.finishes);
    for (Task& task : work.tasks) task();
    if (!work.outbound_finishes.empty()) commit_outbound_finishes(work.outbound_finishes);
    if (!work.group.empty()) commit_group(work.group, ride ? &work.finishes : nullptr);
  }
  writable_ = false;
  close_writers();
}

// False once closing: the row stays in_flight and is queued again later (at least once).
// `committed` (may be null) is set once the outcome is committed.
bool GroupCommitStore::queue_finish(FinishRow finish,
                                    std::shared_ptr<std::promise<void>> committed) {
  std::lock_guard lock(mutex_);
  if (closing_) return false;
  if (finishes_.empty()) lingering_since_ = std::chrono::steady_clock::now();
  bool awaited = committed != nullptr;
  finishes_.push_back({std::move(finish), std::move(committed)});
  finish_awaited_ = finish_awaited_ || awaited;
  // A busy writer finds the outcome when it next takes work; only a sleeping one is woken.
  if (awaited || writer_asleep_ || finishes_.size() >= kMaxLingering) wake_.notify_one();
  return true;
}

// Outcomes whose commit failed (disk full, store.max_size, the server away) are kept and
// committed again about once a second, oldest first, until one succeeds: their rows stay
// in_flight meanwhile, so a lost outcome would repeat a delivery only once their lease ended.
// The callers are released either way; the store is not writable() until then.
void GroupCommitStore::commit_finishes(std::vector<PendingFinish>& pending) {
  std::vector<FinishRow> finishes;
  finishes.reserve(pending.size());
  for (PendingFinish& p : pending) finishes.push_back(std::move(p.finish));
  Status status = finish_rows(finishes, common::unix_ms(common::Clock::now()));
  if (status != Status::ok) keep_for_retry(std::move(finishes), {}, status);
  for (PendingFinish& p : pending)
    if (p.committed) p.committed->set_value();
}

void GroupCommitStore::commit_outbound_finishes(std::vector<PendingOutboundFinish>& pending) {
  std::vector<OutboundFinishRow> finishes;
  for (PendingOutboundFinish& p : pending)
    for (auto& finish : p.finishes) finishes.push_back(std::move(finish));
  Status status = finish_outbound_rows(finishes, common::unix_ms(common::Clock::now()));
  if (status != Status::ok) keep_for_retry({}, std::move(finishes), status);
  for (PendingOutboundFinish& p : pending) p.committed->set_value();
}

void GroupCommitStore::keep_for_retry(std::vector<FinishRow> inbound,
                                      std::vector<OutboundFinishRow> outbound, Status status) {
  bool first = !retrying();
  bool inbound_failed = !inbound.empty();
  for (auto& f : inbound) failed_.push_back(std::move(f));
  for (auto& f : outbound) failed_outbound_.push_back(std::move(f));
  retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
  writable_ = false;
  finishes_failing_ = true;
  // Reported when a streak starts (not at every retry: the log would fill the disk too).
  if (first && options_.on_write_failure)
    options_.on_write_failure(inbound_failed ? "finish_delivery" : "finish_outbound", status,
                              failed_.size() + failed_outbound_.size());
}

void GroupCommitStore::retry_finishes() {
  int64_t now_ms = common::unix_ms(common::Clock::now());
  Status status = failed_.empty() ? Status::ok : finish_rows(failed_, now_ms);
  if (status == Status::ok) failed_.clear();
  if (status == Status::ok && !failed_outbound_.empty()) {
    status = finish_outbound_rows(failed_outbound_, now_ms);
    if (status == Status::ok) failed_outbound_.clear();
  }
  if (status != Status::ok) {
    retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
    return;
  }
  finishes_failing_ = false;
  writable_ = true;
  if (options_.on_write_failure) options_.on_write_failure("finish", Status::ok, 0);
}

// The group's transaction. With a delivery consumer (the hot path), as many of its new rows as the
// consumer reserves are claimed in it and handed over once the commit is durable, after every
// sender has had its answer. `finishes` (may be null or empty) are committed in the group's
// transaction, or on their own if it fails.
void GroupCommitStore::commit_group(Group& group, std::vector<PendingFinish>* finishes) {
  std::lock_guard consumer_lock(consumer_mutex_);
  size_t rows = delivery_rows(group);
  size_t reserved = consumer_ != nullptr && rows > 0 ? std::min(rows, consumer_->reserve(rows)) : 0;
  std::vector<ClaimedRow> claimed;
  Status status = timed_write(group, reserved, &claimed, finishes);
  if (finishes != nullptr && !finishes->empty()) {
    if (status == Status::ok) {
      for (PendingFinish& p : *finishes)
        if (p.committed) p.committed->set_value();
    } else {
      commit_finishes(*finishes);
    }
  }
  if (status == Status::ok || group.size() == 1) {
    for (Pending& pending : group) complete(pending, status);
    report(status, messages_in(group));
    if (consumer_ != nullptr && rows > 0) {
      size_t queued = status == Status::ok ? rows - claimed.size() : 0;
      consumer_->take(claimed_jobs(group, claimed), reserved, queued);
    }
    return;
  }
  report(status, messages_in(group));
  // Rolled back: each message alone, so that each gets its own status; their rows are queued.
  size_t queued = 0;
  for (Pending& pending : group) {
    Status own = timed_write({&pending, 1}, 0, nullptr);
    complete(pending, own);
    report(own, messages_in({&pending, 1}));
    if (own == Status::ok) queued += delivery_rows({&pending, 1});
  }
  if (consumer_ != nullptr && rows > 0) consumer_->take({}, reserved, queued);
}

// Messages, not pendings: a batch (enqueue_outbound_batch) is one pending of many messages.
size_t GroupCommitStore::messages_in(std::span<Pending> pendings) {
  size_t messages = 0;
  for (Pending& pending : pendings) {
    auto* item = std::get_if<Outbound>(&pending);
    messages += item == nullptr ? 1 : 1 + item->rest.size();
  }
  return messages;
}

size_t GroupCommitStore::delivery_rows(std::span<Pending> pendings) {
  size_t rows = 0;
  for (Pending& pending : pendings)
    if (auto* item = std::get_if<Inbound>(&pending)) rows += item->message.deliveries.size();
  return rows;
}

// The claimed rows as jobs. The messages' senders have been answered, so their bytes are moved
// into the last job of each message (copied into the others of a fan-out).
std::vector<DeliveryJob> GroupCommitStore::claimed_jobs(Group& group,
                                                        std::vector<ClaimedRow>& claimed) const {
  std::vector<InboundMessage*> inbound;  // in the order write() saw them
  for (Pending& pending : group)
    if (auto* item = std::get_if<Inbound>(&pending)) inbound.push_back(&item->message);
  std::vector<DeliveryJob> jobs;
  jobs.reserve(claimed.size());
  for (size_t i = 0; i < claimed.size(); ++i) {
    InboundMessage& message = *inbound[claimed[i].message];
    Delivery& delivery = message.deliveries[claimed[i].delivery];
    bool last = i + 1 == claimed.size() || claimed[i + 1].message != claimed[i].message;
    DeliveryJob job;
    job.delivery.id = std::move(claimed[i].id);
    job.delivery.message_id = message.id;
    job.delivery.endpoint = delivery.endpoint;
    job.delivery.origin = delivery.origin;
    job.delivery.rcpt_to = delivery.rcpt_to;
    job.delivery.state = "in_flight";
    job.delivery.attempts = 1;
    job.delivery.render_attempts = 1;
    job.delivery.next_attempt_at_ms = claimed[i].at_ms;
    job.delivery.lease_until_ms = claimed[i].at_ms + options_.lease.count();
    job.delivery.lease_owner = owner();
    job.received_at_ms = message.received_at_ms;
    job.envelope_json = last ? std::move(message.envelope_json) : message.envelope_json;
    job.data = last ? std::move(message.data) : message.data;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Status GroupCommitStore::timed_write(std::span<Pending> pendings, size_t claim,
                                     std::vector<ClaimedRow>* claimed,
                                     const std::vector<PendingFinish>* finishes) {
  started_ = std::chrono::steady_clock::now();
  if (claimed != nullptr) claimed->clear();
  Status status = write(pendings, claim, claimed, finishes);
  if (status != Status::ok && claimed != nullptr) claimed->clear();
  writable_ = status == Status::ok;
  return status;
}

void GroupCommitStore::complete(Pending& pending, Status status) {
  if (auto* item = std::get_if<Inbound>(&pending)) {
    item->done(status);
    return;
  }
  Outbound& item = std::get<Outbound>(pending);
  // Replay and conflict count only when the transaction that saw them committed.
  OutboundEnqueued result =
      status == Status::ok ? std::move(item.result) : refused(status, item.message);
  result.status = status;
  item.done(std::move(result));
}

void GroupCommitStore::report(Status status, size_t messages) {
  if (!options_.on_commit) return;
  std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started_;
  options_.on_commit(seconds.count(), messages, status);
}

}  // namespace store
