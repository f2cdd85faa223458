# Issue 11, points 2 and 6, against the real binary: a delivery that takes the process down while
# it is in flight (kill -9, as an OOM kill of a poison message would) is counted before its render
# starts and quarantined as dead after delivery.max_render_attempts instead of crash-looping;
# endpoints are identified by name, so a changed URL takes the backlog with it and a removed
# endpoint's rows are held as `orphaned` (not dead) until it returns.
import http.client
import json
import os
import time
import unittest
import urllib.request

from bridge import Bridge, scaled
from receiver import Answer, Receiver, smtplib_send, wait_rows

KEY = "hostile-endpoints-key-5b1e"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def api(bridge, path):
    conn = http.client.HTTPConnection("127.0.0.1", bridge.port("api"), timeout=scaled(10))
    try:
        conn.request("GET", path, headers=HEADERS)
        res = conn.getresponse()
        return res.status, json.loads(res.read() or b"null")
    finally:
        conn.close()


def metrics(bridge):
    url = f"http://127.0.0.1:{bridge.port('admin')}/metrics"
    with urllib.request.urlopen(url, timeout=scaled(10)) as r:
        return r.read().decode()


def config(endpoints, **delivery):
    cfg = {"routes": [{"match": "*", "endpoints": endpoints}],
           "api": {"listen": "127.0.0.1:0", "keys": [{"name": "t", "key": KEY}]}}
    if delivery:
        cfg["delivery"] = delivery
    return cfg


class PoisonTest(unittest.TestCase):
    def test_a_delivery_that_crashes_the_process_is_dead_after_max_render_attempts(self):
        hang = Receiver().start()  # never answers in time: the row stays in flight
        self.addCleanup(hang.stop)
        hang.set_default(Answer(200, delay=scaled(120)))
        b = Bridge(extra=config([{"url": hang.url("/poison"), "timeout": "60s"}],
                                max_render_attempts=3))
        self.addCleanup(b.cleanup)
        b.expect = b.expect + ["api"]
        b.start()
        msg_id = smtplib_send(b, "a@sender.example", ["x@bridge.example"],
                              "Subject: poison\r\n\r\nboom\r\n")
        for crash in range(1, 4):
            # The claim counted the attempt (durably, before the render); the process dies.
            wait_rows(b, lambda rows: rows[0]["state"] == "in_flight" and
                      rows[0]["attempts"] == crash, msg_id, what=f"in flight, attempt {crash}")
            b.kill()
            b.start()
        rows = wait_rows(b, lambda rows: rows[0]["state"] == "dead", msg_id, timeout=20,
                         what="quarantined as dead")
        self.assertEqual(rows[0]["last_error"], "render failed or crashed the process 3 times")
        self.assertEqual(rows[0]["attempts"], 4)
        self.assertTrue(b.alive())

        status, listed = api(b, "/v1/inbound?status=dead")
        self.assertEqual(status, 200)
        self.assertEqual([item["id"] for item in listed["items"]], [msg_id])
        status, one = api(b, f"/v1/inbound/{msg_id}")
        self.assertEqual(status, 200)
        self.assertEqual(one["deliveries"][0]["state"], "dead")
        self.assertEqual(one["deliveries"][0]["last_error"],
                         "render failed or crashed the process 3 times")
        origin = f"http://127.0.0.1:{hang.port}"
        self.assertIn(f'smtp_bridge_delivery_quarantined_total{{endpoint="{origin}"}} 1',
                      metrics(b))
        # The 4th claim neither rendered nor POSTed it (a kill may come before a POST is sent).
        self.assertLessEqual(len(hang.requests()), 3)


class EndpointNamesTest(unittest.TestCase):
    RETRY = {"retry": {"initial": "500ms", "max_interval": "1s", "max_age": "1h"}}

    def run_bridge(self, folder, endpoints):
        b = Bridge(extra=config(endpoints, **self.RETRY), folder=folder)
        b.expect = b.expect + ["api"]
        return b.start()

    def backlog(self, b, count, endpoint):
        """`count` messages whose delivery to `endpoint` (down) is deferred; their ids."""
        ids = [smtplib_send(b, "a@sender.example", ["x@bridge.example"],
                            f"Subject: backlog {i}\r\n\r\nbody {i}\r\n") for i in range(count)]
        for msg_id in ids:
            rows = wait_rows(b, lambda rows: rows[0]["state"] == "deferred", msg_id,
                             what="deferred while the endpoint is down")
            self.assertEqual(rows[0]["endpoint"], endpoint)
        return ids

    def delivered_to(self, receiver, b, ids):
        for msg_id in ids:
            req = receiver.wait_for(1, payload_id=msg_id, timeout=20)[0]
            rows = wait_rows(b, lambda rows: rows[0]["state"] == "delivered", msg_id)
            self.assertEqual(req.header("webhook-id"), rows[0]["id"])

    def test_a_url_changed_under_the_same_name_takes_the_backlog_with_it(self):
        old = Receiver()  # bound, never listening: connection refused
        new = Receiver().start()
        self.addCleanup(old.stop)
        self.addCleanup(new.stop)
        b = self.run_bridge(None, [{"name": "orders", "url": old.url("/v1/hook")}])
        self.addCleanup(b.cleanup)
        ids = self.backlog(b, 3, "orders")
        b.stop()
        b = self.run_bridge(b.folder, [{"name": "orders", "url": new.url("/v2/hook/")}])
        self.delivered_to(new, b, ids)
        self.assertEqual({r.path for r in new.requests()}, {"/v2/hook/"})
        status, one = api(b, f"/v1/inbound/{ids[0]}")
        self.assertEqual(status, 200)
        self.assertEqual(one["deliveries"][0]["endpoint"], "orders")
        self.assertEqual(one["deliveries"][0]["origin"], f"http://127.0.0.1:{new.port}")
        self.assertNotIn("/v2/hook", json.dumps(one["deliveries"]))

    def test_a_trailing_slash_added_keeps_the_default_name_and_the_backlog(self):
        receiver = Receiver()  # down during the first run
        self.addCleanup(receiver.stop)
        b = self.run_bridge(None, [{"url": receiver.url("/hook")}])
        self.addCleanup(b.cleanup)
        rows_name = f"127.0.0.1:{receiver.port}/"
        ids = [smtplib_send(b, "a@sender.example", ["x@bridge.example"], "Subject: s\r\n\r\nx\r\n")]
        rows = wait_rows(b, lambda rows: rows[0]["state"] == "deferred", ids[0])
        self.assertTrue(rows[0]["endpoint"].startswith(rows_name), rows)
        b.stop()
        receiver.start()
        b = self.run_bridge(b.folder, [{"url": receiver.url("/hook/")}])
        self.delivered_to(receiver, b, ids)

    def test_a_removed_endpoint_holds_its_rows_as_orphaned_until_it_returns(self):
        receiver = Receiver()  # down in the first run
        other = Receiver().start()
        self.addCleanup(receiver.stop)
        self.addCleanup(other.stop)
        orders = {"name": "orders", "url": receiver.url("/hook?token=s3cret")}
        b = self.run_bridge(None, [orders])
        self.addCleanup(b.cleanup)
        ids = self.backlog(b, 2, "orders")
        b.stop()

        b = self.run_bridge(b.folder, [{"name": "billing", "url": other.url("/billing")}])
        for msg_id in ids:
            rows = wait_rows(b, lambda rows: rows[0]["state"] == "orphaned", msg_id, timeout=20,
                             what="held as orphaned")
            self.assertEqual(rows[0]["last_error"], "endpoint 'orders' is not configured")
        status, listed = api(b, "/v1/inbound?status=orphaned")
        self.assertEqual(status, 200)
        self.assertEqual(sorted(item["id"] for item in listed["items"]), sorted(ids))
        self.assertEqual(api(b, "/v1/inbound?status=dead")[1]["items"], [])
        status, one = api(b, f"/v1/inbound/{ids[0]}")
        delivery = one["deliveries"][0]
        self.assertEqual((delivery["state"], delivery["endpoint"]), ("orphaned", "orders"))
        self.assertEqual(delivery["origin"], f"http://127.0.0.1:{receiver.port}")
        self.assertNotIn("s3cret", json.dumps(one["deliveries"]))
        text = metrics(b)
        self.assertIn("smtp_bridge_delivery_orphaned_total 2", text)
        self.assertIn('smtp_bridge_delivery_queue_depth{state="orphaned"} 2', text)
        logged = [line for line in b.lines if "held as orphaned" in line]
        self.assertEqual(len(logged), 1, logged)  # logged once per endpoint, not per row
        self.assertEqual(other.requests(), [])
        b.stop()

        receiver.start()
        b = self.run_bridge(b.folder, [orders])
        self.delivered_to(receiver, b, ids)


if __name__ == "__main__":
    unittest.main()
