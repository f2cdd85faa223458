# A real DNS server for the end-to-end tests (issue 13): Debian's dnsmasq on a free 127.0.0.1
# port (UDP and TCP), answering only the records it is given (no upstream, no /etc/hosts); names
# under `zones` without a record are NXDOMAIN. Records go through a configuration file, where
# quotes keep commas inside a TXT value (the command line would split it into strings).
import os
import shutil
import socket
import subprocess
import tempfile
import time

import dns.exception
import dns.resolver

from bridge import scaled

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_dns_port():
    """A port free for UDP and TCP alike at this moment: dnsmasq listens on both."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


def _quoted(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Dns:
    """dnsmasq with TXT, A/AAAA and MX records; serve() (re)starts it on the same port."""

    def __init__(self):
        self.port = free_dns_port()
        self.proc = None
        self.folder = tempfile.mkdtemp(prefix="e2e-dns-")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def serve(self, txt, addresses=None, mx=None, zones=()):
        """txt: {name: value or [values]}; addresses: {name: [ip, ...]} (A or AAAA);
        mx: {name: [(preference, exchange), ...]}; zones: answered with NXDOMAIN when unknown."""
        self.stop()
        conf = os.path.join(self.folder, "dnsmasq.conf")
        with open(conf, "w") as out:
            out.write("local-ttl=1\n")  # short: tests change records between cases
            for zone in zones:
                out.write(f"local=/{zone}/\n")
            for name, values in txt.items():
                for value in [values] if isinstance(values, str) else values:
                    out.write(f"txt-record={name},{_quoted(value)}\n")
            for name, ips in (addresses or {}).items():
                for ip in ips:
                    out.write(f"host-record={name},{ip}\n")
            for name, exchanges in (mx or {}).items():
                for preference, exchange in exchanges:
                    out.write(f"mx-host={name},{exchange},{preference}\n")
        end = time.monotonic() + scaled(10)
        while True:
            self.proc = subprocess.Popen(
                [DNSMASQ, "--keep-in-foreground", f"--conf-file={conf}", "--no-resolv",
                 "--no-hosts", "--no-poll", "--bind-interfaces", "--listen-address=127.0.0.1",
                 f"--port={self.port}", "--pid-file=", "--log-facility=-"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready(next(iter(txt)), end):
                return
            error = self.proc.stderr.read().decode()
            self.proc.stderr.close()
            self.proc = None
            # Another process took the port since it was found free: another port.
            if "in use" not in error or time.monotonic() > end:
                raise AssertionError("dnsmasq did not start: " + error)
            self.port = free_dns_port()

    def _wait_ready(self, name, end):
        resolver = self.resolver()
        while True:
            try:
                resolver.resolve(name, "TXT", lifetime=1)
                return True
            except dns.exception.DNSException:
                if self.proc.poll() is not None:
                    return False
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def resolver(self):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        return resolver

    def dnsfunc(self):
        """dkimpy's key lookup through this server: the TXT strings of `name` joined."""
        resolver = self.resolver()

        def lookup(name, timeout=5):
            name = name.decode() if isinstance(name, bytes) else name
            try:
                answer = resolver.resolve(name, "TXT", lifetime=timeout)
            except dns.exception.DNSException:
                return None
            return b"".join(b"".join(rdata.strings) for rdata in answer)
        return lookup

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stderr.close()
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
