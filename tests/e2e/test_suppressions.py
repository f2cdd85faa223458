# The suppression list end to end (issue 14, README "Suppressions"): HTTP requests (http.client)
# to the real bridge, whose relay sends to a real aiosmtpd upstream. A suppressed recipient is
# answered `suppressed` and never reaches the upstream; the list pages, deletes and matches
# without regard to case; every answer is validated against openapi/openapi.yaml.
import http.client
import json
import re
import time
import unittest
import urllib.parse

import bridge
from bridge import Bridge, scaled
from test_inbound_api import PROBLEM_TYPE, checked_body, load_openapi
from upstream import Upstream

KEY = "e2e-suppressions-key-0c0ffee1"
SEND_ONLY = "e2e-suppressions-send-only-02"


def message(to, subject="hi"):
    return {"from": "shop@example.com", "to": to, "subject": subject, "text": "hello\n"}


class Suppressions(unittest.TestCase):
    """One bridge and one upstream taking everything, for the class; each test uses addresses of
    its own."""

    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.doc = load_openapi()
        cls.up = Upstream(tls="none", require_tls=False)
        cls.up.start()
        cls.addClassCleanup(cls.up.stop)
        relay = {"upstream": {"host": "127.0.0.1", "port": cls.up.port, "tls": "none"},
                 "hostname": "bridge.test", "connections": 2,
                 "retry": {"initial": "1s", "max_interval": "2s", "max_age": "1h"}}
        cls.bridge = Bridge(extra={"api": {"keys": [
                                       {"name": "full", "key": KEY},
                                       {"name": "sender", "key": SEND_ONLY,
                                        "scopes": ["send", "messages:read", "inbound:read",
                                                   "inbound:write"]}]},
                                   "relay": relay})
        cls.bridge.expect = cls.bridge.expect + ["api"]
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()

    def call(self, method, path, body=None, key=KEY, template=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"),
                                          timeout=scaled(30))
        try:
            headers = {"Authorization": f"Bearer {key}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            res = conn.getresponse()
            raw = res.read()
            status, res_headers = res.status, {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        if status == 204:
            self.assertEqual(raw, b"")
            return status, res_headers, None
        return status, res_headers, checked_body(self, self.doc, method, path, template, status,
                                                 res_headers, raw)

    def suppress(self, address, expected=201):
        status, _, entry = self.call("POST", "/v1/suppressions", {"address": address},
                                     template="/v1/suppressions")
        self.assertEqual(status, expected, entry)
        return entry

    def unsuppress(self, address, expected=204):
        path = "/v1/suppressions/" + urllib.parse.quote(address, safe="")
        status, _, body = self.call("DELETE", path, template="/v1/suppressions/{address}")
        self.assertEqual(status, expected, body)

    def send(self, to, subject):
        status, _, body = self.call("POST", "/v1/messages", message(to, subject),
                                    template="/v1/messages")
        self.assertEqual(status, 202, body)
        return body

    def status_of(self, msg_id):
        status, _, body = self.call("GET", f"/v1/messages/{msg_id}", template="/v1/messages/{id}")
        self.assertEqual(status, 200, body)
        return body

    def wait_status(self, msg_id, wanted):
        """Polls GET /v1/messages/{id} (the API has no push) until its status is `wanted`."""
        end = time.monotonic() + scaled(20)
        while True:
            doc = self.status_of(msg_id)
            if doc["status"] == wanted or time.monotonic() > end:
                self.assertEqual(doc["status"], wanted, doc)
                return doc
            time.sleep(0.05)

    def metric(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("admin"),
                                          timeout=scaled(10))
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        found = re.search(r"^smtp_bridge_api_suppressed_recipients_total ([0-9.e+]+)$", text,
                          re.M)
        return float(found.group(1)) if found else -1.0

    def relayed_to(self, subject):
        """The recipients the upstream got for messages with `subject`."""
        return sorted(r for m in self.up.messages if f"Subject: {subject}".encode() in m.data
                      for r in m.rcpt_tos)

    def test_a_suppressed_recipient_is_not_relayed_and_shows_suppressed(self):
        entry = self.suppress("Gone@Example.org")
        self.assertEqual(entry["address"], "gone@example.org")
        self.assertEqual(entry["reason"], "manual")
        self.assertNotIn("bounce", entry)
        before = self.metric()
        accepted = self.send(["gone@example.org", "live@example.org"], "partly-suppressed")
        self.assertEqual(accepted["status"], "queued")
        self.assertEqual(accepted["recipients"],
                         [{"address": "gone@example.org", "status": "suppressed"},
                          {"address": "live@example.org", "status": "queued"}])
        self.up.wait_for(lambda _: self.relayed_to("partly-suppressed"), timeout=scaled(20),
                         what="the live recipient relayed")
        doc = self.status_of(accepted["id"])
        by_address = {r["address"]: r for r in doc["recipients"]}
        self.assertEqual(by_address["gone@example.org"]["status"], "suppressed")
        self.wait_status(accepted["id"], "sent")
        self.assertEqual(self.relayed_to("partly-suppressed"), ["live@example.org"])
        self.assertEqual(self.metric(), before + 1)

    def test_all_recipients_suppressed_is_202_and_nothing_is_relayed(self):
        self.suppress("a1@dead.example")
        self.suppress("a2@dead.example")
        accepted = self.send(["A1@dead.example", "a2@DEAD.example"], "all-suppressed")
        self.assertEqual(accepted["status"], "queued")  # committed; nobody to relay to
        self.assertEqual([r["status"] for r in accepted["recipients"]],
                         ["suppressed", "suppressed"])
        doc = self.status_of(accepted["id"])
        self.assertEqual(doc["status"], "suppressed")
        self.assertEqual([r["status"] for r in doc["recipients"]], ["suppressed", "suppressed"])
        # A later message to a live address is relayed; the suppressed one never was.
        later = self.send(["after@example.org"], "after-all-suppressed")
        self.up.wait_for(lambda _: self.relayed_to("after-all-suppressed"), timeout=scaled(20),
                         what="the later message relayed")
        self.assertEqual(self.relayed_to("all-suppressed"), [])
        self.assertEqual(self.status_of(accepted["id"])["status"], "suppressed")
        self.assertTrue(later["id"])

    def test_a_batch_names_suppressed_recipients_per_item_and_relays_only_the_others(self):
        self.suppress("batch-gone@example.org")
        before = self.metric()
        body = {"messages": [message(["Batch-Gone@example.org"], "batch-suppressed"),
                             message(["batch-live@example.org", "batch-gone@example.org"],
                                     "batch-mixed")]}
        status, _, answer = self.call("POST", "/v1/messages/batch", body,
                                      template="/v1/messages/batch")
        self.assertEqual(status, 202, answer)
        first, second = answer["results"]
        self.assertEqual(first["recipients"], [{"address": "Batch-Gone@example.org",
                                                "status": "suppressed"}])
        self.assertEqual([r["status"] for r in second["recipients"]], ["queued", "suppressed"])
        self.up.wait_for(lambda _: self.relayed_to("batch-mixed"), timeout=scaled(20),
                         what="the batch's live recipient relayed")
        self.wait_status(second["id"], "sent")
        self.assertEqual(self.relayed_to("batch-mixed"), ["batch-live@example.org"])
        self.assertEqual(self.relayed_to("batch-suppressed"), [])
        self.assertEqual(self.status_of(first["id"])["status"], "suppressed")
        self.assertEqual(self.metric(), before + 2)

    def test_delete_lets_the_next_send_through_and_404s_when_absent(self):
        self.suppress("back@example.org")
        self.suppress("BACK@example.org", expected=200)  # already there, in another case
        self.unsuppress("Back@Example.org")
        self.unsuppress("back@example.org", expected=404)
        accepted = self.send(["back@example.org"], "after-delete")
        self.assertEqual(accepted["recipients"], [{"address": "back@example.org",
                                                   "status": "queued"}])
        self.up.wait_for(lambda _: self.relayed_to("after-delete"), timeout=scaled(20),
                         what="the send after the delete relayed")

    def test_an_address_with_a_slash_is_deleted_by_its_encoded_path(self):
        self.suppress("a/b@example.org")
        self.unsuppress("a/b@example.org")

    def test_the_list_pages_by_address(self):
        addresses = [f"page{i}@list.example" for i in (6, 2, 4, 0, 5, 1, 3)]
        for a in addresses:
            self.suppress(a)
        seen, cursor, pages = [], None, 0
        while True:
            path = "/v1/suppressions?limit=3" + (f"&cursor={cursor}" if cursor else "")
            status, _, page = self.call("GET", path, template="/v1/suppressions")
            self.assertEqual(status, 200, page)
            pages += 1
            seen += [e["address"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            self.assertEqual(len(page["items"]), 3)
        mine = [a for a in seen if a.endswith("@list.example")]
        self.assertEqual(mine, sorted(addresses))
        self.assertEqual(seen, sorted(seen))
        self.assertGreaterEqual(pages, 3)

    def test_invalid_input_is_422_naming_the_field(self):
        for body in ({"address": "not an address"}, {"address": "@example.org"}, {},
                     {"address": 7}):
            with self.subTest(body=body):
                status, _, problem = self.call("POST", "/v1/suppressions", body,
                                               template="/v1/suppressions")
                self.assertEqual(status, 422, problem)
                self.assertEqual([e["field"] for e in problem["errors"]], ["address"])
        status, _, problem = self.call("GET", "/v1/suppressions?cursor=%25%25",
                                       template="/v1/suppressions")
        self.assertEqual(status, 422, problem)
        self.assertEqual([e["field"] for e in problem["errors"]], ["cursor"])

    def test_a_key_without_the_scope_gets_403_on_each_route(self):
        for method, path, template, body in (
                ("GET", "/v1/suppressions", "/v1/suppressions", None),
                ("POST", "/v1/suppressions", "/v1/suppressions", {"address": "x@example.org"}),
                ("DELETE", "/v1/suppressions/x%40example.org", "/v1/suppressions/{address}",
                 None)):
            with self.subTest(method=method):
                status, _, problem = self.call(method, path, body, key=SEND_ONLY,
                                               template=template)
                self.assertEqual(status, 403, problem)
                self.assertEqual(problem["type"], PROBLEM_TYPE + "insufficient-scope")
                self.assertEqual(problem["scope"], "suppressions")


if __name__ == "__main__":
    unittest.main()
