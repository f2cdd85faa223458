"""A small authoritative DNS server for the SPF tests (issue 13): serves one scenario's `zonedata`
of the openspf.org RFC 7208 test suite (or a zone of the same shape in JSON) over UDP and TCP on
127.0.0.1, with what dnsmasq cannot express: a TIMEOUT (the query is never answered), TXT records
of several strings or of raw bytes, the suite's automatic SPF -> TXT duplication.

    spf_dns_server.py --yaml rfc7208-tests.yml --scenario 3     # the 4th YAML document
    spf_dns_server.py --json zone.json                          # {"name": [{"TXT": "..."}, ...]}
    spf_dns_server.py --yaml ... --scenario 3 --dump            # the zone as JSON, then exit

It prints "port N" on stdout once both sockets listen, and serves until its stdin pipe closes (the
test that started it ended) or SIGTERM. The zone semantics follow the suite's reference driver:
  - SPF entries are served as type 99 and, when the name has no TXT entry, also as TXT
    ("TXT: NONE" means: no TXT record, and no duplication);
  - "TIMEOUT" in a name's list: a query for a type with no entry listed before it is never
    answered (so [TXT..., TIMEOUT] answers TXT and drops every other type);
  - a name absent from the zone is NXDOMAIN, except an empty non-terminal (NOERROR, no data) and
    names under "error." (never answered);
  - a CNAME is followed inside the zone;
  - {"DELAY": seconds} in a name's list (an extension for the bridge's tests): its answers wait.
"""
import argparse
import json
import os
import select
import socket
import socketserver
import stat
import struct
import sys
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 300
LOG = bool(os.environ.get("SPF_DNS_LOG"))  # each query and its answer on stderr
TYPE_SPF = 99


class Timeout(Exception):
    """The query must go unanswered."""


def text_bytes(value):
    """A YAML string as the bytes the suite means: "\\xEF" escapes are bytes (latin-1)."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def character_strings(value):
    """A TXT value (a string or a list of strings) as <character-string>s of at most 255 bytes."""
    pieces = value if isinstance(value, list) else [value]
    out = []
    for piece in pieces:
        data = text_bytes(str(piece))
        if not data:
            out.append(b"")
        while data:
            out.append(data[:255])
            data = data[255:]
    return out


class Zone:
    def __init__(self, zonedata):
        self.names = {}
        self.delays = {}  # name -> seconds its answers wait ({"DELAY": 0.5}, not the suite's)
        for name, entries in (zonedata or {}).items():
            entries = entries or []
            for item in entries:
                if isinstance(item, dict) and "DELAY" in item:
                    self.delays[self._key(name)] = float(item["DELAY"])
            entries = [e for e in entries if not (isinstance(e, dict) and "DELAY" in e)]
            self.names[self._key(name)] = self._entries(entries)

    @staticmethod
    def _key(name):
        return str(name).lower().rstrip(".")

    @staticmethod
    def _entries(raw):
        """[(type, value) or "TIMEOUT"] in the suite's order, generated TXT records last."""
        entries, generated, has_txt = [], [], False
        for item in raw:
            if item == "TIMEOUT":
                entries.append("TIMEOUT")
                continue
            for rtype, value in item.items():
                if rtype == "TXT":
                    has_txt = True
                if value == "NONE":
                    continue
                entries.append((rtype, value))
                if rtype == "SPF":
                    generated.append(("TXT", value))
        return entries + ([] if has_txt else generated)

    def _exists(self, key):
        if key in self.names:
            return True
        suffix = "." + key
        return any(name.endswith(suffix) for name in self.names)

    def lookup(self, key, rtype, depth=0):
        """(rcode, [(owner, type, value)]) or raises Timeout."""
        entries = self.names.get(key)
        if entries is None:
            if key.startswith("error."):
                raise Timeout()
            return (dns.rcode.NOERROR if self._exists(key) else dns.rcode.NXDOMAIN), []
        answers, seen = [], False
        for entry in entries:
            if entry == "TIMEOUT":
                if not seen:
                    raise Timeout()
                break
            etype, value = entry
            if etype == "CNAME" and rtype != "CNAME":
                if depth > 8:
                    return dns.rcode.SERVFAIL, []
                rcode, chased = self.lookup(self._key(value), rtype, depth + 1)
                return rcode, [(key, "CNAME", value)] + chased
            if etype == rtype:
                seen = True
                if value == "TIMEOUT":
                    raise Timeout()
                answers.append((key, etype, value))
        return dns.rcode.NOERROR, answers


def make_rdata(rtype, value):
    rdclass = dns.rdataclass.IN
    if rtype in ("TXT", "SPF"):
        from dns.rdtypes.ANY.TXT import TXT
        from dns.rdtypes.ANY.SPF import SPF
        cls = TXT if rtype == "TXT" else SPF
        strings = character_strings(value)
        return cls(rdclass, dns.rdatatype.from_text(rtype), strings or [b""])
    if rtype == "MX":
        preference, exchange = value
        text = "%d %s." % (int(preference), str(exchange).rstrip("."))
        return dns.rdata.from_text(rdclass, dns.rdatatype.MX, text)
    if rtype in ("PTR", "CNAME"):
        return dns.rdata.from_text(rdclass, dns.rdatatype.from_text(rtype),
                                   str(value).rstrip(".") + ".")
    return dns.rdata.from_text(rdclass, dns.rdatatype.from_text(rtype), str(value))


def question_key(wire):
    """The zone key of a query's name ("" when it has none)."""
    try:
        query = dns.message.from_wire(wire)
        return Zone._key(b".".join(query.question[0].name.labels).decode("latin-1"))
    except Exception:
        return ""


def answer(zone, wire, max_udp):
    """The response bytes for one query, or None (no answer at all)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.flags &= ~dns.flags.RA
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    question = query.question[0]
    rtype = dns.rdatatype.to_text(question.rdtype)
    # The name's labels as raw bytes: a macro can put spaces or "%" in them (RFC 7208 7.3).
    key = Zone._key(b".".join(question.name.labels).decode("latin-1"))
    try:
        rcode, records = zone.lookup(key, rtype)
    except Timeout:
        rcode, records = None, []
    if LOG:
        print("spf_dns_server: %.3f %s %s -> %s %s" % (time.monotonic(), key, rtype, rcode, records),
              file=sys.stderr)
    if rcode is None:
        return None
    response.set_rcode(rcode)
    for owner, etype, value in records:
        try:
            rdata = make_rdata(etype, value)
        except Exception as error:  # a value the type cannot hold: a broken server, SERVFAIL
            print("spf_dns_server: %s %s %r: %s" % (owner, etype, value, error), file=sys.stderr)
            response.set_rcode(dns.rcode.SERVFAIL)
            response.answer = []
            break
        name = dns.name.from_text(owner + ".")
        rrset = response.find_rrset(response.answer, name, dns.rdataclass.IN, rdata.rdtype,
                                    create=True)
        rrset.add(rdata, TTL)
    try:
        return response.to_wire(max_size=max_udp or 65535)
    except dns.exception.TooBig:
        response.answer = []
        response.flags |= dns.flags.TC
        return response.to_wire()


def load_zone(args):
    if args.json:
        with open(args.json, encoding="utf-8") as f:
            return json.load(f)
    import yaml
    with open(args.yaml, "rb") as f:
        documents = list(yaml.safe_load_all(f))
    return documents[args.scenario].get("zonedata") or {}


def serve(zone):
    class TcpHandler(socketserver.BaseRequestHandler):
        def handle(self):
            stream = self.request
            while True:
                head = self._read(stream, 2)
                if head is None:
                    return
                wire = self._read(stream, struct.unpack("!H", head)[0])
                if wire is None:
                    return
                reply = answer(zone, wire, 65535)
                if reply is None:
                    continue  # a TIMEOUT: keep the connection, never answer
                time.sleep(zone.delays.get(question_key(wire), 0))
                stream.sendall(struct.pack("!H", len(reply)) + reply)

        @staticmethod
        def _read(stream, size):
            data = b""
            while len(data) < size:
                chunk = stream.recv(size - len(data))
                if not chunk:
                    return None
                data += chunk
            return data

    class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    for _ in range(100):  # a port free for both UDP and TCP
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        try:
            tcp = TcpServer(("127.0.0.1", port), TcpHandler)
            break
        except OSError:
            udp.close()
    else:
        raise SystemExit("spf_dns_server: no port free for both UDP and TCP")
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    print("port %d" % port, flush=True)

    watched = [udp]
    if stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        watched.append(sys.stdin)
    while True:
        ready, _, _ = select.select(watched, [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            return  # the test that started us is gone
        if udp in ready:
            wire, peer = udp.recvfrom(65535)
            max_udp = 512
            try:
                query = dns.message.from_wire(wire)
                if query.edns >= 0:
                    max_udp = max(512, query.payload)
            except Exception:
                pass
            reply = answer(zone, wire, max_udp)
            delay = zone.delays.get(question_key(wire), 0)
            if reply is not None and delay:  # answered later, the others meanwhile
                threading.Timer(delay, udp.sendto, (reply, peer)).start()
            elif reply is not None:
                udp.sendto(reply, peer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yaml")
    parser.add_argument("--scenario", type=int, default=0)
    parser.add_argument("--json")
    parser.add_argument("--dump", action="store_true")
    args = parser.parse_args()
    if not args.yaml and not args.json:
        parser.error("--yaml or --json is required")
    zonedata = load_zone(args)
    if args.dump:
        json.dump(zonedata, sys.stdout, indent=1, default=str)
        return
    serve(Zone(zonedata))


if __name__ == "__main__":
    main()
