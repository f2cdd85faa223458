# The 50 MB-of-attachments run behind bench/attachment-links (issue 15): one message with
# COUNT attachments of SIZE bytes each goes over SMTP to the real bridge, on a route with
# `attachments: url`; the run prints the webhook body's size, the bridge's peak RSS (VmHWM) before
# and after, the target (64 MiB + the budget's share for one message, 4 x its size: what a render
# reserves, delivery::render_memory), and checks that every link returns the attachment's bytes.
# Standard library only; run with Debian's /usr/bin/python3 by bench/attachment-links. Not a test.
import argparse
import hashlib
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from email.message import EmailMessage
import email.policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ports import free_port, wait_port

MiB = 1 << 20


def receiver():
    bodies = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            bodies.append(body)
            arrived.set()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, bodies, arrived


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--size", type=int, default=10 * MiB)
    args = parser.parse_args()

    server, bodies, arrived = receiver()
    work = tempfile.mkdtemp(prefix="smtp-bridge-links.")
    smtp_port, api_port, admin_port = free_port(), free_port(), free_port()
    config = {
        "smtp": {"listen": [f"127.0.0.1:{smtp_port}"], "hostname": "bench.example",
                 "limits": {"max_message_size": "100MiB"}},
        "api": {"listen": f"127.0.0.1:{api_port}", "keys": [{"name": "bench", "key": "bench-key-123"}],
                "links": {"base_url": f"http://127.0.0.1:{api_port}",
                          "secrets": ["bench-links-secret-0123456789"]}},
        "admin": {"listen": f"127.0.0.1:{admin_port}"},
        "store": {"path": os.path.join(work, "bridge.db")},
        "routes": [{"match": "*", "attachments": "url",
                    "endpoints": [{"url": f"http://127.0.0.1:{server.server_port}/hook"}]}],
        "log": {"level": "warn"},
    }
    path = os.path.join(work, "config.yaml")
    with open(path, "w") as f:
        json.dump(config, f)  # JSON is YAML
    log = open(os.path.join(work, "bridge.log"), "w")
    bridge = subprocess.Popen([args.binary, "--config", path], stdout=log, stderr=subprocess.STDOUT)
    try:
        if not (wait_port(smtp_port, 30) and wait_port(api_port, 30)):
            sys.exit("the bridge did not start; see " + log.name)
        baseline = vm_hwm_kib(bridge.pid)
        files = [os.urandom(args.size) for _ in range(args.count)]
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@bench.example", "b@bench.example", "links"
        msg.set_content("attachments follow\n")
        for i, data in enumerate(files):
            msg.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=f"file{i}.bin")
        raw = msg.as_bytes(policy=email.policy.SMTP)
        del msg
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=300) as s:
            s.sendmail("a@bench.example", ["b@bench.example"], raw)
        accepted = time.monotonic()
        if not arrived.wait(300):
            sys.exit("no webhook within 300 s")
        posted = time.monotonic()
        document = json.loads(bodies[0])
        links = [a["url"] for a in document["message"]["attachments"]]
        peak_after_post = vm_hwm_kib(bridge.pid)
        for data, link in zip(files, links):
            with urllib.request.urlopen(link, timeout=300) as res:
                got = res.read()
            if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
                sys.exit(f"{link}: the bytes differ")
        fetched = time.monotonic()
        peak = vm_hwm_kib(bridge.pid)
        share = 4 * len(raw)  # delivery::render_memory: what one message's render reserves
        target_kib = (64 * MiB + share) // 1024
        print(f"message: {len(raw)} bytes ({args.count} x {args.size} attachment bytes, base64)")
        print(f"webhook body: {len(bodies[0])} bytes ({len(links)} links)")
        print(f"timing: SMTP {accepted - started:.2f} s, 250 to POST {posted - accepted:.2f} s, "
              f"{len(links)} GETs {fetched - posted:.2f} s")
        print(f"bridge peak RSS (VmHWM): at start {baseline / 1024:.1f} MiB, after the POST "
              f"{peak_after_post / 1024:.1f} MiB, after the GETs {peak / 1024:.1f} MiB")
        print(f"target: <= 64 MiB + 4 x message = {target_kib / 1024:.1f} MiB -> "
              f"{'met' if peak <= target_kib else 'MISSED'}")
    finally:
        bridge.terminate()
        bridge.wait(30)
        server.shutdown()


if __name__ == "__main__":
    main()
