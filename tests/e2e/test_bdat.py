# BDAT / CHUNKING (RFC 3030; SMTP-CASES.md 4): chunks are counted in bytes and never parsed as
# commands, the stored message is the concatenation of the chunks, RSET or a closed connection
# drop a half-sent message, and BDAT/DATA are not mixed.
import unittest

from bridge import BridgeTest


class Bdat(BridgeTest):
    bridge_options = {"extra": {"routes": [{"match": ["*@example.com"]}]}}

    def transaction(self, c, ehlo=True, body=None):
        if ehlo:
            r = c.ehlo()
            self.assertEqual(r.code, 250)
            self.assertIn("CHUNKING", [l[4:].decode().split(" ")[0].upper() for l in r.lines[1:]])
        self.assertReply(c.cmd("MAIL FROM:<root@example.com>" + (f" BODY={body}" if body else "")),
                         250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")

    def test_chunks_are_stored_concatenated(self):
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT 8\r\nHey <3\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        c.send(b"BDAT 8 LAST\r\nHey :3\r\n")
        msg_id = self.assertQueued(c.reply())
        self.assertStored(self.bridge, msg_id, b"Hey <3\r\nHey :3\r\n", mail_from="root@example.com",
                          rcpt_to=["b@example.com"])
        self.assertStillServes()

    def test_header_only_message_in_one_last_chunk(self):
        data = (b"Subject: one chunk\r\nFrom: a@example.com\r\nTo: b@example.com\r\n"
                b"Message-ID: <bdat@example.com>\r\n\r\n")
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        self.assertStored(self.bridge, self.assertQueued(c.reply()), data)

    def test_chunk_payload_is_never_parsed_as_commands(self):
        first = b"To: Susan@"
        second = b"bdat 78 last\r\nRSET\r\nQUIT\r\nSubject: split\r\n\r\n.\r\nbody\r\n"
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT %d\r\n" % len(first) + first)
        self.assertReply(c.reply(), 250, "2.0.0")
        c.send(b"BDAT %d LAST\r\n" % len(second) + second)
        msg_id = self.assertQueued(c.reply())
        # No dot-unstuffing in BDAT: the bytes are exactly the chunks.
        self.assertStored(self.bridge, msg_id, first + second)
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_noop_between_chunks_and_empty_last_chunk(self):
        data = b"Subject: x\r\n\r\n" + b"y" * 84 + b"\r\n"
        self.assertEqual(len(data), 100)
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT 100\r\n" + data)
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertStored(self.bridge, self.assertQueued(c.cmd("BDAT 0 LAST")), data)

    def test_body_not_ending_in_crlf_is_accepted(self):
        data = b"Subject: no final newline\r\n\r\n1234567890"
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        self.assertStored(self.bridge, self.assertQueued(c.reply()), data)

    def test_a_cr_as_the_last_byte_is_a_bare_cr(self):
        # bare_lf: reject (the default) covers the message's final byte too, in one LAST chunk or
        # in a chunk before an empty LAST one.
        for chunks in ([b"BDAT 4 LAST\r\nabc\r"], [b"BDAT 4\r\nabc\r", b"BDAT 0 LAST\r\n"]):
            before = self.bridge.count()
            c = self.raw()
            self.transaction(c)
            for chunk in chunks[:-1]:
                c.send(chunk)
                self.assertReply(c.reply(), 250, "2.0.0")
            c.send(chunks[-1])
            self.assertReply(c.reply(), 550, "5.6.0")
            self.assertEqual(self.bridge.count(), before, "a message was stored")
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertStillServes()

    def test_bdat_then_rset_stores_nothing(self):
        before = self.bridge.count()
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT 8\r\nHey <3\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertEqual(self.bridge.count(), before)
        # The next transaction is clean: only its own chunk is stored.
        self.transaction(c, ehlo=False)
        c.send(b"BDAT 6 LAST\r\nclean\n")
        # a bare LF is a bare line end (bare_lf: reject)
        self.assertReply(c.reply(), 550, "5.6.0")
        self.transaction(c, ehlo=False)
        c.send(b"BDAT 7 LAST\r\nclean\r\n")
        self.assertStored(self.bridge, self.assertQueued(c.reply()), b"clean\r\n")
        self.assertEqual(self.bridge.count(), before + 1)

    def test_pipelined_bdat_then_rset(self):
        before = self.bridge.count()
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        chunk = b"Subject: pipelined\r\n\r\n" + b"z" * 62 + b"\r\n"
        self.assertEqual(len(chunk), 86)
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT 86\r\n" + chunk + b"RSET\r\n")
        r = c.replies(4)
        self.assertEqual([(x.code, x.enhanced) for x in r],
                         [(250, "2.1.0"), (250, "2.1.5"), (250, "2.0.0"), (250, "2.0.0")])
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()

    def test_bdat_zero_without_last_is_504(self):
        c = self.raw()
        self.transaction(c)
        self.assertReply(c.cmd("BDAT 0"), 504, "5.5.4")
        self.assertStored(self.bridge, self.assertQueued(c.cmd(b"BDAT 4 LAST\r\nok\r\n")), b"ok\r\n")

    def test_data_after_bdat_is_503(self):
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT 8\r\nHey <3\r\n")
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertStored(self.bridge, self.assertQueued(c.cmd(b"BDAT 4 LAST\r\nok\r\n")),
                          b"Hey <3\r\nok\r\n")

    def test_bdat_without_a_transaction_is_503_and_its_bytes_are_consumed(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        c.send(b"BDAT 12 LAST\r\nNOOP\r\nNOOP\r\n")
        self.assertReply(c.reply(), 503, "5.5.1")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_bdat_after_rejected_recipient_is_503_per_chunk(self):
        before = self.bridge.count()
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        chunk = (b"NOOP\r\n" * 14) + b"RSET\r\n"  # would be 15 replies if parsed as commands
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<dummy@reject.example>\r\nBDAT %d\r\n" % len(chunk)
               + chunk + b"BDAT 4 LAST\r\nZZ\r\n")
        r = c.replies(4)
        self.assertEqual([(x.code, x.enhanced) for x in r],
                         [(250, "2.1.0"), (550, "5.1.1"), (503, "5.5.1"), (503, "5.5.1")])
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertEqual(self.bridge.count(), before)

    def test_connection_closed_mid_chunk_stores_nothing(self):
        before = self.bridge.count()
        c = self.raw()
        self.transaction(c)
        c.send(b"BDAT 8\r\nHey <")
        c.close()
        self.assertStillServes()
        self.assertEqual(self.bridge.count(), before + 1)  # only the still-serves message

    def test_bdat_with_bad_size_is_501(self):
        c = self.raw()
        self.transaction(c)
        self.assertEqual(c.cmd("BDAT x").code, 501)
        self.assertEqual(c.cmd("BDAT 4 FIRST").code, 501)
        self.assertStored(self.bridge, self.assertQueued(c.cmd(b"BDAT 4 LAST\r\nok\r\n")), b"ok\r\n")

    def test_binarymime_when_advertised(self):
        c = self.raw()
        r = c.ehlo()
        keywords = [l[4:].decode().split(" ")[0].upper() for l in r.lines[1:]]
        if "BINARYMIME" not in keywords:
            self.assertNotEqual(c.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME").code, 250)
            return
        self.transaction(c, ehlo=False, body="BINARYMIME")
        data = b"Content-Type: application/octet-stream\r\n\r\n" + bytes(range(256)) + b"\n" + b"q" * 2000
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        self.assertStored(self.bridge, self.assertQueued(c.reply()), data)


if __name__ == "__main__":
    unittest.main()
