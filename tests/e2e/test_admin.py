# The admin listener of the running bridge (CONTRACTS.md 3): /healthz, /readyz, 404 elsewhere, and
# /metrics in the text format 0.0.4 whose counters match the SMTP traffic the test sent (accepted,
# rejected, unknown recipients, TLS, bytes, store commits), checked by value and by `promtool`.
import http.client
import json
import re
import shutil
import smtplib
import subprocess
import time
import unittest

import bridge
from bridge import BridgeTest, scaled

ROUTES = {"routes": [{"match": ["*@example.com"]}]}


# --- HTTP and exposition-format helpers (importable by other modules) --------------------------

def http_get(port, path, timeout=None):
    """(status, content_type, body bytes) of GET http://127.0.0.1:port/path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout or scaled(10))
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, res.getheader("Content-Type", ""), res.read()
    finally:
        conn.close()


_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(value):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = _LABEL_RE.match(text, pos)
        if not m:
            raise AssertionError(f"bad label set {{{text}}}")
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return labels


def parse_metrics(text):
    """({(name, frozenset(labels)): value}, {family: type}) of a text-format 0.0.4 body; a line
    that is neither a comment nor a well-formed sample is an assertion failure."""
    samples, types = {}, {}
    for line in text.split("\n"):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        key = (m.group(1), frozenset(_labels(m.group(3) or "").items()))
        if key in samples:
            raise AssertionError(f"duplicate sample: {line!r}")
        samples[key] = float(m.group(4))
    return samples, types


class Metrics:
    """One scrape of /metrics."""

    def __init__(self, port):
        self.status, self.content_type, self.body = http_get(port, "/metrics")
        self.samples, self.types = parse_metrics(self.body.decode("utf-8"))

    def get(self, name, **labels):
        """The sample's value, or None when the bridge does not expose it."""
        return self.samples.get((name, frozenset(labels.items())))

    def value(self, name, **labels):
        v = self.get(name, **labels)
        if v is None:
            have = sorted(f"{n}{dict(l)}" for n, l in self.samples if n == name)
            raise AssertionError(f"no sample {name}{labels}; samples of that name: {have}")
        return v

    def with_name(self, name):
        return {frozenset(l): v for (n, l), v in self.samples.items() if n == name}


def wait_metrics(port, condition, what, deadline=None):
    """Scrapes until condition(Metrics) holds; fails after the deadline with the last values."""
    end = time.monotonic() + (deadline or scaled(10))
    while True:
        m = Metrics(port)
        if condition(m):
            return m
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not reached within the deadline; last scrape:\n"
                                 + m.body.decode("utf-8", "replace")[-3000:])
        time.sleep(0.02)


def bridge_version():
    out = subprocess.run([bridge.BIN, "--version"], capture_output=True, text=True, check=True,
                         timeout=scaled(10)).stdout.strip()
    m = re.fullmatch(r"smtp-bridge (\S+)", out)
    if not m:
        raise AssertionError(f"unexpected --version output {out!r}")
    return m.group(1)


# --- tests ---------------------------------------------------------------------------------------

class Endpoints(BridgeTest):
    bridge_options = {}

    def port(self):
        return self.bridge.port("admin")

    def test_healthz_is_200_status_ok(self):
        status, ctype, body = http_get(self.port(), "/healthz")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("application/json"), ctype)
        self.assertEqual(json.loads(body)["status"], "ok")

    def test_readyz_is_200_while_running(self):
        status, ctype, body = http_get(self.port(), "/readyz")
        self.assertEqual(status, 200, body)
        self.assertTrue(ctype.startswith("application/json"), ctype)
        self.assertIsInstance(json.loads(body), dict)

    def test_unknown_path_is_404(self):
        for path in ("/", "/nope", "/metrics/extra", "/healthzz"):
            with self.subTest(path=path):
                self.assertEqual(http_get(self.port(), path)[0], 404)

    def test_metrics_content_type_is_text_format_0_0_4(self):
        m = Metrics(self.port())
        self.assertEqual(m.status, 200)
        fields = [f.strip().lower() for f in m.content_type.split(";")]
        self.assertEqual(fields[0], "text/plain")
        self.assertIn("version=0.0.4", fields)

    def test_build_info_carries_the_version_that_version_prints(self):
        m = Metrics(self.port())
        self.assertEqual(m.value("smtp_bridge_build_info", version=bridge_version()), 1)
        self.assertEqual(len(m.with_name("smtp_bridge_build_info")), 1)
        self.assertEqual(m.types.get("smtp_bridge_build_info"), "gauge")


class TrafficMetrics(BridgeTest):
    """A fresh bridge per test, so that every counter's exact value is known."""

    ACCEPTED = 3
    BARE_LF_MESSAGE = b"Subject: bare lf\r\n\r\nbare\nline feed\r\n"

    def send_traffic(self, b):
        """Returns the message bytes sent in DATA (after unstuffing, without the terminator)."""
        sent = 0
        for i in range(self.ACCEPTED):
            body = (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: metrics {i}\r\n\r\n"
                    + "line of text\r\n" * (10 + i)).encode()
            with smtplib.SMTP("127.0.0.1", b.port(), timeout=scaled(20)) as s:
                s.ehlo("smtplib.example")
                refused = s.sendmail("a@example.com", ["b@example.com"], body)
                self.assertEqual(refused, {})
            sent += len(body)
        # One unknown recipient and one message refused for a bare LF, on one connection.
        c = self.raw(b)
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<nobody@unrouted.example>"), 550, "5.1.1")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        bad = self.BARE_LF_MESSAGE
        c.send(bad + b".\r\n")
        self.assertReply(c.reply(), 550, "5.6.0")
        sent += len(bad)
        self.assertReply(c.cmd("QUIT"), 221)
        c.close()
        # One STARTTLS handshake.
        t = self.raw(b)
        self.assertEqual(t.ehlo().code, 250)
        t.starttls()
        self.assertEqual(t.ehlo().code, 250)
        self.assertReply(t.cmd("QUIT"), 221)
        t.close()
        return sent

    def settled(self, b, accepted=ACCEPTED):
        """Scrapes until every client is gone and every accepted message's commit is counted
        (the store reports a commit just after it answers the session)."""
        return wait_metrics(
            b.port("admin"),
            lambda m: (m.get("smtp_bridge_smtp_connections_active") == 0
                       and m.get("smtp_bridge_store_committed_messages_total") == accepted),
            "connections_active == 0 and committed == accepted")

    def test_counters_match_the_traffic(self):
        b = self.start_bridge(tls=True, extra=ROUTES)
        sent = self.send_traffic(b)
        m = self.settled(b)
        self.assertEqual(m.status, 200)
        self.assertEqual(b.count(), self.ACCEPTED)

        self.assertEqual(m.value("smtp_bridge_smtp_connections_total", listener="smtp"),
                         self.ACCEPTED + 2)
        self.assertEqual(sum(m.with_name("smtp_bridge_smtp_connections_total").values()),
                         self.ACCEPTED + 2)
        self.assertEqual(m.value("smtp_bridge_smtp_connections_active"), 0)
        self.assertEqual(m.value("smtp_bridge_smtp_messages_accepted_total"), self.ACCEPTED)
        self.assertEqual(m.with_name("smtp_bridge_smtp_messages_rejected_total"),
                         {frozenset({("reason", "bare_lf")}): 1})
        self.assertEqual(m.with_name("smtp_bridge_smtp_recipients_rejected_total"),
                         {frozenset({("reason", "unknown")}): 1})
        self.assertEqual(m.with_name("smtp_bridge_smtp_tls_handshakes_total"),
                         {frozenset({("result", "success")}): 1})
        # Accepted messages as stored: the bytes sent plus the Received header (~300 bytes).
        accepted_bytes = sent - len(self.BARE_LF_MESSAGE)
        self.assertEqual(m.value("smtp_bridge_smtp_message_size_bytes_count"), self.ACCEPTED)
        self.assertEqual(m.value("smtp_bridge_smtp_message_size_bytes_bucket", le="+Inf"),
                         self.ACCEPTED)
        self.assertEqual(m.value("smtp_bridge_smtp_message_size_bytes_bucket", le="1024"),
                         self.ACCEPTED)  # ~500 bytes each
        size_sum = m.value("smtp_bridge_smtp_message_size_bytes_sum")
        self.assertGreater(size_sum, accepted_bytes + 100 * self.ACCEPTED)
        self.assertLess(size_sum, accepted_bytes + 1000 * self.ACCEPTED)
        received = m.value("smtp_bridge_smtp_received_bytes_total")
        self.assertGreaterEqual(received, sent)
        self.assertLessEqual(received, sent + 16 * (self.ACCEPTED + 1), "bytes counted twice?")

        count = m.value("smtp_bridge_store_commit_seconds_count")
        self.assertGreaterEqual(count, 1)
        self.assertLessEqual(count, self.ACCEPTED)  # group commit: at most one per message
        self.assertEqual(m.value("smtp_bridge_store_commit_seconds_bucket", le="+Inf"), count)
        self.assertGreater(m.value("smtp_bridge_store_commit_seconds_sum"), 0)
        self.assertEqual(m.value("smtp_bridge_store_committed_messages_total"), self.ACCEPTED)
        self.assertEqual(m.value("smtp_bridge_build_info", version=bridge_version()), 1)

        self.assertSameAsPrometheusClient(m)
        for name, kind in (("smtp_bridge_smtp_connections_active", "gauge"),
                           ("smtp_bridge_store_commit_seconds", "histogram"),
                           ("smtp_bridge_build_info", "gauge")):
            self.assertEqual(m.types.get(name), kind, name)
        for name in ("smtp_bridge_smtp_connections_total", "smtp_bridge_smtp_messages_accepted_total",
                     "smtp_bridge_store_committed_messages_total"):
            self.assertEqual(m.types.get(name), "counter", name)

    def assertSameAsPrometheusClient(self, m):
        """Debian's prometheus_client reads the same samples as this module's parser."""
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            return  # the value checks above stand alone; promtool checks the format
        theirs = {}
        for family in text_string_to_metric_families(m.body.decode("utf-8")):
            for s in family.samples:
                theirs[(s.name, frozenset(s.labels.items()))] = s.value
        self.assertEqual(theirs, m.samples)

    def test_histogram_buckets_are_cumulative(self):
        b = self.start_bridge()
        with smtplib.SMTP("127.0.0.1", b.port(), timeout=scaled(20)) as s:
            self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], b"Subject: h\r\n\r\nx\r\n"), {})
        m = self.settled(b, accepted=1)
        buckets = []
        for labels, value in m.with_name("smtp_bridge_store_commit_seconds_bucket").items():
            le = dict(labels)["le"]
            buckets.append((float("inf") if le == "+Inf" else float(le), value))
        buckets.sort()
        self.assertGreater(len(buckets), 1)
        self.assertEqual(buckets[-1][0], float("inf"))
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values), "bucket counts are not cumulative")
        self.assertEqual(values[-1], m.value("smtp_bridge_store_commit_seconds_count"))

    def test_promtool_accepts_the_live_metrics(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool is not installed (Debian package 'prometheus')")
        b = self.start_bridge(tls=True, extra=ROUTES)
        self.send_traffic(b)
        m = self.settled(b)
        p = subprocess.run([promtool, "check", "metrics"], input=m.body, capture_output=True,
                           timeout=scaled(30))
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n"
                         + p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace"))


if __name__ == "__main__":
    unittest.main()
