# Real SMTP clients (swaks, curl, msmtp, s-nail, Python smtplib) against the real bridge: plain,
# STARTTLS + AUTH PLAIN/LOGIN and implicit TLS. Each asserts the stored bytes (minus the bridge's
# Received: header), the envelope (mail_from, rcpt_to, tls, auth) and that the bridge still serves.
import os
import shutil
import smtplib
import subprocess
import tempfile
import unittest

import bridge
from bridge import BridgeTest, queued_id, scaled

USER, PASSWORD = "user", "s3cret pass"
FILE_USER, FILE_PASSWORD = "fileuser", "from-a-file"
_secret_dir = tempfile.mkdtemp(prefix="e2e-secret-")
_secret_file = os.path.join(_secret_dir, "password")
with open(_secret_file, "w") as _f:
    _f.write(FILE_PASSWORD + "\n")


def tearDownModule():
    shutil.rmtree(_secret_dir, ignore_errors=True)


def message(tag):
    return (f"From: Alice <a@example.com>\r\nTo: Bob <b@example.com>\r\nSubject: e2e {tag}\r\n"
            f"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <{tag}@example.com>\r\n\r\n"
            f"Hello from {tag}\r\n.a line with a leading dot\r\n..two dots\r\n\r\nend\r\n").encode()


class RealClients(BridgeTest):
    bridge_options = {"implicit_tls": True, "smtp": {"auth": {"users": [
        {"username": USER, "password": PASSWORD},
        {"username": FILE_USER, "password_file": _secret_file}]}}}

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="e2e-client-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.env = dict(os.environ, HOME=self.tmp)
        self.cert = bridge.certificate()[0]
        self.port = self.bridge.port("smtp")
        self.sport = self.bridge.port("smtps")

    def write(self, data, name="msg.eml"):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_client(self, argv, stdin=None):
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env, timeout=scaled(30), cwd=self.tmp)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"{argv[0]} failed:\n{out}")
        msg_id = queued_id(out)
        self.assertIsNotNone(msg_id, f"no 'queued as <id>' in the {argv[0]} transcript:\n{out}")
        return msg_id

    def check(self, msg_id, body, tls=False, auth=None, rcpt=("b@example.com",)):
        m = self.assertStored(self.bridge, msg_id, body, mail_from="a@example.com", rcpt_to=rcpt)
        self.check_envelope(m, tls, auth)
        self.assertStillServes()
        return m

    def check_envelope(self, m, tls, auth):
        env = m["envelope"]
        if tls:
            self.assertIsInstance(env.get("tls"), dict, f"envelope.tls: {env.get('tls')!r}")
            self.assertRegex(env["tls"].get("version", ""), r"^TLSv1\.[23]$")
            self.assertTrue(env["tls"].get("cipher"))
        else:
            self.assertIn("tls", env)
            self.assertIsNone(env["tls"])
        self.assertIn("auth", env)
        if auth:
            self.assertIsNotNone(env["auth"])
            self.assertIn(auth, str(env["auth"]))
            self.assertNotIn(PASSWORD, str(env))
            self.assertNotIn(FILE_PASSWORD, str(env))
        else:
            self.assertIsNone(env["auth"])

    # --- swaks (it ends the data with CRLF . CRLF itself, so the file has no final CRLF) ---

    def swaks(self, tag, *extra, port=None):
        data = message(tag)
        path = self.write(data[:-2])
        msg_id = self.run_client(["swaks", "--server", f"127.0.0.1:{port or self.port}",
                                  "-f", "a@example.com", "-t", "b@example.com",
                                  "--data", "@" + path, *extra])
        return msg_id, data

    def test_swaks_plain_message_is_stored_byte_for_byte(self):
        msg_id, data = self.swaks("swaks-plain")
        self.check(msg_id, data)

    def test_swaks_pipelined_starttls_auth_plain(self):
        msg_id, data = self.swaks("swaks-plain-auth", "--pipeline", "--tls", "--tls-verify",
                                  "--tls-ca-path", self.cert, "--auth", "PLAIN",
                                  "--auth-user", USER, "--auth-password", PASSWORD)
        self.check(msg_id, data, tls=True, auth=USER)

    def test_swaks_starttls_auth_login_with_password_file_user(self):
        msg_id, data = self.swaks("swaks-login", "--tls", "--auth", "LOGIN",
                                  "--auth-user", FILE_USER, "--auth-password", FILE_PASSWORD)
        self.check(msg_id, data, tls=True, auth=FILE_USER)

    def test_swaks_implicit_tls(self):
        msg_id, data = self.swaks("swaks-smtps", "--tlsc", port=self.sport)
        self.check(msg_id, data, tls=True)

    def test_swaks_default_message_has_its_headers(self):
        msg_id = self.run_client(["swaks", "--server", f"127.0.0.1:{self.port}", "-f", "a@example.com",
                                  "-t", "b@example.com,c@example.com",
                                  "--header", "Subject: swaks default body"])
        m = self.bridge.message(msg_id)
        _, rest = bridge.split_received(m["data"])
        self.assertIn(b"\r\nSubject: swaks default body\r\n", b"\r\n" + rest)
        self.assertIn(b"This is a test mailing", rest)
        self.assertEqual(m["rcpt_to"], ["b@example.com", "c@example.com"])
        self.check_envelope(m, False, None)

    # --- curl ---

    def curl(self, url, data, *extra):
        path = self.write(data)
        return self.run_client(["curl", "-v", "-sS", url, "--mail-from", "a@example.com",
                                "--mail-rcpt", "b@example.com", "--upload-file", path, *extra])

    def test_curl_plain(self):
        data = message("curl-plain")
        self.check(self.curl(f"smtp://127.0.0.1:{self.port}", data), data)

    def test_curl_crlf_option_turns_lf_file_into_crlf_message(self):
        data = message("curl-crlf")
        msg_id = self.curl(f"smtp://127.0.0.1:{self.port}", data.replace(b"\r\n", b"\n"), "--crlf")
        self.check(msg_id, data)

    def test_curl_starttls_auth_plain_verified(self):
        data = message("curl-starttls-plain")
        msg_id = self.curl(f"smtp://127.0.0.1:{self.port}", data, "--ssl-reqd", "--cacert", self.cert,
                           "--user", f"{USER}:{PASSWORD}", "--login-options", "AUTH=PLAIN")
        self.check(msg_id, data, tls=True, auth=USER)

    def test_curl_starttls_auth_login_insecure(self):
        data = message("curl-starttls-login")
        msg_id = self.curl(f"smtp://127.0.0.1:{self.port}", data, "--ssl-reqd", "-k",
                           "--user", f"{USER}:{PASSWORD}", "--login-options", "AUTH=LOGIN")
        self.check(msg_id, data, tls=True, auth=USER)

    def test_curl_smtps_implicit_tls_with_auth(self):
        data = message("curl-smtps")
        msg_id = self.curl(f"smtps://127.0.0.1:{self.sport}", data, "--cacert", self.cert,
                           "--user", f"{FILE_USER}:{FILE_PASSWORD}")
        self.check(msg_id, data, tls=True, auth=FILE_USER)

    # --- msmtp ---

    def msmtp(self, data, *extra, port=None):
        return self.run_client(["msmtp", "-v", "-C", "/dev/null", "--host=127.0.0.1",
                                f"--port={port or self.port}", "--from=a@example.com", *extra,
                                "b@example.com"], stdin=data)

    def test_msmtp_plain(self):
        data = message("msmtp-plain")
        self.check(self.msmtp(data), data)

    def test_msmtp_starttls_auth_plain(self):
        data = message("msmtp-plain-auth")
        msg_id = self.msmtp(data, "--tls=on", "--tls-starttls=on", f"--tls-trust-file={self.cert}",
                            "--auth=plain", f"--user={USER}", f"--passwordeval=echo '{PASSWORD}'")
        self.check(msg_id, data, tls=True, auth=USER)

    def test_msmtp_starttls_auth_login(self):
        data = message("msmtp-login")
        msg_id = self.msmtp(data, "--tls=on", "--tls-starttls=on", f"--tls-trust-file={self.cert}",
                            "--auth=login", f"--user={USER}", f"--passwordeval=echo '{PASSWORD}'")
        self.check(msg_id, data, tls=True, auth=USER)

    def test_msmtp_implicit_tls(self):
        data = message("msmtp-smtps")
        msg_id = self.msmtp(data, "--tls=on", "--tls-starttls=off", f"--tls-trust-file={self.cert}",
                            port=self.sport)
        self.check(msg_id, data, tls=True)

    # --- s-nail (writes its own headers: assert the ones we control and the body; it does not
    # match IP addresses against subjectAltName, so its certificate check is off) ---

    def snail(self, url, tag, *extra):
        msg_id = self.run_client(["s-nail", "-:/", "-Sv15-compat", "-Snosave", "-vv", f"-Smta={url}",
                                  "-r", "a@example.com", "-s", f"s-nail {tag}", *extra, "b@example.com"],
                                 stdin=f"body of {tag}\n.dotted line\n".encode())
        m = self.bridge.message(msg_id)
        self.assertIsNotNone(m)
        _, rest = bridge.split_received(m["data"])
        head, _, body = rest.partition(b"\r\n\r\n")
        self.assertEqual(body, f"body of {tag}\r\n.dotted line\r\n".encode())
        fields = head.split(b"\r\n")
        self.assertIn(f"Subject: s-nail {tag}".encode(), fields)
        self.assertIn(b"To: b@example.com", fields)
        self.assertIn(b"From: a@example.com", fields)
        self.assertEqual(m["mail_from"], "a@example.com")
        self.assertEqual(m["rcpt_to"], ["b@example.com"])
        return m

    def test_snail_plain(self):
        m = self.snail(f"smtp://127.0.0.1:{self.port}", "plain", "-Ssmtp-auth=none")
        self.check_envelope(m, False, None)
        self.assertStillServes()

    def test_snail_starttls_auth_plain(self):
        m = self.snail(f"smtp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{self.port}",
                       "starttls-plain", "-Ssmtp-use-starttls", "-Ssmtp-auth=plain",
                       "-Stls-verify=ignore")
        self.check_envelope(m, True, USER)
        self.assertStillServes()

    def test_snail_starttls_auth_login(self):
        m = self.snail(f"smtp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{self.port}",
                       "starttls-login", "-Ssmtp-use-starttls", "-Ssmtp-auth=login",
                       "-Stls-verify=ignore")
        self.check_envelope(m, True, USER)
        self.assertStillServes()

    def test_snail_implicit_tls(self):
        m = self.snail(f"smtps://127.0.0.1:{self.sport}", "smtps", "-Ssmtp-auth=none",
                       "-Stls-verify=ignore")
        self.check_envelope(m, True, None)
        self.assertStillServes()

    # --- Python smtplib ---

    def smtplib_send(self, s, data, mail_options=(), rcpts=("b@example.com",)):
        code, _ = s.ehlo("smtplib.example")
        self.assertEqual(code, 250)
        code, resp = s.mail("a@example.com", list(mail_options))
        self.assertEqual(code, 250, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            self.assertEqual(code, 250, resp)
        code, resp = s.data(data)
        self.assertEqual(code, 250, resp)
        self.assertTrue(resp.startswith(b"2.0.0 Ok: queued as"), resp)
        msg_id = queued_id(resp)
        self.assertIsNotNone(msg_id, resp)
        s.quit()
        return msg_id

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=scaled(20))

    def test_smtplib_plain(self):
        data = message("smtplib-plain")
        self.check(self.smtplib_send(self.smtp(), data), data)

    def login(self, s, mechanism, user=USER, password=PASSWORD):
        s.starttls(context=bridge.client_tls_context())
        s.ehlo("smtplib.example")
        self.assertIn(mechanism, s.esmtp_features.get("auth", "").upper().split())
        s.user, s.password = user, password
        auth_method = s.auth_plain if mechanism == "PLAIN" else s.auth_login
        code, resp = s.auth(mechanism, auth_method)
        self.assertEqual(code, 235, resp)

    def test_smtplib_starttls_auth_plain(self):
        data = message("smtplib-plain-auth")
        s = self.smtp()
        self.login(s, "PLAIN")
        self.check(self.smtplib_send(s, data), data, tls=True, auth=USER)

    def test_smtplib_starttls_auth_login_file_password(self):
        data = message("smtplib-login")
        s = self.smtp()
        self.login(s, "LOGIN", FILE_USER, FILE_PASSWORD)
        self.check(self.smtplib_send(s, data), data, tls=True, auth=FILE_USER)

    def test_smtplib_login_picks_a_mechanism(self):
        data = message("smtplib-login-auto")
        s = self.smtp()
        s.starttls(context=bridge.client_tls_context())
        s.login(USER, PASSWORD)
        self.check(self.smtplib_send(s, data), data, tls=True, auth=USER)

    def test_smtplib_smtp_ssl(self):
        data = message("smtplib-ssl")
        s = smtplib.SMTP_SSL("127.0.0.1", self.sport, context=bridge.client_tls_context(),
                             timeout=scaled(20))
        self.check(self.smtplib_send(s, data), data, tls=True)

    def test_smtplib_wrong_password_is_535_and_nothing_is_sent(self):
        s = self.smtp()
        s.starttls(context=bridge.client_tls_context())
        with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
            s.login(USER, "wrong")
        self.assertEqual(ctx.exception.smtp_code, 535)
        s.close()
        self.assertStillServes()

    # --- content ---

    def test_8bit_and_binaryish_bytes_are_kept(self):
        high = bytes(range(0x80, 0x100))
        ctrl = bytes(b for b in range(0, 0x20) if b not in (0x0A, 0x0D))
        data = (b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin1\r\n"
                b"Content-Transfer-Encoding: 8bit\r\n\r\n" + high + b"\r\n" + ctrl + b"\x7f\r\n"
                + "Grüße, Отчёт, 日本語\r\n".encode())
        msg_id = self.smtplib_send(self.smtp(), data, mail_options=["BODY=8BITMIME"])
        self.check(msg_id, data)

    def test_one_megabyte_message(self):
        line = b"".join(bytes([0x41 + i % 26]) for i in range(76)) + b"\r\n"
        data = b"Subject: big\r\n\r\n" + line * (1024 * 1024 // len(line) + 1)
        self.assertGreater(len(data), 1024 * 1024)
        msg_id = self.smtplib_send(self.smtp(), data)
        self.check(msg_id, data)

    def test_dot_stuffing_round_trip(self):
        data = (b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n.leading\r\n..double\r\n"
                b"middle . dot\r\n. space\r\n.\r\n")
        msg_id = self.smtplib_send(self.smtp(), data)
        self.check(msg_id, data)

    def test_several_recipients_and_null_sender(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.mail("<>")[0], 250)
        for r in ("b@example.com", "c@example.com", "d@example.org"):
            self.assertEqual(s.rcpt(r)[0], 250)
        data = b"Subject: bounce\r\n\r\nnull sender\r\n"
        code, resp = s.data(data)
        self.assertEqual(code, 250, resp)
        s.quit()
        m = self.assertStored(self.bridge, queued_id(resp), data, mail_from="",
                              rcpt_to=["b@example.com", "c@example.com", "d@example.org"])
        self.check_envelope(m, False, None)


if __name__ == "__main__":
    unittest.main()
