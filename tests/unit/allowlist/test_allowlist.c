/* test_allowlist.c - api.allow: entry parsing, IPv4 / IPv6 / IPv4-mapped
 * matching, the edge prefixes /0 /32 /128, garbage refused with a reason;
 * and the config loader's api.allow and escalation keys with their
 * file:line:col errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "admin-api/allowlist.h"
#include "engine/config.h"

/* ---- entries ------------------------------------------------------------ */

static void
parse_ok(const char *s, unsigned prefix)
{
    struct anpi_cidr c;
    char err[256] = "";
    int rc = anpi_cidr_parse(s, &c, err, sizeof(err));
    if (rc != ANPI_OK)
        print_message("# %s: %s\n", s, err);
    assert_int_equal(rc, ANPI_OK);
    assert_int_equal(c.prefix, prefix);
}

static void
parse_bad(const char *s, const char *why)
{
    struct anpi_cidr c;
    char err[256] = "";
    assert_int_equal(anpi_cidr_parse(s, &c, err, sizeof(err)), ANPI_EPARSE);
    if (!strstr(err, why))
        print_message("# %s: got \"%s\", expected \"%s\"\n", s, err, why);
    assert_non_null(strstr(err, why));
}

static void
test_parse_forms(void **state)
{
    (void)state;
    /* IPv4 prefixes sit 96 bits into the mapped form */
    parse_ok("10.0.0.0/8", 96 + 8);
    parse_ok("127.0.0.1/32", 128);
    parse_ok("127.0.0.1", 128);             /* bare = one host */
    parse_ok("0.0.0.0/0", 96);
    parse_ok("::1/128", 128);
    parse_ok("::1", 128);
    parse_ok("2001:db8::/32", 32);
    parse_ok("::/0", 0);
    parse_ok("::ffff:10.0.0.0/104", 104);   /* mapped written out is the same block as 10/8 */
}

static void
test_parse_garbage(void **state)
{
    (void)state;
    const char *garbage[] = {
        "", "localhost", "10.0.0", "10.0.0.0.0", "256.0.0.0", "10.0.0.0/", "10.0.0.0/33",
        "::/129", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08", "10.0.0.0/8/8", "10.0.0.0 /8",
        " 10.0.0.0", "fe80::1%eth0", "1.2.3.4/8x", "2001:db8::g/32", "10.0.0.0/1000",
        "1111:2222:3333:4444:5555:6666:7777:8888:9999", "01.2.3.4",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        struct anpi_cidr c;
        char err[256] = "";
        int rc = anpi_cidr_parse(garbage[i], &c, err, sizeof(err));
        if (rc != ANPI_EPARSE)
            print_message("# accepted garbage \"%s\"\n", garbage[i]);
        assert_int_equal(rc, ANPI_EPARSE);
        assert_true(err[0] != '\0');
    }
    parse_bad("10.0.0.0/33", "from 0 to 32");
    parse_bad("::/129", "from 0 to 128");
    parse_bad("10.1.0.0/8", "host bits are set below the /8 prefix; the block is 10.0.0.0/8");
    parse_bad("2001:db8::1/32", "the block is 2001:db8::/32");
    parse_bad("localhost", "not an IPv4 or IPv6 address");
    char longer[300];
    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    parse_bad(longer, "too long");
}

/* ---- matching ------------------------------------------------------------ */

static struct anpi_allowlist *
build(char *const *entries, size_t n)
{
    struct anpi_allowlist *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    char err[256] = "";
    int rc = anpi_allowlist_build(a, entries, n, err, sizeof(err));
    if (rc)
        print_message("# %s\n", err);
    assert_int_equal(rc, ANPI_OK);
    assert_int_equal(a->n, n);
    return a;
}

static void
test_match_mixed(void **state)
{
    (void)state;
    char *e[] = { "127.0.0.1/32", "10.0.0.0/8", "::1/128", "2001:db8::/32", "192.0.2.7" };
    struct anpi_allowlist *a = build(e, 5);
    assert_true(anpi_allowlist_match(a, "127.0.0.1"));
    assert_false(anpi_allowlist_match(a, "127.0.0.2"));
    assert_true(anpi_allowlist_match(a, "10.0.0.0"));
    assert_true(anpi_allowlist_match(a, "10.255.255.255"));
    assert_false(anpi_allowlist_match(a, "11.0.0.0"));
    assert_false(anpi_allowlist_match(a, "9.255.255.255"));
    assert_true(anpi_allowlist_match(a, "192.0.2.7"));
    assert_false(anpi_allowlist_match(a, "192.0.2.8"));
    assert_true(anpi_allowlist_match(a, "::1"));
    assert_false(anpi_allowlist_match(a, "::2"));
    assert_true(anpi_allowlist_match(a, "2001:db8::1"));
    assert_true(anpi_allowlist_match(a, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_false(anpi_allowlist_match(a, "2001:db9::1"));
    assert_false(anpi_allowlist_match(a, "2001:db7:ffff::1"));
    /* IPv4-mapped peers meet the IPv4 entries */
    assert_true(anpi_allowlist_match(a, "::ffff:127.0.0.1"));
    assert_true(anpi_allowlist_match(a, "::ffff:10.20.30.40"));
    assert_false(anpi_allowlist_match(a, "::ffff:11.0.0.1"));
    /* ...but not the IPv4-compatible or NAT64 forms: only ::ffff:0:0/96 is IPv4 */
    assert_false(anpi_allowlist_match(a, "::10.0.0.1"));
    assert_false(anpi_allowlist_match(a, "64:ff9b::a00:1"));
    /* the hook is the same test */
    assert_true(anpi_allowlist_allow("10.1.2.3", a));
    assert_false(anpi_allowlist_allow("172.16.0.1", a));
    free(a);
}

static void
test_match_odd_prefixes(void **state)
{
    (void)state;
    /* a prefix that ends inside a byte */
    char *e[] = { "172.16.0.0/12", "2001:db8:8000::/33" };
    struct anpi_allowlist *a = build(e, 2);
    assert_true(anpi_allowlist_match(a, "172.16.0.1"));
    assert_true(anpi_allowlist_match(a, "172.31.255.255"));
    assert_false(anpi_allowlist_match(a, "172.32.0.0"));
    assert_false(anpi_allowlist_match(a, "172.15.255.255"));
    assert_true(anpi_allowlist_match(a, "2001:db8:8000::1"));
    assert_true(anpi_allowlist_match(a, "2001:db8:ffff::1"));
    assert_false(anpi_allowlist_match(a, "2001:db8:7fff::1"));
    free(a);
}

static void
test_match_edges(void **state)
{
    (void)state;
    /* /0: every IPv4 peer (mapped too), no IPv6 peer */
    char *v4all[] = { "0.0.0.0/0" };
    struct anpi_allowlist *a = build(v4all, 1);
    assert_true(anpi_allowlist_match(a, "1.2.3.4"));
    assert_true(anpi_allowlist_match(a, "255.255.255.255"));
    assert_true(anpi_allowlist_match(a, "::ffff:1.2.3.4"));
    assert_false(anpi_allowlist_match(a, "::1"));
    assert_false(anpi_allowlist_match(a, "2001:db8::1"));
    free(a);
    /* ::/0: every peer, IPv4 included (it is inside ::/0 as ::ffff:a.b.c.d) */
    char *all[] = { "::/0" };
    a = build(all, 1);
    assert_true(anpi_allowlist_match(a, "::1"));
    assert_true(anpi_allowlist_match(a, "8.8.8.8"));
    free(a);
    /* /32 and /128: one host exactly */
    char *hosts[] = { "198.51.100.9/32", "2001:db8::9/128" };
    a = build(hosts, 2);
    assert_true(anpi_allowlist_match(a, "198.51.100.9"));
    assert_false(anpi_allowlist_match(a, "198.51.100.8"));
    assert_false(anpi_allowlist_match(a, "198.51.100.10"));
    assert_true(anpi_allowlist_match(a, "2001:db8::9"));
    assert_true(anpi_allowlist_match(a, "2001:0db8:0000::0009"));
    assert_false(anpi_allowlist_match(a, "2001:db8::8"));
    free(a);
}

static void
test_empty_and_bad_peers(void **state)
{
    (void)state;
    struct anpi_allowlist *a = build(NULL, 0);
    /* empty = every peer, even one the server could not name */
    assert_true(anpi_allowlist_match(a, "203.0.113.5"));
    assert_true(anpi_allowlist_match(a, ""));
    free(a);
    char *e[] = { "0.0.0.0/0", "::/0" };
    a = build(e, 2);
    /* a non-empty list refuses what is not an address */
    assert_false(anpi_allowlist_match(a, ""));
    assert_false(anpi_allowlist_match(a, NULL));
    assert_false(anpi_allowlist_match(a, "localhost"));
    assert_false(anpi_allowlist_match(a, "10.0.0.1 "));
    assert_false(anpi_allowlist_match(a, "fe80::1%eth0"));
    free(a);
}

static void
test_build_errors(void **state)
{
    (void)state;
    struct anpi_allowlist *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    char err[256];
    char *e[] = { "10.0.0.0/8", "10.0.0.0/40" };
    assert_int_equal(anpi_allowlist_build(a, e, 2, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "api.allow[1]: "));
    assert_int_equal(a->n, 0);
    char *many[ANPI_ALLOW_MAX + 1];
    for (size_t i = 0; i <= ANPI_ALLOW_MAX; i++)
        many[i] = "10.0.0.0/8";
    assert_int_equal(anpi_allowlist_build(a, many, ANPI_ALLOW_MAX + 1, err, sizeof(err)), ANPI_ETOOBIG);
    assert_int_equal(anpi_allowlist_build(a, many, ANPI_ALLOW_MAX, err, sizeof(err)), ANPI_OK);
    assert_int_equal(a->n, ANPI_ALLOW_MAX);
    free(a);
}

static void
test_setup_hooks(void **state)
{
    (void)state;
    struct anpi_allowlist *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    struct anpi_http_opts o = { .listen = "127.0.0.1:0" };
    char err[256];
    assert_int_equal(anpi_allowlist_setup(a, &o, "admin", NULL, 0, err, sizeof(err)), ANPI_OK);
    assert_null(o.allow);
    char *e[] = { "192.0.2.0/24" };
    assert_int_equal(anpi_allowlist_setup(a, &o, "admin", e, 1, err, sizeof(err)), ANPI_OK);
    assert_true(o.allow == anpi_allowlist_allow);
    assert_ptr_equal(o.allow_arg, a);
    assert_false(o.allow("127.0.0.1", o.allow_arg));
    assert_true(o.allow("192.0.2.200", o.allow_arg));
    char *bad[] = { "192.0.2.0/24", "nonsense" };
    assert_int_equal(anpi_allowlist_setup(a, &o, "admin", bad, 2, err, sizeof(err)), ANPI_EPARSE);
    free(a);
}

/* ---- the config keys ------------------------------------------------------ */

static char tmpdir[PATH_MAX];

struct loaded {
    int rc;
    struct anpi_config *cfg;
    struct anpi_errors errs;
    char *path;
};

#define HEAD "database: {conninfo: x}\npublic_url: \"http://h\"\n"

static void
load(struct loaded *l, const char *text)
{
    memset(l, 0, sizeof(*l));
    l->path = anpi_xasprintf("%s/anpid.yaml", tmpdir);
    FILE *f = fopen(l->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    l->rc = anpi_config_load(l->path, &l->cfg, &l->errs);
}

static void
unload(struct loaded *l)
{
    anpi_config_free(l->cfg);
    anpi_errors_free(&l->errs);
    unlink(l->path);
    free(l->path);
}

/* the one error is "<path>:" + rest */
static void
only_error(const char *text, const char *rest)
{
    struct loaded l;
    load(&l, text);
    char *want = anpi_xasprintf("%s:%s", l.path, rest);
    bool ok = l.rc == ANPI_EPARSE && l.errs.n == 1 && strcmp(l.errs.msg[0], want) == 0;
    if (!ok) {
        print_message("# want: %s\n", want);
        for (size_t i = 0; i < l.errs.n; i++)
            print_message("# got:  %s\n", l.errs.msg[i]);
    }
    free(want);
    unload(&l);
    assert_true(ok);
}

static void
test_config_allow(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, HEAD "api:\n  token: \"0123456789abcdef\"\n"
                  "  allow: [\"127.0.0.1/32\", \"10.0.0.0/8\", \"::1/128\", \"2001:db8::/32\", \"192.0.2.1\"]\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_int_equal(l.cfg->napi_allow, 5);
    assert_string_equal(l.cfg->api_allow[0], "127.0.0.1/32");
    assert_string_equal(l.cfg->api_allow[4], "192.0.2.1");
    /* what the config accepts, the allowlist compiles */
    struct anpi_allowlist *a = build(l.cfg->api_allow, l.cfg->napi_allow);
    assert_true(anpi_allowlist_match(a, "::ffff:10.9.8.7"));
    free(a);
    unload(&l);

    /* absent and empty both mean every peer */
    load(&l, HEAD "api: {token: \"0123456789abcdef\"}\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_int_equal(l.cfg->napi_allow, 0);
    unload(&l);
    load(&l, HEAD "api: {token: \"0123456789abcdef\", allow: []}\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_int_equal(l.cfg->napi_allow, 0);
    assert_null(l.cfg->api_allow);
    unload(&l);
    /* a single string is a list of one */
    load(&l, HEAD "api: {token: \"0123456789abcdef\", allow: \"::1\"}\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_int_equal(l.cfg->napi_allow, 1);
    unload(&l);
}

static void
test_config_allow_errors(void **state)
{
    (void)state;
    only_error(HEAD "api:\n  token: \"0123456789abcdef\"\n  allow: [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
               "5:25: api.allow[1]: the prefix length after '/' must be a number from 0 to 32, "
               "got \"10.0.0.0/33\"");
    only_error(HEAD "api:\n  token: \"0123456789abcdef\"\n  allow:\n    - \"::1\"\n    - localhost\n",
               "7:7: api.allow[1]: expected an IPv4 or IPv6 address or CIDR block like 10.0.0.0/8 or "
               "2001:db8::/32, got \"localhost\"");
    only_error(HEAD "api:\n  token: \"0123456789abcdef\"\n  allow: [\"10.1.0.0/8\"]\n",
               "5:11: api.allow[0]: host bits are set below the prefix length (write the network "
               "address), got \"10.1.0.0/8\"");
    only_error(HEAD "api:\n  token: \"0123456789abcdef\"\n  allow: [\"2001:db8::/129\"]\n",
               "5:11: api.allow[0]: the prefix length after '/' must be a number from 0 to 128, "
               "got \"2001:db8::/129\"");
    only_error(HEAD "api:\n  token: \"0123456789abcdef\"\n  allow: {a: b}\n",
               "5:10: api.allow: expected a string or a list of strings, got a mapping");
    only_error(HEAD "api:\n  token: \"0123456789abcdef\"\n  allow: [\"\"]\n",
               "5:11: api.allow[0]: must not be empty, got \"\"");
}

static void
test_config_escalation(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, HEAD "api: {token: \"0123456789abcdef\"}\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_false(l.cfg->escalation);        /* absent = off */
    unload(&l);
    load(&l, HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {after: 45m, below: 0.35}\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_true(l.cfg->escalation);
    assert_int_equal(l.cfg->escalation_after_s, 45 * 60);
    assert_true(l.cfg->escalation_below > 0.3499 && l.cfg->escalation_below < 0.3501);
    unload(&l);
    load(&l, HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {}\n");
    assert_int_equal(l.rc, ANPI_OK);
    assert_true(l.cfg->escalation);         /* given = on, with the defaults */
    assert_int_equal(l.cfg->escalation_after_s, 30 * 60);
    assert_true(l.cfg->escalation_below > 0.4999 && l.cfg->escalation_below < 0.5001);
    unload(&l);
    only_error(HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {after: 30m, below: 1.5}\n",
               "4:33: escalation.below: expected a rate from 0 to 1, like 0.5, got \"1.5\"");
    only_error(HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {after: 30m, below: -0.1}\n",
               "4:33: escalation.below: expected a rate from 0 to 1, like 0.5, got \"-0.1\"");
    only_error(HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {after: 30m, below: nan}\n",
               "4:33: escalation.below: expected a rate from 0 to 1, like 0.5, got \"nan\"");
    only_error(HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {after: soon}\n",
               "4:21: escalation.after: expected a duration from 0s to 2592000s, like 90s, 15m, 6h, 2d or "
               "seconds, got \"soon\"");
    only_error(HEAD "api: {token: \"0123456789abcdef\"}\nescalation: {belo: 0.5}\n",
               "4:14: escalation.belo: unknown key (did you mean \"below\"?)");
}

static int
setup_dir(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/anpi-allowlist-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    if (!realpath(tmpl, tmpdir))
        return -1;
    return 0;
}

static int
teardown_dir(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_match_mixed),
        cmocka_unit_test(test_match_odd_prefixes),
        cmocka_unit_test(test_match_edges),
        cmocka_unit_test(test_empty_and_bad_peers),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_setup_hooks),
        cmocka_unit_test(test_config_allow),
        cmocka_unit_test(test_config_allow_errors),
        cmocka_unit_test(test_config_escalation),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
