/* test_rules_follow_up.c - the follow_up: keys of a rule (resend rounds with
 * a deadline and per-round wording): what loads, and the FILE:LINE:COL
 * errors of what does not. */
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
    snprintf(tmpdir, sizeof(tmpdir), "%s/anpi-followup-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
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
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

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

/* Refused with exactly nerr errors, the first "<file>:<where_msg>". */
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

/* Lines 1-12; follow_up: starts on line 13. */
#define RULE \
    "pack: test\n" \
    "rules:\n" \
    "  - id: r1\n" \
    "    when:\n" \
    "      event: earthquake\n" \
    "      intensity_at_least: \"5-\"\n" \
    "    incident:\n" \
    "      key: event_key\n" \
    "    audience:\n" \
    "      regions: affected_prefectures\n" \
    "    message:\n" \
    "      template: safety-check\n"

static void
test_full_follow_up(void **state)
{
    (void)state;
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = load_text("ok.yaml", RULE
        "    follow_up:\n"
        "      resend_unanswered_after: 30m\n"
        "      max_resends: 3\n"
        "      until: 3h\n"
        "      wording:\n"
        "        - {subject: \"【至急】{{incident.title}}\", body: \"{{person.name}} 様 まだ回答がありません\\n{{reply_url}}\"}\n"
        "        - subject: 最終のお願い（第{{round}}回）\n"
        "          body: |\n"
        "            {{person.name}} 様\n"
        "            {{reply_url}}\n",
        &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    const struct anpi_rule *r = &rs->rules[0];
    assert_int_equal(r->resend_after_s, 1800);
    assert_int_equal(r->max_resends, 3);
    assert_int_equal(r->resend_until_s, 3 * 3600);
    assert_int_equal(r->nresend_wording, 2);
    assert_string_equal(r->resend_wording[0].subject, "【至急】{{incident.title}}");
    assert_string_equal(r->resend_wording[0].text, "{{person.name}} 様 まだ回答がありません\n{{reply_url}}");
    assert_null(r->resend_wording[0].html);
    assert_string_equal(r->resend_wording[1].subject, "最終のお願い（第{{round}}回）");
    assert_string_equal(r->resend_wording[1].text, "{{person.name}} 様\n{{reply_url}}\n");
    /* the rule's own message is untouched: the first mail uses it */
    assert_string_equal(r->message.subject, "安否確認 {{event.hypocenter}}");
    anpi_ruleset_free(rs);
}

static void
test_defaults(void **state)
{
    (void)state;
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    /* no follow_up: no resends, no deadline, no wording */
    int rc = load_text("ok.yaml", RULE, &rs, &errs);
    assert_int_equal(rc, 0);
    assert_int_equal(rs->rules[0].max_resends, 0);
    assert_int_equal(rs->rules[0].resend_until_s, 0);
    assert_int_equal(rs->rules[0].nresend_wording, 0);
    assert_null(rs->rules[0].resend_wording);
    anpi_ruleset_free(rs);
    /* the old form still loads: one round, until the incident expiry, same wording */
    rc = load_text("ok.yaml", RULE "    follow_up: {resend_unanswered_after: 1h}\n", &rs, &errs);
    assert_int_equal(rc, 0);
    assert_int_equal(rs->rules[0].resend_after_s, 3600);
    assert_int_equal(rs->rules[0].max_resends, 1);
    assert_int_equal(rs->rules[0].resend_until_s, 0);
    assert_int_equal(rs->rules[0].nresend_wording, 0);
    anpi_ruleset_free(rs);
    /* until alone (no wording), and a wording list shorter than the rounds */
    rc = load_text("ok.yaml", RULE
                   "    follow_up: {resend_unanswered_after: 10m, max_resends: 5, until: 10m,\n"
                   "                wording: [{subject: 再送, body: \"{{reply_url}}\"}]}\n", &rs, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("# %s\n", errs.msg[i]);
    assert_int_equal(rc, 0);
    assert_int_equal(rs->rules[0].resend_until_s, 600);
    assert_int_equal(rs->rules[0].nresend_wording, 1);
    anpi_ruleset_free(rs);
}

static void
test_template_errors(void **state)
{
    (void)state;
    /* an unknown variable in a one-line scalar: the file position of the variable
     * (line 17; the quote opens at column 21, "再送 " is 3 characters, so
     * {{ stands at column 25) */
    expect_error(RULE
                 "    follow_up:\n"
                 "      resend_unanswered_after: 30m\n"
                 "      max_resends: 2\n"
                 "      wording:\n"
                 "        - {subject: \"再送 {{incident.titel}}\", body: \"{{reply_url}}\"}\n",
                 1, "17:25: rules[0].follow_up.wording[0].subject: unknown template variable "
                    "{{incident.titel}}");
    /* a plain scalar in a block mapping, the second entry */
    expect_error(RULE
                 "    follow_up:\n"
                 "      resend_unanswered_after: 30m\n"
                 "      max_resends: 2\n"
                 "      wording:\n"
                 "        - {subject: a, body: b}\n"
                 "        - subject: b\n"
                 "          body: x {{person.nam}}\n",
                 1, "19:19: rules[0].follow_up.wording[1].body: unknown template variable "
                    "{{person.nam}}");
    /* a block scalar: at the scalar, with the place inside its text */
    expect_error(RULE
                 "    follow_up:\n"
                 "      resend_unanswered_after: 30m\n"
                 "      wording:\n"
                 "        - subject: s\n"
                 "          body: |\n"
                 "            一行目\n"
                 "            二行目 {{event.magnitud}}\n",
                 1, "17:17: rules[0].follow_up.wording[0].body: unknown template variable "
                    "{{event.magnitud}} (line 2, column 5 of the text)");
    /* unterminated {{ */
    expect_error(RULE
                 "    follow_up:\n"
                 "      resend_unanswered_after: 30m\n"
                 "      wording: [{subject: \"x {{round\", body: b}]\n",
                 1, "15:30: rules[0].follow_up.wording[0].subject: unterminated {{ (expected {{name}})");
}

static void
test_shape_errors(void **state)
{
    (void)state;
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, untill: 3h}\n", 1,
                 "13:47: rules[0].follow_up: unknown key \"untill\" (expected one of: "
                 "resend_unanswered_after, max_resends, until, wording)");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, until: soon}\n", 1,
                 "13:54: rules[0].follow_up.until: expected a duration like 15m, got \"soon\"");
    expect_error(RULE "    follow_up: {until: 3h}\n", 1,
                 "13:24: rules[0].follow_up.until: until needs resend_unanswered_after");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, until: 10m}\n", 1,
                 "13:54: rules[0].follow_up.until: until (600s) is shorter than "
                 "resend_unanswered_after (1800s): no resend round could start");
    expect_error(RULE "    follow_up: {wording: [{subject: a, body: b}]}\n", 1,
                 "13:26: rules[0].follow_up.wording: wording needs resend_unanswered_after");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, wording: []}\n", 1,
                 "13:56: rules[0].follow_up.wording: empty wording list (leave wording out to "
                 "resend the message as it is)");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, wording: {subject: a}}\n", 1,
                 "13:56: rules[0].follow_up.wording: expected a list, got a mapping");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, wording: [{subject: a}]}\n", 1,
                 "13:57: rules[0].follow_up.wording[0]: missing body");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, wording: [{subject: a, body: b, html: c}]}\n",
                 1, "13:79: rules[0].follow_up.wording[0]: unknown key \"html\" (expected one of: "
                    "subject, body)");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, wording: [{subject: \"\", body: b}]}\n", 1,
                 "13:67: rules[0].follow_up.wording[0].subject: must not be empty");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, wording: [{subject: \"a\\nb\", body: b}]}\n",
                 1, "13:67: rules[0].follow_up.wording[0].subject: a subject is one line");
    /* more entries than rounds: the extra would never be sent */
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, max_resends: 1,\n"
                 "                wording: [{subject: a, body: b}, {subject: c, body: d}]}\n", 1,
                 "14:26: rules[0].follow_up.wording: 2 entries but max_resends is 1: the entries "
                 "after round 1 would never be sent");
    expect_error(RULE "    follow_up: {resend_unanswered_after: 30m, max_resends: 11}\n", 1,
                 "13:60: rules[0].follow_up.max_resends: must be between 0 and 10, got 11");
    /* a subject over the cap */
    char yaml[2048], subj[400];
    memset(subj, 'x', sizeof(subj) - 1);
    subj[sizeof(subj) - 1] = '\0';
    snprintf(yaml, sizeof(yaml), RULE "    follow_up: {resend_unanswered_after: 30m, wording: [{subject: %s, body: b}]}\n",
             subj);
    expect_error(yaml, 1, "13:67: rules[0].follow_up.wording[0].subject: longer than 300 bytes");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_follow_up),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_shape_errors),
    };
    return cmocka_run_group_tests_name("rules_follow_up", tests, setup, teardown);
}
