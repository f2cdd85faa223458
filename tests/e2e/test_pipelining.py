# Pipelining and protocol synchronisation (RFC 2920; SMTP-CASES.md 2): legal groups are answered
# in order, commands pipelined where they may not be get 554 5.5.0, early talkers and HTTP
# requests get 421 and a close, and repeated errors end the session with 421 4.7.0.
import socket
import unittest

from bridge import BridgeTest, Raw, Closed

MAIL = b"MAIL FROM:<a@example.com>\r\n"
RCPT = b"RCPT TO:<b@example.com>\r\n"


class Pipelining(BridgeTest):
    bridge_options = {"smtp": {"limits": {"max_errors": 3}}}

    def test_ehlo_followed_by_mail_in_one_write_is_a_sync_error(self):
        before = self.bridge.count()
        c = self.raw()
        c.send(b"ehlo abcd\r\nmail from:<userx@example.com>\r\n")
        r = c.reply()
        if r.code == 250 and len(r.lines) > 1:  # the EHLO answered, then the MAIL refused
            r = c.reply()
        self.assertReply(r, 554, "5.5.0")
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()

    def test_helo_session_cannot_pipeline(self):
        c = self.raw()
        self.assertReply(c.cmd("helo abcd"), 250)
        c.send(b"mail from:<userx@example.com>\r\nrcpt to:<userx@example.com>\r\n")
        self.assertReply(c.reply(), 554, "5.5.0")
        self.assertStillServes()

    def test_legal_group_is_answered_in_order(self):
        c = self.raw()
        self.assertReply(c.ehlo(), 250)
        c.send(b"RSET\r\n" + MAIL + RCPT + b"DATA\r\n")
        r = c.replies(4)
        self.assertEqual([(x.code, x.enhanced) for x in r],
                         [(250, "2.0.0"), (250, "2.1.0"), (250, "2.1.5"), (354, "")])
        body = b"Subject: group\r\n\r\npipelined\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body, mail_from="a@example.com", rcpt_to=["b@example.com"])

    def test_message_data_pipelined_after_data_is_a_sync_error(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        first = b"Subject: first\r\n\r\nfirst\r\n"
        c.send(first + b".\r\nmail from:<second@example.com>\r\n")
        msg_id = self.assertQueued(c.reply())
        self.assertReply(c.reply(), 250, "2.1.0")
        c.send(b"rcpt to:<b@example.com>\r\ndata\r\nthe message\r\nsecond line\r\n")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 554, "5.5.0")
        self.assertStored(self.bridge, msg_id, first)
        self.assertEqual(self.bridge.count(), before + 1)
        self.assertEqual(self.bridge.messages_from("second@example.com"), [])
        self.assertStillServes()

    def test_message_end_and_next_transaction_in_one_write_make_two_messages(self):
        c = self.raw()
        c.open_data(self)
        first = b"Subject: one\r\n\r\nfirst message\r\n"
        c.send(first + b".\r\nMAIL FROM:<second@example.com>\r\nRCPT TO:<c@example.com>\r\n"
               b"RCPT TO:<d@example.com>\r\nDATA\r\n")
        id1 = self.assertQueued(c.reply())
        r = c.replies(4)
        self.assertEqual([(x.code, x.enhanced) for x in r],
                         [(250, "2.1.0"), (250, "2.1.5"), (250, "2.1.5"), (354, "")])
        second = b"Subject: two\r\n\r\nsecond message\r\n"
        id2 = self.assertQueued(c.cmd(second + b"."))
        self.assertNotEqual(id1, id2)
        self.assertStored(self.bridge, id1, first, mail_from="a@example.com", rcpt_to=["b@example.com"])
        self.assertStored(self.bridge, id2, second, mail_from="second@example.com",
                          rcpt_to=["c@example.com", "d@example.com"])

    def test_http_request_gets_421_and_close(self):
        c = self.raw()
        c.send(b"GET /path/file.html HTTP/1.0\r\nHost: www.example.com\r\n\r\n")
        r = c.reply()
        self.assertReply(r, 421, "4.7.0")
        c.read_until_close()
        self.assertStillServes()

    def test_http_post_gets_421_and_close(self):
        c = self.raw()
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        self.assertReply(c.reply(), 421, "4.7.0")
        c.read_until_close()

    def test_unknown_commands_get_500_each(self):
        c = self.raw()
        self.assertReply(c.ehlo(), 250)
        for _ in range(2):
            self.assertReply(c.cmd("XXXX"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_too_many_errors_end_the_session_with_421(self):
        c = self.raw()
        self.assertReply(c.ehlo(), 250)
        # max_errors 3: the first bad commands get 500, by the 4th the server has said 421.
        self.assertReply(c.cmd("ZOOP"), 500, "5.5.2")
        self.assertReply(c.cmd("ZOOP"), 500, "5.5.2")
        replies = []
        try:
            for _ in range(2):
                r = c.cmd("ZOOP")
                replies.append(r)
                if r.code == 421:
                    break
        except (Closed, OSError):
            pass
        self.assertTrue(replies and replies[-1].code == 421, f"no 421 after repeated errors: {replies}")
        self.assertEqual(replies[-1].enhanced, "4.7.0")
        c.read_until_close()
        self.assertStillServes()

    def test_bytes_before_the_greeting_are_read_after_it_without_greet_delay(self):
        c = self.raw(greeting=False)
        c.send(b"EHLO early.example\r\n")
        self.assertReply(c.reply(), 220)
        r = c.reply()
        self.assertEqual(r.code, 250)
        self.assertIn("PIPELINING", r.text)


class EarlyTalker(BridgeTest):
    bridge_options = {"smtp": {"greet_delay": "1s"}}

    def test_early_talker_gets_421_and_close(self):
        c = self.raw(greeting=False)
        c.send(b"EHLO FOO\r\n")
        r = c.reply()
        self.assertReply(r, 421, "4.7.0")
        c.read_until_close()
        self.assertStillServes()

    def test_patient_client_is_greeted_after_the_delay(self):
        c = self.raw(greeting=False)
        self.assertReply(c.reply(), 220)
        self.assertEqual(c.ehlo().code, 250)


class QuitAndReplies(BridgeTest):
    bridge_options = {}

    def test_quit_gets_221_and_close(self):
        c = self.raw()
        self.assertReply(c.greeting, 220)
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")
        self.assertEqual(c.read_until_close(), b"")

    def test_ehlo_advertises_the_extensions(self):
        c = self.raw()
        r = c.ehlo()
        self.assertEqual(r.code, 250)
        keywords = {l[4:].split(b" ")[0].decode().upper() for l in r.lines[1:]}
        for ext in ("SIZE", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"):
            self.assertIn(ext, keywords)
        self.assertNotIn("STARTTLS", keywords)  # no certificate configured
        self.assertNotIn("AUTH", keywords)      # no users configured
        self.assertIn(b"SIZE 26214400", b"\n".join(r.lines))


if __name__ == "__main__":
    unittest.main()
