# The inbound REST API end to end (CONTRACTS.md 2): swaks / smtplib → the real bridge → the real
# API on its own listener. Every response is validated against its schema in openapi/openapi.yaml;
# a dead letter is listed, redelivered and reaches the receiver again with the same webhook-id.
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

import bridge
from endpoint_names import default_endpoint_name
from bridge import Bridge, BridgeTest, queued_id, scaled
from receiver import Answer, Receiver, smtplib_send, wait_rows

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPENAPI = os.path.join(ROOT, "openapi", "openapi.yaml")
KEY = "e2e-inbound-api-key-7f3a9c"
PROBLEM_TYPE = "https://smtp-bridge.dev/problems/"


def load_openapi():
    import yaml
    with open(OPENAPI, encoding="utf-8") as f:
        return yaml.safe_load(f)


def follow(doc, node):
    """Follows local $refs ("#/a/b") until a node without one."""
    while isinstance(node, dict) and set(node) == {"$ref"}:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def response_validator(doc, path, method, status, content_type):
    """Draft 2020-12 validator of the documented body of (path, method, status, content type)."""
    import jsonschema
    responses = doc["paths"][path][method]["responses"]
    response = follow(doc, responses.get(str(status)))
    if response is None:
        raise AssertionError(f"{method.upper()} {path}: status {status} is not documented")
    content = response.get("content", {})
    if content_type not in content:
        raise AssertionError(f"{method.upper()} {path} {status}: {content_type} is not documented "
                             f"(documented: {list(content)})")
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"], **content[content_type]["schema"]}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())



def checked_body(test, doc, method, path, template, status, res_headers, raw):
    """The parsed JSON body of an API answer, asserted to match the schema openapi.yaml documents
    for `template` (the path template, None = no check) and `status`; problem+json bodies also
    carry that status and a problem type of this API."""
    content_type = res_headers.get("content-type", "")
    body = json.loads(raw.decode("utf-8"))
    if template is not None:
        validator = response_validator(doc, template, method.lower(), status, content_type)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        test.assertEqual(errors, [], f"{method} {path} → {status} does not match "
                                     f"openapi.yaml:\n{json.dumps(body)[:3000]}")
    if content_type == "application/problem+json":
        test.assertEqual(body["status"], status)
        test.assertTrue(body["type"].startswith(PROBLEM_TYPE), body)
    return body

class InboundApi(BridgeTest):
    """One bridge: dead@hooks.example goes to a receiver answering 410 at first; every other
    recipient is kept without endpoints (browsable only)."""

    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.doc = load_openapi()
        cls.tmp = tempfile.mkdtemp(prefix="e2e-api-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.receiver = Receiver().start()
        cls.addClassCleanup(cls.receiver.stop)
        routes = [
            {"match": ["dead@hooks.example"], "endpoints": [{"url": cls.receiver.url("/dead")}]},
            {"match": ["*"]},
        ]
        cls.bridge = Bridge(extra={"routes": routes,
                                   "api": {"keys": [{"name": "t", "key": KEY}]},
                                   "delivery": {"workers": 2, "retry": {
                                       "initial": "200ms", "max_interval": "1s", "max_age": "1h"}}})
        cls.bridge.expect = cls.bridge.expect + ["api"]  # the harness waits for smtp and admin only
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()

    bridge_options = {}  # a class bridge exists: BridgeTest checks it is alive after each test

    # --- helpers ---

    def call(self, method, path, key=KEY, template=None):
        """(status, headers, parsed body) of one request; the body is validated against the
        schema openapi.yaml documents for `template` (the path template) and that status."""
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"), timeout=scaled(10))
        try:
            headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
            conn.request(method, path, headers=headers)
            res = conn.getresponse()
            raw = res.read()
            status, res_headers = res.status, {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        return status, res_headers, checked_body(self, self.doc, method, path, template, status,
                                                 res_headers, raw)

    def swaks(self, rcpt, subject):
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.bridge.port()}",
                            "-f", "alice@sender.example", "-t", rcpt,
                            "--header", f"Subject: {subject}"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=scaled(30),
                           env=dict(os.environ, HOME=self.tmp))
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"swaks failed:\n{out}")
        msg_id = queued_id(out)
        self.assertIsNotNone(msg_id, f"no 'queued as <id>' in the swaks transcript:\n{out}")
        return msg_id

    def listed(self, query=""):
        status, _, body = self.call("GET", "/v1/inbound" + query, template="/v1/inbound")
        self.assertEqual(status, 200)
        return body

    # --- tests ---

    def test_a_kept_message_is_listed_and_shown_as_bridge_v1(self):
        msg_id = self.swaks("kept@anything.example", "kept via swaks")
        item = next((i for i in self.listed()["items"] if i["id"] == msg_id), None)
        self.assertIsNotNone(item, "the message is not listed")
        self.assertEqual(item["mail_from"], "alice@sender.example")
        self.assertEqual(item["rcpt_to"], ["kept@anything.example"])
        self.assertEqual(item["subject"], "kept via swaks")
        self.assertEqual(item["deliveries"], [])
        self.assertEqual(item["size"], len(self.bridge.message(msg_id)["data"]))

        status, _, body = self.call("GET", f"/v1/inbound/{msg_id}", template="/v1/inbound/{id}")
        self.assertEqual(status, 200)
        doc = body["message"]  # validated against BridgeV1 through InboundDetail
        self.assertEqual(doc["id"], msg_id)
        self.assertEqual(doc["version"], "bridge.v1")
        self.assertEqual(doc["envelope"]["rcpt_to"], ["kept@anything.example"])
        self.assertEqual(doc["message"]["subject"], "kept via swaks")
        self.assertEqual(body["deliveries"], [])

        status, _, problem = self.call("POST", f"/v1/inbound/{msg_id}/redeliver",
                                       template="/v1/inbound/{id}/redeliver")
        self.assertEqual(status, 409)
        self.assertEqual(problem["type"], PROBLEM_TYPE + "no-endpoints")

    def test_a_dead_letter_is_listed_and_redelivered_with_the_same_webhook_id(self):
        self.receiver.script("/dead", [Answer(410)])
        msg_id = smtplib_send(self.bridge, "s@example.com", ["dead@hooks.example"],
                              b"Subject: to the dead\r\n\r\nbody\r\n")
        wait_rows(self.bridge, lambda rows: rows[0]["state"] == "dead", msg_id, what="a dead row")
        first = self.receiver.wait_for(1, path="/dead", payload_id=msg_id)[0]

        dead = self.listed("?status=dead")
        item = next((i for i in dead["items"] if i["id"] == msg_id), None)
        self.assertIsNotNone(item, "the dead letter is not listed with status=dead")
        self.assertEqual(len(item["deliveries"]), 1)
        delivery = item["deliveries"][0]
        self.assertEqual(delivery["state"], "dead")
        self.assertEqual(delivery["attempts"], 1)
        self.assertIn("410", delivery["last_error"])
        # By name and origin, never the URL's path (issue 11).
        self.assertEqual(delivery["endpoint"], default_endpoint_name(self.receiver.url("/dead")))
        self.assertEqual(delivery["origin"], f"http://127.0.0.1:{self.receiver.port}")
        self.assertNotIn("/dead", json.dumps(item))
        self.assertNotIn(msg_id, [i["id"] for i in self.listed("?status=queued")["items"]])

        status, _, body = self.call("POST", f"/v1/inbound/{msg_id}/redeliver",
                                    template="/v1/inbound/{id}/redeliver")
        self.assertEqual(status, 202)
        self.assertEqual(body, {"id": msg_id, "deliveries": 1})
        # The receiver now answers 200 (its script is used up): the same delivery arrives again.
        second = self.receiver.wait_for(2, path="/dead", payload_id=msg_id)[1]
        self.assertEqual(second.header("webhook-id"), first.header("webhook-id"))
        self.assertEqual(second.header("webhook-id"), delivery["id"])
        self.assertEqual(second.header("webhook-attempt"), "2")
        wait_rows(self.bridge, lambda rows: rows[0]["state"] == "delivered", msg_id,
                  what="the redelivered row delivered")
        status, _, shown = self.call("GET", f"/v1/inbound/{msg_id}", template="/v1/inbound/{id}")
        self.assertEqual(shown["deliveries"][0]["state"], "delivered")
        self.assertEqual(shown["deliveries"][0]["attempts"], 2)

    def test_pages_newest_first_until_next_cursor_is_null(self):
        sent = [smtplib_send(self.bridge, "p@example.com", ["page@anything.example"],
                             f"Subject: page {i}\r\n\r\nx\r\n".encode()) for i in range(3)]
        seen, query = [], "?limit=2"
        for _ in range(100):
            page = self.listed(query)
            self.assertLessEqual(len(page["items"]), 2)
            seen += [i["id"] for i in page["items"]]
            if page["next_cursor"] is None:
                break
            query = "?limit=2&cursor=" + page["next_cursor"]
        self.assertEqual(seen, sorted(seen, reverse=True), "not newest first")
        self.assertEqual(len(seen), len(set(seen)), "a message on two pages")
        self.assertEqual([s for s in seen if s in sent], sorted(sent, reverse=True))

    def test_refuses_a_missing_or_wrong_key_with_401(self):
        for key in (None, "not-the-key"):
            status, headers, problem = self.call("GET", "/v1/inbound", key=key,
                                                 template="/v1/inbound")
            self.assertEqual(status, 401)
            self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"), headers)
            self.assertEqual(problem["type"], PROBLEM_TYPE + "unauthorized")
        status, _, _ = self.call("POST", "/v1/inbound/x/redeliver", key="not-the-key",
                                 template="/v1/inbound/{id}/redeliver")
        self.assertEqual(status, 401)

    def test_answers_bad_requests_with_problems(self):
        status, _, problem = self.call("GET", "/v1/inbound?status=lost&limit=9999",
                                       template="/v1/inbound")
        self.assertEqual(status, 422)
        self.assertEqual({e["field"] for e in problem["errors"]}, {"status", "limit"})
        unknown = "0190aaaa-0000-7000-8000-000000000000"
        status, _, _ = self.call("GET", f"/v1/inbound/{unknown}", template="/v1/inbound/{id}")
        self.assertEqual(status, 404)
        status, _, _ = self.call("POST", f"/v1/inbound/{unknown}/redeliver",
                                 template="/v1/inbound/{id}/redeliver")
        self.assertEqual(status, 404)
        # A bare `curl -X POST` sends no Content-Length: no body (RFC 9112 6.3), answered at once
        # (before, the server read until the client gave up).
        p = subprocess.run(["curl", "-sS", "-X", "POST", "-m", str(scaled(5)),
                            "-H", f"Authorization: Bearer {KEY}", "-w", "\n%{http_code}",
                            f"http://127.0.0.1:{self.bridge.port('api')}/v1/inbound/{unknown}/redeliver"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=scaled(30))
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"curl failed:\n{out}")
        body, code = out.rsplit("\n", 1)
        self.assertEqual(code, "404", out)
        self.assertEqual(json.loads(body)["type"], PROBLEM_TYPE + "not-found")
        status, _, problem = self.call("GET", "/v1/nowhere")
        self.assertEqual((status, problem["type"]), (404, PROBLEM_TYPE + "not-found"))
        status, headers, problem = self.call("DELETE", "/v1/inbound")
        self.assertEqual((status, headers.get("allow")), (405, "GET"))

    def test_requests_are_counted_per_route_template(self):
        self.call("GET", "/v1/inbound?limit=1", template="/v1/inbound")
        port = self.bridge.port("admin")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=scaled(10)) as r:
            text = r.read().decode()
        self.assertRegex(
            text, r'smtp_bridge_api_requests_total\{route="/v1/inbound",status="200"\} [1-9]')
        self.assertIn('smtp_bridge_api_request_seconds_count{route="/v1/inbound"}', text)


if __name__ == "__main__":
    unittest.main()
