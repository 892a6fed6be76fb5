"""Accounts, sign-in and API tokens (admin-api/endpoints/accounts.c, signin.c,
schema 0014 + 0020), against a private PostgreSQL cluster and anpid as built.

Accounts of every role are created with the bootstrap token; tokens are
issued with POST /api/v1/tokens and used; wrong passwords, unknown logins,
lockout per account (attempts from changing source addresses) and per
source address (changing logins), TOTP for system admins with codes
computed here (RFC 6238) and a replayed code, over-long and weak passwords,
logins that were used before, disabling, revoking, token scopes, the admin
reset and one's own password change are each checked, with their audit
entries.  Source addresses 127.0.0.x are picked per request (Linux routes
all of 127/8 to lo) so the per-address throttle can be exercised.  Prints TAP."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

PEOPLE_CSV = """id,name,kana,emails,regions,groups
A1,試験 太郎,しけん たろう,taro.shiken@example.jp,13,本省/大臣官房
A2,試験 花子,しけん はなこ,hanako.shiken@example.jp,14,支局
"""
TOOLONG = "パスワードが長すぎます"
GOOD = "Kq7#mVw2-pLx9!"        # 14 characters, four classes
GOOD2 = "Zr4$tNb8@hGy3%"
GOOD3 = "Wd6&yJc1^sFq5*"

tap = harness.Tap(summary=True)
check = tap.check


def totp(secret, at=None, step_offset=0):
    """RFC 6238: HMAC-SHA1, 30 s steps, 6 digits."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((at if at is not None else time.time()) // 30) + step_offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % code


class Client:
    """Requests to the admin listener from a chosen loopback source address."""

    def __init__(self, admin_url):
        hostport = admin_url.split("//", 1)[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.next_src = 10

    def fresh_source(self):
        self.next_src += 1
        return "127.0.0.%d" % self.next_src

    def request(self, method, path, body=None, token=None, src="127.0.0.1", raw=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15, source_address=(src, 0))
        hdrs = {}
        data = None
        if raw is not None:
            data = raw
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = "Bearer " + token
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", errors="replace")
            try:
                j = json.loads(text)
            except ValueError:
                j = text
            return resp.status, j, resp
        finally:
            conn.close()


def run(tmp):
    with harness.PgCluster(tmp) as pg:
        cfg = harness.base_config(pg, outbox=os.path.join(tmp, "outbox"))
        cfg["log"] = {"level": "info"}
        os.makedirs(cfg["outbox"]["dir"], exist_ok=True)
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        boot = cfg["api"]["token"]
        cl = Client(anpid.admin_url)

        def admin(method, path, body=None):
            s, j, _ = cl.request(method, path, body, token=boot)
            return s, j

        def issue(login, password, code=None, src=None, **extra):
            body = {"login": login, "password": password}
            if code is not None:
                body["totp"] = code
            body.update(extra)
            return cl.request("POST", "/api/v1/tokens", body, src=src or "127.0.0.1")

        def audit(where):
            return pg.psql("SELECT string_agg(actor || '|' || action || '|' || object || '|' ||"
                           " coalesce(detail->>'reason', '-') || '|' || coalesce(detail->>'via', '-'),"
                           " ',' ORDER BY id) FROM audit_log WHERE " + where)

        s, j = harness.Api(anpid.admin_url, boot).post("/api/v1/people/import", body=PEOPLE_CSV,
                                                        content_type="text/csv")
        check(s == 200, "synthetic people imported", (s, j))
        s, j = admin("GET", "/api/v1/groups")
        ids = {}

        def walk(nodes):
            for n in nodes:
                ids[n["path"]] = n["id"]
                walk(n.get("children", []))
        walk(j.get("groups", []) if isinstance(j, dict) else [])
        g_kanbo, g_shikyoku = ids.get("本省/大臣官房"), ids.get("支局")
        check(g_kanbo and g_shikyoku, "groups found", ids)

        # --- create one account of each role
        s, sa = admin("POST", "/api/v1/accounts", {"login": "sa.tanaka", "password": GOOD,
                                                    "role": "system-admin", "groups": [],
                                                    "must_change": False})
        check(s == 201 and sa.get("role") == "system-admin" and len(sa.get("totp_secret", "")) == 32
              and sa.get("totp_uri", "").startswith("otpauth://totp/anpi:sa.tanaka?")
              and "issuer=anpi" in sa.get("totp_uri", ""),
              "system-admin created, with a TOTP secret and otpauth URI (issuer anpi)", (s, sa))
        made = {}
        for login, role, extra in (("duty1", "duty-officer", {"must_change": False}),
                                   ("gadmin1", "group-admin", {"groups": [g_kanbo], "must_change": False}),
                                   ("gadmin2", "group-admin", {"groups": [g_kanbo, g_shikyoku]}),
                                   ("hr1", "hr", {"must_change": False}),
                                   ("viewer1", "viewer", {"person_id": "A1"}),
                                   ("locky", "viewer", {"must_change": False})):
            body = {"login": login, "password": GOOD, "role": role}
            body.update(extra)
            s, j = admin("POST", "/api/v1/accounts", body)
            made[login] = j
            check(s == 201 and j.get("login") == login and j.get("role") == role
                  and "totp_secret" not in j and "password_hash" not in j,
                  "%s created (%s, no secret returned)" % (login, role), (s, j))
        check(made["gadmin2"].get("groups") == sorted([g_kanbo, g_shikyoku]), "group admin's groups stored",
              made["gadmin2"])
        s, j = admin("POST", "/api/v1/accounts", {"login": "totp.viewer", "password": GOOD, "role": "viewer",
                                                   "totp": True, "must_change": False})
        check(s == 201 and len(j.get("totp_secret", "")) == 32, "a viewer may get a second factor on request",
              (s, j))
        viewer_secret = j.get("totp_secret", "") if isinstance(j, dict) else ""

        # --- refused creations, nothing stored
        before = pg.psql("SELECT count(*) FROM accounts")
        bad = [
            ({"login": "ga.none", "password": GOOD, "role": "group-admin", "groups": []}, "at least one group"),
            ({"login": "v.groups", "password": GOOD, "role": "viewer", "groups": [g_kanbo]}, "takes no"),
            ({"login": "ga.unk", "password": GOOD, "role": "group-admin", "groups": [g_kanbo, 999999]},
             "unknown groups: 999999"),
            ({"login": "p.unk", "password": GOOD, "role": "viewer", "person_id": "NOPE"}, "unknown person_id"),
            ({"login": "r.bad", "password": GOOD, "role": "root"}, "role"),
            ({"login": "-bad", "password": GOOD, "role": "viewer"}, "login"),
            ({"login": "weak1", "password": "short", "role": "viewer"}, "12"),
            ({"login": "yamada", "password": "xYamada#2024long", "role": "viewer"}, ""),
            ({"login": "huge.pw", "password": "A1b!" * 2560, "role": "viewer"}, TOOLONG),
        ]
        for body, needle in bad:
            s, j = admin("POST", "/api/v1/accounts", body)
            err = j.get("error", "") if isinstance(j, dict) else str(j)
            check(s == 400 and needle in err, "refused with 400 (%s): %s" % (body["login"], err[:90]), (s, j))
        check(pg.psql("SELECT count(*) FROM accounts") == before, "no refused account was stored",
              pg.psql("SELECT string_agg(login, ',') FROM accounts"))
        for login in ("duty1", "DUTY1", "Duty1"):
            s, j = admin("POST", "/api/v1/accounts", {"login": login, "password": GOOD, "role": "viewer"})
            check(s == 409 and "never reissued" in j.get("error", ""), "login %s (used before) -> 409" % login,
                  (s, j))

        # --- tokens: issue and use
        s, j, _ = issue("duty1", GOOD, label="ci")
        duty_tok = j.get("token", "") if isinstance(j, dict) else ""
        check(s == 201 and duty_tok.startswith("anpi_") and len(duty_tok) == 48 and j.get("scopes") ==
              "read,approve,broadcast,directory,admin" and j.get("account") == {"login": "duty1",
                                                                                 "role": "duty-officer"}
              and j.get("password_change_required") is False and j.get("expires_at"),
              "token issued for duty1 (all scopes, 48 characters, expiry)", (s, j))
        s, j, _ = cl.request("GET", "/api/v1/account", token=duty_tok)
        check(s == 200 and j.get("login") == "duty1" and j.get("role") == "duty-officer" and j.get("via") == "token"
              and j.get("must_change") is False and j.get("has_totp") is False,
              "GET /api/v1/account with the token: duty1", (s, j))
        s, j, _ = issue("viewer1", GOOD)
        check(s == 201 and j.get("password_change_required") is True and j.get("password_change_due") is True,
              "an initial password: password_change_required in the token answer", (s, j))
        stored = pg.psql("SELECT count(*) FROM api_tokens WHERE hash = '%s'"
                         % hashlib.sha256(duty_tok.encode()).hexdigest())
        check(stored == "1" and duty_tok not in pg.psql("SELECT string_agg(hash, ',') FROM api_tokens"),
              "only the token's SHA-256 is stored", stored)

        # --- wrong password, unknown login: same 401, audited with the reason
        src = cl.fresh_source()
        s1, j1, _ = issue("duty1", "wrong-Password-1", src=src)
        s2, j2, _ = issue("nobody.here", GOOD, src=src)
        check(s1 == 401 and s2 == 401 and j1.get("error") == j2.get("error"),
              "wrong password and unknown login: the same 401 message", (s1, j1, s2, j2))
        got = audit("action LIKE 'auth.%' AND action <> 'auth.token'")
        check("duty1|auth.success|account:duty1|-|token" in got
              and "duty1|auth.failure|account:duty1|bad_password|token" in got
              and "?|auth.failure|account:nobody.here|unknown_login|token" in got,
              "audit: auth.success and auth.failure with reasons", got)
        peer = pg.psql("SELECT detail->>'peer' FROM audit_log WHERE action = 'auth.failure'"
                       " AND detail->>'reason' = 'bad_password' ORDER BY id DESC LIMIT 1")
        check(peer == src, "the audit entry names the peer address", peer)
        check(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'auth.token'") == "2",
              "each token issue is audited (auth.token)")

        # --- over-long password at sign-in: 400, nothing hashed, nothing stored
        n_audit = pg.psql("SELECT count(*) FROM audit_log")
        throttle = pg.psql("SELECT string_agg(key || '=' || failures, ',' ORDER BY key) FROM auth_throttle")
        s, j, _ = cl.request("POST", "/api/v1/tokens", {"login": "duty1", "password": "x" * 10240})
        check(s == 400 and TOOLONG in j.get("error", ""), "10 KB password at sign-in -> 400 with a clear message",
              (s, j))
        check(pg.psql("SELECT count(*) FROM audit_log") == n_audit
              and pg.psql("SELECT string_agg(key || '=' || failures, ',' ORDER BY key) FROM auth_throttle")
              == throttle, "nothing recorded for it (no throttle failure, no audit)", throttle)
        s, j, _ = cl.request("POST", "/api/v1/tokens", raw=b'{"login":"duty1","password":"' + b"x" * 20000 + b'"}')
        check(s == 413, "a body over 16 KB on /tokens -> 413", (s, j))

        # --- lockout per account: attempts from a new source address each time
        statuses = []
        for _ in range(6):
            s, j, resp = issue("locky", "wrong-Password-9", src=cl.fresh_source())
            statuses.append(s)
            if s == 429:
                break
        check(statuses[:4] == [401] * 4 and statuses[-1] == 429,
              "per account: 4 free failures, then 429 (from changing addresses)", statuses)
        check(resp.getheader("Retry-After", "").isdigit() and int(resp.getheader("Retry-After")) >= 1
              and isinstance(j, dict) and j.get("retry_after", 0) >= 1,
              "429 carries Retry-After and retry_after", (resp.getheaders(), j))
        s, j, resp = issue("locky", GOOD, src=cl.fresh_source())
        check(s == 429, "while locked even the right password is refused (no password check)", (s, j))
        got = audit("action = 'auth.failure' AND object = 'account:locky' AND detail->>'reason' = 'locked'")
        check(got.count("|locked|") >= 1, "the locked refusal is audited (reason locked)", got)
        wait = int(resp.getheader("Retry-After") or "1")
        time.sleep(wait + 0.2)
        s, j, _ = issue("locky", GOOD, src=cl.fresh_source())
        check(s == 201, "after Retry-After the right password works and clears the account", (s, j))

        # --- lockout per source address across different logins
        src = cl.fresh_source()
        statuses = []
        for i in range(6):
            s, j, resp = issue("guess%d" % i, "wrong-Password-9", src=src)
            statuses.append(s)
            if s == 429:
                break
        check(statuses[:4] == [401] * 4 and statuses[-1] == 429 and resp.getheader("Retry-After"),
              "per source address: different logins, 429 after 4 free failures", statuses)
        s, j, _ = issue("duty1", GOOD, src=src)
        check(s == 429, "that address is refused even for a good account", (s, j))
        s, j, _ = issue("duty1", GOOD, src=cl.fresh_source())
        check(s == 201, "another address is not affected", (s, j))

        # --- TOTP: required for system admins, replay refused
        secret = sa.get("totp_secret", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        s, j, _ = issue("sa.tanaka", GOOD, src=cl.fresh_source())
        check(s == 401, "system admin without a code -> 401", (s, j))
        s, j, _ = issue("sa.tanaka", GOOD, code="000000" if totp(secret) != "000000" else "111111",
                        src=cl.fresh_source())
        check(s == 401, "system admin with a wrong code -> 401", (s, j))
        # Wait out the end of a step so the code is still valid twice in a row.
        if time.time() % 30 > 25:
            time.sleep(30 - time.time() % 30 + 0.5)
        code = totp(secret)
        s, j, _ = issue("sa.tanaka", GOOD, code=code, src=cl.fresh_source())
        sa_tok = j.get("token", "") if isinstance(j, dict) else ""
        check(s == 201 and sa_tok and j.get("account", {}).get("role") == "system-admin",
              "system admin with the right code (computed here, RFC 6238) -> token", (s, j))
        s, j, _ = issue("sa.tanaka", GOOD, code=code, src=cl.fresh_source())
        check(s == 401, "the same code again (replay) -> 401", (s, j))
        got = audit("object = 'account:sa.tanaka' AND action = 'auth.failure'")
        check(got.count("|bad_totp|") == 3, "missing, wrong and replayed codes audited as bad_totp", got)
        s, j, _ = issue("totp.viewer", GOOD, src=cl.fresh_source())
        check(s == 401, "a viewer with a second factor needs the code too", (s, j))
        s, j, _ = issue("totp.viewer", GOOD, code=totp(viewer_secret), src=cl.fresh_source())
        check(s == 201, "... and gets in with it", (s, j))
        pg.psql("UPDATE accounts SET totp_secret = NULL WHERE login = 'sa.tanaka'")
        s, j, _ = issue("sa.tanaka", GOOD, src=cl.fresh_source())
        check(s == 403 and "TOTP is required for system admins" in j.get("error", ""),
              "a system admin without a secret cannot sign in", (s, j))
        check("|totp_required|" in audit("object = 'account:sa.tanaka'"), "audited as totp_required")
        s, j, _ = cl.request("POST", "/api/v1/accounts/sa.tanaka/disable", {}, token=sa_tok)
        check(s == 400 and "own account" in j.get("error", ""), "disabling yourself -> 400", (s, j))

        # --- token scopes
        s, j, _ = issue("duty1", GOOD, scopes="read", src=cl.fresh_source())
        ro_tok = j.get("token", "") if isinstance(j, dict) else ""
        check(s == 201 and j.get("scopes") == "read", "a read-only token for duty1", (s, j))
        s, j, _ = cl.request("POST", "/api/v1/incidents/1/approve", {}, token=ro_tok)
        check(s == 403 and "approve" in j.get("error", ""), "read-only token -> 403 on approve", (s, j))
        s, j, _ = cl.request("POST", "/api/v1/incidents/1/approve", {}, token=duty_tok)
        check(s != 403 and s != 401, "the full token passes the gate on approve", (s, j))
        s, j, _ = cl.request("GET", "/api/v1/accounts", token=duty_tok)
        check(s == 403, "a duty officer may not list accounts", (s, j))
        s, j, _ = issue("duty1", GOOD, scopes="read,root", src=cl.fresh_source())
        check(s == 400 and "scopes" in j.get("error", ""), "unknown scope -> 400", (s, j))

        # --- a token of another server
        other = "anpi_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        s, j, _ = cl.request("GET", "/api/v1/account", token=other)
        check(s == 401 and len(other) == 48, "a well-formed token this server never issued -> 401", (s, j))

        # --- list, revoke
        s, hr_a, _ = issue("hr1", GOOD, label="one", src=cl.fresh_source())
        s, hr_b, _ = issue("hr1", GOOD, label="two", src=cl.fresh_source())
        s, j, _ = cl.request("GET", "/api/v1/tokens", token=hr_a["token"])
        toks = j.get("tokens", []) if isinstance(j, dict) else []
        check(s == 200 and [t["label"] for t in toks] == ["one", "two"] and "hash" not in json.dumps(toks),
              "GET /tokens: own tokens, no hashes", (s, j))
        s, j, _ = cl.request("DELETE", "/api/v1/tokens/%d" % hr_b["id"], token=duty_tok)
        check(s == 404, "someone else's token is not found", (s, j))
        s, j, _ = cl.request("DELETE", "/api/v1/tokens/%d" % hr_b["id"], token=hr_a["token"])
        check(s == 200 and j.get("revoked_at"), "own token revoked", (s, j))
        s1, _, _ = cl.request("GET", "/api/v1/account", token=hr_b["token"])
        s2, _, _ = cl.request("GET", "/api/v1/account", token=hr_a["token"])
        check(s1 == 401 and s2 == 200, "the revoked token -> 401, the other still works", (s1, s2))
        s, j, _ = cl.request("DELETE", "/api/v1/tokens/%d" % hr_a["id"], token=sa_tok)
        check(s == 200, "a system admin revokes any token", (s, j))
        check("auth.token_revoke" in audit("action = 'auth.token_revoke'"), "revocations audited")

        # --- disable: its tokens die at once; the login never comes back
        s, ga, _ = issue("gadmin1", GOOD, src=cl.fresh_source())
        s1, _, _ = cl.request("GET", "/api/v1/account", token=ga["token"])
        s, j = admin("POST", "/api/v1/accounts/gadmin1/disable", {})
        check(s == 200 and j.get("disabled_at") and j.get("tokens_revoked") == 1, "gadmin1 disabled", (s, j))
        s2, _, _ = cl.request("GET", "/api/v1/account", token=ga["token"])
        check(s1 == 200 and s2 == 401, "its token worked before and is refused at once after", (s1, s2))
        s, j, _ = issue("gadmin1", GOOD, src=cl.fresh_source())
        check(s == 401, "a disabled account cannot sign in", (s, j))
        check("|disabled|" in audit("object = 'account:gadmin1'"), "audited as disabled")
        for login in ("gadmin1", "GAdmin1"):
            s, j = admin("POST", "/api/v1/accounts", {"login": login, "password": GOOD, "role": "viewer"})
            check(s == 409, "the disabled login %s is never reissued" % login, (s, j))
        s, j = admin("POST", "/api/v1/accounts/gadmin1/disable", {})
        check(s == 409, "disabling twice -> 409", (s, j))

        # --- groups of a group admin
        s, j = admin("POST", "/api/v1/accounts/gadmin2/groups", {"groups": [g_shikyoku]})
        check(s == 200 and j.get("groups") == [g_shikyoku], "gadmin2's groups replaced", (s, j))
        s, j = admin("POST", "/api/v1/accounts/gadmin2/groups", {"groups": [424242]})
        check(s == 400 and "424242" in j.get("error", ""), "unknown group -> 400 naming it", (s, j))
        s, j = admin("POST", "/api/v1/accounts/hr1/groups", {"groups": [g_kanbo]})
        check(s == 400, "groups for a non-group-admin -> 400", (s, j))

        # --- list and one
        s, j = admin("GET", "/api/v1/accounts")
        text = json.dumps(j)
        check(s == 200 and len(j.get("accounts", [])) == 8 and "argon2" not in text and "totp_secret" not in text,
              "GET /accounts: every account, no hashes or secrets", (s, text[:300]))
        s, j = admin("GET", "/api/v1/accounts/GADMIN1")
        check(s == 200 and j.get("login") == "gadmin1" and j.get("disabled_at") and j.get("has_totp") is False,
              "GET /accounts/{login} (case-insensitive)", (s, j))
        s, j = admin("GET", "/api/v1/accounts/nobody")
        check(s == 404, "unknown account -> 404", (s, j))

        # --- admin reset, then the account's own change
        s, j = admin("POST", "/api/v1/accounts/viewer1/password", {"password": GOOD})
        check(s == 400, "reset to the current password -> 400 (not one of the last N)", (s, j))
        s, j = admin("POST", "/api/v1/accounts/viewer1/password", {"password": GOOD2})
        check(s == 200 and j.get("must_change") is True, "admin reset of viewer1", (s, j))
        s, j, _ = issue("viewer1", GOOD, src=cl.fresh_source())
        check(s == 401, "the old password no longer works", (s, j))
        s, j, _ = issue("viewer1", GOOD2, src=cl.fresh_source())
        v_tok = j.get("token", "") if isinstance(j, dict) else ""
        check(s == 201 and j.get("password_change_required") is True, "the new one does, change required", (s, j))
        s, j, _ = cl.request("GET", "/api/v1/groups", token=v_tok)
        check(s == 403 and "change the initial password first" in j.get("error", ""),
              "a token taken with an initial password may not read yet (403, the forced change first)", (s, j))
        s1, j1, _ = cl.request("GET", "/api/v1/account", token=v_tok)
        s2, j2, _ = cl.request("GET", "/api/v1/tokens", token=v_tok)
        check(s1 == 200 and j1.get("must_change") is True and s2 == 200,
              "…but may read its own account and tokens", (s1, j1, s2, j2))
        s, j, _ = cl.request("POST", "/api/v1/account/password", {"password": GOOD2, "new_password": GOOD},
                             token=v_tok)
        check(s == 400, "own change back to a recent password -> 400", (s, j))
        s, j, _ = cl.request("POST", "/api/v1/account/password", {"password": GOOD2, "new_password": "viewer1Xx#99long"},
                             token=v_tok)
        check(s == 400, "own change to a password containing the login -> 400", (s, j))
        s, j, _ = cl.request("POST", "/api/v1/account/password", {"password": "wrong-Password-3", "new_password": GOOD3},
                             token=v_tok)
        check(s == 403, "own change with a wrong current password -> refused", (s, j))
        s, j, _ = cl.request("POST", "/api/v1/account/password", {"password": GOOD2, "new_password": GOOD3},
                             token=v_tok)
        check(s == 200 and j.get("must_change") is False, "own change accepted", (s, j))
        s, j, _ = cl.request("GET", "/api/v1/groups", token=v_tok)
        check(s == 200 and "groups" in j, "…and the same token reads at once", (s, j))
        s, j, _ = issue("viewer1", GOOD3, src=cl.fresh_source())
        check(s == 201 and j.get("password_change_required") is False, "signed in with it, no change required",
              (s, j))
        s, j, _ = cl.request("GET", "/api/v1/account", token=v_tok)
        check(s == 200, "the token used for the change still works (tokens are not revoked by it)", (s, j))
        got = pg.psql("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE object = 'account:viewer1'"
                      " AND action LIKE 'account.%'")
        check(got == "account.create,account.password_reset,account.password", "account audit entries", got)
        check("GOOD" not in pg.psql("SELECT string_agg(detail::text, ' ') FROM audit_log")
              and GOOD not in pg.psql("SELECT string_agg(detail::text, ' ') FROM audit_log"),
              "no password in the audit log")

        # --- own TOTP enrolment
        s, j, _ = cl.request("POST", "/api/v1/account/totp", {"password": GOOD3}, token=v_tok)
        new_secret = j.get("totp_secret", "") if isinstance(j, dict) else ""
        check(s == 200 and len(new_secret) == 32 and j.get("totp_uri", "").startswith("otpauth://"),
              "own TOTP enrolment returns the secret once", (s, j))
        s, j, _ = issue("viewer1", GOOD3, code=totp(new_secret), src=cl.fresh_source())
        check(s == 201, "signed in with the new second factor", (s, j))
        s, j = admin("POST", "/api/v1/account/password", {"password": "x", "new_password": GOOD})
        check(s == 400, "the bootstrap token has no password to change", (s, j))

        # --- anpictl: login, then passwd, the one thing an initial password allows
        s, j = admin("POST", "/api/v1/accounts", {"login": "ctl.viewer", "password": GOOD, "role": "viewer"})
        check(s == 201 and j.get("must_change") is True, "ctl.viewer created with an initial password", (s, j))

        def ctl(stdin, *args, token=None):
            argv = [os.path.join(BUILD, "anpictl"), "--url", anpid.admin_url] + (["--token", token] if token else [])
            p = subprocess.run(argv + list(args), input=stdin.encode(), capture_output=True, timeout=30)
            return p.returncode, p.stdout.decode(), p.stderr.decode()
        rc, out, err = ctl(GOOD + "\n\n", "login", "ctl.viewer", "--label", "cli")
        ctl_tok = json.loads(out).get("token", "") if rc == 0 else ""
        check(rc == 0 and ctl_tok.startswith("anpi_") and json.loads(out).get("password_change_required") is True,
              "anpictl login (password and an empty code on stdin) prints a token, change required", (rc, out, err))
        rc, out, err = ctl("", "incidents", token=ctl_tok)
        check(rc == 1 and "change the initial password first" in err, "anpictl incidents with it: refused", (rc, err))
        rc, out, err = ctl(GOOD + "\n" + GOOD3 + "\n" + GOOD2 + "\n", "passwd", token=ctl_tok)
        check(rc == 2 and "differ" in err and ctl("", "incidents", token=ctl_tok)[0] == 1,
              "anpictl passwd with two different new passwords sends nothing", (rc, err))
        rc, out, err = ctl(GOOD + "\n" + "x" * 2000 + "\n" + "x" * 2000 + "\n", "passwd", token=ctl_tok)
        check(rc == 2 and "longer than 1098 bytes" in err and "differ" not in err,
              "anpictl passwd refuses an answer longer than its buffer (its rest is not the next answer)",
              (rc, err))
        rc, out, err = ctl("wrong-Password-3\n" + GOOD3 + "\n" + GOOD3 + "\n", "passwd", token=ctl_tok)
        check(rc == 1 and ctl("", "incidents", token=ctl_tok)[0] == 1,
              "anpictl passwd with a wrong current password: refused, still locked to the change", (rc, err))
        rc, out, err = ctl(GOOD + "\n" + GOOD3 + "\n" + GOOD3 + "\n", "passwd", token=ctl_tok)
        check(rc == 0 and json.loads(out).get("must_change") is False, "anpictl passwd changes it", (rc, out, err))
        rc, out, err = ctl("", "incidents", token=ctl_tok)
        rc2, out2, _ = ctl("", "whoami", token=ctl_tok)
        check(rc == 0 and "incidents" in json.loads(out) and rc2 == 0 and json.loads(out2).get("must_change") is False,
              "…then the same token reads, and whoami shows no change required", (rc, out, err, out2))

        # --- the route table lists these routes
        s, j = admin("GET", "/api/v1/routes")
        pats = {(r["method"], r["pattern"]): r["permission"] for r in j.get("routes", [])}
        check(pats.get(("POST", "/api/v1/tokens")) == "open" and pats.get(("GET", "/api/v1/account")) == "self"
              and pats.get(("POST", "/api/v1/accounts")) == "accounts"
              and pats.get(("DELETE", "/api/v1/tokens/{id}")) == "self",
              "GET /routes lists the account routes with their permission", pats)

        s, j = admin("GET", "/api/v1/audit/verify")
        check(s == 200 and j.get("ok") is True, "the audit chain still verifies", (s, j))
        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-accounts-", "the accounts test", mode=0o755))
