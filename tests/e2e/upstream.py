# A real upstream SMTP server for the outbound tests: aiosmtpd 1.4.3 (Debian's python3-aiosmtpd)
# on its own asyncio loop in a thread, bound to 127.0.0.1:0, with STARTTLS / implicit TLS, AUTH
# (PLAIN, LOGIN, CRAM-MD5, XOAUTH2), scripted per-recipient and end-of-DATA replies and faults.
"""Upstream: the SMTP server the bridge's relay sends to.

    up = Upstream(tls="starttls"|"implicit"|"none", require_tls=True, auth=("user", "pass") or None,
                  mechanisms=["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"], script=None)
    up.start()                   # binds 127.0.0.1:0 (or `port=`); up.port, up.ca_file
    up.messages                  # accepted messages (end of DATA answered 2xx), see Message
    up.wait_messages(n, timeout) # blocks until n messages arrived, returns the list (AssertionError
                                 # on timeout)
    up.rcpt_replies = {"x@example.org": ["450 4.2.1 busy"]}  # per-recipient queue; empty -> 250
    up.data_replies = ["451 4.3.0 try later"]                 # end-of-DATA queue; empty -> 250
    up.stop()

Extra keyword arguments of Upstream():
    port=0            the port to bind (a test that restarts an upstream on the same port)
    pipelining=True   announce PIPELINING in the EHLO reply (aiosmtpd itself does not)
    size=None         the SIZE limit announced (None: aiosmtpd's 33554432; 0: none announced)
    smtputf8=True     announce SMTPUTF8
    hostname          the greeting's host name ("upstream.test")
    cert=None         (cert_file, key_file) to serve instead of the shared localhost certificate
    script=None       a dict of initial settings: {"rcpt_replies": {...}, "data_replies": [...],
                      "data_faults": [...], "connect_faults": [...]}
    max_per_second=None  a provider's rate limit: a MAIL FROM that would be the (N+1)th within the
                      last second (counting every MAIL, refused ones too) is answered
                      "421 4.7.0 rate limit exceeded" and the connection is closed

Faults (queues; each entry is used once):
    up.data_faults    at the end of DATA, instead of a reply: "drop" (close the connection without
                      answering; the message is NOT counted in up.messages but in up.dropped),
                      "garbage" (a line that is not an SMTP reply, then the connection is closed),
                      "stall" (no answer until up.release_stalls() or stop(); then closed)
    up.connect_faults for a new connection, instead of the greeting: "drop", "garbage", "stall",
                      or a reply line such as "421 4.7.0 too busy" (sent, then closed)
    up.release_stalls()  closes every stalled connection (no reply); returns how many

Observations:
    up.commands       list of Command(conn, verb, arg, tls, pipelined) in arrival order; `pipelined`
                      is True when more client bytes were already buffered when the command began
                      (the client did not wait for the previous reply)
    up.connections    number of connections accepted
    up.dropped        messages whose end of DATA was answered by a fault (drop/garbage/stall)
    up.auth_failures  number of failed AUTH attempts
    up.mail_times     time.monotonic() of every MAIL command, in arrival order
    up.throttled      number of MAIL commands answered 421 by max_per_second
"""
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, auth_mechanism

logging.getLogger("mail.log").setLevel(logging.CRITICAL)

ALL_MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"]


def make_certificate(cn="localhost", san="DNS:localhost,IP:127.0.0.1", folder=None):
    """(cert_path, key_path) of a new self-signed certificate made with the openssl CLI."""
    folder = folder or tempfile.mkdtemp(prefix="e2e-upstream-cert-")
    cert, key = os.path.join(folder, f"{cn}-cert.pem"), os.path.join(folder, f"{cn}-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


_shared = {}


def shared_certificate():
    """The localhost / 127.0.0.1 certificate every Upstream serves by default (made once)."""
    if "paths" not in _shared:
        folder = tempfile.mkdtemp(prefix="e2e-upstream-cert-")
        import atexit
        atexit.register(shutil.rmtree, folder, True)
        _shared["paths"] = make_certificate(folder=folder)
    return _shared["paths"]


@dataclass
class Message:
    mail_from: str
    rcpt_tos: list
    data: bytes                 # dot-unstuffed, exactly as received
    auth_mechanism: str = None  # the mechanism the session authenticated with, or None
    auth_user: str = None
    tls: bool = False
    mail_options: list = field(default_factory=list)
    helo: str = None
    conn: int = 0


@dataclass
class Command:
    conn: int
    verb: str
    arg: str
    tls: bool
    pipelined: bool


class _Session(SMTP):
    """aiosmtpd's SMTP with command recording, PIPELINING and connect faults."""

    def __init__(self, upstream, handler, **kwargs):
        super().__init__(handler, **kwargs)
        self.upstream = upstream
        self.conn_id = upstream._next_conn()
        self.implicit_tls = upstream.tls == "implicit"
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._recorded(verb, method)

    def is_tls(self):
        return self.implicit_tls or self._tls_protocol is not None

    def _recorded(self, verb, method):
        async def wrapper(arg):
            buffered = len(getattr(self._reader, "_buffer", b"")) > 0
            self.upstream._record(Command(self.conn_id, verb, arg, self.is_tls(), buffered))
            return await method(arg)
        return wrapper

    async def _handle_client(self):
        fault = self.upstream._pop("connect_faults")
        if fault is None:
            return await super()._handle_client()
        if fault == "drop":
            self.transport.close()
        elif fault == "garbage":
            self._writer.write(b"\x00\xffHELLO? this is not SMTP\r\n")
            self.transport.close()
        elif fault == "stall":
            await self.upstream._stall(self)
        else:
            self._writer.write(fault.encode() + b"\r\n")
            await self._writer.drain()
            self.transport.close()


def _close(server):
    """Closes a session's connection, also the plain transport beneath STARTTLS."""
    for transport in (server.transport, getattr(server, "_original_transport", None)):
        if transport is not None:
            transport.close()


class _Handler:
    def __init__(self, upstream):
        self.up = upstream

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not self.up.ehlo:  # an old server: the client must fall back to HELO
            server.session.extended_smtp = False
            return ["502 5.5.1 Command not recognized"]
        session.host_name = hostname
        out = []
        for line in responses:
            text = line[4:]
            if text.startswith("SIZE") and self.up.size == 0:
                continue
            if text.startswith("SMTPUTF8") and not self.up.smtputf8:
                continue
            if text.startswith("8BITMIME") and not self.up.eightbitmime:
                continue
            if text.startswith("AUTH") and not self.up.auth:
                continue
            out.append(line)
        if self.up.pipelining:
            out.insert(1, "250-PIPELINING")
        return out

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.up._over_rate():
            # RFC 5321 4.2.3: 421 closes the channel; closed once the reply is written.
            asyncio.get_running_loop().call_soon(_close, server)
            return "421 4.7.0 rate limit exceeded, slow down"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.up._pop_rcpt(address)
        if reply is None or reply.startswith("2"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
            return reply or "250 2.1.5 OK"
        return reply

    async def handle_DATA(self, server, session, envelope):
        fault = self.up._pop("data_faults")
        msg = Message(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                      data=bytes(envelope.original_content), tls=server.is_tls(),
                      mail_options=list(envelope.mail_options), helo=session.host_name,
                      conn=server.conn_id,
                      auth_mechanism=(session.auth_data or {}).get("mechanism")
                      if isinstance(session.auth_data, dict) else None,
                      auth_user=(session.auth_data or {}).get("user")
                      if isinstance(session.auth_data, dict) else None)
        if fault is not None:
            self.up._add_dropped(msg)
            if fault == "garbage":
                server._writer.write(b"\x00\xff garbage \x01\x02 not a reply\r\n")
                await server._writer.drain()
                _close(server)
            elif fault == "stall":
                await self.up._stall(server)
            else:
                _close(server)
            await asyncio.sleep(3600)  # the closed connection's task is cancelled
        reply = self.up._pop("data_replies") or "250 2.0.0 OK queued"
        if reply.startswith("2"):
            self.up._add_message(msg)
        return reply

    # RFC 2195
    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, server, args):
        challenge = f"<{secrets.token_hex(8)}.{int(time.time())}@upstream.test>".encode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        user, _, digest = answer.decode("utf-8", "replace").rpartition(" ")
        expected_user, password = self.up.auth or ("", "")
        want = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
        ok = user == expected_user and hmac.compare_digest(digest, want)
        return self.up._auth_result("CRAM-MD5", user, ok)

    # Google's XOAUTH2: base64("user=" U ^A "auth=Bearer " T ^A ^A); failure is a 334 with a
    # base64 JSON error, answered by an empty line, then 535.
    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        parts = dict(p.split("=", 1) for p in blob.decode("utf-8", "replace").split("\x01") if "=" in p)
        user, token = parts.get("user", ""), parts.get("auth", "")
        expected_user, password = self.up.auth or ("", "")
        if user == expected_user and token == "Bearer " + password:
            return self.up._auth_result("XOAUTH2", user, True)
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"}).encode()
        await server.challenge_auth(error)  # the client answers with an empty line
        return self.up._auth_result("XOAUTH2", user, False)


class Upstream:
    def __init__(self, tls="starttls", require_tls=True, auth=None, mechanisms=None, script=None,
                 port=0, pipelining=True, size=None, smtputf8=True, hostname="upstream.test",
                 cert=None, ehlo=True, eightbitmime=True, max_per_second=None):
        assert tls in ("starttls", "implicit", "none"), tls
        self.tls, self.require_tls, self.auth = tls, require_tls, auth
        self.mechanisms = [m.upper() for m in (mechanisms or ALL_MECHANISMS)]
        self.requested_port, self.pipelining, self.size = port, pipelining, size
        self.smtputf8, self.hostname = smtputf8, hostname
        self.ehlo, self.eightbitmime = ehlo, eightbitmime
        self.cert = cert or shared_certificate()
        self.ca_file = self.cert[0]
        self.port = None
        self.messages, self.dropped, self.commands = [], [], []
        self.rcpt_replies, self.data_replies = {}, []
        self.data_faults, self.connect_faults = [], []
        self.connections = 0
        self.auth_failures = 0
        self.max_per_second = max_per_second
        self.mail_times, self.throttled = [], 0
        self._window = deque()
        for key, value in (script or {}).items():
            assert key in ("rcpt_replies", "data_replies", "data_faults", "connect_faults"), key
            setattr(self, key, value)
        self._cond = threading.Condition()
        self._stalled = []
        self._loop = None
        self._thread = None
        self._server = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self):
        ready = threading.Event()
        errors = []
        self._loop = asyncio.new_event_loop()

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(self._loop.create_server(
                    self._factory, host="127.0.0.1", port=self.requested_port,
                    ssl=self._tls_context() if self.tls == "implicit" else None,
                    reuse_address=True))
            except Exception as e:  # noqa: BLE001 - reported to start()
                errors.append(e)
                ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            self._loop.call_soon(ready.set)
            self._loop.run_forever()
            self._server.close()
            tasks = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for t in tasks:
                t.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="upstream")
        self._thread.start()
        if not ready.wait(30):
            raise AssertionError("the upstream did not start")
        if errors:
            raise errors[0]
        return self

    def stop(self):
        if self._thread is None:
            return
        loop = self._loop

        def shutdown():
            for server in list(self._stalled):
                _close(server)
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        self._thread.join(30)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- observations -------------------------------------------------------------------------

    def wait_messages(self, n, timeout=10):
        end = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"upstream got {len(self.messages)} messages, wanted {n}: "
                                         f"{self.messages!r}")
                self._cond.wait(left)
            return list(self.messages)

    def wait_for(self, predicate, timeout=10, what="condition"):
        """Blocks until predicate(self) is true (re-checked on every event)."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"upstream: timed out waiting for {what}; commands: "
                                         f"{[(c.conn, c.verb) for c in self.commands]!r}")
                self._cond.wait(left)

    def verbs(self, conn=None):
        with self._cond:
            return [c.verb for c in self.commands if conn is None or c.conn == conn]

    def release_stalls(self):
        done = threading.Event()
        count = []

        def release():
            count.append(len(self._stalled))
            for server in self._stalled:
                _close(server)
            self._stalled.clear()
            done.set()

        self._loop.call_soon_threadsafe(release)
        done.wait(10)
        return count[0] if count else 0

    def stalled(self):
        with self._cond:
            return len(self._stalled)

    # --- internals (loop thread) --------------------------------------------------------------

    def _tls_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.cert)
        return ctx

    def _factory(self):
        kwargs = dict(hostname=self.hostname, enable_SMTPUTF8=True, decode_data=False,
                      data_size_limit=self.size if self.size else None if self.size == 0 else 2**25,
                      # implicit TLS: aiosmtpd only knows STARTTLS, but the whole connection is TLS here
                      auth_require_tls=self.require_tls and self.tls == "starttls",
                      auth_exclude_mechanism=[m for m in ALL_MECHANISMS if m not in self.mechanisms]
                      if self.auth else ALL_MECHANISMS,
                      authenticator=self._authenticate, timeout=120)
        if self.tls == "starttls":
            kwargs.update(tls_context=self._tls_context(), require_starttls=self.require_tls)
        return _Session(self, _Handler(self), **kwargs)

    def _next_conn(self):
        with self._cond:
            self.connections += 1
            self._cond.notify_all()
            return self.connections

    def _record(self, command):
        with self._cond:
            self.commands.append(command)
            self._cond.notify_all()

    def _over_rate(self):
        now = time.monotonic()
        with self._cond:
            self.mail_times.append(now)
            if self.max_per_second is None:
                return False
            self._window.append(now)
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            over = len(self._window) > self.max_per_second
            self.throttled += over
            self._cond.notify_all()
            return over

    def _pop(self, name):
        with self._cond:
            queue = getattr(self, name)
            return queue.pop(0) if queue else None

    def _pop_rcpt(self, address):
        with self._cond:
            queue = self.rcpt_replies.get(address)
            return queue.pop(0) if queue else None

    def _add_message(self, msg):
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def _add_dropped(self, msg):
        with self._cond:
            self.dropped.append(msg)
            self._cond.notify_all()

    async def _stall(self, server):
        with self._cond:
            self._stalled.append(server)
            self._cond.notify_all()
        await asyncio.sleep(3600)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        return self._auth_result(mechanism, user, (user, password) == tuple(self.auth or ()))

    def _auth_result(self, mechanism, user, ok):
        if not ok:
            with self._cond:
                self.auth_failures += 1
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data={"mechanism": mechanism, "user": user})
