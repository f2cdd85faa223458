# Webhook delivery under faults (CONTRACTS.md 1 "Delivery semantics"), with short retry settings:
# an endpoint down then up, 5xx, 429/503 with Retry-After, timeouts, 406/410, max_age, a slow
# endpoint beside a fast one, and kill -9 mid-delivery. At least once: never a lost message.
import smtplib
import time
import unittest

from bridge import BridgeTest, queued_id, scaled
from receiver import (Answer, Receiver, deliveries, down_endpoint, make_secret, smtplib_send,
                      verifies, wait_rows)

SECRET = make_secret("faults")
FAST_RETRY = {"initial": "200ms", "max_interval": "1s", "max_age": "1h"}


def message(tag):
    return (f"From: f@example.com\r\nTo: hook@faults.example\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@example.com>\r\n\r\nbody of {tag}\r\n").encode()


class Faults(BridgeTest):
    def setUp(self):
        super().setUp()
        self._receivers = []

    def receiver(self, **kw):
        r = Receiver(**kw)
        self._receivers.append(r)
        self.addCleanup(r.stop)
        return r

    def start_hooks(self, routes, retry=None, workers=None):
        """A bridge for this test. Receivers are stopped before it (delayed answers end at
        once), so its SIGTERM never waits out a slow POST."""
        delivery = {"retry": dict(FAST_RETRY, **(retry or {}))}
        if workers:
            delivery["workers"] = workers
        for route in routes:
            for endpoint in route["endpoints"]:
                endpoint.setdefault("secret", SECRET)
        b = self.start_bridge(extra={"routes": routes, "delivery": delivery})
        receivers = list(self._receivers)
        self.addCleanup(lambda: [r.stop() for r in receivers])
        return b

    def one_route(self, url, match="hook@faults.example", **endpoint):
        return {"match": [match], "endpoints": [dict(url=url, **endpoint)]}

    def send(self, b, tag, rcpt="hook@faults.example"):
        return smtplib_send(b, "f@example.com", [rcpt], message(tag))

    def check_same_delivery(self, reqs, row):
        """Every attempt of one delivery: the row's webhook-id, attempts 1..n, each signed."""
        self.assertEqual([r.header("webhook-id") for r in reqs], [row["id"]] * len(reqs))
        self.assertEqual([r.header("webhook-attempt") for r in reqs],
                         [str(i + 1) for i in range(len(reqs))])
        for r in reqs:
            self.assertTrue(verifies(r, SECRET), f"attempt {r.header('webhook-attempt')} unsigned")
        self.assertEqual({r.payload_id() for r in reqs}, {row["message_id"]})

    def assertNoMore(self, receiver, ids, count, seconds):
        """No request for `ids` beyond `count` arrives within `seconds` (longer than any retry
        interval of the bridge under test): waiting for an absence needs a window."""
        def more(reqs):
            return len([q for q in reqs if q.payload_id() in ids]) > count
        try:
            reqs = receiver.wait_until(more, timeout=seconds)
        except AssertionError:
            return
        self.fail(f"more than {count} request(s) for {ids}: {reqs}")

    # --- tests ---

    def test_receiver_down_then_up_is_delivered_later(self):
        r = self.receiver()  # bound, not listening: connections are refused
        b = self.start_hooks([self.one_route(r.url("/late"))])
        msg_id = self.send(b, "down-up")
        rows = wait_rows(b, lambda rs: rs[0]["attempts"] >= 2 and rs[0]["state"] == "deferred",
                         message_id=msg_id, what="failed attempts while the receiver is down")
        self.assertTrue(rows[0]["last_error"], f"deferred without last_error: {rows[0]}")
        r.start()
        req = r.wait_for(1, payload_id=msg_id)[0]
        rows = wait_rows(b, lambda rs: rs[0]["state"] == "delivered", message_id=msg_id)
        self.assertEqual(req.header("webhook-id"), rows[0]["id"])
        self.assertGreaterEqual(int(req.header("webhook-attempt")), 3)
        self.assertEqual(int(req.header("webhook-attempt")), rows[0]["attempts"])
        self.assertTrue(verifies(req, SECRET))
        self.assertEqual(len(r.requests()), 1)

    def test_500_twice_then_200_is_three_attempts_of_one_delivery(self):
        r = self.receiver().start()
        r.script("/flaky", [Answer(500), Answer(500)])
        b = self.start_hooks([self.one_route(r.url("/flaky"))])
        msg_id = self.send(b, "flaky")
        reqs = r.wait_for(3, payload_id=msg_id)
        rows = wait_rows(b, lambda rs: rs[0]["state"] == "delivered", message_id=msg_id)
        self.assertEqual(rows[0]["attempts"], 3)
        self.assertEqual([q.answered.status for q in reqs], [500, 500, 200])
        self.check_same_delivery(reqs, rows[0])
        self.assertEqual(len({q.body for q in reqs}), 1, "the body changed between attempts")

    def test_retry_after_on_429_and_503_is_honoured(self):
        r = self.receiver().start()
        for path, status in (("/429", 429), ("/503", 503)):
            r.script(path, [Answer(status, headers={"Retry-After": "2"})])
        b = self.start_hooks([self.one_route(r.url("/429"), match="a@faults.example"),
                              self.one_route(r.url("/503"), match="b@faults.example")])
        ids = {"/429": self.send(b, "busy-429", "a@faults.example"),
               "/503": self.send(b, "busy-503", "b@faults.example")}
        for path, msg_id in ids.items():
            reqs = r.wait_for(2, path=path, payload_id=msg_id, timeout=15)
            gap = reqs[1].arrived - reqs[0].arrived
            # max_interval is 1 s: only Retry-After can explain a 2 s pause (ms clock: 50 ms slack).
            self.assertGreaterEqual(gap, 1.95, f"{path}: retried after {gap:.3f}s")
            rows = wait_rows(b, lambda rs: rs[0]["state"] == "delivered", message_id=msg_id)
            self.check_same_delivery(reqs[:2], rows[0])

    def test_timeout_is_retried(self):
        r = self.receiver().start()
        r.script("/slow", [Answer(200, delay=4)])  # longer than the endpoint's 1 s timeout
        b = self.start_hooks([self.one_route(r.url("/slow"), timeout="1s")])
        msg_id = self.send(b, "timeout")
        reqs = r.wait_for(2, payload_id=msg_id)
        self.assertGreaterEqual(reqs[1].arrived - reqs[0].arrived, 0.9,
                                "retried before the 1 s timeout ran out")
        rows = wait_rows(b, lambda rs: rs[0]["state"] == "delivered", message_id=msg_id)
        self.assertEqual(rows[0]["attempts"], 2)
        self.check_same_delivery(reqs, rows[0])

    def test_410_and_406_are_dead_after_one_attempt(self):
        r = self.receiver().start()
        r.script("/gone", [Answer(410)])
        r.script("/nope", [Answer(406)])
        b = self.start_hooks([self.one_route(r.url("/gone"), match="a@faults.example"),
                              self.one_route(r.url("/nope"), match="b@faults.example"),
                              self.one_route(r.url("/ok"), match="c@faults.example")])
        dead = [self.send(b, "gone", "a@faults.example"), self.send(b, "nope", "b@faults.example")]
        for msg_id in dead:
            rows = wait_rows(b, lambda rs: rs[0]["state"] == "dead", message_id=msg_id,
                             what=f"dead letter {msg_id}")
            self.assertEqual(rows[0]["attempts"], 1)
        # The script is used up (a retry would get 200): still one request each.
        ok = self.send(b, "after-dead", "c@faults.example")
        r.wait_for(1, payload_id=ok)
        self.assertNoMore(r, set(dead), 2, 1.5)
        for path, msg_id in zip(("/gone", "/nope"), dead):
            self.assertEqual(len(r.requests(path=path, payload_id=msg_id)), 1)
            self.assertEqual(deliveries(b, msg_id)[0]["state"], "dead")

    def test_max_age_makes_a_dead_letter(self):
        r = self.receiver().start()
        r.set_default(Answer(500))
        b = self.start_hooks([self.one_route(r.url("/always-500"))],
                             retry={"initial": "100ms", "max_interval": "300ms", "max_age": "1s"})
        msg_id = self.send(b, "expire")
        rows = wait_rows(b, lambda rs: rs[0]["state"] == "dead", message_id=msg_id, timeout=10,
                         what="dead letter after max_age")
        self.assertGreaterEqual(rows[0]["attempts"], 2)
        self.assertTrue(rows[0]["last_error"], f"dead without last_error: {rows[0]}")
        attempts = rows[0]["attempts"]
        self.assertEqual(len(r.requests(payload_id=msg_id)), attempts)
        self.assertNoMore(r, {msg_id}, attempts, 1.0)

    def test_slow_and_unreachable_endpoints_do_not_block_another(self):
        slow = self.receiver().start()
        slow.set_default(Answer(200, delay=8))
        fast = self.receiver().start()
        down_url, down_sock = down_endpoint()
        self.addCleanup(down_sock.close)
        b = self.start_hooks([self.one_route(slow.url("/slow"), match="slow@faults.example",
                                             timeout="10s"),
                              self.one_route(down_url, match="down@faults.example"),
                              self.one_route(fast.url("/fast"), match="fast@faults.example")])
        held = [self.send(b, f"slow-{i}", "slow@faults.example") for i in range(2)]
        down = self.send(b, "down", "down@faults.example")
        slow.wait_for(2, path="/slow")  # both slow POSTs are being held
        started = time.monotonic()
        ok = self.send(b, "fast", "fast@faults.example")
        fast.wait_for(1, payload_id=ok, timeout=5)
        wait_rows(b, lambda rs: rs[0]["state"] == "delivered", message_id=ok, timeout=5)
        self.assertLess(time.monotonic() - started, scaled(5))
        for msg_id in held:
            self.assertEqual(deliveries(b, msg_id)[0]["state"], "in_flight",
                             "the slow endpoint's POST should still be held")
        self.assertNotEqual(deliveries(b, down)[0]["state"], "delivered")

    def test_kill_9_during_deliveries_loses_nothing(self):
        r = self.receiver().start()
        r.set_default(Answer(200, delay=3))
        b = self.start_hooks([self.one_route(r.url("/hold"))])
        acked = []
        with smtplib.SMTP("127.0.0.1", b.port(), timeout=scaled(10)) as s:
            self.assertEqual(s.ehlo("client.example")[0], 250)
            for i in range(6):
                self.assertEqual(s.mail("f@example.com")[0], 250)
                self.assertEqual(s.rcpt("hook@faults.example")[0], 250)
                code, msg = s.data(message(f"kill-{i}"))
                self.assertEqual(code, 250, msg)
                acked.append(queued_id(msg))
        self.assertNotIn(None, acked)
        r.wait_for(1)  # at least one POST is in flight (held for 3 s, never answered)
        b.kill()
        answered = Answer(200)
        r.set_default(answered)
        b.start()
        # Duplicates are allowed (at least once); a loss is not.
        r.wait_until(lambda reqs: set(acked) <= {q.payload_id() for q in reqs
                                                 if q.answered is answered},
                     timeout=15, what="every acknowledged message answered 200 after restart")
        for msg_id in acked:
            wait_rows(b, lambda rs: rs[0]["state"] == "delivered", message_id=msg_id)

if __name__ == "__main__":
    unittest.main()
