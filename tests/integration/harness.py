"""harness.py - building blocks for anpi's end-to-end tests.

Python 3 standard library only; run the tests with /usr/bin/python3 (Debian's
interpreter, the one python3-aiosmtpd and python3-dkim import under).

    PgCluster(tmpdir)             private PostgreSQL 15 on a unix socket
    SmtpSink(tmpdir, port=None)   Postfix smtp-sink dumping each mail to a file
    free_port()                   a currently free loopback TCP port
    base_config(pg, sink)         a config dict on free ports for Anpid
    Anpid(build_dir, cfg, wd)     anpid started from a config dict
    Api(base, token)              JSON client for the admin API
    wait_for(pred, timeout)       poll until pred() is truthy (eventually(): no raise)
    form_request(url, data)       a reply page fetched or posted as a phone would
    settle(anpid, sink)           wait until the mail has gone out
    sink_mails(), reply_link()    the sink's mails, and the reply link in one
    account_token(pg, login, role)  an account and a token written with psql
    Tap(), scratch_dir(prefix)    the tests' TAP output and main(), their temp dir

Every blocking step has a timeout, so a hung component fails the test with a
message instead of hanging CI.  Components are context managers and also
stop themselves at interpreter exit, so a failing test leaves no daemons.
"""

import atexit
import base64
import contextlib
import email
import email.policy
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import traceback
import urllib.error
import urllib.request

PG_BIN = os.environ.get("ANPI_PG_BIN", "/usr/lib/postgresql/15/bin")
SMTP_SINK = os.environ.get("ANPI_SMTP_SINK", "/usr/sbin/smtp-sink")

_live = []          # components to stop at exit if a test forgot or crashed


@atexit.register
def _stop_all():
    for comp in reversed(list(_live)):
        try:
            comp.stop()
        except Exception:  # best effort at exit; the real error was already raised
            pass


class HarnessError(RuntimeError):
    pass


# A change made behind anpid's back (with psql, or through another node) to
# an account, a token, a session or the groups reaches anpid's caches by a
# PostgreSQL notification, which takes milliseconds (changes made through
# anpid itself show on the very next request).  A test asks for the change
# with after_notify(): repeatedly, for up to NOTIFY_TIMEOUT, so no fixed
# sleep is bet on how fast a loaded machine delivers one.  A change that
# shows within it came by the notification only if the cached entry was
# new (a token or a group admin used for the first time just before the
# change): an entry in use for seconds may reach the caches' own 5 s
# refresh inside the window.
NOTIFY_TIMEOUT = 3.0


def after_notify(pred):
    """pred()'s value once it is truthy, or its last value after
    NOTIFY_TIMEOUT: for a check that a notified change has shown."""
    return eventually(pred, NOTIFY_TIMEOUT)


def eventually(pred, timeout, interval=0.05):
    """Call pred() until it returns a truthy value or `timeout` seconds pass;
    return its last value.  For checks (a timeout is a failed check, not an
    error of the harness as with wait_for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_for(pred, timeout=10.0, interval=0.05, what=None):
    """Call pred() until it returns a truthy value and return that value.
    Raises HarnessError after `timeout` seconds (naming `what`)."""
    value = eventually(pred, timeout, interval)
    if not value:
        raise HarnessError("timed out after %.1fs waiting for %s"
                           % (timeout, what or getattr(pred, "__name__", "condition")))
    return value


def served_stale(read, change, tries):
    """Evidence that read() is answered from a cache: read() (which warms
    the cache), change(i) behind the server's back, read() again at once;
    true when that second read still gives what the first gave, in one of
    `tries` tries (change(i) must make a change of its own each time,
    i = 0, 1, ...).  On a loaded machine the cache may expire between two
    reads, so one try proves nothing; a server without the cache never
    passes.  Returns (stale_seen, tries_made, [(before, after), ...]): no
    timing is asserted, the caller waits for the change to show."""
    seen = []
    for i in range(tries):
        before = read()
        change(i)
        after = read()
        seen.append((before, after))
        if after == before:
            return True, i + 1, seen
    return False, tries, seen


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _is_root():
    return os.geteuid() == 0


def _tail(path, n=40):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log at %s)" % path


def _run(argv, timeout, what, **kw):
    """subprocess.run with a timeout and an error that shows the output."""
    try:
        res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise HarnessError("%s: timed out after %ss: %s" % (what, timeout, " ".join(argv)))
    if res.returncode != 0:
        raise HarnessError("%s failed (exit %d): %s\n%s"
                           % (what, res.returncode, " ".join(argv),
                              res.stdout.decode(errors="replace")))
    return res.stdout.decode(errors="replace")


def _traversable_by_others(path):
    """True when every directory from / down to path lets others in (o+x)."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


class PgCluster:
    """A private PostgreSQL 15 cluster listening only on a unix socket.

    initdb refuses to run as root, so as root the cluster belongs to the
    `postgres` user (runuser); otherwise it runs as the current user.  The
    cluster lives in <tmpdir>/pg; when tmpdir cannot be reached by `postgres`
    (e.g. under /root) a private directory under /tmp is used instead."""

    def __init__(self, tmpdir, dbname="anpi", start=True, timeout=30):
        self.timeout = timeout
        self.dbname = dbname
        self.as_postgres = _is_root()
        base = os.path.abspath(tmpdir)
        os.makedirs(base, exist_ok=True)
        if self.as_postgres:
            os.chmod(base, os.stat(base).st_mode | 0o711)
            if not _traversable_by_others(base):
                base = tempfile.mkdtemp(prefix="anpi-pg-")
                os.chmod(base, 0o711)
                self._own_base = base
        self.dir = os.path.join(base, "pg")
        self.datadir = os.path.join(self.dir, "data")
        self.sockdir = os.path.join(self.dir, "run")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.port = 5432            # only names the socket file; no TCP listener
        self.running = False
        os.makedirs(self.sockdir, exist_ok=True)
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            for d in (self.dir, self.sockdir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o755)
        _run(self._as_owner([os.path.join(PG_BIN, "initdb"), "-D", self.datadir,
                             "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                             "-U", "postgres", "--no-sync"]),
             timeout, "initdb")
        if start:
            self.start()
            self.createdb(dbname)

    def _as_owner(self, argv):
        return (["runuser", "-u", "postgres", "--"] + argv) if self.as_postgres else argv

    @property
    def conninfo(self):
        return "host=%s port=%d dbname=%s user=postgres" % (self.sockdir, self.port, self.dbname)

    def start(self):
        opts = ("-k %s -c listen_addresses='' -p %d -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off" % (self.sockdir, self.port))
        _run(self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir,
                             "-l", self.logfile, "-o", opts, "-w",
                             "-t", str(int(self.timeout)), "start"]),
             self.timeout + 5, "pg_ctl start")
        self.running = True
        if self not in _live:
            _live.append(self)

    def createdb(self, name):
        self.psql("CREATE DATABASE %s" % name, db="postgres")

    def psql(self, sql, db=None, timeout=15):
        """Run one SQL string with psql; returns the unaligned, tuples-only output."""
        return _run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                     "-h", self.sockdir, "-p", str(self.port), "-U", "postgres",
                     "-d", db or self.dbname, "-c", sql],
                    timeout, "psql").strip()

    def stop(self, cleanup=True):
        if self.running:
            self.running = False
            try:
                _run(self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir,
                                     "-m", "immediate", "-w", "-t", "20", "stop"]),
                     25, "pg_ctl stop")
            finally:
                if self in _live:
                    _live.remove(self)
        if cleanup:
            shutil.rmtree(self.dir, ignore_errors=True)
            if getattr(self, "_own_base", None):
                shutil.rmtree(self._own_base, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SmtpSink:
    """Postfix smtp-sink on 127.0.0.1:port dumping every mail transaction to
    its own file under <tmpdir>/sink.  messages() parses the dumps."""

    def __init__(self, tmpdir, port=None, extra_args=(), timeout=10):
        self.port = port or free_port()
        base = os.path.abspath(tmpdir)
        os.makedirs(base, exist_ok=True)
        self._own_base = None
        argv = [SMTP_SINK]
        if _is_root():
            # smtp-sink must drop privileges as root; the dump dir must then
            # be reachable and writable by that user.
            os.chmod(base, os.stat(base).st_mode | 0o711)
            if not _traversable_by_others(base):
                base = self._own_base = tempfile.mkdtemp(prefix="anpi-sink-")
                os.chmod(base, 0o711)
            argv += ["-u", "nobody"]
        self.dir = os.path.join(base, "sink")
        os.makedirs(self.dir, exist_ok=True)
        if _is_root():
            pw = pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        argv += list(extra_args)
        argv += ["-d", os.path.join(self.dir, "m."), "127.0.0.1:%d" % self.port, "64"]
        self.logfile = os.path.join(os.path.abspath(tmpdir), "smtp-sink.log")
        self._log = open(self.logfile, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _live.append(self)
        try:
            wait_for(self._accepting, timeout, what="smtp-sink on port %d" % self.port)
        except HarnessError:
            self.stop()
            raise HarnessError("smtp-sink did not start: %s" % _tail(self.logfile))

    def _accepting(self):
        if self.proc.poll() is not None:
            raise HarnessError("smtp-sink exited with %s: %s"
                               % (self.proc.returncode, _tail(self.logfile)))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.settimeout(2)
                return s.recv(512).startswith(b"220")
        except OSError:
            return False

    def files(self):
        out = []
        for root, _dirs, names in os.walk(self.dir):
            out.extend(os.path.join(root, n) for n in names)
        return sorted(out, key=lambda p: (os.stat(p).st_mtime, p))

    def messages(self):
        """[(envelope_recipients, email.message.EmailMessage)] for every dump
        file, oldest first.  X-Rcpt-Args lines carry the envelope recipients."""
        result = []
        for path in self.files():
            with open(path, "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            rcpts = []
            for arg in msg.get_all("X-Rcpt-Args", []):
                m = re.search(r"<([^>]*)>", str(arg))
                rcpts.append(m.group(1) if m else str(arg).split()[0])
            result.append((rcpts, msg))
        return result

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()
        if self in _live:
            _live.remove(self)
        if self._own_base:
            shutil.rmtree(self._own_base, ignore_errors=True)
            self._own_base = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- a small YAML emitter: dicts, lists, str, int, float, bool, None ---------

# Plain (unquoted) only for strings that cannot be read back as anything else:
# starting with a letter, '_' or '/', and no indicator sequences.
_PLAIN_OK = re.compile(r"^[A-Za-z_/\u3000-\u9fff][A-Za-z0-9_./@+=, :\u3000-\u9fff\uff00-\uffef-]*$")
_YAML_SPECIAL = {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false",
                 "False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on", "On",
                 "ON", "off", "Off", "OFF", "y", "Y", "n", "N"}


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v != v:
        return ".nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return ".inf" if v > 0 else "-.inf"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    if (_PLAIN_OK.match(s) and s not in _YAML_SPECIAL
            and ": " not in s and not s.endswith((":", " ")) and " #" not in s):
        return s
    # Double-quoted style: escape what YAML requires, keep UTF-8 text as is.
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _yaml_lines(v, indent):
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            return [pad + "{}"]
        lines = []
        for k, item in v.items():
            key = _yaml_scalar(str(k))
            if isinstance(item, (dict, list)) and item:
                lines.append("%s%s:" % (pad, key))
                lines.extend(_yaml_lines(item, indent + 1))
            else:
                lines.append("%s%s: %s" % (pad, key, _yaml_inline(item)))
        return lines
    if isinstance(v, list):
        if not v:
            return [pad + "[]"]
        lines = []
        for item in v:
            if isinstance(item, (dict, list)) and item:
                sub = _yaml_lines(item, indent + 1)
                # "- " replaces the first line's indentation step.
                lines.append(pad + "- " + sub[0][len(pad) + 2:])
                lines.extend(sub[1:])
            else:
                lines.append(pad + "- " + _yaml_inline(item))
        return lines
    return [pad + _yaml_scalar(v)]


def _yaml_inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _yaml_scalar(v)


def to_yaml(value):
    """YAML text for a tree of dicts, lists and scalars (block style)."""
    return "\n".join(_yaml_lines(value, 0)) + "\n"


# --- the admin API client ----------------------------------------------------

class Api:
    """get/post return (status, body): body is the decoded JSON when the answer
    is JSON, else the text.  4xx/5xx do not raise; connection errors and
    timeouts do (a dead daemon must fail the test)."""

    def __init__(self, base, token=None, timeout=10):
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, content_type=None, headers=None):
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                content_type = content_type or "application/json"
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = bytes(body)
            if content_type:
                hdrs["Content-Type"] = content_type
        if self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.base + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, self._decode(resp)
        except urllib.error.HTTPError as e:
            with e:
                return e.code, self._decode(e)

    @staticmethod
    def _decode(resp):
        raw = resp.read()
        text = raw.decode("utf-8", errors="replace")
        ctype = resp.headers.get("Content-Type", "") if resp.headers else ""
        if "json" in ctype or text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)


# --- anpid --------------------------------------------------------------------

def base_config(pg, sink=None, outbox=None, token="test-token-0123456789abcdef", **extra):
    """A config dict for Anpid on free loopback ports: the cluster's conninfo,
    the sink as the only relay (or an outbox directory), the test token.
    Keyword arguments are added as top-level keys (replacing defaults)."""
    public = "127.0.0.1:%d" % free_port()
    cfg = {
        "database": {"conninfo": pg.conninfo},
        "listen": {"public": public, "admin": "127.0.0.1:%d" % free_port()},
        "public_url": "http://" + public,
        "api": {"token": token},
        "log": {"level": "debug"},
    }
    if sink is not None:
        cfg["smtp"] = {"relays": [{"host": "127.0.0.1", "port": sink.port, "tls": "none"}],
                       "from": "anpi@example.jp", "timeout": 10}
    if outbox is not None:
        cfg["outbox"] = {"dir": outbox}
        cfg.setdefault("smtp", {"from": "anpi@example.jp"})
    cfg.update(extra)
    return cfg


class Anpid:
    """anpid started from a config dict.  The config is written as YAML to
    <workdir>/anpid.yaml, the log (stdout+stderr) goes to <workdir>/anpid.log
    (appended across restarts).  Ready means GET /healthz on listen.admin
    answers 200."""

    def __init__(self, build_dir, config, workdir, start=True, timeout=20, extra_args=()):
        self.binary = os.path.join(os.path.abspath(build_dir), "anpid")
        if not os.access(self.binary, os.X_OK):
            raise HarnessError("no anpid binary at %s" % self.binary)
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.config = config
        self.config_path = os.path.join(self.workdir, "anpid.yaml")
        self.logfile = os.path.join(self.workdir, "anpid.log")
        self.timeout = timeout
        self.extra_args = list(extra_args)
        self.proc = None
        admin = config.get("listen", {}).get("admin", "127.0.0.1:8081")
        self.admin_url = "http://" + admin
        public = config.get("listen", {}).get("public", "127.0.0.1:8080")
        self.public_url = "http://" + public
        self.api = Api(self.admin_url, config.get("api", {}).get("token"))
        self.write_config()
        if start:
            self.start()

    def write_config(self):
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(to_yaml(self.config))

    def check(self, timeout=20):
        """Run `anpid --config F --check`: returns (exit code, output)."""
        res = subprocess.run([self.binary, "--config", self.config_path, "--check"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=timeout, cwd=self.workdir)
        return res.returncode, res.stdout.decode(errors="replace")

    def start(self):
        if self.proc and self.proc.poll() is None:
            raise HarnessError("anpid already running (pid %d)" % self.proc.pid)
        log = open(self.logfile, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "--config", self.config_path]
                                         + self.extra_args,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        finally:
            log.close()
        if self not in _live:
            _live.append(self)
        try:
            wait_for(self._healthy, self.timeout, what="anpid /healthz")
        except HarnessError as e:
            self.stop()
            raise HarnessError("%s\n--- anpid.log (tail) ---\n%s" % (e, _tail(self.logfile)))

    def _healthy(self):
        if self.proc.poll() is not None:
            raise HarnessError("anpid exited with %s before it was ready\n--- anpid.log ---\n%s"
                               % (self.proc.returncode, _tail(self.logfile)))
        try:
            status, _ = Api(self.admin_url, timeout=2).get("/healthz")
            return status == 200
        except (OSError, urllib.error.URLError):
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s.  Returns the exit status
        (tests can assert 0: under ASan a leak at exit makes it non-zero)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
        if self in _live:
            _live.remove(self)
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self in _live:
            _live.remove(self)

    def restart(self):
        self.stop()
        self.write_config()
        self.start()

    def log(self):
        with open(self.logfile, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- accounts and tokens written behind anpid's back ------------------------------

def new_secret():
    """A credential in anpi's format: anpi_ + 43 base64url characters."""
    return "anpi_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def _sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def token_for_account(pg, account_id, scopes=31):
    """A bearer token acting as the account, written with psql (only its
    SHA-256 is stored, as engine/auth/apitoken.h does)."""
    token = new_secret()
    pg.psql("INSERT INTO api_tokens (account_id, hash, scopes) VALUES (%s, '%s', %d)"
            % (account_id, sha256_hex(token), scopes))
    return token


def account_token(pg, login, role, groups=(), person=None, disabled=False, scopes=31):
    """An account (its password is never checked on this path), the groups it
    administers and a bearer token acting as it, written with psql;
    (account id, token)."""
    aid = int(pg.psql("INSERT INTO accounts (login, role, person_id, password_hash, must_change, created_by,"
                      " disabled_at) VALUES (%s, %s, %s, 'x', false, 'test', %s) RETURNING id"
                      % (_sql_str(login), _sql_str(role), _sql_str(person) if person else "NULL",
                         "now()" if disabled else "NULL")).split()[0])
    for g in groups:
        pg.psql("INSERT INTO account_groups (account_id, group_id) VALUES (%d, %d)" % (aid, int(g)))
    return aid, token_for_account(pg, aid, scopes)


# --- what a phone does with its mail: the reply page, and waiting for mail ----

def form_request(url, data=None, timeout=10):
    """GET url, or POST data (bytes) as an urlencoded form, the way a reply
    page is used from a phone; (status, text, headers) for errors too."""
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode(errors="replace"), e.headers


def settle(anpid, sink, timeout=20, quiet_s=0.7):
    """Wait until anpid has no delivery in flight and the sink got nothing
    new for quiet_s seconds."""
    def quiet():
        before = len(sink.files())
        time.sleep(quiet_s)
        _s, h = anpid.api.get("/healthz")
        return h.get("deliveries_in_flight", 1) == 0 and len(sink.files()) == before
    wait_for(quiet, timeout, what="deliveries to settle")


def sink_mails(sink, marker=None, start=0):
    """[(recipient, subject, text)] of the sink's mails after the first
    `start`, only those whose subject contains marker (all when None)."""
    out = []
    for rcpts, msg in sink.messages()[start:]:
        subject = str(msg["subject"])
        if marker is not None and marker not in subject:
            continue
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        for r in rcpts:
            out.append((r, subject, text))
    return out


def reply_link(mails, address):
    """The public reply link (/r/...) of the first of mails (sink_mails rows)
    sent to address, as plain http (the test listener has no TLS)."""
    for r, _s, text in mails:
        if r == address:
            m = re.search(r"(https?://[0-9.:]+/r/[A-Za-z0-9_-]+)", text)
            if m:
                return m.group(1).replace("https://", "http://", 1)
    return None


# --- TAP: the scaffold the test_*.py scripts share -----------------------------

@contextlib.contextmanager
def scratch_dir(prefix, mode=None, quiet=False, keep_env=False):
    """A fresh temporary directory (mkdtemp's 0700, or chmod to `mode` so that
    anpid/PostgreSQL running as another user can enter it), removed at the end.
    By default removed like tempfile.TemporaryDirectory (an error is raised);
    quiet: removed with rmtree(ignore_errors=True); keep_env: quiet, and kept
    when ANPI_KEEP_TMP is set in the environment."""
    if not (quiet or keep_env):
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            if mode is not None:
                os.chmod(tmp, mode)
            yield tmp
        return
    tmp = tempfile.mkdtemp(prefix=prefix)
    if mode is not None:
        os.chmod(tmp, mode)
    try:
        yield tmp
    finally:
        if not (keep_env and os.environ.get("ANPI_KEEP_TMP")):
            shutil.rmtree(tmp, ignore_errors=True)


class Tap:
    """Numbered TAP checks, printed as they happen, and the plan at the end:

        tap = harness.Tap()        # summary=True: "# P passed, F failed" after the plan
        check = tap.check          # check(cond, what, detail="") returns cond
        def run(tmp): ... check(...) ...
        if __name__ == "__main__":
            sys.exit(tap.main(run, "anpi-x-", "the x test", mode=0o755))

    main() is attempt() in a scratch_dir, then finish(); a test with another
    flow (phases, extra lines) calls those three itself."""

    def __init__(self, summary=False, detail_lines=30):
        self.results = []               # one bool per check, in order
        self.summary = summary
        self.detail_lines = detail_lines

    def check(self, cond, what, detail=""):
        """Print "ok N - what" or "not ok N - what", then (on failure) the first
        detail_lines lines of detail as "#   " comments.  Returns cond."""
        self.results.append(bool(cond))
        print(("ok" if cond else "not ok") + " %d - %s" % (len(self.results), what), flush=True)
        if not cond and detail:
            for line in str(detail).splitlines()[:self.detail_lines]:
                print("#   " + line, flush=True)
        return cond

    def skip(self, what, why):
        """A check that could not be made here ("ok N - what # SKIP why"):
        for a precondition the test cannot force, e.g. a machine too slow
        for the window a cache check needs.  Counts as passed, as in TAP."""
        self.results.append(True)
        print("ok %d - %s # SKIP %s" % (len(self.results), what, why), flush=True)
        return True

    def attempt(self, fn, tmp, what="the test", more=None):
        """fn(tmp); an exception becomes the failed check "<what> ran to the
        end" with the traceback (and more(), e.g. log tails) as detail."""
        try:
            fn(tmp)
        except Exception:
            self.check(False, what + " ran to the end", traceback.format_exc() + (more() if more else ""))

    def finish(self):
        """Print the plan (and the summary line); return the exit status,
        1 if any check failed or none was made."""
        failed = self.results.count(False)
        print("1..%d" % len(self.results), flush=True)
        if self.summary:
            print("# %d passed, %d failed" % (len(self.results) - failed, failed), flush=True)
        return 1 if failed or not self.results else 0     # not a single check is a failure too

    def main(self, run, prefix, what="the test", mode=None, more=None, **dir_kw):
        """run(tmp) in scratch_dir(prefix, mode, **dir_kw), then finish()."""
        with scratch_dir(prefix, mode, **dir_kw) as tmp:
            self.attempt(run, tmp, what, more)
        return self.finish()
