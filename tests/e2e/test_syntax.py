# Command and address syntax (SMTP-CASES.md 7; RFC 5321 4.1, 4.5.3.1): malformed commands get
# 500 5.5.2, bad arguments 501, unknown parameters 555, wrong order 503; well-formed ones 250,
# and the session goes on after each error.
import unittest

from bridge import BridgeTest, split_received


class CommandSyntax(BridgeTest):
    bridge_options = {"smtp": {"limits": {"max_errors": 1000}}}

    def session(self, ehlo=True):
        c = self.raw()
        if ehlo:
            self.assertEqual(c.ehlo().code, 250)
        return c

    def test_malformed_command_lines_get_500_and_the_session_continues(self):
        c = self.session()
        for line in [b"B52", b"BELL\x08", b"EHLO  example.com", b'NOOP "\x01\x02\x03"',
                     b"RSET\rQUIT", b"INSANELYREDICULOUSLYLONGCOMMANDNAME", b"FROP \xf1\x80",
                     b"MAIL FROM:<f\xc3\xb6\xc3\xa4@\xc3\xb6\xc3>", b"", b"MAIL FROM:<te\x00st@example.com>",
                     b"MAIL FROM:<te\x1bst@example.com>", b"MAIL FROM:<te\x7fst@example.com>",
                     b"MAIL FROM:<a@example.com> ENVID=ab\x00cd"]:
            with self.subTest(line=line):
                self.assertReply(c.cmd(line + b"\r\n"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_unknown_verb_gets_500(self):
        c = self.session()
        self.assertReply(c.cmd("FOOBAR"), 500, "5.5.2")
        self.assertReply(c.cmd("XXXX"), 500, "5.5.2")

    def test_well_formed_variants_are_accepted(self):
        c = self.session()
        self.assertReply(c.cmd("RSET    "), 250, "2.0.0")
        self.assertEqual(c.cmd("EHLO example.com     ").code, 250)
        self.assertReply(c.cmd('VRFY "Sherlock Holmes"'), 252, "2.0.0")
        self.assertReply(c.cmd("noop"), 250, "2.0.0")
        self.assertReply(c.cmd("HELP"), 214, "2.0.0")
        self.assertReply(c.cmd("mail from:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("rcpt to:<b@example.com>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("MAIL FROM: <a@example.com>"), 250, "2.1.0")

    def test_obsolete_and_disabled_commands_get_502(self):
        c = self.session()
        for line in ("EXPN staff", "TURN", "SEND FROM:<a@example.com>", "SOML FROM:<a@example.com>",
                     "SAML FROM:<a@example.com>", "ETRN example.com"):
            with self.subTest(line=line):
                self.assertReply(c.cmd(line), 502, "5.5.1")

    def test_utf8_address_needs_smtputf8(self):
        c = self.session()
        addr = "f\u00f6\u00e4@\u00f6\u00e4.example".encode()
        self.assertReply(c.cmd(b"MAIL FROM:<" + addr + b">"), 553, "5.6.7")
        self.assertReply(c.cmd(b"MAIL FROM:<" + addr + b"> SMTPUTF8 SIZE=386"), 250, "2.1.0")
        # Postfix 3.7 sends a UTF-8 ORCPT xtext-encoded under rfc822.
        self.assertReply(c.cmd(b"RCPT TO:<" + "\u00fc@example.com".encode() + b"> ORCPT=rfc822;j+C3+BCrgen@example.com"),
                         250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = "Subject: utf8\r\n\r\nGrüße\r\n".encode()
        msg_id = self.assertQueued(c.cmd(body + b"."))
        m = self.assertStored(self.bridge, msg_id, body, mail_from="f\u00f6\u00e4@\u00f6\u00e4.example",
                              rcpt_to=["\u00fc@example.com"])
        params = m["envelope"]["params"]
        self.assertEqual(params["smtputf8"], True)
        # The declared SIZE, not the stored size (which message.size shows).
        self.assertEqual(params["size"], 386)
        self.assertNotEqual(len(m["data"]), 386)
        self.assertEqual(params["rcpt"]["\u00fc@example.com"]["orcpt"], "utf-8;j\u00fcrgen@example.com")
        # RFC 6531 3.7.3: WITH UTF8SMTP for a transaction that used SMTPUTF8.
        received, _ = split_received(m["data"])
        self.assertIn(b" with UTF8SMTP id ", received)

    def test_control_and_invisible_characters_in_addresses_are_rejected(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<te\u0085st@example.com> SMTPUTF8".encode()), 501, "5.1.7")
        self.assertReply(c.cmd("MAIL FROM:<a@example.com> SMTPUTF8"), 250, "2.1.0")
        for ch in ("\u200b", "\u2060", "\ufeff"):
            with self.subTest(ch=ch):
                self.assertReply(c.cmd(f"RCPT TO:<test@exam{ch}ple.com>".encode()), 501, "5.1.3")

    def test_mail_parameters(self):
        c = self.session()
        cases = [("MAIL FROM:<a@example.com> BODY=FOOBAR", 501, "5.5.4"),
                 ("MAIL FROM:<a@example.com> SIZE=x", 501, "5.5.4"),
                 ("MAIL FROM:<a@example.com> FOO=BAR", 555, "5.5.4"),
                 ("MAIL FROM:<a@example.com> ENVID=ab+0D+0Acd", 501, "5.5.4"),
                 ("MAIL FROM:", 501, "5.5.4"),
                 ("MAIL FROM:a@example.com", 501, "5.5.4"),
                 ("MAIL TO:<a@example.com>", 501, "5.5.4"),
                 ("MAIL FROM:<not an address>", 501, "5.1.7")]
        for line, code, enhanced in cases:
            with self.subTest(line=line):
                self.assertReply(c.cmd(line), code, enhanced)
        for line in ("MAIL FROM:<a@example.com> ENVID=ab+2Bcd RET=HDRS", "MAIL FROM:<a@example.com> BODY=8BITMIME",
                     "MAIL FROM:<a@example.com> BODY=7BIT SIZE=1000", "MAIL FROM:<a@example.com> SMTPUTF8",
                     "MAIL FROM:<>"):
            with self.subTest(line=line):
                self.assertReply(c.cmd(line), 250, "2.1.0")
                self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_recipient_syntax(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<>"), 501, "5.1.3")
        self.assertReply(c.cmd("RCPT TO:<no at sign>"), 501, "5.1.3")
        self.assertReply(c.cmd("RCPT TO:b@example.com"), 501, "5.5.4")
        self.assertReply(c.cmd("RCPT TO:<b@example.com> FOO=BAR"), 555, "5.5.4")
        self.assertReply(c.cmd("RCPT TO:<b@example.com> NOTIFY=NEVER ORCPT=rfc822;b+40example.com"),
                         250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<@relay.example:c@example.com>"), 250, "2.1.5")

    def test_address_length_limits(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{'l' * 64}@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{'l' * 65}@example.com>"), 501, "5.1.3")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{'l' * 65}@example.com>"), 501, "5.1.7")

    def test_commands_out_of_order_get_503(self):
        c = self.session(ehlo=False)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 503, "5.5.1")
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 503, "5.5.1")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 503, "5.5.1")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA FOOBAR"), 501, "5.5.4")
        self.assertReply(c.cmd("DATA"), 354)
        body = b"Subject: order\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body, mail_from="a@example.com", rcpt_to=["b@example.com"])

    def test_rset_clears_the_transaction(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 503, "5.5.1")

    def test_helo_needs_an_argument(self):
        c = self.session(ehlo=False)
        self.assertEqual(c.cmd("HELO").code, 501)
        self.assertEqual(c.cmd("EHLO").code, 501)
        self.assertReply(c.cmd("HELO client.example"), 250)

    def test_null_sender_is_stored_as_empty_string(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<postmaster>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = b"Subject: dsn\r\n\r\nbounce\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.bridge, msg_id, body, mail_from="", rcpt_to=["postmaster"])
        self.assertStillServes()


if __name__ == "__main__":
    unittest.main()
