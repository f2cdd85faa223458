#!/usr/bin/env python3
"""Driver of bench/mail-auth (issue 13): the end-to-end rate of the 32 KB bench message with SPF,
DKIM and DMARC on, beside the same bridge with them off and smtp-sink, in alternating rounds.
Postfix smtp-source (20 sessions) sends a message signed once by dkimpy (rsa-sha256,
relaxed/relaxed, 2048-bit key); dnsmasq on a free port answers SPF (MAIL FROM and HELO), the DKIM
key and DMARC (p=reject); each bridge POSTs to bench_webhook_receiver, and its rate counts messages
DELIVERED (parsed by the receiver), from smtp-source's start. Not a test: prints figures.
    /usr/bin/python3 bench/mail_auth_run.py BRIDGE RECEIVER [MESSAGES] [SIZE] [ROUNDS]"""
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "e2e"))
sys.path.insert(0, os.path.join(root, "bench"))
import dkim  # noqa: E402
from dns_server import Dns  # noqa: E402
from ports import free_port, wait_port  # noqa: E402

bridge_bin, receiver_bin = sys.argv[1], sys.argv[2]
messages = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
size = sys.argv[4] if len(sys.argv) > 4 else "32768"
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
SESSIONS = 20
HELO = "client.bench.example"


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def signed_message(folder):
    """The bench message signed by dkimpy, written with LF line ends for smtp-source (which sends
    each line with CRLF: the bytes signed are the bytes sent); and the key's TXT record."""
    plain = os.path.join(folder, "plain.eml")
    subprocess.run([sys.executable, os.path.join(root, "bench", "make_message.py"), plain, size],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = os.path.join(folder, "key.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    public = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
    with open(plain, "rb") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with open(key, "rb") as f:
        signature = dkim.sign(data, b"bench", b"example.com", f.read(),
                              canonicalize=(b"relaxed", b"relaxed"))
    out = os.path.join(folder, "signed.eml")
    with open(out, "wb") as f:
        f.write((signature + data).replace(b"\r\n", b"\n"))
    return out, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def smtp_source(port, message):
    start = time.monotonic()
    subprocess.run(["smtp-source", "-s", str(SESSIONS), "-m", str(messages), "-F", message,
                    "-M", HELO, "-f", "a@example.com", "-t", "b@example.com",
                    f"127.0.0.1:{port}"], check=True)
    return start, time.monotonic()


def delivered(receiver_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{receiver_port}/count").read().decode()
    return int(text.split()[0])


def run_bridge(folder, round_no, auth, dns, receiver_port, message):
    smtp, api, admin = free_port(), free_port(), free_port()
    config = os.path.join(folder, f"bridge-{round_no}-{auth}.yaml")
    extra = ""
    if auth:
        extra = (f"dns: {{servers: ['{dns.address}']}}\n"
                 "authentication: {enabled: true}\n")
    with open(config, "w") as f:
        f.write(f"""smtp:
  listen: ["127.0.0.1:{smtp}"]
  hostname: bench.example
  limits: {{max_connections_per_ip: 1000}}
routes:
  - match: "*"
    endpoints: [{{url: "http://127.0.0.1:{receiver_port}/hook"}}]
store: {{path: "{folder}/store-{round_no}-{auth}/bridge.db"}}
api: {{listen: "127.0.0.1:{api}"}}
admin: {{listen: "127.0.0.1:{admin}"}}
log: {{level: warn}}
{extra}""")
    before = delivered(receiver_port)
    log = open(os.path.join(folder, f"bridge-{round_no}-{auth}.log"), "w")
    command = [bridge_bin, "--config", config]
    if auth and os.environ.get("PERF_RECORD"):  # a CPU profile of the bridge with the checks on
        command = ["perf", "record", "--call-graph", os.environ.get("PERF_CALLGRAPH", "fp"), "-o",
                   os.path.join(os.environ["PERF_RECORD"], f"perf-{round_no}.data"), "--"] + command
    proc = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        if not wait_port(smtp, 20):
            raise SystemExit("the bridge did not start: see " + log.name)
        start, accepted = smtp_source(smtp, message)
        deadline = time.monotonic() + 600
        while delivered(receiver_port) - before < messages and time.monotonic() < deadline:
            time.sleep(0.02)
        end = time.monotonic()
        count = delivered(receiver_port) - before
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        roles = {}  # CPU ms per message by thread name (smtp-io-N → smtp-io)
        for task in os.listdir(f"/proc/{proc.pid}/task"):
            try:
                with open(f"/proc/{proc.pid}/task/{task}/comm") as f:
                    role = f.read().strip().rstrip("0123456789").rstrip("-")
                with open(f"/proc/{proc.pid}/task/{task}/stat") as f:
                    t = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = int(t[11]) + int(t[12])
            roles[role] = roles.get(role, 0) + ticks * 1000 / os.sysconf("SC_CLK_TCK") / messages
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
        passes = [line for line in metrics.splitlines()
                  if line.startswith("smtp_bridge_dmarc_results_total") and 'result="pass"' in line]
        return {"rate": count / (end - start), "accepted": messages / (accepted - start),
                "cpu_ms": cpu * 1000 / messages, "dmarc_pass": passes,
                "roles": " ".join(f"{k} {v:.2f}" for k, v in sorted(roles.items(), key=lambda kv: -kv[1])
                                  if v >= 0.01)}
    finally:
        proc.terminate()
        proc.wait()
        log.close()


def main():
    folder = tempfile.mkdtemp(prefix="smtp-bridge-bench-auth-")
    sink = receiver = None
    dns = Dns()
    try:
        message, key_txt = signed_message(folder)
        dns.serve({"example.com": "v=spf1 ip4:127.0.0.1 -all", HELO: "v=spf1 a -all",
                   "bench._domainkey.example.com": key_txt,
                   "_dmarc.example.com": "v=DMARC1; p=reject"},
                  addresses={HELO: ["127.0.0.1"]}, zones=["example.com", "bench.example"])
        sink_port = free_port()
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{sink_port}",
                                 "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(sink_port, 20)
        receiver = subprocess.Popen([receiver_bin], stdout=subprocess.PIPE, text=True)
        receiver_port = int(receiver.stdout.readline().split()[1])
        print(f"message: {os.path.getsize(message)} bytes (LF file, DKIM-signed), {messages} "
              f"messages, {SESSIONS} sessions, {rounds} rounds")
        ratios, on_rates, off_rates = [], [], []
        for round_no in range(1, rounds + 1):
            start, end = smtp_source(sink_port, message)
            sink_rate = messages / (end - start)
            off = run_bridge(folder, round_no, False, dns, receiver_port, message)
            on = run_bridge(folder, round_no, True, dns, receiver_port, message)
            ratios.append(on["rate"] / off["rate"] * 100)
            on_rates.append(on["rate"])
            off_rates.append(off["rate"])
            print(f"round {round_no}: smtp-sink {sink_rate:.0f} msg/s | checks off "
                  f"{off['rate']:.0f} msg/s delivered ({off['accepted']:.0f} accepted, "
                  f"{off['cpu_ms']:.2f} ms CPU/msg) | checks on {on['rate']:.0f} msg/s delivered "
                  f"({on['accepted']:.0f} accepted, {on['cpu_ms']:.2f} ms CPU/msg) | on/off "
                  f"{ratios[-1]:.1f}% | on/sink {on['rate'] / sink_rate * 100:.1f}%")
            print(f"         DMARC results with the checks on: {' '.join(on['dmarc_pass']) or 'none'}")
            print(f"         CPU ms/msg by thread, checks off: {off['roles']}")
            print(f"         CPU ms/msg by thread, checks on:  {on['roles']}")
        print(f"checks on / off (median of {rounds} rounds): {statistics.median(ratios):.1f}% "
              f"(on {statistics.median(on_rates):.0f}, off {statistics.median(off_rates):.0f} msg/s;"
              f" target >= 70%)")
    finally:
        for proc in (sink, receiver):
            if proc:
                proc.terminate()
                proc.wait()
        dns.close()
        shutil.rmtree(folder, ignore_errors=True)


main()
