# SMTP smuggling (SMTP-CASES.md 1; CVE-2023-51764/51765/51766): only CR LF . CR LF ends DATA.
# Every fake end-of-data from the SEC Consult and hannob lists, followed by a pipelined second
# transaction, must never yield a second message: rejected 550 5.6.0 (bare_lf: reject) or kept
# as body bytes (bare_lf: accept).
import re
import unittest

from bridge import BridgeTest, unstuff

# SEC inbound + outbound lists and HB names (deduplicated).
FAKE_EODS = {
    "lflf": b"\n.\n", "lfcr": b"\n.\r", "crlf": b"\r.\n", "crcr": b"\r.\r",
    "lfcrlf": b"\n.\r\n", "crcrlf": b"\r.\r\n", "nullbefore": b"\r\n\x00.\r\n",
    "crlf_dot_crcrlf": b"\r\n.\r\r\n", "crcrlf_dot_crcrlf": b"\r\r\n.\r\r\n",
    "crlflf": b"\r\n.\n", "crlfcr": b"\r\n.\r", "nullafter": b"\r\n.\x00\r\n",
}
BODY = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: smuggling test\r\n\r\nbody line"
SMUGGLED = (b"mail FROM:<smuggled@example.com>\r\nrcpt TO:<b@example.com>\r\ndata\r\n"
            b"From: smuggled@example.com\r\nTo: b@example.com\r\n\r\nSMUGGLING WORKS\r\n.\r\n")


def has_bare_line_end(data):
    return re.search(rb"\r(?!\n)|(?<!\r)\n", data) is not None


class SmugglingBase(BridgeTest):
    def send_smuggling(self, fake):
        """One write: body + fake end of data + a whole second transaction. Returns the reply
        to the message and the expected stored bytes."""
        wire = BODY + fake + SMUGGLED
        self.assertEqual(wire.find(b"\r\n.\r\n"), len(wire) - 5, "vector has an early real terminator")
        c = self.raw()
        c.open_data(self)
        c.send(wire)
        reply = c.reply()
        # Nothing of the smuggled transaction ran: the very next reply is the one to QUIT.
        c.send(b"QUIT\r\n")
        rest = c.read_until_close()
        self.assertTrue(rest.startswith(b"221"), f"extra replies after the message: {rest!r}")
        self.assertEqual(rest.count(b"\r\n"), 1, f"extra replies after the message: {rest!r}")
        self.assertEqual(self.bridge.messages_from("smuggled@example.com"), [])
        return reply, unstuff(wire[:-3])


class SmugglingRejected(SmugglingBase):
    bridge_options = {}  # bare_lf: reject is the default

    def check_fake(self, name):
        fake = FAKE_EODS[name]
        before = self.bridge.count()
        reply, expected = self.send_smuggling(fake)
        if has_bare_line_end(fake):
            self.assertReply(reply, 550, "5.6.0")
            self.assertEqual(self.bridge.count(), before)
        else:
            # NUL variants have no bare line end: the whole thing is one message's body.
            msg_id = self.assertQueued(reply)
            self.assertStored(self.bridge, msg_id, expected, mail_from="a@example.com")
            self.assertIn(b"SMUGGLING WORKS", expected)
            self.assertEqual(self.bridge.count(), before + 1)
        self.assertStillServes()

    def test_bare_lf_dot_lf_is_never_an_end_of_data(self):
        self.check_fake("lflf")

    def test_lf_dot_cr_is_never_an_end_of_data(self):
        self.check_fake("lfcr")

    def test_cr_dot_lf_is_never_an_end_of_data(self):
        self.check_fake("crlf")

    def test_cr_dot_cr_is_never_an_end_of_data(self):
        self.check_fake("crcr")

    def test_lf_dot_crlf_is_never_an_end_of_data(self):
        self.check_fake("lfcrlf")

    def test_cr_dot_crlf_is_never_an_end_of_data(self):
        self.check_fake("crcrlf")

    def test_nul_before_dot_is_never_an_end_of_data(self):
        self.check_fake("nullbefore")

    def test_nul_after_dot_is_never_an_end_of_data(self):
        self.check_fake("nullafter")

    def test_crlf_dot_cr_crlf_is_never_an_end_of_data(self):
        self.check_fake("crlf_dot_crcrlf")

    def test_cr_crlf_dot_cr_crlf_is_never_an_end_of_data(self):
        self.check_fake("crcrlf_dot_crcrlf")

    def test_crlf_dot_lf_is_never_an_end_of_data(self):
        self.check_fake("crlflf")

    def test_crlf_dot_cr_is_never_an_end_of_data(self):
        self.check_fake("crlfcr")

    def test_fake_end_of_data_gets_no_reply_before_the_real_one(self):
        # The scanners send body + fake and wait: a reply here means the fake ended DATA.
        c = self.raw()
        c.open_data(self)
        c.send(BODY + b"\r\n.\n")
        self.assertTrue(c.silent_for(0.5), "the server answered a fake end of data")
        c.send(b"more\r\n.\r\n")
        self.assertReply(c.reply(), 550, "5.6.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_aiosmtpd_smuggling_vector_is_rejected(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(b"From: Anne Person <anne@example.com>\r\nTo: Bart Person <bart@example.com>\r\n"
               b"Subject: A test\r\nMessage-ID: <ant>\r\n\r\nTesting\n.\r\nNO SMUGGLING\n\r\n.\r\n")
        self.assertReply(c.reply(), 550, "5.6.0")
        self.assertReply(c.cmd("QUIT"), 221)
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()

    def test_exim_bdat_smuggling_after_bare_lf_dot_is_one_rejected_message(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(EXIM_0900)
        self.assertReply(c.reply(), 550, "5.6.0")
        self.assertReply(c.cmd("QUIT"), 221)
        self.assertEqual(self.bridge.count(), before)
        self.assertEqual(self.bridge.messages_from("smuggler@example.com"), [])

    def test_bare_lf_inside_header_lines_is_rejected(self):
        # EX 0460: a bare LF must not start a new header field.
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(b"Subject: contains >\n< bare lf\r\nFrom: x@y\nBheader: some text\r\n\r\nbody\r\n.\r\n")
        self.assertReply(c.reply(), 550, "5.6.0")
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()


EXIM_0900 = (b"Subject: test of smuggled smtp\r\n\r\nsmuggled body\r\n" + b".\n"
             b"mail from:<smuggler@example.com>\r\nrcpt to:<b@example.com>\r\nbdat 86 last\r\n"
             b"Subject: send me all your money!\r\n\r\nAll your base are belong to us.  Send Bitcoins.\r\n"
             b"QUIT\r\n.\r\n")


class SmugglingAccepted(SmugglingBase):
    bridge_options = {"smtp": {"bare_lf": "accept"}}

    def check_fake(self, name):
        before = self.bridge.count()
        fake = FAKE_EODS[name]
        reply, expected = self.send_smuggling(fake)
        msg_id = self.assertQueued(reply)
        m = self.assertStored(self.bridge, msg_id, expected, mail_from="a@example.com",
                              rcpt_to=["b@example.com"])
        self.assertIn(b"SMUGGLING WORKS", m["data"])
        self.assertIn(b"mail FROM:<smuggled@example.com>", m["data"])
        self.assertEqual(self.bridge.count(), before + 1)
        self.assertStillServes()

    def test_every_fake_end_of_data_stays_in_the_body(self):
        for name in FAKE_EODS:
            with self.subTest(fake=name):
                self.check_fake(name)

    def test_aiosmtpd_vector_is_one_message_with_the_text(self):
        data = (b"From: Anne Person <anne@example.com>\r\nTo: Bart Person <bart@example.com>\r\n"
                b"Subject: A test\r\nMessage-ID: <ant>\r\n\r\nTesting\n.\r\nNO SMUGGLING\n\r\n")
        c = self.raw()
        c.open_data(self)
        c.send(data + b".\r\n")
        msg_id = self.assertQueued(c.reply())
        self.assertStored(self.bridge, msg_id, data)
        self.assertReply(c.cmd("QUIT"), 221)

    def test_go_smtp_smuggling_vectors_keep_exact_bytes(self):
        cases = [(b"This is a message with an LF dot:\r\n" b".\n" b"Final dot comes after.\r\n" b".\r\n",
                  b"This is a message with an LF dot:\r\n\nFinal dot comes after.\r\n"),
                 (b"This is a message with an LF dot:\n" b".\r\n" b"Final dot comes after.\r\n" b".\r\n",
                  b"This is a message with an LF dot:\n.\r\nFinal dot comes after.\r\n"),
                 (b"From: root@nsa.gov\r\n\r\nhey\r\n\n.\nthis is going to break your server\r\n.\r\n",
                  b"From: root@nsa.gov\r\n\r\nhey\r\n\n.\nthis is going to break your server\r\n")]
        for wire, expected in cases:
            with self.subTest(wire=wire):
                c = self.raw()
                c.open_data(self)
                c.send(wire)
                msg_id = self.assertQueued(c.reply())
                self.assertStored(self.bridge, msg_id, expected)
                self.assertReply(c.cmd("QUIT"), 221)

    def test_exim_bdat_smuggling_is_exactly_one_message(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(EXIM_0900)
        msg_id = self.assertQueued(c.reply())
        c.send(b"QUIT\r\n")
        rest = c.read_until_close()
        self.assertTrue(rest.startswith(b"221") and rest.count(b"\r\n") == 1, rest)
        self.assertEqual(self.bridge.count(), before + 1)
        self.assertStored(self.bridge, msg_id, unstuff(EXIM_0900[:-3]), mail_from="a@example.com")
        self.assertEqual(self.bridge.messages_from("smuggler@example.com"), [])


if __name__ == "__main__":
    unittest.main()
