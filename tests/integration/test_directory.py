"""The directory read side (admin-api/endpoints/directory.c, schema 0011).

A private PostgreSQL cluster and anpid as built.  A synthetic people CSV with
a three-level group tree (本省/大臣官房/秘書課) goes in through
POST /api/v1/people/import; then the tree, the lists (per group, with
subgroups, paged), one person, both exports (CSV: masked addresses,
formula-safe cells, the import columns plus addresses_status; XLSX: opened
with zipfile, no local part anywhere in the package), the registration status
after addresses are marked bouncing/invalid through psql, 404s for unknown
people and groups, and the audit entries of the exports.

Then scope (schema 0017): a group admin of 本省/大臣官房 (an account made
through POST /api/v1/accounts and a token from POST /api/v1/tokens, or, where
those are not in this tree yet, rows written with psql) sees its groups as
the roots of the tree, only its people in lists, one-person reads, exports
and the status, and gets for a group or person outside its scope exactly
the 404 body of one that does not exist.  The system-wide status lists the
groups with fewer than two active group admins.  Person objects carry the
free attributes and city codes; the export has them too (cities in the
regions column, attributes as key=value;key=value).  Prints TAP."""

import csv
import io
import json
import os
import re
import sys
import urllib.error
import urllib.request
import zipfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

# Synthetic staff.  T3's name is a spreadsheet formula; T5's name needs CSV
# quoting (comma and double quote).
PEOPLE_CSV = """id,name,kana,emails,regions,groups
T1,試験 太郎,しけん たろう,taro.shiken@example.jp;taro-keitai@mobile.example.jp,13,本省/大臣官房/秘書課
T2,試験 花子,しけん はなこ,hanako.shiken@example.jp,13;14,本省/大臣官房
T3,=cmd(),,formula.person@example.jp,27,本省/大臣官房/秘書課;支局
T4,試験 次郎,しけん じろう,jiro.shiken@example.jp,1,支局
T5,"試験, ""引用"" 三郎",,saburo.shiken@example.jp;saburo2@example.jp,東京都,本省
T6,+SUM(1),@x,plus.person@example.jp,13,支局
"""
LOCAL_PARTS = ["taro.shiken", "taro-keitai", "hanako.shiken", "formula.person", "jiro.shiken",
               "saburo.shiken", "saburo2", "plus.person"]
MASKED = re.compile(r"^\*\*\*\*@[a-z0-9.-]+$")

tap = harness.Tap(summary=True)
check = tap.check


def raw_get(base, token, path):
    """(status, headers, bytes): the exports are files, not JSON."""
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def find(nodes, path):
    for n in nodes:
        if n["path"] == path:
            return n
        hit = find(n.get("children", []), path)
        if hit:
            return hit
    return None


def leaks(text):
    return [lp for lp in LOCAL_PARTS if lp + "@" in text]


def group_admin(api, login, password, groups):
    """A group-admin account for groups, through the accounts API, and a
    bearer token acting as it (POST /api/v1/tokens)."""
    s, j = api.post("/api/v1/accounts", body={"login": login, "password": password, "role": "group-admin",
                                              "groups": groups, "must_change": False})
    if s not in (200, 201):
        raise harness.HarnessError("POST /api/v1/accounts: %s %s" % (s, j))
    s, j = harness.Api(api.base).post("/api/v1/tokens", body={"login": login, "password": password})
    if s in (200, 201) and isinstance(j, dict) and j.get("token"):
        return j["token"]
    raise harness.HarnessError("account %s made but no token: %s %s" % (login, s, j))


token_for = harness.token_for_account


def same_404(a, b, a_id, b_id):
    """Two 404 answers are the same apart from the id the caller asked for."""
    (sa, ja), (sb, jb) = a, b
    norm = (lambda j, i: json.dumps(j, sort_keys=True, ensure_ascii=False).replace(str(i), "<id>"))
    return sa == sb == 404 and norm(ja, a_id) == norm(jb, b_id)


def run(tmp):
    with harness.PgCluster(tmp) as pg:
        cfg = harness.base_config(pg, outbox=os.path.join(tmp, "outbox"))
        cfg["log"] = {"level": "info"}
        os.makedirs(cfg["outbox"]["dir"], exist_ok=True)
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api
        token = cfg["api"]["token"]

        s, j = api.post("/api/v1/people/import", body=PEOPLE_CSV, content_type="text/csv")
        check(s == 200 and j.get("rows") == 6, "the synthetic CSV is imported (6 rows)", (s, j))

        # --- the tree
        s, j = api.get("/api/v1/groups")
        roots = j.get("groups", []) if isinstance(j, dict) else []
        check(s == 200 and sorted(n["path"] for n in roots) == ["支局", "本省"],
              "GET /groups: two top-level groups", (s, j))
        honsho, kanbo, hisho, shikyoku = (find(roots, p) for p in
                                          ("本省", "本省/大臣官房", "本省/大臣官房/秘書課", "支局"))
        check(all((honsho, kanbo, hisho, shikyoku)), "the tree holds all four groups", j)
        if not all((honsho, kanbo, hisho, shikyoku)):
            return
        check([c["path"] for c in honsho["children"]] == ["本省/大臣官房"]
              and [c["path"] for c in kanbo["children"]] == ["本省/大臣官房/秘書課"]
              and hisho["children"] == [] and hisho["name"] == "秘書課",
              "children are nested three levels deep", honsho)
        check((honsho["members"], honsho["members_total"]) == (1, 4)
              and (kanbo["members"], kanbo["members_total"]) == (1, 3)
              and (hisho["members"], hisho["members_total"]) == (2, 2)
              and (shikyoku["members"], shikyoku["members_total"]) == (3, 3),
              "member counts: direct and with subgroups", json.dumps(roots, ensure_ascii=False))

        # --- lists
        s, j = api.get("/api/v1/people?group=%d" % kanbo["id"])
        check(s == 200 and [p["id"] for p in j.get("people", [])] == ["T2"] and j.get("total") == 1,
              "people of 大臣官房 (direct members only)", (s, j))
        if s == 200 and j.get("people"):
            p = j["people"][0]
            check(p["name"] == "試験 花子" and p["kana"] == "しけん はなこ" and p["regions"] == ["13", "14"]
                  and p["groups"] == ["本省/大臣官房"]
                  and p["addresses"] == [{"address": "hanako.shiken@example.jp", "status": "unverified"}],
                  "a list entry: name, kana, regions, group paths, addresses with status", p)
        s, j = api.get("/api/v1/people?group=%d&subgroups=1" % kanbo["id"])
        check(s == 200 and [p["id"] for p in j.get("people", [])] == ["T1", "T2", "T3"] and j.get("total") == 3,
              "people of 大臣官房 with subgroups", (s, j))
        s, j = api.get("/api/v1/people?group=%d&subgroups=1&limit=1&offset=1" % honsho["id"])
        check(s == 200 and [p["id"] for p in j.get("people", [])] == ["T2"] and j.get("total") == 4,
              "paging: limit=1&offset=1 of 本省 with subgroups", (s, j))
        s, j = api.get("/api/v1/people")
        check(s == 200 and j.get("total") == 6 and len(j.get("people", [])) == 6, "all people without group=",
              (s, j))
        s, j = api.get("/api/v1/people?group=999999")
        check(s == 404 and "999999" in j.get("error", ""), "unknown group: 404", (s, j))
        s, j = api.get("/api/v1/people?group=abc")
        check(s == 400, "malformed group id: 400", (s, j))
        s, j = api.get("/api/v1/people?limit=5000")
        check(s == 400, "limit over the cap: 400", (s, j))

        # --- one person: full addresses for the API caller
        s, j = api.get("/api/v1/people/T1")
        check(s == 200 and [a["address"] for a in j.get("addresses", [])]
              == ["taro.shiken@example.jp", "taro-keitai@mobile.example.jp"]
              and j.get("groups") == ["本省/大臣官房/秘書課"] and "hard_bounces" in j["addresses"][0],
              "GET /people/T1: full addresses in CSV order, with delivery details", (s, j))
        s, j = api.get("/api/v1/people/NOBODY")
        check(s == 404, "unknown person: 404", (s, j))

        s, j = harness.Api(anpid.admin_url).get("/api/v1/people/export?format=csv")
        check(s == 401, "export without the token: 401", (s, j))

        # --- CSV export
        s, h, body = raw_get(anpid.admin_url, token, "/api/v1/people/export?format=csv")
        text = body.decode("utf-8-sig", "replace")
        check(s == 200 and h.get("Content-Type", "").startswith("text/csv")
              and re.match(r'attachment; filename="people-\d{8}-\d{4}\.csv"', h.get("Content-Disposition", "")),
              "CSV export: 200, text/csv, attachment with a file name", (s, dict(h or {})))
        check(body.startswith(b"\xef\xbb\xbf"), "CSV export starts with a UTF-8 BOM (Excel)", body[:8])
        rows = list(csv.reader(io.StringIO(text)))
        check(rows and rows[0] == ["id", "name", "kana", "emails", "regions", "groups", "addresses_status",
                                   "attributes"],
              "CSV header: the import columns plus addresses_status and attributes", rows[:1])
        byid = {r[0]: r for r in rows[1:]}
        check(sorted(byid) == ["T1", "T2", "T3", "T4", "T5", "T6"], "CSV has one row per person", rows)
        check(not leaks(text), "CSV export has no local part of any address", leaks(text))
        emails = [e for r in rows[1:] for e in r[3].split(";")]
        check(len(emails) == 8 and all(MASKED.match(e) for e in emails),
              "every exported address is ****@domain", emails)
        if len(byid) == 6:
            check(byid["T1"][3] == "****@example.jp;****@mobile.example.jp"
                  and byid["T1"][6] == "unverified;unverified",
                  "T1: masked addresses in order with their statuses", byid["T1"])
            check(byid["T3"][1] == "'=cmd()", 'a person named "=cmd()" exports as "\'=cmd()"', byid["T3"])
            check(byid["T6"][1] == "'+SUM(1)" and byid["T6"][2] == "'@x", "+ and @ cells are neutralised too",
                  byid["T6"])
            check(byid["T5"][1] == '試験, "引用" 三郎' and byid["T5"][4] == "13" and byid["T5"][5] == "本省",
                  "quoting survives (comma, double quote); regions as codes", byid["T5"])
            check(sorted(byid["T3"][5].split(";")) == sorted(["本省/大臣官房/秘書課", "支局"]),
                  "groups are exported by path", byid["T3"])
            check(byid["T4"][4] == "01", "prefecture codes are two digits", byid["T4"])

        s, h, body = raw_get(anpid.admin_url, token,
                             "/api/v1/people/export?format=csv&group=%d&subgroups=1" % kanbo["id"])
        grows = list(csv.reader(io.StringIO(body.decode("utf-8-sig", "replace"))))
        check(s == 200 and [r[0] for r in grows[1:]] == ["T1", "T2", "T3"], "CSV export of one subtree", grows)
        s, h, body = raw_get(anpid.admin_url, token, "/api/v1/people/export?format=csv&group=999999")
        check(s == 404, "export of an unknown group: 404", (s, body[:200]))
        s, h, body = raw_get(anpid.admin_url, token, "/api/v1/people/export?format=pdf")
        check(s == 400, "unknown export format: 400", (s, body[:200]))

        # --- XLSX export
        s, h, body = raw_get(anpid.admin_url, token, "/api/v1/people/export?format=xlsx")
        check(s == 200 and h.get("Content-Type") ==
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
              and re.match(r'attachment; filename="people-\d{8}-\d{4}\.xlsx"', h.get("Content-Disposition", "")),
              "XLSX export: 200, spreadsheet type, attachment .xlsx", (s, dict(h or {})))
        try:
            z = zipfile.ZipFile(io.BytesIO(body))
            parts = {n: z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml")}
        except zipfile.BadZipFile as e:
            parts = {}
            check(False, "the XLSX is a zip package", e)
        sheet = parts.get("xl/worksheets/sheet1.xml", "")
        everything = "".join(parts.values())
        check(sheet != "" and "****@example.jp" in sheet and "****@mobile.example.jp" in sheet,
              "the sheet XML holds the masked addresses", sorted(parts))
        check(not leaks(everything), "no local part anywhere in the XLSX package", leaks(everything))
        check("試験 太郎" in everything and "=cmd()" in everything and "<f>" not in sheet,
              "names are text cells (=cmd() is a string, not a formula)", sheet[:2000])

        # --- registration status after bounces
        pg.psql("UPDATE person_addresses SET status = 'bouncing' WHERE address = 'hanako.shiken@example.jp'")
        pg.psql("UPDATE person_addresses SET status = 'invalid' WHERE address = 'jiro.shiken@example.jp'")
        pg.psql("UPDATE person_addresses SET status = 'valid' WHERE address = 'taro-keitai@mobile.example.jp'")
        pg.psql("UPDATE person_addresses SET status = 'bouncing' WHERE address = 'taro.shiken@example.jp'")
        s, j = api.get("/api/v1/directory/status")
        check(s == 200 and isinstance(j, dict), "GET /directory/status answers", (s, j))
        if s == 200 and isinstance(j, dict):
            c = j.get("counts", {})
            check(c == {"people": 6, "valid": 1, "unverified_only": 3, "only_bouncing_or_invalid": 2,
                        "no_address": 0, "no_usable_address": 2},
                  "status counts (T1 still has a valid address)", c)
            check([p["id"] for p in j.get("no_usable_address", [])] == ["T2", "T4"]
                  and [p["reach"] for p in j["no_usable_address"]] == ["bouncing", "invalid"],
                  "who has no valid or unverified address", j.get("no_usable_address"))
            check([p["id"] for p in j.get("only_bouncing_or_invalid", [])] == ["T2", "T4"],
                  "who has only bouncing/invalid addresses", j.get("only_bouncing_or_invalid"))
            g = {x["path"]: x for x in j.get("groups", [])}
            check(g.get("本省/大臣官房", {}).get("members") == 3 and g["本省/大臣官房"]["no_usable_address"] == 1
                  and g["本省/大臣官房"]["valid"] == 1 and g.get("支局", {}).get("no_usable_address") == 1
                  and g.get("本省/大臣官房/秘書課", {}).get("no_usable_address") == 0
                  and g.get("本省", {}).get("members") == 4,
                  "counts per group, subgroups included", j.get("groups"))
        s, j = api.get("/api/v1/people/T2")
        check(s == 200 and j["addresses"][0]["status"] == "bouncing", "one person shows the new status", j)

        # --- audit entries for the exports (not for the 404 or the bad format)
        got = pg.psql("SELECT string_agg(actor || '|' || (detail->>'format') || '|' || (detail->>'rows') || '|'"
                      " || coalesce(detail->>'group', '-') || '|' || (detail->>'peer'), ',' ORDER BY id)"
                      " FROM audit_log WHERE action = 'directory.export'")
        check(got == "api|csv|6|-|127.0.0.1,api|csv|3|%d|127.0.0.1,api|xlsx|6|-|127.0.0.1" % kanbo["id"],
              "each export is audited: who, format, group, rows", got)
        s, j = api.get("/api/v1/audit/verify")
        check(s == 200 and j.get("ok") is True, "the audit chain still verifies", (s, j))

        # --- someone who left (people.removed_at, schema 0013; added here if
        # this tree does not have it yet): kept for the history, not listed
        pg.psql("ALTER TABLE people ADD COLUMN IF NOT EXISTS removed_at timestamptz")
        pg.psql("UPDATE people SET removed_at = now() WHERE id = 'T6'")
        s, j = api.get("/api/v1/people")
        check(s == 200 and j.get("total") == 5 and "T6" not in [p["id"] for p in j.get("people", [])],
              "a removed person is not listed", (s, j))
        s, j = api.get("/api/v1/directory/status")
        check(s == 200 and j.get("counts", {}).get("people") == 5, "nor counted in the status", (s, j))
        s, j = api.get("/api/v1/people/T6")
        check(s == 200 and j.get("removed_at"), "GET /people/T6 still answers, with removed_at", (s, j))

        # --- attributes and cities (schema 0015) on the person and in the export
        pg.psql("UPDATE people SET attributes = '{\"職種\": \"技術\", \"内線\": \"1234\"}' WHERE id = 'T1'")
        pg.psql("UPDATE people SET attributes = '{\"+tel\": \"1\"}' WHERE id = 'T2'")
        pg.psql("INSERT INTO person_cities (person_id, city) VALUES ('T1', 13101), ('T1', 13104)")
        s, j = api.get("/api/v1/people/T1")
        check(s == 200 and j.get("attributes") == {"職種": "技術", "内線": "1234"}
              and j.get("cities") == ["13101", "13104"] and j.get("regions") == ["13"],
              "a person carries attributes and 5-digit city codes", (s, j))
        s, j = api.get("/api/v1/people?group=%d" % hisho["id"])
        byp = {p["id"]: p for p in j.get("people", [])} if s == 200 else {}
        check(byp.get("T3", {}).get("attributes") == {} and byp.get("T3", {}).get("cities") == []
              and byp.get("T1", {}).get("cities") == ["13101", "13104"],
              "list entries carry them too (empty when none)", (s, j))
        s, h, body = raw_get(anpid.admin_url, token, "/api/v1/people/export?format=csv")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig", "replace"))))
        check(s == 200 and rows and rows[0] == ["id", "name", "kana", "emails", "regions", "groups",
                                                 "addresses_status", "attributes"],
              "the export header ends with attributes", rows[:1])
        byid = {r[0]: r for r in rows[1:]}
        check(byid.get("T1", [""] * 8)[4] == "13;13101;13104" and byid["T1"][7] == "内線=1234;職種=技術",
              "export: city codes in the regions column, attributes as key=value;key=value", byid.get("T1"))
        check(byid.get("T2", [""] * 8)[7] == "'+tel=1" and byid.get("T4", [""] * 8)[7] == "",
              "an attributes cell is formula-safe too; empty when none", (byid.get("T2"), byid.get("T4")))

        # --- scope: a group admin of 本省/大臣官房 (and so 秘書課 below it)
        ga_token = group_admin(api, "kanbo-admin", "Shiken-Kanbo-2024!x", [kanbo["id"]])
        ga = harness.Api(anpid.admin_url, ga_token)
        s, j = ga.get("/api/v1/groups")
        roots = j.get("groups", []) if isinstance(j, dict) else []
        check(s == 200 and [n["path"] for n in roots] == ["本省/大臣官房"]
              and [c["path"] for c in roots[0]["children"]] == ["本省/大臣官房/秘書課"]
              and (roots[0]["members"], roots[0]["members_total"]) == (1, 3),
              "group admin: the tree is rooted at its group, with its subtree and counts", (s, j))
        s, j = ga.get("/api/v1/people")
        check(s == 200 and [p["id"] for p in j.get("people", [])] == ["T1", "T2", "T3"] and j.get("total") == 3,
              "group admin: the list without group= holds only its people", (s, j))
        s, j = ga.get("/api/v1/people?group=%d&subgroups=1" % kanbo["id"])
        check(s == 200 and [p["id"] for p in j.get("people", [])] == ["T1", "T2", "T3"],
              "group admin: its own group with subgroups", (s, j))
        t3 = [p for p in j.get("people", []) if p["id"] == "T3"] if s == 200 else []
        check(t3 and t3[0]["groups"] == ["本省/大臣官房/秘書課"],
              "group admin: a shared member shows only the groups in scope (支局 hidden)", t3)
        none = ga.get("/api/v1/people?group=999999")
        for g in (shikyoku, honsho):
            out = ga.get("/api/v1/people?group=%d" % g["id"])
            check(same_404(out, none, g["id"], 999999),
                  "group admin: %s (out of scope) is a 404 like a group that does not exist" % g["path"],
                  (out, none))
        out, none = ga.get("/api/v1/people/T4"), ga.get("/api/v1/people/NOBODY")
        check(same_404(out, none, "T4", "NOBODY"), "group admin: a person out of scope is a 404 like an unknown id",
              (out, none))
        s, j = ga.get("/api/v1/people/T5")
        check(s == 404, "group admin: a member of the parent group 本省 is out of scope too", (s, j))
        s, j = ga.get("/api/v1/people/T1")
        check(s == 200 and j.get("attributes") == {"職種": "技術", "内線": "1234"}
              and j.get("cities") == ["13101", "13104"], "group admin: its own person, with attributes", (s, j))
        s, h, body = raw_get(anpid.admin_url, ga_token, "/api/v1/people/export?format=csv")
        grows = list(csv.reader(io.StringIO(body.decode("utf-8-sig", "replace"))))
        check(s == 200 and [r[0] for r in grows[1:]] == ["T1", "T2", "T3"]
              and [r[5] for r in grows[1:] if r[0] == "T3"] == ["本省/大臣官房/秘書課"],
              "group admin: the export holds only its people and groups", grows)
        s1, _, b1 = raw_get(anpid.admin_url, ga_token, "/api/v1/people/export?format=csv&group=%d" % shikyoku["id"])
        s2, _, b2 = raw_get(anpid.admin_url, ga_token, "/api/v1/people/export?format=csv&group=999999")
        check(same_404((s1, json.loads(b1 or b"{}")), (s2, json.loads(b2 or b"{}")), shikyoku["id"], 999999),
              "group admin: exporting a group out of scope is a 404 like an unknown group", (s1, b1, s2, b2))
        got = pg.psql("SELECT actor || '|' || (detail->>'rows') FROM audit_log WHERE action = 'directory.export'"
                      " ORDER BY id DESC LIMIT 1")
        check(got == "kanbo-admin|3", "the export is audited under the group admin's login", got)
        s, j = ga.get("/api/v1/directory/status")
        check(s == 200 and j.get("counts", {}).get("people") == 3
              and [g["path"] for g in j.get("groups", [])] == ["本省/大臣官房", "本省/大臣官房/秘書課"]
              and [p["id"] for p in j.get("no_usable_address", [])] == ["T2"]
              and "groups_short_of_admins" not in j,
              "group admin: the status counts and lists its people and groups only", (s, j))

        # --- groups short of group admins (system-wide roles)
        s, j = api.get("/api/v1/directory/status")
        short = {g["path"]: g["admins"] for g in j.get("groups_short_of_admins", [])} if s == 200 else {}
        check(short == {"本省": 0, "本省/大臣官房": 1, "本省/大臣官房/秘書課": 0, "支局": 0},
              "status: every group has fewer than two group admins (大臣官房 has one)", (s, j))
        second = pg.psql("INSERT INTO accounts (login, role, password_hash, must_change, created_by)"
                         " VALUES ('kanbo-admin2', 'group-admin', 'x', false, 'test') RETURNING id").split()[0]
        gone = pg.psql("INSERT INTO accounts (login, role, password_hash, must_change, created_by, disabled_at)"
                       " VALUES ('shikyoku-old', 'group-admin', 'x', false, 'test', now()) RETURNING id").split()[0]
        pg.psql("INSERT INTO account_groups VALUES (%s, %d), (%s, %d), (%s, %d)"
                % (second, kanbo["id"], gone, shikyoku["id"], gone, hisho["id"]))
        s, j = api.get("/api/v1/directory/status")
        short = {g["path"]: g["admins"] for g in j.get("groups_short_of_admins", [])} if s == 200 else {}
        check(short == {"本省": 0, "本省/大臣官房/秘書課": 0, "支局": 0},
              "status: two active admins take 大臣官房 off the list; a disabled admin does not count", (s, j))
        vtoken = token_for(pg, pg.psql("INSERT INTO accounts (login, role, password_hash, must_change, created_by)"
                                       " VALUES ('viewer1', 'viewer', 'x', false, 'test') RETURNING id").split()[0])
        s, j = harness.Api(anpid.admin_url, vtoken).get("/api/v1/people")
        check(s == 200 and j.get("total") == 5, "a viewer sees the whole directory", (s, j))

        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-directory-", "the directory test", mode=0o755))
