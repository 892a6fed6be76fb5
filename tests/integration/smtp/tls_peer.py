#!/usr/bin/python3
"""tls_peer.py - an aiosmtpd peer for the SMTP client's TLS and AUTH tests.

tls_peer.py PORT CERT KEY OUTDIR MODE USER PASS
  MODE starttls:   STARTTLS offered and required, AUTH required (over TLS only)
  MODE plain:      no STARTTLS at all (the client must refuse to go on)
Every accepted message is written to OUTDIR/msg-N with its envelope first.
Prints READY on stdout once listening; runs until killed."""
import os
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, outdir, mode, user, password = sys.argv[1:8]


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        with open(os.path.join(outdir, "msg-%d" % self.n), "wb") as f:
            f.write(b"X-Mail-From: " + envelope.mail_from.encode() + b"\n")
            for r in envelope.rcpt_tos:
                f.write(b"X-Rcpt-To: " + r.encode() + b"\n")
            f.write(b"X-Auth: " + str(session.authenticated).encode() + b"\n")
            f.write(envelope.original_content or envelope.content)
        return "250 2.0.0 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
          and auth_data.password == password.encode())
    # handled=False: let aiosmtpd send the 535 itself on failure.
    return AuthResult(success=ok, handled=False)


kwargs = {}
if mode == "starttls":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs = dict(tls_context=ctx, require_starttls=True, auth_required=True,
                  auth_require_tls=True, authenticator=authenticator)
ctl = Controller(Handler(), hostname="127.0.0.1", port=int(port), **kwargs)
ctl.start()
print("READY", flush=True)
signal.signal(signal.SIGTERM, lambda *a: (ctl.stop(), sys.exit(0)))
while True:
    time.sleep(3600)
