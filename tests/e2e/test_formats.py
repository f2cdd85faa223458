# Drop-in payload formats end to end (issue 15, README "Payload formats"): smtplib → the real
# bridge → receivers written against the providers' documented shapes, not against our code:
# - Postmark's inbound webhook ("Inbound webhook", "Parse an email"): a JSON POST with HTTP basic
#   auth from the webhook URL's user:password@; From/FromName/FromFull, To/ToFull, Cc/CcFull,
#   OriginalRecipient, MailboxHash, Subject, TextBody, HtmlBody, StrippedTextReply, Headers and
#   Attachments (Name, base64 Content, ContentType, ContentLength, ContentID);
# - Mailgun's forward() route action ("Receiving messages via HTTP", "Securing webhooks"): a
#   multipart/form-data POST read with Python's email package, `signature` verified as Mailgun's
#   docs show (hex HMAC-SHA256 of timestamp + token with the signing key, compare_digest), fields
#   sender/recipient/from/subject/body-plain/body-html/stripped-text, attachment-count,
#   attachment-N files and content-id-map.
import base64
import email.policy
import hashlib
import hmac
import json
import os
import unittest
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid

import bridge
from bridge import BridgeTest
from receiver import Receiver, smtplib_send, wait_rows

OPENAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "openapi",
                       "openapi.yaml")
SUBJECT = "Réunion ✓ — 月曜日の報告"
FROM_NAME = "Zoë Ünal"
# A reply as Gmail writes it: the new text, a signature, the attribution and the quoted history;
# in HTML the history is Gmail's gmail_quote div.
NEW_TEXT = "Grüße aus Köln,\nthe numbers are attached."
SIGNATURE = "-- \nZoë"
TEXT = (NEW_TEXT + "\n\n" + SIGNATURE + "\n\nOn Mon, 7 Dec 2026 at 09:14, Desk <desk@example.com> wrote:\n"
        "> Can you send the numbers?\n> Thanks\n")
HTML = ("<div dir=\"ltr\"><p>Grüße aus Köln,</p><p>the numbers are attached.<img src=\"cid:{cid}\"></p>"
        "</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, 7 Dec 2026 "
        "at 09:14, Desk &lt;desk@example.com&gt; wrote:<br></div><blockquote class=\"gmail_quote\">"
        "Can you send the numbers?<br>Thanks</blockquote></div>")
REPORT = bytes(range(256)) * 40 + "Überblick".encode()
REPORT_NAME = "Überblick-報告.pdf"
LOGO = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
LOGO_NAME = "logo.png"

PM_USER, PM_PASSWORD = "inbound@acme", "s3cr:t/pä55"  # ':' and '/' in the password, quoted
MG_KEY = "key-" + hashlib.sha256(b"formats-e2e").hexdigest()[:32]


def quote(s):
    from urllib.parse import quote as q
    return q(s, safe="")


def validator(name):
    """Draft 2020-12 validator of components/schemas/<name> (openapi/openapi.yaml)."""
    import jsonschema
    import yaml
    with open(OPENAPI, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def build_message(to, cc):
    """text + html alternative (the html in multipart/related with an inline image that has a
    Content-ID), a PDF attachment with a non-ASCII filename; RFC 2047 subject and From name."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"{FROM_NAME} <zoe@sender.example>"
    msg["To"] = to
    msg["Cc"] = cc
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = make_msgid(domain="sender.example")
    msg.set_content(TEXT)
    cid = make_msgid(domain="sender.example")[1:-1]
    msg.add_alternative(HTML.format(cid=cid), subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(LOGO, maintype="image", subtype="png", cid=f"<{cid}>",
                          filename=LOGO_NAME, disposition="inline")
    msg.add_attachment(REPORT, maintype="application", subtype="pdf", filename=REPORT_NAME)
    return msg.as_bytes(), cid, msg["Message-ID"]


class Formats(BridgeTest):
    """One bridge, a postmark route and a mailgun route, one receiver."""

    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.hooks = Receiver().start()
        cls.addClassCleanup(cls.hooks.stop)
        pm_url = (f"http://{quote(PM_USER)}:{quote(PM_PASSWORD)}@127.0.0.1:{cls.hooks.port}"
                  "/postmark")
        routes = [
            {"match": ["*@pm.example"],
             "endpoints": [{"url": pm_url, "format": "postmark", "timeout": "5s"}]},
            {"match": ["*@mg.example"],
             "endpoints": [{"url": cls.hooks.url("/mailgun"), "format": "mailgun",
                            "signing_key": MG_KEY, "timeout": "5s"}]},
        ]
        cls.bridge = bridge.Bridge(extra={"routes": routes, "delivery": {"workers": 2}})
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()

    bridge_options = {}  # a class bridge exists: BridgeTest checks it is alive after each test

    def post_of(self, msg_id, path):
        """The one POST of msg_id to path, once its row is delivered."""
        rows = wait_rows(self.bridge, lambda rs: all(r["state"] == "delivered" for r in rs),
                         message_id=msg_id, what=f"deliveries of {msg_id}")
        reqs = [r for r in self.hooks.requests(path=path)
                if r.header("webhook-id") in {row["id"] for row in rows}]
        self.assertEqual(len(reqs), 1, f"POSTs to {path}: {reqs}")
        return reqs[0], rows

    def test_postmark_receiver_reads_the_inbound_webhook_json(self):
        data, cid, message_id = build_message(
            "Support Team <support+T42@pm.example>", "Ops <ops@elsewhere.example>")
        msg_id = smtplib_send(self.bridge, "bounce@sender.example", ["support+T42@pm.example"],
                              data)
        req, rows = self.post_of(msg_id, "/postmark")

        # Postmark: "protect your webhook with basic HTTP authentication" via user:password@.
        scheme, _, credentials = req.header("authorization").partition(" ")
        self.assertEqual(scheme, "Basic")
        self.assertEqual(base64.b64decode(credentials).decode(), f"{PM_USER}:{PM_PASSWORD}")
        self.assertTrue(req.header("content-type").startswith("application/json"))
        self.assertEqual(req.header("webhook-id"), rows[0]["id"])  # for deduplication

        doc = req.json()
        validator("PostmarkInbound").validate(doc)
        self.assertEqual(doc["From"], "zoe@sender.example")
        self.assertEqual(doc["FromName"], FROM_NAME)
        self.assertEqual(doc["FromFull"]["Email"], "zoe@sender.example")
        self.assertEqual(doc["FromFull"]["Name"], FROM_NAME)
        self.assertIn("support+T42@pm.example", doc["To"])
        self.assertEqual([(t["Email"], t["Name"], t["MailboxHash"]) for t in doc["ToFull"]],
                         [("support+T42@pm.example", "Support Team", "T42")])
        self.assertIn("ops@elsewhere.example", doc["Cc"])
        self.assertEqual([(c["Email"], c["Name"]) for c in doc["CcFull"]],
                         [("ops@elsewhere.example", "Ops")])
        self.assertEqual(doc["OriginalRecipient"], "support+T42@pm.example")
        self.assertEqual(doc["MailboxHash"], "T42")
        self.assertEqual(doc["Subject"], SUBJECT)
        self.assertEqual(doc["MessageID"], msg_id)
        self.assertEqual(doc["TextBody"].replace("\r\n", "\n").strip(), TEXT.strip())
        self.assertEqual(doc["HtmlBody"].strip(), HTML.format(cid=cid))
        # Postmark: "StrippedTextReply: the text of the reply, without the quoted history".
        self.assertEqual(doc["StrippedTextReply"].replace("\r\n", "\n").strip(), NEW_TEXT)
        self.assertIn({"Name": "Message-ID", "Value": message_id},
                      [{"Name": h["Name"], "Value": h["Value"]} for h in doc["Headers"]])

        attachments = {a["Name"]: a for a in doc["Attachments"]}
        self.assertEqual(sorted(attachments), sorted([LOGO_NAME, REPORT_NAME]))
        for name, content, ctype, content_id in ((LOGO_NAME, LOGO, "image/png", cid),
                                                 (REPORT_NAME, REPORT, "application/pdf", "")):
            a = attachments[name]
            self.assertEqual(base64.b64decode(a["Content"]), content, name)
            self.assertEqual(a["ContentLength"], len(content), name)
            self.assertEqual(a["ContentType"], ctype, name)
            self.assertEqual(a["ContentID"], content_id, name)

        # The password is kept out of logs, the store and the endpoint's name.
        for row in rows:
            self.assertNotIn(PM_PASSWORD, json.dumps(row))
            self.assertNotIn(quote(PM_PASSWORD), json.dumps(row))
        self.assertNotIn(quote(PM_PASSWORD), self.bridge.stderr())
        self.assertNotIn(quote(PM_PASSWORD), "\n".join(self.bridge.lines))

    def test_mailgun_receiver_verifies_the_signature_and_reads_the_form(self):
        data, cid, message_id = build_message("Desk <desk@mg.example>", "cc@elsewhere.example")
        msg_id = smtplib_send(self.bridge, "bounce@sender.example",
                              ["desk@mg.example", "other@mg.example"], data)
        req, _ = self.post_of(msg_id, "/mailgun")

        ctype = req.header("content-type")
        self.assertTrue(ctype.startswith("multipart/form-data; boundary="), ctype)
        form = BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body)
        self.assertTrue(form.is_multipart())
        fields, files = {}, {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                files[name] = (part.get_filename(), part.get_content_type(),
                               part.get_payload(decode=True))
            else:
                self.assertNotIn(name, fields, "field repeated")
                fields[name] = part.get_payload(decode=True).decode("utf-8")

        validator("MailgunForward").validate(dict(fields, **{k: "(file)" for k in files}))
        # Mailgun's "Securing webhooks", as its Python example does it.
        self.assertEqual(len(fields["token"]), 50)
        expected = hmac.new(key=MG_KEY.encode(),
                            msg=(fields["timestamp"] + fields["token"]).encode(),
                            digestmod=hashlib.sha256).hexdigest()
        self.assertTrue(hmac.compare_digest(expected, fields["signature"]))
        self.assertLess(abs(int(fields["timestamp"]) - __import__("time").time()), 300)

        self.assertEqual(fields["sender"], "bounce@sender.example")
        self.assertEqual([r.strip() for r in fields["recipient"].split(",")],
                         ["desk@mg.example", "other@mg.example"])
        self.assertIn("zoe@sender.example", fields["from"])
        self.assertIn(FROM_NAME, fields["from"])
        self.assertEqual(fields["subject"], SUBJECT)
        self.assertEqual(fields["body-plain"].replace("\r\n", "\n").strip(), TEXT.strip())
        self.assertEqual(fields["body-html"].strip(), HTML.format(cid=cid))
        # Mailgun: stripped-text without the quoted parts and the signature, which is
        # stripped-signature; stripped-html without the quoted parts.
        self.assertEqual(fields["stripped-text"].replace("\r\n", "\n").strip(), NEW_TEXT)
        self.assertIn("Zoë", fields["stripped-signature"])
        self.assertIn("the numbers are attached.", fields["stripped-html"])
        self.assertNotIn("Can you send", fields["stripped-html"])
        self.assertNotIn("gmail_quote", fields["stripped-html"])
        headers = json.loads(fields["message-headers"])
        self.assertIn(["Message-ID", message_id], headers)

        self.assertEqual(fields["attachment-count"], "2")
        self.assertEqual(sorted(files), ["attachment-1", "attachment-2"])
        by_name = {filename: (key, ctype, content)
                   for key, (filename, ctype, content) in files.items()}
        self.assertEqual(by_name[LOGO_NAME][1:], ("image/png", LOGO))
        self.assertEqual(by_name[REPORT_NAME][1:], ("application/pdf", REPORT))
        self.assertEqual(json.loads(fields["content-id-map"]), {f"<{cid}>": by_name[LOGO_NAME][0]})


if __name__ == "__main__":
    unittest.main()
