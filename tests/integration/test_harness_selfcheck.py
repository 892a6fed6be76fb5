"""Self-check of harness.py: the pieces the end-to-end tests stand on work on
this machine (PostgreSQL cluster, SMTP sink, YAML emitter, HTTP client).
Run with /usr/bin/python3; prints TAP."""

import os
import smtplib
import socket
import sys
import tempfile
import threading
import traceback
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def test_pg_cluster(tmp):
    with harness.PgCluster(tmp) as pg:
        assert pg.psql("SELECT 1") == "1", "SELECT 1 did not answer 1"
        assert pg.psql("SELECT current_database()") == "anpi"
        assert "host=" + pg.sockdir in pg.conninfo
        pg.psql("CREATE TABLE t (s text); INSERT INTO t VALUES ('試験 太郎')")
        assert pg.psql("SELECT s FROM t") == "試験 太郎", "UTF-8 text did not round-trip"
        datadir = pg.datadir
    assert not os.path.exists(datadir), "cluster directory not cleaned up"


def test_smtp_sink(tmp):
    with harness.SmtpSink(tmp) as sink:
        msg = EmailMessage()
        msg["From"] = "anpi@example.jp"
        msg["To"] = "taro@example.jp"
        msg["Subject"] = "安否確認 (試験)"
        msg.set_content("試験 太郎 様\nhttp://127.0.0.1:8080/r/abc\n")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
            s.send_message(msg, from_addr="anpi@example.jp",
                           to_addrs=["taro@example.jp", "hanako@example.jp"])
        got = harness.wait_for(lambda: sink.messages(), 10, what="dumped message")
        assert len(got) == 1, "expected 1 message, got %d" % len(got)
        rcpts, parsed = got[0]
        assert rcpts == ["taro@example.jp", "hanako@example.jp"], rcpts
        assert str(parsed["Subject"]) == "安否確認 (試験)", parsed["Subject"]
        body = parsed.get_body(("plain",)).get_content()
        assert "/r/abc" in body, body


def test_free_port_and_wait_for(_tmp):
    port = harness.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))      # really free
    try:
        harness.wait_for(lambda: False, 0.2, what="never")
    except harness.HarnessError as e:
        assert "never" in str(e)
    else:
        raise AssertionError("wait_for did not time out")


def test_yaml_emitter(_tmp):
    cfg = {
        "database": {"conninfo": "host=/tmp/x dbname=anpi"},
        "listen": {"public": "127.0.0.1:8080", "admin": "[::1]:8081"},
        "smtp": {"relays": [{"host": "127.0.0.1", "port": 2525, "tls": "none"}],
                 "from": "anpi@example.jp"},
        "rules": {"paths": []},
        "api": {"token": "yes"},
        "odd": ["- dash", "a: b", "#x", "@at", "123", "1e3", "", "null", "quote\"\\",
                "試験 太郎", "line\nbreak", True, None, 1.5, "trail "],
    }
    text = harness.to_yaml(cfg)
    expected_lines = [
        "database:",
        "  conninfo: host=/tmp/x dbname=anpi",
        "  public: \"127.0.0.1:8080\"",
        "  admin: \"[::1]:8081\"",
        "  relays:",
        "    - host: \"127.0.0.1\"",
        "      port: 2525",
        "      tls: none",
        "  paths: []",
        "  token: \"yes\"",
        "  - \"- dash\"",
        "  - \"a: b\"",
        "  - \"line\\nbreak\"",
        "  - 試験 太郎",
        "  - null",
    ]
    for line in expected_lines:
        assert line in text.splitlines(), "missing %r in:\n%s" % (line, text)
    try:
        import yaml  # python3-yaml, when installed: check the text reads back
    except ImportError:
        return
    assert yaml.safe_load(text) == cfg, "YAML did not read back equal"


def test_api_client(_tmp):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _answer(self, code, body):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.headers.get("Authorization") != "Bearer t0ken-0123456789abcdef":
                self._answer(401, '{"error":"unauthorized"}')
            else:
                self._answer(200, '{"ok":true}')

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            self._answer(202, self.rfile.read(n).decode())

    srv = HTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        base = "http://127.0.0.1:%d" % srv.server_address[1]
        assert harness.Api(base, "wrong").get("/x") == (401, {"error": "unauthorized"})
        api = harness.Api(base, "t0ken-0123456789abcdef")
        assert api.get("/x") == (200, {"ok": True})
        assert api.post("/y", {"comment": "確認"}) == (202, {"comment": "確認"})
    finally:
        srv.shutdown()
        srv.server_close()


FAKE_ANPID = r"""#!/usr/bin/python3
# A stand-in for anpid: serves GET /healthz on listen.admin, exits on SIGTERM
# with status 0.
import re, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
cfg = open(sys.argv[sys.argv.index("--config") + 1]).read()
host, port = re.search(r'admin: "?([0-9.]+):([0-9]+)', cfg).groups()
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        print("request", *a, flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("fake anpid listening", flush=True)
HTTPServer((host, int(port)), H).serve_forever()
"""


def test_anpid_lifecycle(tmp):
    # The real anpid's behaviour is the end-to-end tests' business; this
    # checks the harness's own process handling against a stand-in.
    build = os.path.join(tmp, "build")
    os.makedirs(build)
    fake = os.path.join(build, "anpid")
    with open(fake, "w") as f:
        f.write(FAKE_ANPID)
    os.chmod(fake, 0o755)

    class FakePg:
        conninfo = "host=/nonexistent dbname=anpi"
    cfg = harness.base_config(FakePg(), outbox=os.path.join(tmp, "outbox"))
    d = harness.Anpid(build, cfg, os.path.join(tmp, "work"))
    try:
        assert d.alive()
        assert d.api.get("/healthz")[0] == 200
        assert d.stop() == 0, "SIGTERM did not end the process with 0"
        assert not d.alive()
        d.start()
        first = d.proc.pid
        d.restart()
        assert d.alive() and d.proc.pid != first, "restart did not start a new process"
        d.kill9()
        assert d.proc.returncode == -9
        assert d.log().count("fake anpid listening") == 3, d.log()
        assert "outbox:" in open(d.config_path).read()
    finally:
        d.stop()
    # A daemon that dies at once is reported with its log, not waited for.
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho 'config: bad key' >&2\nexit 3\n")
    try:
        harness.Anpid(build, cfg, os.path.join(tmp, "work2"), timeout=5)
    except harness.HarnessError as e:
        assert "exited with 3" in str(e) and "config: bad key" in str(e), str(e)
    else:
        raise AssertionError("a dying anpid was not reported")


TESTS = [test_pg_cluster, test_smtp_sink, test_free_port_and_wait_for,
         test_yaml_emitter, test_api_client, test_anpid_lifecycle]


def main():
    print("1..%d" % len(TESTS))
    failed = 0
    for i, t in enumerate(TESTS, 1):
        with tempfile.TemporaryDirectory(prefix="anpi-selfcheck-") as tmp:
            try:
                t(tmp)
                print("ok %d - %s" % (i, t.__name__))
            except Exception:
                failed += 1
                print("not ok %d - %s" % (i, t.__name__))
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
