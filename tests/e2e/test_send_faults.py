# The whole outbound path under upstream faults: POST /v1/messages → store → relay → a real
# aiosmtpd upstream (upstream.py) that is down, defers, refuses, drops mid-DATA, answers garbage
# or stalls, and a bridge killed with SIGKILL after its 202. Nothing is lost, nothing is doubled.
import http.client
import json
import os
import re
import tempfile
import time
import unittest
import urllib.request

from bridge import BIN, Bridge, scaled
from upstream import Upstream

KEY = "e2e-send-faults-key-51c2"
USER, PASSWORD = "relayuser", "relay-pass"


def relay_config(up, port=None):
    return {"relay": {"upstream": {"host": "localhost", "port": port or up.port, "tls": "starttls",
                                   "verify": True, "ca_file": up.ca_file},
                      "auth": {"mechanism": "auto", "username": USER, "password": PASSWORD},
                      "hostname": "bridge.test", "connections": 2,
                      "retry": {"initial": "1s", "max_interval": "2s", "max_age": "1h"}},
            "api": {"keys": [{"name": "t", "key": KEY}]}}


class SendFaults(unittest.TestCase):
    def setUp(self):
        if not BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")

    # --- helpers ------------------------------------------------------------------------------

    def upstream(self, **kw):
        kw.setdefault("tls", "starttls")
        kw.setdefault("auth", (USER, PASSWORD))
        up = Upstream(**kw)
        up.start()
        self.addCleanup(up.stop)
        return up

    def bridge(self, up, port=None):
        b = Bridge(extra=relay_config(up, port))
        b.expect = b.expect + ["api"]
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def call(self, b, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(10))
        try:
            headers = {"Authorization": f"Bearer {KEY}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def post(self, b, to, subject="fault test"):
        status, body = self.call(b, "POST", "/v1/messages",
                                 {"from": "shop@example.com", "to": to, "subject": subject,
                                  "text": "Hello from the fault tests.\n.leading dot line\n"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["status"], "queued")
        return body["id"]

    def status(self, b, msg_id):
        code, body = self.call(b, "GET", f"/v1/messages/{msg_id}")
        self.assertEqual(code, 200, body)
        return body

    def recipients(self, b, msg_id):
        return {r["address"]: r for r in self.status(b, msg_id)["recipients"]}

    def wait_status(self, b, msg_id, predicate, timeout=30, what="status"):
        """Re-reads GET /v1/messages/{id} until predicate(recipients by address) holds."""
        end = time.monotonic() + scaled(timeout)
        last = None
        while time.monotonic() < end:
            last = self.recipients(b, msg_id)
            if predicate(last):
                return last
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}; last status: {json.dumps(last, indent=1)}")

    def deliveries_to(self, up, rcpt):
        return [m for m in up.messages if rcpt in m.rcpt_tos]

    def all_final(self, rs):
        return all(r["status"] in ("sent", "failed") for r in rs.values())

    # --- tests --------------------------------------------------------------------------------

    def test_upstream_down_at_first_then_up(self):
        probe = self.upstream()
        port = probe.port
        probe.stop()  # the port is free again: connections are refused
        b = self.bridge(probe, port=port)
        msg_id = self.post(b, ["down@example.org"])
        rs = self.wait_status(b, msg_id, lambda rs: rs["down@example.org"]["attempts"] >= 1
                              and rs["down@example.org"]["status"] == "deferred",
                              what="a failed first attempt")
        self.assertIn(rs["down@example.org"]["last_reply"]["code"], (None, 0))
        up = self.upstream(port=port)
        up.wait_messages(1, timeout=scaled(90))
        rs = self.wait_status(b, msg_id, self.all_final, timeout=30)
        self.assertEqual(rs["down@example.org"]["status"], "sent")
        self.assertEqual(rs["down@example.org"]["last_reply"]["code"], 250)
        self.assertEqual(len(self.deliveries_to(up, "down@example.org")), 1)
        self.assertTrue(up.messages[0].tls)
        self.assertEqual(up.messages[0].auth_user, USER)

    def test_deferred_twice_then_sent_and_accepted_recipient_gets_it_once(self):
        up = self.upstream()
        up.rcpt_replies = {"slow@example.org": ["450 4.2.1 mailbox busy", "450 4.2.1 mailbox busy"]}
        b = self.bridge(up)
        msg_id = self.post(b, ["fast@example.org", "slow@example.org"])
        rs = self.wait_status(b, msg_id, self.all_final, what="both recipients final")
        self.assertEqual(rs["fast@example.org"]["status"], "sent")
        self.assertEqual(rs["fast@example.org"]["attempts"], 1)
        self.assertEqual(rs["slow@example.org"]["status"], "sent")
        self.assertEqual(rs["slow@example.org"]["attempts"], 3)
        self.assertEqual(len(self.deliveries_to(up, "fast@example.org")), 1)
        self.assertEqual(len(self.deliveries_to(up, "slow@example.org")), 1)
        retry = self.deliveries_to(up, "slow@example.org")[0]
        self.assertEqual(retry.rcpt_tos, ["slow@example.org"])  # the retry went to it alone
        self.assertEqual(retry.data, self.deliveries_to(up, "fast@example.org")[0].data)
        self.assertEqual(self.status(b, msg_id)["status"], "sent")

    def test_permanent_refusal_is_reported_and_others_are_sent(self):
        up = self.upstream()
        up.rcpt_replies = {"gone@example.org": ["550 5.1.1 no such user"]}
        b = self.bridge(up)
        msg_id = self.post(b, ["gone@example.org", "here@example.org"])
        rs = self.wait_status(b, msg_id, self.all_final, what="both recipients final")
        gone = rs["gone@example.org"]
        self.assertEqual(gone["status"], "failed")
        self.assertEqual(gone["last_reply"]["code"], 550)
        self.assertEqual(gone["last_reply"]["enhanced"], "5.1.1")
        self.assertIn("no such user", gone["last_reply"]["text"])
        self.assertEqual(gone["attempts"], 1)
        self.assertEqual(rs["here@example.org"]["status"], "sent")
        self.assertEqual(self.status(b, msg_id)["status"], "partially_failed")
        self.assertEqual(self.deliveries_to(up, "gone@example.org"), [])
        self.assertEqual(len(self.deliveries_to(up, "here@example.org")), 1)
        metrics = self.metrics(b)
        self.assertEqual(metrics['smtp_bridge_relay_recipients_total{outcome="sent"}'], 1)
        self.assertEqual(metrics['smtp_bridge_relay_recipients_total{outcome="failed"}'], 1)
        self.assertEqual(metrics['smtp_bridge_relay_messages_total{outcome="partial"}'], 1)
        self.assertEqual(metrics['smtp_bridge_outbound_queue{state="sent"}'], 1)
        self.assertEqual(metrics['smtp_bridge_outbound_queue{state="failed"}'], 1)
        self.assertEqual(metrics["smtp_bridge_relay_session_seconds_count"], 1)

    def metrics(self, b):
        text = urllib.request.urlopen(f"http://{b.addresses['admin']}/metrics",
                                      timeout=scaled(10)).read().decode()
        return {m.group(1): float(m.group(2))
                for m in re.finditer(r"(?m)^(\S+) (\S+)$", text)}

    def test_killed_after_202_still_sends_after_restart(self):
        up = self.upstream()
        up.connect_faults = ["stall"]  # the relay's first session hangs at the greeting
        b = self.bridge(up)
        msg_id = self.post(b, ["crash@example.org"])
        up.wait_for(lambda u: u.stalled() == 1, timeout=scaled(20), what="the relay to connect")
        b.kill()
        self.assertEqual(up.messages, [])
        up.release_stalls()
        b.start()
        up.wait_messages(1, timeout=scaled(60))
        rs = self.wait_status(b, msg_id, self.all_final, what="sent after restart")
        self.assertEqual(rs["crash@example.org"]["status"], "sent")
        self.assertEqual(len(self.deliveries_to(up, "crash@example.org")), 1)

    def check_fault_is_retried(self, fault, release=None):
        up = self.upstream()
        up.data_faults = [fault]
        b = self.bridge(up)
        msg_id = self.post(b, ["one@example.org", "two@example.org"])
        if release:
            release(up, b, msg_id)
        up.wait_messages(1, timeout=scaled(60))
        rs = self.wait_status(b, msg_id, self.all_final, what=f"sent after {fault}")
        for rcpt in ("one@example.org", "two@example.org"):
            self.assertEqual(rs[rcpt]["status"], "sent", rs)
            self.assertEqual(rs[rcpt]["attempts"], 2, rs)
            self.assertEqual(len(self.deliveries_to(up, rcpt)), 1)
        self.assertEqual(len(up.dropped), 1)  # the faulted attempt reached DATA's end once
        self.assertEqual(up.dropped[0].data, up.messages[0].data)
        return up

    def test_upstream_dropping_at_end_of_data_is_retried(self):
        self.check_fault_is_retried("drop")

    def test_upstream_answering_garbage_is_retried(self):
        self.check_fault_is_retried("garbage")

    def test_upstream_stalling_is_retried_once_the_connection_ends(self):
        def release(up, b, msg_id):
            up.wait_for(lambda u: u.stalled() == 1, timeout=scaled(20), what="the stall")
            rs = self.recipients(b, msg_id)
            self.assertEqual({r["status"] for r in rs.values()}, {"sending"}, rs)
            self.assertEqual(up.messages, [])
            self.assertEqual(up.release_stalls(), 1)
        self.check_fault_is_retried("stall", release)

    def test_rotated_xoauth2_token_file_is_used_without_a_restart(self):
        # SMTP.md: the XOAUTH2 token comes from a file and is read again when it changes.
        up = self.upstream(mechanisms=["XOAUTH2"], auth=(USER, "token-2"))
        token_file = os.path.join(self.enterContext(tempfile.TemporaryDirectory()), "token")
        with open(token_file, "w") as f:
            f.write("token-1\n")  # stale: the upstream wants token-2
        config = relay_config(up)
        config["relay"]["auth"] = {"mechanism": "xoauth2", "username": USER,
                                   "password_file": token_file}
        b = Bridge(extra=config)
        b.expect = b.expect + ["api"]
        self.addCleanup(b.cleanup)
        b.start()
        msg_id = self.post(b, ["rotate@example.org"])
        up.wait_for(lambda u: u.auth_failures >= 1, timeout=scaled(20), what="a refused token")
        rs = self.recipients(b, msg_id)
        self.assertNotEqual(rs["rotate@example.org"]["status"], "sent", rs)
        self.assertEqual(up.messages, [])
        with open(token_file, "w") as f:
            f.write("token-2\n")  # the secret mount is updated in place
        rs = self.wait_status(b, msg_id, lambda r: r["rotate@example.org"]["status"] == "sent",
                              what="the send with the new token")
        self.assertEqual(rs["rotate@example.org"]["last_reply"]["code"], 250)
        self.assertEqual(len(self.deliveries_to(up, "rotate@example.org")), 1)
        self.assertEqual(up.messages[0].auth_mechanism, "XOAUTH2")

    def test_greeting_421_slows_down_and_is_retried(self):
        up = self.upstream()
        up.connect_faults = ["421 4.7.0 too many connections"]
        b = self.bridge(up)
        msg_id = self.post(b, ["busy@example.org"])
        up.wait_messages(1, timeout=scaled(60))
        rs = self.wait_status(b, msg_id, self.all_final)
        self.assertEqual(rs["busy@example.org"]["status"], "sent")
        self.assertEqual(rs["busy@example.org"]["attempts"], 2)


if __name__ == "__main__":
    unittest.main()
