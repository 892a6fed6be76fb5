/* test_rules_load.c - loading the shipped pack and refusing broken rule files
 * with exact FILE:LINE:COL messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/rules.h"

/* ---- a scratch pack directory ------------------------------------------ */

static char tmpdir[256];

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/anpi-rules-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    char t[300];
    snprintf(t, sizeof(t), "%s/templates", tmpdir);
    mkdir(t, 0700);
    write_file(t, "safety-check.ja.txt",
               "Subject: 安否確認 {{event.hypocenter}}\n\n{{drill_banner}}\n{{person.name}} 様\n{{reply_url}}\n");
    write_file(t, "approval-request.ja.txt",
               "Subject: 承認依頼\n\n{{drill_banner}}\n{{approve_url}}\n{{reject_url}}\n{{reason}}\n");
    write_file(t, "aftershock-notice.ja.txt", "Subject: 余震\n\n{{drill_banner}}\n{{reason}}\n");
    write_file(t, "info.ja.txt", "Subject: 地震情報\r\n\r\n{{drill_banner}}\r\n{{event.title}}\r\n");
    write_file(t, "info.ja.html", "<p>{{drill_banner}}</p><p>{{event.title}}</p>\n");
    write_file(t, "typo.ja.txt", "Subject: x\n\n{{drill_banner}}\nこんにちは {{person.nmae}}\n");
    write_file(t, "nosubject.ja.txt", "件名なし\n\n本文\n");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Load one rules file written from yaml; returns the error list. */
static int
load_text(const char *name, const char *yaml, struct anpi_ruleset **rs, struct anpi_errors *errs)
{
    char path[512];
    write_file(tmpdir, name, yaml);
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    const char *paths[] = { path };
    int rc = anpi_rules_load(paths, 1, rs, errs);
    unlink(path);
    return rc;
}

/* The file must be refused with exactly nerr errors, the first of which is
 * "<file>:<where_msg>". */
static void
expect_error(const char *yaml, size_t nerr, const char *where_msg)
{
    struct anpi_ruleset *rs = (struct anpi_ruleset *)1;
    struct anpi_errors errs = { 0 };
    int rc = load_text("bad.yaml", yaml, &rs, &errs);
    char want[1024];
    snprintf(want, sizeof(want), "%s/bad.yaml:%s", tmpdir, where_msg);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# got: %s\n", errs.msg[i]);
    assert_int_equal(rc, ANPI_EPARSE);
    assert_null(rs);
    assert_int_equal(errs.n, nerr);
    assert_string_equal(errs.msg[0], want);
    anpi_errors_free(&errs);
}

#define HEAD \
    "pack: test\n" \
    "rules:\n" \
    "  - id: r1\n"

/* A complete valid rule; the broken cases below are small edits of it. */
#define GOOD_WHEN \
    "    when:\n" \
    "      event: earthquake\n" \
    "      intensity_at_least: \"5-\"\n"
#define GOOD_INCIDENT \
    "    incident:\n" \
    "      key: event_key\n"
#define GOOD_REST \
    "    audience:\n" \
    "      regions: affected_prefectures\n" \
    "    message:\n" \
    "      template: safety-check\n"

/* ---- the shipped pack ---------------------------------------------------- */

static void
pack_path(char *buf, size_t len, const char *rest)
{
    const char *root = getenv("ANPI_SOURCE_ROOT");
    assert_non_null(root);
    snprintf(buf, len, "%s/rules/packs%s", root, rest);
}

static void
test_shipped_pack(void **state)
{
    (void)state;
    char dir[512];
    pack_path(dir, sizeof(dir), "/safety-domestic");
    const char *paths[] = { dir };
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = anpi_rules_load(paths, 1, &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.n, 0);
    assert_non_null(rs);
    assert_int_equal(rs->nrules, 3);   /* quake-safety-check, quake-info, quake-flash */
    assert_int_equal(rs->nfiles, 1);

    const struct anpi_rule *r = anpi_ruleset_find(rs, "quake-safety-check");
    assert_non_null(r);
    assert_string_equal(r->pack, "safety-domestic");
    assert_int_equal(r->event, ANPI_EV_EARTHQUAKE);
    assert_int_equal(r->statuses, 1u << ANPI_ST_ACTUAL);
    assert_int_equal(r->intensity_at_least, ANPI_INT_5L);
    assert_true(r->where_staff_regions);
    assert_true(r->opens_incident);
    assert_int_equal(r->aftershock_window_s, 6 * 3600);
    assert_int_equal(r->aftershock_area, ANPI_AREA_ADJACENT);
    assert_string_equal(r->notify_group, "duty-officers");
    assert_true(r->resend_if_stronger);
    assert_true(r->approval_required);
    assert_int_equal(r->approvals_required, 1);
    assert_string_equal(r->approver_group, "duty-officers");
    assert_int_equal(r->approval_timeout_s, 15 * 60);
    assert_int_equal(r->on_timeout, ANPI_TIMEOUT_HOLD);
    assert_int_equal(r->expiry_s, 6 * 3600);
    assert_true(r->audience_affected_regions);
    assert_int_equal(r->naudience_groups, 0);
    assert_int_equal(r->nquestions, 2);
    assert_string_equal(r->questions[0].id, "safety");
    assert_int_equal(r->questions[0].nchoices, 3);
    assert_string_equal(r->questions[0].choices[0], "無事");
    assert_string_equal(r->questions[0].choices[2], "重傷");
    assert_string_equal(r->questions[1].id, "attend");
    assert_string_equal(r->questions[1].choices[0], "出勤可能");
    assert_string_equal(r->questions[1].choices[1], "出勤不可");
    assert_int_equal(r->resend_after_s, 30 * 60);
    assert_int_equal(r->max_resends, 3);
    assert_int_equal(r->line, 22);   /* the pack header comment grew */
    /* Templates loaded, drill banner at the top of every body. */
    assert_non_null(r->message.subject);
    assert_non_null(strstr(r->message.text, "{{reply_url}}"));
    assert_int_equal(strncmp(r->message.text, "{{drill_banner}}", 16), 0);
    assert_non_null(strstr(r->approval_message.text, "{{approve_url}}"));
    assert_non_null(strstr(r->approval_message.text, "{{reject_url}}"));
    assert_non_null(strstr(r->approval_message.text, "{{reason}}"));
    assert_int_equal(strncmp(r->approval_message.text, "{{drill_banner}}", 16), 0);
    assert_int_equal(strncmp(r->notice_message.text, "{{drill_banner}}", 16), 0);
    assert_null(r->message.html);

    r = anpi_ruleset_find(rs, "quake-info");
    assert_non_null(r);
    assert_false(r->approval_required);
    assert_false(r->opens_incident);
    assert_true(r->where_prefs == 0);
    assert_false(r->where_staff_regions);
    assert_int_equal(r->naudience_groups, 1);
    assert_string_equal(r->audience_groups[0], "info-recipients");
    assert_int_equal(r->nquestions, 0);
    assert_int_equal(strncmp(r->message.text, "{{drill_banner}}", 16), 0);
    assert_null(r->approval_message.text);   /* not needed without approval */
    assert_true(r->send_corrections);
    assert_true(r->notify_cancellations);
    assert_non_null(r->correction_message.text);
    assert_non_null(r->cancellation_message.text);
    assert_null(anpi_ruleset_find(rs, "nope"));

    /* The incident rule tells of cancellations by default (the pack has the template). */
    r = anpi_ruleset_find(rs, "quake-safety-check");
    assert_true(r->notify_cancellations);
    assert_false(r->send_corrections);
    assert_null(r->correction_message.text);
    assert_non_null(strstr(r->cancellation_message.subject, "取消"));

    r = anpi_ruleset_find(rs, "quake-flash");
    assert_non_null(r);
    assert_int_equal(r->event, ANPI_EV_EEW);
    assert_int_equal(r->event_types, 1u << ANPI_EV_EEW);
    assert_true(r->eew_warning_only);
    assert_int_equal(r->intensity_at_least, ANPI_INT_5L);
    assert_false(r->approval_required);
    assert_false(r->opens_incident);
    assert_false(r->notify_cancellations);
    assert_int_equal(r->naudience_groups, 1);
    assert_string_equal(r->audience_groups[0], "info-recipients");
    assert_int_equal(strncmp(r->message.text, "{{drill_banner}}", 16), 0);
    anpi_ruleset_free(rs);
}

/* Every template body of a loaded rule starts with the drill banner. */
static void
assert_banner(const struct anpi_rule *r, const struct anpi_template *t, const char *what)
{
    if (!t->text)
        return;
    if (strncmp(t->text, "{{drill_banner}}", 16) != 0)
        fail_msg("%s: %s template body does not start with {{drill_banner}}", r->id, what);
}

static void
test_all_packs(void **state)
{
    (void)state;
    char dir[512];
    pack_path(dir, sizeof(dir), "/");
    const char *paths[] = { dir };
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = anpi_rules_load(paths, 1, &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    assert_int_equal(rs->nfiles, 5);
    static const char *const want[][2] = {
        { "quake-safety-check", "safety-domestic" }, { "quake-info", "safety-domestic" },
        { "quake-flash", "safety-domestic" },        { "tsunami-info", "tsunami" },
        { "weather-info", "weather" },               { "typhoon-info", "weather" },
        { "missile-safety-check", "missile" },       { "missile-info", "missile" },
        { "overseas-risk-info", "overseas" },        { "overseas-safety-check", "overseas" },
        { "overseas-disaster-info", "overseas" },   { "overseas-spot-info", "overseas" },
    };
    assert_int_equal(rs->nrules, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct anpi_rule *r = anpi_ruleset_find(rs, want[i][0]);
        if (!r)
            fail_msg("rule %s missing", want[i][0]);
        assert_string_equal(r->pack, want[i][1]);
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct anpi_rule *r = &rs->rules[i];
        assert_non_null(r->message.text);
        assert_banner(r, &r->message, "message");
        assert_banner(r, &r->approval_message, "approval");
        assert_banner(r, &r->notice_message, "notice");
        assert_banner(r, &r->correction_message, "correction");
        assert_banner(r, &r->cancellation_message, "cancellation");
        /* information rules go out at once; safety checks are gated */
        assert_true(r->approval_required == r->opens_incident);
        if (r->opens_incident)
            assert_true(r->nquestions >= 1);
    }

    const struct anpi_rule *r = anpi_ruleset_find(rs, "tsunami-info");
    assert_int_equal(r->event, ANPI_EV_TSUNAMI);
    assert_int_equal(r->tsunami_at_least, ANPI_TS_ADVISORY);
    assert_string_equal(r->audience_groups[0], "info-recipients");
    assert_true(r->notify_cancellations);

    r = anpi_ruleset_find(rs, "weather-info");
    assert_int_equal(r->weather_at_least, ANPI_WX_WARNING);
    assert_false(r->typhoon_only);
    r = anpi_ruleset_find(rs, "typhoon-info");
    assert_true(r->typhoon_only);
    assert_string_equal(r->audience_groups[0], "info-recipients");

    r = anpi_ruleset_find(rs, "missile-safety-check");
    assert_int_equal(r->missile_phases, (1u << ANPI_MS_LAUNCH) | (1u << ANPI_MS_IMMINENT) |
                                        (1u << ANPI_MS_IMPACT) | (1u << ANPI_MS_OVERFLIGHT));
    assert_true(r->opens_incident);
    assert_true(r->audience_affected_regions);
    assert_string_equal(r->approver_group, "duty-officers");
    assert_int_equal(r->nquestions, 2);
    assert_non_null(r->approval_message.text);
    assert_non_null(r->notice_message.text);
    r = anpi_ruleset_find(rs, "missile-info");
    assert_true((r->missile_phases & (1u << ANPI_MS_ALL_CLEAR)) != 0);
    assert_false(r->opens_incident);

    r = anpi_ruleset_find(rs, "overseas-risk-info");
    assert_int_equal(r->risk_level_at_least, 1);
    assert_int_equal(r->nrisk_kinds, 1);
    assert_string_equal(r->risk_kinds[0], "T40");
    r = anpi_ruleset_find(rs, "overseas-spot-info");
    assert_int_equal(r->risk_level_at_least, 0);   /* these items carry no level */
    assert_int_equal(r->nrisk_kinds, 3);
    r = anpi_ruleset_find(rs, "overseas-disaster-info");
    assert_int_equal(r->risk_level_at_least, 2);   /* GDACS Orange or Red */
    assert_string_equal(r->risk_kinds[0], "EQ");
    assert_true(r->audience_travellers);
    r = anpi_ruleset_find(rs, "overseas-risk-info");
    assert_true(r->audience_travellers);
    assert_string_equal(r->audience_groups[0], "overseas-admins");
    r = anpi_ruleset_find(rs, "overseas-safety-check");
    assert_int_equal(r->risk_level_at_least, 3);
    assert_true(r->audience_travellers);
    assert_int_equal(r->naudience_groups, 0);
    assert_true(r->opens_incident && r->approval_required);
    assert_false(r->notify_cancellations);   /* no cancellation-notice in this pack */
    anpi_ruleset_free(rs);

    /* The example drill loads too. */
    char ex[512];
    const char *root = getenv("ANPI_SOURCE_ROOT");
    snprintf(ex, sizeof(ex), "%s/examples/rules", root);
    const char *expaths[] = { ex };
    rc = anpi_rules_load(expaths, 1, &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    r = anpi_ruleset_find(rs, "weekly-safety-drill");
    assert_non_null(r);
    assert_int_equal(r->schedule_every_s, 7 * 86400);
    assert_int_equal(r->schedule_at_min, 600);
    assert_int_equal(r->event_types, 0);
    assert_banner(r, &r->message, "message");
    anpi_ruleset_free(rs);
}

static void
test_valid_minimal(void **state)
{
    (void)state;
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_text("ok.yaml",
        HEAD GOOD_WHEN
        "      status: [actual, exercise]\n"
        "      where: [13, 千葉県, kanagawa]\n"
        "    incident:\n"
        "      key: event_key\n"
        "      aftershocks: {window: 3h, area: 80km, notify: bousai, resend_if_stronger: false}\n"
        "    approval: {required: 2, roles: [managers], timeout: 10m, on_timeout: escalate,\n"
        "               escalate_to: directors, expiry: 2h}\n"
        "    audience: {regions: [13], groups: [all-staff, 本社]}\n"
        "    message: {template: safety-check}\n"
        "    follow_up: {resend_unanswered_after: 1h}\n"
        "  - id: r2\n"
        "    when: {event: missile}\n"
        "    approval: none\n"
        "    audience: {groups: [everyone]}\n"
        "    message: {template: info}\n",
        &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    const struct anpi_rule *r = &rs->rules[0];
    assert_int_equal(r->statuses, (1u << ANPI_ST_ACTUAL) | (1u << ANPI_ST_EXERCISE));
    assert_true(r->where_prefs == (ANPI_PREFSET_BIT(12) | ANPI_PREFSET_BIT(13) | ANPI_PREFSET_BIT(14)));
    assert_int_equal(r->aftershock_window_s, 3 * 3600);
    assert_int_equal(r->aftershock_area, ANPI_AREA_RADIUS);
    assert_true(r->aftershock_radius_km == 80.0);
    assert_string_equal(r->notify_group, "bousai");
    assert_false(r->resend_if_stronger);
    assert_int_equal(r->approvals_required, 2);
    assert_string_equal(r->approver_group, "managers");
    assert_int_equal(r->on_timeout, ANPI_TIMEOUT_ESCALATE);
    assert_string_equal(r->escalate_group, "directors");
    assert_int_equal(r->expiry_s, 7200);
    assert_int_equal(r->naudience_groups, 2);
    assert_string_equal(r->audience_groups[1], "本社");
    assert_int_equal(r->resend_after_s, 3600);
    assert_int_equal(r->max_resends, 1);
    r = &rs->rules[1];
    assert_int_equal(r->event, ANPI_EV_MISSILE);
    assert_int_equal(r->intensity_at_least, ANPI_INT_NONE);
    /* CRLF template folded to LF */
    assert_string_equal(r->message.subject, "地震情報");
    assert_string_equal(r->message.text, "{{drill_banner}}\n{{event.title}}\n");
    assert_non_null(r->message.html);    /* optional .ja.html beside it */
    assert_string_equal(r->message.html, "<p>{{drill_banner}}</p><p>{{event.title}}</p>\n");
    assert_null(rs->rules[0].message.html);
    anpi_ruleset_free(rs);
}

/* ---- broken files -------------------------------------------------------- */

static void
test_bad_duration(void **state)
{
    (void)state;
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    approval:\n"
                 "      timeout: soon\n" GOOD_REST,
                 1, "10:16: rules[0].approval.timeout: expected a duration like 15m, got \"soon\"");
}

static void
test_unknown_key(void **state)
{
    (void)state;
    expect_error(HEAD GOOD_WHEN
                 "      intensity: \"5-\"\n" GOOD_INCIDENT GOOD_REST,
                 1, "7:7: rules[0].when: unknown key \"intensity\" (expected one of: event, "
                    "status, intensity_at_least, where, tsunami_at_least, weather_at_least, "
                    "weather_kinds, typhoon, eew_warning_only, missile_phases, "
                    "risk_level_at_least, risk_kinds, countries)");
    expect_error("pack: test\nrulez: []\nrules: []\n", 1,
                 "2:1: unknown key \"rulez\" (expected one of: pack, rules)");
}

static void
test_wrong_type(void **state)
{
    (void)state;
    expect_error(HEAD
                 "    when:\n"
                 "      event: earthquake\n"
                 "      intensity_at_least: foo\n" GOOD_INCIDENT GOOD_REST,
                 1, "6:27: rules[0].when.intensity_at_least: expected an intensity like \"5-\", got \"foo\"");
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    approval: [1]\n" GOOD_REST,
                 1, "9:15: rules[0].approval: expected a mapping, got a list");
    expect_error(HEAD GOOD_WHEN
                 "    incident:\n"
                 "      aftershocks: {resend_if_stronger: maybe}\n" GOOD_REST,
                 1, "8:41: rules[0].incident.aftershocks.resend_if_stronger: expected true or false, got \"maybe\"");
}

static void
test_unknown_event(void **state)
{
    (void)state;
    expect_error(HEAD
                 "    when:\n"
                 "      event: quake\n" GOOD_INCIDENT GOOD_REST,
                 1, "5:14: rules[0].when.event: unknown event type \"quake\" (expected earthquake, "
                    "eew, tsunami, weather, missile, overseas or manual)");
}

static void
test_duplicate_ids(void **state)
{
    (void)state;
    char sub[400];
    snprintf(sub, sizeof(sub), "%s/pack2", tmpdir);
    mkdir(sub, 0700);
    char t[450];
    snprintf(t, sizeof(t), "%s/templates", sub);
    mkdir(t, 0700);
    write_file(t, "x.ja.txt", "Subject: x\n\n{{drill_banner}}\n");
    const char *rule = "pack: p\nrules:\n"
                       "  - id: same\n"
                       "    when: {event: earthquake}\n"
                       "    approval: none\n"
                       "    audience: {groups: [g]}\n"
                       "    message: {template: x}\n";
    write_file(sub, "a.yaml", rule);
    write_file(sub, "b.yml", rule);
    write_file(sub, "notes.txt", "not a rule file");
    const char *paths[] = { sub };
    struct anpi_ruleset *rs = (struct anpi_ruleset *)1;
    struct anpi_errors errs = { 0 };
    assert_int_equal(anpi_rules_load(paths, 1, &rs, &errs), ANPI_EPARSE);
    assert_null(rs);
    assert_int_equal(errs.n, 1);
    char want[1200];
    snprintf(want, sizeof(want),
             "%s/b.yml:3:9: rules[0].id: duplicate rule id \"same\" (first defined at %s/a.yaml:3)",
             sub, sub);
    assert_string_equal(errs.msg[0], want);
    anpi_errors_free(&errs);

    /* And within one file. */
    snprintf(want, sizeof(want),
             "4:10: rules[1].id: duplicate rule id \"a\" (first defined at %s/bad.yaml:3)", tmpdir);
    expect_error("pack: p\nrules:\n"
                 "  - {id: a, when: {event: earthquake}, approval: none, audience: {groups: [g]}, message: {template: info}}\n"
                 "  - {id: a, when: {event: earthquake}, approval: none, audience: {groups: [g]}, message: {template: info}}\n",
                 1, want);
}

static void
test_missing_template(void **state)
{
    (void)state;
    char want[600];
    snprintf(want, sizeof(want),
             "12:17: rules[0].message.template: template file %s/templates/nothere.ja.txt not found",
             tmpdir);
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    audience:\n"
                 "      regions: affected_prefectures\n"
                 "    message:\n"
                 "      template: nothere\n",
                 1, want);
    /* No path tricks in template names. */
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    audience: {groups: [g]}\n"
                 "    message: {template: ../../etc/passwd}\n",
                 1, "10:25: rules[0].message.template: expected a name like safety-check "
                    "(letters, digits, - and _), got \"../../etc/passwd\"");
}

static void
test_template_errors(void **state)
{
    (void)state;
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_text("t.yaml", HEAD GOOD_WHEN GOOD_INCIDENT
                       "    audience: {groups: [g]}\n"
                       "    message: {template: typo}\n", &rs, &errs);
    assert_int_equal(rc, ANPI_EPARSE);
    assert_int_equal(errs.n, 1);
    char want[600];
    snprintf(want, sizeof(want), "%s/templates/typo.ja.txt:4:7: unknown template variable {{person.nmae}}",
             tmpdir);
    assert_string_equal(errs.msg[0], want);
    anpi_errors_free(&errs);

    rc = load_text("t.yaml", HEAD GOOD_WHEN GOOD_INCIDENT
                   "    audience: {groups: [g]}\n"
                   "    message: {template: nosubject}\n", &rs, &errs);
    assert_int_equal(rc, ANPI_EPARSE);
    assert_int_equal(errs.n, 1);
    snprintf(want, sizeof(want), "%s/templates/nosubject.ja.txt:1:1: a template starts with a "
             "\"Subject: ...\" line", tmpdir);
    assert_string_equal(errs.msg[0], want);
    anpi_errors_free(&errs);
}

static void
test_questions(void **state)
{
    (void)state;
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    audience: {groups: [g]}\n"
                 "    message:\n"
                 "      template: safety-check\n"
                 "      questions:\n"
                 "        - {id: safety, text: 状況, choices: [無事]}\n"
                 "        - {id: attend, text: 出勤}\n",
                 1, "14:11: rules[0].message.questions[1]: a question needs choices");
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    audience: {groups: [g]}\n"
                 "    message:\n"
                 "      template: safety-check\n"
                 "      questions:\n"
                 "        - {id: q, text: t, choices: [a, b, c, d, e, f, g, h, i, j, k]}\n",
                 1, "13:37: rules[0].message.questions[0].choices: at most 10 choices, got 11");
}

static void
test_approvals(void **state)
{
    (void)state;
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    approval: {required: 0}\n" GOOD_REST,
                 1, "9:26: rules[0].approval.required: must be at least 1 (write approval: none "
                    "to send without approval), got 0");
    expect_error(HEAD GOOD_WHEN
                 "    approval: {required: 1}\n" GOOD_REST,
                 1, "7:15: rules[0]: approval is required but the rule has no incident: section; "
                    "add one or write approval: none");
    expect_error(HEAD GOOD_WHEN GOOD_REST,
                 1, "3:5: rules[0]: approval is required (the default) but the rule has no "
                    "incident: section; add one or write approval: none");
    expect_error(HEAD GOOD_WHEN GOOD_INCIDENT
                 "    approval: {on_timeout: escalate}\n" GOOD_REST,
                 1, "9:28: rules[0].approval.on_timeout: escalate needs escalate_to: <group>");
}

static void
test_where_and_area(void **state)
{
    (void)state;
    expect_error(HEAD
                 "    when: {event: earthquake, where: [13, 99]}\n" GOOD_INCIDENT GOOD_REST,
                 1, "4:43: rules[0].when.where[1]: unknown prefecture \"99\" (use a JIS code 1..47 or a name)");
    expect_error(HEAD GOOD_WHEN
                 "    incident: {aftershocks: {area: nearby}}\n" GOOD_REST,
                 1, "7:36: rules[0].incident.aftershocks.area: expected same, adjacent or a "
                    "radius like 80km, got \"nearby\"");
}

static void
test_syntax_and_limits(void **state)
{
    (void)state;
    expect_error("pack: test\nrules: [\n", 1,
                 "3:1: YAML syntax error: did not find expected node content while parsing a flow node");
    expect_error("pack: &a test\nrules: *a\n", 1,
                 "2:8: YAML aliases (*a) are not supported in rule files");
    expect_error("", 1, "1:1: the file is empty (expected pack: and rules:)");

    /* Nesting past the cap. */
    char deep[256] = "pack: test\nrules: ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "\n");
    expect_error(deep, 1, "2:39: nesting deeper than 32 levels");

    /* Over 1 MiB. */
    size_t big = ANPI_RULES_MAX_FILE + 10;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '#', big);
    text[big] = '\0';
    expect_error(text, 1, "1:1: rule file larger than 1 MiB");
    free(text);

    /* A missing path. */
    const char *paths[] = { "/nonexistent/anpi/rules.yaml" };
    struct anpi_ruleset *rs = (struct anpi_ruleset *)1;
    struct anpi_errors errs = { 0 };
    assert_int_equal(anpi_rules_load(paths, 1, &rs, &errs), ANPI_EPARSE);
    assert_null(rs);
    assert_string_equal(errs.msg[0], "/nonexistent/anpi/rules.yaml:1:1: cannot open: No such file or directory");
    anpi_errors_free(&errs);
}

static void
test_all_errors_reported(void **state)
{
    (void)state;
    /* Three independent problems: all three are listed, in file order. */
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_text("many.yaml",
                       HEAD
                       "    when: {event: earthquake, intensity_at_least: 9}\n"
                       "    incident: {key: event_key}\n"
                       "    approval: {timeout: soon}\n"
                       "    audience: {}\n"
                       "    message: {template: safety-check}\n",
                       &rs, &errs);
    assert_int_equal(rc, ANPI_EPARSE);
    assert_int_equal(errs.n, 3);
    assert_non_null(strstr(errs.msg[0], "many.yaml:4:51: rules[0].when.intensity_at_least"));
    assert_non_null(strstr(errs.msg[1], "many.yaml:6:25: rules[0].approval.timeout"));
    assert_non_null(strstr(errs.msg[2], "many.yaml:7:15: rules[0].audience: names nobody"));
    anpi_errors_free(&errs);
}

/* ---- the rule language for every alert source ----------------------------- */

static void
test_when_all_types(void **state)
{
    (void)state;
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_text("types.yaml",
        "pack: test\n"
        "rules:\n"
        "  - id: both\n"
        "    when: {event: [earthquake, eew], intensity_at_least: \"6-\", where: [13]}\n"
        "    approval: none\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: info}\n"
        "  - id: ts\n"
        "    when: {event: tsunami, tsunami_at_least: warning, where: staff_regions}\n"
        "    approval: none\n"
        "    audience: {regions: affected_prefectures}\n"
        "    message: {template: info}\n"
        "  - id: wx\n"
        "    when: {event: weather, weather_at_least: emergency, weather_kinds: [大雨, 暴風]}\n"
        "    approval: none\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: info}\n"
        "  - id: eew\n"
        "    when: {event: eew, eew_warning_only: true}\n"
        "    approval: none\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: info}\n"
        "  - id: ms\n"
        "    when: {event: missile, missile_phases: [all_clear, interception]}\n"
        "    approval: none\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: info}\n"
        "  - id: ms-default\n"
        "    when: {event: missile}\n"
        "    approval: none\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: info}\n"
        "  - id: os\n"
        "    when: {event: overseas, risk_level_at_least: 2, risk_kinds: [T40, EQ], countries: [th, US]}\n"
        "    approval: none\n"
        "    audience: {groups: [g], travellers: event_countries}\n"
        "    message: {template: info}\n"
        "  - id: mixed\n"
        "    when: {event: [overseas, missile], countries: [KR], where: [沖縄県]}\n"
        "    approval: none\n"
        "    audience: {travellers: event_countries, regions: affected_prefectures}\n"
        "    message: {template: info}\n",
        &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    const struct anpi_rule *r = anpi_ruleset_find(rs, "both");
    assert_int_equal(r->event, ANPI_EV_EARTHQUAKE);
    assert_int_equal(r->event_types, (1u << ANPI_EV_EARTHQUAKE) | (1u << ANPI_EV_EEW));
    assert_int_equal(r->intensity_at_least, ANPI_INT_6L);
    assert_false(r->notify_cancellations);   /* no incident: default ignore */
    assert_false(r->send_corrections);
    r = anpi_ruleset_find(rs, "ts");
    assert_int_equal(r->tsunami_at_least, ANPI_TS_WARNING);
    assert_true(r->where_staff_regions);
    r = anpi_ruleset_find(rs, "wx");
    assert_int_equal(r->weather_at_least, ANPI_WX_EMERGENCY);
    assert_int_equal(r->nweather_kinds, 2);
    assert_string_equal(r->weather_kinds[0], "大雨");
    assert_string_equal(r->weather_kinds[1], "暴風");
    r = anpi_ruleset_find(rs, "eew");
    assert_true(r->eew_warning_only);
    assert_int_equal(r->intensity_at_least, ANPI_INT_NONE);
    r = anpi_ruleset_find(rs, "ms");
    assert_int_equal(r->missile_phases, (1u << ANPI_MS_ALL_CLEAR) | (1u << ANPI_MS_INTERCEPTION));
    r = anpi_ruleset_find(rs, "ms-default");
    assert_int_equal(r->missile_phases, 0);
    r = anpi_ruleset_find(rs, "os");
    assert_int_equal(r->risk_level_at_least, 2);
    assert_int_equal(r->nrisk_kinds, 2);
    assert_string_equal(r->risk_kinds[1], "EQ");
    assert_int_equal(r->ncountries, 2);
    assert_string_equal(r->countries[0], "TH");   /* upper-cased */
    assert_string_equal(r->countries[1], "US");
    assert_true(r->audience_travellers);
    r = anpi_ruleset_find(rs, "mixed");
    assert_int_equal(r->event, ANPI_EV_OVERSEAS);
    assert_true(r->audience_travellers && r->audience_affected_regions);
    assert_true(r->where_prefs == ANPI_PREFSET_BIT(47));
    anpi_ruleset_free(rs);
}

#define INFO_TAIL \
    "    approval: none\n" \
    "    audience: {groups: [g]}\n" \
    "    message: {template: info}\n"

static void
test_when_errors(void **state)
{
    (void)state;
    expect_error(HEAD "    when: {event: tsunami, tsunami_at_least: huge}\n" INFO_TAIL, 1,
                 "4:46: rules[0].when.tsunami_at_least: expected forecast, advisory, warning or "
                 "major, got \"huge\"");
    expect_error(HEAD "    when: {event: weather, weather_at_least: none}\n" INFO_TAIL, 1,
                 "4:46: rules[0].when.weather_at_least: expected advisory, warning or emergency, "
                 "got \"none\"");
    expect_error(HEAD "    when: {event: missile, missile_phases: [launch, landing]}\n" INFO_TAIL, 1,
                 "4:53: rules[0].when.missile_phases[1]: unknown missile phase \"landing\" "
                 "(expected launch, imminent, impact, overflight, impact_outside, interception, "
                 "all_clear or other)");
    expect_error(HEAD "    when: {event: missile, missile_phases: []}\n" INFO_TAIL, 1,
                 "4:44: rules[0].when.missile_phases: empty missile phase list");
    expect_error(HEAD "    when: {event: overseas, risk_level_at_least: 5}\n" INFO_TAIL, 1,
                 "4:50: rules[0].when.risk_level_at_least: must be between 1 and 4, got 5");
    expect_error(HEAD "    when: {event: overseas, countries: [TH, Thailand]}\n" INFO_TAIL, 1,
                 "4:45: rules[0].when.countries[1]: expected an ISO 3166-1 alpha-2 country code "
                 "like TH, got \"Thailand\"");
    expect_error(HEAD "    when: {event: overseas, countries: [TH, th]}\n" INFO_TAIL, 1,
                 "4:45: rules[0].when.countries[1]: country TH listed twice");
    expect_error(HEAD "    when: {event: overseas, risk_kinds: [t40]}\n" INFO_TAIL, 1,
                 "4:42: rules[0].when.risk_kinds[0]: expected a code like T40 or EQ (A-Z, 0-9), "
                 "got \"t40\"");
    expect_error(HEAD "    when: {event: [earthquake, eew, earthquake]}\n" INFO_TAIL, 1,
                 "4:37: rules[0].when.event[2]: event type earthquake listed twice");
    expect_error(HEAD "    when: {event: []}\n" INFO_TAIL, 1,
                 "4:19: rules[0].when.event: empty event type list");
    expect_error(HEAD "    when: {event: weather, typhoon: false}\n" INFO_TAIL, 1,
                 "4:37: rules[0].when.typhoon: typhoon: false is the default; leave the key out");
    expect_error(HEAD "    when: {event: eew, eew_warning_only: yes}\n" INFO_TAIL, 1,
                 "4:42: rules[0].when.eew_warning_only: expected true or false, got \"yes\"");
}

static void
test_when_wrong_type(void **state)
{
    (void)state;
    /* A condition for a type the rule is not for. */
    expect_error(HEAD "    when: {event: tsunami, intensity_at_least: \"5-\"}\n" INFO_TAIL, 1,
                 "4:48: rules[0].when.intensity_at_least: applies to earthquake and eew events, "
                 "but this rule is for tsunami");
    expect_error(HEAD "    when: {event: [earthquake, eew], tsunami_at_least: major}\n" INFO_TAIL, 1,
                 "4:56: rules[0].when.tsunami_at_least: applies to tsunami events, but this rule "
                 "is for earthquake, eew");
    expect_error(HEAD "    when: {event: earthquake, eew_warning_only: true}\n" INFO_TAIL, 1,
                 "4:49: rules[0].when.eew_warning_only: applies to eew events, but this rule is "
                 "for earthquake");
    expect_error(HEAD "    when: {event: tsunami, weather_kinds: [大雨]}\n" INFO_TAIL, 1,
                 "4:43: rules[0].when.weather_kinds: applies to weather events, but this rule is "
                 "for tsunami");
    expect_error(HEAD "    when: {event: earthquake, missile_phases: [launch]}\n" INFO_TAIL, 1,
                 "4:47: rules[0].when.missile_phases: applies to missile events, but this rule is "
                 "for earthquake");
    expect_error(HEAD "    when: {event: missile, countries: [KP]}\n" INFO_TAIL, 1,
                 "4:39: rules[0].when.countries: applies to overseas events, but this rule is for "
                 "missile");
    expect_error(HEAD "    when: {event: overseas, where: [13]}\n" INFO_TAIL, 1,
                 "4:36: rules[0].when.where: applies to prefecture-based (not overseas) events, "
                 "but this rule is for overseas");
    /* Audiences that cannot be resolved for the rule's events. */
    expect_error(HEAD "    when: {event: earthquake}\n"
                 "    approval: none\n"
                 "    audience: {travellers: event_countries}\n"
                 "    message: {template: info}\n", 1,
                 "6:28: rules[0].audience.travellers: travellers: event_countries needs event: "
                 "overseas (other events name no country)");
    expect_error(HEAD "    when: {event: overseas}\n"
                 "    approval: none\n"
                 "    audience: {travellers: everyone}\n"
                 "    message: {template: info}\n", 1,
                 "6:28: rules[0].audience.travellers: expected event_countries, got \"everyone\"");
    expect_error(HEAD "    when: {event: overseas}\n"
                 "    approval: none\n"
                 "    audience: {regions: affected_prefectures}\n"
                 "    message: {template: info}\n", 1,
                 "6:25: rules[0].audience.regions: overseas events affect no prefecture; use "
                 "travellers: event_countries or groups:");
    /* Aftershock window and area are for quakes. */
    expect_error(HEAD "    when: {event: missile}\n"
                 "    incident: {key: event_key, aftershocks: {window: 1h}}\n" GOOD_REST, 1,
                 "5:54: rules[0].incident.aftershocks.window: applies to earthquake and eew events "
                 "only; other events join an incident by event key alone");
}

/* A pack directory with correction and cancellation templates. */
static void
followup_pack(char *dir, size_t len)
{
    snprintf(dir, len, "%s/fu", tmpdir);
    mkdir(dir, 0700);
    char t[450];
    snprintf(t, sizeof(t), "%s/templates", dir);
    mkdir(t, 0700);
    write_file(t, "m.ja.txt", "Subject: m\n\n{{drill_banner}}\n{{event.title}}\n");
    write_file(t, "approval-request.ja.txt", "Subject: a\n\n{{drill_banner}}\n{{approve_url}}\n");
    write_file(t, "aftershock-notice.ja.txt", "Subject: n\n\n{{drill_banner}}\n{{reason}}\n");
    write_file(t, "correction-notice.ja.txt", "Subject: 訂正\n\n{{drill_banner}}\n{{event.description}}\n");
    write_file(t, "cancellation-notice.ja.txt", "Subject: 取消\n\n{{drill_banner}}\n{{event.title}}\n");
    write_file(t, "own-cancel.ja.txt", "Subject: 取消(独自)\n\n{{drill_banner}}\n{{event.url}}\n");
}

static int
load_in(const char *dir, const char *yaml, struct anpi_ruleset **rs, struct anpi_errors *errs)
{
    char path[600];
    write_file(dir, "r.yaml", yaml);
    snprintf(path, sizeof(path), "%s/r.yaml", dir);
    const char *paths[] = { path };
    int rc = anpi_rules_load(paths, 1, rs, errs);
    unlink(path);
    return rc;
}

static void
test_corrections_and_cancels(void **state)
{
    (void)state;
    char dir[400];
    followup_pack(dir, sizeof(dir));
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_in(dir,
        "pack: fu\n"
        "rules:\n"
        "  - id: check\n"
        "    when: {event: earthquake}\n"
        "    incident: {key: event_key}\n"
        "    audience: {regions: affected_prefectures}\n"
        "    message: {template: m}\n"
        "  - id: info\n"
        "    when: {event: earthquake}\n"
        "    approval: none\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: m, cancellation: own-cancel}\n"
        "    on_correction: send\n"
        "    on_cancel: notify\n"
        "  - id: quiet\n"
        "    when: {event: earthquake}\n"
        "    incident: {key: event_key}\n"
        "    audience: {groups: [g]}\n"
        "    message: {template: m}\n"
        "    on_correction: ignore\n"
        "    on_cancel: ignore\n",
        &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    const struct anpi_rule *r = anpi_ruleset_find(rs, "check");
    assert_false(r->send_corrections);
    assert_true(r->notify_cancellations);     /* default for incident rules, template present */
    assert_string_equal(r->cancellation_message.subject, "取消");
    assert_null(r->correction_message.text);
    r = anpi_ruleset_find(rs, "info");
    assert_true(r->send_corrections);
    assert_string_equal(r->correction_message.subject, "訂正");
    assert_true(r->notify_cancellations);
    assert_string_equal(r->cancellation_message.subject, "取消(独自)");
    r = anpi_ruleset_find(rs, "quiet");
    assert_false(r->send_corrections);
    assert_false(r->notify_cancellations);
    assert_null(r->cancellation_message.text);
    anpi_ruleset_free(rs);

    /* In the scratch pack there are no correction/cancellation templates. */
    char want[700];
    snprintf(want, sizeof(want), "10:20: rules[0].on_correction: template file "
             "%s/templates/correction-notice.ja.txt not found (the pack default for correction; "
             "needed by this rule, or name one with message.correction)", tmpdir);
    expect_error(HEAD GOOD_WHEN INFO_TAIL "    on_correction: send\n", 1, want);
    snprintf(want, sizeof(want), "10:16: rules[0].on_cancel: template file "
             "%s/templates/cancellation-notice.ja.txt not found (the pack default for "
             "cancellation; needed by this rule, or name one with message.cancellation)", tmpdir);
    expect_error(HEAD GOOD_WHEN INFO_TAIL "    on_cancel: notify\n", 1, want);
    expect_error(HEAD GOOD_WHEN INFO_TAIL "    on_correction: resend\n", 1,
                 "10:20: rules[0].on_correction: expected send or ignore, got \"resend\"");
    expect_error(HEAD GOOD_WHEN INFO_TAIL "    on_cancel: mail\n", 1,
                 "10:16: rules[0].on_cancel: expected notify or ignore, got \"mail\"");
    expect_error(HEAD GOOD_WHEN
                 "    approval: none\n"
                 "    audience: {groups: [g]}\n"
                 "    message: {template: info, correction: info}\n", 1,
                 "9:43: rules[0].message.correction: a correction template is only sent with "
                 "on_correction: send");
    expect_error(HEAD GOOD_WHEN
                 "    approval: none\n"
                 "    audience: {groups: [g]}\n"
                 "    message: {template: info, cancellation: info}\n", 1,
                 "9:45: rules[0].message.cancellation: a cancellation template is only sent with "
                 "on_cancel: notify (the default for rules without an incident is ignore)");
    /* A named template is loaded and checked like any other. */
    struct anpi_ruleset *bad = NULL;
    rc = load_text("t.yaml", HEAD GOOD_WHEN
                   "    approval: none\n"
                   "    audience: {groups: [g]}\n"
                   "    message: {template: info, correction: typo}\n"
                   "    on_correction: send\n", &bad, &errs);
    assert_int_equal(rc, ANPI_EPARSE);
    assert_null(bad);
    assert_int_equal(errs.n, 1);
    snprintf(want, sizeof(want), "%s/templates/typo.ja.txt:4:7: unknown template variable "
             "{{person.nmae}}", tmpdir);
    assert_string_equal(errs.msg[0], want);
    anpi_errors_free(&errs);
}

static void
test_schedule(void **state)
{
    (void)state;
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_text("drill.yaml",
        "pack: test\n"
        "rules:\n"
        "  - id: drill\n"
        "    schedule: {every: 7d, at: \"10:00\", start: \"2025-04-07\"}\n"
        "    approval: none\n"
        "    audience: {groups: [drill-members]}\n"
        "    message: {template: safety-check}\n"
        "  - id: hourly\n"
        "    schedule: {every: 12h}\n"
        "    approval: none\n"
        "    audience: {groups: [g], regions: [13]}\n"
        "    message: {template: info}\n",
        &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    const struct anpi_rule *r = anpi_ruleset_find(rs, "drill");
    assert_int_equal(r->schedule_every_s, 7 * 86400);
    assert_int_equal(r->schedule_at_min, 600);
    assert_int_equal(r->event_types, 0);
    assert_false(r->opens_incident);
    assert_false(r->notify_cancellations);
    /* 2025-04-07 00:00 JST = 2025-04-06 15:00 UTC = 1743951600 */
    assert_int_equal(r->schedule_start, 1743951600);
    /* Runs on Mondays 10:00 JST (01:00 UTC). */
    assert_int_equal(anpi_rule_next_drill(r, 0), 1743951600 + 36000);
    assert_int_equal(anpi_rule_next_drill(r, 1743951600 + 36000), 1743951600 + 36000 + 7 * 86400);
    assert_int_equal(anpi_rule_next_drill(r, 1743951600 + 36000 - 1), 1743951600 + 36000);
    /* 2025-10-09 (Thursday) -> Monday 2025-10-13 10:00 JST */
    assert_int_equal(anpi_rule_next_drill(r, 1760000000), 1760317200);
    r = anpi_ruleset_find(rs, "hourly");
    assert_int_equal(r->schedule_every_s, 12 * 3600);
    assert_int_equal(r->schedule_at_min, -1);
    assert_int_equal(anpi_rule_next_drill(r, 0), 12 * 3600 - 9 * 3600);
    assert_int_equal(anpi_rule_next_drill(&rs->rules[0], 0) > 0, 1);
    /* Event rules have no schedule. */
    struct anpi_rule plain;
    memset(&plain, 0, sizeof(plain));
    assert_int_equal(anpi_rule_next_drill(&plain, 0), 0);
    anpi_ruleset_free(rs);

#define DRILL_HEAD HEAD "    schedule: {every: 7d, at: \"10:00\"}\n"
    expect_error(HEAD GOOD_WHEN "    schedule: {every: 7d}\n" INFO_TAIL, 1,
                 "7:15: rules[0].schedule: a rule has when: (events) or schedule: (a drill), not both");
    expect_error(HEAD INFO_TAIL, 1, "3:5: rules[0]: missing when (or schedule: for a scheduled drill)");
    expect_error(HEAD "    schedule: {every: 12h, at: \"10:00\"}\n" INFO_TAIL, 1,
                 "4:23: rules[0].schedule.every: with at:, every must be whole days (1d, 7d, ...), "
                 "got \"12h\"");
    expect_error(HEAD "    schedule: {every: 7d, at: \"25:00\"}\n" INFO_TAIL, 1,
                 "4:31: rules[0].schedule.at: expected a JST time like \"10:00\", got \"25:00\"");
    expect_error(HEAD "    schedule: {every: 30m}\n" INFO_TAIL, 1,
                 "4:23: rules[0].schedule.every: duration 30m out of range (3600s .. 366d)");
    expect_error(HEAD "    schedule: {at: \"10:00\"}\n" INFO_TAIL, 1,
                 "4:15: rules[0].schedule: missing every (a duration like 7d)");
    expect_error(HEAD "    schedule: {every: 1d, start: \"2025-02-30\"}\n" INFO_TAIL, 1,
                 "4:34: rules[0].schedule.start: expected a date like \"2025-04-07\" (2000 .. 2100), "
                 "got \"2025-02-30\"");
    expect_error(DRILL_HEAD GOOD_INCIDENT "    approval: none\n    audience: {groups: [g]}\n"
                 "    message: {template: info}\n", 1,
                 "6:7: rules[0].incident: a scheduled drill rule opens no incident (remove incident:)");
    expect_error(DRILL_HEAD "    audience: {groups: [g]}\n    message: {template: info}\n", 1,
                 "3:5: rules[0]: a scheduled drill rule is sent without approval; write approval: none");
    expect_error(DRILL_HEAD "    approval: none\n    audience: {regions: [13]}\n"
                 "    message: {template: info}\n", 1,
                 "6:15: rules[0].audience: a scheduled drill rule needs groups: (who takes part in "
                 "the drill)");
    expect_error(DRILL_HEAD "    approval: none\n    audience: {groups: [g], regions: affected_prefectures}\n"
                 "    message: {template: info}\n", 1,
                 "6:15: rules[0].audience: a scheduled drill has no event: regions: "
                 "affected_prefectures cannot be resolved; name groups:");
    expect_error(DRILL_HEAD "    approval: none\n    audience: {groups: [g], travellers: event_countries}\n"
                 "    message: {template: info}\n", 1,
                 "6:15: rules[0].audience: a scheduled drill has no event: travellers: "
                 "event_countries cannot be resolved; name groups:");
    expect_error(DRILL_HEAD INFO_TAIL "    on_cancel: notify\n", 1,
                 "8:16: rules[0].on_cancel: a scheduled drill has no reports to correct or cancel");
#undef DRILL_HEAD
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_pack),
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_bad_duration),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_unknown_event),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_missing_template),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_questions),
        cmocka_unit_test(test_approvals),
        cmocka_unit_test(test_where_and_area),
        cmocka_unit_test(test_syntax_and_limits),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_all_packs),
        cmocka_unit_test(test_when_all_types),
        cmocka_unit_test(test_when_errors),
        cmocka_unit_test(test_when_wrong_type),
        cmocka_unit_test(test_corrections_and_cancels),
        cmocka_unit_test(test_schedule),
    };
    return cmocka_run_group_tests_name("rules_load", tests, setup, teardown);
}
