"""pyspf (Debian's python3-spf) on the SPF test zone: the independent verdict the C++ comparison
test (pyspf_compare_test.cpp) holds the bridge's against. Reads cases as JSON lines on stdin
({"ip", "sender", "helo"}), answers one JSON line each ({"result", "mechanism"}).

    pyspf_check.py PORT      # the DNS server on 127.0.0.1:PORT answers every lookup
"""
import json
import sys
import warnings

import dns.resolver
import spf


def main():
    port = int(sys.argv[1])
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 2.0
    dns.resolver.default_resolver = resolver
    warnings.simplefilter("ignore")  # dns.resolver.query (pyspf's call) is deprecated
    for line in sys.stdin:
        case = json.loads(line)
        query = spf.query(i=case["ip"], s=case["sender"], h=case["helo"], timeout=3)
        result, _code, _explanation = query.check()
        print(json.dumps({"result": result, "mechanism": str(query.mechanism or "")}), flush=True)


if __name__ == "__main__":
    main()
