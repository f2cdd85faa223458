#!/usr/bin/python3
# Schema test of the bridge.v1 webhook document: openapi/openapi.yaml must be a valid JSON Schema
# 2020-12 description, and every document payload_dump renders (project messages and the shared
# corpora, LF and CRLF) must be strict UTF-8 JSON that validates against BridgeV1.
import argparse
import glob
import json
import os
import re
import subprocess
import sys

import jsonschema
import yaml

WEBHOOK_SCHEMA_REF = "#/components/schemas/BridgeV1"

# RFC 3339 5.6 date-time (checked here because jsonschema's own checker needs an extra package).
DATE_TIME = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
    r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$")


def bridge_validator(openapi):
    """A Draft 2020-12 validator for BridgeV1 that resolves #/components/... refs in openapi."""
    schemas = openapi["components"]["schemas"]
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(DATE_TIME.match(value)))
    resolver = jsonschema.RefResolver.from_schema(openapi)
    return jsonschema.Draft202012Validator(schemas["BridgeV1"], resolver=resolver, format_checker=checker)


# JSON Schema 2020-12 keywords (+ OpenAPI's annotations) the schemas may use; anything else is a
# typo or a YAML flow-mapping accident ("description: a, b" splits into two keys).
KEYWORDS = {"$ref", "$schema", "$id", "$defs", "$comment", "title", "description", "type", "const", "enum",
            "properties", "required", "additionalProperties", "items", "prefixItems", "oneOf", "anyOf", "allOf",
            "not", "pattern", "format", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
            "examples", "default", "deprecated", "readOnly", "writeOnly", "discriminator", "example"}


def check_keywords(schema, where):
    if isinstance(schema, bool):
        return
    assert isinstance(schema, dict), where
    unknown = set(schema) - KEYWORDS
    assert not unknown, f"{where}: unknown keywords {sorted(unknown)}"
    for key in ("properties", "$defs"):
        for name, sub in schema.get(key, {}).items():
            check_keywords(sub, f"{where}/{key}/{name}")
    for key in ("oneOf", "anyOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            check_keywords(sub, f"{where}/{key}/{i}")
    for key in ("items", "not", "additionalProperties"):
        if key in schema:
            check_keywords(schema[key], f"{where}/{key}")


def check_document_shape(openapi):
    for name, schema in openapi["components"]["schemas"].items():
        check_keywords(schema, f"#/components/schemas/{name}")
    assert openapi["openapi"] == "3.1.0", openapi["openapi"]
    post = openapi["webhooks"]["message-received"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": WEBHOOK_SCHEMA_REF}, schema
    headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "webhook-attempt"):
        assert name in headers, name


def dump(tool, files, *flags):
    out = subprocess.run([tool, *flags, *files], check=True, stdout=subprocess.PIPE).stdout
    text = out.decode("utf-8", errors="strict")  # every string valid UTF-8, also in raw JSON text
    docs = [json.loads(line) for line in text.splitlines()]
    assert len(docs) == len(files), (len(docs), len(files))
    return docs


def validate_all(validator, docs, files, label):
    failures = 0
    for doc, path in zip(docs, files):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for error in errors[:3]:
            print(f"FAIL {label} {path}: {'/'.join(map(str, error.absolute_path))}: {error.message[:300]}")
        failures += bool(errors)
    return failures


def walk_parts(parts):
    for part in parts:
        yield part
        yield from walk_parts(part["parts"])


def check_rejects_bad_documents(validator, good):
    """The schema must be able to fail: each mutation of a valid document is rejected."""
    def mutated(change):
        doc = json.loads(json.dumps(good))
        change(doc)
        return doc
    attachment = next(i for i, a in enumerate(good["message"]["attachments"]) if "content" in a)
    mutations = {
        "extra top-level field": lambda d: d.update(extra=1),
        "wrong version": lambda d: d.update(version="bridge.v2"),
        "bad received_at": lambda d: d.update(received_at="27 Nov 2026"),
        "name missing": lambda d: d["message"]["from"].append({"address": "x@example.com"}),
        "content and omitted": lambda d: d["message"]["attachments"][attachment].update(omitted=True),
        "neither content nor omitted": lambda d: d["message"]["attachments"][attachment].pop("content"),
        "sha256 not hex": lambda d: d["message"].update(sha256="XYZ"),
        "part without parts": lambda d: d["message"]["parts"][0].pop("parts"),
        "tls wrong type": lambda d: d["envelope"].update(tls="TLSv1.3"),
        "raw with line breaks": lambda d: d.update(raw="QUFB\nQUFB"),
    }
    failures = 0
    for name, change in mutations.items():
        if validator.is_valid(mutated(change)):
            print(f"FAIL schema accepts a bad document: {name}")
            failures += 1
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", required=True)
    parser.add_argument("--openapi", required=True)
    parser.add_argument("--messages", required=True)
    parser.add_argument("--corpora", required=True)
    args = parser.parse_args()

    with open(args.openapi, encoding="utf-8") as f:
        openapi = yaml.safe_load(f)
    check_document_shape(openapi)
    validator = bridge_validator(openapi)

    own = sorted(glob.glob(os.path.join(args.messages, "*.eml")))
    corpora = sorted(glob.glob(os.path.join(args.corpora, "**", "*.eml"), recursive=True) +
                     glob.glob(os.path.join(args.corpora, "**", "*.msg"), recursive=True))
    assert len(own) >= 4, own
    assert len(corpora) >= 100, f"corpora not found under {args.corpora}"

    failures = 0
    own_docs = dump(args.dump, own, "--raw", "--max-attachment-bytes", "1000")
    failures += validate_all(validator, own_docs, own, "messages")
    failures += validate_all(validator, dump(args.dump, own, "--crlf"), own, "messages/crlf")
    for flags in ((), ("--crlf", "--raw", "--max-attachment-bytes", "4096")):
        failures += validate_all(validator, dump(args.dump, corpora, *flags), corpora, "corpora" + "".join(flags))

    # The project's messages exercise what the schema's branches describe.
    by_name = {os.path.basename(p): d for p, d in zip(own, own_docs)}
    nested = by_name["multipart_nested.eml"]["message"]
    assert any(p["content_type"] == "message/rfc822" and p["parts"] for p in walk_parts(nested["parts"]))
    assert any(a["content_id"] for a in nested["attachments"])
    assert nested["sender"] is not None and nested["date"] == "2025-11-27T01:00:00+01:00", nested["date"]
    assert by_name["whole_body_attachment.eml"]["message"]["attachments"][0].get("omitted") is True
    assert by_name["garbage.eml"]["message"]["defects"], "garbage renders with defects"
    assert all(d["raw"] is not None for d in own_docs)
    failures += check_rejects_bad_documents(validator, by_name["multipart_nested.eml"])

    print(f"validated {2 * len(own) + 2 * len(corpora)} documents, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
