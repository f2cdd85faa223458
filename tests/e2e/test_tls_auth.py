# STARTTLS (RFC 3207; SMTP-CASES.md 5) and AUTH (RFC 4954; SMTP-CASES.md 6): plaintext pipelined
# after STARTTLS is discarded (CVE-2011-0411), TLS forgets the session, require_tls answers 530,
# AUTH PLAIN/LOGIN with cancel, bad base64, bad credentials, second AUTH and unknown mechanisms.
import ssl
import unittest

import bridge
from bridge import BridgeTest, b64, Raw

USER, PASSWORD = "user", "goodpasswd"
GOOD_PLAIN = b64(f"\0{USER}\0{PASSWORD}")
AUTH = {"auth": {"users": [{"username": USER, "password": PASSWORD}]}}


class StartTls(BridgeTest):
    bridge_options = {"tls": True, "smtp": AUTH}

    def test_plain_ehlo_offers_starttls_but_not_auth(self):
        c = self.raw()
        keywords = [l[4:].split(b" ")[0].upper() for l in c.ehlo().lines[1:]]
        self.assertIn(b"STARTTLS", keywords)
        self.assertNotIn(b"AUTH", keywords)

    def test_ehlo_inside_tls_offers_auth_and_no_starttls(self):
        c = self.raw()
        c.ehlo()
        c.starttls()
        r = c.ehlo()
        self.assertEqual(r.code, 250)
        text = b"\n".join(l[4:].upper() for l in r.lines[1:])
        self.assertNotIn(b"STARTTLS", text)
        self.assertRegex(text, rb"(?m)^AUTH .*PLAIN")
        self.assertRegex(text, rb"(?m)^AUTH .*LOGIN")

    def test_plaintext_pipelined_after_starttls_is_discarded(self):
        c = self.raw()
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\n")
        r = c.reply()
        self.assertReply(r, 220, "2.0.0")
        self.assertEqual(c.buf, b"", f"plaintext reply after 220: {c.buf!r}")
        c.tls_upgrade()
        # A fresh session: had the RSET run, its 250 would come first.
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 503, "5.5.1")
        self.assertStillServes()

    def test_injected_mail_and_rcpt_after_starttls_do_not_run(self):
        before = self.bridge.count()
        c = self.raw()
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<b@example.com>\r\n")
        self.assertReply(c.reply(), 220, "2.0.0")
        c.tls_upgrade()
        r = c.ehlo()
        self.assertEqual(r.code, 250)
        self.assertGreater(len(r.lines), 1, f"first reply inside TLS is not the EHLO reply: {r!r}")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 503, "5.5.1")
        self.assertEqual(self.bridge.messages_from("evil@example.com"), [])
        self.assertEqual(self.bridge.count(), before)

    def test_tls_forgets_the_session(self):
        c = self.raw()
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        c.starttls()
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 503, "5.5.1")  # no EHLO yet
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 503, "5.5.1")    # MAIL forgotten
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")                        # RCPT forgotten
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = b"Subject: tls\r\n\r\nover tls\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        m = self.assertStored(self.bridge, msg_id, body, mail_from="a@example.com")
        self.assertIsInstance(m["envelope"]["tls"], dict)

    def test_starttls_with_an_argument_is_501(self):
        c = self.raw()
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS FOO"), 501, "5.5.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_second_starttls_inside_tls_is_503(self):
        c = self.raw()
        c.ehlo()
        c.starttls()
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS"), 503, "5.5.1")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_tls_1_2_is_accepted(self):
        c = self.raw()
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        ctx = bridge.client_tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        self.assertEqual(c.sock.version(), "TLSv1.2")
        c.open_data(self)
        msg_id = self.assertQueued(c.cmd(b"Subject: 1.2\r\n\r\nx\r\n."))
        self.assertEqual(self.bridge.message(msg_id)["envelope"]["tls"]["version"], "TLSv1.2")

    def test_garbage_instead_of_a_handshake_does_not_hurt(self):
        c = self.raw()
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.send(b"EHLO not a client hello\r\n" * 3)
        try:
            c.read_until_close()
        except OSError:
            pass
        self.assertStillServes()

    # --- AUTH ---

    def tls_session(self):
        c = self.raw()
        c.ehlo()
        c.starttls()
        return c

    def test_auth_without_tls_is_538(self):
        c = self.raw()
        c.ehlo()
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 538, "5.7.11")
        self.assertReply(c.cmd("AUTH LOGIN"), 538, "5.7.11")

    def test_auth_before_ehlo_is_503(self):
        c = self.tls_session()
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 503, "5.5.1")

    def test_auth_plain_good_credentials_then_mail(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 235, "2.7.0")
        c.open_data(self, ehlo=False)
        body = b"Subject: authed\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        m = self.assertStored(self.bridge, msg_id, body)
        self.assertIn(USER, str(m["envelope"]["auth"]))
        self.assertNotIn(PASSWORD.encode(), m["data"])
        self.assertNotIn(PASSWORD, str(m["envelope"]))

    def test_password_never_appears_in_the_logs(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 235, "2.7.0")
        c.cmd("QUIT")
        c.close()
        self.assertStillServes()
        out = "".join(self.bridge.lines)
        self.assertNotIn(PASSWORD, out)
        self.assertNotIn(GOOD_PLAIN, out)

    def test_auth_plain_bad_credentials_are_535(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + b64(f"\0badlogin\0{PASSWORD}")), 535, "5.7.8")
        self.assertReply(c.cmd("AUTH PLAIN " + b64(f"\0{USER}\0badpasswd")), 535, "5.7.8")
        self.assertReply(c.cmd("AUTH PLAIN " + b64("\0test\0test")), 535, "5.7.8")
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 235, "2.7.0")

    def test_auth_plain_malformed_responses_are_501(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN not-b64!"), 501, "5.5.2")
        self.assertReply(c.cmd("AUTH PLAIN " + b64("\0onlylogin")), 501, "5.5.2")
        self.assertReply(c.cmd("AUTH PLAIN ="), 501, "5.5.2")
        self.assertReply(c.cmd("AUTH PLAIN " + b64(f"\0us\x01er\0{PASSWORD}")), 501, "5.5.2")
        self.assertEqual(c.cmd("AUTH PLAIN NONE NONE").code, 501)
        self.assertEqual(c.cmd("AUTH").code, 501)
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 235, "2.7.0")

    def test_auth_plain_two_steps_cancel_and_bad_base64(self):
        c = self.tls_session()
        c.ehlo()
        r = c.cmd("AUTH PLAIN")
        self.assertEqual(r.code, 334)
        self.assertEqual(r.lines[0].rstrip(), b"334")
        self.assertReply(c.cmd("*"), 501, "5.7.0")
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        self.assertReply(c.cmd("ab@%"), 501, "5.5.2")
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        self.assertReply(c.cmd(GOOD_PLAIN), 235, "2.7.0")

    def test_auth_login_steps_and_cancel(self):
        c = self.tls_session()
        c.ehlo()
        r = c.cmd("AUTH LOGIN")
        self.assertEqual((r.code, r.text), (334, "VXNlcm5hbWU6"))
        self.assertReply(c.cmd("*"), 501, "5.7.0")
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        r = c.cmd(b64(USER))
        self.assertEqual((r.code, r.text), (334, "UGFzc3dvcmQ6"))
        self.assertReply(c.cmd("*"), 501, "5.7.0")
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64(USER)).code, 334)
        self.assertReply(c.cmd(b64("wrong")), 535, "5.7.8")
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64(USER)).code, 334)
        self.assertReply(c.cmd(b64(PASSWORD)), 235, "2.7.0")
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")

    def test_auth_login_with_initial_response(self):
        c = self.tls_session()
        c.ehlo()
        r = c.cmd("AUTH LOGIN " + b64(USER))
        self.assertEqual((r.code, r.text), (334, "UGFzc3dvcmQ6"))
        self.assertReply(c.cmd(b64(PASSWORD)), 235, "2.7.0")

    def test_unknown_mechanism_is_504(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd("AUTH FOOBAR"), 504, "5.5.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_second_auth_is_503_also_after_rset(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}")), 235, "2.7.0")
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 503, "5.5.1")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("AUTH LOGIN"), 503, "5.5.1")

    def test_auth_during_a_transaction_is_503(self):
        c = self.tls_session()
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 503, "5.5.1")


class RequireTls(BridgeTest):
    bridge_options = {"tls": True, "smtp": {"require_tls": True}}

    def test_mail_rcpt_data_before_starttls_are_530(self):
        before = self.bridge.count()
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 530, "5.7.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 530, "5.7.0")
        self.assertReply(c.cmd("DATA"), 530, "5.7.0")
        self.assertEqual(self.bridge.count(), before)
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_after_starttls_mail_is_accepted(self):
        c = self.raw()
        c.ehlo()
        c.starttls()
        c.open_data(self)
        body = b"Subject: required tls\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        m = self.assertStored(self.bridge, msg_id, body)
        self.assertIsInstance(m["envelope"]["tls"], dict)


class ImplicitTls(BridgeTest):
    bridge_options = {"implicit_tls": True, "smtp": AUTH}

    def test_smtps_listener_greets_inside_tls_and_stores(self):
        c = self.raw(listener="smtps")
        self.assertReply(c.greeting, 220)
        r = c.ehlo()
        keywords = [l[4:].split(b" ")[0].upper() for l in r.lines[1:]]
        self.assertNotIn(b"STARTTLS", keywords)
        self.assertIn(b"AUTH", keywords)
        self.assertReply(c.cmd(f"AUTH PLAIN {GOOD_PLAIN}"), 235, "2.7.0")
        c.open_data(self, ehlo=False)
        body = b"Subject: smtps\r\n\r\nimplicit\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        m = self.assertStored(self.bridge, msg_id, body, mail_from="a@example.com")
        self.assertRegex(m["envelope"]["tls"]["version"], r"^TLSv1\.[23]$")
        self.assertStillServes(listener="smtps")
        self.assertStillServes(listener="smtp")

    def test_plaintext_to_the_smtps_port_is_dropped(self):
        c = Raw(self.bridge.port("smtps"), greeting=False)
        self.addCleanup(c.close)
        c.send(b"EHLO plain.example\r\n")
        data = c.read_until_close()
        self.assertFalse(data.startswith(b"250"), data)
        self.assertStillServes(listener="smtps")


if __name__ == "__main__":
    unittest.main()
