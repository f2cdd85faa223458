# Durability (ARCHITECTURE.md "The Store"): every message answered 250 is in the store byte for
# byte after a kill -9 and a restart; a DATA cut off before its final dot leaves no row; a full
# store answers 451 4.3.0 and the bridge keeps serving messages that fit.
import smtplib
import subprocess
import threading
import unittest

from bridge import Bridge, BridgeTest, Raw, queued_id, scaled


def body(i, thread):
    return (b"Subject: durable %d/%d\r\nMessage-ID: <d%d.%d@example.com>\r\n\r\n" % (thread, i, thread, i)
            + b"line of message %d from thread %d\r\n" % (i, thread) * (1 + i % 7)
            + b".dot line\r\n")


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
