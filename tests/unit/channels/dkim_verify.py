#!/usr/bin/python3
"""dkim_verify.py MSG NAME=PUBDER:KIND... - verify every DKIM-Signature of MSG
with Debian's python3-dkim (an independent implementation), the DNS answered
from the given public keys: NAME is "selector._domainkey.domain", PUBDER a
DER SubjectPublicKeyInfo file (openssl pkey -pubout -outform DER), KIND rsa
or ed25519.  Also parses MSG with the email package (policy=default) and
fails on defects.  Prints one "IDX pass" or "IDX fail" line per signature."""
import base64
import sys
from email import message_from_bytes, policy

import dkim

raw = open(sys.argv[1], "rb").read()
records = {}
for spec in sys.argv[2:]:
    name, rest = spec.split("=", 1)
    path, kind = rest.rsplit(":", 1)
    der = open(path, "rb").read()
    # RFC 8463 section 4: an Ed25519 p= is the bare 32-byte key, the tail of
    # its SubjectPublicKeyInfo; RSA p= is the whole SubjectPublicKeyInfo.
    key = der[-32:] if kind == "ed25519" else der
    records[(name + ".").encode()] = (
        b"v=DKIM1; k=" + kind.encode() + b"; p=" + base64.b64encode(key))


def dnsfunc(name, timeout=5):
    return records.get(name)


msg = message_from_bytes(raw, policy=policy.default)
if msg.defects:
    print("defects: %r" % msg.defects, file=sys.stderr)
    sys.exit(1)
n = len(msg.get_all("DKIM-Signature") or [])
if n == 0:
    print("no DKIM-Signature", file=sys.stderr)
    sys.exit(1)
# The first signature through dkim.verify() itself, which answers False for
# a bad signature; the others by index (those raise on some failures).
print(0, "pass" if dkim.verify(raw, dnsfunc=dnsfunc) else "fail")
d = dkim.DKIM(raw)
for i in range(1, n):
    try:
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.DKIMException as e:
        print("signature %d: %s" % (i, e), file=sys.stderr)
        ok = False
    print(i, "pass" if ok else "fail")
