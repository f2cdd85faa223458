# Timeouts (RFC 5321 4.5.3.2; SMTP.md "Limits"): an idle client and a stalled DATA or BDAT get
# 421 4.4.2 and a close after the configured time, a half-sent message is never stored, and the
# server keeps serving others meanwhile.
import time
import unittest

from bridge import BridgeTest, scaled


class Timeouts(BridgeTest):
    # min_data_rate 0: these are the per-read timeouts alone (a slow but active client below
    # the rate is cut by it: tests/hostile/test_smtp_fairness.py).
    bridge_options = {"smtp": {"limits": {"command_timeout": "1s", "data_timeout": "1s",
                                          "min_data_rate": 0}}}

    def expect_timeout(self, c):
        start = time.monotonic()
        r = c.reply(timeout=scaled(10))
        self.assertReply(r, 421, "4.4.2")
        self.assertEqual(c.read_until_close(timeout=scaled(5)), b"")
        return time.monotonic() - start

    def test_idle_before_ehlo_gets_421_after_the_command_timeout(self):
        c = self.raw()
        elapsed = self.expect_timeout(c)
        self.assertGreater(elapsed, 0.5)

    def test_idle_after_mail_gets_421(self):
        before = self.bridge.count()
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.expect_timeout(c)
        self.assertEqual(self.bridge.count(), before)

    def test_half_a_command_line_gets_421(self):
        c = self.raw()
        c.send(b"EHLO half")
        self.expect_timeout(c)

    def test_stalled_data_gets_421_and_nothing_is_stored(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(b"Subject: stalled\r\n\r\nhalf a mess")
        self.expect_timeout(c)
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()

    def test_short_bdat_chunk_gets_421_and_nothing_is_stored(self):
        before = self.bridge.count()
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        c.send(b"BDAT 89 LAST\r\n" + b"Subject: short\r\n\r\n" + b"s" * 68 + b"\r\n")  # 88 of 89 bytes
        self.expect_timeout(c)
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()

    def test_slow_but_active_client_is_not_cut_off(self):
        c = self.raw()
        c.open_data(self)
        body = b""
        for i in range(4):  # 4 x 0.4 s > data_timeout, but no single pause is that long
            line = b"line %d\r\n" % i
            c.send(line)
            body += line
            time.sleep(0.4)
        msg_id = self.assertQueued(c.cmd(b"."))
        self.assertStored(self.bridge, msg_id, body)


if __name__ == "__main__":
    unittest.main()
