# Helpers for the webhook e2e tests: a real HTTP(S) receiver (ThreadingHTTPServer on 127.0.0.1,
# port 0) that records every request and answers from a per-path script, plus a Standard Webhooks
# signature check written from the spec, store look-ups of delivery rows, and an smtplib sender.
import base64
import hashlib
import hmac
import json
import os
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bridge import certificate, queued_id, scaled


class Answer:
    """One scripted response: status, extra headers, body, and a delay before answering."""

    def __init__(self, status=200, delay=0.0, headers=None, body=b""):
        self.status = status
        self.delay = delay
        self.headers = dict(headers or {})
        self.body = body if isinstance(body, bytes) else body.encode()


class Request:
    """One recorded request. `headers` maps lower-case names to the list of their values."""

    def __init__(self, method, path, header_items, body, arrived):
        self.method = method
        self.path = path
        self.header_items = header_items
        self.headers = {}
        for name, value in header_items:
            self.headers.setdefault(name.lower(), []).append(value)
        self.body = body
        self.arrived = arrived  # time.monotonic() when the body had been read
        self.answered = None    # the Answer given (None if the receiver stopped first)

    def header(self, name):
        """The single value of a header (AssertionError if it is missing or repeated)."""
        values = self.headers.get(name.lower(), [])
        if len(values) != 1:
            raise AssertionError(f"header {name!r} occurs {len(values)} times: {self.header_items}")
        return values[0]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def payload_id(self):
        try:
            return self.json().get("id")
        except (ValueError, AttributeError):
            return None

    def __repr__(self):
        return f"Request({self.method} {self.path}, {len(self.body)} bytes)"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's clients use

    def log_message(self, *args):
        pass

    def do_POST(self):
        self._handle()

    def do_GET(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def _handle(self):
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, self.path, list(self.headers.items()), body, time.monotonic())
        answer = receiver._record(req)
        if answer.delay and receiver._stopping.wait(answer.delay):
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True  # the client gave up (its timeout): expected


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, receiver, tls_context):
        self.receiver = receiver
        self.tls_context = tls_context
        self.connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler, bind_and_activate=False)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls_context is not None:
            # The handshake happens on first read, in the request's own thread.
            sock = self.tls_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        """Kept-alive connections too: a stopped receiver answers nothing more."""
        with self.connections_lock:
            socks, self.connections = list(self.connections), set()
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass  # a client that hung up mid-request (timeouts, kill -9) is part of the tests


class Receiver:
    """A webhook endpoint on 127.0.0.1. Bound at construction (the port is known at once); it
    listens only after start(), so until then connections are refused ("receiver down").

    Answers per path come from script(path, [Answer, ...]) in order; once a path's script is
    used up, `default` answers (200 unless changed)."""

    def __init__(self, tls=False, cert=None):
        """tls: HTTPS with bridge.certificate(), or with `cert` = (cert_path, key_path)."""
        self.tls = tls
        ctx = None
        if tls:
            cert, key = cert or certificate()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
        self._server = _Server(self, ctx)
        self._server.server_bind()
        self.port = self._server.server_address[1]
        self._cond = threading.Condition()
        self._requests = []
        self._scripts = {}
        self.default = Answer(200)
        self._stopping = threading.Event()
        self._thread = None

    # lifecycle

    def start(self):
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Idempotent. Delayed answers are cut short: their connections close unanswered."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self._server.close_connections()

    def url(self, path="/hook"):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    # script

    def script(self, path, answers):
        with self._cond:
            self._scripts[path] = list(answers)

    def set_default(self, answer):
        with self._cond:
            self.default = answer

    def _record(self, req):
        with self._cond:
            queue = self._scripts.get(req.path)
            answer = queue.pop(0) if queue else self.default
            req.answered = answer
            self._requests.append(req)
            self._cond.notify_all()
            return answer

    # observations

    def requests(self, path=None, payload_id=None):
        with self._cond:
            found = list(self._requests)
        if path is not None:
            found = [r for r in found if r.path == path]
        if payload_id is not None:
            found = [r for r in found if r.payload_id() == payload_id]
        return found

    def wait_until(self, predicate, timeout=10.0, what="condition"):
        """Waits until predicate(all requests) is true; AssertionError at the deadline."""
        end = time.monotonic() + scaled(timeout)
        with self._cond:
            while True:
                if predicate(list(self._requests)):
                    return list(self._requests)
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver {self.url('')}: {what}: not met within "
                                         f"{timeout}s; requests: {self._requests}")
                self._cond.wait(min(left, 0.2))

    def wait_for(self, count=1, path=None, payload_id=None, timeout=10.0):
        """The matching requests once there are at least `count`; AssertionError at the deadline."""
        self.wait_until(lambda _: len(self.requests(path, payload_id)) >= count, timeout,
                        f"{count} requests (path={path}, id={payload_id})")
        return self.requests(path, payload_id)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def other_certificate(folder):
    """(cert, key) of a second self-signed 127.0.0.1 certificate that nothing trusts."""
    cert, key = os.path.join(folder, "other.pem"), os.path.join(folder, "other.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def down_endpoint():
    """An http:// URL on 127.0.0.1 whose port is bound but not listening: connections are
    refused. Returns (url, socket); close the socket when done."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{sock.getsockname()[1]}/down", sock


# --- Standard Webhooks (https://www.standardwebhooks.com/, "Verifying webhooks") --------------

def secret_key(secret):
    """whsec_<base64> → key bytes."""
    assert secret.startswith("whsec_"), secret
    return base64.b64decode(secret[len("whsec_"):])


def expected_signature(secret, webhook_id, timestamp, body):
    content = webhook_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return base64.b64encode(hmac.new(secret_key(secret), content, hashlib.sha256).digest()).decode()


def signatures(req):
    """The base64 signatures of the v1 scheme in webhook-signature, in order."""
    out = []
    for item in req.header("webhook-signature").split(" "):
        version, _, sig = item.partition(",")
        if version == "v1" and sig:
            out.append(sig)
    return out


def verifies(req, secret):
    """True if one v1 signature of `req` verifies with `secret` (constant-time compare)."""
    want = expected_signature(secret, req.header("webhook-id"), req.header("webhook-timestamp"),
                              req.body)
    return any(hmac.compare_digest(want, sig) for sig in signatures(req))


def make_secret(seed):
    return "whsec_" + base64.b64encode(hashlib.sha256(seed.encode()).digest()[:24]).decode()


# --- store ------------------------------------------------------------------------------------

def deliveries(bridge, message_id=None):
    """Rows of inbound_deliveries (dicts with text values), oldest first."""
    if not os.path.exists(bridge.store_path):
        return []
    conn = sqlite3.connect(bridge.store_path, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        sql = ("SELECT id, message_id, endpoint, rcpt_to, state, attempts, last_error, "
               "next_attempt_at FROM inbound_deliveries")
        args = ()
        if message_id is not None:
            sql += " WHERE message_id = ?"
            args = (message_id,)
        rows = conn.execute(sql + " ORDER BY created_at, id", args).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


def wait_rows(bridge, predicate, message_id=None, timeout=10.0, what="delivery rows"):
    """Polls the store (it is another process's file: nothing to wait on) until predicate(rows)."""
    end = time.monotonic() + scaled(timeout)
    while True:
        rows = deliveries(bridge, message_id)
        if rows and predicate(rows):
            return rows
        if time.monotonic() > end:
            raise AssertionError(f"{what}: condition not met within {timeout}s; rows: {rows}")
        time.sleep(0.05)


# --- sending ----------------------------------------------------------------------------------

def smtplib_send(bridge, mail_from, rcpts, data):
    """One message with smtplib; returns the queued id from the DATA reply."""
    with smtplib.SMTP("127.0.0.1", bridge.port(), timeout=scaled(10)) as s:
        s.ehlo("client.example")
        code, _ = s.mail(mail_from)
        assert code == 250, code
        for r in rcpts:
            code, msg = s.rcpt(r)
            assert code == 250, (r, code, msg)
        code, msg = s.data(data)
        assert code == 250, (code, msg)
        msg_id = queued_id(msg)
        assert msg_id, msg
        return msg_id
