# Graceful shutdown end to end (issue 5, part 4): on SIGTERM /readyz turns 503 while the bridge
# drains, new SMTP connections and idle sessions get 421 4.3.2 (RFC 5321 3.8), a transaction in
# progress finishes with its 250, the process exits 0 once it has, and the message acknowledged
# during the drain is in the store after a restart.
import json
import signal
import subprocess
import time
import unittest

from bridge import BridgeTest, Raw, scaled
from test_admin import http_get, wait_metrics


class GracefulShutdown(BridgeTest):

    def sigterm(self, b):
        b.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, b, deadline):
        try:
            return b.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"smtp-bridge still running {deadline:.0f} s after the last "
                                 "session ended")

    def wait_refusing(self, b, listener="smtp"):
        """Connects until the greeting is 421 (the SMTP server has begun its drain; /readyz
        turns 503 just before) and returns that reply."""
        end = time.monotonic() + scaled(10)
        while True:
            with Raw(b.port(listener), implicit_tls=(listener == "smtps"), greeting=False) as c:
                reply = c.reply()
            if reply.code != 220 or time.monotonic() > end:
                return reply
            time.sleep(0.02)

    def assert_421_and_closed(self, reply, c):
        self.assertReply(reply, 421, "4.3.2")
        c.read_until_close(scaled(10))
        c.close()

    def test_session_in_progress_completes_while_new_ones_get_421(self):
        b = self.start_bridge()
        admin = b.port("admin")
        self.assertEqual(http_get(admin, "/readyz")[0], 200)

        # A transaction in DATA, one between RCPT and DATA, and an idle session.
        in_data = self.raw(b, timeout=scaled(30))
        in_data.open_data(self, mail_from="draining@example.com")
        first_half = b"Subject: sent across a SIGTERM\r\n\r\nfirst half\r\n"
        in_data.send(first_half)
        after_rcpt = self.raw(b, timeout=scaled(30))
        self.assertEqual(after_rcpt.ehlo().code, 250)
        self.assertReply(after_rcpt.cmd("MAIL FROM:<rcpt-done@example.com>"), 250, "2.1.0")
        self.assertReply(after_rcpt.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        idle = self.raw(b)
        self.assertEqual(idle.ehlo().code, 250)

        self.sigterm(b)

        # The idle session is told at once, without sending anything.
        self.assert_421_and_closed(idle.reply(scaled(10)), idle)
        # Not ready while draining, and observably so: the admin listener still answers.
        status, _, body = http_get(admin, "/readyz")
        self.assertEqual(status, 503, body)
        self.assertIn("draining", json.loads(body)["failing"])
        self.assertEqual(http_get(admin, "/healthz")[0], 200)
        # The listener is still open: a new client hears 421 4.3.2 instead of a refused connect.
        for _ in range(2):
            late = Raw(b.port(), greeting=False)
            self.addCleanup(late.close)
            self.assert_421_and_closed(late.reply(), late)
        self.assertTrue(b.alive(), "the bridge exited while a transaction was in progress")

        # The transaction that had its recipients may still send DATA.
        self.assertReply(after_rcpt.cmd("DATA"), 354)
        body2 = b"Subject: DATA after SIGTERM\r\n\r\nstill accepted\r\n"
        id2 = self.assertQueued(after_rcpt.cmd(body2 + b"."))
        self.assert_421_and_closed(after_rcpt.reply(), after_rcpt)
        self.assertTrue(b.alive(), "the bridge exited while a message was half sent")

        m = wait_metrics(admin, lambda m: m.get("smtp_bridge_smtp_sessions_total",
                                                outcome="shutdown") == 2,
                         "the idle and the finished session counted as ended by the shutdown")
        self.assertEqual(m.value("smtp_bridge_smtp_connections_rejected_total",
                                 reason="shutting_down"), 2)

        # The message in DATA completes: 250, then 421 (no new transaction), then the exit.
        second_half = b"second half\r\n"
        id1 = self.assertQueued(in_data.cmd(second_half + b"."))
        self.assert_421_and_closed(in_data.reply(), in_data)
        self.assertEqual(self.wait_exit(b, scaled(10)), 0, b.stderr()[-4000:])
        b.stop()  # already exited: asserts the exit code again and releases the process

        # Nothing acknowledged is lost: both messages are there after a restart.
        b.start()
        self.assertStored(b, id1, first_half + second_half, mail_from="draining@example.com")
        self.assertStored(b, id2, body2, mail_from="rcpt-done@example.com")
        self.assertStillServes(b)

    def test_no_new_transaction_starts_after_sigterm(self):
        b = self.start_bridge()
        holder = self.raw(b, timeout=scaled(30))
        holder.open_data(self)  # keeps the bridge draining while the test looks
        c = self.raw(b)
        self.assertEqual(c.ehlo().code, 250)
        self.sigterm(b)
        self.wait_refusing(b)
        # The 421 comes unprompted (the session was waiting for a command) or as the answer to
        # MAIL; either way no transaction starts and the session ends.
        try:
            c.send("MAIL FROM:<late@example.com>\r\n")
        except OSError:
            pass
        self.assert_421_and_closed(c.reply(scaled(10)), c)
        self.assertEqual(http_get(b.port("admin"), "/readyz")[0], 503)
        id1 = self.assertQueued(holder.cmd(b"Subject: h\r\n\r\nheld\r\n."))
        self.assertEqual(self.wait_exit(b, scaled(10)), 0, b.stderr()[-4000:])
        b.stop()
        self.assertEqual(len(b.messages_from("late@example.com")), 0)
        self.assertIsNotNone(b.message(id1))

    def test_transaction_that_outlasts_drain_timeout_is_cut_unacknowledged(self):
        b = self.start_bridge(smtp={"drain_timeout": "1s"})
        holder = self.raw(b, timeout=scaled(30))
        holder.open_data(self, mail_from="slow@example.com")
        holder.send(b"Subject: slow\r\n\r\nhalf a message\r\n")
        started = time.monotonic()
        self.sigterm(b)
        # The 1 s drain (default 20 s), then its connection is closed: no reply, so the client
        # keeps the message and retries; the bridge exits cleanly.
        self.assertNotIn(b"250", holder.read_until_close(scaled(15)))
        self.assertEqual(self.wait_exit(b, scaled(15)), 0, b.stderr()[-4000:])
        self.assertLess(time.monotonic() - started, scaled(15))
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        b.stop()
        self.assertEqual(b.messages_from("slow@example.com"), [])

    def test_idle_bridge_exits_0_promptly(self):
        b = self.start_bridge()
        started = time.monotonic()
        self.sigterm(b)
        self.assertEqual(self.wait_exit(b, scaled(10)), 0, b.stderr()[-4000:])
        self.assertLess(time.monotonic() - started, scaled(10))
        b.stop()

    def test_implicit_tls_client_gets_421_inside_tls_during_the_drain(self):
        b = self.start_bridge(implicit_tls=True)
        holder = self.raw(b, timeout=scaled(30))
        holder.open_data(self)
        self.sigterm(b)
        self.assertReply(self.wait_refusing(b, "smtps"), 421, "4.3.2")
        self.assertQueued(holder.cmd(b"Subject: h\r\n\r\nheld\r\n."))
        self.assertEqual(self.wait_exit(b, scaled(10)), 0, b.stderr()[-4000:])
        b.stop()


if __name__ == "__main__":
    unittest.main()
