# Delivery events (issue 14, README "Delivery events"): POST /v1/messages → store → relay → a real
# aiosmtpd upstream that accepts, tempfails then accepts, and rejects per recipient; a real HTTP
# event receiver verifies each POST's Standard Webhooks signature and gets, per recipient,
# message.queued then sent / deferred then sent / failed, in order, each once.
import http.client
import json
import os
import sqlite3
import sys
import time
import unittest

from bridge import BIN, Bridge, scaled
from receiver import Answer, Receiver, make_secret, verifies
from test_admin import wait_metrics
from test_inbound_api import follow, load_openapi
from upstream import Upstream

KEY = "e2e-delivery-events-key-7a1"
SECRET = make_secret("delivery-events")
FAILED_SECRET = make_secret("delivery-events-failed-only")


def event_validator(doc, event_type):
    """Draft 2020-12 validator of openapi.yaml's webhook body for `event_type`."""
    import jsonschema
    hook = doc["webhooks"][event_type.replace(".", "-")]["post"]
    schema = follow(doc, hook["requestBody"]["content"]["application/json"]["schema"])
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"], **schema}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def event_rows(bridge, message_id):
    if not os.path.exists(bridge.store_path):
        return []
    conn = sqlite3.connect(bridge.store_path, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT endpoint, type, rcpt, state, attempts FROM event_deliveries"
                            " WHERE message_id = ? ORDER BY seq", (message_id,)).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


class DeliveryEvents(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = load_openapi()

    def setUp(self):
        if not BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")

    def upstream(self):
        up = Upstream(tls="none", auth=None)
        up.start()
        self.addCleanup(up.stop)
        return up

    def receiver(self, start=True):
        r = Receiver()
        if start:
            r.start()
        self.addCleanup(r.stop)
        return r

    def bridge(self, up, endpoints):
        b = Bridge(extra={
            "api": {"keys": [{"name": "shop", "key": KEY}]},
            "relay": {"upstream": {"host": "127.0.0.1", "port": up.port, "tls": "none"},
                      "hostname": "bridge.test", "connections": 2,
                      "retry": {"initial": "1s", "max_interval": "1s", "max_age": "1h"}},
            "delivery": {"retry": {"initial": "200ms", "max_interval": "500ms",
                                   "max_age": "1h"}},
            "events": {"endpoints": endpoints}})
        b.expect = b.expect + ["api"]
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def send(self, b, to, metadata=None):
        conn = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(10))
        try:
            body = {"from": "shop@example.com", "to": to, "subject": "events",
                    "text": "Hello from the delivery events test.\n"}
            if metadata is not None:
                body["metadata"] = metadata
            conn.request("POST", "/v1/messages", body=json.dumps(body).encode(),
                         headers={"Authorization": f"Bearer {KEY}",
                                  "Content-Type": "application/json"})
            resp = conn.getresponse()
            answer = json.loads(resp.read())
            self.assertEqual(resp.status, 202, answer)
            return answer["id"]
        finally:
            conn.close()

    def events(self, receiver, secret, message_id):
        """The message's events in arrival order, each signature checked."""
        out = []
        for req in receiver.requests():
            self.assertTrue(verifies(req, secret), f"signature does not verify: {req}")
            event = req.json()
            self.assertEqual(req.header("webhook-id"), event["id"])
            errors = list(event_validator(self.doc, event["type"]).iter_errors(event))
            self.assertEqual(errors, [], f"{event} does not match openapi.yaml")
            if event["data"]["message_id"] == message_id:
                out.append(event)
        return out

    def test_each_recipient_gets_its_events_in_order_once(self):
        up = self.upstream()
        up.rcpt_replies = {"later@example.org": ["450 4.2.1 mailbox busy"],
                           "gone@example.org": ["550 5.1.1 no such user"]}
        up.data_replies = ["250 2.0.0 Ok: queued as QID4711", "250 2.0.0 Ok: queued as QID4712"]
        everything, failures = self.receiver(), self.receiver()
        b = self.bridge(up, [
            {"name": "all", "url": everything.url("/events"), "secret": SECRET},
            {"name": "failures", "url": failures.url("/failed"), "secret": FAILED_SECRET,
             "types": ["message.failed"]}])
        rcpts = ["ok@example.org", "later@example.org", "gone@example.org"]
        msg = self.send(b, rcpts, metadata={"order": "A-17"})

        def complete(_):
            types = [e["type"] for e in self.events(everything, SECRET, msg)]
            return types.count("message.sent") >= 2 and "message.failed" in types
        everything.wait_until(complete, timeout=30, what="sent x2 and failed")
        failures.wait_for(1, timeout=10)

        events = self.events(everything, SECRET, msg)
        self.assertEqual(events[0]["type"], "message.queued")
        self.assertEqual(events[0]["data"]["recipients"], rcpts)
        by_rcpt = {}
        for event in events[1:]:
            by_rcpt.setdefault(event["data"]["recipient"], []).append(event)
        self.assertEqual([e["type"] for e in by_rcpt["ok@example.org"]], ["message.sent"])
        self.assertEqual([e["type"] for e in by_rcpt["later@example.org"]],
                         ["message.deferred", "message.sent"])
        self.assertEqual([e["type"] for e in by_rcpt["gone@example.org"]], ["message.failed"])
        self.assertEqual(len({e["id"] for e in events}), len(events))  # each once
        for event in events:
            self.assertEqual(event["data"]["api_key"], "shop")
            self.assertEqual(event["data"]["metadata"], {"order": "A-17"})
        sent = by_rcpt["ok@example.org"][0]["data"]
        self.assertEqual(sent["reply"]["code"], 250)
        self.assertEqual(sent["reply"]["enhanced_code"], "2.0.0")
        self.assertEqual(sent["queue_id"], "QID4711")
        deferred = by_rcpt["later@example.org"][0]["data"]
        self.assertEqual(deferred["reply"]["code"], 450)
        self.assertIn("next_attempt_at", deferred)
        self.assertEqual(by_rcpt["later@example.org"][1]["data"]["queue_id"], "QID4712")
        failed = by_rcpt["gone@example.org"][0]["data"]
        self.assertEqual((failed["reply"]["code"], failed["reply"]["enhanced_code"]),
                         (550, "5.1.1"))
        # The types filter: the failures endpoint got the failed event only.
        only = [req.json() for req in failures.requests()]
        self.assertTrue(all(verifies(req, FAILED_SECRET) for req in failures.requests()))
        self.assertEqual([(e["type"], e["data"]["recipient"]) for e in only],
                         [("message.failed", "gone@example.org")])
        # The sibling metric family, labelled by the events endpoint's name.
        wait_metrics(b.port("admin"), lambda m: (
            m.get("smtp_bridge_event_attempts_total", endpoint="all", outcome="delivered") == 5
            and m.get("smtp_bridge_event_attempts_total", endpoint="failures",
                      outcome="delivered") == 1), "event attempts counted")

    def test_an_endpoint_down_then_up_gets_the_backlog_in_order(self):
        up = self.upstream()
        receiver = self.receiver(start=False)  # bound, not listening: connections refused
        b = self.bridge(up, [{"name": "late", "url": receiver.url("/events"), "secret": SECRET}])
        msg = self.send(b, ["one@example.org"])
        up.wait_messages(1, timeout=scaled(10))
        # Both events are stored; the first was tried and deferred, the second waits behind it.
        end = time.monotonic() + scaled(20)
        while True:
            rows = event_rows(b, msg)
            if len(rows) == 2 and rows[0]["attempts"] >= 2 and rows[0]["state"] == "deferred":
                break
            self.assertLess(time.monotonic(), end, f"event rows: {rows}")
            time.sleep(0.05)
        self.assertEqual([r["type"] for r in rows], ["message.queued", "message.sent"])
        self.assertEqual(rows[1]["attempts"], 0)  # never claimed before the first is delivered
        receiver.start()
        receiver.wait_until(lambda reqs: len(reqs) >= 2, timeout=20, what="the backlog")
        events = self.events(receiver, SECRET, msg)
        self.assertEqual([e["type"] for e in events], ["message.queued", "message.sent"])
        m = wait_metrics(b.port("admin"), lambda m: m.get(
            "smtp_bridge_event_attempts_total", endpoint="late", outcome="delivered") == 2,
            "both events counted delivered")
        self.assertGreaterEqual(
            m.value("smtp_bridge_event_attempts_total", endpoint="late", outcome="deferred"), 2)

    def redeliver(self, b, msg_id):
        conn = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(10))
        try:
            conn.request("POST", f"/v1/messages/{msg_id}/events/redeliver",
                         headers={"Authorization": f"Bearer {KEY}"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def test_dead_events_are_replayed_with_their_ids(self):
        up = self.upstream()
        receiver = self.receiver()
        receiver.script("/events", [Answer(410), Answer(410)])  # Gone: dead at once
        b = self.bridge(up, [{"name": "gone", "url": receiver.url("/events"), "secret": SECRET}])
        msg = self.send(b, ["one@example.org"])
        up.wait_messages(1, timeout=scaled(10))
        end = time.monotonic() + scaled(20)
        while [r["state"] for r in event_rows(b, msg)] != ["dead", "dead"]:
            self.assertLess(time.monotonic(), end, f"event rows: {event_rows(b, msg)}")
            time.sleep(0.05)
        status, body = self.redeliver(b, msg)
        self.assertEqual((status, body), (202, {"id": msg, "events": 2}))
        receiver.wait_until(lambda reqs: len(reqs) >= 4, timeout=20, what="the replay")
        events = self.events(receiver, SECRET, msg)
        self.assertEqual([e["type"] for e in events],
                         ["message.queued", "message.sent", "message.queued", "message.sent"])
        self.assertEqual([e["id"] for e in events[2:]], [e["id"] for e in events[:2]])
        end = time.monotonic() + scaled(20)
        while [r["state"] for r in event_rows(b, msg)] != ["delivered", "delivered"]:
            self.assertLess(time.monotonic(), end, f"event rows: {event_rows(b, msg)}")
            time.sleep(0.05)
        status, body = self.redeliver(b, "01900000-0000-7000-8000-000000000000")
        self.assertEqual(status, 404, body)


class DeliveryEventsOnReplicas(DeliveryEvents):
    """Two replicas on one PostgreSQL database: every message's events reach the endpoint once
    each and in order, whichever replica enqueued, relayed or delivered them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
        from pg_server import PgServer
        cls.pg = PgServer()

    @classmethod
    def tearDownClass(cls):
        cls.pg.close()

    def replica(self, up, receiver, dsn):
        b = Bridge(extra={
            "store": {"backend": "postgres", "postgres": {"dsn": dsn}},
            "api": {"listen": "127.0.0.1:0", "keys": [{"name": "shop", "key": KEY}]},
            "relay": {"upstream": {"host": "127.0.0.1", "port": up.port, "tls": "none"},
                      "hostname": "bridge.test", "connections": 2,
                      "retry": {"initial": "1s", "max_interval": "1s", "max_age": "1h"}},
            "delivery": {"retry": {"initial": "200ms", "max_interval": "500ms",
                                   "max_age": "1h"}},
            "events": {"endpoints": [{"name": "all", "url": receiver.url("/events"),
                                      "secret": SECRET}]}})
        b.expect = b.expect + ["api"]
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def test_each_recipient_gets_its_events_in_order_once(self):
        up = self.upstream()
        receiver = self.receiver()
        dsn = self.pg.dsn(self.pg.create_database())
        replicas = [self.replica(up, receiver, dsn) for _ in range(2)]
        msgs = []
        for i in range(6):
            later = f"later{i}@example.org"
            up.rcpt_replies[later] = ["450 4.2.1 mailbox busy"]
            msgs.append(self.send(replicas[i % 2], [f"ok{i}@example.org", later]))

        def complete(_):
            return all([e["type"] for e in self.events(receiver, SECRET, msg)].count(
                "message.sent") >= 2 for msg in msgs)
        receiver.wait_until(complete, timeout=60, what="every message sent")
        for i, msg in enumerate(msgs):
            events = self.events(receiver, SECRET, msg)
            self.assertEqual(len({e["id"] for e in events}), len(events))
            self.assertEqual([(e["type"], e["data"].get("recipient")) for e in events][0],
                             ("message.queued", None))
            later = [e["type"] for e in events if e["data"].get("recipient") ==
                     f"later{i}@example.org"]
            self.assertEqual(later, ["message.deferred", "message.sent"])
            ok = [e["type"] for e in events if e["data"].get("recipient") == f"ok{i}@example.org"]
            self.assertEqual(ok, ["message.sent"])

    test_an_endpoint_down_then_up_gets_the_backlog_in_order = None  # SQLite rows: the class above


if __name__ == "__main__":
    unittest.main()
