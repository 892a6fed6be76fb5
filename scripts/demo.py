#!/usr/bin/python3
"""demo.py - the parts of run-demo.sh that speak HTTP, JSON and mail.
Standard library only.

    demo.py get CONFIG KEY.PATH [DEFAULT]   print one config value (for the shell)
    demo.py push CONFIG FEEDS_DIR           POST every NN_*.xml with ?replay=1
    demo.py report CONFIG MAILDIR...        incidents, next steps, mail, reply links
    demo.py account CONFIG PASSFILE         make the console account demo-officer once

The config is read with a small reader for the block/flow YAML subset the
example uses (no PyYAML on a fresh Debian); "${ENV:NAME}" values are taken from
the environment, as anpid does.
"""

import datetime
import email
import email.policy
import email.utils
import glob
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.request

TIMEOUT = 15


# --- a reader for the simple YAML of examples/anpid.yaml ---------------------

def _unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
        if v and v[0] != "'":
            v = v.replace('\\"', '"').replace("\\\\", "\\")
    return v


def _strip_comment(line):
    out, q = [], None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "\"'":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(c)
    return "".join(out).rstrip()


def _split_flow(s):
    """Split 'a: 1, b: "x, y"' at top-level commas."""
    parts, depth, q, cur = [], 0, None, []
    for c in s:
        if q:
            if c == q:
                q = None
        elif c in "\"'":
            q = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def _flow_map(s, prefix, out):
    for part in _split_flow(s.strip()[1:-1]):
        if ":" in part:
            k, v = part.split(":", 1)
            k = prefix + _unquote(k)
            v = v.strip()
            if v.startswith("{"):
                _flow_map(v, k + ".", out)
            else:
                out[k] = _unquote(v)


def read_config(path):
    """Flatten mappings into {"a.b.c": "value"}; list items are skipped
    except that a key whose value is a list records its first scalar item."""
    flat, stack = {}, []            # stack of (indent, key path)
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = _strip_comment(raw.rstrip("\n"))
            if not line.strip() or line.strip() in ("---", "..."):
                continue
            indent = len(line) - len(line.lstrip(" "))
            text = line.strip()
            while stack and stack[-1][0] >= indent:
                stack.pop()
            prefix = stack[-1][1] + "." if stack else ""
            if text.startswith("- "):
                if stack and stack[-1][1] not in flat:
                    item = text[2:].strip()
                    if ":" not in item:
                        flat[stack[-1][1]] = _unquote(item)
                continue
            m = re.match(r"""^("[^"]*"|'[^']*'|[^:]+):(\s+(.*))?$""", text)
            if not m:
                continue
            key = prefix + _unquote(m.group(1))
            value = (m.group(3) or "").strip()
            if value.startswith("{"):
                _flow_map(value, key + ".", flat)
            elif value.startswith("["):
                items = _split_flow(value[1:-1])
                if items:
                    flat[key] = _unquote(items[0])
            elif value:
                flat[key] = _unquote(value)
            else:
                stack.append((indent, key))
    for k, v in list(flat.items()):
        m = re.fullmatch(r"\$\{ENV:([A-Za-z_][A-Za-z0-9_]*)\}", v)
        if m:
            flat[k] = os.environ.get(m.group(1), "")
    return flat


def config_value(path, key, default=""):
    return read_config(path).get(key, default)


# --- HTTP ---------------------------------------------------------------------

class Api:
    def __init__(self, cfg_path):
        cfg = read_config(cfg_path)
        self.base = "http://" + cfg.get("listen.admin", "127.0.0.1:8081")
        self.token = cfg.get("api.token", "")
        self.public_url = cfg.get("public_url", "http://127.0.0.1:8080").rstrip("/")
        self.cfg = cfg

    def call(self, method, path, body=None, ctype=None):
        hdrs = {"Authorization": "Bearer " + self.token}
        if ctype:
            hdrs["Content-Type"] = ctype
        req = urllib.request.Request(self.base + path, data=body, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            with e:
                status, raw = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            return 0, "cannot reach %s: %s" % (self.base, e)
        try:
            return status, json.loads(raw.decode("utf-8"))
        except ValueError:
            return status, raw.decode("utf-8", "replace")


def cmd_push(cfg_path, feeds_dir):
    api = Api(cfg_path)
    files = sorted(glob.glob(os.path.join(feeds_dir, "[0-9][0-9]_*.xml")))
    if not files:
        print("  no documents found in %s (expected NN_*.xml)" % feeds_dir)
        return 1
    bad = 0
    for path in files:
        with open(path, "rb") as f:
            body = f.read()
        status, ans = api.call("POST", "/api/v1/feeds/jma/documents?replay=1", body,
                               "application/xml")
        name = os.path.basename(path)
        if status == 202 and isinstance(ans, dict):
            print("  %-16s stored, %d event(s)" % (name, len(ans.get("events") or [])))
        elif status == 200 and isinstance(ans, dict) and ans.get("duplicate"):
            print("  %-16s already stored (duplicate, ignored)" % name)
        else:
            bad += 1
            print("  %-16s REFUSED: HTTP %d %s" % (name, status, ans if ans else ""))
    return 1 if bad else 0


# --- mail ---------------------------------------------------------------------

LINK_RE = re.compile(r"https?://[^\s\"'<>]+/r/[A-Za-z0-9_=-]+")
APPROVE_RE = re.compile(r"https?://[^\s\"'<>]+/a/[A-Za-z0-9_=-]+")


ONE_SECOND = datetime.timedelta(seconds=1)


def parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def mail_date(msg):
    try:
        return email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError):
        return None


def mail_files(dirs):
    files = []
    for d in dirs:
        for root, _dirs, names in os.walk(d):
            files.extend(os.path.join(root, n) for n in names if not n.startswith("."))
    return sorted(files, key=lambda p: os.stat(p).st_mtime)


def mail_text(path):
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                parts.append(part.get_content())
            except (LookupError, ValueError):
                parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return msg, "\n".join(parts)


def cmd_report(cfg_path, maildirs):
    api = Api(cfg_path)
    ctl = "./build/anpictl --url %s --token %s" % (api.base, api.token)
    status, ans = api.call("GET", "/api/v1/incidents")
    if status != 200 or not isinstance(ans, dict):
        print("Could not list incidents: HTTP %d %s" % (status, ans))
        return 1
    incidents = ans.get("incidents") or []
    print("\nIncidents (%d):" % len(incidents))
    pending = []
    for inc in incidents:
        print("  #%s  %-17s %s  [%s, %d report(s)]"
              % (inc.get("id"), inc.get("status"), inc.get("title") or "",
                 inc.get("type") or "", len(inc.get("events") or [])))
        if inc.get("status") == "pending_approval":
            pending.append(inc)
        for b in inc.get("broadcasts") or []:
            bs, bd = api.call("GET", "/api/v1/broadcasts/%s" % b)
            if bs == 200 and isinstance(bd, dict):
                d = bd.get("deliveries") or {}
                print("      broadcast %s: %s recipient(s); sent %s, queued %s, deferred %s, "
                      "bounced %s, failed %s; answered %s, unanswered %s"
                      % (b, bd.get("recipients"), d.get("sent"), d.get("queued"),
                         d.get("deferred"), d.get("bounced"), d.get("failed"),
                         bd.get("answered"), bd.get("unanswered")))
    files = mail_files(maildirs)
    links, officers = [], []
    for path in files:
        try:
            msg, text = mail_text(path)
        except (OSError, ValueError):
            continue
        for link in LINK_RE.findall(text):
            links.append((link, path, str(msg.get("To", ""))))
        approve = APPROVE_RE.findall(text)
        if approve:
            officers.append((mail_date(msg), str(msg.get("To", "")),
                             str(msg.get("Subject", "")), approve[0]))
    print("\nMail: %d message(s) so far in %s" % (len(files), " and ".join(maildirs)))
    print("\nNext steps:")
    step = 1
    if pending:
        inc = pending[0]
        print("  %d. Incident #%s waits for a duty officer. Approve it:" % (step, inc.get("id")))
        print("       %s approve %s" % (ctl, inc.get("id")))
        print("     (or reject: %s reject %s)" % (ctl, inc.get("id")))
        # The approval request for this incident: the first one mailed
        # after it opened (the mail does not name the incident id).
        officer = None
        opened = parse_time(inc.get("opened_at"))
        if opened:
            later = [o for o in officers if o[0] and o[0] >= opened - ONE_SECOND]
            officer = min(later, default=None, key=lambda o: o[0])
        if officer:
            print("     The duty officers were mailed one-time links too, e.g. to %s"
                  % officer[1])
            print("     (%s):" % officer[2])
            print("       %s   (open it, then confirm)" % officer[3])
        step += 1
    if links:
        link, path, _to = links[-1]
        print("  %d. Open a reply link (no login) from the mails, e.g." % step)
        print("       %s" % link)
        print("     found in %s" % path)
    else:
        print("  %d. After approval the safety mails appear in the mail directory above;"
              % step)
        print("     run ./scripts/run-demo.sh --status to see a reply link from them.")
    step += 1
    print("  %d. Or use the console (phone-sized pages, no JavaScript): %s/console/" % (step, api.base))
    print("     sign in as %s with the password in var/console-password (you will be asked"
          % DEMO_LOGIN)
    print("     to change it); it shows the broadcasts, the tally per group, compose and resend.")
    step += 1
    print("  %d. Watch the answers come in (tally per broadcast):" % step)
    print("       curl -s -H 'Authorization: Bearer %s' %s/api/v1/broadcasts/ID"
          % (api.token, api.base))
    return 0


DEMO_LOGIN = "demo-officer"


def cmd_account(cfg_path, passfile):
    """A duty-officer console account, made once; its initial password (random,
    changed at first sign-in) is kept in PASSFILE beside the other demo state."""
    if os.path.exists(passfile):
        return 0
    api = Api(cfg_path)
    password = "Demo-" + secrets.token_urlsafe(12) + "-7a"
    body = json.dumps({"login": DEMO_LOGIN, "password": password, "role": "duty-officer",
                       "groups": []}).encode("utf-8")
    status, ans = api.call("POST", "/api/v1/accounts", body, "application/json")
    if status == 201:
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        print("  console account %s created (initial password in %s)" % (DEMO_LOGIN, passfile))
        return 0
    print("  console account %s not created: HTTP %d %s" % (DEMO_LOGIN, status, ans))
    return 0 if status == 409 else 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "get":
        print(config_value(argv[1], argv[2], argv[3] if len(argv) > 3 else ""))
        return 0
    if len(argv) == 3 and argv[0] == "push":
        return cmd_push(argv[1], argv[2])
    if len(argv) >= 2 and argv[0] == "report":
        return cmd_report(argv[1], argv[2:])
    if len(argv) == 3 and argv[0] == "account":
        return cmd_account(argv[1], argv[2])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
