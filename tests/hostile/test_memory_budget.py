# One memory budget for the whole process (issue 11 point 3), against the real binary: request
# bodies and SMTP message buffers draw from `memory.budget`; a body that does not fit beside the
# others is answered 503 with Retry-After before it is read, a message 452 4.3.1; once the holder
# is answered, its bytes are back. The gauges smtp_bridge_memory_budget{,_used}_bytes show it.
import http.client
import re
import socket
import time
import unittest

from bridge import Bridge, BridgeTest, Raw, scaled

KEY = "hostile-budget-key-0123456789"
MiB = 1 << 20


def gauge(bridge, name):
    conn = http.client.HTTPConnection("127.0.0.1", bridge.port("admin"), timeout=scaled(10))
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    match = re.search(r"^%s (\S+)$" % name, text, re.M)
    return float(match.group(1)) if match else None


def post_head(length):
    return (b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + KEY.encode() + b"\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


def body(length):
    """A JSON send request of exactly `length` bytes (invalid as a send: no recipients)."""
    prefix, suffix = b'{"subject":"', b'"}'
    return prefix + b"x" * (length - len(prefix) - len(suffix)) + suffix


def read_status(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/1.") else None
    headers = dict(line.split(":", 1) for line in head.split("\r\n")[1:] if ":" in line)
    return status, {k.strip().lower(): v.strip() for k, v in headers.items()}


class ApiBodies(BridgeTest):
    def start_budget_bridge(self):
        b = Bridge(smtp={"limits": {"max_message_size": 4 * MiB}},
                   extra={"api": {"keys": [{"name": "t", "key": KEY}],
                                  "limits": {"head_timeout": "30s", "min_body_rate": 0}},
                          "memory": {"budget": "2MiB"}})
        b.expect = b.expect + ["api"]
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def wait_used(self, b, predicate):
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            used = gauge(b, "smtp_bridge_memory_budget_used_bytes")
            if used is not None and predicate(used):
                return used
            time.sleep(0.05)
        self.fail(f"memory budget use stayed at {used}")

    def hold_api_body(self, b, length):
        """A POST whose body is declared and only begun: it holds `length` of the budget."""
        holder_body = body(length)
        holder = socket.create_connection(("127.0.0.1", b.port("api")), timeout=scaled(30))
        self.addCleanup(holder.close)
        holder.sendall(post_head(length) + holder_body[:1000])
        self.wait_used(b, lambda used: used >= length)
        return holder, holder_body[1000:]

    def test_smtp_messages_and_api_bodies_share_one_budget(self):
        b = self.start_budget_bridge()
        holder, rest = self.hold_api_body(b, 1536 * 1024)
        message = b"Subject: budget\r\n\r\n" + (b"y" * 98 + b"\r\n") * (MiB // 100)
        with Raw(b.port()) as c:
            self.assertEqual(c.ehlo().code, 250)
            # RFC 1870: the declared size does not fit beside the API body.
            self.assertReply(c.cmd(f"MAIL FROM:<a@example.com> SIZE={len(message)}"), 452, "4.3.1")
        holder.sendall(rest)
        self.assertEqual(read_status(holder)[0], 422)
        self.wait_used(b, lambda used: used == 0)
        with Raw(b.port()) as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertReply(c.cmd(f"MAIL FROM:<a@example.com> SIZE={len(message)}"), 250, "2.1.0")
            self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
            self.assertReply(c.cmd("DATA"), 354)
            c.send(message + b".\r\n")
            self.assertQueued(c.reply())

    def test_a_body_that_does_not_fit_beside_another_is_503_with_retry_after(self):
        b = self.start_budget_bridge()
        self.assertEqual(gauge(b, "smtp_bridge_memory_budget_bytes"), 2 * MiB)
        holder_length = 1536 * 1024
        holder_body = body(holder_length)
        holder = socket.create_connection(("127.0.0.1", b.port("api")), timeout=scaled(30))
        self.addCleanup(holder.close)
        holder.sendall(post_head(holder_length) + holder_body[:1000])  # holds its reservation
        self.wait_used(b, lambda used: used >= holder_length)

        other = socket.create_connection(("127.0.0.1", b.port("api")), timeout=scaled(30))
        self.addCleanup(other.close)
        other.sendall(post_head(MiB))
        status, headers = read_status(other)
        self.assertEqual(status, 503)
        self.assertEqual(headers.get("retry-after"), "5")
        self.assertEqual(headers.get("content-type"), "application/problem+json")

        holder.sendall(holder_body[1000:])
        status, _ = read_status(holder)
        self.assertEqual(status, 422)  # handled: a send request without recipients
        self.wait_used(b, lambda used: used == 0)

        again = socket.create_connection(("127.0.0.1", b.port("api")), timeout=scaled(30))
        self.addCleanup(again.close)
        again.sendall(post_head(MiB) + body(MiB))
        status, _ = read_status(again)
        self.assertEqual(status, 422)


if __name__ == "__main__":
    unittest.main()
