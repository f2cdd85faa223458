#!/usr/bin/env python3
"""Writes a multipart test message of about the requested size (default ~32 KB) for the benches:
a text part, an HTML part and a base64 attachment, lines under 78 characters. Lines end in LF:
smtp-source -F sends each line followed by CRLF (a CR in the file would become a bare CR)."""
import base64
import random
import sys

size = int(sys.argv[2]) if len(sys.argv) > 2 else 32 * 1024
out = sys.argv[1]
rng = random.Random(42)
text = "\r\n".join(
    " ".join(rng.choice(["mail", "bridge", "queue", "webhook", "durable", "commit", "smtp"])
             for _ in range(10)) for _ in range(40))
html = "<html><body><p>" + text.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>"
overhead = 2 * len(text) + 1200
blob = rng.randbytes(max(0, (size - overhead) * 3 // 4))
b64 = base64.b64encode(blob).decode()
b64 = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
msg = (
    "From: Bench Sender <sender@example.com>\r\n"
    "To: Bench Receiver <receiver@example.com>\r\n"
    "Subject: bench message\r\n"
    "Date: Fri, 27 Nov 2026 00:00:00 +0000\r\n"
    "Message-ID: <bench@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n'
    "\r\n"
    "--outer\r\n"
    'Content-Type: multipart/alternative; boundary="inner"\r\n'
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n" + text + "\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n" + html + "\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    'Content-Type: application/octet-stream; name="data.bin"\r\n'
    'Content-Disposition: attachment; filename="data.bin"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + b64 + "\r\n"
    "--outer--\r\n")
with open(out, "w", newline="") as f:
    f.write(msg.replace("\r\n", "\n"))
print(f"{out}: {len(msg)} bytes", file=sys.stderr)
