# Large attachments by signed link (issue 15) end to end: smtplib → the real bridge → a real HTTP
# receiver, which fetches the part from the real API with a plain GET (no API key) and gets the
# same bytes; tampered and expired links get 403, a message that is not stored 404. The signing
# scheme is checked independently: the test signs a link itself, as README "Large attachments by
# link" documents it (HMAC-SHA256 over "{id}/{part}/{expires}", base64url without padding).
import base64
import hashlib
import hmac
import http.client
import json
import os
import time
import unittest
import urllib.parse
import email.policy
from email.message import EmailMessage

from bridge import Bridge, BridgeTest, scaled
from receiver import Receiver, smtplib_send

KEY = "e2e-links-api-key-5b1e"
SECRET = "links-secret-0123456789abcdef"
OLD_SECRET = "links-old-secret-fedcba9876543210"
BASE = "https://bridge.test"  # what receivers reach the API at (a proxy in front of it)
PROBLEM_TYPE = "https://smtp-bridge.dev/problems/"


def sign(secret, message_id, part, expires):
    mac = hmac.new(secret.encode(), f"{message_id}/{part}/{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def message_with(attachment, filename="daten-\u00fcbersicht.bin"):
    msg = EmailMessage()
    msg["From"] = "alice@sender.example"
    msg["To"] = "bob@links.example"
    msg["Subject"] = "the numbers"
    msg.set_content("See the attachment.\n")
    msg.add_attachment(attachment, maintype="application", subtype="octet-stream",
                       filename=filename)
    return msg.as_bytes(policy=email.policy.SMTP)


class LinkTest(BridgeTest):
    ttl = "1h"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver().start()
        cls.addClassCleanup(cls.receiver.stop)
        routes = [{"match": ["*@links.example"], "attachments": "url",
                   "attachment_url_threshold": "64KiB",
                   "endpoints": [{"url": cls.receiver.url("/hook")}]},
                  {"match": ["*@capped.example"],
                   "endpoints": [{"url": cls.receiver.url("/capped"), "max_payload_bytes": "300KiB"}]}]
        cls.bridge = Bridge(extra={
            "routes": routes,
            "smtp": {"listen": ["127.0.0.1:0"], "hostname": "mx.test.example",
                     "limits": {"max_message_size": "40MiB"}},
            "api": {"listen": "127.0.0.1:0", "keys": [{"name": "ops", "key": KEY}],
                    "links": {"base_url": BASE, "secrets": [SECRET, OLD_SECRET], "ttl": cls.ttl}}})
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()

    bridge_options = {}

    def get(self, link, headers=None):
        """GET the link's path and query from the real API (its origin is the proxy's)."""
        parsed = urllib.parse.urlsplit(link)
        self.assertEqual(f"{parsed.scheme}://{parsed.netloc}", BASE)
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"), timeout=scaled(30))
        try:
            conn.request("GET", parsed.path + ("?" + parsed.query if parsed.query else ""),
                         headers=headers or {})
            res = conn.getresponse()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
        finally:
            conn.close()

    def document(self, path, msg_id):
        return self.receiver.wait_for(1, path=path, payload_id=msg_id, timeout=60)[0]

    def assertProblem(self, status, body, slug, expected_status):
        self.assertEqual(status, expected_status, body[:300])
        self.assertEqual(json.loads(body)["type"], PROBLEM_TYPE + slug)


class TwentyMegabytes(LinkTest):
    def test_twenty_megabyte_attachment_goes_by_link(self):
        data = os.urandom(20 * 1024 * 1024)
        msg_id = smtplib_send(self.bridge, "alice@sender.example", ["bob@links.example"],
                              message_with(data))
        req = self.document("/hook", msg_id)
        # The webhook stays small: the attachment is a link, not 27 MB of base64.
        self.assertLess(len(req.body), 64 * 1024)
        attachments = req.json()["message"]["attachments"]
        self.assertEqual(len(attachments), 1)
        a = attachments[0]
        self.assertNotIn("content", a)
        self.assertNotIn("omitted", a)
        self.assertEqual(a["size"], len(data))
        self.assertEqual(a["sha256"], hashlib.sha256(data).hexdigest())
        link = a["url"]
        self.assertTrue(link.startswith(f"{BASE}/v1/inbound/{msg_id}/parts/{a['part']}?"), link)

        status, headers, body = self.get(link)  # a plain GET: no API key
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(len(body), len(data))
        self.assertEqual(hashlib.sha256(body).hexdigest(), a["sha256"])
        self.assertEqual(headers["content-type"], "application/octet-stream")
        self.assertIn("filename*=UTF-8''daten-%C3%BCbersicht.bin", headers["content-disposition"])
        self.assertEqual(headers["x-content-type-options"], "nosniff")

        # One byte of the signature changed → 403.
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        signature, expires = query["signature"][0], query["expires"][0]
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        status, _, body = self.get(link.replace(signature, flipped))
        self.assertProblem(status, body, "link-invalid", 403)
        # A later expiry under the same signature → 403.
        status, _, body = self.get(link.replace(f"expires={expires}", f"expires={int(expires) + 3600}"))
        self.assertProblem(status, body, "link-invalid", 403)
        # The link signed by the test itself, with the rotated-out secret too: the scheme is the
        # documented one, and every configured secret verifies.
        for secret in (SECRET, OLD_SECRET):
            own = f"{BASE}/v1/inbound/{msg_id}/parts/{a['part']}?expires={expires}&signature={sign(secret, msg_id, a['part'], expires)}"
            status, _, body = self.get(own)
            self.assertEqual(status, 200)
            self.assertEqual(len(body), len(data))
        # No link and no key → 401; the key alone → 200.
        path = f"{BASE}/v1/inbound/{msg_id}/parts/{a['part']}"
        self.assertEqual(self.get(path)[0], 401)
        self.assertEqual(self.get(path, {"Authorization": f"Bearer {KEY}"})[0], 200)

    def test_raw_and_unknown_messages(self):
        msg_id = smtplib_send(self.bridge, "alice@sender.example", ["bob@links.example"],
                              message_with(b"small"))
        # bridge.v1's reply through the real binary: a message that quotes and signs nothing is
        # its text, not written twice (reply.text null, as reply.html for an HTML body).
        message = self.document("/hook", msg_id).json()["message"]
        self.assertEqual(message["reply"], {"text": None, "html": None, "signature": None})
        self.assertEqual(message["text"].strip(), "See the attachment.")
        stored = self.bridge.message(msg_id)["data"]
        status, headers, body = self.get(f"{BASE}/v1/inbound/{msg_id}/raw",
                                         {"Authorization": f"Bearer {KEY}"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "message/rfc822")
        self.assertEqual(body, stored)
        self.assertEqual(self.get(f"{BASE}/v1/inbound/{msg_id}/raw")[0], 401)
        expires = int(time.time()) + 600
        raw_link = f"{BASE}/v1/inbound/{msg_id}/raw?expires={expires}&signature={sign(SECRET, msg_id, 'raw', expires)}"
        status, _, body = self.get(raw_link)
        self.assertEqual((status, body), (200, stored))
        # A correctly signed link to a message that is not (or no longer) stored → 404.
        gone = "01900000-0000-7000-8000-000000000000"
        status, _, body = self.get(f"{BASE}/v1/inbound/{gone}/parts/2?expires={expires}&signature={sign(SECRET, gone, '2', expires)}")
        self.assertProblem(status, body, "not-found", 404)
        # A part the message does not have → 404; the multipart root's container part too.
        status, _, body = self.get(f"{BASE}/v1/inbound/{msg_id}/parts/9?expires={expires}&signature={sign(SECRET, msg_id, '9', expires)}")
        self.assertProblem(status, body, "not-found", 404)

    def test_max_payload_bytes_links_the_largest_attachments(self):
        small, large = os.urandom(50 * 1024), os.urandom(400 * 1024)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@sender.example", "c@capped.example", "capped"
        msg.set_content("two attachments\n")
        msg.add_attachment(small, maintype="application", subtype="octet-stream", filename="small.bin")
        msg.add_attachment(large, maintype="application", subtype="octet-stream", filename="large.bin")
        msg_id = smtplib_send(self.bridge, "a@sender.example", ["c@capped.example"], msg.as_bytes(policy=email.policy.SMTP))
        req = self.document("/capped", msg_id)
        self.assertLessEqual(len(req.body), 300 * 1024)
        by_name = {a["filename"]: a for a in req.json()["message"]["attachments"]}
        self.assertEqual(base64.b64decode(by_name["small.bin"]["content"]), small)
        self.assertNotIn("content", by_name["large.bin"])
        status, _, body = self.get(by_name["large.bin"]["url"])
        self.assertEqual((status, body), (200, large))


class Expiry(LinkTest):
    ttl = "1s"

    def test_expired_link_is_refused(self):
        data = os.urandom(100 * 1024)
        msg_id = smtplib_send(self.bridge, "alice@sender.example", ["bob@links.example"],
                              message_with(data))
        link = self.document("/hook", msg_id).json()["message"]["attachments"][0]["url"]
        expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["expires"][0])
        # The link names its expiry; past it (whole seconds), the same link is refused.
        while time.time() < expires + 1.2:
            time.sleep(0.2)
        status, _, body = self.get(link)
        self.assertProblem(status, body, "link-expired", 403)


if __name__ == "__main__":
    unittest.main()
