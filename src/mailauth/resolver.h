// The DNS resolver of mail authentication (issue 13, point 4): libunbound as a stub resolver that
// forwards to dns.servers (default: /etc/resolv.conf's), with its TTL-respecting cache. Lookups
// are blocking for the calling thread but bounded by a deadline, so a message's checks share one
// time budget; many threads may query at once (libunbound answers them concurrently).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mailauth {

using Deadline = std::chrono::steady_clock::time_point;

enum class RrType : uint16_t { a = 1, ptr = 12, mx = 15, txt = 16, aaaa = 28 };

struct DnsAnswer {
  enum class Status {
    ok,        // NOERROR: `records` holds the answer (empty = no data of that type)
    nxdomain,  // the name does not exist
    error,     // SERVFAIL, REFUSED, a malformed answer...: a temporary error for the caller
    timeout,   // the deadline passed first
  };
  Status status = Status::error;
  // One entry per resource record, in the order received:
  //   TXT: its character-strings concatenated (RFC 7208 3.3, RFC 6376 3.6.2.2);
  //   A / AAAA: the address in text ("192.0.2.1", "2001:db8::1");
  //   MX: the exchange's host name, lower case without the final dot (the preference dropped);
  //   PTR: the host name, lower case without the final dot.
  std::vector<std::string> records;
  uint32_t ttl = 0;  // seconds the answer stays valid
};

const char* to_string(DnsAnswer::Status status);

struct ResolverOptions {
  // "ip" or "ip:port" or "[ipv6]:port"; empty = the servers of /etc/resolv.conf.
  std::vector<std::string> servers;
  size_t cache_bytes = 4 << 20;  // libunbound's message and RRset caches, each
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Thread-safe. Returns at `deadline` at the latest (status timeout). `name` without final dot.
  virtual DnsAnswer query(const std::string& name, RrType type, Deadline deadline) = 0;
  // Starts a lookup whose answer only fills the cache, and returns at once: a library that looks
  // names up one after the other (libspf2, libopendkim) then finds them answered.
  virtual void prefetch(const std::string& name, RrType type) = 0;
};

// nullptr and `error` (naming the bad server) when the resolver cannot be set up.
std::unique_ptr<Resolver> make_resolver(const ResolverOptions& options, std::string& error);

}  // namespace mailauth
