# The default endpoint name (src/common/endpoint_name.h), computed independently for the tests:
# host[:port unless the scheme's default], then "/" and the FNV-1a 32-bit hash (8 hex digits) of
# the path without trailing "/" plus "?query" when there is either.
from urllib.parse import urlsplit


def fnv1a32(data):
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def default_endpoint_name(url):
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if scheme == "https" else 80)
    name = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if parts.query:
        path += "?" + parts.query
    return name if not path else f"{name}/{fnv1a32(path.encode()):08x}"
