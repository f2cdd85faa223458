# Fair SMTP (issue 11, point 5), against the real binary: one client address cannot take the
# message-buffer budget every other sender needs, a trickling DATA/BDAT cannot hold it, refused
# connections cost nothing and are counted, and AUTH guessing from one address is throttled.
# Other client addresses are 127.0.0.2 etc. (the loopback /8): traffic still only to 127.0.0.1.
import socket
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


if __name__ == "__main__":
    unittest.main()
