# HTTP limits before authentication (issue 11 point 4), against the real binary: a 300 MiB
# chunked body and a gzip bomb without a key, giant header lines, a large body on the admin port
# and a header slowloris are each answered (4xx) or cut while the bridge's peak RSS stays flat;
# keep-alive still serves several requests on one connection.
import http.client
import json
import re
import socket
import threading
import time
import unittest
import zlib

from bridge import Bridge, BridgeTest, scaled

KEY = "hostile-http-key-0123456789"
MiB = 1 << 20
RSS_GROWTH_LIMIT = 32 * MiB
HEAD_TIMEOUT_S = 2  # api.limits.head_timeout of the bridges here


def vm_hwm(pid):
    """The process's peak resident set size in bytes (/proc/PID/status VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


class Answer:
    def __init__(self, raw):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
        self.status = int(match.group(1)) if match else None
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Answer {self.status} {self.headers} {self.body[:200]!r}>"


def exchange(port, head, body_parts=(), timeout=None):
    """Sends `head`, then `body_parts` from a thread (stopping at the first error, as a client
    does when the server answers early), and reads the answer until the server closes or the
    whole answer (Content-Length) is there. Returns (Answer or None, seconds, sent body bytes)."""
    timeout = timeout or scaled(60)
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sent = [0]
    stop = threading.Event()

    def send():
        try:
            for part in body_parts:
                if stop.is_set():
                    return
                sock.sendall(part)
                sent[0] += len(part)
        except OSError:
            pass

    start = time.monotonic()
    sock.sendall(head)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while True:
            if b"\r\n\r\n" in data:
                answer = Answer(data)
                length = int(answer.headers.get("content-length", "-1"))
                if 0 <= length <= len(answer.body):
                    break
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    finally:
        elapsed = time.monotonic() - start
        stop.set()
        sock.close()
        sender.join(timeout=scaled(30))
    return (Answer(data) if data else None), elapsed, sent[0]


def chunked(total, chunk=MiB):
    block = b"x" * chunk
    line = b"%x\r\n" % chunk
    for _ in range(total // chunk):
        yield line + block + b"\r\n"
    yield b"0\r\n\r\n"


def gzip_bomb(inflated):
    """A gzip member of `inflated` zero bytes (about 1/1000 of it)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    block = bytes(MiB)
    out = [compressor.compress(block) for _ in range(inflated // MiB)]
    out.append(compressor.flush())
    return b"".join(out)


def limits_bridge(**api_limits):
    limits = {"head_timeout": f"{HEAD_TIMEOUT_S}s"}
    limits.update(api_limits)
    b = Bridge(smtp={"limits": {"max_message_size": MiB}},
               extra={"api": {"keys": [{"name": "t", "key": KEY}], "limits": limits},
                      "admin": {"limits": {"head_timeout": f"{HEAD_TIMEOUT_S}s"}}})
    b.expect = b.expect + ["api"]
    return b


def metric(bridge, listener, reason):
    conn = http.client.HTTPConnection("127.0.0.1", bridge.port("admin"), timeout=scaled(10))
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    pattern = (r'^smtp_bridge_http_limited_total\{listener="%s",reason="%s"\} (\S+)$'
               % (listener, reason))
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


class MemoryBound(BridgeTest):
    """Each vector on a fresh bridge: VmHWM is a high-water mark, so every test measures its
    own growth from a process that has not peaked before."""

    def fresh(self):
        b = limits_bridge()
        self.addCleanup(b.cleanup)
        b.start()
        # One ordinary request first, so that the thread pool and the allocator have warmed up.
        ok, _, _ = exchange(b.port("api"), b"GET /v1/inbound HTTP/1.1\r\nHost: t\r\n"
                            b"Authorization: Bearer " + KEY.encode() + b"\r\n\r\n")
        self.assertEqual(ok.status, 200, ok)
        return b, vm_hwm(b.proc.pid)

    def assertFlat(self, b, before):
        self.assertTrue(b.alive(), "smtp-bridge died")
        growth = vm_hwm(b.proc.pid) - before
        self.assertLess(growth, RSS_GROWTH_LIMIT, f"peak RSS grew by {growth / MiB:.1f} MiB")

    def test_300_mib_chunked_without_a_key_is_refused_before_the_body(self):
        b, before = self.fresh()
        head = (b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        answer, _, sent = exchange(b.port("api"), head, chunked(300 * MiB))
        self.assertIsNotNone(answer, "no answer")
        self.assertEqual(answer.status, 401, answer)
        self.assertFlat(b, before)
        self.assertEqual(answer.headers.get("content-type"), "application/problem+json")
        self.assertEqual(answer.headers.get("connection"), "close")
        self.assertLess(sent, 300 * MiB, "the whole body was read")

    def test_300_mib_chunked_with_a_key_stops_at_the_body_limit(self):
        b, before = self.fresh()
        head = (b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + KEY.encode() + b"\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        answer, _, sent = exchange(b.port("api"), head, chunked(300 * MiB))
        self.assertIsNotNone(answer, "no answer")
        self.assertEqual(answer.status, 413, answer)
        self.assertEqual(answer.json()["type"], "https://smtp-bridge.dev/problems/content-too-large")
        self.assertLess(sent, 300 * MiB, "the whole body was read")
        self.assertFlat(b, before)
        self.assertEqual(metric(b, "api", "body_size"), 1)

    def test_a_gzip_bomb_without_a_key_is_415_and_never_inflated(self):
        bomb = gzip_bomb(1024 * MiB)  # 1 GiB of zeros in about 1 MiB
        self.assertLess(len(bomb), 2 * MiB)
        inflated = zlib.decompressobj(16 + 15).decompress(bomb, 64 * MiB)
        self.assertEqual(len(inflated), 64 * MiB)  # and more: it is a bomb
        b, before = self.fresh()
        head = (b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb))
        answer, _, _ = exchange(b.port("api"), head, [bomb])
        self.assertIsNotNone(answer, "no answer")
        self.assertEqual(answer.status, 415, answer)
        self.assertEqual(answer.headers.get("accept-encoding"), "identity")
        self.assertEqual(answer.json()["status"], 415)
        self.assertFlat(b, before)
        self.assertEqual(metric(b, "api", "content_encoding"), 1)


class HeadLimits(BridgeTest):
    bridge_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bridge = limits_bridge()
        cls.addClassCleanup(cls.bridge.cleanup)
        cls.bridge.start()

    def test_100_header_lines_of_64_kib_are_431(self):
        before = vm_hwm(self.bridge.proc.pid)
        line = b"X-Big: " + b"a" * (64 * 1024 - 9) + b"\r\n"
        head = b"GET /v1/inbound HTTP/1.1\r\nHost: t\r\n"
        answer, _, _ = exchange(self.bridge.port("api"), head, [line] * 100 + [b"\r\n"])
        self.assertIsNotNone(answer, "no answer")
        self.assertEqual(answer.status, 431, answer)
        self.assertEqual(answer.headers.get("content-type"), "application/problem+json")
        self.assertEqual(answer.json()["type"],
                         "https://smtp-bridge.dev/problems/request-header-fields-too-large")
        self.assertLess(vm_hwm(self.bridge.proc.pid) - before, RSS_GROWTH_LIMIT)
        self.assertGreaterEqual(metric(self.bridge, "api", "header_line"), 1)

    def test_too_many_header_lines_are_431(self):
        head = b"GET /v1/inbound HTTP/1.1\r\nHost: t\r\n" + b"X-A: b\r\n" * 150 + b"\r\n"
        answer, _, _ = exchange(self.bridge.port("api"), head)
        self.assertEqual(answer.status, 431, answer)

    def test_a_long_request_line_is_414(self):
        head = b"GET /v1/inbound?x=" + b"a" * 20000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
        answer, _, _ = exchange(self.bridge.port("api"), head)
        self.assertEqual(answer.status, 414, answer)

    def test_the_admin_port_refuses_a_large_body(self):
        port = self.bridge.port("admin")
        body = b"z" * (8 * MiB)
        head = b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
        answer, _, _ = exchange(port, head, [body])
        self.assertEqual(answer.status, 413, answer)
        head = b"POST /metrics HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        answer, _, sent = exchange(port, head, chunked(64 * MiB, 64 * 1024))
        self.assertEqual(answer.status, 413, answer)
        self.assertEqual(metric(self.bridge, "admin", "body_size"), 2)

    def test_a_header_slowloris_is_cut_at_the_head_timeout(self):
        sock = socket.create_connection(("127.0.0.1", self.bridge.port("api")),
                                        timeout=scaled(30))
        self.addCleanup(sock.close)
        start = time.monotonic()
        sock.sendall(b"GET /v1/inbound HTTP/1.1\r\n")
        data = b""
        # One header line every 0.3 s: each read is quick, only the whole head is late.
        for i in range(200):
            try:
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            except socket.timeout:
                continue
            except OSError:
                break
            if b"\r\n\r\n" in data:
                break
        elapsed = time.monotonic() - start
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:200])
        self.assertGreaterEqual(elapsed, HEAD_TIMEOUT_S * 0.9)
        self.assertLess(elapsed, HEAD_TIMEOUT_S + scaled(10))

    def test_a_body_trickle_is_cut_at_the_minimum_rate(self):
        # api.limits.min_body_rate 16 KiB/s after head_timeout (2 s) of grace: 100 bytes every
        # 0.3 s falls behind at once, so the cut comes at the grace's end.
        sock = socket.create_connection(("127.0.0.1", self.bridge.port("api")),
                                        timeout=scaled(30))
        self.addCleanup(sock.close)
        start = time.monotonic()
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
                     + KEY.encode() + b"\r\nContent-Length: 100000\r\n\r\n")
        data = b""
        for _ in range(300):
            try:
                sock.sendall(b"x" * 100)
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
        elapsed = time.monotonic() - start
        # The head may arrive in one segment and its body in the next: read the body whole.
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        sock.settimeout(scaled(10))
        while length and len(body) < int(length.group(1)):
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            body += chunk
        data = head + b"\r\n\r\n" + body
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:300])
        self.assertIn(b"problems/request-timeout", data)
        self.assertGreaterEqual(elapsed, HEAD_TIMEOUT_S * 0.9)
        self.assertLess(elapsed, HEAD_TIMEOUT_S + scaled(10))

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port("api"), timeout=scaled(10))
        self.addCleanup(conn.close)
        auth = {"Authorization": "Bearer " + KEY}
        conn.request("GET", "/v1/inbound", headers=auth)
        first = conn.getresponse()
        first.read()
        self.assertEqual(first.status, 200)
        sock = conn.sock
        body = json.dumps({"from": "a@example.com", "to": ["b@example.org"], "subject": "s",
                           "text": "hi"})
        conn.request("POST", "/v1/messages", body=body,
                     headers=dict(auth, **{"Content-Type": "application/json"}))
        second = conn.getresponse()
        second.read()
        self.assertEqual(second.status, 202)
        conn.request("GET", "/v1/nothing", headers=auth)
        third = conn.getresponse()
        third.read()
        self.assertEqual(third.status, 404)
        conn.request("GET", "/v1/inbound", headers=auth)
        fourth = conn.getresponse()
        fourth.read()
        self.assertEqual(fourth.status, 200)
        self.assertIs(conn.sock, sock, "the connection was not kept alive")
        # The admin port too.
        admin = http.client.HTTPConnection("127.0.0.1", self.bridge.port("admin"),
                                           timeout=scaled(10))
        self.addCleanup(admin.close)
        for path in ("/healthz", "/metrics"):
            admin.request("GET", path)
            answer = admin.getresponse()
            answer.read()
            self.assertEqual(answer.status, 200)
        self.assertIsNotNone(admin.sock)

    def test_expect_100_continue_without_a_key_gets_401_instead_of_100(self):
        head = (b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Length: 500000\r\n"
                b"Expect: 100-continue\r\n\r\n")
        answer, _, _ = exchange(self.bridge.port("api"), head)
        self.assertEqual(answer.status, 401, answer)


if __name__ == "__main__":
    unittest.main()
