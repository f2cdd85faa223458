// The PostgreSQL store's writer thread: takes whatever waits (messages of both kinds, tasks,
// outcomes), commits the messages as one group, hands the hot path's claimed rows to the
// DeliveryConsumer after the commit returned, and retries outcomes whose commit failed (the
// server away) about once a second, the store unready meanwhile. Mirrors the SQLite store.
#include "store/postgres/postgres_store.h"

namespace store::postgres {

PostgresStore::Work PostgresStore::take_work() {
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
  for (size_t i = 0; i < take; ++i) {
    work.group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return work;
}

void PostgresStore::run_writer() {
  for (Work work = take_work(); !work.empty() || retry_due(); work = take_work()) {
    if (retry_due()) retry_finishes();
    // Outcomes before tasks: a claim queued after finish_delivery_later() must see its row.
    bool ride = work.tasks.empty() && !work.group.empty() && !retrying();
    if (!work.finishes.empty() && !ride) commit_finishes(work.finishes);
    for (Task& task : work.tasks) task(*writer_);
    if (!work.outbound_finishes.empty()) commit_outbound_finishes(work.outbound_finishes);
    if (!work.group.empty()) commit_group(work.group, ride ? &work.finishes : nullptr);
  }
  writable_ = false;
  writer_->close();
}

bool PostgresStore::queue_finish(Writer::Finish finish,
                                 std::shared_ptr<std::promise<void>> committed) {
  std::lock_guard lock(mutex_);
  if (closing_) return false;
  if (finishes_.empty()) lingering_since_ = std::chrono::steady_clock::now();
  bool awaited = committed != nullptr;
  finishes_.push_back({std::move(finish), std::move(committed)});
  finish_awaited_ = finish_awaited_ || awaited;
  if (awaited || writer_asleep_ || finishes_.size() >= kMaxLingering) wake_.notify_one();
  return true;
}

// Outcomes whose commit failed are kept and committed again about once a second, oldest first:
// their rows stay in_flight meanwhile. The callers are released either way.
void PostgresStore::commit_finishes(std::vector<PendingFinish>& pending) {
  std::vector<Writer::Finish> finishes;
  for (PendingFinish& p : pending) finishes.push_back(std::move(p.finish));
  Status status = writer_->finish_all(finishes, common::unix_ms(common::Clock::now()));
  if (status != Status::ok) keep_for_retry(std::move(finishes), {}, status);
  for (PendingFinish& p : pending)
    if (p.committed) p.committed->set_value();
}

void PostgresStore::commit_outbound_finishes(std::vector<PendingOutboundFinish>& pending) {
  std::vector<OutboundWriter::Finish> finishes;
  for (PendingOutboundFinish& p : pending)
    for (auto& finish : p.finishes) finishes.push_back(std::move(finish));
  Status status = outbound_->finish_all(finishes, common::unix_ms(common::Clock::now()));
  if (status != Status::ok) keep_for_retry({}, std::move(finishes), status);
  for (PendingOutboundFinish& p : pending) p.committed->set_value();
}

void PostgresStore::keep_for_retry(std::vector<Writer::Finish> inbound,
                                   std::vector<OutboundWriter::Finish> outbound, Status status) {
  bool first = !retrying();
  bool inbound_failed = !inbound.empty();
  for (auto& f : inbound) failed_.push_back(std::move(f));
  for (auto& f : outbound) failed_outbound_.push_back(std::move(f));
  retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
  writable_ = false;
  finishes_failing_ = true;
  if (first && options_.on_write_failure)
    options_.on_write_failure(inbound_failed ? "finish_delivery" : "finish_outbound", status,
                              failed_.size() + failed_outbound_.size());
}

void PostgresStore::retry_finishes() {
  int64_t now = common::unix_ms(common::Clock::now());
  Status status = failed_.empty() ? Status::ok : writer_->finish_all(failed_, now);
  if (status == Status::ok) failed_.clear();
  if (status == Status::ok && !failed_outbound_.empty()) {
    status = outbound_->finish_all(failed_outbound_, now);
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

// The group's transaction, with the hot path's claims in it (store.h DeliveryConsumer).
void PostgresStore::commit_group(Group& group, std::vector<PendingFinish>* finishes) {
  std::lock_guard consumer_lock(consumer_mutex_);
  size_t rows = delivery_rows(group);
  size_t reserved = consumer_ != nullptr && rows > 0 ? std::min(rows, consumer_->reserve(rows)) : 0;
  std::vector<Writer::Claimed> claimed;
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
    report(status, group.size());
    if (consumer_ != nullptr && rows > 0) {
      size_t queued = status == Status::ok ? rows - claimed.size() : 0;
      consumer_->take(claimed_jobs(group, claimed), reserved, queued);
    }
    return;
  }
  report(status, group.size());
  // Rolled back: each message alone, so that each gets its own status; their rows are queued.
  size_t queued = 0;
  for (Pending& pending : group) {
    Status own = timed_write({&pending, 1}, 0, nullptr);
    complete(pending, own);
    report(own, 1);
    if (own == Status::ok) queued += delivery_rows({&pending, 1});
  }
  if (consumer_ != nullptr && rows > 0) consumer_->take({}, reserved, queued);
}

size_t PostgresStore::delivery_rows(std::span<Pending> pendings) {
  size_t rows = 0;
  for (Pending& pending : pendings)
    if (auto* item = std::get_if<Inbound>(&pending)) rows += item->message.deliveries.size();
  return rows;
}

// The claimed rows as jobs; the senders have been answered, so their bytes are moved into the
// last job of each message (copied into the others of a fan-out).
std::vector<DeliveryJob> PostgresStore::claimed_jobs(Group& group,
                                                     std::vector<Writer::Claimed>& claimed) const {
  std::vector<InboundMessage*> inbound;
  for (Pending& pending : group)
    if (auto* item = std::get_if<Inbound>(&pending)) inbound.push_back(&item->message);
  std::vector<DeliveryJob> jobs;
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
    job.delivery.lease_owner = writer_->owner();
    job.received_at_ms = message.received_at_ms;
    job.envelope_json = last ? std::move(message.envelope_json) : message.envelope_json;
    job.data = last ? std::move(message.data) : message.data;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// One transaction for all of `pendings`: the inbound inserts (one pipeline), then the outbound
// ones (each behind its idempotency check), then the outcomes riding along.
Status PostgresStore::timed_write(std::span<Pending> pendings, size_t claim,
                                  std::vector<Writer::Claimed>* claimed,
                                  std::vector<PendingFinish>* finishes) {
  started_ = std::chrono::steady_clock::now();
  std::vector<const InboundMessage*> inbound;
  std::vector<Outbound*> outbound;
  uint64_t outbound_bytes = 0;
  for (Pending& pending : pendings) {
    if (auto* item = std::get_if<Inbound>(&pending)) {
      inbound.push_back(&item->message);
    } else {
      outbound.push_back(&std::get<Outbound>(pending));
      outbound_bytes += outbound.back()->message.data.size();
    }
  }
  Writer::Also also;
  if (!outbound.empty() || (finishes != nullptr && !finishes->empty())) {
    also = [this, &outbound, finishes](Connection& db, int64_t now, bool& notify_outbound) {
      for (Outbound* item : outbound) {
        bool inserted = false;
        if (!outbound_->insert(item->message, now, item->result, inserted)) return false;
        notify_outbound = notify_outbound || inserted;
      }
      if (finishes == nullptr || finishes->empty()) return true;
      std::vector<Command> commands;
      for (const PendingFinish& p : *finishes)
        commands.push_back(writer_->finish_command(p.finish, now));
      return db.pipeline(commands);
    };
  }
  Status status = writer_->write(inbound, outbound_bytes, also, claim, claimed);
  writable_ = status == Status::ok;
  return status;
}

void PostgresStore::complete(Pending& pending, Status status) {
  if (auto* item = std::get_if<Inbound>(&pending)) {
    item->done(status);
    return;
  }
  Outbound& item = std::get<Outbound>(pending);
  OutboundEnqueued result =
      status == Status::ok ? std::move(item.result) : refused(status, item.message);
  result.status = status;
  item.done(std::move(result));
}

void PostgresStore::report(Status status, size_t messages) {
  if (!options_.on_commit) return;
  std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started_;
  options_.on_commit(seconds.count(), messages, status);
}

}  // namespace store::postgres
