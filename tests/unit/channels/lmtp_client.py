#!/usr/bin/python3
"""LMTP client side of test_lmtp.c: usage lmtp_client.py MODE PORT.

Each mode talks to anpi's LMTP listener the way a real MTA (or a broken
peer) would and exits non-zero, with a message on stderr, when a reply is
not what RFC 2033 and the listener's documented limits say."""
import smtplib
import socket
import sys
import time

HOST = "127.0.0.1"


def die(msg):
    sys.stderr.write("lmtp_client: %s\n" % msg)
    sys.exit(1)


class Raw:
    """A plain socket that reads replies one line at a time."""

    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=20)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.rstrip(b"\r").decode("latin-1")

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            ln = self.line()
            if ln is None:
                return (None, lines)
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                return (int(ln[:3]), lines)

    def expect(self, code, what, text=None):
        c, lines = self.reply()
        if c != code or (text and not any(text in l for l in lines)):
            die("%s: expected %d%s, got %r" % (what, code, " " + text if text else "", lines))
        return lines

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True


MSG = ("From: taro@example.jp\r\n"
       "To: anpi@example.jp\r\n"
       "Subject: test\r\n"
       "\r\n"
       "first\r\n"
       ".leading dot\r\n"
       "..two dots\r\n"
       ".\tdot tab\r\n"
       "last\r\n")


def lmtp_session(port, rcpts, expect_codes):
    s = smtplib.LMTP(HOST, port)
    code, _ = s.ehlo("client.example.jp")      # LMTP.ehlo sends LHLO
    if code != 250:
        die("LHLO: %d" % code)
    for feat in ("pipelining", "enhancedstatuscodes", "8bitmime", "size"):
        if not s.has_extn(feat):
            die("LHLO reply lacks %s: %r" % (feat, s.esmtp_features))
    code, _ = s.mail("<>")
    if code != 250:
        die("MAIL: %d" % code)
    for r in rcpts:
        code, _ = s.rcpt(r)
        if code != 250:
            die("RCPT %s: %d" % (r, code))
    # smtplib reads one DATA reply; LMTP gives one per recipient
    codes = [s.data(MSG.encode())[0]]
    for _ in rcpts[1:]:
        codes.append(s.getreply()[0])
    if codes != expect_codes:
        die("per-recipient replies %r, expected %r" % (codes, expect_codes))
    s.quit()


def mode_multi(port):
    lmtp_session(port, ["bounce+1@anpi.example.jp", "bounce+2@anpi.example.jp",
                        "reply+3@anpi.example.jp"], [250, 250, 250])


def mode_late(port):
    # the consumer answers later: first recipient stored, second failed
    lmtp_session(port, ["a@anpi.example.jp", "b@anpi.example.jp"], [250, 451])


def mode_fail(port):
    lmtp_session(port, ["a@anpi.example.jp", "b@anpi.example.jp"], [451, 451])


def mode_pipeline(port):
    c = Raw(port)
    c.expect(220, "greeting")
    # two transactions and QUIT in one write
    c.send(b"LHLO client.example.jp\r\n"
           b"MAIL FROM:<> BODY=8BITMIME SIZE=100\r\n"
           b"RCPT TO:<p1@anpi.example.jp>\r\n"
           b"RCPT TO:<p2@anpi.example.jp>\r\n"
           b"DATA\r\n"
           b"Subject: one\r\n\r\n..x\r\n.\r\n"
           b"MAIL FROM:<taro@example.jp>\r\n"
           b"RCPT TO:<p3@anpi.example.jp>\r\n"
           b"DATA\r\n"
           b"Subject: two\r\n\r\nbody\r\n.\r\n"
           b"QUIT\r\n")
    lines = c.expect(250, "LHLO")
    if len(lines) != 5 or "250-PIPELINING" not in lines:
        die("LHLO reply %r" % lines)
    for code, what in ((250, "MAIL 1"), (250, "RCPT 1"), (250, "RCPT 2"), (354, "DATA 1"),
                       (250, "msg 1 rcpt 1"), (250, "msg 1 rcpt 2"), (250, "MAIL 2"),
                       (250, "RCPT 3"), (354, "DATA 2"), (250, "msg 2"), (221, "QUIT")):
        c.expect(code, what)
    if not c.closed():
        die("connection still open after QUIT")


def mode_big(port):
    c = Raw(port)
    c.expect(220, "greeting")
    c.send(b"LHLO client.example.jp\r\n")
    c.expect(250, "LHLO")
    c.send(b"MAIL FROM:<> SIZE=999999999999\r\n")
    c.expect(552, "MAIL with SIZE over the cap", "5.3.4")
    c.send(b"MAIL FROM:<>\r\nRCPT TO:<a@anpi.example.jp>\r\nRCPT TO:<b@anpi.example.jp>\r\nDATA\r\n")
    for code in (250, 250, 250, 354):
        c.expect(code, "envelope")
    line = b"x" * 998 + b"\r\n"
    chunk = line * 1024                      # 1 MiB
    for _ in range(100):                     # 100 MiB, streamed
        c.send(chunk)
    c.send(b"x" * 20000 + b"\r\n")             # one very long line too
    c.send(b".\r\n")
    c.expect(552, "rcpt 1 of the 100 MB message", "5.3.4")
    c.expect(552, "rcpt 2 of the 100 MB message", "5.3.4")
    # the session goes on and can deliver a normal message
    c.send(b"MAIL FROM:<>\r\nRCPT TO:<a@anpi.example.jp>\r\nDATA\r\nSubject: small\r\n\r\nok\r\n.\r\n")
    for code in (250, 250, 354, 250):
        c.expect(code, "small message after the big one")
    c.send(b"QUIT\r\n")
    c.expect(221, "QUIT")


def mode_longline(port):
    c = Raw(port)
    c.expect(220, "greeting")
    c.send(b"LHLO " + b"a" * 10000 + b"\r\n")
    c.expect(500, "10000-byte LHLO", "5.5.2")
    c.send(b"NOOP\r\n")
    c.expect(250, "NOOP after long line")
    # a line just under the cap is fine
    c.send(b"NOOP " + b"b" * 4000 + b"\r\n")
    c.expect(250, "4005-byte NOOP")
    c.send(b"LHLO client.example.jp\r\nMAIL FROM:<>\r\nRCPT TO:<a@anpi.example.jp>\r\nDATA\r\n")
    for code in (250, 250, 250, 354):
        c.expect(code, "envelope")
    c.send(b"Subject: long\r\n\r\n." + b"y" * 9000 + b"\r\n.\r\n")
    c.expect(250, "message with a 9000-byte line")
    c.send(b"QUIT\r\n")
    c.expect(221, "QUIT")


def mode_garbage(port):
    c = Raw(port)
    c.expect(220, "greeting")
    c.send(b"MAIL FROM:<>\r\n")
    c.expect(503, "MAIL before LHLO", "5.5.1")
    c.send(b"HELO x\r\n")
    c.expect(500, "HELO on LMTP")
    c.send(b"LHLO x\r\nRCPT TO:<a@b>\r\n")
    c.expect(250, "LHLO")
    c.expect(503, "RCPT before MAIL")
    c.send(b"MAIL FROM:taro@example.jp\r\n")
    c.expect(501, "MAIL without <>")
    c.send(b"MAIL FROM:<a\x01b@example.jp>\r\n")
    c.expect(501, "control char in address")
    c.send(b"DATA\r\n")
    c.expect(503, "DATA without RCPT")
    c.send(b"\x00\xff\xfe binary\r\n")
    c.expect(500, "NUL in command")
    c.send(b"\x80\x81\x82\r\n")
    c.expect(500, "binary command")
    errors = 8
    # keep sending junk: the server gives up at 10 errors with 421
    while True:
        c.send(b"JUNK\r\n")
        code, lines = c.reply()
        if code == 421:
            break
        if code != 500:
            die("junk: %r" % lines)
        errors += 1
        if errors > 20:
            die("no 421 after %d errors" % errors)
    if not c.closed():
        die("still open after 421")


def mode_middata(port):
    c = Raw(port)
    c.expect(220, "greeting")
    c.send(b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@anpi.example.jp>\r\nDATA\r\n")
    for code in (250, 250, 250, 354):
        c.expect(code, "envelope")
    c.send(b"Subject: cut\r\n\r\nhalf a message")
    c.s.close()


def mode_timeout(port):
    c = Raw(port)
    c.expect(220, "greeting")
    t0 = time.monotonic()
    c.expect(421, "idle client", "4.4.2")
    if not c.closed():
        die("still open after the timeout")
    if time.monotonic() - t0 > 5:
        die("timeout took %.1fs" % (time.monotonic() - t0))


def mode_maxconn(port):
    a, b = Raw(port), Raw(port)
    a.expect(220, "conn 1")
    b.expect(220, "conn 2")
    c = Raw(port)
    c.expect(421, "conn 3 over max_conns", "4.3.2")
    if not c.closed():
        die("conn 3 still open")
    a.send(b"QUIT\r\n")
    a.expect(221, "QUIT 1")
    b.send(b"QUIT\r\n")
    b.expect(221, "QUIT 2")


MODES = {name[5:]: f for name, f in globals().items() if name.startswith("mode_")}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        die("usage: lmtp_client.py {%s} PORT" % ",".join(sorted(MODES)))
    MODES[sys.argv[1]](int(sys.argv[2]))
