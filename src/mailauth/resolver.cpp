// libunbound as the bridge's stub resolver (issue 13, point 4). One ub_ctx, asynchronous with its
// own thread; a thread of ours runs ub_process() when answers arrive and wakes the waiting
// callers. A caller whose deadline passes first cancels its query and gets `timeout`: nothing
// waits longer than its deadline, whatever the servers do. libunbound keeps the cache (TTLs
// respected, bounded by cache_bytes).
#include "mailauth/resolver.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/thread_name.h"
#include "config/config.h"
#include "mailauth/header_fields.h"

namespace mailauth {

const char* to_string(DnsAnswer::Status status) {
  switch (status) {
    case DnsAnswer::Status::ok:
      return "ok";
    case DnsAnswer::Status::nxdomain:
      return "nxdomain";
    case DnsAnswer::Status::error:
      return "error";
    case DnsAnswer::Status::timeout:
      return "timeout";
  }
  return "error";
}

namespace {

// An uncompressed wire-format name (libunbound hands rdata out decompressed) as text without
// the final dot; nullopt when it runs past the data.
std::optional<std::string> wire_name(const unsigned char* data, size_t size) {
  std::string name;
  size_t at = 0;
  while (at < size) {
    size_t label = data[at++];
    if (label == 0) return lower(name);
    if (label > 63 || at + label > size) return std::nullopt;
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(data + at), label);
    at += label;
  }
  return std::nullopt;
}

// One record's rdata as DnsAnswer::records describes it; nullopt when malformed.
std::optional<std::string> record_text(int type, const unsigned char* data, size_t size) {
  switch (static_cast<RrType>(type)) {
    case RrType::txt: {  // RFC 1035 3.3.14: one or more <character-string>s
      std::string text;
      for (size_t at = 0; at < size;) {
        size_t length = data[at++];
        if (at + length > size) return std::nullopt;
        text.append(reinterpret_cast<const char*>(data + at), length);
        at += length;
      }
      return text;
    }
    case RrType::a:
    case RrType::aaaa: {
      const bool v4 = static_cast<RrType>(type) == RrType::a;
      if (size != (v4 ? 4u : 16u)) return std::nullopt;
      char text[INET6_ADDRSTRLEN];
      if (!inet_ntop(v4 ? AF_INET : AF_INET6, data, text, sizeof text)) return std::nullopt;
      return std::string(text);
    }
    case RrType::mx:  // RFC 1035 3.3.9: PREFERENCE then EXCHANGE
      if (size < 3) return std::nullopt;
      return wire_name(data + 2, size - 2);
    case RrType::ptr:
      return wire_name(data, size);
  }
  return std::nullopt;
}

DnsAnswer answer_of(int error, ub_result* result) {
  DnsAnswer answer;
  if (error != 0 || result == nullptr) return answer;  // status error
  answer.ttl = result->ttl > 0 ? static_cast<uint32_t>(result->ttl) : 0;
  if (result->nxdomain) {
    answer.status = DnsAnswer::Status::nxdomain;
  } else if (result->rcode != 0) {
    answer.status = DnsAnswer::Status::error;
  } else {
    answer.status = DnsAnswer::Status::ok;
    for (int i = 0; result->havedata && result->data[i] != nullptr; ++i) {
      std::optional<std::string> text =
          record_text(result->qtype, reinterpret_cast<const unsigned char*>(result->data[i]),
                      static_cast<size_t>(result->len[i]));
      if (!text) {
        answer.status = DnsAnswer::Status::error;
        answer.records.clear();
        break;
      }
      answer.records.push_back(std::move(*text));
    }
  }
  return answer;
}

// A query's meeting point between the caller and the callback; shared, because either may
// be the last to let go of it.
struct Pending {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  DnsAnswer answer;
};

// The `data` of a prefetch: nobody waits for its answer, and nothing is allocated for it (a
// prefetch outstanding when the context is deleted never hears back).
char prefetch_tag;

void on_answer(void* data, int error, ub_result* result) {
  if (data == &prefetch_tag) {
    if (result) ub_resolve_free(result);
    return;
  }
  auto* holder = static_cast<std::shared_ptr<Pending>*>(data);
  {
    DnsAnswer answer = answer_of(error, result);
    std::lock_guard lock((*holder)->mutex);
    (*holder)->answer = std::move(answer);
    (*holder)->done = true;
    (*holder)->cv.notify_all();
  }
  if (result) ub_resolve_free(result);
  delete holder;
}

// Answers (and NXDOMAIN / no data) kept in the process for their TTL: libunbound answers from its
// own cache too, but through its worker thread and two pipes, several thread switches a lookup;
// this one costs a map lookup. Errors and timeouts are never kept. At most kMaxEntries names: when
// full, expired entries go, and if none has expired, all of them.
class AnswerCache {
 public:
  std::optional<DnsAnswer> find(const std::string& name, RrType type) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key(name, type));
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= std::chrono::steady_clock::now()) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.answer;
  }

  void keep(const std::string& name, RrType type, const DnsAnswer& answer) {
    if (answer.ttl == 0 ||
        (answer.status != DnsAnswer::Status::ok && answer.status != DnsAnswer::Status::nxdomain))
      return;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kMaxEntries) {
      std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
      if (entries_.size() >= kMaxEntries) entries_.clear();
    }
    entries_[key(name, type)] = Entry{answer, now + std::chrono::seconds(answer.ttl)};
  }

 private:
  static constexpr size_t kMaxEntries = 10000;
  struct Entry {
    DnsAnswer answer;
    std::chrono::steady_clock::time_point expires;
  };
  static std::string key(const std::string& name, RrType type) {
    return lower(name) + '/' + std::to_string(static_cast<int>(type));
  }
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

class UnboundResolver final : public Resolver {
 public:
  UnboundResolver(ub_ctx* context, int wake) : context_(context), wake_(wake) {
    thread_ = std::thread([this] { run(); });
  }

  ~UnboundResolver() override {
    stopping_ = true;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_, &one, sizeof one);
    thread_.join();
    ub_ctx_delete(context_);  // cancels what is outstanding (their callbacks are not called)
    ::close(wake_);
  }

  DnsAnswer query(const std::string& name, RrType type, Deadline deadline) override {
    if (std::optional<DnsAnswer> cached = cache_.find(name, type)) return std::move(*cached);
    DnsAnswer answer = ask(name, type, deadline);
    cache_.keep(name, type, answer);
    return answer;
  }

  void prefetch(const std::string& name, RrType type) override {
    if (cache_.find(name, type)) return;
    ub_resolve_async(context_, name.c_str(), static_cast<int>(type), 1, &prefetch_tag, on_answer,
                     nullptr);
  }

 private:
  DnsAnswer ask(const std::string& name, RrType type, Deadline deadline) {
    auto pending = std::make_shared<Pending>();
    auto* holder = new std::shared_ptr<Pending>(pending);
    int id = 0;
    if (ub_resolve_async(context_, name.c_str(), static_cast<int>(type), 1, holder, on_answer,
                         &id) != 0) {
      delete holder;
      return DnsAnswer{};
    }
    std::unique_lock lock(pending->mutex);
    if (pending->cv.wait_until(lock, deadline, [&] { return pending->done; }))
      return std::move(pending->answer);
    lock.unlock();
    // Cancelled: the callback will never run, so its holder is ours to free. Not found: the
    // callback has run or is running and frees it.
    if (ub_cancel(context_, id) == 0) delete holder;
    DnsAnswer answer;
    answer.status = DnsAnswer::Status::timeout;
    return answer;
  }

  void run() {
    common::name_this_thread("dns");
    pollfd fds[2] = {{ub_fd(context_), POLLIN, 0}, {wake_, POLLIN, 0}};
    while (!stopping_) {
      if (::poll(fds, 2, -1) < 0) continue;  // EINTR
      if (fds[0].revents & POLLIN) ub_process(context_);
    }
  }

  ub_ctx* context_;
  AnswerCache cache_;
  int wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Resolver> make_resolver(const ResolverOptions& options, std::string& error) {
  ub_ctx* context = ub_ctx_create();
  if (context == nullptr) {
    error = "libunbound: cannot create a context";
    return nullptr;
  }
  auto fail = [&](std::string text) -> std::unique_ptr<Resolver> {
    error = std::move(text);
    ub_ctx_delete(context);
    return nullptr;
  };
  const std::string cache = std::to_string(options.cache_bytes);
  // A stub resolver: the configured servers recurse. Local servers are allowed (a node-local
  // cache, the tests' server); a server that timed out keeps being tried (never marked down for
  // minutes, the budget bounds each message anyway).
  const std::pair<const char*, std::string> settings[] = {
      {"do-not-query-localhost:", "no"},
      {"msg-cache-size:", cache},
      {"rrset-cache-size:", cache},
      {"infra-keep-probing:", "yes"},
      {"infra-host-ttl:", "60"},
      {"verbosity:", "0"},
      // libunbound answers RFC 6761's .test and RFC 6303's private reverse zones itself
      // (NXDOMAIN); a stub leaves them to the servers it forwards to (the tests' records live
      // under .test; SPF's ptr mechanism asks for private addresses' names).
      {"local-zone:", "test. transparent"},
      {"unblock-lan-zones:", "yes"},
      {"insecure-lan-zones:", "yes"},
  };
  for (const auto& [option, value] : settings)
    if (int rc = ub_ctx_set_option(context, option, value.c_str()); rc != 0)
      return fail(std::string("libunbound option ") + option + " " + ub_strerror(rc));
  if (options.servers.empty()) {
    if (int rc = ub_ctx_resolvconf(context, nullptr); rc != 0)
      return fail(std::string("dns.servers: /etc/resolv.conf: ") + ub_strerror(rc));
  }
  for (const std::string& server : options.servers) {
    std::optional<config::HostPort> address = config::parse_dns_server(server);
    // libunbound's forwarder syntax: "addr@port".
    if (!address ||
        ub_ctx_set_fwd(context, (address->host + "@" + std::to_string(address->port)).c_str()) != 0)
      return fail("dns.servers: '" + server + "' is not an IP address with an optional port");
  }
  if (int rc = ub_ctx_async(context, 1); rc != 0)
    return fail(std::string("libunbound: ") + ub_strerror(rc));
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return fail("dns: eventfd failed");
  return std::make_unique<UnboundResolver>(context, wake);
}

}  // namespace mailauth
