# Line, size, recipient and connection limits (RFC 5321 4.5.3.1; SMTP.md "Limits"; SMTP-CASES.md
# 3): each is answered with its code at the documented moment (DATA errors only after the final
# dot), nothing is stored for a refused message, and the server goes on serving.
import time
import unittest

from bridge import BridgeTest, Raw, Closed, scaled


class LineLimits(BridgeTest):
    bridge_options = {}

    def test_command_line_of_512_bytes_is_accepted_and_513_is_500(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        ok = b"NOOP " + b"a" * (512 - 7) + b"\r\n"
        self.assertEqual(len(ok), 512)
        self.assertReply(c.cmd(ok), 250, "2.0.0")
        long = b"NOOP " + b"a" * (513 - 7) + b"\r\n"
        self.assertEqual(len(long), 513)
        self.assertReply(c.cmd(long), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_a_megabyte_without_line_end_is_one_500_and_the_session_recovers(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        c.send(b"a" * 1_000_000)
        c.send(b"a" * 1001 + b"\r\n")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertStillServes()

    def test_overlong_mail_from_is_500(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd(b"MAIL FROM:<" + b"a" * 2000 + b">"), 500, "5.5.2")
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")

    def test_data_line_of_998_bytes_is_accepted(self):
        c = self.raw()
        c.open_data(self)
        body = b"Subject: long line\r\n\r\n" + b"x" * 998 + b"\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body)

    def test_data_line_too_long_is_500_after_the_dot_only(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(b"a" * 1004 + b"\r\n")
        self.assertTrue(c.silent_for(0.5), "answered before the end of data")
        c.send(b"\r\n.\r\n")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertEqual(self.bridge.count(), before)
        # The session is in sync: a new transaction works.
        c.open_data(self, ehlo=False)
        body = b"Subject: after\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body)

    def test_three_long_lines_are_one_500(self):
        c = self.raw()
        c.open_data(self)
        c.send(b"\r\n".join([b"a" * 5555] * 3) + b"\r\n.\r\n")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")


class SizeLimits(BridgeTest):
    bridge_options = {"smtp": {"limits": {"max_message_size": 2000}}}

    def test_ehlo_advertises_the_configured_size(self):
        c = self.raw()
        r = c.ehlo()
        self.assertIn("SIZE 2000", [l[4:].decode() for l in r.lines])

    def test_size_parameter_over_the_limit_is_552_at_mail(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<anne@example.com> SIZE=2001"), 552, "5.3.4")
        self.assertReply(c.cmd("MAIL FROM:<anne@example.com> SIZE=2000"), 250, "2.1.0")

    def test_message_over_the_limit_is_552_after_the_dot(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(b"Subject: big\r\n\r\n" + (b"b" * 98 + b"\r\n") * 25)
        self.assertTrue(c.silent_for(0.3), "answered before the end of data")
        c.send(b".\r\n")
        self.assertReply(c.reply(), 552, "5.3.4")
        self.assertEqual(self.bridge.count(), before)
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertStillServes()

    def test_message_under_the_limit_is_stored(self):
        c = self.raw()
        c.open_data(self)
        body = b"Subject: fits\r\n\r\n" + (b"s" * 98 + b"\r\n") * 15
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body)

    def test_too_big_and_long_lines_in_either_order_are_one_reply(self):
        for data in ((b"x" * 2500 + b"\r\n"), (b"y" * 1200 + b"\r\n") * 2):
            with self.subTest(size=len(data)):
                c = self.raw()
                c.open_data(self)
                c.send(data + b".\r\n")
                r = c.reply()
                self.assertIn((r.code, r.enhanced), [(552, "5.3.4"), (500, "5.5.2")])
                self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_bdat_over_the_limit_is_552(self):
        before = self.bridge.count()
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        c.send(b"BDAT 1500\r\n" + (b"c" * 98 + b"\r\n") * 15)
        self.assertReply(c.reply(), 250, "2.0.0")
        c.send(b"BDAT 1000 LAST\r\n" + (b"d" * 98 + b"\r\n") * 10)
        self.assertReply(c.reply(), 552, "5.3.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertEqual(self.bridge.count(), before)


class RecipientLimits(BridgeTest):
    bridge_options = {"extra": {"routes": [{"match": ["*@example.com", "postmaster@example.org"]}]}}

    def test_101st_recipient_is_452_and_the_first_100_are_kept(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        rcpts = [f"r{i}@example.com" for i in range(101)]
        c.send(b"MAIL FROM:<a@example.com>\r\n" + b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in rcpts))
        self.assertReply(c.reply(), 250, "2.1.0")
        for i in range(100):
            self.assertReply(c.reply(), 250, "2.1.5", f"RCPT {i + 1}")
        self.assertReply(c.reply(), 452, "4.5.3")
        self.assertReply(c.cmd("DATA"), 354)
        body = b"Subject: many\r\n\r\nhundred\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body, rcpt_to=rcpts[:100])

    def test_unknown_recipient_is_550_5_1_1_and_known_ones_are_kept(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@elsewhere.example>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<someone@other.example>"), 550, "5.1.1")
        self.assertReply(c.cmd("RCPT TO:<x@example.org>"), 550, "5.1.1")
        self.assertReply(c.cmd("RCPT TO:<PostMaster@Example.ORG>"), 250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<b@EXAMPLE.com>"), 250, "2.1.5")
        # The same mailbox again, its domain in another case (RFC 5321 2.4): kept once.
        self.assertReply(c.cmd("RCPT TO:<b@example.COM>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = b"Subject: routed\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        m = self.assertStored(self.bridge, msg_id, body, mail_from="a@elsewhere.example")
        self.assertEqual(len(m["rcpt_to"]), 2)
        self.assertEqual([r.lower() for r in m["rcpt_to"]], ["postmaster@example.org", "b@example.com"])

    def test_only_unknown_recipients_means_no_data(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<open@relay.example>"), 550, "5.1.1")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertStillServes()


class ConnectionLimits(BridgeTest):
    bridge_options = {"smtp": {"limits": {"max_connections_per_ip": 2}}}

    def test_third_connection_from_one_address_gets_421(self):
        a, b = self.raw(), self.raw()
        self.assertReply(a.greeting, 220)
        self.assertReply(b.greeting, 220)
        c = self.raw(greeting=False)
        self.assertReply(c.reply(), 421, "4.7.0")
        c.read_until_close()
        # The first two still work.
        self.assertReply(a.cmd("NOOP"), 250, "2.0.0")
        a.cmd("QUIT")
        a.close()
        b.cmd("QUIT")
        b.close()
        # Once they are gone, a new client is served (the server notices the close promptly). The
        # client that got its 220 stays open and sends the mail itself: a refused probe's own close
        # is noticed asynchronously, so a further connection could still find the slots taken.
        deadline = time.monotonic() + scaled(10)
        while True:
            d = Raw(self.bridge.port(), greeting=False)
            r = d.reply()
            if r.code == 220 or time.monotonic() > deadline:
                break
            d.close()
            time.sleep(0.05)
        self.assertReply(r, 220)
        with d:
            self.assertDelivers(d)

if __name__ == "__main__":
    unittest.main()
