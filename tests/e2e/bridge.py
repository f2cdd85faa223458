# Helpers for the end-to-end tests: start the real smtp-bridge binary on a config written to a
# temp dir, wait for its listeners, read its SQLite store, talk raw SMTP bytes to it, and make a
# self-signed certificate. Standard library only; every process started here is stopped again.
import atexit
import base64
import ctypes
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("SMTP_BRIDGE_BIN", "")
SLOW = float(os.environ.get("SMTP_BRIDGE_SLOW", "1") or "1")
QUEUED_RE = re.compile(rb"queued as <?([0-9a-fA-F-]{36})>?")


def scaled(seconds):
    """A client-side wait, stretched under sanitizers."""
    return seconds * SLOW


# --- YAML -------------------------------------------------------------------------------------

def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Block-style YAML for dicts/lists of scalars (enough for the bridge's config)."""
    pad = "  " * indent
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{key}:")
                out.append(to_yaml(item, indent + 1))
            elif isinstance(item, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(item, list):
                out.append(f"{pad}{key}: []")
            else:
                out.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 1).lstrip()
                out.append(f"{pad}- {inner}")
            else:
                out.append(f"{pad}- {_scalar(item)}")
    return "\n".join(out)


def deep_merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


# --- certificate ------------------------------------------------------------------------------

_cert_cache = {}


def certificate():
    """(cert_path, key_path) of a self-signed localhost/127.0.0.1 certificate, made once."""
    if "paths" not in _cert_cache:
        folder = tempfile.mkdtemp(prefix="e2e-cert-")
        atexit.register(shutil.rmtree, folder, True)
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _cert_cache["paths"] = (cert, key)
    return _cert_cache["paths"]


def client_tls_context():
    ctx = ssl.create_default_context(cafile=certificate()[0])
    return ctx


# --- the bridge process -----------------------------------------------------------------------

_running = set()


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@atexit.register
def _kill_leftovers():
    for proc in list(_running):
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _thread_stacks(pid):
    """Every thread's stack of a hung bridge, for the failure message (gdb when installed)."""
    gdb = shutil.which("gdb")
    if not gdb:
        return "(gdb is not installed)"
    try:
        out = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                             capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        return out.stdout.decode("utf-8", "replace")[-12000:]
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"(gdb failed: {e})"


class Bridge:
    """One smtp-bridge process on a config in its own temp dir."""

    def __init__(self, smtp=None, extra=None, folder=None, tls=False, implicit_tls=False):
        self.folder = folder or tempfile.mkdtemp(prefix="e2e-bridge-")
        self.store_path = os.path.join(self.folder, "store.db")
        smtp_cfg = {"listen": ["127.0.0.1:0"], "hostname": "mx.test.example"}
        if tls or implicit_tls:
            cert, key = certificate()
            smtp_cfg["tls"] = {"cert_file": cert, "key_file": key}
        if implicit_tls:
            smtp_cfg["tls_listen"] = ["127.0.0.1:0"]
        deep_merge(smtp_cfg, smtp or {})
        cfg = {"smtp": smtp_cfg,
               "store": {"path": self.store_path},
               "api": {"listen": "127.0.0.1:0"},
               "admin": {"listen": "127.0.0.1:0"},
               "log": {"level": "info"}}
        deep_merge(cfg, extra or {})
        self.config = cfg
        self.config_path = os.path.join(self.folder, "config.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        self.expect = ["smtp", "admin"] + (["smtps"] if smtp_cfg.get("tls_listen") else [])
        self.proc = None
        self.addresses = {}
        self.lines = []

    # process control

    def start(self, deadline=None, file_size_limit=None, wait=True):
        """file_size_limit: RLIMIT_FSIZE in bytes for the bridge (a disk that fails writes).
        wait=False: returns once the process runs; wait_listening() then waits for it."""
        deadline = deadline or scaled(20)

        def preexec():
            _die_with_parent()
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        self.addresses = {}
        self.lines = []
        self.stderr_path = os.path.join(self.folder, f"stderr.{int(time.time() * 1000)}.txt")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([BIN, "--config", self.config_path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr, cwd=self.folder,
                                     preexec_fn=preexec)
        _running.add(self.proc)
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True)
        self._reader.start()
        if wait:
            self.wait_listening(deadline)
        return self

    def wait_listening(self, deadline=None):
        """Waits until the started process reports every expected listener (start(wait=False)
        starts several bridges at once from this thread: PR_SET_PDEATHSIG follows the thread)."""
        deadline = deadline or scaled(20)
        end = time.monotonic() + deadline
        with self._cond:
            while not all(name in self.addresses for name in self.expect):
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and self._reader_done):
                    break
                self._cond.wait(min(left, 0.2))
            missing = [n for n in self.expect if n not in self.addresses]
        if missing:
            code = self.stop(check=False)
            raise AssertionError(f"smtp-bridge did not report listening for {missing} "
                                 f"(exit {code}).\nconfig:\n{to_yaml(self.config)}\n"
                                 f"stdout:\n{''.join(self.lines)[-4000:]}\nstderr:\n{self.stderr()[-4000:]}")
        return self

    _reader_done = False

    def _read_stdout(self, proc):
        self._reader_done = False
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            with self._cond:
                self.lines.append(line)
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                if isinstance(obj, dict) and obj.get("msg") == "listening" and "listener" in obj:
                    self.addresses[obj["listener"]] = obj.get("address", "")
                    self._cond.notify_all()
        with self._cond:
            self._reader_done = True
            self._cond.notify_all()

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, check=True, kill=False):
        """SIGTERM (or SIGKILL) and wait. With check, a non-zero exit (a crash, a sanitizer
        report) after SIGTERM is a test failure."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=scaled(15))
            except subprocess.TimeoutExpired:
                stacks = _thread_stacks(proc.pid)
                proc.kill()
                proc.wait()
                if check:
                    raise AssertionError("smtp-bridge did not stop within 15 s of SIGTERM\n"
                                         f"stdout:\n{''.join(self.lines)[-4000:]}\n"
                                         f"stderr:\n{self.stderr()[-2000:]}\nthreads:\n{stacks}")
        _running.discard(proc)
        self._reader.join(timeout=5)
        proc.stdout.close()
        self._stderr.close()
        self.proc = None
        if check and not kill and proc.returncode != 0:
            raise AssertionError(f"smtp-bridge exited with {proc.returncode} after SIGTERM\n"
                                 f"stderr:\n{self.stderr()[-6000:]}")
        return proc.returncode

    def kill(self):
        return self.stop(check=False, kill=True)

    def cleanup(self):
        try:
            self.stop()
        finally:
            if not os.environ.get("SMTP_BRIDGE_E2E_KEEP"):  # keep config, store, stderr to debug
                shutil.rmtree(self.folder, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def port(self, listener="smtp"):
        return int(self.addresses[listener].rsplit(":", 1)[1])

    # store

    def _db(self):
        conn = sqlite3.connect(self.store_path, timeout=10)
        conn.text_factory = bytes
        return conn

    def count(self):
        if not os.path.exists(self.store_path):
            return 0
        conn = self._db()
        try:
            return conn.execute("SELECT COUNT(*) FROM inbound_messages").fetchone()[0]
        finally:
            conn.close()

    def message(self, msg_id):
        """{'mail_from','rcpt_to','envelope','data','size'} of one stored message, or None."""
        conn = self._db()
        try:
            row = conn.execute("SELECT mail_from, rcpt_to, envelope, data, size FROM inbound_messages "
                               "WHERE id = ?", (msg_id,)).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        text = lambda v: v.decode("utf-8") if isinstance(v, bytes) else v
        return {"mail_from": text(row[0]), "rcpt_to": json.loads(text(row[1])),
                "envelope": json.loads(text(row[2])),
                "data": row[3] if isinstance(row[3], bytes) else str(row[3]).encode(),
                "size": row[4]}

    def messages(self):
        conn = self._db()
        try:
            ids = [r[0].decode() for r in conn.execute("SELECT id FROM inbound_messages")]
        finally:
            conn.close()
        return [dict(self.message(i), id=i) for i in ids]

    def messages_from(self, mail_from):
        return [m for m in self.messages() if m["mail_from"] == mail_from]


def split_received(data):
    """(received_header, rest): the Received: header the bridge prepends, folded lines
    included, and the message bytes after it."""
    if not data.startswith(b"Received: from "):
        raise AssertionError(f"stored data does not start with 'Received: from ': {data[:200]!r}")
    end = data.index(b"\r\n") + 2
    while data[end:end + 1] == b"\t":
        end = data.index(b"\r\n", end) + 2
    return data[:end], data[end:]


def unstuff(message):
    """RFC 5321 4.5.2 transparency removed: a leading '.' of each CRLF-delimited line dropped."""
    lines = message.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def stuff(message):
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


def queued_id(text):
    if isinstance(text, str):
        text = text.encode()
    m = QUEUED_RE.search(text)
    return m.group(1).decode().lower() if m else None


# --- raw SMTP client --------------------------------------------------------------------------

class Reply:
    def __init__(self, lines):
        self.lines = lines  # bytes, without CRLF
        self.code = int(lines[-1][:3])
        first = lines[0][4:].decode("utf-8", "replace")
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})(?: |$)", first)
        self.enhanced = m.group(1) if m else ""
        self.text = "\n".join(l[4:].decode("utf-8", "replace") for l in lines)

    def __repr__(self):
        return "Reply(" + " | ".join(l.decode("utf-8", "replace") for l in self.lines) + ")"


class Closed(Exception):
    pass


class Raw:
    """An SMTP client that writes exact bytes and reads replies."""

    def __init__(self, port, timeout=None, implicit_tls=False, greeting=True):
        self.timeout = timeout or scaled(10)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=self.timeout)
        self.buf = b""
        if implicit_tls:
            self.sock = client_tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.greeting = self.reply() if greeting else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError) as e:
            raise Closed(str(e))
        if not chunk:
            raise Closed("connection closed")
        self.buf += chunk

    def line(self, timeout=None):
        while b"\r\n" not in self.buf:
            self._fill(timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout=None):
        lines = []
        while True:
            line = self.line(timeout)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return Reply(lines)

    def cmd(self, line):
        self.send(line if isinstance(line, bytes) and line.endswith(b"\r\n") else
                  (line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def read_until_close(self, timeout=None):
        """Everything until the server closes; raises socket.timeout if it does not."""
        data, self.buf = self.buf, b""
        end = time.monotonic() + (timeout or self.timeout)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"server did not close; got {data!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return data
            if not chunk:
                return data
            data += chunk

    def silent_for(self, seconds):
        """True if the server sends nothing (and does not close) within `seconds`."""
        if self.buf:
            return False
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return False
        r, _, _ = select.select([self.sock], [], [], seconds)
        return not r

    def ehlo(self, name="client.example"):
        return self.cmd(f"EHLO {name}")

    def starttls(self):
        r = self.cmd("STARTTLS")
        if r.code != 220:
            raise AssertionError(f"STARTTLS answered {r}")
        self.tls_upgrade()
        return r

    def tls_upgrade(self):
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def open_data(self, tc, mail_from="a@example.com", rcpts=("b@example.com",), ehlo=True):
        if ehlo:
            tc.assertEqual(self.ehlo().code, 250)
        tc.assertReply(self.cmd(f"MAIL FROM:<{mail_from}>"), 250, "2.1.0")
        for r in rcpts:
            tc.assertReply(self.cmd(f"RCPT TO:<{r}>"), 250, "2.1.5")
        tc.assertReply(self.cmd("DATA"), 354)


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


# --- test base --------------------------------------------------------------------------------

class BridgeTest(unittest.TestCase):
    """A bridge per class (class attribute `bridge_options`), plus helpers."""
    bridge_options = None  # dict of Bridge(...) kwargs; None = no class bridge

    @classmethod
    def setUpClass(cls):
        if not BIN:
            raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
        if cls.bridge_options is not None:
            cls.bridge = Bridge(**cls.bridge_options)
            cls.addClassCleanup(cls.bridge.cleanup)
            cls.bridge.start()

    def setUp(self):
        # Runs after the test's own cleanups: a class bridge that died is reported against the
        # test that killed it, then restarted so that the next test starts clean.
        if self.bridge_options is not None:
            self.addCleanup(self._check_class_bridge)

    def _check_class_bridge(self):
        b = type(self).bridge
        if b.alive():
            return
        code = b.proc.returncode if b.proc else None
        err = b.stderr()[-6000:]
        b.stop(check=False)
        b.start()
        raise AssertionError(f"smtp-bridge died during this test (exit {code}); restarted.\n"
                             f"stderr:\n{err}")

    def start_bridge(self, **options):
        b = Bridge(**options)
        self.addCleanup(b.cleanup)
        b.start()
        return b

    def raw(self, bridge=None, listener="smtp", **kw):
        bridge = bridge or self.bridge
        c = Raw(bridge.port(listener), implicit_tls=(listener == "smtps"), **kw)
        self.addCleanup(c.close)
        return c

    def assertReply(self, reply, code, enhanced=None, msg=None):
        self.assertEqual(reply.code, code, msg or f"unexpected reply {reply!r}")
        if enhanced is not None:
            self.assertEqual(reply.enhanced, enhanced, msg or f"unexpected reply {reply!r}")

    def assertQueued(self, reply):
        self.assertReply(reply, 250, "2.0.0")
        msg_id = queued_id(b"\n".join(reply.lines))
        self.assertIsNotNone(msg_id, f"no 'queued as <id>' in {reply!r}")
        return msg_id

    def assertStored(self, bridge, msg_id, body, mail_from=None, rcpt_to=None):
        m = bridge.message(msg_id)
        self.assertIsNotNone(m, f"message {msg_id} is not in the store")
        received, rest = split_received(m["data"])
        self.assertEqual(rest, body)
        if mail_from is not None:
            self.assertEqual(m["mail_from"], mail_from)
            self.assertEqual(m["envelope"].get("mail_from"), mail_from)
        if rcpt_to is not None:
            self.assertEqual(m["rcpt_to"], list(rcpt_to))
            self.assertEqual(m["envelope"].get("rcpt_to"), list(rcpt_to))
        return m

    def assertStillServes(self, bridge=None, listener="smtp"):
        """Another client can still deliver a message after whatever the test did."""
        bridge = bridge or self.bridge
        self.assertTrue(bridge.alive(), "smtp-bridge is no longer running")
        with Raw(bridge.port(listener), implicit_tls=(listener == "smtps")) as c:
            self.assertReply(c.greeting, 220)
            self.assertDelivers(c, bridge)

    def assertDelivers(self, c, bridge=None):
        """A message sent on the open, greeted connection c is stored; the session ends with QUIT."""
        bridge = bridge or self.bridge
        c.open_data(self, mail_from="after@example.com")
        body = b"Subject: still serving\r\n\r\nok\r\n"
        msg_id = self.assertQueued(c.cmd(body + b"."))
        self.assertStored(bridge, msg_id, body, mail_from="after@example.com")
        self.assertReply(c.cmd("QUIT"), 221)
