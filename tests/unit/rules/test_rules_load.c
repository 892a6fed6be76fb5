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
    assert_int_equal(rs->nrules, 2);
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
    assert_int_equal(r->line, 13);
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
    assert_null(anpi_ruleset_find(rs, "nope"));
    anpi_ruleset_free(rs);

    /* The packs directory as a whole loads too (recursive). */
    pack_path(dir, sizeof(dir), "/");
    rc = anpi_rules_load(paths, 1, &rs, &errs);
    assert_int_equal(rc, 0);
    assert_true(rs->nrules >= 2);
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
                    "status, intensity_at_least, where)");
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
    };
    return cmocka_run_group_tests_name("rules_load", tests, setup, teardown);
}
