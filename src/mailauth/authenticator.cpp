// The checks' scheduling (authenticator.h). Per message up to three tasks run at once on the
// pool: SPF (DNS-bound), DKIM (hashing and key lookups) and rspamd (one HTTP call). DMARC needs
// the SPF and DKIM results: it runs in whichever of those two tasks finishes last, and the last
// task to finish reports. No task ever waits for another, so a small pool cannot deadlock.
#include "mailauth/authenticator.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/thread_name.h"
#include "mailauth/dkim_verify.h"
#include "mailauth/dmarc.h"
#include "mailauth/resolver.h"
#include "mailauth/rspamd.h"
#include "mailauth/spf.h"

namespace mailauth {

namespace {

using Clock = std::chrono::steady_clock;

class Pool {
 public:
  explicit Pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i)
      threads_.emplace_back([this] {
        common::name_this_thread("auth");
        run();
      });
  }
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and every queued check has run
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// a= is the sender's text: only the algorithms RFC 8301 and RFC 8463 name become label values.
const char* algorithm_label(const DkimVerdict& dkim) {
  for (const char* known : {"rsa-sha256", "ed25519-sha256", "rsa-sha1"})
    if (dkim.algorithm == known) return known;
  return "other";
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

// The checks' metric families (README "Metrics").
struct AuthMetrics {
  obs::Family<obs::Counter>& spf_results;
  obs::Family<obs::Counter>& dkim_results;
  obs::Family<obs::Counter>& dmarc_results;
  obs::Histogram& auth_seconds;
  obs::Family<obs::Counter>& spam_actions;
  obs::Histogram& spam_seconds;
  obs::Family<obs::Counter>& decisions;

  explicit AuthMetrics(obs::Registry& registry)
      : spf_results(registry.counter("smtp_bridge_spf_results_total",
                                     "SPF results of inbound messages, by identity and result")),
        dkim_results(registry.counter(
            "smtp_bridge_dkim_results_total",
            "DKIM signatures of inbound messages verified, by result and algorithm")),
        dmarc_results(registry.counter(
            "smtp_bridge_dmarc_results_total",
            "DMARC results of inbound messages, by result and the disposition it asks for")),
        auth_seconds(registry
                         .histogram("smtp_bridge_auth_seconds",
                                    "Time the SPF, DKIM and DMARC checks of one message took",
                                    obs::latency_buckets())
                         .add({})),
        spam_actions(registry.counter(
            "smtp_bridge_rspamd_actions_total",
            "rspamd answers by action; action=\"unavailable\" when it could not be asked")),
        spam_seconds(registry
                         .histogram("smtp_bridge_rspamd_seconds",
                                    "Time one rspamd /checkv2 call took", obs::latency_buckets())
                         .add({})),
        decisions(registry.counter(
            "smtp_bridge_auth_decisions_total",
            "Messages refused by the authentication and spam policy, by reason and reply")) {}
};

struct Authenticator::Impl : AuthMetrics {
  bool authenticate = false;
  std::chrono::milliseconds budget{5000};
  std::optional<RspamdOptions> rspamd;
  std::string hostname;
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<Pool> pool;  // last: its threads stop before the rest goes

  explicit Impl(obs::Registry& registry) : AuthMetrics(registry) {
    for (const char* identity : {"mailfrom", "helo"})
      for (const char* result :
           {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"})
        spf_results.add({{"identity", identity}, {"result", result}});
  }
};

void Authenticator::declare_metrics(obs::Registry& metrics) {
  AuthMetrics declared(metrics);
}

// What one message's tasks share; the last task to finish reports.
struct Job {
  CheckInput input;
  std::function<void(Verdicts)> done;
  Verdicts verdicts;
  Clock::time_point start = Clock::now();
  Deadline deadline;
  std::atomic<int> auth_left{2};  // SPF and DKIM, before DMARC
  std::atomic<int> left{0};       // tasks before `done`
};

std::unique_ptr<Authenticator> Authenticator::make(const config::Config& config,
                                                   const std::string& hostname,
                                                   obs::Registry& metrics, std::string& error) {
  auto impl = std::make_unique<Impl>(metrics);
  impl->authenticate = config.authentication.enabled;
  impl->budget = config.dns.budget;
  impl->hostname = hostname;
  if (!config.rspamd.url.empty())
    impl->rspamd = RspamdOptions{config.rspamd.url, config.rspamd.timeout};
  if (impl->authenticate) {
    impl->resolver = make_resolver(ResolverOptions{config.dns.servers}, error);
    if (!impl->resolver) return nullptr;
  }
  impl->pool = std::make_unique<Pool>(config.authentication.workers);
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(impl)));
}

Authenticator::Authenticator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Authenticator::~Authenticator() = default;

void Authenticator::count_decision(const Decision& decision) {
  if (decision.kind == Decision::Kind::accept) return;
  impl_->decisions
      .add({{"reason", decision.reason},
            {"reply", decision.kind == Decision::Kind::reject ? "550" : "451"}})
      .inc();
}

void Authenticator::check(CheckInput input, std::function<void(Verdicts)> done) {
  auto job = std::make_shared<Job>();
  job->input = std::move(input);
  job->done = std::move(done);
  job->deadline = job->start + impl_->budget;
  job->verdicts.authenticated = impl_->authenticate;
  job->left = (impl_->authenticate ? 2 : 0) + (impl_->rspamd ? 1 : 0);
  Impl* impl = impl_.get();
  auto finish = [job] {
    if (--job->left == 0) job->done(std::move(job->verdicts));
  };
  if (job->left == 0) {
    job->done(std::move(job->verdicts));
    return;
  }
  // DMARC, in the later of the SPF and DKIM tasks, then the metrics of all three.
  auto after_auth = [job, impl] {
    if (--job->auth_left != 0) return;
    Verdicts& v = job->verdicts;
    v.dmarc =
        check_dmarc(*impl->resolver, *job->input.message, v.spf.mailfrom, v.dkim, job->deadline);
    impl->auth_seconds.observe(seconds_since(job->start));
    impl->spf_results.add({{"identity", "mailfrom"}, {"result", v.spf.mailfrom.result}}).inc();
    impl->spf_results.add({{"identity", "helo"}, {"result", v.spf.helo.result}}).inc();
    for (const DkimVerdict& dkim : v.dkim)
      impl->dkim_results.add({{"result", dkim.result}, {"algorithm", algorithm_label(dkim)}}).inc();
    impl->dmarc_results.add({{"result", v.dmarc.result}, {"disposition", v.dmarc.disposition}})
        .inc();
  };
  if (impl->authenticate) {
    impl->pool->post([job, impl, after_auth, finish] {
      SpfQuery query{job->input.client_ip, job->input.helo, job->input.mail_from};
      job->verdicts.spf = check_spf(*impl->resolver, query, job->deadline);
      after_auth();
      finish();
    });
    impl->pool->post([job, impl, after_auth, finish] {
      prefetch_dmarc(*impl->resolver, *job->input.message);  // answered while DKIM hashes
      job->verdicts.dkim = verify_dkim(*impl->resolver, *job->input.message, job->deadline);
      after_auth();
      finish();
    });
  }
  if (impl->rspamd) {
    impl->pool->post([job, impl, finish] {
      SpamRequest request;
      request.message = *job->input.message;
      request.client_ip = job->input.client_ip;
      request.helo = job->input.helo;
      request.mail_from = job->input.mail_from;
      request.hostname = impl->hostname;
      request.queue_id = job->input.queue_id;
      request.rcpt_to = job->input.rcpt_to;
      request.user = job->input.user;
      Clock::time_point start = Clock::now();
      SpamVerdict spam = check_rspamd(*impl->rspamd, request);
      impl->spam_seconds.observe(seconds_since(start));
      impl->spam_actions.add({{"action", spam.status == "scanned" ? spam.action : "unavailable"}})
          .inc();
      job->verdicts.spam = std::move(spam);
      finish();
    });
  }
}

}  // namespace mailauth
