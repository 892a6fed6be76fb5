#!/usr/bin/python3
"""mime_check.py MSG SUBJECT TEXT [HTML] - parse MSG with Python's email
package (policy=default) and check that the decoded Subject, text body (and
HTML alternative) equal the expected files, and that every line is CRLF
ended, header lines stay under 78 characters and no line exceeds 998."""
import sys
from email import message_from_bytes, policy


def fail(msg):
    print("mime_check:", msg, file=sys.stderr)
    sys.exit(1)


def norm(s):
    return s.replace("\r\n", "\n").rstrip("\n")


raw = open(sys.argv[1], "rb").read()
want_subject = open(sys.argv[2], encoding="utf-8").read()
want_text = open(sys.argv[3], encoding="utf-8").read()
want_html = open(sys.argv[4], encoding="utf-8").read() if len(sys.argv) > 4 else None

if b"\n" in raw.replace(b"\r\n", b"") or b"\r" in raw.replace(b"\r\n", b""):
    fail("bare CR or LF")
head, _, _ = raw.partition(b"\r\n\r\n")
for line in raw.split(b"\r\n"):
    if len(line) > 998:
        fail("line over 998 octets")
    if any(b >= 0x80 for b in line):
        fail("8-bit octet in message")
for line in head.split(b"\r\n"):
    if len(line) >= 78:
        fail("header line of %d chars: %r" % (len(line), line[:90]))

msg = message_from_bytes(raw, policy=policy.default)
if msg.defects:
    fail("defects: %r" % msg.defects)
if str(msg["subject"]) != want_subject:
    fail("subject %r != %r" % (str(msg["subject"]), want_subject))
if want_html is None:
    if msg.get_content_type() != "text/plain":
        fail("content type " + msg.get_content_type())
    body = msg.get_content()
else:
    if msg.get_content_type() != "multipart/alternative":
        fail("content type " + msg.get_content_type())
    body = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    if norm(html) != norm(want_html):
        fail("html differs")
if norm(body) != norm(want_text):
    fail("body differs: %r" % body[:200])
for h in ("date", "from", "to", "message-id", "mime-version"):
    if msg[h] is None:
        fail("missing " + h)
print(msg["content-transfer-encoding"] if want_html is None else "multipart")
