"""A throwaway rspamd (Debian's rspamd 3.4) for the tests (TESTING.md "rspamd"): run in the
foreground on free 127.0.0.1 ports with a config folder of its own, no Redis, no network lookups.

    with Rspamd() as r:
        r.url                     # "http://127.0.0.1:PORT", the normal worker (/checkv2, /ping)
        r.stop(); r.start()       # an outage: the same URL answers again after start()
        r.pause(); r.resume()     # a hung rspamd (accepts, never answers) for timeouts

The config keeps what needs no network: rspamd's built-in GTUBE handling (action `reject`), the
regexp and chartable modules with the rules in $RULESDIR, the packaged scores and actions (reject
at 15), and a short list of public suffixes (TLDS) for its URL detection. No Lua plugin is loaded (no modules path), so nothing asks DNS, RBLs, URL feeds, fuzzy
storage or Redis; the resolver is pointed at a closed 127.0.0.1 port so that a lookup some rule
still tries fails at once instead of leaving the machine. Run as root (CI), the server runs as
the package's unprivileged `_rspamd` user (nobody when absent), like tests/support/pg_server.py.

`python3 rspamd_server.py --serve` prints the URL on one line and keeps rspamd up until its stdin
closes (the C++ tests' way in); without arguments it checks itself (CTest rspamd_server_py).
"""
import ctypes
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RSPAMD = "/usr/bin/rspamd"
PR_SET_PDEATHSIG = 1
PREFIX = "smtp-bridge-rspamd-"
# The public suffixes rspamd knows URLs by: a handful instead of the packaged 12,000, whose
# Hyperscan compilation kept every first start of a machine waiting 10 s (0.7 s with these).
TLDS = ["com", "org", "net", "edu", "gov", "io", "de", "fr", "uk", "co.uk", "example", "test",
        "invalid", "localhost"]
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

CONFIG = """# Written by tests/e2e/rspamd_server.py: a scanner with no network lookups.
lua = "$RULESDIR/rspamd.lua"
.include "$CONFDIR/metrics.conf"
.include "$CONFDIR/actions.conf"
.include "$CONFDIR/groups.conf"
.include "$CONFDIR/composites.conf"
options {{
  pidfile = "{folder}/rspamd.pid";
  filters = "chartable,regexp";
  dns {{ nameserver = ["127.0.0.1:{dns_port}"]; timeout = 200ms; retransmits = 1; }}
  local_addrs = [];
  tempdir = "{folder}";
  control_socket = "{folder}/rspamd.sock mode=0600";
  hs_cache_dir = "{hs_cache}";
  url_tld = "{folder}/tld.dat";
  allow_raw_input = true;
  task_timeout = 8s;
}}
logging {{ type = "console"; level = "notice"; color = false; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = 1; mime = true; }}
worker "controller" {{
  bind_socket = "127.0.0.1:{controller_port}"; count = 1;
  password = "test"; secure_ip = "127.0.0.1";
}}
"""


def available():
    return os.access(RSPAMD, os.X_OK)


def _server_user():
    """(uid, gid) to run rspamd as, or None when we are not root (rspamd refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("_rspamd", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run rspamd as (_rspamd, nobody)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sweep_stale():
    """Servers of test processes that died without stopping them: killed, folders removed."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "run-*")):
        try:
            owner = int(os.path.basename(folder)[len(PREFIX + "run-"):].split("-")[0])
            os.kill(owner, 0)
            continue  # its owner still runs
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        try:
            with open(os.path.join(folder, "pgid")) as f:
                os.killpg(int(f.read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(folder, ignore_errors=True)


class Rspamd:
    def __init__(self, start=True, timeout=120):
        if not available():
            raise RuntimeError(f"{RSPAMD} is not installed: run scripts/setup")
        _sweep_stale()
        self.user = _server_user()
        self.folder = tempfile.mkdtemp(prefix=f"{PREFIX}run-{os.getpid()}-")
        # The rules' regexps compiled by rspamd's hs_helper (seconds of CPU in the background):
        # once per machine and user, then loaded by every test's server.
        uid = self.user[0] if self.user else os.geteuid()
        stamp = int(os.stat(RSPAMD).st_mtime)
        self.hs_cache = os.path.join(tempfile.gettempdir(), f"{PREFIX}hs-{uid}-{stamp}")
        os.makedirs(self.hs_cache, mode=0o700, exist_ok=True)
        if self.user:
            for path in (self.folder, self.hs_cache):
                os.chown(path, *self.user)
        self.log_path = os.path.join(self.folder, "rspamd.log")
        self.port = self.controller_port = 0
        self.process = None
        if start:
            try:
                self.start(timeout)
            except BaseException:
                self.close()
                raise

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def controller_url(self):
        return f"http://127.0.0.1:{self.controller_port}"

    def _write_config(self):
        with open(os.path.join(self.folder, "tld.dat"), "w") as f:
            f.write("\n".join(TLDS) + "\n")
        path = os.path.join(self.folder, "rspamd.conf")
        with open(path, "w") as f:
            f.write(CONFIG.format(folder=self.folder, hs_cache=self.hs_cache, port=self.port,
                                  controller_port=self.controller_port, dns_port=_free_port()))
        if self.user:
            os.chown(path, *self.user)
        return path

    def _as_user(self):
        """In the child: become the unprivileged user, then get SIGTERM (rspamd's clean stop,
        which takes its workers down too) when the process that started it dies."""
        if self.user:
            os.setgroups([])
            os.setgid(self.user[1])
            os.setuid(self.user[0])
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    def start(self, timeout=120):
        """Runs rspamd until /ping answers; the first start picks the ports, later ones reuse
        them. A port taken between the pick and rspamd's bind: picked again (first start)."""
        if self.process:
            return
        first = self.port == 0
        for attempt in range(3 if first else 1):
            if first:
                self.port, self.controller_port = _free_port(), _free_port()
            config = self._write_config()
            var = [f"--var={name}={self.folder}" for name in
                   ("DBDIR", "RUNDIR", "LOGDIR", "LOCAL_CONFDIR")]
            with open(self.log_path, "ab") as log:
                # Its own session: rspamd's workers are in its process group, killed with it.
                self.process = subprocess.Popen(
                    [RSPAMD, "-f", "-c", config] + var, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=log, cwd=self.folder, start_new_session=True,
                    preexec_fn=self._as_user)
            with open(os.path.join(self.folder, "pgid"), "w") as f:
                f.write(str(self.process.pid))
            if self._wait_ready(timeout):
                return
            self.stop()
        raise RuntimeError("rspamd did not start: " + self.log_tail())

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/ping")
                answer = connection.getresponse()
                if answer.status == 200 and answer.read().strip() == b"pong":
                    return True
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.05)
        return False

    def stop(self):
        """SIGTERM (rspamd stops its workers), SIGKILL to the whole group if it lingers."""
        if not self.process:
            return
        try:
            os.killpg(self.process.pid, signal.SIGCONT)  # if paused
        except ProcessLookupError:
            pass
        try:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # workers left behind, if any
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None

    def pause(self):
        """A hung rspamd: every process of it stopped (SIGSTOP), connections still accepted by the
        kernel but never answered, for the client's timeout. resume() lets it go on."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.process.pid, signal.SIGCONT)

    def check(self, message, headers=None, timeout=30):
        """POSTs message (bytes) to /checkv2; rspamd's JSON answer as a dict."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("POST", "/checkv2", body=message, headers=headers or {})
            answer = connection.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"rspamd answered {answer.status}: {body[:200]!r}")
            return json.loads(body)
        finally:
            connection.close()

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as log:
                return log.read()[-3000:]
        except OSError:
            return ""

    def close(self):
        """Stops rspamd and removes its folder (the Hyperscan cache stays for the next one)."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def message(body, subject="test"):
    return ("From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <t1@example.com>\r\n"
            "Date: Mon, 07 Dec 2026 17:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def _serve():
    """Prints the URL and serves until stdin closes (or SIGTERM); then stops rspamd."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    try:
        server = Rspamd()
    except RuntimeError as error:
        print("error " + str(error).replace("\n", " | "), flush=True)
        return 1
    with server:
        print(server.url, flush=True)
        sys.stdin.buffer.read()
    return 0


def _self_check():
    headers = {"IP": "192.0.2.1", "Helo": "mx.example.com", "From": "alice@example.com",
               "Rcpt": "bob@example.org"}
    with Rspamd() as r:
        spam = r.check(message(GTUBE), headers)
        assert spam["action"] == "reject" and spam["score"] >= spam["required_score"], spam
        assert "GTUBE" in spam["symbols"], spam
        clean = r.check(message("Shall we have lunch tomorrow?", "lunch"), headers)
        assert clean["action"] == "no action" and clean["required_score"] == 15, clean
        assert "FROM_EQ_ENVFROM" in clean["symbols"], clean  # the envelope From got through
        r.stop()
        try:
            http.client.HTTPConnection("127.0.0.1", r.port, timeout=5).request("GET", "/ping")
            raise AssertionError("rspamd still answers after stop()")
        except ConnectionRefusedError:
            pass
        r.start()
        assert r.check(message(GTUBE), headers)["action"] == "reject"
        r.pause()
        try:
            r.check(message(GTUBE), headers, timeout=0.5)
            raise AssertionError("a paused rspamd answered")
        except TimeoutError:
            pass
        r.resume()
        assert r.check(message(GTUBE), headers)["action"] == "reject"
        r.pause()  # close() stops a paused server too
        folder, pgid = r.folder, r.process.pid
    assert not os.path.exists(folder)
    try:
        os.killpg(pgid, 0)
        raise AssertionError("rspamd processes left after close()")
    except ProcessLookupError:
        pass
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(_serve() if sys.argv[1:] == ["--serve"] else _self_check())
