# Certificate reload without a restart (issue 5, part 4): when smtp.tls's files change on disk,
# new STARTTLS and SMTPS handshakes get the new certificate (also of another key type), sessions
# already in TLS carry on, and a pair that does not match is refused and counted while the old
# certificate stays in service.
import os
import ssl
import socket
import subprocess
import tempfile
import shutil
import time
import unittest

from bridge import BridgeTest, Raw, scaled
from test_admin import Metrics, wait_metrics


def make_pair(folder, name, key_type="rsa", days=2):
    """(cert_path, key_path) of a new self-signed localhost certificate."""
    cert, key = os.path.join(folder, f"{name}.crt"), os.path.join(folder, f"{name}.key")
    newkey = (["-newkey", "rsa:2048"] if key_type == "rsa" else
              ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-days", str(days),
                    "-subj", f"/CN=localhost/O={name}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def unverified_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test compares the certificate itself
    return ctx


def copy_in_place(source, target):
    """Overwrites target's bytes (same inode), as an editor or `cp` would."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())


def replace_atomically(source, target):
    """A new file renamed over target (new inode), as cert-manager or a Secret update does."""
    tmp = target + ".new"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


class StartTlsSession:
    """An SMTP session upgraded with STARTTLS, certificate not verified."""

    def __init__(self, tc, port):
        self.raw = Raw(port)
        tc.addCleanup(self.raw.close)
        tc.assertEqual(self.raw.ehlo().code, 250)
        tc.assertReply(self.raw.cmd("STARTTLS"), 220, "2.0.0")
        self.raw.sock = unverified_context().wrap_socket(self.raw.sock,
                                                         server_hostname="localhost")
        self.raw.buf = b""
        self.certificate = self.raw.sock.getpeercert(binary_form=True)


def starttls_certificate(tc, port):
    s = StartTlsSession(tc, port)
    s.raw.close()
    return s.certificate


def smtps_certificate(port):
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(10)) as plain:
        with unverified_context().wrap_socket(plain, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


class CertificateReload(BridgeTest):

    def setUp(self):
        super().setUp()
        self.folder = tempfile.mkdtemp(prefix="e2e-tls-reload-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.cert = os.path.join(self.folder, "tls.crt")
        self.key = os.path.join(self.folder, "tls.key")
        first_cert, first_key = make_pair(self.folder, "first", "rsa", days=2)
        shutil.copyfile(first_cert, self.cert)
        shutil.copyfile(first_key, self.key)
        self.first = der(first_cert)
        self.b = self.start_bridge(smtp={"tls": {"cert_file": self.cert, "key_file": self.key},
                                         "tls_listen": ["127.0.0.1:0"]})
        self.pid = self.b.proc.pid

    def wait_served(self, expected, what):
        end = time.monotonic() + scaled(20)
        while True:
            got = starttls_certificate(self, self.b.port())
            if got == expected or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertTrue(got == expected, f"STARTTLS does not serve the {what} certificate")

    def assertSameProcess(self):
        self.assertTrue(self.b.alive(), "the bridge is no longer running")
        self.assertEqual(self.b.proc.pid, self.pid)

    def test_replaced_certificate_is_served_to_new_connections_without_a_restart(self):
        self.assertEqual(starttls_certificate(self, self.b.port()), self.first)
        self.assertEqual(smtps_certificate(self.b.port("smtps")), self.first)
        before = Metrics(self.b.port("admin"))
        self.assertEqual(before.with_name("smtp_bridge_smtp_tls_reloads_total"), {})
        old_expiry = before.value("smtp_bridge_smtp_tls_certificate_expiry_timestamp_seconds")
        established = StartTlsSession(self, self.b.port())  # handshaken before the change

        # Another key type too (RSA → ECDSA): the old certificate must not stay selectable.
        second_cert, second_key = make_pair(self.folder, "second", "ec", days=30)
        replace_atomically(second_key, self.key)
        replace_atomically(second_cert, self.cert)
        second = der(second_cert)
        self.wait_served(second, "second")
        self.assertEqual(smtps_certificate(self.b.port("smtps")), second)

        m = wait_metrics(self.b.port("admin"),
                         lambda m: m.get("smtp_bridge_smtp_tls_reloads_total",
                                         result="success") is not None,
                         "a successful reload counted")
        self.assertGreaterEqual(m.value("smtp_bridge_smtp_tls_reloads_total", result="success"), 1)
        expiry = m.value("smtp_bridge_smtp_tls_certificate_expiry_timestamp_seconds")
        self.assertGreater(expiry, old_expiry + 20 * 86400)  # the new one is valid for 30 days

        # The session handshaken before the change carries on with its certificate.
        c = established.raw
        self.assertEqual(established.certificate, self.first)
        c.open_data(self, mail_from="before-reload@example.com")
        body = b"Subject: across a certificate reload\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(self.b, msg_id, body, mail_from="before-reload@example.com")
        self.assertSameProcess()

    def test_a_mismatched_pair_is_refused_and_the_old_certificate_kept(self):
        third_cert, third_key = make_pair(self.folder, "third", "rsa")
        copy_in_place(third_cert, self.cert)  # the key still is the first one's
        m = wait_metrics(self.b.port("admin"),
                         lambda m: (m.get("smtp_bridge_smtp_tls_reloads_total",
                                          result="failure") or 0) >= 1,
                         "the mismatched pair counted as a failed reload", scaled(20))
        self.assertIsNone(m.get("smtp_bridge_smtp_tls_reloads_total", result="success"))
        self.assertEqual(starttls_certificate(self, self.b.port()), self.first)
        self.assertEqual(smtps_certificate(self.b.port("smtps")), self.first)

        copy_in_place(third_key, self.key)  # now the pair matches
        self.wait_served(der(third_cert), "third")
        m = Metrics(self.b.port("admin"))
        # An in-place write seen half done counts as one more failure: at least, not exactly.
        self.assertGreaterEqual(m.value("smtp_bridge_smtp_tls_reloads_total", result="success"), 1)
        self.assertGreaterEqual(m.value("smtp_bridge_smtp_tls_reloads_total", result="failure"), 1)
        self.assertSameProcess()

    def test_a_removed_key_file_keeps_the_certificate_in_service(self):
        os.unlink(self.key)
        wait_metrics(self.b.port("admin"),
                     lambda m: m.get("smtp_bridge_smtp_tls_reloads_total", result="failure") == 1,
                     "the unreadable key counted as a failed reload", scaled(20))
        self.assertEqual(smtps_certificate(self.b.port("smtps")), self.first)
        self.assertStillServes(self.b, "smtp")
        self.assertSameProcess()


if __name__ == "__main__":
    unittest.main()
