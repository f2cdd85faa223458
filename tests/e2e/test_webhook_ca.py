# routes[].endpoints[].ca_file: an HTTPS endpoint whose certificate comes from a private CA (made
# here with openssl) is delivered to when its ca_file names that CA, and never without it or with
# another CA's bundle — certificate verification stays on; failures are retried with last_error.
import os
import shutil
import subprocess
import tempfile
import unittest

from bridge import BIN, Bridge, BridgeTest
from receiver import Receiver, make_secret, smtplib_send, verifies, wait_rows

SECRET = make_secret("ca-file")
FAST_RETRY = {"initial": "200ms", "max_interval": "500ms", "max_age": "1h"}


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(folder, name):
    """(ca_cert, ca_key): a self-signed CA certificate (basicConstraints CA:TRUE)."""
    cert, key = os.path.join(folder, f"{name}.pem"), os.path.join(folder, f"{name}.key")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", key, "-out", cert)
    return cert, key


def make_leaf(folder, ca_cert, ca_key):
    """(cert, key) of a 127.0.0.1/localhost server certificate signed by the CA."""
    key, csr = os.path.join(folder, "leaf.key"), os.path.join(folder, "leaf.csr")
    cert, ext = os.path.join(folder, "leaf.pem"), os.path.join(folder, "leaf.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", key, "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", cert)
    return cert, key


def message(tag, rcpt):
    return (f"From: s@example.com\r\nTo: {rcpt}\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@example.com>\r\n\r\nbody of {tag}\r\n").encode()


class WebhookCaFile(BridgeTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Only ca_file may make the private CA trusted: no OpenSSL overrides for the bridge.
        for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            if name in os.environ:
                saved = os.environ.pop(name)
                cls.addClassCleanup(os.environ.__setitem__, name, saved)
        cls.tmp = tempfile.mkdtemp(prefix="e2e-ca-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        ca_cert, ca_key = make_ca(cls.tmp, "test-ca")
        cls.ca_file = ca_cert
        cls.other_ca_file = make_ca(cls.tmp, "other-ca")[0]
        # One HTTPS receiver (one origin), three endpoints on it that differ in ca_file only.
        cls.receiver = Receiver(tls=True, cert=make_leaf(cls.tmp, ca_cert, ca_key)).start()
        cls.addClassCleanup(cls.receiver.stop)
        routes = [
            {"match": ["ca@hooks.example"],
             "endpoints": [{"url": cls.receiver.url("/with-ca"), "secret": SECRET,
                            "ca_file": cls.ca_file}]},
            {"match": ["noca@hooks.example"],
             "endpoints": [{"url": cls.receiver.url("/without-ca"), "secret": SECRET}]},
            {"match": ["otherca@hooks.example"],
             "endpoints": [{"url": cls.receiver.url("/other-ca"), "secret": SECRET,
                            "ca_file": cls.other_ca_file}]},
        ]
        # One worker: the kept-alive client verified with ca_file is the one the other endpoints
        # would reuse if clients were shared per origin only.
        cls.bridge = cls.start_class_bridge(
            extra={"routes": routes, "delivery": {"workers": 1, "retry": FAST_RETRY}})

    @classmethod
    def start_class_bridge(cls, **options):
        b = Bridge(**options)
        cls.addClassCleanup(b.cleanup)
        return b.start()

    def send(self, tag, rcpt):
        return smtplib_send(self.bridge, "s@example.com", [rcpt], message(tag, rcpt))

    def assert_never_delivered(self, msg_id, path):
        rows = wait_rows(self.bridge, lambda rs: rs[0]["attempts"] >= 2 and
                         rs[0]["state"] in ("deferred", "in_flight"), message_id=msg_id,
                         what=f"retries of {path}")
        self.assertEqual(len(rows), 1)
        self.assertNotEqual(rows[0]["state"], "delivered")
        self.assertIn("TLS", rows[0]["last_error"] or "", rows[0])
        self.assertEqual(self.receiver.requests(path=path), [],
                         f"a request to {path} passed a TLS handshake it must fail")

    def test_endpoint_with_ca_file_is_delivered(self):
        msg_id = self.send("with-ca", "ca@hooks.example")
        reqs = self.receiver.wait_for(1, path="/with-ca", payload_id=msg_id)
        self.assertTrue(verifies(reqs[0], SECRET))
        self.assertEqual(reqs[0].json()["message"]["subject"], "with-ca")
        rows = wait_rows(self.bridge, lambda rs: rs[0]["state"] == "delivered", message_id=msg_id,
                         what="the delivered row")
        self.assertEqual(rows[0]["attempts"], 1)
        self.assertIsNone(rows[0]["last_error"])

    def test_same_endpoint_without_ca_file_is_never_delivered(self):
        # First a delivery with ca_file on the same origin, so a kept-alive trusted connection
        # exists in the only worker; the endpoint without ca_file must not ride on it.
        first = self.send("warm-up", "ca@hooks.example")
        wait_rows(self.bridge, lambda rs: rs[0]["state"] == "delivered", message_id=first,
                  what="the warm-up delivery")
        msg_id = self.send("without-ca", "noca@hooks.example")
        self.assert_never_delivered(msg_id, "/without-ca")

    def test_ca_file_of_another_ca_is_never_delivered(self):
        msg_id = self.send("other-ca", "otherca@hooks.example")
        self.assert_never_delivered(msg_id, "/other-ca")

    def test_unreadable_ca_file_is_refused_at_load(self):
        missing = os.path.join(self.tmp, "missing.pem")
        config = os.path.join(self.tmp, "bad.yaml")
        with open(config, "w") as f:
            f.write("routes:\n  - match: \"*\"\n    endpoints:\n"
                    f"      - url: https://127.0.0.1:1/x\n        ca_file: {missing}\n")
        proc = subprocess.run([BIN, "--check-config", "--config", config], capture_output=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 2, proc)
        self.assertIn(b"routes[0].endpoints[0].ca_file", proc.stderr)
        self.assertIn(b"line 5", proc.stderr)


if __name__ == "__main__":
    unittest.main()
