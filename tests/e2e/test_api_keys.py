# Scoped API keys and per-key rate limits end to end (README "Scoped keys and rate limits"): real
# HTTP requests (http.client) to the real bridge. Every route answers 403 insufficient-scope to a
# key lacking its scope, before and after a body; keys without scopes keep full access; a key
# over its request rate or recipients budget gets 429 with Retry-After and the RateLimit fields,
# and one under it never does. Every answer is validated against openapi/openapi.yaml.
import concurrent.futures
import http.client
import json
import socket
import time
import unittest
import urllib.request
import email.policy
from email.message import EmailMessage

import bridge
from bridge import Bridge, scaled
from receiver import smtplib_send
from test_attachment_links import sign
from test_inbound_api import PROBLEM_TYPE, checked_body, load_openapi

SCOPES = ["send", "messages:read", "inbound:read", "inbound:write", "suppressions"]
FULL = "e2e-keys-full-0001"
PACED = "e2e-keys-paced-0002"
BUDGET = "e2e-keys-budget-0003"
READER = "e2e-keys-reader-0004"
SLOW = "e2e-keys-slow-0005"
BATCH_BUDGET = "e2e-keys-batch-budget-0006"
SECRET = "keys-links-secret-0123456789abcdef"


def lacking(scope):
    return f"e2e-keys-no-{scope.replace(':', '-')}"


def keys_config():
    keys = [{"name": "full", "key": FULL},
            {"name": "paced", "key": PACED,
             "rate_limit": {"requests_per_second": 20, "burst": 20}},
            {"name": "budget", "key": BUDGET, "scopes": ["send", "messages:read"],
             "rate_limit": {"recipients_per_hour": 5}},
            {"name": "reader", "key": READER, "scopes": ["inbound:read"]},
            {"name": "slow", "key": SLOW, "rate_limit": {"requests_per_second": 1}},
            {"name": "batch-budget", "key": BATCH_BUDGET, "rate_limit": {"recipients_per_hour": 3}}]
    for scope in SCOPES:
        keys.append({"name": f"no-{scope}", "key": lacking(scope),
                     "scopes": [s for s in SCOPES if s != scope]})
    return keys


def message(to):
    return {"from": "shop@example.com", "to": to, "subject": "hi", "text": "hello\n"}


def inbound_mail():
    msg = EmailMessage()
    msg["From"] = "alice@sender.example"
    msg["To"] = "bob@keys.example"
    msg["Subject"] = "scoped"
    msg.set_content("a body\n")
    msg.add_attachment(b"attached", maintype="application", subtype="octet-stream",
                       filename="a.bin")
    return msg.as_bytes(policy=email.policy.SMTP)


class ApiKeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.doc = load_openapi()
        cls.bridge = Bridge(extra={
            "routes": [{"match": ["*"]}],
            "api": {"keys": keys_config(),
                    "links": {"base_url": "https://bridge.test", "secrets": [SECRET]}}})
        cls.bridge.expect = cls.bridge.expect + ["api"]
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()
        cls.inbound_id = smtplib_send(cls.bridge, "alice@sender.example", ["bob@keys.example"],
                                      inbound_mail())

    def call(self, method, path, key, body=None, template=None, raw_body=None):
        """(status, lower-case headers, parsed JSON body or raw bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"),
                                          timeout=scaled(30))
        try:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            data = raw_body
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            res = conn.getresponse()
            raw = res.read()
            status, res_headers = res.status, {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        if not res_headers.get("content-type", "").endswith("json"):
            return status, res_headers, raw
        return status, res_headers, checked_body(self, self.doc, method, path, template, status,
                                                 res_headers, raw)

    def routes(self):
        """(method, path, template, scope, body) of every route."""
        i = self.inbound_id
        return [
            ("GET", "/v1/inbound", "/v1/inbound", "inbound:read", None),
            ("GET", f"/v1/inbound/{i}", "/v1/inbound/{id}", "inbound:read", None),
            ("POST", f"/v1/inbound/{i}/redeliver", "/v1/inbound/{id}/redeliver", "inbound:write",
             None),
            ("GET", f"/v1/inbound/{i}/parts/2", "/v1/inbound/{id}/parts/{part}", "inbound:read",
             None),
            ("GET", f"/v1/inbound/{i}/raw", "/v1/inbound/{id}/raw", "inbound:read", None),
            ("POST", "/v1/messages", "/v1/messages", "send", message(["a@example.org"])),
            ("POST", "/v1/messages/raw", "/v1/messages/raw", "send",
             {"envelope": {"mail_from": "", "rcpt_to": ["a@example.org"]},
              "raw": "U3ViamVjdDogeA0KDQpoaQ0K"}),
            ("GET", "/v1/messages/01900000-0000-7000-8000-000000000000", "/v1/messages/{id}",
             "messages:read", None),
            ("POST", "/v1/messages/01900000-0000-7000-8000-000000000000/events/redeliver",
             "/v1/messages/{id}/events/redeliver", "send", None),
        ] + ([("POST", "/v1/messages/batch", "/v1/messages/batch", "send",
               {"messages": [message(["a@example.org"])]})]
             if "/v1/messages/batch" in self.doc["paths"] else []) + [
            ("GET", "/v1/suppressions", "/v1/suppressions", "suppressions", None),
            ("POST", "/v1/suppressions", "/v1/suppressions", "suppressions",
             {"address": "keys@example.org"}),
            ("DELETE", "/v1/suppressions/never%40example.org", "/v1/suppressions/{address}",
             "suppressions", None)]

    def test_every_documented_route_is_tried(self):
        self.assertEqual(sorted({template for _, _, template, _, _ in self.routes()}),
                         sorted(self.doc["paths"]))

    def assertInsufficientScope(self, status, headers, body, scope):
        self.assertEqual(status, 403, body)
        self.assertEqual(headers["content-type"], "application/problem+json")
        self.assertEqual(body["type"], PROBLEM_TYPE + "insufficient-scope")
        self.assertEqual(body["scope"], scope)
        self.assertIn(f"'{scope}'", body["detail"])
        self.assertIn('error="insufficient_scope"', headers["www-authenticate"])

    def test_every_route_refuses_a_key_lacking_its_scope(self):
        for method, path, template, scope, body in self.routes():
            with self.subTest(route=template, scope=scope):
                status, headers, parsed = self.call(method, path, lacking(scope), body, template)
                self.assertInsufficientScope(status, headers, parsed, scope)
                if body is not None:  # the same answer without reading a body: Content-Length 0
                    status, headers, parsed = self.call(method, path, lacking(scope),
                                                        template=template, raw_body=b"")
                    self.assertInsufficientScope(status, headers, parsed, scope)

    def test_a_body_is_not_read_for_a_key_lacking_the_scope(self):
        # Only the head is sent, announcing a megabyte: the 403 comes without waiting for it.
        with socket.create_connection(("127.0.0.1", self.bridge.port("api")),
                                      timeout=scaled(10)) as s:
            s.sendall(f"POST /v1/messages HTTP/1.1\r\nHost: bridge.test\r\n"
                      f"Authorization: Bearer {lacking('send')}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
                      .encode())
            head = s.recv(65536).decode("latin-1")
        self.assertTrue(head.startswith("HTTP/1.1 403 "), head)
        self.assertIn('error="insufficient_scope", scope="send"', head)

    def test_keys_without_scopes_and_keys_with_the_scope_are_served(self):
        answers = {}
        for method, path, template, scope, body in self.routes():
            with self.subTest(route=template):
                status, headers, parsed = self.call(method, path, FULL, body, template)
                answers[template] = status
                self.assertNotIn(status, (401, 403, 429), parsed)
                self.assertNotIn("ratelimit", headers)  # no limit, no fields
        self.assertEqual(answers["/v1/messages"], 202)
        self.assertEqual(answers["/v1/inbound/{id}/raw"], 200)
        self.assertEqual(answers["/v1/messages/{id}"], 404)  # served: no such message
        status, _, _ = self.call("GET", f"/v1/inbound/{self.inbound_id}", READER,
                                 template="/v1/inbound/{id}")
        self.assertEqual(status, 200)
        status, _, parsed = self.call("POST", "/v1/messages", READER, message(["x@example.org"]),
                                      "/v1/messages")
        self.assertInsufficientScope(status, {"content-type": "application/problem+json",
                                              "www-authenticate": 'error="insufficient_scope"'},
                                     parsed, "send")

    def test_a_signed_link_needs_no_key_and_no_scope(self):
        expires = int(time.time()) + 600
        part = f"/v1/inbound/{self.inbound_id}/parts/2"
        link = f"{part}?expires={expires}&signature={sign(SECRET, self.inbound_id, '2', expires)}"
        status, _, body = self.call("GET", link, None)
        self.assertEqual((status, body), (200, b"attached"))
        # A key lacking inbound:read does not spoil a valid link.
        status, _, body = self.call("GET", link, lacking("inbound:read"))
        self.assertEqual(status, 200)
        status, _, _ = self.call("GET", part, None)
        self.assertEqual(status, 401)

    def rate_limited_total(self, key, limit):
        url = f"http://127.0.0.1:{self.bridge.port('admin')}/metrics"
        with urllib.request.urlopen(url, timeout=scaled(10)) as res:
            text = res.read().decode()
        for line in text.splitlines():
            if line.startswith("smtp_bridge_api_rate_limited_total{") and \
                    f'key="{key}"' in line and f'limit="{limit}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def test_a_client_under_its_rate_is_never_refused_and_over_it_gets_429(self):
        # 10 requests with 60 ms between them (~16/s, against 20/s with a burst of 20): none
        # refused, and each answer carries the key's fields.
        for i in range(10):
            status, headers, body = self.call("GET", "/v1/inbound", PACED, template="/v1/inbound")
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["ratelimit-policy"], '"requests";q=20;w=1')
            self.assertRegex(headers["ratelimit"], r'^"requests";r=\d+;t=\d+$')
            time.sleep(0.06)
        before = self.rate_limited_total("paced", "requests_per_second")
        # 60 at once from 6 clients: more than a burst of 20 plus what refills meanwhile, even
        # under the sanitizers.
        def one(_):
            return self.call("GET", "/v1/inbound", PACED, template="/v1/inbound")
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(one, range(60)))
        statuses = [status for status, _, _ in answers]
        self.assertIn(429, statuses)
        self.assertEqual(set(statuses), {200, 429})
        headers, body = next((h, b) for status, h, b in answers if status == 429)
        self.assertEqual(body["type"], PROBLEM_TYPE + "rate-limited")
        self.assertEqual(body["limit"], "requests_per_second")
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        self.assertEqual(headers["ratelimit-policy"], '"requests";q=20;w=1')
        self.assertRegex(headers["ratelimit"], r'^"requests";r=0;t=1$')
        after = self.rate_limited_total("paced", "requests_per_second")
        self.assertEqual(after - before, statuses.count(429))

    def test_a_send_over_the_rate_is_refused_before_its_body(self):
        status, _, body = self.call("GET", "/v1/inbound", SLOW, template="/v1/inbound")
        self.assertEqual(status, 200, body)
        # The one token a second is spent: the next request, a send, is 429 (before_body).
        status, headers, body = self.call("POST", "/v1/messages", SLOW,
                                          message(["r@example.org"]), "/v1/messages")
        self.assertEqual(status, 429, body)
        self.assertEqual(headers["retry-after"], "1")
        self.assertEqual(headers["ratelimit"], '"requests";r=0;t=1')

    def test_recipients_per_hour_refuses_a_send_over_the_budget_whole(self):
        status, headers, body = self.call(
            "POST", "/v1/messages", BUDGET,
            message(["a@example.org", "b@example.org", "A@example.org"]) | {"bcc": ["c@x.test"]},
            "/v1/messages")
        self.assertEqual(status, 202, body)
        self.assertEqual(headers["ratelimit-policy"], '"recipients";q=5;w=3600')
        self.assertRegex(headers["ratelimit"], r'^"recipients";r=2;t=\d+$')
        # A request that is refused (422) is not charged.
        status, _, body = self.call("POST", "/v1/messages", BUDGET,
                                    {"to": ["d@example.org", "e@example.org"]}, "/v1/messages")
        self.assertEqual(status, 422, body)
        before = self.rate_limited_total("budget", "recipients_per_hour")
        status, headers, body = self.call(
            "POST", "/v1/messages/raw", BUDGET,
            {"envelope": {"mail_from": "", "rcpt_to": ["d@x.test", "e@x.test", "f@x.test"]},
             "raw": "U3ViamVjdDogeA0KDQpoaQ0K"}, "/v1/messages/raw")
        self.assertEqual(status, 429, body)
        self.assertEqual(body["limit"], "recipients_per_hour")
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        self.assertRegex(headers["ratelimit"], r'^"recipients";r=2;t=\d+$')
        self.assertEqual(self.rate_limited_total("budget", "recipients_per_hour") - before, 1)
        # Two recipients still fit; nothing of the refused request was queued.
        status, _, body = self.call("POST", "/v1/messages", BUDGET,
                                    message(["d@x.test", "e@x.test"]), "/v1/messages")
        self.assertEqual(status, 202, body)
        status, _, body = self.call("POST", "/v1/messages", BUDGET, message(["g@x.test"]),
                                    "/v1/messages")
        self.assertEqual(status, 429, body)
        count = self.bridge._db().execute(
            "SELECT COUNT(*) FROM outbound_recipients WHERE rcpt IN ('f@x.test', 'g@x.test')"
        ).fetchone()[0]
        self.assertEqual(count, 0)

    def test_a_batch_counts_the_recipients_of_every_item(self):
        if "/v1/messages/batch" not in self.doc["paths"]:
            self.skipTest("POST /v1/messages/batch is not there yet")
        path = "/v1/messages/batch"
        two_and_two = {"messages": [message(["a@x.test", "b@x.test"]),
                                    message(["c@x.test", "d@x.test"])]}
        status, headers, body = self.call("POST", path, BATCH_BUDGET, two_and_two, path)
        self.assertEqual(status, 429, body)
        self.assertEqual(body["limit"], "recipients_per_hour")
        # An invalid item's recipient is given back: 3 - 2 queued = 1 left.
        with_invalid = {"messages": [message(["a@x.test", "b@x.test"]),
                                     {"to": ["c@x.test"], "subject": "no from"}]}
        status, headers, body = self.call("POST", path, BATCH_BUDGET, with_invalid, path)
        self.assertEqual(status, 202, body)
        self.assertEqual([r["status"] for r in body["results"]], ["queued", "invalid"])
        self.assertRegex(headers["ratelimit"], r'^"recipients";r=1;t=\d+$')
        status, headers, body = self.call("POST", path, BATCH_BUDGET,
                                          {"messages": [message(["c@x.test"])]}, path)
        self.assertEqual(status, 202, body)
        self.assertRegex(headers["ratelimit"], r'^"recipients";r=0;t=\d+$')


if __name__ == "__main__":
    unittest.main()
