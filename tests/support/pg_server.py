"""A throwaway PostgreSQL 15 server for Python tests, the twin of postgres_server.h: a cluster in a
temporary folder run by an unprivileged user (CI runs as root, the server refuses root), on
127.0.0.1 and a free port with fsync on; databases made with psql; stop and start for outages.

    with PgServer() as pg:
        dsn = pg.dsn(pg.create_database())
        pg.stop(immediate=True); pg.start()     # an outage: the same DSN works again
"""
import atexit
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BIN = "/usr/lib/postgresql/15/bin/"
USER = "smtpbridge-pg"
PR_SET_PDEATHSIG = 1


def _server_user():
    """(uid, gid) to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", USER], capture_output=True)
        entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.user = _server_user()
        self.folder = tempfile.mkdtemp(prefix="smtp-bridge-pg-py-", dir="/tmp")
        self.data = os.path.join(self.folder, "data")
        self.sock = os.path.join(self.folder, "sock")
        self.log_path = os.path.join(self.folder, "server.log")
        os.mkdir(self.sock, 0o700)
        if self.user:
            for path in (self.folder, self.sock):
                os.chown(path, *self.user)
        self.port = _free_port()
        self.process = None
        self.databases = 0
        self._run([BIN + "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E",
                   "UTF8", "--locale=C", "--no-sync"])
        atexit.register(self.close)
        self.start()

    def _as_user(self):
        """In the child: become the server's user, and die with this process."""
        if self.user:
            os.setgroups([])
            os.setgid(self.user[1])
            os.setuid(self.user[0])
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def _run(self, argv):
        with open(self.log_path, "ab") as log:
            subprocess.run(argv, stdout=log, stderr=log, check=True, cwd="/",
                           preexec_fn=self._as_user)

    def start(self, timeout=60):
        """Runs the server (the same cluster and port) until it accepts connections."""
        if self.process:
            return
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [BIN + "postgres", "-D", self.data, "-p", str(self.port), "-k", self.sock,
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on",
                 "-c", "synchronous_commit=on", "-c", "logging_collector=off",
                 "-c", "recovery_init_sync_method=syncfs"],
                stdout=log, stderr=log, cwd="/", preexec_fn=self._as_user)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError("PostgreSQL exited at start: " + self.log_tail())
            ready = subprocess.run([BIN + "pg_isready", "-q", "-h", "127.0.0.1", "-p",
                                    str(self.port), "-U", "postgres"])
            if ready.returncode == 0:
                return
            time.sleep(0.02)
        raise RuntimeError("PostgreSQL did not accept connections: " + self.log_tail())

    def stop(self, immediate=False):
        """Fast shutdown, or immediate (a crash for the server: recovery at the next start)."""
        if not self.process:
            return
        self.process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, immediate=False):
        self.stop(immediate)
        self.start()

    def dsn(self, database="postgres"):
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def psql(self, sql, database="postgres"):
        """Runs sql with psql; its unaligned output without headers."""
        done = subprocess.run([BIN + "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-d", self.dsn(database), "-c", sql],
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def create_database(self):
        self.databases += 1
        name = f"test_{self.databases}"
        self.psql(f"CREATE DATABASE {name}")
        return name

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as log:
                return log.read()[-2000:]
        except OSError:
            return ""

    def close(self):
        """Stops the server and removes its folder (also at exit)."""
        self.stop(immediate=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":  # its own check (CTest pg_server_py): the twin behaves as the C++ one
    with PgServer() as pg:
        first, second = pg.create_database(), pg.create_database()
        pg.psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)", first)
        assert pg.psql("SELECT count(*) FROM pg_tables WHERE tablename='kept'", second) == "0"
        assert pg.psql("SHOW listen_addresses") == "127.0.0.1" and pg.psql("SHOW fsync") == "on"
        pg.restart(immediate=True)
        assert pg.psql("SELECT sum(x) FROM kept", first) == "1"
        folder = pg.folder
    assert not os.path.exists(folder)
    print("ok")
