# Durability (ARCHITECTURE.md "The Store"): every message answered 250 is in the store byte for
# byte after a kill -9 and a restart; a DATA cut off before its final dot leaves no row; a full
# store answers 451 4.3.0 and the bridge keeps serving messages that fit.
import smtplib
import subprocess
import threading
import unittest

from bridge import Bridge, BridgeTest, Raw, queued_id, scaled, split_received


def body(i, thread):
    return (b"Subject: durable %d/%d\r\nMessage-ID: <d%d.%d@example.com>\r\n\r\n" % (thread, i, thread, i)
            + b"line of message %d from thread %d\r\n" % (i, thread) * (1 + i % 7)
            + b".dot line\r\n")


def row_body(row):
    """The stored bytes without the Received: header the bridge prepends."""
    return split_received(row["data"])[1]


class Durability(BridgeTest):
    def test_acknowledged_messages_survive_kill_9(self):
        b = self.start_bridge()
        acked = {}  # id -> (mail_from, bytes)
        lock = threading.Lock()
        errors = []

        def sender(thread):
            try:
                s = smtplib.SMTP("127.0.0.1", b.port(), timeout=scaled(30))
                s.ehlo()
                for i in range(10):
                    data = body(i, thread)
                    sender_addr = f"t{thread}@example.com"
                    self.assertEqual(s.mail(sender_addr)[0], 250)
                    self.assertEqual(s.rcpt("b@example.com")[0], 250)
                    code, resp = s.data(data)
                    self.assertEqual(code, 250, resp)
                    with lock:
                        acked[queued_id(resp)] = (sender_addr, data)
                s.quit()
            except Exception as e:  # reported below, from the main thread
                errors.append(e)

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        # and one through swaks
        data = b"Subject: swaks durable\r\n\r\nsent by swaks"
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{b.port()}", "-f", "s@example.com",
                            "-t", "b@example.com", "--data", "-"], input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=scaled(30))
        self.assertEqual(p.returncode, 0, p.stdout)
        acked[queued_id(p.stdout)] = ("s@example.com", data + b"\r\n")
        self.assertEqual(len(acked), 41)
        self.assertNotIn(None, acked)

        b.kill()
        self.assertEqual(b.count(), 41)
        for msg_id, (mail_from, data) in acked.items():
            self.assertStored(b, msg_id, data, mail_from=mail_from, rcpt_to=["b@example.com"])

        b.start()  # same store
        self.assertEqual(b.count(), 41)
        self.assertStillServes(b)
        self.assertEqual(b.count(), 42)

    def test_kill_9_while_clients_are_sending_loses_no_acknowledged_message(self):
        b = self.start_bridge()
        acked = {}  # id -> (mail_from, bytes)
        sent = set()  # every body handed to the bridge, acknowledged or not
        lock = threading.Lock()
        enough = threading.Event()

        def sender(thread):
            try:
                s = smtplib.SMTP("127.0.0.1", b.port(), timeout=scaled(30))
                s.ehlo()
                for i in range(10_000):
                    data = body(i, thread)
                    with lock:
                        sent.add(data)
                    code, resp = s.data(data) if (s.mail(f"k{thread}@example.com")[0] == 250 and
                                                  s.rcpt("b@example.com")[0] == 250) else (0, b"")
                    if code != 250:
                        return
                    with lock:
                        acked[queued_id(resp)] = (f"k{thread}@example.com", data)
                        if len(acked) >= 200:
                            enough.set()
            except (OSError, smtplib.SMTPException):
                return  # the bridge was killed under this client: expected

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        self.assertTrue(enough.wait(scaled(60)), "the bridge acknowledged fewer than 200 messages")
        b.kill()  # while the four clients are mid-transaction
        for t in threads:
            t.join()
        with lock:
            acknowledged = dict(acked)
        for msg_id, (mail_from, data) in acknowledged.items():
            self.assertStored(b, msg_id, data, mail_from=mail_from, rcpt_to=["b@example.com"])
        # Rows beyond the acknowledged ones may exist (committed, reply lost), but never a torn one.
        for row in b.messages():
            self.assertIn(row_body(row), sent, f"row {row['id']} holds bytes no client sent")
        b.start()
        self.assertGreaterEqual(b.count(), len(acknowledged))
        self.assertStillServes(b)

    def test_failing_disk_answers_451_and_recovers(self):
        # RLIMIT_FSIZE makes every write past 768 KiB fail (EFBIG), as a full or failing disk does:
        # room for the schema (16 KiB pages) and a small message, not for the 1 MB one.
        b = Bridge()
        self.addCleanup(b.cleanup)
        b.start(file_size_limit=768 * 1024)
        self.assertStillServes(b)
        before = b.count()
        c = Raw(b.port())
        self.addCleanup(c.close)
        c.open_data(self)
        big = b"Subject: does not fit on the disk\r\n\r\n" + (b"D" * 998 + b"\r\n") * 1000
        c.send(big + b".\r\n")
        self.assertReply(c.reply(timeout=scaled(30)), 451, "4.3.0")
        self.assertTrue(b.alive(), "a failing write must not kill the bridge")
        self.assertEqual(b.count(), before)
        b.stop()
        b.start()  # the disk is fine again
        self.assertEqual(b.count(), before)
        with Raw(b.port()) as c2:
            c2.open_data(self)
            self.assertStored(b, self.assertQueued(c2.cmd(big + b".")), big)

    def test_data_cut_off_before_the_final_dot_leaves_no_row(self):
        b = self.start_bridge()
        c = Raw(b.port())
        c.open_data(self)
        c.send(b"Subject: cut\r\n\r\nthis message never ends\r\n")
        c.close()
        c = Raw(b.port())
        c.open_data(self)
        c.send(b"Subject: cut\r\n\r\nneither does this one\r\n.")  # no CRLF after the dot
        c.close()
        self.assertStillServes(b)
        b.kill()
        self.assertEqual(b.count(), 1)
        b.start()
        self.assertEqual(b.count(), 1)

    def test_full_store_answers_451_and_keeps_serving(self):
        b = self.start_bridge(extra={"store": {"max_size": "2MiB"}})
        self.assertStillServes(b)
        before = b.count()
        c = Raw(b.port())
        self.addCleanup(c.close)
        c.open_data(self)
        big = b"Subject: too big for the store\r\n\r\n" + (b"F" * 998 + b"\r\n") * 3000
        c.send(big + b".\r\n")
        self.assertReply(c.reply(timeout=scaled(30)), 451, "4.3.0")
        self.assertEqual(b.count(), before)
        # The session and the bridge go on: a small message fits.
        c.open_data(self, ehlo=False)
        small = b"Subject: small\r\n\r\nfits\r\n"
        self.assertStored(b, self.assertQueued(c.cmd(small + b".")), small)
        self.assertStillServes(b)


if __name__ == "__main__":
    unittest.main()
