# The send API end to end (CONTRACTS.md 2): HTTP requests → the real bridge → its relay → a real
# aiosmtpd upstream with STARTTLS required and AUTH (certificate made by the test). What arrives
# is parsed back with Python's email package; every API response is validated against its schema
# in openapi/openapi.yaml.
import base64
import email
import email.policy
import http.client
import json
import time
import unittest

import bridge
from bridge import Bridge, scaled
from test_inbound_api import PROBLEM_TYPE, checked_body, load_openapi
from upstream import Upstream

KEY = "e2e-send-api-key-51c0ffee"
OTHER_KEY = "e2e-send-api-other-key-77"
USER, PASSWORD = "relay-user", "relay-pass-Зx"
MAX_MESSAGE = 256 * 1024  # smtp.limits.max_message_size of the bridge under test
PDF = bytes(range(256)) * 9 + b"%PDF-1.4 \xff\xfe"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def b64(data):
    return base64.b64encode(data).decode()


def relay_config(up, mechanism="auto", tls="starttls"):
    return {"upstream": {"host": "localhost", "port": up.port, "tls": tls, "verify": True,
                         "ca_file": up.ca_file},
            "auth": {"mechanism": mechanism, "username": USER, "password": PASSWORD},
            "hostname": "bridge.test", "connections": 2,
            "retry": {"initial": "1s", "max_interval": "2s", "max_age": "1h"}}


def start_bridge(cleanup, up, **relay_options):
    """A bridge whose relay sends to `up`; `cleanup` registers its teardown."""
    b = Bridge(smtp={"limits": {"max_message_size": MAX_MESSAGE}},
               extra={"api": {"keys": [{"name": "shop", "key": KEY},
                                       {"name": "crm", "key": OTHER_KEY}]},
                      "relay": relay_config(up, **relay_options)})
    b.expect = b.expect + ["api"]  # the harness waits for smtp and admin only
    cleanup(b.cleanup)
    b.start()
    return b


def full_request():
    return {
        "from": {"name": "Магазин Shop", "address": "shop@example.com"},
        "to": [{"name": "Иван Петров", "address": "ivan@example.org"}, "plain@example.org"],
        "cc": ["Carol Ng <carol@example.org>"],
        "bcc": ["hidden@example.net", "IVAN@example.org"],
        "reply_to": ["replies@example.com"],
        "subject": "Ваш заказ №42 — готов",
        "text": "Здравствуйте!\nВаш заказ готов.\n",
        "html": "<p>Здравствуйте! <img src=\"cid:logo\"></p>\n",
        "attachments": [
            {"filename": "счёт.pdf", "content_type": "application/pdf", "content": b64(PDF)},
            {"filename": "logo.png", "content_type": "image/png", "content": b64(PNG),
             "content_id": "logo"},
        ],
        "headers": {"X-Campaign": "nov"},
        "metadata": {"order": "42"},
    }


class SendApiBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.doc = load_openapi()

    def call(self, b, method, path, body=None, key=KEY, template=None, headers=None):
        """(status, headers, parsed body); the body is validated against the schema that
        openapi.yaml documents for `template` and the status."""
        conn = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(30))
        try:
            sent = dict(headers or {})
            if key is not None:
                sent["Authorization"] = f"Bearer {key}"
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=sent)
            res = conn.getresponse()
            raw = res.read()
            status, res_headers = res.status, {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        return status, res_headers, checked_body(self, self.doc, method, path, template, status,
                                                 res_headers, raw)

    def send(self, b, body, **kw):
        status, headers, parsed = self.call(b, "POST", "/v1/messages", body,
                                            template="/v1/messages", **kw)
        self.assertEqual(status, 202, parsed)
        return parsed, headers

    def status_of(self, b, msg_id):
        status, _, parsed = self.call(b, "GET", f"/v1/messages/{msg_id}",
                                      template="/v1/messages/{id}")
        self.assertEqual(status, 200, parsed)
        return parsed

    def wait_status(self, b, msg_id, wanted, timeout=None):
        """Polls GET /v1/messages/{id} (the API has no push) until the status is `wanted`."""
        end = time.monotonic() + (timeout or scaled(20))
        while True:
            doc = self.status_of(b, msg_id)
            if doc["status"] == wanted or time.monotonic() > end:
                self.assertEqual(doc["status"], wanted, doc)
                return doc
            time.sleep(0.05)

    def invalid_fields(self, b, path, body, **kw):
        status, _, parsed = self.call(b, "POST", path, body, template=path, **kw)
        self.assertEqual(status, 422, parsed)
        self.assertEqual(parsed["type"], PROBLEM_TYPE + "invalid-request")
        return {e["field"] for e in parsed["errors"]}

    def upstream(self, **options):
        up = Upstream(auth=(USER, PASSWORD), **options)
        up.start()
        self.addCleanup(up.stop)
        return up


class SendThroughStartTls(SendApiBase):
    """One upstream (STARTTLS required, AUTH required, every mechanism) and one bridge."""

    def setUp(self):
        self.up = self.upstream(tls="starttls", require_tls=True)
        self.bridge = start_bridge(self.addCleanup, self.up)

    def test_a_send_request_arrives_as_the_same_message(self):
        request = full_request()
        accepted, headers = self.send(self.bridge, request)
        self.assertEqual(accepted["status"], "queued")
        self.assertEqual(accepted["message_id"], accepted["id"] + "@bridge.test")
        self.assertEqual(headers.get("location"), f"/v1/messages/{accepted['id']}")
        [got] = self.up.wait_messages(1, timeout=scaled(20))
        self.assertTrue(got.tls)
        self.assertIsNotNone(got.auth_mechanism)
        self.assertEqual(got.mail_from, "shop@example.com")
        self.assertEqual(got.rcpt_tos, ["ivan@example.org", "plain@example.org",
                                        "carol@example.org", "hidden@example.net"])
        self.assertNotIn(b"hidden@example.net", got.data)  # Bcc: the envelope only
        msg = email.message_from_bytes(got.data, policy=email.policy.default)
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(str(msg["Subject"]), request["subject"])
        self.assertEqual(msg["Message-ID"], f"<{accepted['message_id']}>")
        self.assertIsNotNone(msg["Date"])
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg["X-Campaign"], "nov")
        self.assertEqual([(a.display_name, a.addr_spec) for a in msg["From"].addresses],
                         [("Магазин Shop", "shop@example.com")])
        self.assertEqual([(a.display_name, a.addr_spec) for a in msg["To"].addresses],
                         [("Иван Петров", "ivan@example.org"), ("", "plain@example.org")])
        self.assertEqual([(a.display_name, a.addr_spec) for a in msg["Cc"].addresses],
                         [("Carol Ng", "carol@example.org")])
        self.assertEqual([a.addr_spec for a in msg["Reply-To"].addresses],
                         ["replies@example.com"])
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        self.assertEqual(text.replace("\r\n", "\n"), request["text"])
        self.assertEqual(html.replace("\r\n", "\n"), request["html"])
        leaves = {}
        for part in msg.walk():
            if part.is_multipart() or part.get_filename() is None:
                continue
            leaves[part.get_filename()] = (part.get_content_type(), part.get_payload(decode=True),
                                           part["Content-ID"])
        self.assertEqual(leaves, {"счёт.pdf": ("application/pdf", PDF, None),
                                  "logo.png": ("image/png", PNG, "<logo>")})
        for line in got.data.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        doc = self.wait_status(self.bridge, accepted["id"], "sent")
        self.assertEqual(doc["message_id"], accepted["message_id"])
        self.assertEqual([r["address"] for r in doc["recipients"]], got.rcpt_tos)
        for r in doc["recipients"]:
            self.assertEqual((r["status"], r["attempts"], r["last_reply"]["code"]), ("sent", 1, 250))
            self.assertIsNone(r["next_attempt_at"])

    def test_a_raw_message_arrives_byte_for_byte_with_crlf(self):
        data = (b"From: a@example.com\nTo: b@example.org\nMessage-ID: <raw-1@example.com>\n"
                b"Subject: raw\n\n.leading dot\nbody\n")
        body = {"envelope": {"mail_from": "", "rcpt_to": ["b@example.org", "c@example.org"]},
                "raw": b64(data)}
        status, _, accepted = self.call(self.bridge, "POST", "/v1/messages/raw", body,
                                        template="/v1/messages/raw")
        self.assertEqual(status, 202, accepted)
        self.assertEqual(accepted["message_id"], "raw-1@example.com")
        [got] = self.up.wait_messages(1, timeout=scaled(20))
        self.assertEqual(got.data, data.replace(b"\n", b"\r\n"))
        self.assertEqual(got.mail_from, "<>")  # aiosmtpd's name for the null reverse-path
        self.assertEqual(got.rcpt_tos, ["b@example.org", "c@example.org"])
        self.wait_status(self.bridge, accepted["id"], "sent")

    def test_idempotency_key_replays_the_first_response_and_refuses_another_body(self):
        request = full_request()
        first, _ = self.send(self.bridge, request, headers={"Idempotency-Key": "order-42"})
        again, headers = self.send(self.bridge, request, headers={"Idempotency-Key": "order-42"})
        self.assertEqual(again, first)
        self.assertEqual(headers.get("idempotent-replayed"), "true")
        request["subject"] = "another"
        status, _, problem = self.call(self.bridge, "POST", "/v1/messages", request,
                                       template="/v1/messages",
                                       headers={"Idempotency-Key": "order-42"})
        self.assertEqual((status, problem["type"]), (409, PROBLEM_TYPE + "idempotency-conflict"))
        # Another API key's "order-42" is its own.
        theirs, headers = self.send(self.bridge, full_request(), key=OTHER_KEY,
                                    headers={"Idempotency-Key": "order-42"})
        self.assertNotEqual(theirs["id"], first["id"])
        self.assertNotIn("idempotent-replayed", headers)
        got = self.up.wait_messages(2, timeout=scaled(20))
        self.wait_status(self.bridge, first["id"], "sent")
        self.wait_status(self.bridge, theirs["id"], "sent")
        self.assertEqual(len(self.up.messages), len(got))
        self.assertEqual(sorted(m.data.count(b"Message-ID") for m in got), [1, 1])

    def test_a_refused_recipient_fails_alone(self):
        self.up.rcpt_replies = {"gone@example.org": ["550 5.1.1 no such user"]}
        request = full_request()
        request.update(to=["ok@example.org", "gone@example.org"], cc=[], bcc=[])
        accepted, _ = self.send(self.bridge, request)
        [got] = self.up.wait_messages(1, timeout=scaled(20))
        self.assertEqual(got.rcpt_tos, ["ok@example.org"])
        doc = self.wait_status(self.bridge, accepted["id"], "partially_failed")
        gone = doc["recipients"][1]
        self.assertEqual((gone["address"], gone["status"]), ("gone@example.org", "failed"))
        self.assertEqual(gone["last_reply"]["code"], 550)
        self.assertEqual(gone["last_reply"]["enhanced"], "5.1.1")


class SendApiBehaviour(SendApiBase):
    """The API's answers; one bridge for the class, an upstream that takes everything."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.up = Upstream(auth=(USER, PASSWORD), tls="starttls", require_tls=True)
        cls.up.start()
        cls.addClassCleanup(cls.up.stop)
        cls.bridge = start_bridge(cls.addClassCleanup, cls.up)

    def test_refuses_a_missing_or_wrong_key_with_401(self):
        for key in (None, "not-the-key"):
            for method, path, template in (("POST", "/v1/messages", "/v1/messages"),
                                           ("POST", "/v1/messages/raw", "/v1/messages/raw"),
                                           ("GET", "/v1/messages/x", "/v1/messages/{id}")):
                body = full_request() if method == "POST" else None
                status, headers, problem = self.call(self.bridge, method, path, body, key=key,
                                                     template=template)
                self.assertEqual(status, 401)
                self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"))
                self.assertEqual(problem["type"], PROBLEM_TYPE + "unauthorized")

    def test_names_each_invalid_field_with_422(self):
        b = self.bridge
        self.assertEqual(self.invalid_fields(b, "/v1/messages", b"{not json"), {"body"})
        self.assertEqual(self.invalid_fields(b, "/v1/messages", {}), {"from", "to", "text"})
        request = full_request()
        request["to"] = ["ok@example.org", {"name": "X", "address": "not-an-address"}, "a@@b"]
        request["headers"] = {"X-Foo": "v\r\nBcc: victim@example.org", "Content-Type": "text/html",
                              "bcc": "x@example.org", "X Bad": "v"}
        request["attachments"][0]["content"] = "%%%"
        self.assertEqual(self.invalid_fields(b, "/v1/messages", request),
                         {"to[1].address", "to[2]", "headers.X-Foo", "headers.Content-Type",
                          "headers.bcc", "headers.X Bad", "attachments[0].content"})
        raw = {"envelope": {"mail_from": "x", "rcpt_to": []}, "raw": b64(b"no header\r\n")}
        self.assertEqual(self.invalid_fields(b, "/v1/messages/raw", raw),
                         {"envelope.mail_from", "envelope.rcpt_to", "raw"})
        self.assertEqual(len(self.up.messages), 0)

    def test_refuses_an_oversized_message_with_413(self):
        request = full_request()
        request["text"] = "x" * (MAX_MESSAGE + 1)
        status, _, problem = self.call(self.bridge, "POST", "/v1/messages", request,
                                       template="/v1/messages")
        self.assertEqual((status, problem["type"]), (413, PROBLEM_TYPE + "content-too-large"))
        request["text"] = "x" * (2 * 1024 * 1024)  # over the request body limit itself
        status, _, problem = self.call(self.bridge, "POST", "/v1/messages", request,
                                       template="/v1/messages")
        self.assertEqual((status, problem["type"]), (413, PROBLEM_TYPE + "content-too-large"))
        self.assertTrue(self.bridge.alive())

    def test_answers_404_for_an_unknown_message(self):
        status, _, problem = self.call(self.bridge, "GET",
                                       "/v1/messages/0190aaaa-0000-7000-8000-000000000000",
                                       template="/v1/messages/{id}")
        self.assertEqual((status, problem["type"]), (404, PROBLEM_TYPE + "not-found"))

    def test_requests_are_counted_per_route_template(self):
        self.call(self.bridge, "GET", "/v1/messages/unknown", template="/v1/messages/{id}")
        port = self.bridge.port("admin")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        self.assertRegex(
            text, r'smtp_bridge_api_requests_total\{route="/v1/messages/\{id\}",status="404"\} [1-9]')


class SaslMechanismsAndImplicitTls(SendApiBase):
    def deliver_one(self, up, **relay_options):
        b = start_bridge(self.addCleanup, up, **relay_options)
        request = full_request()
        request.update(cc=[], bcc=[], attachments=[])
        accepted, _ = self.send(b, request)
        [got] = up.wait_messages(1, timeout=scaled(20))
        self.wait_status(b, accepted["id"], "sent")
        msg = email.message_from_bytes(got.data, policy=email.policy.default)
        self.assertEqual(str(msg["Subject"]), request["subject"])
        return got

    def test_each_sasl_mechanism(self):
        for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"):
            with self.subTest(mechanism=mechanism):
                up = self.upstream(tls="starttls", require_tls=True, mechanisms=[mechanism])
                got = self.deliver_one(up, mechanism=mechanism.lower())
                self.assertEqual((got.auth_mechanism, got.auth_user, got.tls),
                                 (mechanism, USER, True))

    def test_implicit_tls(self):
        up = self.upstream(tls="implicit")
        got = self.deliver_one(up, tls="implicit")
        self.assertTrue(got.tls)
        self.assertIsNotNone(got.auth_mechanism)


if __name__ == "__main__":
    unittest.main()
