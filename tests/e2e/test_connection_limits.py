# Server-wide limits (SMTP.md "Limits"): smtp.limits.max_connections answers the connection past
# it 421 4.7.0 and closes it, and smtp.limits.max_buffered_bytes answers 452 4.3.1 to a message
# that would not fit while another session holds the memory; both recover once the load is gone.
import time
import unittest

from bridge import BridgeTest, Raw, scaled
from test_admin import Metrics

KIB = 1024


def lines(count, fill=b"x"):
    """count text lines of exactly 100 bytes each (98 + CRLF)."""
    return (fill * 98 + b"\r\n") * count


class MaxConnections(BridgeTest):
    bridge_options = {"smtp": {"limits": {"max_connections": 2}}}

    def greeted_when_a_slot_is_free(self):
        """A new connection, retried until it is greeted 220: the server frees a slot when it
        has seen the previous client go, which happens just after that client's close."""
        end = time.monotonic() + scaled(10)
        while True:
            c = Raw(self.bridge.port(), greeting=False)
            r = c.reply()
            if r.code == 220 or time.monotonic() > end:
                self.addCleanup(c.close)
                return c, r
            self.assertReply(r, 421, "4.7.0")
            c.read_until_close()
            c.close()
            time.sleep(0.02)

    def test_third_concurrent_connection_gets_421_and_is_closed(self):
        admin = self.bridge.port("admin")
        before = Metrics(admin).get("smtp_bridge_smtp_connections_rejected_total",
                                    reason="max_connections") or 0
        a, b = self.raw(), self.raw()
        self.assertReply(a.greeting, 220)
        self.assertReply(b.greeting, 220)
        c = self.raw(greeting=False)
        self.assertReply(c.reply(), 421, "4.7.0")
        self.assertEqual(c.read_until_close(), b"", "bytes after the 421")
        self.assertEqual(Metrics(admin).value("smtp_bridge_smtp_connections_rejected_total",
                                              reason="max_connections"), before + 1)
        # The first two are unaffected.
        self.assertReply(a.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(b.cmd("NOOP"), 250, "2.0.0")
        # One of them leaves: a new client is greeted and can deliver while the other stays.
        self.assertReply(a.cmd("QUIT"), 221)
        a.read_until_close()
        a.close()
        d, greeting = self.greeted_when_a_slot_is_free()
        self.assertReply(greeting, 220)
        d.open_data(self, mail_from="third@example.com")
        body = b"Subject: after a slot was freed\r\n\r\nok\r\n"
        msg_id = self.assertQueued(d.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body, mail_from="third@example.com")
        # Still two open (b and d): a further one is refused again.
        e = self.raw(greeting=False)
        self.assertReply(e.reply(), 421, "4.7.0")
        e.read_until_close()
        self.assertReply(b.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(d.cmd("QUIT"), 221)
        self.assertReply(b.cmd("QUIT"), 221)


class MaxBufferedBytes(BridgeTest):
    BUDGET = 64 * KIB
    bridge_options = {"smtp": {"limits": {"max_buffered_bytes": "64KiB"}}}

    HELD = 600       # lines of 100 bytes the first session holds: 60000 of 65536 bytes
    SECOND = 80      # lines of the second message: 8000 bytes, more than the 5536 left

    def mail_with_size(self, c, size):
        return c.cmd(f"MAIL FROM:<second@example.com> SIZE={size}")

    def wait_until_held(self, c, size):
        """Polls MAIL ... SIZE=size (RSET after each 250) until it is refused, i.e. until the
        server has taken the first session's bytes from the budget; returns the refusal."""
        end = time.monotonic() + scaled(10)
        while True:
            r = self.mail_with_size(c, size)
            if r.code != 250 or time.monotonic() > end:
                return r
            self.assertReply(c.cmd("RSET"), 250, "2.0.0")
            time.sleep(0.02)

    def test_second_message_over_the_budget_is_452_and_later_ones_pass(self):
        second_size = self.SECOND * 100
        self.assertGreater(self.HELD * 100 + second_size, self.BUDGET)
        self.assertLess(self.HELD * 100, self.BUDGET)
        before = self.bridge.count()

        b = self.raw()
        self.assertEqual(b.ehlo().code, 250)
        # Nothing is held yet: the declared size fits.
        self.assertReply(self.mail_with_size(b, second_size), 250, "2.1.0")
        self.assertReply(b.cmd("RSET"), 250, "2.0.0")

        # Session A sends most of a large message and holds it (no final dot yet).
        a = self.raw()
        a.open_data(self, mail_from="first@example.com")
        head = b"Subject: large\r\n\r\n"
        a.send(head + lines(self.HELD))

        # Session B: a declared size that does not fit is refused at MAIL.
        self.assertReply(self.wait_until_held(b, second_size), 452, "4.3.1")
        # Without SIZE the transaction starts, and the message is refused after its final dot.
        self.assertReply(b.cmd("MAIL FROM:<second@example.com>"), 250, "2.1.0")
        self.assertReply(b.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(b.cmd("DATA"), 354)
        b.send(b"Subject: second\r\n\r\n" + lines(self.SECOND, b"y"))
        self.assertTrue(b.silent_for(0.3), "answered before the end of data")
        b.send(b".\r\n")
        self.assertReply(b.reply(), 452, "4.3.1")
        self.assertEqual(self.bridge.count(), before)
        self.assertReply(b.cmd("NOOP"), 250, "2.0.0")

        # Session A is unaffected and finishes its message.
        body_a = head + lines(self.HELD) + b"end\r\n"
        a.send(b"end\r\n")
        msg_a = self.assertQueued(a.cmd(b"."))
        self.assertStored(self.bridge, msg_a, body_a, mail_from="first@example.com")

        # The budget is free again: B's declared size and B's message are accepted.
        self.assertReply(self.mail_with_size(b, second_size), 250, "2.1.0")
        self.assertReply(b.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(b.cmd("DATA"), 354)
        body_b = b"Subject: second again\r\n\r\n" + lines(self.SECOND, b"z")
        msg_b = self.assertQueued(b.cmd(body_b + b"."))
        self.assertStored(self.bridge, msg_b, body_b, mail_from="second@example.com")
        self.assertEqual(self.bridge.count(), before + 2)


if __name__ == "__main__":
    unittest.main()
