# Bounces end to end (issue 14, README "Bounces"): POST /v1/messages → the relay sends each
# recipient in its own transaction with a signed VERP return path to a real aiosmtpd upstream →
# a DSN for one recipient, built with Python's email as Postfix's bounce daemon writes it (RFC 3464
# multipart/report; Postfix itself cannot run unprivileged here), arrives on the bridge's own SMTP
# listener → the recipient is `bounced` with its history [sent, bounced], a signed
# `message.bounced` event arrives, the address is suppressed, and the next send to it is not
# relayed. A DSN is never POSTed to the inbound webhooks; a forged return path, and an auto-reply
# to a real one, are routed like any message and recorded nowhere.
import http.client
import json
import re
import smtplib
import time
import unittest
from email import policy
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import bridge
from bridge import Bridge, scaled
from receiver import Receiver, make_secret, verifies
from test_delivery_events import event_validator
from test_inbound_api import checked_body, load_openapi
from upstream import Upstream

KEY = "e2e-bounces-key-5d1f0a77c3"
EVENTS_SECRET = make_secret("bounces-events")
INBOUND_SECRET = make_secret("bounces-inbound")
DOMAIN = "bounces.bridge.test"
RETURN_PATH = re.compile(r"^bounces\+([0-9a-f]{32})-([0-9]+)-([0-9a-f]{10})@" + re.escape(DOMAIN)
                         + "$")


def postfix_dsn(return_path, rcpt, original_headers, action="failed", status="5.1.1",
                diagnostic=None):
    """A DSN shaped like Postfix 3.7's bounce(8) output: a human-readable part, the
    message/delivery-status part (per-message then per-recipient fields, RFC 3464 2.2 and 2.3),
    and the returned message's header (text/rfc822-headers, RFC 6522)."""
    if diagnostic is None:
        diagnostic = (f"smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in "
                      "local recipient table")
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.org (Mail Delivery System)"
    report["To"] = return_path
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"
    report["Message-Id"] = "<20261207000000.4Q1XYZ@mx.example.org>"
    report.attach(MIMEText(
        "This is the mail system at host mx.example.org.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{rcpt}>: host mail.example.org[192.0.2.25] said: 550 5.1.1 <{rcpt}>:\n"
        "    Recipient address rejected: User unknown (in reply to RCPT TO command)\n"))
    fields = Message()
    fields.set_type("message/delivery-status")
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.example.org"
    per_message["X-Postfix-Queue-ID"] = "4Q1XYZ"
    per_message["X-Postfix-Sender"] = "rfc822; " + return_path
    per_message["Arrival-Date"] = "Mon,  7 Dec 2026 00:00:00 +0000 (UTC)"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = "rfc822; " + rcpt
    per_recipient["Original-Recipient"] = "rfc822;" + rcpt
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Remote-MTA"] = "dns; mail.example.org"
    per_recipient["Diagnostic-Code"] = diagnostic
    fields.set_payload([per_message, per_recipient])
    report.attach(fields)
    returned = Message()
    returned.set_type("text/rfc822-headers")
    returned.set_payload(original_headers)
    report.attach(returned)
    return report.as_bytes(policy=policy.SMTP)


class Bounces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.doc = load_openapi()
        cls.up = Upstream(tls="none", require_tls=False)
        cls.up.start()
        cls.addClassCleanup(cls.up.stop)
        cls.events = Receiver().start()
        cls.addClassCleanup(cls.events.stop)
        cls.inbound = Receiver().start()
        cls.addClassCleanup(cls.inbound.stop)
        hook = {"url": cls.inbound.url("/inbound"), "secret": INBOUND_SECRET}
        cls.bridge = Bridge(extra={
            "api": {"keys": [{"name": "shop", "key": KEY}]},
            # Mail to inbound.test, and anything else on the bounce domain (a DSN that matches
            # nothing), goes to the inbound webhook; valid return paths to the bounce consumer.
            "routes": [{"match": ["*@inbound.test", "*@" + DOMAIN], "endpoints": [hook]}],
            "relay": {"upstream": {"host": "127.0.0.1", "port": cls.up.port, "tls": "none"},
                      "hostname": "bridge.test", "connections": 2,
                      "retry": {"initial": "1s", "max_interval": "2s", "max_age": "1h"},
                      "return_path_domain": DOMAIN,
                      "return_path_secrets": ["bounce-secret-0123456789abcdef"]},
            "delivery": {"retry": {"initial": "200ms", "max_interval": "500ms",
                                   "max_age": "1h"}},
            "events": {"endpoints": [{"name": "events", "url": cls.events.url("/events"),
                                      "secret": EVENTS_SECRET}]}})
        cls.bridge.expect = cls.bridge.expect + ["api"]
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()

    def call(self, method, path, body=None, template=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"),
                                          timeout=scaled(30))
        try:
            headers = {"Authorization": f"Bearer {KEY}"}
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
        return status, checked_body(self, self.doc, method, path, template, status, res_headers,
                                    raw)

    def send(self, to, subject):
        status, body = self.call("POST", "/v1/messages",
                                 {"from": "shop@example.com", "to": to, "subject": subject,
                                  "text": "hello\n"}, template="/v1/messages")
        self.assertEqual(status, 202, body)
        return body

    def status_of(self, msg_id):
        status, body = self.call("GET", f"/v1/messages/{msg_id}", template="/v1/messages/{id}")
        self.assertEqual(status, 200, body)
        return body

    def wait_status(self, msg_id, predicate, what, timeout=20):
        body = None
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            body = self.status_of(msg_id)
            if predicate(body):
                return body
            time.sleep(0.1)
        self.fail(f"{what}: last status {body}")

    def relayed(self, subject):
        """The upstream's transactions of the message with this subject."""
        return [m for m in self.up.messages if f"Subject: {subject}".encode() in m.data]

    def smtp_send(self, mail_from, rcpt, data):
        with smtplib.SMTP("127.0.0.1", self.bridge.port("smtp"), timeout=scaled(30)) as client:
            client.ehlo("mx.example.org")
            client.mail(mail_from)
            code, text = client.rcpt(rcpt)
            if code != 250:
                return code, text
            code, text = client.data(data)
            return code, text

    def test_a_postfix_dsn_bounces_the_recipient_and_suppresses_it(self):
        sent = self.send(["ok@example.org", "Gone@Example.org"], "bounce-me")
        msg_id = sent["id"]
        self.up.wait_for(lambda _: len(self.relayed("bounce-me")) == 2, timeout=scaled(20),
                         what="two transactions")
        # One transaction per recipient, each with its own signed return path on the domain.
        paths = {}
        for m in self.relayed("bounce-me"):
            self.assertEqual(len(m.rcpt_tos), 1, m)
            match = RETURN_PATH.match(m.mail_from)
            self.assertIsNotNone(match, m.mail_from)
            self.assertEqual(match.group(1), msg_id.replace("-", ""))
            paths[m.rcpt_tos[0]] = m.mail_from
        self.assertEqual(set(paths), {"ok@example.org", "Gone@Example.org"})
        self.assertNotEqual(paths["ok@example.org"], paths["Gone@Example.org"])
        self.wait_status(msg_id, lambda b: b["status"] == "sent", "both sent")

        returned = self.relayed("bounce-me")[0].data.split(b"\r\n\r\n", 1)[0].decode() + "\r\n"
        dsn = postfix_dsn(paths["Gone@Example.org"], "Gone@Example.org", returned)
        code, text = self.smtp_send("", paths["Gone@Example.org"], dsn)
        self.assertEqual(code, 250, text)

        body = self.wait_status(
            msg_id, lambda b: any(r["status"] == "bounced" for r in b["recipients"]), "bounced")
        gone = next(r for r in body["recipients"] if r["address"] == "Gone@Example.org")
        ok = next(r for r in body["recipients"] if r["address"] == "ok@example.org")
        self.assertEqual(ok["status"], "sent")
        self.assertEqual([h["status"] for h in ok["history"]], ["sent"])
        self.assertEqual([h["status"] for h in gone["history"]], ["sent", "bounced"])
        self.assertEqual(gone["last_reply"]["code"], 550)
        self.assertEqual(gone["last_reply"]["enhanced"], "5.1.1")
        self.assertIn("User unknown", gone["last_reply"]["text"])
        dsn_id = gone["history"][1]["dsn_id"]
        self.assertIsNotNone(dsn_id)
        self.assertEqual(body["status"], "partially_failed")

        # The signed message.bounced event, valid against openapi.yaml's webhook schema.
        def bounced(_):
            return any(r.json()["type"] == "message.bounced" for r in self.events.requests())
        self.events.wait_until(bounced, timeout=scaled(20), what="message.bounced")
        event = next(r for r in self.events.requests() if r.json()["type"] == "message.bounced")
        self.assertTrue(verifies(event, EVENTS_SECRET))
        doc = event.json()
        self.assertEqual(list(event_validator(self.doc, "message.bounced").iter_errors(doc)), [])
        self.assertEqual(doc["data"]["message_id"], msg_id)
        self.assertEqual(doc["data"]["recipient"], "Gone@Example.org")
        self.assertEqual(doc["data"]["api_key"], "shop")
        self.assertEqual(doc["data"]["bounce"]["status"], "5.1.1")
        self.assertEqual(doc["data"]["bounce"]["code"], 550)
        self.assertEqual(doc["data"]["bounce"]["remote_mta"], "dns; mail.example.org")
        self.assertEqual(doc["data"]["bounce"]["dsn_id"], dsn_id)

        # Suppressed, with the DSN's details.
        status, page = self.call("GET", "/v1/suppressions?limit=100", template="/v1/suppressions")
        self.assertEqual(status, 200, page)
        entry = next(i for i in page["items"] if i["address"] == "gone@example.org")
        self.assertEqual(entry["reason"], "bounce")
        self.assertEqual(entry["bounce"]["status"], "5.1.1")
        self.assertEqual(entry["bounce"]["message_id"], msg_id)

        # The next send to it is not relayed.
        again = self.send(["gone@example.org", "ok@example.org"], "after-bounce")
        self.assertEqual({r["address"]: r["status"] for r in again["recipients"]},
                         {"gone@example.org": "suppressed", "ok@example.org": "queued"})
        self.up.wait_for(lambda _: len(self.relayed("after-bounce")) == 1, timeout=scaled(20),
                         what="the unsuppressed recipient relayed")
        self.assertEqual(self.relayed("after-bounce")[0].rcpt_tos, ["ok@example.org"])

        # The DSN went to the bounce consumer, never to the inbound webhook.
        status, stored = self.call("GET", f"/v1/inbound/{dsn_id}", template="/v1/inbound/{id}")
        self.assertEqual(status, 200, stored)
        self.assertEqual([d["endpoint"] for d in stored["deliveries"]], ["internal bounces"])
        self.assertEqual(stored["deliveries"][0]["state"], "delivered")
        self.assertEqual(self.inbound.requests(payload_id=dsn_id), [])

    def test_a_delayed_dsn_is_history_only(self):
        msg_id = self.send(["slow@example.org"], "delay-me")["id"]
        self.up.wait_for(lambda _: len(self.relayed("delay-me")) == 1, timeout=scaled(20),
                         what="relayed")
        self.wait_status(msg_id, lambda b: b["status"] == "sent", "sent")
        path = self.relayed("delay-me")[0].mail_from
        dsn = postfix_dsn(path, "slow@example.org", "Subject: delay-me\r\n", action="delayed",
                          status="4.4.1", diagnostic="X-Postfix; connect to mail.example.org: "
                          "Connection timed out")
        code, text = self.smtp_send("", path, dsn)
        self.assertEqual(code, 250, text)
        body = self.wait_status(msg_id, lambda b: len(b["recipients"][0]["history"]) == 2,
                                "delayed in the history")
        self.assertEqual(body["recipients"][0]["status"], "sent")
        self.assertEqual(body["recipients"][0]["history"][1]["status"], "delayed")
        status, page = self.call("GET", "/v1/suppressions?limit=100", template="/v1/suppressions")
        self.assertNotIn("slow@example.org", [i["address"] for i in page["items"]])

    def test_a_forged_return_path_is_routed_like_any_message(self):
        msg_id = self.send(["victim@example.org"], "forge-me")["id"]
        self.up.wait_for(lambda _: len(self.relayed("forge-me")) == 1, timeout=scaled(20),
                         what="relayed")
        self.wait_status(msg_id, lambda b: b["status"] == "sent", "sent")
        real = self.relayed("forge-me")[0].mail_from
        forged = real[:-len("@" + DOMAIN) - 10] + "0000000000@" + DOMAIN
        dsn = postfix_dsn(forged, "victim@example.org", "Subject: forge-me\r\n")
        code, text = self.smtp_send("", forged, dsn)
        self.assertEqual(code, 250, text)
        self.inbound.wait_for(1, path="/inbound", timeout=scaled(20))
        self.assertTrue(verifies(self.inbound.requests()[0], INBOUND_SECRET))
        body = self.status_of(msg_id)
        self.assertEqual(body["recipients"][0]["status"], "sent")
        self.assertEqual([h["status"] for h in body["recipients"][0]["history"]], ["sent"])

    def test_an_auto_reply_to_a_return_path_is_routed_not_recorded(self):
        msg_id = self.send(["away@example.org"], "vacation")["id"]
        self.up.wait_for(lambda _: len(self.relayed("vacation")) == 1, timeout=scaled(20),
                         what="relayed")
        self.wait_status(msg_id, lambda b: b["status"] == "sent", "sent")
        path = self.relayed("vacation")[0].mail_from
        reply = (f"From: away@example.org\r\nTo: {path}\r\nSubject: Out of office\r\n"
                 "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n").encode()
        code, text = self.smtp_send("away@example.org", path, reply)
        self.assertEqual(code, 250, text)
        stored_id = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", text.decode()).group(0)
        # Not a DSN: routed like any message, to the route that takes the bounce domain.
        hook = self.inbound.wait_for(1, payload_id=stored_id, timeout=scaled(20))[0]
        self.assertTrue(verifies(hook, INBOUND_SECRET))
        self.assertEqual(hook.json()["message"]["subject"], "Out of office")
        status, stored = self.call("GET", f"/v1/inbound/{stored_id}", template="/v1/inbound/{id}")
        self.assertEqual(status, 200, stored)
        states = {d["endpoint"]: d["state"] for d in stored["deliveries"]}
        self.assertEqual(states["internal bounces"], "delivered")
        self.assertEqual(len(states), 2, states)
        self.assertEqual([h["status"] for h in self.status_of(msg_id)["recipients"][0]["history"]],
                         ["sent"])

    def test_unknown_recipients_on_the_bounce_domain_without_a_route_are_refused(self):
        # The route above takes the whole domain; a bridge without it refuses them at RCPT.
        b = Bridge(extra={"routes": [{"match": "*@inbound.test"}],
                          "relay": {"upstream": {"host": "127.0.0.1", "port": self.up.port,
                                                 "tls": "none"},
                                    "return_path_domain": DOMAIN,
                                    "return_path_secrets": ["bounce-secret-0123456789abcdef"]}})
        self.addCleanup(b.cleanup)
        b.start()
        with smtplib.SMTP("127.0.0.1", b.port("smtp"), timeout=scaled(30)) as client:
            client.ehlo("mx.example.org")
            client.mail("")
            code, _ = client.rcpt("bounces+" + "0" * 32 + "-0-0000000000@" + DOMAIN)
            self.assertEqual(code, 550)
            code, _ = client.rcpt("nobody@" + DOMAIN)
            self.assertEqual(code, 550)


if __name__ == "__main__":
    unittest.main()
