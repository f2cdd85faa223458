# Issue 11, bounded amplification against the real binary: the folded `To: a,a,a,...` list of the
# issue (1.35 MB, and a 10 MB variant) sent over SMTP to a bridge with a webhook endpoint is
# delivered once with a defect, its bridge.v1 body within 2 x the message (+ 2 MiB), and the
# bridge's peak RSS (VmHWM) grows by at most what the budget allows while the bridge keeps serving.
# Before the fix, 1.35 MB gave a 20.2 MB body and raised VmHWM from 18 to 181 MB.
import json
import unittest

import bridge
from bridge import BridgeTest, scaled
from receiver import Receiver, smtplib_send, wait_rows
from test_webhooks import bridge_v1_validator

HOOK = "/hook"
MIB = 1 << 20


def vm_hwm_kib(pid):
    """Peak resident set size of a process (VmHWM in /proc/<pid>/status), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def address_list_message(size):
    """`To: a,a,a,...` folded at ~900 columns, about `size` bytes in all (issue 11)."""
    line = b"a," * 450
    lines = max(1, (size - 200) // (len(line) + 3))
    to = b"\r\n ".join([line] * lines) + b"a"
    return (b"From: Mallory <mallory@evil.example>\r\nSubject: addresses\r\n"
            b"Message-ID: <list@evil.example>\r\nTo: " + to + b"\r\n\r\nbody\r\n")


class Amplification(BridgeTest):
    """One bridge, a catch-all route to one receiver; each test sends one hostile message."""

    @classmethod
    def setUpClass(cls):
        if not bridge.BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        cls.validator = bridge_v1_validator()
        cls.hook = Receiver().start()
        cls.addClassCleanup(cls.hook.stop)
        cls.bridge = bridge.Bridge(
            smtp={"limits": {"max_message_size": "32MiB"}},
            extra={"routes": [{"match": ["*"], "endpoints": [{"url": cls.hook.url(HOOK),
                                                              "timeout": "30s"}]}],
                   "delivery": {"retry": {"initial": "200ms", "max_interval": "1s",
                                          "max_age": "1h"}}})
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()
        cls.baseline_kib = vm_hwm_kib(cls.bridge.proc.pid)  # VmHWM of the started bridge

    bridge_options = {}  # a class bridge exists: BridgeTest checks it is alive after each test

    def deliver_within_budget(self, data):
        """Sends `data` over SMTP; asserts it is delivered once with too_many_addresses, the body
        within 2 x its size + 2 MiB, and VmHWM growth since start within 4 x its size + 16 MiB."""
        pid = self.bridge.proc.pid
        c = self.raw(timeout=scaled(60))
        c.open_data(self, mail_from="mallory@evil.example", rcpts=("victim@hostile.example",))
        msg_id = self.assertQueued(c.cmd(bridge.stuff(data) + b"."))
        self.assertReply(c.cmd("QUIT"), 221)
        c.close()
        self.hook.wait_for(1, path=HOOK, payload_id=msg_id, timeout=scaled(60))
        rows = wait_rows(self.bridge, lambda rs: all(r["state"] == "delivered" for r in rs),
                         message_id=msg_id, timeout=scaled(60), what=f"delivery of {msg_id}")
        self.assertEqual(len(rows), 1, rows)
        reqs = self.hook.requests(path=HOOK, payload_id=msg_id)
        self.assertEqual(len(reqs), 1, reqs)
        body = reqs[0].body
        doc = json.loads(body.decode("utf-8", "strict"))
        errors = [f"{list(e.path)[:6]}: {e.message[:160]}" for e in self.validator.iter_errors(doc)]
        self.assertEqual(errors[:5], [], "the document does not validate against BridgeV1")
        stored = self.bridge.message(msg_id)["data"]
        m = doc["message"]
        self.assertEqual(m["size"], len(stored))
        self.assertLessEqual(len(body), 2 * len(stored) + 2 * MIB,
                             f"body of {len(body)} bytes for a message of {len(stored)}")
        grown_kib = vm_hwm_kib(pid) - self.baseline_kib
        # The budget of parse + render (4 x the size + 16 MiB), here for the whole process since
        # it started: the SMTP session's buffer, the store's write and the dispatcher's copy of
        # the row are within it too.
        budget = 4 * len(stored) + 16 * MIB
        if bridge.SLOW == 1:  # under the sanitizers (SLOW > 1) shadow memory and quarantine count
            self.assertLessEqual(grown_kib * 1024, budget,
                                 f"VmHWM grew by {grown_kib} KiB for {len(stored)} bytes")
        self.assertIn("too_many_addresses", m["defects"])
        self.assertEqual(len(m["to"]), 1000)
        self.assertEqual(m["subject"], "addresses")
        self.assertEqual(m["text"], "body\r\n")  # the body is whole
        self.assertEqual(m["parts"][0]["headers"], [])  # the root's header only in headers
        # Still serving: an ordinary message is delivered after it.
        after = smtplib_send(self.bridge, "a@example.com", ["next@hostile.example"],
                             b"Subject: next\r\n\r\nstill here\r\n")
        self.hook.wait_for(1, path=HOOK, payload_id=after, timeout=scaled(30))
        return doc, grown_kib

    def test_1_folded_address_list_of_1_35_mb(self):
        doc, grown = self.deliver_within_budget(address_list_message(1_350_000))
        print(f"\n1.35 MB address list: VmHWM +{grown} KiB", flush=True)

    def test_2_folded_address_list_of_10_mb(self):
        doc, grown = self.deliver_within_budget(address_list_message(10 * MIB))
        print(f"\n10 MB address list: VmHWM +{grown} KiB", flush=True)


if __name__ == "__main__":
    unittest.main()
