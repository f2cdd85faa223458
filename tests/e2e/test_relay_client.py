# The outbound SMTP client (src/relay/client*.cpp) through its driver tool relay_send against a
# real aiosmtpd upstream (upstream.py): TLS modes and certificate checks, every SASL mechanism,
# per-recipient replies, SIZE, PIPELINING, dot-stuffing, SMTPUTF8 and garbage replies.
import json
import os
import subprocess
import tempfile
import unittest

from bridge import scaled
from upstream import Upstream, make_certificate

RELAY_SEND = os.environ.get("SMTP_BRIDGE_RELAY_SEND", "")
USER, PASSWORD = "relayuser", "s3cret-pass"
MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: relay test\r\n\r\nHello.\r\n"


class RelayClientTest(unittest.TestCase):
    def setUp(self):
        if not RELAY_SEND:
            raise unittest.SkipTest("SMTP_BRIDGE_RELAY_SEND is not set")
        self.folder = tempfile.mkdtemp(prefix="e2e-relay-client-")

    def upstream(self, **kw):
        up = Upstream(**kw)
        up.start()
        self.addCleanup(up.stop)
        return up

    def send(self, up, tls="starttls", rcpts=("b@example.org",), message=MESSAGE, host="localhost",
             ca_file=None, mechanism=None, user=None, password=None, extra=()):
        path = os.path.join(self.folder, "message.eml")
        with open(path, "wb") as f:
            f.write(message)
        cmd = [RELAY_SEND, "--host", host, "--port", str(up.port), "--tls", tls,
               "--ca-file", ca_file or up.ca_file, "--ehlo", "bridge.test",
               "--mail-from", "a@example.com", "--message", path, "--timeout", str(scaled(10))]
        if mechanism:
            cmd += ["--mechanism", mechanism]
        if user is not None:
            cmd += ["--username", user, "--password", password]
        for r in rcpts:
            cmd += ["--rcpt", r]
        out = subprocess.run(cmd + list(extra), capture_output=True, timeout=scaled(60))
        self.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
        return json.loads(out.stdout)

    def assertSent(self, result, count=1):
        self.assertIsNone(result["open"], result)
        self.assertEqual([r["code"] for r in result["recipients"]], [250] * count, result)

    def assertNothingSent(self, up):
        verbs = up.verbs()
        for verb in ("MAIL", "RCPT", "DATA", "AUTH"):
            self.assertNotIn(verb, verbs, f"{verb} was sent: {verbs}")
        self.assertEqual(up.messages, [])

    # --- TLS ---------------------------------------------------------------------------------

    def test_plain_session_delivers_the_exact_bytes(self):
        up = self.upstream(tls="none")
        result = self.send(up, tls="none", rcpts=["b@example.org", "c@example.org"])
        self.assertSent(result, 2)
        msg = up.wait_messages(1)[0]
        self.assertEqual(msg.data, MESSAGE)
        self.assertEqual(msg.mail_from, "a@example.com")
        self.assertEqual(msg.rcpt_tos, ["b@example.org", "c@example.org"])
        self.assertEqual(msg.helo, "bridge.test")
        self.assertFalse(msg.tls)

    def test_starttls_upgrades_before_anything_else_and_ehlos_again(self):
        up = self.upstream(tls="starttls", require_tls=True)
        result = self.send(up)
        self.assertSent(result)
        self.assertTrue(up.wait_messages(1)[0].tls)
        self.assertTrue(result["capabilities"]["tls"])
        self.assertFalse(result["capabilities"]["starttls"], "pre-TLS capabilities kept")
        self.assertEqual(up.verbs()[:3], ["EHLO", "STARTTLS", "EHLO"])
        self.assertTrue(all(c.tls for c in up.commands[2:]), up.commands)

    def test_implicit_tls(self):
        up = self.upstream(tls="implicit")
        result = self.send(up, tls="implicit")
        self.assertSent(result)
        self.assertTrue(up.wait_messages(1)[0].tls)
        self.assertTrue(all(c.tls for c in up.commands))

    def test_starttls_required_but_not_offered_fails_and_sends_nothing_in_plaintext(self):
        up = self.upstream(tls="none", require_tls=False, auth=(USER, PASSWORD))
        result = self.send(up, tls="starttls", mechanism="plain", user=USER, password=PASSWORD)
        self.assertIsNotNone(result["open"])
        self.assertEqual(result["open"]["code"], 0)
        self.assertIn("STARTTLS", result["open"]["text"])
        self.assertNothingSent(up)
        self.assertEqual(set(up.verbs()) - {"EHLO", "QUIT"}, set(), up.verbs())

    def test_certificate_from_another_ca_is_refused(self):
        up = self.upstream(tls="starttls")
        other_ca, _ = make_certificate(cn="other", folder=self.folder)
        result = self.send(up, ca_file=other_ca)
        self.assertEqual(result["open"]["code"], 0, result)
        self.assertIn("certificate", result["open"]["text"])
        self.assertNothingSent(up)

    def test_implicit_tls_certificate_from_another_ca_is_refused(self):
        up = self.upstream(tls="implicit")
        other_ca, _ = make_certificate(cn="other", folder=self.folder)
        result = self.send(up, tls="implicit", ca_file=other_ca)
        self.assertEqual(result["open"]["code"], 0, result)
        self.assertNothingSent(up)

    def test_ip_address_must_be_in_the_certificate(self):
        ok = self.upstream(tls="starttls")
        self.assertSent(self.send(ok, host="127.0.0.1"))  # IP:127.0.0.1 in the SAN
        cert = make_certificate(cn="localhost", san="DNS:localhost", folder=self.folder)
        up = self.upstream(tls="starttls", cert=cert)
        result = self.send(up, host="127.0.0.1")
        self.assertEqual(result["open"]["code"], 0, result)
        self.assertNothingSent(up)
        self.assertSent(self.send(up, host="localhost"))  # the name matches

    def test_host_name_must_match_the_certificate(self):
        cert = make_certificate(cn="elsewhere.test", san="DNS:elsewhere.test", folder=self.folder)
        up = self.upstream(tls="implicit", cert=cert)
        result = self.send(up, tls="implicit", host="localhost")
        self.assertEqual(result["open"]["code"], 0, result)
        self.assertNothingSent(up)

    # --- AUTH ---------------------------------------------------------------------------------

    def test_each_mechanism_authenticates(self):
        for mechanism in ("plain", "login", "cram-md5", "xoauth2"):
            with self.subTest(mechanism=mechanism):
                up = self.upstream(tls="starttls", auth=(USER, PASSWORD))
                result = self.send(up, mechanism=mechanism, user=USER, password=PASSWORD)
                self.assertSent(result)
                self.assertEqual(result["capabilities"]["auth_used"], mechanism.upper())
                msg = up.wait_messages(1)[0]
                self.assertEqual(msg.auth_mechanism, mechanism.upper())
                self.assertEqual(msg.auth_user, USER)

    def test_wrong_password_is_535_and_nothing_is_sent(self):
        for mechanism in ("plain", "login", "cram-md5", "xoauth2"):
            with self.subTest(mechanism=mechanism):
                up = self.upstream(tls="starttls", auth=(USER, PASSWORD))
                result = self.send(up, mechanism=mechanism, user=USER, password="wrong")
                self.assertEqual(result["open"]["code"], 535, result)
                self.assertEqual(up.auth_failures, 1)
                self.assertNotIn("MAIL", up.verbs())
                self.assertEqual(up.messages, [])

    def test_auto_prefers_cram_md5_then_plain(self):
        up = self.upstream(tls="starttls", auth=(USER, PASSWORD))
        self.assertEqual(self.send(up, mechanism="auto", user=USER, password=PASSWORD)
                         ["capabilities"]["auth_used"], "CRAM-MD5")
        up2 = self.upstream(tls="starttls", auth=(USER, PASSWORD), mechanisms=["LOGIN", "PLAIN"])
        self.assertEqual(self.send(up2, mechanism="auto", user=USER, password=PASSWORD)
                         ["capabilities"]["auth_used"], "PLAIN")

    def test_mechanism_not_offered_fails_before_mail(self):
        up = self.upstream(tls="starttls", auth=(USER, PASSWORD), mechanisms=["PLAIN"])
        result = self.send(up, mechanism="cram-md5", user=USER, password=PASSWORD)
        self.assertEqual(result["open"]["code"], 0)
        self.assertNothingSent(up)

    # --- transactions -------------------------------------------------------------------------

    def test_per_recipient_replies_decide_each_recipient(self):
        up = self.upstream(tls="none")
        up.rcpt_replies = {"busy@example.org": ["450 4.2.1 mailbox busy"],
                           "gone@example.org": ["550 5.1.1 no such user"]}
        result = self.send(up, tls="none",
                           rcpts=["ok@example.org", "busy@example.org", "gone@example.org"])
        got = {r["rcpt"]: (r["code"], r["enhanced"]) for r in result["recipients"]}
        self.assertEqual(got, {"ok@example.org": (250, "2.0.0"),
                               "busy@example.org": (450, "4.2.1"),
                               "gone@example.org": (550, "5.1.1")})
        self.assertEqual(up.wait_messages(1)[0].rcpt_tos, ["ok@example.org"])

    def test_final_reply_applies_to_accepted_recipients_only(self):
        up = self.upstream(tls="none")
        up.rcpt_replies = {"gone@example.org": ["550 5.1.1 no such user"]}
        up.data_replies = ["451 4.3.0 try again later"]
        result = self.send(up, tls="none", rcpts=["ok@example.org", "gone@example.org"])
        self.assertEqual([(r["code"], r["enhanced"]) for r in result["recipients"]],
                         [(451, "4.3.0"), (550, "5.1.1")])
        self.assertEqual(up.messages, [])

    def test_no_accepted_recipient_sends_no_data(self):
        up = self.upstream(tls="none", pipelining=False)
        up.rcpt_replies = {"gone@example.org": ["550 5.1.1 no such user"]}
        result = self.send(up, tls="none", rcpts=["gone@example.org"])
        self.assertEqual(result["recipients"][0]["code"], 550)
        self.assertNotIn("DATA", up.verbs())

    def test_over_the_announced_size_is_refused_locally(self):
        up = self.upstream(tls="none", size=100)
        result = self.send(up, tls="none", message=MESSAGE + b"x" * 200 + b"\r\n")
        self.assertEqual((result["recipients"][0]["code"], result["recipients"][0]["enhanced"]),
                         (552, "5.3.4"))
        self.assertNotIn("MAIL", up.verbs())
        small = self.send(up, tls="none")
        self.assertSent(small)
        self.assertIn(f"SIZE={len(MESSAGE)}", up.wait_messages(1)[0].mail_options)

    def test_pipelining_groups_mail_and_rcpts_when_offered(self):
        up = self.upstream(tls="starttls")
        self.assertSent(self.send(up, rcpts=["b@example.org", "c@example.org"]), 2)
        by_verb = {}
        for c in up.commands:
            by_verb.setdefault(c.verb, []).append(c.pipelined)
        self.assertEqual(by_verb["MAIL"], [True], up.commands)  # RCPTs were already there
        self.assertEqual(by_verb["RCPT"], [True, True], up.commands)
        self.assertEqual(by_verb["EHLO"], [False, False], up.commands)

    def test_no_pipelining_waits_for_each_reply(self):
        up = self.upstream(tls="starttls", pipelining=False)
        self.assertSent(self.send(up, rcpts=["b@example.org", "c@example.org"]), 2)
        self.assertEqual([c for c in up.commands if c.pipelined], [])
        self.assertEqual(len(up.wait_messages(1)), 1)

    def test_dot_stuffing_keeps_lines_that_start_with_dots(self):
        body = (b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle . dot\r\n. \r\n"
                b"...three\r\nlast line without dot\r\n")
        up = self.upstream(tls="none")
        self.assertSent(self.send(up, tls="none", message=body))
        self.assertEqual(up.wait_messages(1)[0].data, body)

    def test_bare_line_feeds_become_crlf_and_a_final_crlf_is_added(self):
        up = self.upstream(tls="none")
        self.assertSent(self.send(up, tls="none", message=b"Subject: lf\n\nline\n.dot"))
        self.assertEqual(up.wait_messages(1)[0].data, b"Subject: lf\r\n\r\nline\r\n.dot\r\n")

    def test_smtputf8_used_when_needed_and_offered(self):
        up = self.upstream(tls="none")
        rcpt = "j\u00f6rg@example.org"
        self.assertSent(self.send(up, tls="none", rcpts=[rcpt]))
        msg = up.wait_messages(1)[0]
        self.assertIn("SMTPUTF8", msg.mail_options)
        self.assertEqual(msg.rcpt_tos, [rcpt])

    def test_smtputf8_needed_but_not_offered_is_refused_locally(self):
        up = self.upstream(tls="none", smtputf8=False)
        result = self.send(up, tls="none", rcpts=["j\u00f6rg@example.org"])
        self.assertEqual(result["recipients"][0]["code"], 553)
        self.assertNotIn("MAIL", up.verbs())

    def test_8bit_message_says_body_8bitmime_when_offered(self):
        up = self.upstream(tls="none")
        message = MESSAGE.replace(b"Hello.", "Grüße.".encode())
        self.assertSent(self.send(up, tls="none", message=message))
        msg = up.wait_messages(1)[0]
        self.assertIn("BODY=8BITMIME", msg.mail_options)
        self.assertEqual(msg.data, message)
        # A 7-bit message does not claim 8BITMIME.
        self.assertSent(self.send(up, tls="none"))
        self.assertNotIn("BODY=8BITMIME", up.wait_messages(2)[1].mail_options)

    def test_8bit_message_without_8bitmime_offered_is_refused_locally(self):
        up = self.upstream(tls="none", eightbitmime=False)
        message = MESSAGE.replace(b"Hello.", "Grüße.".encode())
        result = self.send(up, tls="none", message=message)
        self.assertEqual(result["recipients"][0]["code"], 554)
        self.assertEqual(result["recipients"][0]["enhanced"], "5.6.3")
        self.assertNotIn("MAIL", up.verbs())

    def test_helo_when_ehlo_is_refused_and_no_extension_is_used(self):
        up = self.upstream(tls="none", ehlo=False)
        self.assertSent(self.send(up, tls="none"))
        msg = up.wait_messages(1)[0]
        self.assertEqual(msg.data, MESSAGE)
        self.assertEqual(msg.helo, "bridge.test")
        self.assertEqual(msg.mail_options, [])  # no SIZE= or BODY= after HELO
        verbs = up.verbs()
        self.assertEqual(verbs[:2], ["EHLO", "HELO"])
        # Without EHLO nothing 8-bit can be sent (RFC 6152 needs the extension).
        result = self.send(up, tls="none", message=MESSAGE.replace(b"Hello.", "Grüße.".encode()))
        self.assertEqual(result["recipients"][0]["code"], 554)

    def test_session_is_reused_with_rset_between_messages(self):
        up = self.upstream(tls="starttls")
        result = self.send(up, extra=["--repeat", "3"])
        self.assertEqual(len(result["transactions"]), 3)
        self.assertEqual(len(up.wait_messages(3)), 3)
        self.assertEqual(up.connections, 1)
        self.assertEqual(up.verbs().count("RSET"), 2)

    def test_garbage_reply_fails_the_recipients_locally(self):
        up = self.upstream(tls="none")
        up.data_faults = ["garbage"]
        result = self.send(up, tls="none")
        self.assertEqual(result["recipients"][0]["code"], 0, result)
        self.assertFalse(result["transactions"][0]["connection_usable"])

    def test_connection_dropped_before_the_final_reply_is_a_local_failure(self):
        up = self.upstream(tls="none")
        up.data_faults = ["drop"]
        result = self.send(up, tls="none", rcpts=["b@example.org", "c@example.org"])
        self.assertEqual([r["code"] for r in result["recipients"]], [0, 0], result)
        self.assertEqual(len(up.dropped), 1)

    def test_stalled_final_reply_times_out(self):
        up = self.upstream(tls="none")
        up.data_faults = ["stall"]
        path = os.path.join(self.folder, "m.eml")
        with open(path, "wb") as f:
            f.write(MESSAGE)
        out = subprocess.run([RELAY_SEND, "--host", "127.0.0.1", "--port", str(up.port), "--tls",
                              "none", "--rcpt", "b@example.org", "--message", path,
                              "--mail-from", "a@example.com", "--timeout", "1"],
                             capture_output=True, timeout=scaled(30))
        result = json.loads(out.stdout)
        self.assertEqual(result["recipients"][0]["code"], 0)
        self.assertIn("timed out", result["recipients"][0]["text"])

    def test_greeting_421_fails_open_with_that_reply(self):
        up = self.upstream(tls="none")
        up.connect_faults = ["421 4.7.0 too busy, later"]
        result = self.send(up, tls="none")
        self.assertEqual((result["open"]["code"], result["open"]["enhanced"]), (421, "4.7.0"))

    def test_connection_refused_is_a_local_failure(self):
        up = self.upstream(tls="none")
        port = up.port
        up.stop()
        path = os.path.join(self.folder, "m.eml")
        with open(path, "wb") as f:
            f.write(MESSAGE)
        out = subprocess.run([RELAY_SEND, "--host", "127.0.0.1", "--port", str(port), "--tls",
                              "none", "--rcpt", "b@example.org", "--message", path],
                             capture_output=True, timeout=scaled(30))
        result = json.loads(out.stdout)
        self.assertEqual(result["open"]["code"], 0)
        self.assertIn("connect", result["open"]["text"])


if __name__ == "__main__":
    unittest.main()
