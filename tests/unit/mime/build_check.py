#!/usr/bin/python3
# Independent check of mime::build with Python's email package: runs mime_build_samples into a
# folder, parses every sample with policy.default and compares it with expected.json (headers,
# addresses, bodies, attachments, structure) plus the line discipline (CRLF, ≤ 998, ≤ 78).
import email
import email.header
import email.policy
import email.utils
import hashlib
import json
import os
import re
import subprocess
import sys

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=")


def normalized(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def shape(part):
    if part.is_multipart():
        return part.get_content_subtype() + "(" + ",".join(shape(p) for p in part.get_payload()) + ")"
    return part.get_content_subtype()


def leaves(part):
    if part.is_multipart():
        for child in part.get_payload():
            yield from leaves(child)
    else:
        yield part


def check_lines(raw, long_fields, fail):
    if re.search(rb"\r(?!\n)", raw) or re.search(rb"(?<!\r)\n", raw):
        fail("bare CR or LF")
    if not raw.endswith(b"\r\n"):
        fail("does not end with CRLF")
    lines = raw.split(b"\r\n")
    allowed = [f.lower().encode() + b":" for f in long_fields]
    for i, line in enumerate(lines):
        if len(line) > 998:
            fail(f"line {i + 1} has {len(line)} octets")
        elif len(line) > 78:
            j = i
            while j > 0 and lines[j][:1] in (b" ", b"\t"):
                j -= 1
            if not any(lines[j].lower().startswith(a) for a in allowed):
                fail(f"line {i + 1} has {len(line)} octets: {line[:90]!r}")
    head = raw[: raw.find(b"\r\n\r\n")]
    for word in ENCODED_WORD.findall(raw):
        if len(word) > 75:  # RFC 2047 2
            fail(f"encoded word of {len(word)}: {word!r}")
    return head


def legacy_addresses(raw_msg, field):
    """The same addresses read with the compat32 API (getaddresses + decode_header): a second
    reader for display names, because policy.default in Python < 3.14 keeps the white space
    between adjacent encoded words in a phrase (CPython gh-128110), against RFC 2047 6.2."""
    values = [re.sub(r"\r?\n", "", v) for v in raw_msg.get_all(field) or []]
    out = []
    for name, address in email.utils.getaddresses(values):
        out.append((str(email.header.make_header(email.header.decode_header(name))), address))
    return out


def check_addresses(msg, raw_msg, field, expected, fail):
    header = msg[field]
    if not expected:
        if header is not None:
            fail(f"unexpected {field}")
        return
    if header is None:
        return fail(f"missing {field}")
    if header.defects:
        fail(f"{field} defects {header.defects}")
    got = [(a.display_name, f"{a.username}@{a.domain}") for a in header.addresses]
    want = [(name, address) for name, address in expected]
    if got != want:
        legacy = [(name, address.replace('"', "").replace("\\", "")) for name, address in legacy_addresses(raw_msg, field)]
        plain = [(name, address.replace('"', "").replace("\\", "")) for name, address in want]
        same_but_spaces = [a for _, a in got] == [a for _, a in want] and \
            [n.replace(" ", "") for n, _ in got] == [n.replace(" ", "") for n, _ in want]
        if not (same_but_spaces and legacy == plain):
            fail(f"{field}: {got} != {want} (compat32: {legacy})")


def check_bodies(msg, case, fail):
    bodies = [p for p in leaves(msg) if p.get_content_disposition() is None]
    for subtype in ("plain", "html"):
        want = case["text" if subtype == "plain" else "html"]
        found = [p for p in bodies if p.get_content_type() == "text/" + subtype]
        if not want:
            if found:
                fail(f"unexpected text/{subtype} body")
            continue
        if len(found) != 1:
            fail(f"{len(found)} text/{subtype} bodies")
            continue
        if found[0].get_content_charset() != "utf-8":
            fail(f"text/{subtype} charset {found[0].get_content_charset()}")
        if normalized(found[0].get_content()) != normalized(want):
            fail(f"text/{subtype} body differs")


def check_attachments(msg, case, fail):
    parts = {p.get_filename(): p for p in leaves(msg) if p.get_content_disposition() is not None}
    if len(parts) != len(case["attachments"]):
        fail(f"attachments {sorted(map(str, parts))}")
    for want in case["attachments"]:
        part = parts.get(want["filename"])
        if part is None:
            fail(f"attachment {want['filename']!r} missing; have {sorted(map(str, parts))}")
            continue
        # Content-Type name= (RFC 2047 words in a quoted-string, the legacy form) reads back the
        # same as Content-Disposition filename (RFC 2231).
        if part.get_param("name", header="content-type") != want["filename"]:
            fail(f"{want['filename']!r}: Content-Type name "
                 f"{part.get_param('name', header='content-type')!r}")
        data = part.get_payload(decode=True)
        if part.get_content_type() != want["content_type"]:
            fail(f"{want['filename']}: type {part.get_content_type()}")
        if len(data) != want["size"] or hashlib.sha256(data).hexdigest() != want["sha256"]:
            fail(f"{want['filename']}: content differs ({len(data)} bytes)")
        cid = part["Content-ID"]
        inline = want["content_id"] and case["html"]
        if want["content_id"] and (cid is None or str(cid).strip() != "<" + want["content_id"] + ">"):
            fail(f"{want['filename']}: Content-ID {cid}")
        if part.get_content_disposition() != ("inline" if want["content_id"] else "attachment"):
            fail(f"{want['filename']}: disposition {part.get_content_disposition()}")
        if inline and part.get_param("type", header="content-type") is None:
            parent_ok = "related(" in case["shape"]
            if not parent_ok:
                fail(f"{want['filename']}: inline part outside multipart/related")


def check_case(folder, case):
    problems = []
    fail = problems.append
    raw = open(os.path.join(folder, case["file"]), "rb").read()
    check_lines(raw, case["long_fields"], fail)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    raw_msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        if part.defects:
            fail(f"defects {part.defects}")
    if shape(msg) != case["shape"]:
        fail(f"shape {shape(msg)} != {case['shape']}")
    if msg["MIME-Version"] != "1.0":
        fail("MIME-Version")
    if str(msg["Message-ID"]).strip() != "<" + case["message_id"] + ">":
        fail(f"Message-ID {msg['Message-ID']}")
    date = email.utils.parsedate_to_datetime(str(msg["Date"]))
    if int(date.timestamp()) != case["date_ms"] // 1000 or date.utcoffset().total_seconds() != 0:
        fail(f"Date {msg['Date']}")
    subject = msg["Subject"]
    if (str(subject) if subject is not None else "") != case["subject"]:
        fail(f"Subject {str(subject)!r} != {case['subject']!r}")
    for field in ("from", "to", "cc", "reply_to"):
        check_addresses(msg, raw_msg, field.replace("_", "-"), case[field], fail)
    if "Bcc" in msg:
        fail("Bcc header present")
    for _, address in case["bcc"]:
        if address.encode() in raw:
            fail(f"Bcc address {address} in the message")
    for name, value in case["headers"]:
        values = [str(v) for v in (msg.get_all(name) or [])]
        if values != [value]:
            fail(f"{name}: {values} != {[value]}")
    check_bodies(msg, case, fail)
    check_attachments(msg, case, fail)
    return problems


def main():
    tool, folder = sys.argv[1], sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    subprocess.run([tool, folder], check=True)
    cases = json.load(open(os.path.join(folder, "expected.json"), encoding="utf-8"))
    failed = 0
    for case in cases:
        problems = check_case(folder, case)
        print(("FAIL " if problems else "ok   ") + case["file"])
        for p in problems:
            print("     " + p)
        failed += bool(problems)
    print(f"{len(cases) - failed}/{len(cases)} samples pass")
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
