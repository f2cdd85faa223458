# The fault soak behind bench/soak: SMTP senders load the real bridge while it is SIGKILLed at
# random moments and restarted on the same store; a webhook receiver fails one POST in N. Then it
# checks the bridge's promise: every message answered 250 is delivered (at least once).
# --store postgres: the same on the PostgreSQL backend (a real server the run starts, which
# stays up while the bridge is killed).
# Standard library only; run with Debian's /usr/bin/python3 by bench/soak (not a test).
import argparse
import json
import os
import random
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ports import free_port, wait_port

SECRET = "whsec_c29hay1zZWNyZXQtc29hay1zZWNyZXQtc29haw=="


class Receiver:
    """The webhook endpoint: answers every `fail_every`-th POST 503 (without Retry-After, so the
    bridge's own backoff applies), the others 204 after recording the soak id in the Subject."""

    def __init__(self, fail_every):
        self.fail_every = fail_every
        self.lock = threading.Lock()
        self.posts = 0
        self.failed = 0
        self.bad = 0  # whole bodies that are not a bridge.v1 document: a finding
        self.cut = 0  # bodies cut short by a kill
        self.deliveries = {}  # soak id -> [(bridge message id, webhook-id), ...], one per 2xx
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the dispatcher keeps its connections alive

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the bridge was killed while sending it
                    with receiver.lock:
                        receiver.cut = receiver.cut + 1
                    self.close_connection = True
                    return
                status = receiver.handle(self.headers.get("webhook-id", ""), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A SIGKILLed bridge resets its connections: expected here, not worth a traceback.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, webhook_id, body):
        with self.lock:
            self.posts += 1
            if self.fail_every and self.posts % self.fail_every == 0:
                self.failed += 1
                return 503
        try:
            document = json.loads(body)
            subject = document["message"]["subject"]
            bridge_id = document["id"]
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.bad += 1
            return 400
        soak_id = subject.removeprefix("soak ")
        # Recorded before the answer is written: once the bridge may have read 204, it counts.
        with self.lock:
            self.deliveries.setdefault(soak_id, []).append((bridge_id, webhook_id))
        return 204

    def snapshot(self):
        with self.lock:
            return {k: list(v) for k, v in self.deliveries.items()}


class Sender(threading.Thread):
    """One SMTP client in a loop (a short pause between messages). Each transaction carries a
    fresh soak id; it counts as acknowledged only when DATA got 250. A lost connection or a
    refusal moves on to a new id (the old one may still have been committed: a kill between the
    commit and the 250)."""

    def __init__(self, index, port, stop, pause, rng_seed):
        super().__init__(name=f"sender-{index}", daemon=True)
        self.index, self.port, self.stop, self.pause = index, port, stop, pause
        self.rng = random.Random(rng_seed)
        self.acknowledged = {}  # soak id -> bridge id from "queued as"
        self.attempted = 0
        self.connection_losses = 0
        self.refusals = {}  # SMTP code -> count, for MAIL/RCPT/DATA answers other than 250
        self.seq = 0

    def run(self):
        client = None
        while not self.stop.is_set():
            if client is None:
                client = self.connect()
                if client is None:
                    self.stop.wait(0.05)  # the bridge is down or starting: try again soon
                continue
            if not self.transaction(client):
                self.close(client)
                client = None
            elif self.pause:
                self.stop.wait(self.pause)
        if client is not None:
            self.close(client)

    def connect(self):
        try:
            client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="soak.example", timeout=30)
            client.ehlo()
            return client
        except (OSError, smtplib.SMTPException):
            return None

    @staticmethod
    def close(client):
        try:
            client.close()
        except OSError:
            pass

    def message(self, soak_id):
        padding = "x" * 70 + "\r\n"
        lines = self.rng.randint(2, 40)
        return (f"From: soak-{self.index}@soak.example\r\nTo: sink@soak.example\r\n"
                f"Subject: soak {soak_id}\r\nMessage-ID: <{soak_id}@soak.example>\r\n"
                f"X-Soak-Id: {soak_id}\r\n\r\nmessage {soak_id}\r\n" + padding * lines)

    def transaction(self, client):
        """One message; False when the connection is gone (the caller reconnects)."""
        self.seq += 1
        soak_id = f"s{self.index}-{self.seq}"
        self.attempted += 1
        try:
            for step in (lambda: client.mail(f"soak-{self.index}@soak.example"),
                         lambda: client.rcpt("sink@soak.example"),
                         lambda: client.data(self.message(soak_id).encode())):
                code, text = step()
                if code == 421:
                    self.refusals[code] = self.refusals.get(code, 0) + 1
                    return False
                if code not in (250, 251):
                    self.refusals[code] = self.refusals.get(code, 0) + 1
                    client.rset()
                    return True
            queued = text.decode(errors="replace").rsplit(" ", 1)[-1].strip("<>")
            self.acknowledged[soak_id] = queued
            return True
        except smtplib.SMTPResponseException as e:  # e.g. DATA not answered 354
            self.refusals[e.smtp_code] = self.refusals.get(e.smtp_code, 0) + 1
            return False
        except (OSError, smtplib.SMTPException):
            self.connection_losses += 1
            return False


class Bridge:
    """The bridge binary on one config and store, started again after each SIGKILL. Each run
    logs to its own file; the current pid is written to bridge.pid for bench/soak's cleanup."""

    def __init__(self, binary, config, work):
        self.binary, self.config, self.work = binary, config, work
        self.process = None
        self.runs = 0
        self.unexpected_exits = []  # (run, exit code): the bridge died before we killed it

    def log_path(self, run):
        return os.path.join(self.work, f"bridge-{run:03d}.log")

    def start(self):
        self.runs += 1
        log = open(self.log_path(self.runs), "wb")
        # Own session: a Ctrl-C on the terminal reaches this script, which kills the bridge.
        self.process = subprocess.Popen([self.binary, "--config", self.config], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        with open(os.path.join(self.work, "bridge.pid"), "w") as f:
            f.write(f"{self.process.pid}\n")

    def kill(self):
        if self.process is None:
            return
        code = self.process.poll()
        if code is not None:
            self.unexpected_exits.append((self.runs, code))
        else:
            self.process.kill()  # SIGKILL: no drain, no final commit
            self.process.wait()
        self.process = None

    def stop(self, timeout=30):
        """SIGTERM (drain) at the end; SIGKILL if it does not exit in time."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            self.unexpected_exits.append((self.runs, self.process.returncode))
            return self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


class SqliteView:
    """The store's rows, read beside the running bridge (WAL allows a reader)."""

    def __init__(self, work):
        self.path = f"{work}/store/bridge.db"

    def config(self):
        return '{path: "%s"}' % self.path

    def query(self, sql, params=()):
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(sql, params).fetchall()]
        finally:
            db.close()

    def states(self):
        """Delivery rows per state."""
        try:
            rows = self.query("SELECT state, count(*) AS n FROM inbound_deliveries GROUP BY state")
            return {r["state"]: r["n"] for r in rows}
        except sqlite3.Error as e:
            return {"error": str(e)}

    def rows(self, bridge_id):
        """Whether the message is in the store, and its delivery rows (for a lost message)."""
        try:
            stored = self.query("SELECT id FROM inbound_messages WHERE id = ?", (bridge_id,))
            rows = self.query("SELECT * FROM inbound_deliveries WHERE message_id = ?",
                              (bridge_id,))
            return bool(stored), rows
        except sqlite3.Error as e:
            return None, [{"error": str(e)}]


class PostgresView:
    """The PostgreSQL backend: a throwaway server (tests/support/pg_server.py) and a database."""

    def __init__(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "tests", "support"))
        from pg_server import PgServer
        self.pg = PgServer()
        self.database = self.pg.create_database()

    def config(self):
        return "{backend: postgres, postgres: {dsn: '%s'}}" % self.pg.dsn(self.database)

    def states(self):
        try:
            out = self.pg.psql("SELECT state || '=' || count(*) FROM inbound_deliveries "
                               "GROUP BY state", self.database)
            return {k: int(v) for k, v in (line.split("=") for line in out.splitlines())}
        except subprocess.CalledProcessError as e:
            return {"error": e.stderr.strip()}

    def rows(self, bridge_id):
        try:
            stored = self.pg.psql(f"SELECT count(*) FROM inbound_messages WHERE id = "
                                  f"'{bridge_id}'", self.database)
            rows = self.pg.psql("SELECT coalesce(json_agg(d), '[]') FROM inbound_deliveries d "
                                f"WHERE message_id = '{bridge_id}'", self.database)
            return stored == "1", json.loads(rows)
        except subprocess.CalledProcessError as e:
            return None, [{"error": e.stderr.strip()}]

    def close(self):
        self.pg.close()


def write_config(work, receiver_port, retry_initial, store):
    smtp_port, api_port, admin_port = free_port(), free_port(), free_port()
    path = os.path.join(work, "bridge.yaml")
    with open(path, "w") as f:
        f.write(f"""smtp:
  listen: ["127.0.0.1:{smtp_port}"]
  hostname: soak.example
routes:
  - match: "*"
    endpoints:
      - url: http://127.0.0.1:{receiver_port}/hook
        secret: {SECRET}
        timeout: 10s
delivery:
  retry: {{initial: {retry_initial}, max_interval: 1s}}
store: {store.config()}
api: {{listen: "127.0.0.1:{api_port}"}}
admin: {{listen: "127.0.0.1:{admin_port}"}}
log: {{level: debug}}
""")
    return path, smtp_port


def kill_loop(bridge, senders, args, rng):
    """`args.restarts` times: let the bridge run a random while (from its start, so some kills
    land during start-up and recovery), SIGKILL it, start it again on the same store."""
    started = time.monotonic()
    for done in range(1, args.restarts + 1):
        time.sleep(rng.uniform(args.min_uptime, args.max_uptime))
        bridge.kill()
        bridge.start()
        if done % 10 == 0 or done == args.restarts:
            acked = sum(len(s.acknowledged) for s in senders)
            print(f"  restart {done}/{args.restarts}: {acked} acknowledged so far, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    return args.restarts


def drain(receiver, acknowledged, store, deadline_s):
    """Waits until every acknowledged message was delivered and no row is still pending (so the
    duplicate and unacknowledged counts are final), or until the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        with receiver.lock:
            missing = [k for k in acknowledged if k not in receiver.deliveries]
        states = store.states()
        pending = sum(n for s, n in states.items() if s in ("queued", "deferred", "in_flight"))
        if (not missing and pending == 0) or time.monotonic() >= end:
            return missing, states
        time.sleep(0.5)


def explain_loss(work, store, runs, soak_id, bridge_id):
    """What the store and the bridge's logs say about one lost message."""
    print(f"  LOST {soak_id}: acknowledged as {bridge_id}")
    stored, rows = store.rows(bridge_id)
    print(f"    in inbound_messages: {stored}; delivery rows: {json.dumps(rows)}")
    for run in range(1, runs + 1):
        path = os.path.join(work, f"bridge-{run:03d}.log")
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            if bridge_id in line:
                for n in range(max(0, i - 2), min(len(lines), i + 3)):
                    print(f"    {os.path.basename(path)}:{n + 1}: {lines[n]}")
                print("    --")


def report(args, store, bridge, senders, receiver, missing, states, times):
    acknowledged = {}
    for s in senders:
        acknowledged.update(s.acknowledged)
    deliveries = receiver.snapshot()
    attempted_ids = {f"s{s.index}-{n}" for s in senders for n in range(1, s.seq + 1)}
    duplicates = sum(len(v) - 1 for v in deliveries.values())
    dup_messages = sum(1 for v in deliveries.values() if len(v) > 1)
    other_row = sum(1 for v in deliveries.values() if len({w for _, w in v}) > 1)
    mismatched = sum(1 for k, v in deliveries.items()
                     if k in acknowledged and any(b != acknowledged[k] for b, _ in v))
    unacked = sum(1 for k in deliveries if k not in acknowledged and k in attempted_ids)
    unknown = sum(1 for k in deliveries if k not in attempted_ids)
    refusals = {}
    for s in senders:
        for code, n in s.refusals.items():
            refusals[code] = refusals.get(code, 0) + n
    unique = len(deliveries)
    share = 100.0 * duplicates / unique if unique else 0.0
    load_s, drain_s, total_s = times
    print(f"restarts:        {args.restarts} SIGKILLs, {bridge.runs} bridge runs on one store; "
          f"exited on their own: {bridge.unexpected_exits or 'none'}")
    print(f"senders:         {len(senders)}, {sum(s.attempted for s in senders)} transactions, "
          f"{sum(s.connection_losses for s in senders)} connection losses, "
          f"refusals {refusals or 'none'}")
    print(f"acknowledged:    {len(acknowledged)} (250 to DATA)")
    print(f"delivered:       {unique} unique ({receiver.posts} whole POSTs, {receiver.failed} "
          f"answered 503, {receiver.bad} unreadable; {receiver.cut} cut short by a kill)")
    print(f"lost:            {len(missing)} (acknowledged, never delivered)")
    print(f"duplicates:      {duplicates} deliveries ({share:.2f} % of unique delivered) of "
          f"{dup_messages} messages; with another webhook-id: {other_row}")
    print(f"unacknowledged but delivered: {unacked} (killed between the commit and the 250)")
    if mismatched or unknown or receiver.bad:
        print(f"ANOMALY:         {mismatched} delivered under another bridge id than the 250 "
              f"named; {unknown} with a soak id never sent; {receiver.bad} unreadable bodies")
    print(f"store at end:    {states}")
    print(f"time:            {total_s:.0f} s (load and kills {load_s:.0f} s, "
          f"drain {drain_s:.1f} s)")
    for soak_id in sorted(missing)[:10]:
        explain_loss(args.work, store, bridge.runs, soak_id, acknowledged[soak_id])
    return 1 if missing or mismatched or unknown or receiver.bad else 0


def run(args):
    rng = random.Random(args.seed)
    receiver = Receiver(args.fail_every)
    store = PostgresView() if args.store == "postgres" else SqliteView(args.work)
    config, smtp_port = write_config(args.work, receiver.port, args.retry_initial, store)
    bridge = Bridge(args.binary, config, args.work)
    stop = threading.Event()
    senders = []
    try:
        bridge.start()
        if not wait_port(smtp_port, 60):
            print(f"the bridge never listened; see {bridge.log_path(1)}", file=sys.stderr)
            return 2
        senders = [Sender(i, smtp_port, stop, args.pause, rng.random())
                   for i in range(1, args.senders + 1)]
        t0 = time.monotonic()
        for s in senders:
            s.start()
        kill_loop(bridge, senders, args, rng)
        stop.set()
        for s in senders:
            s.join()
        t1 = time.monotonic()
        acknowledged = [k for s in senders for k in s.acknowledged]
        missing, states = drain(receiver, acknowledged, store, args.drain_timeout)
        t2 = time.monotonic()
        code = bridge.stop()
        if code not in (0, None):
            print(f"the last bridge exited {code} after SIGTERM", file=sys.stderr)
        return report(args, store, bridge, senders, receiver, missing, states,
                      (t1 - t0, t2 - t1, t2 - t0))
    finally:
        stop.set()
        bridge.kill()
        receiver.server.shutdown()
        if isinstance(store, PostgresView):
            store.close()


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description="the fault soak of bench/soak")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--restarts", type=int, default=100)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--fail-every", type=int, default=5)
    parser.add_argument("--pause", type=float, default=0.02)
    parser.add_argument("--min-uptime", type=float, default=0.2)
    parser.add_argument("--max-uptime", type=float, default=3.0)
    parser.add_argument("--retry-initial", default="100ms")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    print(f"seed {args.seed}: {args.store} store, {args.restarts} restarts, {args.senders} "
          f"senders pausing "
          f"{args.pause * 1000:.0f} ms between messages, one POST in "
          f"{args.fail_every} answered 503, uptime {args.min_uptime}-{args.max_uptime} s",
          flush=True)
    # SIGTERM (bench/soak's cleanup) and Ctrl-C end the run through the finally above; SIGINT
    # may arrive ignored in a background job, so its handler is set explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        sys.exit(run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
