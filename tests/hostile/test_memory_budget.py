# One memory budget for the whole process (issue 11 point 3), against the real binary: request
# bodies, SMTP message buffers and renders draw from `memory.budget`; a body that does not fit
# beside the others is answered 503 with Retry-After before it is read, a message 452 4.3.1, and a
# webhook render waits (GET /v1/inbound/{id}: 503 after 10 s); once the holder is answered, its
# bytes are back. The gauges smtp_bridge_memory_budget{,_used}_bytes show it.
import http.client
import re
import socket
import threading
import time
import unittest

from bridge import Bridge, BridgeTest, Raw, scaled
from receiver import Receiver

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
    def start_budget_bridge(self, routes=None):
        extra = {"api": {"keys": [{"name": "t", "key": KEY}],
                         "limits": {"head_timeout": "30s", "min_body_rate": 0}},
                 "memory": {"budget": "2MiB"},
                 "delivery": {"retry": {"initial": "200ms", "max_interval": "1s", "max_age": "1h"}}}
        if routes:
            extra["routes"] = routes
        b = Bridge(smtp={"limits": {"max_message_size": 4 * MiB}}, extra=extra)
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
        """A POST whose body is declared and only begun: it holds `length` of the budget while a
        byte a second keeps its reads within the listener's read timeout. Returns the socket and
        a function that sends the rest of the body."""
        holder_body = body(length)
        holder = socket.create_connection(("127.0.0.1", b.port("api")), timeout=scaled(30))
        self.addCleanup(holder.close)
        holder.sendall(post_head(length) + holder_body[:1000])
        sent = [1000]
        done = threading.Event()
        lock = threading.Lock()

        def trickle():
            while not done.wait(1.0):
                with lock:
                    holder.sendall(holder_body[sent[0]:sent[0] + 1])
                    sent[0] += 1

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()

        def finish():
            done.set()
            thread.join()
            holder.sendall(holder_body[sent[0]:])

        self.addCleanup(done.set)
        self.wait_used(b, lambda used: used >= length)
        return holder, finish

    def test_smtp_messages_and_api_bodies_share_one_budget(self):
        b = self.start_budget_bridge()
        holder, finish = self.hold_api_body(b, 1536 * 1024)
        message = b"Subject: budget\r\n\r\n" + (b"y" * 98 + b"\r\n") * (MiB // 100)
        with Raw(b.port()) as c:
            self.assertEqual(c.ehlo().code, 250)
            # RFC 1870: the declared size does not fit beside the API body.
            self.assertReply(c.cmd(f"MAIL FROM:<a@example.com> SIZE={len(message)}"), 452, "4.3.1")
        finish()
        self.assertEqual(read_status(holder)[0], 422)
        self.wait_used(b, lambda used: used == 0)
        with Raw(b.port()) as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertReply(c.cmd(f"MAIL FROM:<a@example.com> SIZE={len(message)}"), 250, "2.1.0")
            self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250, "2.1.5")
            self.assertReply(c.cmd("DATA"), 354)
            c.send(message + b".\r\n")
            self.assertQueued(c.reply())

    def test_a_render_waits_for_room_and_the_api_render_answers_503(self):
        hook = Receiver().start()
        self.addCleanup(hook.stop)
        b = self.start_budget_bridge(routes=[{"match": ["*"], "endpoints": [{"url": hook.url()}]}])
        holder, finish = self.hold_api_body(b, 1536 * 1024)
        # 200 KB: its buffer fits beside the held body, its render (4 x 200 KB) does not.
        message = b"Subject: render\r\n\r\n" + (b"z" * 98 + b"\r\n") * 2000
        with Raw(b.port()) as c:
            c.open_data(self)
            c.send(message + b".\r\n")
            msg_id = self.assertQueued(c.reply())
        time.sleep(scaled(1.5))  # nothing to await: the render must still be waiting
        self.assertEqual(hook.requests(payload_id=msg_id), [])
        api = http.client.HTTPConnection("127.0.0.1", b.port("api"), timeout=scaled(30))
        api.request("GET", f"/v1/inbound/{msg_id}", headers={"Authorization": f"Bearer {KEY}"})
        answer = api.getresponse()
        answer.read()
        self.assertEqual(answer.status, 503)
        self.assertEqual(answer.getheader("Retry-After"), "5")
        finish()
        self.assertEqual(read_status(holder)[0], 422)
        hook.wait_for(1, payload_id=msg_id, timeout=scaled(30))
        api.request("GET", f"/v1/inbound/{msg_id}", headers={"Authorization": f"Bearer {KEY}"})
        answer = api.getresponse()
        answer.read()
        self.assertEqual(answer.status, 200)

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
