# DKIM signing of relayed mail end to end (issue 13, point 6): POST /v1/messages → the real bridge
# → its relay → a real aiosmtpd upstream; what arrives is verified by dkimpy (Debian's
# python3-dkim) with the public keys published by a real DNS server (dnsmasq, on a free
# 127.0.0.1 port, queried through dnspython). Dual signing (RSA + Ed25519), a From domain without
# a key (sent unsigned, counted), a retry (signed again, once), and key rotation without restart.
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import dkim

import bridge
from bridge import Bridge, scaled
from dkim_keys import make_key, openssl
from dns_server import Dns
from upstream import Upstream

KEY = "e2e-dkim-api-key-0d1c"


def signatures(data, dnsfunc):
    """[(a=, d=, s=, h= in lower case, verified)] of every DKIM-Signature of `data`."""
    verifier = dkim.DKIM(data)
    fields = [v for n, v in verifier.headers if n.lower() == b"dkim-signature"]
    out = []
    for index, value in enumerate(fields):
        tags = dkim.util.parse_tag_value(value)
        try:
            ok = verifier.verify(idx=index, dnsfunc=dnsfunc)
        except dkim.DKIMException:
            ok = False
        out.append((tags[b"a"].decode(), tags[b"d"].decode(), tags[b"s"].decode(),
                    "".join(tags[b"h"].decode().split()).lower(), ok))
    return out


class DkimSigning(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.folder = tempfile.mkdtemp(prefix="e2e-dkim-")
        cls.rsa, cls.rsa_txt = make_key(cls.folder, "rsa.pem", False)
        cls.ed, cls.ed_txt = make_key(cls.folder, "ed.pem", True)
        cls.records = {"rsa2026._domainkey.signed.example": cls.rsa_txt,
                       "ed2026._domainkey.signed.example": cls.ed_txt}
        cls.dns = Dns()
        cls.dns.serve(cls.records)

    @classmethod
    def tearDownClass(cls):
        cls.dns.close()
        shutil.rmtree(cls.folder, ignore_errors=True)

    def setUp(self):
        self.up = Upstream(tls="none", require_tls=False)
        self.up.start()
        self.addCleanup(self.up.stop)
        self.rotating = os.path.join(self.folder, f"rotating-{self.id().split('.')[-1]}.pem")
        shutil.copy(self.ed, self.rotating)
        relay = {"upstream": {"host": "127.0.0.1", "port": self.up.port, "tls": "none"},
                 "hostname": "bridge.test", "connections": 1,
                 "retry": {"initial": "1s", "max_interval": "2s", "max_age": "1h"},
                 "dkim": [{"domain": "signed.example", "selector": "rsa2026", "key_file": self.rsa},
                          {"domain": "Signed.Example", "selector": "ed2026", "key_file": self.ed},
                          {"domain": "rotate.example", "selector": "s", "key_file": self.rotating}]}
        self.bridge = Bridge(extra={"api": {"keys": [{"name": "shop", "key": KEY}]},
                                    "relay": relay})
        self.bridge.expect = self.bridge.expect + ["api"]
        self.addCleanup(self.bridge.cleanup)
        self.bridge.start()

    def send(self, sender, subject="Your order"):
        body = {"from": sender, "to": ["ivan@example.org"], "subject": subject,
                "text": "Hello Ivan,\nyour order has shipped.\n"}
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"), timeout=scaled(30))
        try:
            conn.request("POST", "/v1/messages", body=json.dumps(body).encode(),
                         headers={"Authorization": f"Bearer {KEY}",
                                  "Content-Type": "application/json"})
            res = conn.getresponse()
            raw = res.read()
            self.assertEqual(res.status, 202, raw)
            return json.loads(raw)["id"]
        finally:
            conn.close()

    def metrics(self):
        text = urllib.request.urlopen(f"http://{self.bridge.addresses['admin']}/metrics",
                                      timeout=scaled(10)).read().decode()
        return {m.group(1): float(m.group(2)) for m in re.finditer(r"(?m)^(\S+) (\S+)$", text)}

    def test_dual_signed_mail_verifies_with_both_keys_from_dns(self):
        self.send("Shop <shop@signed.example>")
        [got] = self.up.wait_messages(1, timeout=scaled(20))
        # The send API's header order; From over-signed (present once, named twice).
        h = ("date:message-id:mime-version:from:to:subject:content-type:content-transfer-encoding:"
             "from")
        found = signatures(got.data, self.dns.dnsfunc())
        self.assertEqual(sorted(found),
                         [("ed25519-sha256", "signed.example", "ed2026", h, True),
                          ("rsa-sha256", "signed.example", "rsa2026", h, True)], got.data[:2000])
        self.assertIn(b"c=relaxed/relaxed", got.data)
        # One changed body byte, then one changed header byte: both signatures fail.
        for changed in (got.data.replace(b"shipped", b"shippeD"),
                        got.data.replace(b"Subject: Your order", b"Subject: Your ordeR")):
            self.assertNotEqual(changed, got.data)
            self.assertEqual([ok for *_, ok in signatures(changed, self.dns.dnsfunc())],
                             [False, False])
        m = self.metrics()
        self.assertEqual(m['smtp_bridge_dkim_signatures_total{algorithm="rsa-sha256",'
                           'domain="signed.example"}'], 1)
        self.assertEqual(m['smtp_bridge_dkim_signatures_total{algorithm="ed25519-sha256",'
                           'domain="signed.example"}'], 1)
        self.assertEqual(m['smtp_bridge_dkim_unsigned_total{reason="no_key"}'], 0)

    def test_a_from_domain_without_a_key_arrives_unsigned_and_is_counted(self):
        self.send("news@other.example")
        self.send("news@sub.signed.example")  # exact domain match: a subdomain has no key
        got = self.up.wait_messages(2, timeout=scaled(20))
        for message in got:
            self.assertNotIn(b"DKIM-Signature", message.data)
        m = self.metrics()
        self.assertEqual(m['smtp_bridge_dkim_unsigned_total{reason="no_key"}'], 2)
        self.assertEqual(m['smtp_bridge_dkim_unsigned_total{reason="error"}'], 0)
        self.assertEqual(m['smtp_bridge_dkim_signatures_total{algorithm="rsa-sha256",'
                           'domain="signed.example"}'], 0)

    def test_a_retry_signs_the_stored_unsigned_message_again(self):
        self.up.data_replies = ["451 4.3.0 try later"]
        self.send("shop@signed.example")
        [got] = self.up.wait_messages(1, timeout=scaled(30))
        self.assertEqual(got.data.count(b"DKIM-Signature:"), 2)  # not 4: stored bytes unsigned
        self.assertEqual([ok for *_, ok in signatures(got.data, self.dns.dnsfunc())],
                         [True, True])
        m = self.metrics()
        self.assertEqual(m['smtp_bridge_dkim_signatures_total{algorithm="ed25519-sha256",'
                           'domain="signed.example"}'], 2)

    def test_a_replaced_key_file_signs_the_next_message_without_a_restart(self):
        old_records = dict(self.records, **{"s._domainkey.rotate.example": self.ed_txt})
        self.dns.serve(old_records)
        self.addCleanup(self.dns.serve, self.records)
        self.send("a@rotate.example", "before")
        [before] = self.up.wait_messages(1, timeout=scaled(20))
        self.assertEqual([ok for *_, ok in signatures(before.data, self.dns.dnsfunc())], [True])
        new_key, new_txt = make_key(self.folder, "rotated.pem", False)
        os.replace(new_key, self.rotating)  # atomically, like a Secret's update
        self.dns.serve(dict(self.records, **{"s._domainkey.rotate.example": new_txt}))
        # The signer looks at a key file at most once a second (README "DKIM signing").
        time.sleep(1.2)
        self.send("a@rotate.example", "after")
        after = self.up.wait_messages(2, timeout=scaled(20))[1]
        [(algorithm, _, _, _, ok)] = signatures(after.data, self.dns.dnsfunc())
        self.assertEqual((algorithm, ok), ("rsa-sha256", True))
        self.assertTrue(self.bridge.alive())


class DkimCheckConfig(unittest.TestCase):
    """--check-config reads every relay.dkim key file: a bad one exits 2 naming its key."""

    def test_check_config_names_a_bad_or_weak_key_file(self):
        if not bridge.BIN:
            self.skipTest("SMTP_BRIDGE_BIN is not set")
        folder = tempfile.mkdtemp(prefix="e2e-dkim-check-")
        self.addCleanup(shutil.rmtree, folder, True)
        good, _ = make_key(folder, "good.pem", True)
        weak = os.path.join(folder, "weak.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:768", "-out", weak)
        config = os.path.join(folder, "config.yaml")

        def check(key_file):
            with open(config, "w") as f:
                f.write("relay:\n  dkim:\n"
                        f"    - {{domain: example.com, selector: s, key_file: '{key_file}'}}\n")
            return subprocess.run([bridge.BIN, "--check-config", "--config", config],
                                  capture_output=True, timeout=scaled(30), cwd=folder)

        self.assertEqual(check(good).returncode, 0, check(good).stderr)
        for key_file, why in ((weak, "768 bits"), (os.path.join(folder, "absent.pem"),
                                                   "cannot read")):
            p = check(key_file)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("relay.dkim[0].key_file", p.stderr.decode())
            self.assertIn(why, p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
