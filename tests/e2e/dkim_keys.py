# DKIM keys for the end-to-end tests, made by the openssl CLI: the private key file, its DNS TXT
# record (RFC 6376 3.6.1; RFC 8463 4.2: an Ed25519 p= is the bare 32-byte key, RSA's the
# SubjectPublicKeyInfo), and the private key as dkimpy signs with it.
import base64
import os
import subprocess


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def make_key(folder, name, ed25519):
    """(private key path, DNS TXT value) of a new key: RSA 2048 or Ed25519."""
    path = os.path.join(folder, name)
    if ed25519:
        openssl("genpkey", "-algorithm", "ed25519", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    der = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    public = der[-32:] if ed25519 else der
    kind = "ed25519" if ed25519 else "rsa"
    return path, f"v=DKIM1; k={kind}; p={base64.b64encode(public).decode()}"


def dkimpy_key(path, ed25519):
    """The private key as dkim.sign() takes it: RSA's PEM, or the base64 of Ed25519's 32-byte
    seed (the end of its PKCS#8 DER)."""
    if ed25519:
        return base64.b64encode(openssl("pkey", "-in", path, "-outform", "DER")[-32:])
    with open(path, "rb") as f:
        return f.read()
