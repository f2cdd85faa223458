# Fair SMTP (issue 11, point 5), against the real binary: one client address cannot take the
# message-buffer budget every other sender needs, a trickling DATA/BDAT cannot hold it, refused
# connections cost nothing and are counted, and AUTH guessing from one address is throttled.
# Other client addresses are 127.0.0.2 etc. (the loopback /8): traffic still only to 127.0.0.1.
import socket
import threading
import time
import unittest

from bridge import BridgeTest, Raw, Closed, b64, scaled
from test_admin import Metrics, wait_metrics

KIB = 1024


class RawFrom(Raw):
    """A Raw client whose connection comes from `source` (another client address)."""

    def __init__(self, port, source, greeting=True):
        self.timeout = scaled(10)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=self.timeout,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply() if greeting else None


def reset_by_peer(sock, within):
    """True when the peer has closed its socket for good: data we send is answered with a
    reset (a half-closed peer that still drains would read it silently). The kernel answers,
    not the bridge, so `within` needs no sanitizer scaling."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            sock.send(b"NOOP\r\n")
            sock.settimeout(0.05)
            if sock.recv(1024) == b"":
                continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            continue
    return False


class RefusedConnections(BridgeTest):
    PER_IP = 2
    bridge_options = {"smtp": {"limits": {"max_connections_per_ip": PER_IP}}}

    def test_connections_past_the_per_ip_limit_get_421_and_are_closed_at_once(self):
        admin = self.bridge.port("admin")
        name = "smtp_bridge_smtp_connections_rejected_total"
        before = Metrics(admin).get(name, reason="max_connections_per_ip") or 0
        held = [self.raw() for _ in range(self.PER_IP)]
        for c in held:
            self.assertReply(c.greeting, 220)
        refused = 20
        for i in range(refused):
            c = self.raw(greeting=False)
            self.assertReply(c.reply(), 421, "4.7.0")
            # Closed at once, not half-closed and drained for 2 s by a session of its own.
            self.assertTrue(reset_by_peer(c.sock, within=1.0),
                            f"refused connection {i} still open on the server side")
        wait_metrics(admin, lambda m: m.get(name, reason="max_connections_per_ip") == before + refused,
                     "every refused connection counted")
        # Another address is not limited by this one's connections.
        with RawFrom(self.bridge.port(), "127.0.0.2") as other:
            self.assertReply(other.greeting, 220)
            self.assertDelivers(other)
        for c in held:
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")


def lines(count, fill=b"x"):
    """count text lines of exactly 100 bytes each (98 + CRLF)."""
    return (fill * 98 + b"\r\n") * count


class BufferShare(BridgeTest):
    """Eight connections from one address each send 15900 bytes of a message and then trickle:
    before issue 11 they held the whole 128000-byte budget and every other sender got 452."""
    BUDGET = 128000
    SHARE = BUDGET // 4  # the default share of one address
    HELD = 159           # lines of 100 bytes: 15900 bytes per greedy connection
    MAX_SIZE = 20000     # the share is a quarter of the budget, and at least one message
    bridge_options = {"smtp": {"limits": {"max_buffered_bytes": BUDGET,
                                          "max_message_size": MAX_SIZE}}}

    def wait_until_refused(self, probe, size):
        """Polls MAIL ... SIZE=size on `probe` (RSET after each 250) until it is 452 4.3.1, i.e.
        until the server has taken the greedy bytes sent so far from the address's share."""
        end = time.monotonic() + scaled(10)
        while True:
            r = probe.cmd(f"MAIL FROM:<probe@example.com> SIZE={size}")
            if r.code != 250:
                self.assertReply(r, 452, "4.3.1")
                return r
            self.assertReply(probe.cmd("RSET"), 250, "2.0.0")
            if time.monotonic() > end:
                self.fail(f"SIZE={size} still accepted: the address's bytes are not limited")
            time.sleep(0.02)

    def test_one_address_holds_at_most_its_share_and_others_still_get_250(self):
        size = self.HELD * 100
        room = self.SHARE - 2 * size  # what two held messages leave of the share: the trickle
        self.assertTrue(0 < room < size)
        before = self.bridge.count()
        probe = self.raw()
        self.assertEqual(probe.ehlo().code, 250)
        greedy = []
        for i in range(8):  # all transactions open (354) before any of them holds a byte
            c = self.raw()
            c.open_data(self, mail_from=f"greedy{i}@example.com")
            greedy.append(c)
        for i, c in enumerate(greedy):
            c.send(lines(self.HELD, b"g"))
            if i == 0:  # wait until each of the first two is held: the share is then full
                self.wait_until_refused(probe, self.SHARE - size + 1)
            elif i == 1:
                r = self.wait_until_refused(probe, room + 1)
                self.assertIn(b"your address", r.lines[-1])
        for c in greedy:  # trickling
            c.send(b"t")

        # Another address is served in full while the greedy ones hold their share.
        with RawFrom(self.bridge.port(), "127.0.0.2") as other:
            self.assertEqual(other.ehlo().code, 250)
            self.assertReply(other.cmd(f"MAIL FROM:<other@example.com> SIZE={size + 4000}"),
                             250, "2.1.0")
            self.assertReply(other.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
            self.assertReply(other.cmd("DATA"), 354)
            body = b"Subject: other\r\n\r\n" + lines(self.HELD + 40, b"o")
            msg_id = self.assertQueued(other.cmd(body + b"."))
            self.assertStored(self.bridge, msg_id, body, mail_from="other@example.com")
        # The greedy address itself cannot start another transaction.
        self.assertReply(probe.cmd("MAIL FROM:<probe@example.com> SIZE=1000"), 452, "4.3.1")

        # Ending the greedy messages: the two held ones are stored, the others, whose bytes
        # found the share full, are 452 4.3.1 after their end of data.
        codes = []
        for c in greedy:
            c.send(b"\r\n.\r\n")
            codes.append(c.reply())
        accepted = [r for r in codes if r.code == 250]
        self.assertEqual(len(accepted), 2, codes)
        for r in codes:
            if r.code != 250:
                self.assertReply(r, 452, "4.3.1")
        self.assertEqual(self.bridge.count(), before + 3)
        m = Metrics(self.bridge.port("admin"))
        self.assertEqual(m.value("smtp_bridge_smtp_messages_rejected_total",
                                 reason="client_memory_share"), 6)
        self.assertGreaterEqual(m.value("smtp_bridge_smtp_commands_rejected_total",
                                        reason="client_memory_share"), 3)
        self.assertIsNone(m.get("smtp_bridge_smtp_commands_rejected_total",
                                reason="insufficient_memory"))
        # The share is free again once the transactions are over.
        self.assertReply(probe.cmd(f"MAIL FROM:<probe@example.com> SIZE={self.MAX_SIZE}"),
                         250, "2.1.0")

def trickle_until_answered(c, every=0.2, within=None):
    """Sends one byte every `every` seconds until the server says something or closes; returns
    its reply and the seconds it took (the test fails on its own when nothing comes)."""
    within = within or scaled(20)
    start = time.monotonic()
    end = start + within
    while time.monotonic() < end:
        try:
            c.send(b"x")
        except (BrokenPipeError, ConnectionResetError):
            break
        if not c.silent_for(every):
            break
    else:
        raise AssertionError(f"still reading a byte every {every} s after {within} s")
    return c.reply(), time.monotonic() - start


class SlowData(BridgeTest):
    """A byte every 0.2 s keeps the per-read data_timeout (2 s) from firing for ever; below
    min_data_rate it is cut after falling data_timeout behind, and its bytes are given back."""
    bridge_options = {"smtp": {"limits": {"max_buffered_bytes": 40000,  # 10000 per address
                                          "max_message_size": 10000,
                                          "data_timeout": "2s",
                                          "min_data_rate": 1000}}}

    def assertCutAsTooSlow(self, c):
        r, seconds = trickle_until_answered(c)
        self.assertReply(r, 421, "4.4.2")
        self.assertIn(b"too slow", r.lines[-1])
        self.assertEqual(c.read_until_close(), b"", "bytes after the 421")
        return seconds

    def test_trickling_data_is_cut_with_421_and_its_budget_released(self):
        admin = self.bridge.port("admin")
        name = "smtp_bridge_smtp_commands_rejected_total"
        before_cut = Metrics(admin).get(name, reason="data_too_slow") or 0
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        c.send(b"Subject: trickle\r\n\r\n" + lines(80))  # 8000 bytes of the 10000 share
        self.assertCutAsTooSlow(c)
        self.assertEqual(self.bridge.count(), before)  # nothing acknowledged, nothing stored
        wait_metrics(admin, lambda m: m.get(name, reason="data_too_slow") == before_cut + 1,
                     "the cut counted")
        # Its 8000 bytes were given back: 9000 from the same address fit in the share again.
        d = self.raw()
        d.open_data(self)
        body = b"Subject: after\r\n\r\n" + lines(90)
        self.assertQueued(d.cmd(body + b"."))

    def test_trickling_bdat_chunk_is_cut_with_421(self):
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        c.send(b"BDAT 100000\r\n" + lines(50))
        self.assertCutAsTooSlow(c)

    def test_trickling_a_refused_bdat_chunk_is_cut_with_421(self):
        """A chunk refused before its bytes (here: no MAIL yet) is still read, on the clock."""
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        c.send(b"BDAT 100000\r\n" + lines(20))
        self.assertCutAsTooSlow(c)

    def test_idling_between_bdat_chunks_is_cut_with_421(self):
        """The command_timeout (5 min) does not apply between chunks: the data clock runs from
        the first BDAT to LAST."""
        c = self.raw()
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
        self.assertReply(c.cmd(b"BDAT 5000\r\n" + lines(50)), 250, "2.0.0")
        r = c.reply(timeout=scaled(20))
        self.assertReply(r, 421, "4.4.2")
        self.assertIn(b"too slow", r.lines[-1])

    def test_a_sender_above_the_rate_is_not_cut(self):
        c = self.raw()
        c.open_data(self)
        body = b"Subject: steady\r\n\r\n"
        c.send(body)
        for _ in range(15):  # 3 s at ~2500 B/s, longer than data_timeout in all
            c.send(lines(5))
            body += lines(5)
            self.assertTrue(c.silent_for(0.2), "answered before the end of data")
        msg_id = self.assertQueued(c.cmd(b"."))
        self.assertStored(self.bridge, msg_id, body)


class DataDeadline(BridgeTest):
    """Without a minimum rate, data_transaction_timeout still ends a transfer that never ends."""
    bridge_options = {"smtp": {"limits": {"min_data_rate": 0,
                                          "data_transaction_timeout": "2s"}}}

    def test_data_past_the_transaction_deadline_is_cut_with_421(self):
        before = self.bridge.count()
        c = self.raw()
        c.open_data(self)
        r, seconds = trickle_until_answered(c, every=0.05)
        self.assertReply(r, 421, "4.4.2")
        self.assertGreaterEqual(seconds, 1.5)
        self.assertEqual(self.bridge.count(), before)
        self.assertStillServes()

USER, PASSWORD = "app", "correct horse battery"


def auth_plain(c, password, user=USER):
    return c.cmd("AUTH PLAIN " + b64(f"\0{user}\0{password}"))


class AuthGuessing(BridgeTest):
    """AUTH guesses from one address across connections: max_failures (10) per failure_window,
    then 454 4.7.0 to every AUTH from that address, the right password included."""
    LIMIT = 10
    bridge_options = {"smtp": {"auth": {"users": [{"username": USER, "password": PASSWORD}],
                                        "allow_plaintext": True,
                                        "max_failures": LIMIT, "failure_window": "1h"}}}

    def test_100_wrong_passwords_from_one_address_end_in_454_even_for_the_right_one(self):
        admin = self.bridge.port("admin")
        name = "smtp_bridge_smtp_auth_total"
        before = Metrics(admin).get(name, mechanism="PLAIN", result="throttled") or 0
        def guesses(first, count):
            """`count` wrong passwords, five per connection (max_errors is 10)."""
            replies = []
            for attempt in range(first, first + count, 5):
                with RawFrom(self.bridge.port(), "127.0.0.3") as c:
                    self.assertEqual(c.ehlo().code, 250)
                    for i in range(5):
                        replies.append(auth_plain(c, f"guess-{attempt + i}"))
            return replies

        first = guesses(0, self.LIMIT)
        self.assertEqual([(r.code, r.enhanced) for r in first], [(535, "5.7.8")] * self.LIMIT)
        # The other 90 from 18 connections at once (each refusal, like a failure, is delayed).
        rest = [None] * 18
        threads = [threading.Thread(target=lambda k=k: rest.__setitem__(
            k, guesses(self.LIMIT + 5 * k, 5))) for k in range(18)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        replies = [r for batch in rest for r in batch]
        self.assertEqual([(r.code, r.enhanced) for r in replies],
                         [(454, "4.7.0")] * (100 - self.LIMIT))
        self.assertIn(b"try again later", replies[-1].lines[-1])
        # The right password from that address is refused too while the limit holds.
        with RawFrom(self.bridge.port(), "127.0.0.3") as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertReply(auth_plain(c, PASSWORD), 454, "4.7.0")
            self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 250, "2.1.0")  # not authed
        # Another address is not affected.
        with RawFrom(self.bridge.port(), "127.0.0.4") as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertReply(auth_plain(c, PASSWORD), 235, "2.7.0")
        self.assertEqual(Metrics(admin).value(name, mechanism="PLAIN", result="throttled"),
                         before + 100 - self.LIMIT + 1)

    def test_successes_and_cancels_do_not_count(self):
        for _ in range(3 * self.LIMIT):
            with RawFrom(self.bridge.port(), "127.0.0.5") as c:
                self.assertEqual(c.ehlo().code, 250)
                self.assertReply(c.cmd("AUTH LOGIN"), 334)
                self.assertReply(c.cmd("*"), 501, "5.7.0")
                self.assertReply(auth_plain(c, PASSWORD), 235, "2.7.0")


class AuthWindow(BridgeTest):
    """The limit lasts for the window only: afterwards the right password is accepted again."""
    WINDOW = max(2, int(scaled(2)))
    bridge_options = {"smtp": {"auth": {"users": [{"username": USER, "password": PASSWORD}],
                                        "allow_plaintext": True, "max_failures": 2,
                                        "failure_window": f"{WINDOW}s"}}}

    def test_the_right_password_is_accepted_again_after_the_window(self):
        start = time.monotonic()
        with RawFrom(self.bridge.port(), "127.0.0.6") as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertReply(auth_plain(c, "wrong"), 535, "5.7.8")
            self.assertReply(auth_plain(c, "wrong again"), 535, "5.7.8")
            self.assertReply(auth_plain(c, PASSWORD), 454, "4.7.0")
        end = time.monotonic() + self.WINDOW + scaled(10)
        while True:  # one connection per try: each 454 counts as an error of its session
            with RawFrom(self.bridge.port(), "127.0.0.6") as c:
                self.assertEqual(c.ehlo().code, 250)
                r = auth_plain(c, PASSWORD)
            if r.code == 235 or time.monotonic() > end:
                break
            self.assertReply(r, 454, "4.7.0")
            time.sleep(0.1)
        self.assertReply(r, 235, "2.7.0")
        self.assertGreater(time.monotonic() - start, self.WINDOW * 0.9)

if __name__ == "__main__":
    unittest.main()
