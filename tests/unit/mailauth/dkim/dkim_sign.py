# dkimpy (Debian's python3-dkim), the independent signer of auth_dkim_test: prints the message
# with one more DKIM-Signature field on top.
# Usage: /usr/bin/python3 dkim_sign.py MESSAGE_FILE SELECTOR DOMAIN KEY_FILE ALGORITHM CANON LENGTH
#   KEY_FILE: a PEM RSA key, or for ed25519-sha256 the base64 of the 32-byte private key (RFC 8463)
#   CANON: "relaxed/simple" ...; LENGTH: 1 to add l= (the body length signed)
import sys

import dkim

message_file, selector, domain, key_file, algorithm, canon, length = sys.argv[1:8]
message = open(message_file, "rb").read()
header_canon, body_canon = canon.encode().split(b"/")
signature = dkim.sign(message, selector.encode(), domain.encode(), open(key_file, "rb").read(),
                      canonicalize=(header_canon, body_canon),
                      signature_algorithm=algorithm.encode(), length=length == "1")
sys.stdout.buffer.write(signature + message)
