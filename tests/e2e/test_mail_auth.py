# Inbound mail authentication end to end (issue 13): smtplib → the real bridge, its SPF, DKIM and
# DMARC checks answered by a real DNS server (dnsmasq on a free port, dns.servers), messages
# signed by dkimpy (Debian's python3-dkim), SPF results compared with pyspf (python3-spf) on the
# same records; the verdicts in the webhook's bridge.v1 (schema-checked) and in the stored
# Authentication-Results header; the policies' replies as a real client gets them (550 5.7.1,
# 451 4.7.0); the metrics.
import re
import shutil
import smtplib
import socket
import tempfile
import time
import unittest
import urllib.request

import dkim
import dns.resolver
import spf

import bridge
from bridge import Bridge, scaled
from dkim_keys import dkimpy_key, make_key
from dns_server import Dns
from receiver import Receiver
from rspamd_server import GTUBE, Rspamd
from test_webhooks import bridge_v1_validator

HOST = "bridge.test"
HELO = "client.sender.test"


def message(from_addr, tag, extra_headers=""):
    return (f"{extra_headers}From: Alice <{from_addr}>\r\nTo: Bob <bob@inbox.example>\r\n"
            f"Subject: {tag}\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{tag}@sender.test>\r\n\r\nHello Bob,\r\nthis is {tag}.\r\n").encode()


def send(port, mail_from, rcpt, data, helo=HELO):
    """(code, text) of the reply to the end of DATA (or to the first refusal before it)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=scaled(30)) as s:
        s.ehlo(helo)
        code, text = s.mail(mail_from)
        if code != 250:
            return code, text.decode()
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        try:
            code, text = s.data(data)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
        return code, text.decode()


def queued(text):
    found = re.search(r"queued as ([0-9a-f-]{36})", text)
    assert found, text
    return found.group(1)


class MailAuthentication(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.folder = tempfile.mkdtemp(prefix="e2e-auth-")
        cls.addClassCleanup(shutil.rmtree, cls.folder, True)
        rsa_path, rsa_txt = make_key(cls.folder, "rsa.pem", False)
        ed_path, ed_txt = make_key(cls.folder, "ed.pem", True)
        cls.rsa, cls.ed = dkimpy_key(rsa_path, False), dkimpy_key(ed_path, True)
        cls.dns = Dns()
        cls.addClassCleanup(cls.dns.close)
        cls.dns.serve(
            {"sender.test": "v=spf1 ip4:127.0.0.1 -all",
             "fail.test": "v=spf1 ip4:192.0.2.1 -all",
             "softfail.test": "v=spf1 ip4:192.0.2.1 ~all",
             "neutral.test": "v=spf1 ?all",
             "mx.test": "v=spf1 mx a:other.mx.test -all",
             "broken.test": "v=spf1 ip4:not-an-address -all",
             HELO: "v=spf1 a -all",
             "rsa._domainkey.sender.test": rsa_txt,
             "ed._domainkey.sender.test": ed_txt,
             "_dmarc.sender.test": "v=DMARC1; p=reject; rua=mailto:dmarc@sender.test, mailto:x@y.test",
             "_dmarc.none.test": "v=DMARC1; p=none"},
            addresses={HELO: ["127.0.0.1"], "mail.mx.test": ["192.0.2.9", "127.0.0.1"],
                       "other.mx.test": ["192.0.2.10"]},
            mx={"mx.test": [(10, "mail.mx.test")]},
            zones=["sender.test", "fail.test", "softfail.test", "neutral.test", "mx.test",
                   "broken.test", "nospf.test", "none.test", "elsewhere.test"])
        cls.receiver = Receiver().start()
        cls.addClassCleanup(cls.receiver.stop)
        hook = {"url": cls.receiver.url("/hook")}
        cls.bridge = Bridge(smtp={"hostname": HOST}, extra={
            "dns": {"servers": [cls.dns.address], "budget": "5s"},
            "authentication": {"enabled": True},
            "routes": [{"match": "*@dmarc.example", "endpoints": [hook],
                        "policy": {"reject_dmarc": True}},
                       {"match": "*@spf.example", "endpoints": [hook],
                        "policy": {"reject_spf_fail": True}},
                       {"match": "*@dkim.example", "endpoints": [hook],
                        "policy": {"require_dkim": ["sender.test"]}},
                       {"match": "*", "endpoints": [hook]}]})
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()
        cls.validator = bridge_v1_validator()

    def sign(self, data, selectors=("rsa", "ed")):
        signatures = b""
        for selector in selectors:
            key = self.rsa if selector == "rsa" else self.ed
            signatures = dkim.sign(data, selector.encode(), b"sender.test", key,
                                   canonicalize=(b"relaxed", b"simple"),
                                   signature_algorithm=b"rsa-sha256" if selector == "rsa"
                                   else b"ed25519-sha256",
                                   include_headers=[b"from", b"to", b"subject", b"date"]
                                   ) + signatures
        return signatures + data

    def payload(self, msg_id):
        [req] = self.receiver.wait_for(1, payload_id=msg_id, timeout=20)
        body = req.json()
        errors = sorted(self.validator.iter_errors(body), key=str)
        self.assertEqual(errors, [], errors[:1])
        return body

    def accepted(self, mail_from, data, rcpt="bob@inbox.example", helo=HELO):
        code, text = send(self.bridge.port(), mail_from, rcpt, data, helo)
        self.assertEqual(code, 250, text)
        return self.payload(queued(text))

    def metrics(self):
        return urllib.request.urlopen(f"http://{self.bridge.addresses['admin']}/metrics",
                                      timeout=scaled(10)).read().decode()

    def test_signed_message_passes_and_the_header_heads_the_stored_message(self):
        forged = (f"Authentication-Results: {HOST.upper()}; dkim=pass header.d=bank.example\r\n"
                  "Authentication-Results: other.example; spf=fail\r\n")
        data = self.sign(message("alice@sender.test", "signed", forged))
        body = self.accepted("alice@sender.test", data)
        auth = body["envelope"]["authentication"]
        self.assertEqual(auth["spf"]["mailfrom"]["result"], "pass")
        self.assertEqual(auth["spf"]["mailfrom"]["domain"], "sender.test")
        self.assertEqual(auth["spf"]["mailfrom"]["mechanism"], "ip4:127.0.0.1")
        self.assertEqual(auth["spf"]["helo"]["result"], "pass")
        dkims = sorted((d["algorithm"], d["result"], d["domain"], d["selector"])
                       for d in auth["dkim"])
        self.assertEqual(dkims, [("ed25519-sha256", "pass", "sender.test", "ed"),
                                 ("rsa-sha256", "pass", "sender.test", "rsa")])
        rsa = next(d for d in auth["dkim"] if d["algorithm"] == "rsa-sha256")
        self.assertEqual(rsa["key_bits"], 2048)
        self.assertEqual(rsa["canonicalization"], "relaxed/simple")
        dmarc = auth["dmarc"]
        self.assertEqual((dmarc["result"], dmarc["from_domain"], dmarc["policy"]),
                         ("pass", "sender.test", "reject"))
        self.assertTrue(dmarc["spf_aligned"] and dmarc["dkim_aligned"])
        self.assertEqual(auth["arc"]["result"], "none")
        self.assertIsNone(body["envelope"]["spam"])
        stored = self.bridge.message(body["id"])["data"]
        head, _, rest = stored.partition(b"\r\nReceived: ")
        self.assertTrue(head.startswith(f"Authentication-Results: {HOST};\r\n".encode()), head)
        self.assertIn(b"spf=pass (mechanism ip4:127.0.0.1) smtp.mailfrom=alice@sender.test", head)
        self.assertIn(b"dkim=pass header.d=sender.test header.s=ed header.a=ed25519-sha256", head)
        self.assertIn(b"dmarc=pass (p=reject dis=none) header.from=sender.test", head)
        # The forged header naming us is gone; another server's stays, as received.
        self.assertNotIn(b"bank.example", stored)
        self.assertIn(b"Authentication-Results: other.example; spf=fail\r\n", rest)
        self.assertTrue(rest.endswith(data[data.index(b"Authentication-Results: other"):]))

    def test_a_changed_byte_fails_dkim_and_dmarc_still_passes_on_aligned_spf(self):
        data = self.sign(message("alice@sender.test", "changed"))
        for changed in (data.replace(b"this is changed", b"this is chanGed"),
                        data.replace(b"Subject: changed", b"Subject: chAnged")):
            with self.subTest(changed=changed[-40:]):
                auth = self.accepted("alice@sender.test", changed)["envelope"]["authentication"]
                self.assertEqual(sorted(d["result"] for d in auth["dkim"]), ["fail", "fail"])
                self.assertEqual(auth["dmarc"]["result"], "pass")
                self.assertTrue(auth["dmarc"]["spf_aligned"])
                self.assertFalse(auth["dmarc"]["dkim_aligned"])

    def test_dmarc_reject_is_refused_only_where_the_policy_is_on(self):
        # From sender.test (p=reject), no signature, MAIL FROM a domain without SPF: no aligned
        # pass, so DMARC fails and asks for reject.
        data = message("ceo@sender.test", "spoofed")
        code, text = send(self.bridge.port(), "x@nospf.test", "cfo@dmarc.example", data)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.7.1 DMARC policy of sender.test"), text)
        auth = self.accepted("x@nospf.test", data)["envelope"]["authentication"]
        self.assertEqual(auth["spf"]["mailfrom"]["result"], "none")
        self.assertEqual(auth["dkim"], [])
        self.assertEqual((auth["dmarc"]["result"], auth["dmarc"]["disposition"]), ("fail", "reject"))
        # p=none asks for nothing: accepted under the policy too.
        code, text = send(self.bridge.port(), "x@nospf.test", "cfo@dmarc.example",
                          message("ceo@none.test", "monitor"))
        self.assertEqual(code, 250, text)
        self.assertIn('smtp_bridge_auth_decisions_total{reason="dmarc_reject",reply="550"} 1',
                      self.metrics())

    def test_spf_fail_and_required_dkim_policies(self):
        data = message("x@fail.test", "spf-fail")
        code, text = send(self.bridge.port(), "x@fail.test", "a@spf.example", data)
        self.assertEqual((code, text[:5]), (550, "5.7.1"), text)
        spf_fail = self.accepted("x@fail.test", data)["envelope"]["authentication"]["spf"]["mailfrom"]
        self.assertEqual((spf_fail["result"], spf_fail["mechanism"]), ("fail", "-all"))
        # sender.test must be DKIM-signed where require_dkim lists it: SPF passing is not enough.
        code, text = send(self.bridge.port(), "alice@sender.test", "a@dkim.example",
                          message("alice@sender.test", "unsigned"))
        self.assertEqual(code, 550, text)
        self.assertIn("DKIM signature of sender.test", text)
        code, text = send(self.bridge.port(), "alice@sender.test", "a@dkim.example",
                          self.sign(message("alice@sender.test", "signed-ok"), ("ed",)))
        self.assertEqual(code, 250, text)

    def test_spf_results_agree_with_pyspf(self):
        resolver = self.dns.resolver()
        saved = dns.resolver.default_resolver
        dns.resolver.default_resolver = resolver  # pyspf asks dnspython's default resolver
        self.addCleanup(setattr, dns.resolver, "default_resolver", saved)
        for sender in ("a@sender.test", "a@fail.test", "a@softfail.test", "a@neutral.test",
                       "a@nospf.test", "a@mx.test", "a@broken.test", ""):
            with self.subTest(sender=sender):
                expected, _ = spf.check2(i="127.0.0.1", s=sender or f"postmaster@{HELO}",
                                            h=HELO)
                got = self.accepted(sender, message("a@elsewhere.test", "spf " + sender))
                self.assertEqual(got["envelope"]["authentication"]["spf"]["mailfrom"]["result"], expected)

    def test_metrics_count_each_verdict(self):
        self.accepted("alice@sender.test", self.sign(message("alice@sender.test", "metrics")))
        text = self.metrics()
        for family in ("smtp_bridge_spf_results_total", "smtp_bridge_dkim_results_total",
                       "smtp_bridge_dmarc_results_total", "smtp_bridge_auth_seconds"):
            self.assertIn(f"# TYPE {family} ", text)
        counts = {}  # (family, frozenset of label pairs) -> value
        for m in re.finditer(r'^(smtp_bridge_\w+_total)\{([^}]*)\} (\S+)$', text, re.M):
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            counts[(m.group(1), labels)] = float(m.group(3))

        def count(family, **labels):
            return counts.get((family, frozenset(labels.items())), 0)
        self.assertGreaterEqual(count("smtp_bridge_spf_results_total", identity="mailfrom",
                                      result="pass"), 1)
        self.assertGreaterEqual(count("smtp_bridge_dkim_results_total", result="pass",
                                      algorithm="ed25519-sha256"), 1)
        self.assertGreaterEqual(count("smtp_bridge_dkim_results_total", result="pass",
                                      algorithm="rsa-sha256"), 1)
        self.assertGreaterEqual(count("smtp_bridge_dmarc_results_total", result="pass",
                                      disposition="none"), 1)


class DnsOutage(unittest.TestCase):
    """A DNS server that never answers: every verdict is temperror within dns.budget, the
    session never hangs; a temperror is accepted unless the policy says temperror: defer."""

    def setUp(self):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind(("127.0.0.1", 0))
        self.addCleanup(self.silent.close)

    def start(self, policy):
        b = Bridge(smtp={"hostname": HOST}, extra={
            "dns": {"servers": [f"127.0.0.1:{self.silent.getsockname()[1]}"], "budget": "1s"},
            "authentication": {"enabled": True},
            "policy": policy})
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def test_temperror_is_accepted_by_default(self):
        b = self.start({"reject_dmarc": True, "reject_spf_fail": True})
        started = time.monotonic()
        code, text = send(b.port(), "alice@sender.test", "bob@inbox.example",
                          message("alice@sender.test", "outage"))
        self.assertEqual(code, 250, text)
        self.assertLess(time.monotonic() - started, scaled(4))
        stored = b.message(queued(text))
        auth = stored["envelope"]["authentication"]
        self.assertEqual(auth["spf"]["mailfrom"]["result"], "temperror")
        self.assertEqual(auth["dmarc"]["result"], "temperror")
        self.assertTrue(stored["data"].startswith(f"Authentication-Results: {HOST};".encode()))

    def test_temperror_defers_when_configured(self):
        b = self.start({"reject_spf_fail": True, "temperror": "defer"})
        code, text = send(b.port(), "alice@sender.test", "bob@inbox.example",
                          message("alice@sender.test", "outage"))
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith("4.7.0 "), text)
        self.assertEqual(b.count(), 0)


class SpamScoring(unittest.TestCase):
    """A real rspamd (Debian's) scoring each message before the 250: GTUBE is action reject,
    refused 550 5.7.1 where reject_spam is on; a clean message carries its score; rspamd stopped
    or hung: accepted (fail open, spam.status unavailable) or 451 4.7.1 (failure: defer)."""

    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.rspamd = Rspamd()
        cls.addClassCleanup(cls.rspamd.close)
        cls.receiver = Receiver().start()
        cls.addClassCleanup(cls.receiver.stop)

    def start(self, failure="accept"):
        hook = {"url": self.receiver.url("/hook")}
        b = Bridge(smtp={"hostname": HOST}, extra={
            "spam": {"rspamd": {"url": self.rspamd.url, "timeout": "2s", "failure": failure}},
            "routes": [{"match": "*@strict.example", "endpoints": [hook],
                        "policy": {"reject_spam": True}},
                       {"match": "*", "endpoints": [hook]}]})
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def payload(self, msg_id):
        [req] = self.receiver.wait_for(1, payload_id=msg_id, timeout=20)
        return req.json()

    def test_gtube_is_refused_where_the_policy_is_on_and_scored_elsewhere(self):
        b = self.start()
        gtube = message("alice@sender.test", "gtube").replace(b"Hello Bob,", GTUBE.encode())
        code, text = send(b.port(), "alice@sender.test", "x@strict.example", gtube)
        self.assertEqual((code, text), (550, "5.7.1 message rejected as spam"))
        code, text = send(b.port(), "alice@sender.test", "bob@inbox.example", gtube)
        self.assertEqual(code, 250, text)
        body = self.payload(queued(text))
        self.assertEqual(body["envelope"]["spam"]["status"], "scanned")
        self.assertEqual(body["envelope"]["spam"]["action"], "reject")
        self.assertGreaterEqual(body["envelope"]["spam"]["score"], body["envelope"]["spam"]["required_score"])
        self.assertIsNone(body["envelope"]["authentication"])  # the checks are off here
        self.assertNotIn(b"X-Spam", b.message(body["id"])["data"])
        clean = message("alice@sender.test", "clean")
        code, text = send(b.port(), "alice@sender.test", "x@strict.example", clean)
        self.assertEqual(code, 250, text)
        spam = self.payload(queued(text))["envelope"]["spam"]
        self.assertEqual(spam["action"], "no action")
        self.assertLess(spam["score"], spam["required_score"])
        self.assertEqual(spam["required_score"], 15)
        names = [symbol["name"] for symbol in spam["symbols"]]
        # The envelope reached rspamd: MAIL FROM and the one recipient.
        self.assertIn("FROM_EQ_ENVFROM", names)
        self.assertIn("RCPT_COUNT_ONE", names)
        metrics = urllib.request.urlopen(f"http://{b.addresses['admin']}/metrics",
                                         timeout=scaled(10)).read().decode()
        self.assertIn('smtp_bridge_rspamd_actions_total{action="reject"} 2', metrics)
        self.assertIn('smtp_bridge_auth_decisions_total{reason="spam",reply="550"} 1', metrics)

    def test_unavailable_rspamd_fails_open_by_default_and_closed_when_asked(self):
        open_bridge = self.start()
        closed_bridge = self.start("defer")
        self.rspamd.stop()
        self.addCleanup(self.rspamd.start)
        code, text = send(open_bridge.port(), "alice@sender.test", "x@strict.example",
                          message("alice@sender.test", "down"))
        self.assertEqual(code, 250, text)
        self.assertEqual(self.payload(queued(text))["envelope"]["spam"],
                         {"status": "unavailable", "reason": "unreachable"})
        code, text = send(closed_bridge.port(), "alice@sender.test", "x@strict.example",
                          message("alice@sender.test", "down"))
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith("4.7.1 "), text)
        # Hung (accepts, never answers): the same after spam.rspamd.timeout, never longer.
        self.rspamd.start()
        self.rspamd.pause()
        self.addCleanup(self.rspamd.resume)
        started = time.monotonic()
        code, text = send(closed_bridge.port(), "alice@sender.test", "x@strict.example",
                          message("alice@sender.test", "hung"))
        self.assertEqual(code, 451, text)
        self.assertLess(time.monotonic() - started, scaled(6))


if __name__ == "__main__":
    unittest.main()
