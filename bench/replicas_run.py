# The scale-out bench behind bench/replicas: end-to-end delivered msg/s of the 32 KB message for
# smtp-sink (the ceiling), the SQLite backend, the PostgreSQL backend with one replica and with
# three replicas sharing one database (three processes, three SMTP ports, one smtp-source each),
# all in the same run on the same machine. For the PostgreSQL runs also: claims per second (every
# attempt is a claim: sum(attempts) over the run's delivered time), PostgreSQL transactions per
# message, and lock waits under load (the server logs each wait longer than deadlock_timeout =
# 1 ms; SKIP LOCKED should make it 0); for every run the CPU time per message of each program
# sharing the machine. --perf-record DIR records each PostgreSQL run's load with perf.
# Standard library only; run with Debian's /usr/bin/python3 by bench/replicas (not a test).
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from pg_server import PgServer  # noqa: E402
from ports import free_port, wait_port  # noqa: E402

SESSIONS = 20  # SMTP sessions in all, split over the replicas


def split(total, parts):
    """total as `parts` near-equal shares, none below 1."""
    return [max(1, total // parts + (1 if i < total % parts else 0)) for i in range(parts)]


def wait_listening(port, timeout=30):
    if not wait_port(port, timeout):
        raise RuntimeError(f"port {port} never opened")


class Receiver:
    def __init__(self, binary):
        self.proc = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])

    def count(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=10) as r:
            ok, bad, _ = r.read().decode().split()
            return int(ok), int(bad)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def smtp_source(port, messages, sessions, message_file):
    return subprocess.Popen(["smtp-source", "-s", str(sessions), "-m", str(messages), "-F",
                             message_file, "-f", "a@example.com", "-t", "b@example.com",
                             f"127.0.0.1:{port}"])


def bridge_config(work, name, receiver_port, store):
    ports = {k: free_port() for k in ("smtp", "api", "admin")}
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"""smtp:
  listen: ["127.0.0.1:{ports['smtp']}"]
  hostname: bench.example
  limits: {{max_connections_per_ip: 1000, max_message_size: 64MiB}}
routes:
  - match: "*"
    endpoints:
      - url: http://127.0.0.1:{receiver_port}/hook
        secret: whsec_YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA==
store: {store}
api: {{listen: "127.0.0.1:{ports['api']}", keys: [{{name: bench, key: sbk_bench_replicas_key}}]}}
admin: {{listen: "127.0.0.1:{ports['admin']}"}}
log: {{level: warn}}
""")
    return path, ports


def cpu_by_program():
    """{program: CPU seconds (user + system)} summed over the machine's processes now."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        key = {"smtp-bridge": "bridge", "postgres": "postgres",
               "bench_webhook_r": "receiver"}.get(name, "other")
        totals[key] = totals.get(key, 0.0) + seconds
    return totals


def children_cpu():
    """CPU seconds of this process's children waited for (the smtp-source runs)."""
    times = os.times()
    return times.children_user + times.children_system


def cpu_line(before, after, messages):
    """CPU milliseconds per delivered message by program, over a run."""
    parts = []
    for key in ("bridge", "postgres", "smtp-source", "receiver", "other"):
        used = after.get(key, 0.0) - before.get(key, 0.0)
        parts.append(f"{key} {used * 1000 / max(messages, 1):.2f}")
    return "CPU ms/msg: " + ", ".join(parts)


def run_bridges(args, work, receiver, name, stores, on_listening=None, on_delivered=None):
    """Starts one bridge per store config, sends args.messages split over them, waits until the
    receiver parsed them all; returns delivered msg/s, the elapsed seconds and the count.
    `on_listening` is called once every bridge listens, before the load starts; `on_delivered`
    when the receiver has them all, before the bridges stop."""
    procs, ports = [], []
    for i, store in enumerate(stores):
        path, p = bridge_config(work, f"{name}-{i}", receiver.port, store)
        log = open(os.path.join(work, f"{name}-{i}.log"), "wb")
        procs.append(subprocess.Popen([args.binary, "--config", path], stdout=log, stderr=log,
                                      cwd=work))
        ports.append(p)
    try:
        for p in ports:
            wait_listening(p["smtp"])
        if on_listening:
            on_listening()
        before, _ = receiver.count()
        cpu_before = dict(cpu_by_program(), **{"smtp-source": children_cpu()})
        share = [args.messages // len(stores)] * len(stores)
        share[0] += args.messages - sum(share)
        t0 = time.monotonic()
        sources = [smtp_source(p["smtp"], n, sessions, args.message)
                   for p, n, sessions in zip(ports, share, split(SESSIONS, len(stores)))]
        for s in sources:
            s.wait()
        accepted = time.monotonic() - t0
        source_cpu = children_cpu()  # the sources are gone from /proc now
        deadline = time.monotonic() + 600
        while receiver.count()[0] - before < args.messages and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
        delivered = receiver.count()[0] - before
        cpu_after = dict(cpu_by_program(), **{"smtp-source": source_cpu})
        if on_delivered:
            on_delivered()
        print(f"  {name}: accepted {args.messages / accepted:.1f} msg/s, delivered "
              f"{delivered / elapsed:.1f} msg/s; {cpu_line(cpu_before, cpu_after, delivered)}")
        return delivered / elapsed, elapsed, delivered
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def sink_rate(args, port):
    t0 = time.monotonic()
    smtp_source(port, args.messages, SESSIONS, args.message).wait()
    return args.messages / (time.monotonic() - t0)


def lock_waits(pg, start, end):
    """(count, {what: count}) of the waits logged between two offsets, by lock and object kind."""
    with open(pg.log_path, errors="replace") as log:
        log.seek(start)
        found = re.findall(r"still waiting for (\w+Lock) on (\w+)", log.read(end - start))
    kinds = {}
    for lock, target in found:
        kinds[f"{lock} on {target}"] = kinds.get(f"{lock} on {target}", 0) + 1
    return len(found), kinds


def log_size(pg):
    return os.path.getsize(pg.log_path)


def main():
    parser = argparse.ArgumentParser(description="the scale-out bench of bench/replicas")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--receiver", required=True)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32768)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--commit-delay", default="",
                        help="store.commit_delay for the PostgreSQL runs (default: the bridge's)")
    parser.add_argument("--perf-record", metavar="DIR",
                        help="record each PostgreSQL run's load system-wide with perf into "
                             "DIR/pgN-ROUND.data (perf report -i ... --sort comm,dso,sym)")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)  # the bridges run in the work folder
    work = tempfile.mkdtemp(prefix="smtp-bridge-replicas-")
    args.message = os.path.join(work, "message.eml")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_message.py"), args.message,
                    str(args.size)], check=True, stderr=subprocess.DEVNULL)
    sink_port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{sink_port}", "1024"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    receiver = Receiver(args.receiver)
    pg = PgServer()
    # Every lock wait longer than 1 ms is logged ("still waiting for ShareLock ...").
    pg.psql("ALTER SYSTEM SET log_lock_waits = on")
    pg.psql("ALTER SYSTEM SET deadlock_timeout = '1ms'")
    pg.psql("SELECT pg_reload_conf()")
    results = {k: [] for k in ("sink", "sqlite", "pg1", "pg3")}
    try:
        wait_listening(sink_port)
        print(f"message: {os.path.getsize(args.message)} bytes, {args.messages} messages, "
              f"{SESSIONS} SMTP sessions in all (split over the replicas), {args.rounds} round(s)")
        for round_number in range(1, args.rounds + 1):
            results["sink"].append(sink_rate(args, sink_port))
            sqlite_store = "{path: \"%s\"}" % os.path.join(work, f"sqlite-{round_number}.db")
            rate, _, _ = run_bridges(args, work, receiver, f"sqlite-{round_number}",
                                     [sqlite_store])
            results["sqlite"].append(rate)
            for replicas in (1, 3):
                database = pg.create_database()
                delay = f"commit_delay: {args.commit_delay}, " if args.commit_delay else ""
                store = "{backend: postgres, %spostgres: {dsn: '%s'}}" % (delay, pg.dsn(database))
                empty = int(pg.psql(f"SELECT pg_database_size('{database}')"))
                # Each run from a fresh checkpoint: not paying for the previous run's dirty pages.
                pg.psql("CHECKPOINT")
                # Lock waits under load only: not the replicas' start (the migration's lock).
                window = [0, 0]
                name = f"pg{replicas}-{round_number}"
                perf = []

                def listening():
                    window[0] = log_size(pg)
                    if args.perf_record:
                        os.makedirs(args.perf_record, exist_ok=True)
                        perf.append(subprocess.Popen(
                            ["perf", "record", "-a", "-g", "-q", "-o",
                             os.path.join(args.perf_record, f"{name}.data")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

                def delivered_all():
                    window[1] = log_size(pg)
                    for recorder in perf:
                        recorder.send_signal(signal.SIGINT)
                        recorder.wait()

                rate, elapsed, delivered = run_bridges(
                    args, work, receiver, name, [store] * replicas, on_listening=listening,
                    on_delivered=delivered_all)
                claims = int(pg.psql("SELECT coalesce(sum(attempts), 0) FROM inbound_deliveries",
                                     database) or 0)
                # Counted by each backend and flushed when it ends (the bridges have stopped).
                time.sleep(1)
                commits = int(pg.psql("SELECT xact_commit FROM pg_stat_database WHERE datname = "
                                      f"'{database}'") or 0)
                waits, kinds = lock_waits(pg, *window)
                rows = int(pg.psql("SELECT count(*) FROM inbound_messages", database) or 0)
                grown = int(pg.psql(f"SELECT pg_database_size('{database}')")) - empty
                pg.psql(f"DROP DATABASE {database}")
                results[f"pg{replicas}"].append(rate)
                print(f"round {round_number}: postgres, {replicas} replica(s): {rate:.1f} msg/s "
                      f"delivered ({delivered} in {elapsed:.1f} s), {claims / elapsed:.1f} "
                      f"claims/s, {commits / max(delivered, 1):.2f} transactions/msg, "
                      f"{grown / max(rows, 1) / 1024:.1f} KiB on disk/msg, {waits} lock waits "
                      f"> 1 ms {kinds if kinds else ''}")
            print(f"round {round_number}: smtp-sink {results['sink'][-1]:.1f} msg/s | sqlite "
                  f"{results['sqlite'][-1]:.1f} | postgres x1 {results['pg1'][-1]:.1f} | "
                  f"postgres x3 {results['pg3'][-1]:.1f}")
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"median msg/s: smtp-sink {med['sink']:.1f}, sqlite {med['sqlite']:.1f}, postgres "
              f"x1 {med['pg1']:.1f}, postgres x3 {med['pg3']:.1f}")
        print(f"postgres x1 / sqlite: {med['pg1'] / med['sqlite'] * 100:.1f}% (target >= 50%); "
              f"postgres x3 / x1: {med['pg3'] / med['pg1'] * 100:.1f}% (target >= 100%); "
              f"sqlite / smtp-sink: {med['sqlite'] / med['sink'] * 100:.1f}%")
    finally:
        pg.close()
        receiver.close()
        sink.kill()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
