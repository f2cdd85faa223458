// Composition root: store → metrics → SMTP server → webhook dispatcher → outbound relay → REST API
// → admin listener; waits for a signal; then stops in the reverse order so that every acknowledged
// message is committed before exit (the dispatcher and the relay stop before the store closes:
// their in-flight POSTs and SMTP transactions finish first).
#include "app/app.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "api/server.h"
#include "app/store_setup.h"
#include "common/endpoint_name.h"
#include "common/memory_budget.h"
#include "common/url.h"
#include "common/version.h"
#include "config/config.h"
#include "delivery/dispatcher.h"
#include "delivery/payload.h"
#include "obs/admin_server.h"
#include "obs/health.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/process_metrics.h"
#include "relay/relay.h"
#include "smtp/server.h"
#include "store/store.h"

namespace app {
namespace {

// Blocks SIGTERM/SIGINT in every thread (they inherit the mask) so that sigwait gets them.
sigset_t block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void register_build_info(obs::Registry& registry) {
  registry.gauge("smtp_bridge_build_info", "Build information; the value is always 1.")
      .add({{"version", common::kVersion}})
      .set(1);
}

// GET /v1/inbound/{id} shows the bridge.v1 document for all the message's recipients; api/ may
// not include delivery/, so the renderer is handed to it from here. Like the dispatcher's, the
// render waits for its share of the memory budget; without room within 10 s the API answers 503.
api::RenderInbound render_for_api(common::MemoryBudget& memory) {
  return [&memory](const store::StoredInbound& stored) -> std::optional<std::string> {
    uint64_t bytes = delivery::render_memory(stored.data.size());
    if (!memory.reserve_wait(bytes, std::chrono::steady_clock::now() + std::chrono::seconds(10)))
      return std::nullopt;
    common::BudgetLease lease(memory, bytes);
    delivery::InboundView view{stored.id, stored.received_at_ms, stored.envelope_json, stored.data};
    delivery::RenderOptions options;
    options.rcpt_to = stored.rcpt_to;
    return delivery::render_bridge_v1_text(view, options);
  };
}

// delivery.lease, at least twice the longest endpoint timeout and a minute: a configured lease
// shorter than two timeouts is refused at load, but the default (5m) may meet longer timeouts.
std::chrono::milliseconds lease_for(const config::Config& cfg) {
  std::chrono::milliseconds lease = cfg.delivery.lease;
  for (const config::Route& route : cfg.routes)
    for (const config::Endpoint& endpoint : route.endpoints)
      lease = std::max(lease, 2 * endpoint.timeout + std::chrono::minutes(1));
  for (const config::EventEndpoint& events : cfg.events.endpoints)
    lease = std::max(lease, 2 * events.endpoint.timeout + std::chrono::minutes(1));
  return lease;
}

// Deliveries are stored under their endpoint's name (issue 11); the SMTP side names an endpoint
// by its URL, and one URL has one name (config/load_routes.cpp). A URL no endpoint has (rows
// stored before names, by the migration) gets its default name.
std::function<store::EndpointRef(const std::string&)> endpoint_resolver(const config::Config& cfg) {
  auto names = std::make_shared<std::map<std::string, std::string>>();
  for (const config::Route& route : cfg.routes)
    for (const config::Endpoint& endpoint : route.endpoints)
      (*names)[endpoint.url] = endpoint.key();
  return [names](const std::string& url) {
    store::EndpointRef ref;
    auto found = names->find(url);
    ref.name =
        found != names->end() ? found->second : common::default_endpoint_name(url).value_or(url);
    if (auto parsed = common::parse_endpoint_url(url)) ref.origin = parsed->origin;
    return ref;
  };
}

}  // namespace

int run(const config::Config& cfg) {
  sigset_t signals = block_termination_signals();
  // A write past RLIMIT_FSIZE must fail (the store answers 451) rather than kill the process.
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // Message buffers are large and short-lived (a session's, then the store's, then a dispatcher
  // worker's). Served from mmap (as a fixed 256 KiB threshold had them), each costs a fault per
  // 4 KiB and a TLB shootdown when freed, which made up a third of the CPU with 1.4 MB messages.
  // From the heap instead, they are reused warm. Two arenas (not glibc's 8 per core) and a trim
  // threshold keep the memory held beyond the live buffers small: peak RSS with 1.4 MB messages
  // stays under 128 MiB (bench/webhook-e2e).
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  mallopt(M_ARENA_MAX, 2);
  obs::Level level = obs::Level::info;
  obs::parse_level(cfg.log.level, level);
  obs::set_level(level);

  obs::Registry registry;
  obs::Health health;
  register_build_info(registry);
  obs::register_process_metrics(registry);

  auto& commit_seconds =
      registry
          .histogram("smtp_bridge_store_commit_seconds",
                     "Duration of one store group commit (transaction and fsync), in seconds.",
                     obs::latency_buckets())
          .add({});
  auto& commit_batch = registry
                           .histogram("smtp_bridge_store_commit_batch_messages",
                                      "Messages in one store group commit (one fsync).",
                                      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512})
                           .add({});
  auto& commit_messages = registry
                              .counter("smtp_bridge_store_committed_messages_total",
                                       "Messages committed durably to the store.")
                              .add({});
  auto& commit_failures = registry
                              .counter("smtp_bridge_store_commit_failures_total",
                                       "Group commits that failed (disk full, I/O error).")
                              .add({});

  // ARCHITECTURE.md, Memory: one budget for what peers make the bridge hold (message buffers,
  // request bodies, renders), half of the container's limit unless configured.
  std::optional<uint64_t> cgroup_limit = common::cgroup_memory_limit();
  common::MemoryBudget memory(cfg.memory.budget ? cfg.memory.budget
                                                : common::default_memory_budget(cgroup_limit));
  obs::info("memory budget", {{"bytes", memory.max()},
                              {"source", cfg.memory.budget ? "memory.budget"
                                         : cgroup_limit    ? "half of the cgroup memory limit"
                                                           : "default"}});
  auto& budget_bytes =
      registry
          .gauge("smtp_bridge_memory_budget_bytes",
                 "The process's memory budget for message buffers, request bodies and renders.")
          .add({});
  auto& budget_used =
      registry.gauge("smtp_bridge_memory_budget_used_bytes", "Bytes of the memory budget held now.")
          .add({});
  registry.add_collector([&memory, &budget_bytes, &budget_used] {
    budget_bytes.set(static_cast<double>(memory.max()));
    budget_used.set(static_cast<double>(memory.used()));
  });

  // Set once the dispatcher exists: a redelivery asked for over the API wakes it at once.
  std::atomic<delivery::Dispatcher*> dispatcher_to_notify{nullptr};
  store::Options store_options;
  store_options.path = cfg.store.path;
  store_options.max_size = cfg.store.max_size;
  store_options.commit_delay = cfg.store.commit_delay;
  store_options.on_commit = [&](double seconds, size_t messages, store::Status status) {
    commit_seconds.observe(seconds);
    commit_batch.observe(static_cast<double>(messages));
    if (status == store::Status::ok) {
      // The dispatcher hears of new rows as the store's delivery consumer (store.h).
      commit_messages.inc(static_cast<double>(messages));
    } else {
      commit_failures.inc();
      obs::error("store commit failed",
                 {{"status", store::to_string(status)}, {"messages", messages}});
    }
  };
  store_options.lease = lease_for(cfg);
  store_options.resolve_endpoint = endpoint_resolver(cfg);
  // Delivery events (issue 14): the store writes a row per (event, endpoint taking its type).
  for (const config::EventEndpoint& events : cfg.events.endpoints)
    store_options.event_endpoints.push_back({events.endpoint.key(), events.types});
  // An outcome that could not be committed is retried by the store; its rows stay in flight and
  // /readyz is 503 until it is in (store.h finish_delivery).
  store_options.on_write_failure = [](const std::string& what, store::Status status, size_t rows) {
    if (status == store::Status::ok) {
      obs::info("store outcomes committed after a retry", {{"write", what}});
    } else {
      obs::error("store cannot commit outcomes, retrying every second",
                 {{"write", what}, {"status", store::to_string(status)}, {"rows", rows}});
    }
  };
  std::string error;
  // Several replicas (postgres): rows another replica committed wake this one's dispatcher and
  // relay at once (LISTEN/NOTIFY); polling stays the fallback.
  std::atomic<relay::Relay*> relay_to_notify{nullptr};
  store_options.on_remote_rows = [&dispatcher_to_notify,
                                  &relay_to_notify](const std::string& what) {
    if (what == "outbound") {
      if (relay::Relay* relay = relay_to_notify.load()) relay->notify();
    } else if (delivery::Dispatcher* dispatcher = dispatcher_to_notify.load()) {
      dispatcher->notify_remote();
    }
  };
  std::unique_ptr<store::Store> store = open_store(cfg, store_options, error);
  if (!store) {
    obs::error("cannot open the store",
               {{"backend", cfg.store.backend}, {"path", store_location(cfg)}, {"error", error}});
    return 1;
  }
  store::Store* store_ptr = store.get();
  health.add_check("store", [store_ptr] { return store_ptr->writable(); });
  auto& store_bytes =
      registry
          .gauge("smtp_bridge_store_size_bytes", "Bytes the store's database files take on disk.")
          .add({});
  auto& store_messages =
      registry.gauge("smtp_bridge_store_inbound_messages", "Inbound messages held in the store.")
          .add({});
  registry.add_collector([store_ptr, &store_bytes, &store_messages] {
    store_bytes.set(static_cast<double>(store_ptr->size_bytes()));
    store_messages.set(static_cast<double>(store_ptr->count_inbound()));
  });

  delivery::Dispatcher dispatcher(cfg, *store, registry, &memory);
  smtp::Server smtp_server(cfg, *store, registry, &memory);
  if (!smtp_server.start(error)) {
    obs::error("cannot start the SMTP server", {{"error", error}});
    store->close();
    return 1;
  }
  dispatcher.start();
  dispatcher_to_notify = &dispatcher;
  auto stop_dispatcher = [&] {
    dispatcher_to_notify = nullptr;
    dispatcher.stop();
  };

  // Outbound: the relay sends what the send API commits; it starts after the store and stops
  // before the store closes.
  relay::Relay relay(cfg.relay, *store, registry);
  if (!relay.start(error)) {
    obs::error("cannot start the relay", {{"error", error}});
    smtp_server.stop();
    stop_dispatcher();
    store->close();
    return 1;
  }
  relay_to_notify = &relay;
  auto stop_relay = [&] {
    relay_to_notify = nullptr;
    relay.stop();
  };

  api::SendOptions send;
  send.memory = &memory;
  send.hostname = cfg.relay.hostname.empty() ? config::default_hostname() : cfg.relay.hostname;
  send.max_message_bytes = cfg.smtp.limits.max_message_size;  // one message size limit both ways
  send.queued = [&relay] { relay.notify(); };
  api::Server api_server(
      cfg.api, *store, registry, render_for_api(memory),
      [&dispatcher_to_notify] {
        if (delivery::Dispatcher* dispatcher = dispatcher_to_notify.load()) dispatcher->notify();
      },
      std::move(send));
  auto api_address = config::parse_host_port(cfg.api.listen);
  if (!api_address || !api_server.start(api_address->host, api_address->port, error)) {
    obs::error("cannot start the api listener", {{"address", cfg.api.listen}, {"error", error}});
    smtp_server.stop();
    stop_relay();
    stop_dispatcher();
    store->close();
    return 1;
  }

  obs::AdminServer admin(registry, health, cfg.admin.limits);
  auto admin_address = config::parse_host_port(cfg.admin.listen);
  if (!admin_address || !admin.start(admin_address->host, admin_address->port, error)) {
    obs::error("cannot start the admin listener",
               {{"address", cfg.admin.listen}, {"error", error}});
    api_server.stop();
    smtp_server.stop();
    stop_relay();
    stop_dispatcher();
    store->close();
    return 1;
  }
  obs::info("started", {{"version", common::kVersion},
                        {"store", store_location(cfg)},
                        {"backend", cfg.store.backend}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  obs::info("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // Not ready first, so that load balancers stop sending while the SMTP drain runs; the admin
  // listener stops last, so /readyz answers 503 throughout.
  health.set_draining(true);
  smtp_server.stop();  // 421 to new and idle sessions; transactions in progress finish
  api_server.stop();
  stop_relay();
  stop_dispatcher();
  admin.stop();
  store->close();
  obs::info("stopped");
  return 0;
}

}  // namespace app
