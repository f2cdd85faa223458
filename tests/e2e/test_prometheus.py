# /metrics as a monitoring system sees it (issue 5, part 3): after real traffic, `promtool check
# metrics` accepts the exposition, every family the bridge documents is there with its type and
# HELP text and is listed in README.md, the process_* metrics are plausible, and a real
# Prometheus server started here scrapes the admin port and answers a query with the value of a
# counter this test moved.
import json
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from bridge import BridgeTest, _die_with_parent, scaled
from test_admin import Metrics, wait_metrics

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
ROUTES = {"routes": [{"match": ["*@example.com"]}]}

# Every family the bridge exports, with its type: the documented list (README "Metrics").
FAMILIES = {
    "smtp_bridge_build_info": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "smtp_bridge_store_commit_seconds": "histogram",
    "smtp_bridge_store_commit_batch_messages": "histogram",
    "smtp_bridge_store_committed_messages_total": "counter",
    "smtp_bridge_store_commit_failures_total": "counter",
    "smtp_bridge_store_size_bytes": "gauge",
    "smtp_bridge_store_inbound_messages": "gauge",
    "smtp_bridge_smtp_connections_total": "counter",
    "smtp_bridge_smtp_connections_active": "gauge",
    "smtp_bridge_smtp_connections_rejected_total": "counter",
    "smtp_bridge_smtp_sessions_total": "counter",
    "smtp_bridge_smtp_session_seconds": "histogram",
    "smtp_bridge_smtp_messages_accepted_total": "counter",
    "smtp_bridge_smtp_message_size_bytes": "histogram",
    "smtp_bridge_smtp_messages_rejected_total": "counter",
    "smtp_bridge_smtp_recipients_rejected_total": "counter",
    "smtp_bridge_smtp_received_bytes_total": "counter",
    "smtp_bridge_smtp_tls_handshakes_total": "counter",
    "smtp_bridge_smtp_tls_reloads_total": "counter",
    "smtp_bridge_smtp_tls_certificate_expiry_timestamp_seconds": "gauge",
    "smtp_bridge_smtp_auth_total": "counter",
    "smtp_bridge_smtp_commands_rejected_total": "counter",
    "smtp_bridge_delivery_attempts_total": "counter",
    "smtp_bridge_delivery_latency_seconds": "histogram",
    "smtp_bridge_delivery_dead_letters_total": "counter",
    "smtp_bridge_delivery_quarantined_total": "counter",
    "smtp_bridge_delivery_orphaned_total": "counter",
    "smtp_bridge_bounces_total": "counter",
    "smtp_bridge_delivery_lease_expired_total": "counter",
    "smtp_bridge_delivery_queue_depth": "gauge",
    "smtp_bridge_delivery_oldest_pending_seconds": "gauge",
    "smtp_bridge_event_attempts_total": "counter",
    "smtp_bridge_event_latency_seconds": "histogram",
    "smtp_bridge_event_dead_letters_total": "counter",
    "smtp_bridge_relay_messages_total": "counter",
    "smtp_bridge_relay_recipients_total": "counter",
    "smtp_bridge_relay_session_seconds": "histogram",
    "smtp_bridge_relay_pool_connections": "gauge",
    "smtp_bridge_relay_rate_limit_wait_seconds_total": "counter",
    "smtp_bridge_outbound_queue": "gauge",
    "smtp_bridge_dkim_signatures_total": "counter",
    "smtp_bridge_dkim_unsigned_total": "counter",
    "smtp_bridge_spf_results_total": "counter",
    "smtp_bridge_dkim_results_total": "counter",
    "smtp_bridge_dmarc_results_total": "counter",
    "smtp_bridge_auth_seconds": "histogram",
    "smtp_bridge_auth_decisions_total": "counter",
    "smtp_bridge_rspamd_actions_total": "counter",
    "smtp_bridge_rspamd_seconds": "histogram",
    "smtp_bridge_api_requests_total": "counter",
    "smtp_bridge_api_request_seconds": "histogram",
    "smtp_bridge_api_batch_items_total": "counter",
    "smtp_bridge_api_suppressed_recipients_total": "counter",
    "smtp_bridge_http_limited_total": "counter",
    "smtp_bridge_api_rate_limited_total": "counter",
    "smtp_bridge_memory_budget_bytes": "gauge",
    "smtp_bridge_memory_budget_used_bytes": "gauge",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks_seconds(pid):
    """utime + stime of /proc/PID/stat, fields 14 and 15 counted after the command's ')'."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def help_texts(body):
    """{family: HELP text} of an exposition."""
    helps = {}
    for line in body.split("\n"):
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            helps[parts[2]] = parts[3] if len(parts) > 3 else ""
    return helps


def send_messages(tc, b, count):
    for i in range(count):
        with smtplib.SMTP("127.0.0.1", b.port(), timeout=scaled(20)) as s:
            refused = s.sendmail("a@example.com", ["b@example.com"],
                                 f"Subject: prometheus {i}\r\n\r\nbody\r\n".encode())
            tc.assertEqual(refused, {})


class Prometheus:
    """A real Prometheus server on a free port, scraping one target every second."""

    def __init__(self, target):
        self.folder = tempfile.mkdtemp(prefix="e2e-prometheus-")
        self.port = free_port()
        config = os.path.join(self.folder, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: smtp-bridge\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.folder, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.folder, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, cwd=self.folder,
            preexec_fn=_die_with_parent)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def output(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def get(self, path):
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=scaled(5)) as res:
            return res.status, res.read()

    def wait_ready(self):
        end = time.monotonic() + scaled(60)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited ({self.proc.returncode}):\n"
                                     + self.output())
            try:
                if self.get("/-/ready")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > end:
                raise AssertionError("prometheus not ready:\n" + self.output())
            time.sleep(0.1)

    def query(self, expr):
        """The instant vector's results, [(labels, float value)]."""
        status, body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise AssertionError(f"query {expr!r}: {doc}")
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def wait_value(self, expr, expected, deadline):
        end = time.monotonic() + deadline
        last = None
        while True:
            last = self.query(expr)
            if len(last) == 1 and last[0][1] == expected:
                return last[0][0]
            if time.monotonic() > end:
                raise AssertionError(f"{expr} did not become {expected}; last result {last}; "
                                     f"targets: {self.get('/api/v1/targets')[1][:2000]!r}")
            time.sleep(0.2)


class Exposition(BridgeTest):

    def traffic_bridge(self):
        b = self.start_bridge(tls=True, extra=ROUTES)
        send_messages(self, b, 2)
        return b, wait_metrics(
            b.port("admin"),
            lambda m: (m.get("smtp_bridge_store_committed_messages_total") == 2
                       and m.get("smtp_bridge_smtp_connections_active") == 0),
            "two messages committed and no client left")

    def test_promtool_check_metrics_passes_after_traffic(self):
        if not os.access(PROMTOOL, os.X_OK):
            self.skipTest("promtool is not installed (Debian package 'prometheus')")
        _, m = self.traffic_bridge()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=m.body, capture_output=True,
                           timeout=scaled(30))
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n"
                         + p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace"))

    def test_every_family_is_exported_with_its_type_and_help(self):
        _, m = self.traffic_bridge()
        helps = help_texts(m.body.decode("utf-8"))
        for name, kind in FAMILIES.items():
            with self.subTest(family=name):
                self.assertEqual(m.types.get(name), kind)
                self.assertGreater(len(helps.get(name, "").strip()), 10, "no useful # HELP")
        undocumented = sorted(set(m.types) - set(FAMILIES))
        self.assertEqual(undocumented, [], "families exported but not in the documented list")

    def test_every_family_is_listed_in_the_readme(self):
        with open(README, encoding="utf-8") as f:
            readme = f.read()
        missing = [name for name in FAMILIES if f"`{name}`" not in readme]
        self.assertEqual(missing, [], "metrics not listed (as `name`) in README.md")

    def test_session_outcomes_and_process_metrics(self):
        before = time.time()
        b, m = self.traffic_bridge()
        self.assertEqual(m.value("smtp_bridge_smtp_sessions_total", outcome="quit"), 2)
        self.assertEqual(m.value("smtp_bridge_smtp_session_seconds_count"), 2)
        self.assertEqual(m.value("smtp_bridge_store_commit_batch_messages_sum"), 2)
        pid = b.proc.pid
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        self.assertGreater(m.value("process_open_fds"), 3)
        self.assertLessEqual(abs(m.value("process_open_fds") - fds), 8)
        self.assertGreaterEqual(m.value("process_max_fds"), m.value("process_open_fds"))
        self.assertGreater(m.value("process_resident_memory_bytes"), 1 << 20)
        self.assertGreaterEqual(m.value("process_virtual_memory_bytes"),
                                m.value("process_resident_memory_bytes"))
        self.assertGreater(m.value("process_cpu_seconds_total"), 0)
        # The kernel's own count in 10 ms ticks (proc(5) utime + stime), read around a scrape,
        # brackets the metric.
        ticks_before = cpu_ticks_seconds(pid)
        scraped = Metrics(b.port("admin")).value("process_cpu_seconds_total")
        ticks_after = cpu_ticks_seconds(pid)
        self.assertGreaterEqual(scraped, ticks_before)
        self.assertLessEqual(scraped, ticks_after + 0.02)
        started = m.value("process_start_time_seconds")
        self.assertGreaterEqual(started, before - 5)  # boot time has a 1 s resolution
        self.assertLessEqual(started, time.time() + 1)
        cert_expiry = m.value("smtp_bridge_smtp_tls_certificate_expiry_timestamp_seconds")
        self.assertGreater(cert_expiry, time.time())  # the test certificate is valid 2 days
        self.assertLess(cert_expiry, time.time() + 3 * 86400)
        # CPU time only grows between scrapes.
        later = Metrics(b.port("admin"))
        self.assertGreaterEqual(later.value("process_cpu_seconds_total"),
                                m.value("process_cpu_seconds_total"))


class RealPrometheus(BridgeTest):

    def test_prometheus_scrapes_the_admin_port_and_answers_a_query(self):
        if not os.access(PROMETHEUS, os.X_OK):
            self.skipTest("prometheus is not installed (Debian package 'prometheus')")
        b = self.start_bridge(extra=ROUTES)
        prom = Prometheus(f"127.0.0.1:{b.port('admin')}")
        self.addCleanup(prom.stop)
        prom.wait_ready()
        counter = 'smtp_bridge_smtp_messages_accepted_total{job="smtp-bridge"}'
        prom.wait_value(counter, 0, scaled(30))  # scraped before the traffic: starts at 0
        send_messages(self, b, 3)
        labels = prom.wait_value(counter, 3, scaled(30))
        self.assertEqual(labels.get("instance"), f"127.0.0.1:{b.port('admin')}")
        prom.wait_value('up{job="smtp-bridge"}', 1, scaled(10))
        targets = json.loads(prom.get("/api/v1/targets")[1])["data"]["activeTargets"]
        self.assertEqual([(t["health"], t["lastError"]) for t in targets], [("up", "")])
        # The histogram reaches PromQL as buckets: the 3 sessions are counted.
        prom.wait_value('sum(smtp_bridge_smtp_session_seconds_count{job="smtp-bridge"})', 3,
                        scaled(30))


if __name__ == "__main__":
    unittest.main()
