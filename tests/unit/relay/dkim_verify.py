# dkimpy (Debian's python3-dkim), the independent verifier of dkim_signer_test: verifies every
# DKIM-Signature of a message with the public keys given, and prints one line per signature:
#   <index> <pass|fail> <a=> <d=> <s=> <h=, lower case>
# Usage: /usr/bin/python3 dkim_verify.py MESSAGE_FILE RECORDS_FILE
# RECORDS_FILE: lines "<selector>._domainkey.<domain> <TXT value>", served through dkimpy's dnsfunc.
import sys

import dkim

message = open(sys.argv[1], "rb").read()
records = {}
for line in open(sys.argv[2], encoding="ascii"):
    name, _, value = line.strip().partition(" ")
    records[name.lower() + "."] = value.encode()


def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return records.get(name.lower().rstrip(".") + ".")


verifier = dkim.DKIM(message)
headers = verifier.headers
count = sum(1 for name, _ in headers if name.lower() == b"dkim-signature")
for index in range(count):
    try:
        ok = verifier.verify(idx=index, dnsfunc=dnsfunc)
    except dkim.DKIMException:  # dkimpy raises on a body hash mismatch
        ok = False
    tags = dkim.util.parse_tag_value(
        [value for name, value in headers if name.lower() == b"dkim-signature"][index])
    fields = [tags.get(tag, b"-").decode() for tag in (b"a", b"d", b"s", b"h")]
    print(index, "pass" if ok else "fail", *["".join(f.split()) for f in fields[:3]],
          "".join(fields[3].split()).lower())
