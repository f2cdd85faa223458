# Webhook delivery end to end: swaks / smtplib → the real bridge → real HTTP and HTTPS receivers.
# Asserts what an endpoint depends on (CONTRACTS.md 1): the bridge.v1 body (schema in openapi/,
# decoded fields), Standard Webhooks signatures (also two while rotating), headers, fan-out.
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import bridge
from endpoint_names import default_endpoint_name
from bridge import BridgeTest, queued_id, scaled
from receiver import (Receiver, deliveries, expected_signature, make_secret, other_certificate,
                      signatures, smtplib_send, verifies, wait_rows)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPENAPI = os.path.join(ROOT, "openapi", "openapi.yaml")

S1 = make_secret("route-one")
S2A, S2B = make_secret("route-two-old"), make_secret("route-two-new")
S_TLS = make_secret("route-tls")

SUBJECT = "Отчёт за ноябрь ✓"
TEXT = "Grüße aus Köln — ça va?\nSecond line."
ATTACHMENT = bytes(range(256)) * 4


def rich_message(tag, to="alice@hooks.example"):
    """multipart/mixed: RFC 2047 subject and From name, UTF-8 quoted-printable text, a binary
    attachment. CRLF line ends; no final CRLF (swaks adds CRLF . CRLF)."""
    subject = "=?UTF-8?B?" + base64.b64encode(SUBJECT.encode()).decode() + "?="
    att = base64.b64encode(ATTACHMENT).decode()
    att_lines = "\r\n".join(att[i:i + 76] for i in range(0, len(att), 76))
    return ("From: =?UTF-8?Q?Alice_M=C3=BCller?= <alice@sender.example>\r\n"
            f"To: Bob Example <{to}>\r\n"
            f"Subject: {subject}\r\n"
            "Date: Thu, 27 Nov 2025 00:00:00 +0000\r\n"
            f"Message-ID: <{tag}@sender.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
            "\r\n"
            "--b1\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n"
            "Gr=C3=BC=C3=9Fe aus K=C3=B6ln =E2=80=94 =C3=A7a va?\r\n"
            "Second line.\r\n"
            "--b1\r\n"
            "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
            "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "\r\n"
            f"{att_lines}\r\n"
            "--b1--").encode()


def simple_message(tag, to="bob@hooks.example", headers=""):
    return (f"From: Sender <sender@example.com>\r\nTo: {to}\r\nSubject: {tag}\r\n{headers}"
            f"Message-ID: <{tag}@example.com>\r\n\r\nbody of {tag}\r\n").encode()


def bridge_v1_validator():
    """Draft 2020-12 validator of components/schemas/BridgeV1 with the document's $refs."""
    import jsonschema
    import yaml
    if not os.path.exists(OPENAPI):
        raise AssertionError(f"{OPENAPI} does not exist: no BridgeV1 schema to validate against")
    with open(OPENAPI, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    schemas = doc.get("components", {}).get("schemas", {})
    if "BridgeV1" not in schemas:
        raise AssertionError(f"{OPENAPI} has no components/schemas/BridgeV1")
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": "#/components/schemas/BridgeV1", "components": doc["components"]}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


class Webhooks(BridgeTest):
    """One bridge, four routes, three receivers (two HTTP, one HTTPS), for the whole class."""

    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.one = Receiver().start()
        cls.addClassCleanup(cls.one.stop)
        cls.two = Receiver().start()
        cls.addClassCleanup(cls.two.stop)
        cls.secure = Receiver(tls=True).start()
        cls.addClassCleanup(cls.secure.stop)
        cls.tmp = tempfile.mkdtemp(prefix="e2e-hooks-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.untrusted = Receiver(tls=True, cert=other_certificate(cls.tmp)).start()
        cls.addClassCleanup(cls.untrusted.stop)
        routes = [
            {"match": ["alice@hooks.example", "carol@hooks.example", "*@one.example"],
             "endpoints": [{"url": cls.one.url("/one"), "secret": S1, "timeout": "5s",
                            "headers": {"X-Tenant": "acme", "X-Route": "one"}}]},
            {"match": ["bob@hooks.example", "*@two.example"],
             "endpoints": [{"url": cls.two.url("/two"), "secrets": [S2A, S2B], "timeout": "5s"}]},
            {"match": ["raw@hooks.example"], "include_raw": True,
             "endpoints": [{"url": cls.one.url("/raw"), "secret": S1}]},
            {"match": ["tls@hooks.example"],
             "endpoints": [{"url": cls.secure.url("/tls"), "secret": S_TLS}]},
            {"match": ["untrusted@hooks.example"],
             "endpoints": [{"url": cls.untrusted.url("/untrusted"), "secret": S_TLS}]},
            {"match": ["unsigned@hooks.example"],
             "endpoints": [{"url": cls.two.url("/unsigned")}]},
        ]
        # The dispatcher has no CA setting (config::Endpoint): it verifies against OpenSSL's
        # default paths, which honour SSL_CERT_FILE. The bridge inherits this environment.
        saved = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = bridge.certificate()[0]
        try:
            cls.bridge = Bridge(extra={"routes": routes,
                                       "delivery": {"workers": 4, "retry": {
                                           "initial": "200ms", "max_interval": "1s",
                                           "max_age": "1h"}}})
            cls.addClassCleanup(cls.bridge.cleanup)
            cls.bridge.start()
        finally:
            if saved is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved

    bridge_options = {}  # a class bridge exists: BridgeTest checks it is alive after each test

    # --- helpers ---

    def swaks(self, data, rcpts, mail_from="alice@sender.example"):
        path = os.path.join(self.tmp, f"msg-{time.monotonic_ns()}.eml")
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.bridge.port()}",
                            "-f", mail_from, "-t", ",".join(rcpts), "--data", "@" + path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=scaled(30),
                           env=dict(os.environ, HOME=self.tmp))
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"swaks failed:\n{out}")
        msg_id = queued_id(out)
        self.assertIsNotNone(msg_id, f"no 'queued as <id>' in the swaks transcript:\n{out}")
        return msg_id

    def delivered_once(self, msg_id, receiver, path):
        """The single POST of msg_id to path, after the store shows every row of the message
        delivered at its first attempt (so no further attempt can come)."""
        reqs = receiver.wait_for(1, path=path, payload_id=msg_id)
        rows = wait_rows(self.bridge, lambda rs: all(r["state"] == "delivered" for r in rs),
                         message_id=msg_id, what=f"deliveries of {msg_id}")
        for r in rows:
            self.assertEqual(r["attempts"], 1, f"row {r}")
        reqs = receiver.requests(path=path, payload_id=msg_id)
        self.assertEqual(len(reqs), 1, f"POSTs of {msg_id} to {path}: {reqs}")
        return reqs[0], rows

    def row_for(self, rows, url):
        # Rows name their endpoint by its (here default) name, never by its URL (issue 11).
        match = [r for r in rows if r["endpoint"] == default_endpoint_name(url)]
        self.assertEqual(len(match), 1, f"rows for {url}: {rows}")
        return match[0]

    def check_headers(self, req, row, secret=None):
        self.assertEqual(req.method, "POST")
        ctype = req.header("content-type").lower().replace(" ", "")
        self.assertEqual(ctype, "application/json;charset=utf-8")
        self.assertEqual(req.header("webhook-id"), row["id"])
        ts = req.header("webhook-timestamp")
        self.assertRegex(ts, r"^[0-9]+$")
        self.assertLess(abs(int(ts) - time.time()), 300, "webhook-timestamp is not now")
        self.assertEqual(req.header("webhook-attempt"), "1")
        self.assertRegex(req.header("user-agent"), r"^smtp-bridge/\S+")
        if secret is not None:
            self.assertEqual(len(signatures(req)), 1, req.header("webhook-signature"))
            self.assertTrue(verifies(req, secret), "webhook-signature does not verify")

    def check_common(self, doc, msg_id, mail_from, rcpt_to):
        self.assertEqual(doc["type"], "message.received")
        self.assertEqual(doc["version"], "bridge.v1")
        self.assertEqual(doc["id"], msg_id)
        self.assertRegex(doc["received_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(doc["envelope"]["mail_from"], mail_from)
        self.assertEqual(doc["envelope"]["rcpt_to"], list(rcpt_to))
        stored = self.bridge.message(msg_id)
        self.assertEqual(doc["message"]["size"], len(stored["data"]))
        self.assertEqual(doc["message"]["sha256"], hashlib.sha256(stored["data"]).hexdigest())
        return stored

    # --- tests ---

    def test_swaks_rich_message_fields_headers_and_signature(self):
        msg_id = self.swaks(rich_message("rich-1"), ["alice@hooks.example"])
        req, rows = self.delivered_once(msg_id, self.one, "/one")
        self.check_headers(req, self.row_for(rows, self.one.url("/one")), S1)
        self.assertEqual(req.header("x-tenant"), "acme")
        self.assertEqual(req.header("x-route"), "one")
        self.assertFalse(verifies(req, S2A), "a signature verified with another endpoint's secret")
        doc = req.json()
        self.check_common(doc, msg_id, "alice@sender.example", ["alice@hooks.example"])
        m = doc["message"]
        self.assertEqual(m["subject"], SUBJECT)
        self.assertEqual(m["from"], [{"name": "Alice Müller", "address": "alice@sender.example"}])
        self.assertEqual(m["to"], [{"name": "Bob Example", "address": "alice@hooks.example"}])
        self.assertEqual(m["message_id"], "rich-1@sender.example")
        self.assertIn({"name": "Subject", "value": SUBJECT}, m["headers"])
        self.assertEqual(m["text"].replace("\r\n", "\n").rstrip("\n"), TEXT)
        self.assertIsNone(m["html"])
        self.assertEqual(len(m["attachments"]), 1, m["attachments"])
        att = m["attachments"][0]
        self.assertEqual(att["filename"], "data.bin")
        self.assertEqual(att["content_type"], "application/octet-stream")
        self.assertEqual(att["disposition"], "attachment")
        self.assertEqual(att["size"], len(ATTACHMENT))
        self.assertEqual(att["sha256"], hashlib.sha256(ATTACHMENT).hexdigest())
        self.assertEqual(base64.b64decode(att["content"], validate=True), ATTACHMENT)
        self.assertIsNone(doc["raw"], "raw without include_raw")

    def test_payloads_validate_against_the_bridge_v1_schema(self):
        validator = bridge_v1_validator()
        ids = [self.swaks(rich_message("schema-1"), ["alice@hooks.example"]),
               smtplib_send(self.bridge, "", ["bob@hooks.example"], simple_message("schema-null")),
               smtplib_send(self.bridge, "s@example.com", ["raw@hooks.example"],
                            simple_message("schema-raw", to="raw@hooks.example"))]
        docs = [self.one.wait_for(1, path="/one", payload_id=ids[0])[0].json(),
                self.two.wait_for(1, path="/two", payload_id=ids[1])[0].json(),
                self.one.wait_for(1, path="/raw", payload_id=ids[2])[0].json()]
        for doc in docs:
            errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
            self.assertEqual(errors[:10], [], f"payload {doc['id']} does not validate")

    def test_null_reverse_path_is_an_empty_mail_from(self):
        msg_id = smtplib_send(self.bridge, "", ["bob@hooks.example"], simple_message("null-sender"))
        req, _ = self.delivered_once(msg_id, self.two, "/two")
        self.check_common(req.json(), msg_id, "", ["bob@hooks.example"])

    def test_bcc_recipient_only_in_envelope(self):
        # carol is a Bcc: in the envelope only, never in the message's headers.
        msg_id = self.swaks(rich_message("bcc-1"), ["alice@hooks.example", "carol@hooks.example"])
        req, _ = self.delivered_once(msg_id, self.one, "/one")
        doc = req.json()
        self.assertEqual(doc["envelope"]["rcpt_to"], ["alice@hooks.example", "carol@hooks.example"])
        self.assertEqual(doc["message"]["bcc"], [])
        self.assertNotIn("carol", json.dumps(doc["message"], ensure_ascii=False))

    def test_fan_out_each_endpoint_gets_only_its_recipients_once(self):
        data = simple_message("fanout-1", to="alice@hooks.example, bob@hooks.example")
        msg_id = smtplib_send(self.bridge, "s@example.com",
                              ["alice@hooks.example", "bob@hooks.example", "dave@two.example"], data)
        req1, rows = self.delivered_once(msg_id, self.one, "/one")
        req2, _ = self.delivered_once(msg_id, self.two, "/two")
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual(req1.json()["envelope"]["rcpt_to"], ["alice@hooks.example"])
        self.assertEqual(req2.json()["envelope"]["rcpt_to"], ["bob@hooks.example", "dave@two.example"])
        self.check_headers(req1, self.row_for(rows, self.one.url("/one")), S1)
        self.check_headers(req2, self.row_for(rows, self.two.url("/two")))
        self.assertNotEqual(req1.header("webhook-id"), req2.header("webhook-id"))
        # Endpoint headers belong to their endpoint only.
        self.assertNotIn("x-tenant", req2.headers)
        # Nothing for this message went anywhere else.
        for path in ("/raw", "/unsigned"):
            self.assertEqual(self.one.requests(path=path, payload_id=msg_id) +
                             self.two.requests(path=path, payload_id=msg_id), [])

    def test_rotation_two_signatures_each_verifies_with_its_secret(self):
        msg_id = smtplib_send(self.bridge, "s@example.com", ["bob@hooks.example"],
                              simple_message("rotate-1"))
        req, rows = self.delivered_once(msg_id, self.two, "/two")
        self.check_headers(req, rows[0])
        sigs = signatures(req)
        self.assertEqual(len(sigs), 2, req.header("webhook-signature"))
        self.assertRegex(req.header("webhook-signature"), r"^v1,\S+ v1,\S+$")
        for secret in (S2A, S2B):
            want = expected_signature(secret, req.header("webhook-id"),
                                      req.header("webhook-timestamp"), req.body)
            self.assertEqual(sigs.count(want), 1, f"no signature verifies with {secret[:12]}…")
        self.assertFalse(verifies(req, S1))

    def test_unsigned_endpoint_sends_no_signature(self):
        msg_id = smtplib_send(self.bridge, "s@example.com", ["unsigned@hooks.example"],
                              simple_message("unsigned-1", to="unsigned@hooks.example"))
        req, _ = self.delivered_once(msg_id, self.two, "/unsigned")
        self.assertNotIn("webhook-signature", req.headers)
        self.assertEqual(req.json()["id"], msg_id)

    def test_include_raw_is_base64_of_the_stored_bytes(self):
        msg_id = smtplib_send(self.bridge, "s@example.com", ["raw@hooks.example"],
                              rich_message("raw-1", to="raw@hooks.example"))
        req, _ = self.delivered_once(msg_id, self.one, "/raw")
        self.check_headers(req, deliveries(self.bridge, msg_id)[0], S1)
        doc = req.json()
        self.assertIsInstance(doc["raw"], str)
        self.assertNotIn("\n", doc["raw"])
        self.assertEqual(base64.b64decode(doc["raw"], validate=True),
                         self.bridge.message(msg_id)["data"])
        self.assertEqual(doc["message"]["subject"], SUBJECT)

    def test_https_endpoint(self):
        msg_id = self.swaks(rich_message("tls-1", to="tls@hooks.example"), ["tls@hooks.example"])
        req, rows = self.delivered_once(msg_id, self.secure, "/tls")
        self.check_headers(req, rows[0], S_TLS)
        self.check_common(req.json(), msg_id, "alice@sender.example", ["tls@hooks.example"])
        self.assertEqual(req.json()["message"]["subject"], SUBJECT)

    def test_https_endpoint_with_untrusted_certificate_is_not_delivered(self):
        # CONTRACTS.md 1: a TLS error is retried, never ignored.
        msg_id = smtplib_send(self.bridge, "s@example.com", ["untrusted@hooks.example"],
                              simple_message("untrusted-1", to="untrusted@hooks.example"))
        rows = wait_rows(self.bridge, lambda rs: rs[0]["attempts"] >= 2 and
                         rs[0]["state"] in ("deferred", "in_flight"), message_id=msg_id,
                         what="retries of the untrusted endpoint")
        self.assertNotEqual(rows[0]["state"], "delivered")
        self.assertEqual(self.untrusted.requests(), [], "a request passed an untrusted TLS handshake")

    def test_raw_smtp_client_with_dot_stuffing(self):
        c = self.raw()
        c.open_data(self, mail_from="raw-client@example.com", rcpts=("zed@one.example",))
        body = b"Subject: dots\r\n\r\n..leading dot\r\nplain\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        req, _ = self.delivered_once(msg_id, self.one, "/one")
        doc = req.json()
        self.check_common(doc, msg_id, "raw-client@example.com", ["zed@one.example"])
        self.assertEqual(doc["message"]["text"].replace("\r\n", "\n").rstrip("\n"),
                         ".leading dot\nplain")



class Ipv6Endpoint(unittest.TestCase):
    """Issue 11: an endpoint on an IPv6 literal is POSTed to (httplib 0.11's URL constructor
    refused literals with hex letters; the client is now made from host and port)."""

    def test_a_webhook_to_an_ipv6_literal_is_delivered(self):
        import http.server
        import socket
        import threading

        got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((self.path, self.headers.get("Host"), body))
                self.send_response(204)
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6
            daemon_threads = True

        try:
            server = Server(("::1", 0), Handler)
        except OSError as e:
            self.skipTest(f"no IPv6 loopback: {e}")
        self.addCleanup(server.server_close)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.addCleanup(server.shutdown)
        port = server.server_address[1]
        # And a literal with hex letters, the IPv4-mapped form of 127.0.0.1 (a v6 socket's
        # connection to it reaches the IPv4 receiver).
        mapped = Receiver().start()
        self.addCleanup(mapped.stop)
        urls = [f"http://[::1]:{port}/v6/hook?k=a", f"http://[::FFFF:127.0.0.1]:{mapped.port}/m"]
        b = bridge.Bridge(extra={"routes": [{"match": "*", "endpoints": [{"url": urls[0]},
                                                                         {"url": urls[1]}]}]})
        self.addCleanup(b.cleanup)
        b.start()
        msg_id = smtplib_send(b, "a@sender.example", ["x@bridge.example"],
                              "Subject: v6\r\n\r\nover IPv6\r\n")
        wait_rows(b, lambda rows: len(rows) == 2 and all(r["state"] == "delivered" for r in rows),
                  msg_id, timeout=20, what="delivered over IPv6")
        self.assertEqual(len(got), 1)
        path, host, body = got[0]
        self.assertEqual(path, "/v6/hook?k=a")
        self.assertEqual(host, f"[::1]:{port}")  # RFC 9110 7.2: the literal in brackets
        self.assertEqual(json.loads(body)["id"], msg_id)
        req = mapped.wait_for(1, path="/m")[0]
        self.assertEqual(req.header("host"), f"[::ffff:127.0.0.1]:{mapped.port}")
        self.assertEqual(req.json()["id"], msg_id)


Bridge = bridge.Bridge

if __name__ == "__main__":
    unittest.main()

