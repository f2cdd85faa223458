# POST /v1/messages/batch end to end (README "Batch send"): the real bridge, its relay and a real
# aiosmtpd upstream (upstream.py). 500 items with a few invalid ones → 202 with one result per
# item, the valid ones relayed and the invalid ones not; 501 items → 413; the batch's
# Idempotency-Key. And relay.rate_limit against an upstream that answers 421 past N messages a
# second (upstream.py max_per_second): no 421 with the limit below N, 421s without it. Every API
# answer is validated against openapi.yaml.
import http.client
import json
import re
import unittest

import bridge
from bridge import Bridge, scaled
from test_inbound_api import PROBLEM_TYPE, checked_body, load_openapi
from upstream import Upstream

KEY = "e2e-batch-key-0b47c4"
INVALID = {  # item index → (the item, the field a single send names, under messages[i].)
    7: ({"from": "shop@example.com", "to": [{"address": "not-an-address"}], "text": "x"},
        "messages[7].to[0].address"),
    123: ({"to": ["r123@example.org"], "text": "x"}, "messages[123].from"),
    250: ("not an object", "messages[250]"),
    499: ({"from": "shop@example.com", "to": ["r499@example.org"], "text": "x", "colour": "red"},
          "messages[499].colour"),
}


def item(i):
    return {"from": "Shop <shop@example.com>", "to": [f"r{i}@example.org"],
            "subject": f"batch item {i}", "text": f"item {i}\n" + "x" * 1000,
            "metadata": {"i": str(i)}}


def batch(n, invalid=None):
    items = [item(i) for i in range(n)]
    for i, (bad, _) in (invalid or {}).items():
        items[i] = bad
    return {"messages": items}


def start_bridge(cleanup, up, rate_limit=None, connections=4):
    relay = {"upstream": {"host": "127.0.0.1", "port": up.port, "tls": "none"},
             "hostname": "bridge.test", "connections": connections,
             "retry": {"initial": "1s", "max_interval": "2s", "max_age": "1h"}}
    if rate_limit:
        relay["rate_limit"] = rate_limit
    b = Bridge(extra={"api": {"keys": [{"name": "shop", "key": KEY}]}, "relay": relay})
    b.expect = b.expect + ["api"]
    cleanup(b.cleanup)
    b.start()
    return b


class BatchBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.doc = load_openapi()

    def upstream(self, **kw):
        up = Upstream(tls="none", require_tls=False, **kw)
        up.start()
        self.addCleanup(up.stop)
        return up

    def post_batch(self, b, body, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(60))
        try:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            conn.request("POST", "/v1/messages/batch", body=data,
                         headers={"Authorization": f"Bearer {KEY}",
                                  "Content-Type": "application/json", **(headers or {})})
            res = conn.getresponse()
            raw = res.read()
            status, res_headers = res.status, {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        return status, res_headers, checked_body(self, self.doc, "POST", "/v1/messages/batch",
                                                 "/v1/messages/batch", status, res_headers, raw)

    def metric(self, b, pattern):
        conn = http.client.HTTPConnection("127.0.0.1", b.port("admin"), timeout=scaled(10))
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        found = re.search(pattern + r" ([0-9.e+]+)", text)
        return float(found.group(1)) if found else 0.0


class BatchSend(BatchBase):
    def test_500_items_with_invalid_ones_are_answered_per_item_and_the_valid_relayed(self):
        up = self.upstream()
        b = start_bridge(self.addCleanup, up)
        status, headers, answer = self.post_batch(b, batch(500, INVALID))
        self.assertEqual(status, 202, answer)
        results = answer["results"]
        self.assertEqual(len(results), 500)
        self.assertEqual((answer["queued"], answer["invalid"]), (496, 4))
        for i, result in enumerate(results):
            if i in INVALID:
                self.assertEqual(result["status"], "invalid", result)
                self.assertIn(INVALID[i][1], [e["field"] for e in result["errors"]], result)
            else:
                self.assertEqual(result["status"], "queued", result)
        ids = [r["id"] for r in results if r["status"] == "queued"]
        self.assertEqual(len(set(ids)), 496)
        self.assertEqual(ids, sorted(ids), "UUIDv7 ids in request order")

        messages = up.wait_messages(496, timeout=scaled(60))
        wanted = {f"r{i}@example.org" for i in range(500) if i not in INVALID}
        got = [rcpt for m in messages for rcpt in m.rcpt_tos]
        self.assertEqual(sorted(got), sorted(wanted))  # each valid item once, no invalid one
        one = next(m for m in messages if m.rcpt_tos == ["r42@example.org"])
        self.assertIn(b"Subject: batch item 42\r\n", one.data)
        self.assertIn(f"Message-ID: <{results[42]['message_id']}>".encode(), one.data)
        self.assertEqual(self.metric(b, r'smtp_bridge_api_batch_items_total\{result="queued"\}'),
                         496)
        self.assertEqual(self.metric(b, r'smtp_bridge_api_batch_items_total\{result="invalid"\}'),
                         4)
        # The status resource of an item is the single send's.
        conn = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(10))
        conn.request("GET", f"/v1/messages/{results[42]['id']}",
                     headers={"Authorization": f"Bearer {KEY}"})
        doc = json.loads(conn.getresponse().read())
        conn.close()
        self.assertEqual(doc["metadata"], {"i": "42"})

    def test_501_items_are_refused_naming_the_field_and_nothing_is_queued(self):
        up = self.upstream()
        b = start_bridge(self.addCleanup, up)
        status, _, problem = self.post_batch(b, batch(501))
        self.assertEqual(status, 413, problem)
        self.assertEqual(problem["type"], PROBLEM_TYPE + "too-many-messages")
        self.assertEqual([e["field"] for e in problem["errors"]], ["messages"])
        status, _, problem = self.post_batch(b, {"messages": []})
        self.assertEqual(status, 422, problem)
        self.assertEqual([e["field"] for e in problem["errors"]], ["messages"])
        status, _, problem = self.post_batch(b, {"message": [item(0)]})
        self.assertEqual(status, 422, problem)
        self.assertEqual(sorted(e["field"] for e in problem["errors"]), ["message", "messages"])
        self.assertEqual(self.metric(b, r'smtp_bridge_api_batch_items_total\{result="queued"\}'),
                         0)
        # A good batch after them is relayed alone: the refused ones queued nothing.
        status, _, answer = self.post_batch(b, batch(2))
        self.assertEqual(status, 202, answer)
        self.assertEqual(self.metric(b, r'smtp_bridge_api_batch_items_total\{result="queued"\}'),
                         2)
        got = sorted(r for m in up.wait_messages(2, timeout=scaled(20)) for r in m.rcpt_tos)
        self.assertEqual(got, ["r0@example.org", "r1@example.org"])

    def test_the_batch_key_replays_the_whole_answer(self):
        up = self.upstream()
        b = start_bridge(self.addCleanup, up)
        body = batch(3, {1: INVALID[7]})
        key = {"Idempotency-Key": "batch-7f3a"}
        status, headers, first = self.post_batch(b, body, key)
        self.assertEqual(status, 202, first)
        self.assertNotIn("idempotent-replayed", headers)
        status, headers, again = self.post_batch(b, body, key)
        self.assertEqual(status, 202, again)
        self.assertEqual(headers.get("idempotent-replayed"), "true")
        self.assertEqual(again, first)  # the same ids: nothing queued twice
        status, _, problem = self.post_batch(b, batch(3), key)
        self.assertEqual(status, 409, problem)
        # The replay and the conflict queued nothing: only the first batch's two valid items.
        self.assertEqual(self.metric(b, r'smtp_bridge_api_batch_items_total\{result="queued"\}'),
                         2)
        got = sorted(r for m in up.wait_messages(2, timeout=scaled(20)) for r in m.rcpt_tos)
        self.assertEqual(got, ["r0@example.org", "r2@example.org"])


class RelayRateLimit(BatchBase):
    N = 10  # the upstream's limit: 421 past 10 messages in a second

    def send_all(self, b, up, n):
        status, _, answer = self.post_batch(b, batch(n))
        self.assertEqual(status, 202, answer)

    def test_under_the_upstreams_limit_no_421_is_ever_answered(self):
        up = self.upstream(max_per_second=self.N)
        b = start_bridge(self.addCleanup, up, rate_limit={"messages_per_second": 5, "burst": 2})
        self.send_all(b, up, 25)
        up.wait_messages(25, timeout=scaled(60))
        self.assertEqual(up.throttled, 0, "the upstream answered 421")
        # Paced, not bunched: 25 transactions at 5 a second after a burst of 2 take >= 4.6 s.
        self.assertGreaterEqual(up.mail_times[-1] - up.mail_times[0], 4.0)
        self.assertGreater(self.metric(b, "smtp_bridge_relay_rate_limit_wait_seconds_total"), 1.0)

    def test_without_the_limit_the_same_load_draws_421(self):
        up = self.upstream(max_per_second=self.N)
        b = start_bridge(self.addCleanup, up)
        self.send_all(b, up, 25)
        up.wait_for(lambda u: u.throttled > 0, timeout=scaled(30), what="a 421")
        self.assertEqual(self.metric(b, "smtp_bridge_relay_rate_limit_wait_seconds_total"), 0)


if __name__ == "__main__":
    unittest.main()
