/* test_overseas.c - MOFA and GDACS parsers against the real snapshots (read
 * from $ANPI_SHARED at run time, never copied), synthetic documents for the
 * edge cases, the country table and the RFC 822 date parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <jansson.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/event_json.h"
#include "feeds/feed.h"
#include "feeds/jma/iso8601.h"
#include "feeds/overseas/country.h"
#include "feeds/overseas/gdacs.h"
#include "feeds/overseas/mofa.h"
#include "feeds/overseas/rfc822.h"

#define MOFA_DIR "corpus/overseas/mofa-newarrivalL/"
#define GDACS_7D "corpus/overseas/gdacs/gdacs-rss-7d.xml"
#define GDACS_NOW "corpus/overseas/gdacs/gdacs-rss.xml"

static const char *const mofa_snapshots[] = {
    "01b7104cae", "193abf8441", "1fe9520613", "603bcc6b1e",
    "92694c2902", "ec0d22f397", "f673d9db9f", "fdbcfbcaa6",
};

/* ---- helpers ----------------------------------------------------------- */

static char path_buf[4096];

static const char *
corpus_path(const char *rel)
{
    const char *shared = getenv("ANPI_SHARED");
    if (!shared)
        fail_msg("ANPI_SHARED is not set (run through meson test)");
    snprintf(path_buf, sizeof(path_buf), "%s/%s", shared, rel);
    return path_buf;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? cap * 2 : 131072;
            buf = anpi_xrealloc(buf, cap + 1);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

typedef int (*parse_fn)(const char *, size_t, struct anpi_event_list *, char *, size_t);

static struct anpi_event_list
parse_ok(parse_fn fn, const char *doc, size_t len)
{
    struct anpi_event_list l = { 0 };
    char err[256];
    int rc = fn(doc, len, &l, err, sizeof(err));
    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, err);
    return l;
}

static struct anpi_event_list
parse_corpus(parse_fn fn, const char *rel)
{
    size_t len;
    char *doc = read_file(corpus_path(rel), &len);
    struct anpi_event_list l = parse_ok(fn, doc, len);
    free(doc);
    return l;
}

static struct anpi_event_list
parse_mofa_snapshot(const char *id)
{
    char rel[256];
    snprintf(rel, sizeof(rel), MOFA_DIR "%s/latest.xml", id);
    return parse_corpus(anpi_mofa_parse, rel);
}

static const struct anpi_event *
find(const struct anpi_event_list *l, const char *event_key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ev[i]->event_key, event_key) == 0)
            return l->ev[i];
    fail_msg("no event %s among %zu", event_key, l->n);
    return NULL;
}

static int
has_country(const struct anpi_event *ev, const char *a2)
{
    for (size_t i = 0; i < ev->ncountries; i++)
        if (strcmp(ev->countries[i], a2) == 0)
            return 1;
    return 0;
}

static int64_t
T(const char *iso)
{
    int64_t t;
    if (anpi_iso8601_parse(iso, &t) != 0)
        fail_msg("bad test time %s", iso);
    return t;
}

/* Integer attribute of the root element, found by text search. */
static long
root_attr(const char *doc, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "%s=\"", name);
    const char *p = strstr(doc, key);
    if (!p)
        fail_msg("no %s attribute", name);
    return strtol(p + strlen(key), NULL, 10);
}

/* Every event a parser returns must be complete and consistent. */
static void
check_common(const struct anpi_event *ev, const char *source)
{
    assert_int_equal(ev->type, ANPI_EV_OVERSEAS);
    assert_string_equal(ev->source, source);
    assert_non_null(ev->doc_id);
    assert_true(ev->doc_id[0] != '\0');
    assert_non_null(ev->event_key);
    assert_non_null(ev->title);
    assert_non_null(ev->description);
    assert_non_null(ev->url);
    assert_non_null(ev->risk_kind);
    assert_non_null(ev->headline);
    assert_non_null(ev->hazard);
    assert_true(ev->risk_level >= 0 && ev->risk_level <= 4);
    assert_true(ev->issued_at > 0);
    if (ev->ncountries) {
        assert_string_equal(ev->country, ev->countries[0]);
    } else {
        assert_string_equal(ev->country, "");
    }
    for (size_t i = 0; i < ev->ncountries; i++) {
        assert_non_null(anpi_country_by_alpha2(ev->countries[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ev->countries[i], ev->countries[j]);
    }
    /* the event JSON keeps every overseas field */
    json_t *j = anpi_event_to_json(ev);
    assert_non_null(j);
    struct anpi_event *back = NULL;
    char err[256];
    if (anpi_event_from_json(j, &back, err, sizeof(err)) != 0)
        fail_msg("%s: JSON does not read back: %s", ev->doc_id, err);
    assert_string_equal(back->country, ev->country);
    assert_int_equal(back->ncountries, ev->ncountries);
    assert_int_equal(back->risk_level, ev->risk_level);
    assert_string_equal(back->risk_kind, ev->risk_kind);
    json_t *j2 = anpi_event_to_json(back);
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    anpi_event_free(back);
}

/* ---- country table ----------------------------------------------------- */

static int
upper_len(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return 1;
}

static void
test_country_table(void **state)
{
    (void)state;
    size_t n = anpi_country_count();
    assert_int_equal(n, 250);   /* ISO 3166-1 (249) + Kosovo XK */
    assert_null(anpi_country_at(n));
    size_t with_mofa = 0;
    for (size_t i = 0; i < n; i++) {
        const struct anpi_country *c = anpi_country_at(i);
        assert_true(upper_len(c->alpha2, 2));
        assert_true(upper_len(c->alpha3, 3));
        assert_true(c->name_en[0] != '\0');
        assert_true(c->name_ja[0] != '\0');
        if (i)
            assert_true(strcmp(anpi_country_at(i - 1)->alpha2, c->alpha2) < 0);
        for (size_t j = 0; j < i; j++) {
            const struct anpi_country *o = anpi_country_at(j);
            assert_string_not_equal(o->alpha3, c->alpha3);
            if (o->mofa && c->mofa)
                assert_string_not_equal(o->mofa, c->mofa);
        }
        assert_ptr_equal(anpi_country_by_alpha2(c->alpha2), c);
        assert_ptr_equal(anpi_country_by_alpha3(c->alpha3), c);
        assert_ptr_equal(anpi_country_by_name_en(c->name_en), c);
        if (c->mofa) {
            with_mofa++;
            assert_int_not_equal(c->mofa_src, ANPI_MOFA_NONE);
            assert_true(strlen(c->mofa) == 4);
            assert_ptr_equal(anpi_country_by_mofa(c->mofa), c);
        } else {
            assert_int_equal(c->mofa_src, ANPI_MOFA_NONE);
        }
    }
    assert_true(with_mofa >= 220);
}

static void
test_country_lookups(void **state)
{
    (void)state;
    char a2[3];
    assert_int_equal(anpi_country_from_alpha3("JPN", a2), 0);
    assert_string_equal(a2, "JP");
    assert_int_equal(anpi_country_from_alpha3(" per ", a2), 0);
    assert_string_equal(a2, "PE");
    assert_int_equal(anpi_country_from_alpha3("XXX", a2), ANPI_ENOTFOUND);
    assert_string_equal(a2, "");
    assert_int_equal(anpi_country_from_alpha3("", a2), ANPI_ENOTFOUND);
    assert_int_equal(anpi_country_from_alpha3("PERU", a2), ANPI_ENOTFOUND);

    assert_string_equal(anpi_country_name_ja("PE"), "ペルー");
    assert_string_equal(anpi_country_name_ja("us"), "米国");
    assert_string_equal(anpi_country_name_ja("IR"), "イラン");
    assert_string_equal(anpi_country_name_ja("IL"), "イスラエル");
    assert_string_equal(anpi_country_name_ja("XK"), "コソボ");
    assert_null(anpi_country_name_ja("ZZ"));
    assert_null(anpi_country_name_ja("P"));
    assert_null(anpi_country_name_ja("PER"));
    assert_null(anpi_country_name_ja(NULL));

    static const char *const names[][2] = {
        { "Russia", "RU" },          { "Russian Federation", "RU" },
        { "Iran", "IR" },            { "Islamic Republic of Iran", "IR" },
        { "laos", "LA" },            { "Vietnam", "VN" },
        { "Bosnia & Herzegovina", "BA" }, { "Moldova", "MD" },
        { "Bolivia", "BO" },         { "P.N.G.", "PG" },
        { "Virgin Islands  U.S.", "VI" }, { "Micronesia", "FM" },
        { "  South Africa ", "ZA" }, { "Turkey", "TR" },
        { "Papua New Guinea", "PG" }, { "United States", "US" },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(names); i++) {
        if (anpi_country_from_name_en(names[i][0], a2) != 0)
            fail_msg("name '%s' not found", names[i][0]);
        assert_string_equal(a2, names[i][1]);
    }
    assert_int_equal(anpi_country_from_name_en("Southeast Of Loyalty Islands", a2), ANPI_ENOTFOUND);
    assert_int_equal(anpi_country_from_name_en("Southern East Pacific Rise", a2), ANPI_ENOTFOUND);
    assert_int_equal(anpi_country_from_name_en("South", a2), ANPI_ENOTFOUND);

    static const char *const mofa[][2] = {
        { "0051", "PE" }, { "0972", "IL" }, { "0971", "AE" }, { "0062", "ID" },
        { "1000", "US" }, { "1808", "US" }, { "9001", "CA" }, { "9007", "RU" },
        { "0007", "KZ" }, { "0970", "PS" }, { "9381", "XK" }, { "0098", "IR" },
        { "1787", "PR" }, { "1340", "VI" },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(mofa); i++) {
        if (anpi_country_from_mofa(mofa[i][0], a2) != 0)
            fail_msg("MOFA code %s not found", mofa[i][0]);
        assert_string_equal(a2, mofa[i][1]);
    }
    assert_int_equal(anpi_country_from_mofa("0081", a2), ANPI_ENOTFOUND);   /* Japan: none */
    assert_int_equal(anpi_country_from_mofa("7777", a2), ANPI_ENOTFOUND);
    assert_int_equal(anpi_country_from_mofa("51", a2), ANPI_ENOTFOUND);
}

/* ---- RFC 822 and MOFA times -------------------------------------------- */

static void
test_rfc822(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(anpi_rfc822_parse("Sun, 29 Dec 2019 12:00:00 GMT", &t), 0);
    assert_int_equal(t, T("2019-12-29T12:00:00Z"));
    assert_int_equal(anpi_rfc822_parse(" 1 Jan 2020 09:00 +0900 ", &t), 0);
    assert_int_equal(t, T("2020-01-01T00:00:00Z"));
    assert_int_equal(anpi_rfc822_parse("Tue, 31 Dec 19 19:00:00 EST", &t), 0);
    assert_int_equal(t, T("2020-01-01T00:00:00Z"));
    assert_int_equal(anpi_rfc822_parse("Wed, 01 Jan 2020 00:00:00 -0130", &t), 0);
    assert_int_equal(t, T("2020-01-01T01:30:00Z"));
    /* weekday must agree with the local date */
    assert_int_equal(anpi_rfc822_parse("Mon, 29 Dec 2019 12:00:00 GMT", &t), ANPI_EPARSE);
    assert_int_equal(anpi_rfc822_parse("Tue, 31 Dec 2019 23:30:00 -0100", &t), 0);
    static const char *const bad[] = {
        "", "29 Dec 2019", "29 Dec 2019 12:00:00", "32 Dec 2019 12:00:00 GMT",
        "29 Dex 2019 12:00:00 GMT", "29 Dec 2019 24:00:00 GMT", "29 Dec 2019 12:00:00 XYZ",
        "29 Dec 2019 12:00:00 GMT junk", "29 Dec 219 12:00:00 GMT", "Sun 29 Dec 2019 12:00 GMT",
        "29 Feb 2019 12:00:00 GMT", "29 Dec 2019 12:00:00 +2400", "2019-12-29T12:00:00Z",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++)
        if (anpi_rfc822_parse(bad[i], &t) != ANPI_EPARSE)
            fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(anpi_rfc822_parse(NULL, &t), ANPI_EPARSE);
}

static void
test_mofa_helpers(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(anpi_mofa_parse_time("2026/03/31 00:00:00", &t), 0);
    assert_int_equal(t, T("2026-03-30T15:00:00Z"));
    assert_int_equal(anpi_mofa_parse_time(" 2026/01/17 23:15 ", &t), 0);
    assert_int_equal(t, T("2026-01-17T14:15:00Z"));
    assert_int_equal(anpi_mofa_parse_time("2026-03-31 00:00:00", &t), ANPI_EPARSE);
    assert_int_equal(anpi_mofa_parse_time("2026/13/31 00:00:00", &t), ANPI_EPARSE);
    assert_int_equal(anpi_mofa_parse_time("2026/03/31", &t), ANPI_EPARSE);
    assert_int_equal(anpi_mofa_parse_time("", &t), ANPI_EPARSE);

    assert_int_equal(anpi_mofa_flag("1"), 1);
    assert_int_equal(anpi_mofa_flag("Y"), 1);
    assert_int_equal(anpi_mofa_flag(" y "), 1);
    assert_int_equal(anpi_mofa_flag("0"), 0);
    assert_int_equal(anpi_mofa_flag("N"), 0);
    assert_int_equal(anpi_mofa_flag(""), 0);
    assert_int_equal(anpi_mofa_flag("2"), -1);
    assert_int_equal(anpi_mofa_flag("YES"), -1);

    assert_string_equal(anpi_mofa_info_type_name("T40"), "危険情報");
    assert_string_equal(anpi_mofa_info_type_name("R20"), "領事メール(緊急)");
    assert_string_equal(anpi_mofa_info_type_name("X99"), "");

    assert_int_equal(anpi_gdacs_alert_level("Green"), 1);
    assert_int_equal(anpi_gdacs_alert_level(" orange"), 2);
    assert_int_equal(anpi_gdacs_alert_level("RED"), 3);
    assert_int_equal(anpi_gdacs_alert_level("Yellow"), 0);
    assert_int_equal(anpi_gdacs_alert_level(""), 0);
}

/* ---- MOFA: the real snapshots ------------------------------------------ */

static void
test_mofa_all_snapshots(void **state)
{
    (void)state;
    int64_t jan2026 = T("2026-01-01T00:00:00Z"), may2026 = T("2026-05-01T00:00:00Z");
    size_t total = 0;
    for (size_t s = 0; s < ANPI_ARRAY_LEN(mofa_snapshots); s++) {
        char rel[256];
        snprintf(rel, sizeof(rel), MOFA_DIR "%s/latest.xml", mofa_snapshots[s]);
        size_t len;
        char *doc = read_file(corpus_path(rel), &len);
        struct anpi_event_list l = parse_ok(anpi_mofa_parse, doc, len);
        /* every mail becomes an event: mailCount says how many there are */
        assert_int_equal((long)l.n, root_attr(doc, "mailCount"));
        for (size_t i = 0; i < l.n; i++) {
            const struct anpi_event *ev = l.ev[i];
            check_common(ev, "mofa");
            assert_true(ev->issued_at > jan2026 && ev->issued_at < may2026);
            assert_true(ev->created_at >= ev->issued_at);
            /* doc_id = keyCd/leaveDate, unique within the document */
            assert_int_equal(strncmp(ev->doc_id, ev->event_key, strlen(ev->event_key)), 0);
            assert_int_equal(ev->doc_id[strlen(ev->event_key)], '/');
            for (size_t j = 0; j < i; j++)
                assert_string_not_equal(ev->doc_id, l.ev[j]->doc_id);
            /* every MOFA code in the snapshots is in the table */
            if (strstr(ev->description, "not mapped"))
                fail_msg("%s %s: %s", mofa_snapshots[s], ev->event_key, ev->description);
            assert_true(strncmp(ev->url, "https://www.anzen.mofa.go.jp/", 29) == 0);
            assert_true(ev->risk_kind[0] == 'T' || ev->risk_kind[0] == 'C' ||
                        ev->risk_kind[0] == 'R');
            assert_true(ev->info_kind[0] != '\0');
            /* only 危険情報 carry risk levels in these snapshots */
            if (strcmp(ev->risk_kind, "T40") != 0)
                assert_int_equal(ev->risk_level, 0);
            else
                assert_true(ev->risk_level >= 1);
        }
        total += l.n;
        anpi_event_list_free(&l);
        free(doc);
    }
    assert_int_equal(total, 44 + 22 + 28 + 22 + 29 + 74 + 12 + 19);
}

/* イラン 危険レベル引上げ, 2026-01-17 */
static void
test_mofa_iran_raise(void **state)
{
    (void)state;
    struct anpi_event_list l = parse_mofa_snapshot("603bcc6b1e");
    assert_int_equal(l.n, 22);
    const struct anpi_event *ev = find(&l, "2026T007");
    assert_string_equal(ev->doc_id, "2026T007/2026/01/16 00:00:00");
    assert_string_equal(ev->risk_kind, "T40");
    assert_string_equal(ev->info_kind, "危険情報");
    assert_int_equal(ev->risk_level, 4);
    assert_string_equal(ev->country, "IR");
    assert_int_equal(ev->ncountries, 1);
    assert_string_equal(ev->title, "イランの危険情報【危険レベル引上げ】");
    assert_string_equal(ev->url, "https://www.anzen.mofa.go.jp/info/pchazardspecificinfo_2026T007.html");
    assert_int_equal(ev->issued_at, T("2026-01-15T15:00:00Z"));
    assert_int_equal(ev->created_at, T("2026-01-17T14:40:48Z"));   /* lastModified */
    /* the three new Gulf 危険情報 of the same day: level 1 */
    static const char *const gulf[][2] = { { "2026T006", "QA" }, { "2026T005", "OM" },
                                           { "2026T004", "AE" } };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(gulf); i++) {
        const struct anpi_event *g = find(&l, gulf[i][0]);
        assert_int_equal(g->risk_level, 1);
        assert_string_equal(g->country, gulf[i][1]);
    }
    /* a 領事メール */
    const struct anpi_event *r = find(&l, "161875");
    assert_string_equal(r->risk_kind, "R10");
    assert_int_equal(r->risk_level, 0);
    assert_string_equal(r->country, "ET");
    assert_string_equal(r->hazard, "");
    assert_true(strncmp(r->description, "【ポイント】", strlen("【ポイント】")) == 0);
    assert_string_equal(r->url, "https://www.anzen.mofa.go.jp/od/ryojiMailDetail.html?keyCd=161875");
    assert_int_equal(r->issued_at, T("2026-01-17T23:15:39+09:00"));
    /* a mail for a US consulate has no country element: no country */
    const struct anpi_event *us = find(&l, "161872");
    assert_int_equal(us->ncountries, 0);
    assert_string_equal(us->country, "");
    anpi_event_list_free(&l);
}

/* Israel L4 + Gulf L2, 11x R20: a snapshot FEEDS.md names but that is not
 * in the shared corpus; checked when present. */
static void
test_mofa_israel_gulf(void **state)
{
    (void)state;
    const char *p = corpus_path(MOFA_DIR "77f7deff75/latest.xml");
    if (!file_exists(p)) {
        /* cmocka's skip() prints "not ok # SKIP", which meson counts as a
         * failure; say it and return, as the JMA tests do. */
        print_message("# " MOFA_DIR "77f7deff75/latest.xml held back: not checked\n");
        return;
    }
    struct anpi_event_list l = parse_mofa_snapshot("77f7deff75");
    size_t r20 = 0, il4 = 0, gulf2 = 0;
    static const char *const gulf[] = { "AE", "QA", "KW", "BH", "OM", "SA" };
    for (size_t i = 0; i < l.n; i++) {
        const struct anpi_event *ev = l.ev[i];
        check_common(ev, "mofa");
        if (strcmp(ev->risk_kind, "R20") == 0)
            r20++;
        if (has_country(ev, "IL") && ev->risk_level == 4)
            il4++;
        for (size_t g = 0; g < ANPI_ARRAY_LEN(gulf); g++)
            if (has_country(ev, gulf[g]) && ev->risk_level == 2)
                gulf2++;
    }
    assert_int_equal(r20, 11);
    assert_true(il4 >= 1);
    assert_true(gulf2 >= 1);
    anpi_event_list_free(&l);
}

static void
test_mofa_levels_and_codes(void **state)
{
    (void)state;
    /* 2026-03-05: サウジ 一部引上げ, flags 1 1 1 0 -> 3 */
    struct anpi_event_list l = parse_mofa_snapshot("ec0d22f397");
    const struct anpi_event *sa = find(&l, "2026T026");
    assert_int_equal(sa->risk_level, 3);
    assert_string_equal(sa->country, "SA");
    assert_int_equal(find(&l, "2026T030")->risk_level, 3);
    assert_string_equal(find(&l, "2026T030")->country, "KW");
    const struct anpi_event *wbc = find(&l, "2026C018");   /* スポット情報, US */
    assert_string_equal(wbc->risk_kind, "C30");
    assert_string_equal(wbc->country, "US");
    assert_int_equal(wbc->risk_level, 0);
    /* Israel mails name Israel and Palestine */
    const struct anpi_event *tlv = find(&l, "163351");
    assert_int_equal(tlv->ncountries, 2);
    assert_string_equal(tlv->countries[0], "IL");
    assert_string_equal(tlv->countries[1], "PS");
    anpi_event_list_free(&l);

    /* 広域情報 for every area: 206 codes, 1000 and 1808 both the US */
    l = parse_mofa_snapshot("193abf8441");
    const struct anpi_event *wide = find(&l, "2026C021");
    assert_string_equal(wide->risk_kind, "C50");
    assert_int_equal(wide->ncountries, 205);
    assert_true(has_country(wide, "US") && has_country(wide, "CA") && has_country(wide, "RU") &&
                has_country(wide, "XK") && has_country(wide, "VA") && has_country(wide, "KZ"));
    assert_string_equal(wide->country, "IN");   /* 0091 first */
    anpi_event_list_free(&l);

    /* Caribbean US territories by dialling code */
    l = parse_mofa_snapshot("1fe9520613");
    const struct anpi_event *car = find(&l, "162737");
    assert_int_equal(car->ncountries, 2);
    assert_string_equal(car->countries[0], "VI");
    assert_string_equal(car->countries[1], "PR");
    assert_string_equal(find(&l, "2026C008")->risk_kind, "C31");
    assert_string_equal(find(&l, "2026C008")->country, "ET");
    anpi_event_list_free(&l);

    /* 領事メール(緊急) */
    l = parse_mofa_snapshot("92694c2902");
    const struct anpi_event *r20 = find(&l, "164083");
    assert_string_equal(r20->risk_kind, "R20");
    assert_string_equal(r20->info_kind, "領事メール(緊急)");
    assert_string_equal(r20->country, "ID");
    anpi_event_list_free(&l);
}

/* The same item in two feed versions keeps its doc_id. */
static void
test_mofa_stable_ids(void **state)
{
    (void)state;
    struct anpi_event_list a = parse_mofa_snapshot("f673d9db9f");
    size_t len;
    char *doc = read_file(corpus_path(MOFA_DIR "f673d9db9f/latest.xml"), &len);
    /* Reparse after changing lastModified: a later feed version. */
    char *lm = strstr(doc, "lastModified=\"2026/04/06 18:00:50\"");
    assert_non_null(lm);
    memcpy(lm + strlen("lastModified=\""), "2026/04/06 18:05:50", 19);
    struct anpi_event_list b = parse_ok(anpi_mofa_parse, doc, len);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.ev[i]->doc_id, b.ev[i]->doc_id);
        assert_true(b.ev[i]->created_at == a.ev[i]->created_at + 300);
    }
    free(doc);
    anpi_event_list_free(&a);
    anpi_event_list_free(&b);
}

/* ---- MOFA: synthetic documents ----------------------------------------- */

static const char synthetic_mofa[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<opendata dataType=\"L\" lastModified=\"2026/05/01 10:00:00\" mailCount=\"4\" odType=\"02\">\n"
    " <mail><keyCd>2099T001</keyCd><infoType>T40</infoType><contentInfo>治安情勢</contentInfo>\n"
    "  <leaveDate>2099/05/01 09:00:00</leaveDate><area><cd>33</cd></area>\n"
    "  <country areaCd=\"33\"><cd>0051</cd></country><country areaCd=\"33\"><cd>7777</cd></country>\n"
    "  <country areaCd=\"33\"><cd>5X?</cd></country>\n"
    "  <title>試験国の危険情報</title><lead>試験 太郎さん向けの架空の情報です。</lead>\n"
    "  <infoUrl>https://www.example.jp/info/2099T001.html</infoUrl>\n"
    "  <riskLevel4>N</riskLevel4><riskLevel3>Y</riskLevel3><riskLevel2></riskLevel2><riskLevel1>1</riskLevel1>\n"
    " </mail>\n"
    " <mail><keyCd></keyCd><infoType>R10</infoType><leaveDate>2099/05/01 08:00:00</leaveDate>\n"
    "  <title>no key</title></mail>\n"
    " <mail><keyCd>999001</keyCd><infoType>R10</infoType><leaveDate>yesterday</leaveDate>\n"
    "  <title>bad date</title></mail>\n"
    " <mail><keyCd>999002</keyCd><infoType>R20</infoType><leaveDate>2099/05/01 07:00:00</leaveDate>\n"
    "  <country areaCd=\"30\"><cd>1000</cd></country><country areaCd=\"30\"><cd>1808</cd></country>\n"
    "  <title>緊急</title><lead></lead><infoUrl>https://www.example.jp/m/999002</infoUrl>\n"
    "  <koukanCd>301A</koukanCd></mail>\n"
    "</opendata>\n";

static void
test_mofa_synthetic(void **state)
{
    (void)state;
    struct anpi_event_list l = parse_ok(anpi_mofa_parse, synthetic_mofa, strlen(synthetic_mofa));
    assert_int_equal(l.n, 2);   /* no keyCd / bad leaveDate: skipped */
    const struct anpi_event *ev = l.ev[0];
    check_common(ev, "mofa");
    assert_int_equal(ev->risk_level, 3);   /* Y/N flags */
    assert_string_equal(ev->hazard, "治安情勢");
    assert_int_equal(ev->ncountries, 1);
    assert_string_equal(ev->country, "PE");
    assert_string_equal(ev->description, "試験 太郎さん向けの架空の情報です。\n\n"
                                         "(MOFA country code not mapped: 7777, 5X)");
    assert_int_equal(ev->created_at, T("2026-05-01T01:00:00Z"));   /* lastModified */
    const struct anpi_event *r = l.ev[1];
    check_common(r, "mofa");
    assert_string_equal(r->doc_id, "999002/2099/05/01 07:00:00");
    assert_int_equal(r->ncountries, 1);   /* 1000 and 1808: one US */
    assert_string_equal(r->country, "US");
    assert_string_equal(r->description, "");
    assert_int_equal(r->risk_level, 0);
    anpi_event_list_free(&l);

    /* an empty but well-formed document: no events, no error */
    const char *empty = "<?xml version=\"1.0\"?><opendata mailCount=\"0\"/>";
    l = parse_ok(anpi_mofa_parse, empty, strlen(empty));
    assert_int_equal(l.n, 0);
    anpi_event_list_free(&l);
}

static void
expect_error(parse_fn fn, const char *doc, size_t len, int code, const char *needle)
{
    struct anpi_event_list l = { 0 };
    char err[256] = "untouched";
    int rc = fn(doc, len, &l, err, sizeof(err));
    if (rc != code)
        fail_msg("rc %d, expected %d (%s)", rc, code, err);
    assert_int_equal(l.n, 0);
    assert_null(l.ev);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not say '%s'", err, needle);
}

static void
test_mofa_errors(void **state)
{
    (void)state;
    const char *html = "<!DOCTYPE html>\n<html><head><title>メンテナンス中</title></head>"
                       "<body>ただいまメンテナンス中です</body></html>";
    expect_error(anpi_mofa_parse, html, strlen(html), ANPI_EPARSE,
                 "not MOFA open data (maintenance page?)");
    const char *xhtml = "<?xml version=\"1.0\"?><html><body>maintenance</body></html>";
    expect_error(anpi_mofa_parse, xhtml, strlen(xhtml), ANPI_EPARSE,
                 "not MOFA open data (maintenance page?): root element is <html>");
    expect_error(anpi_mofa_parse, "", 0, ANPI_EPARSE, "maintenance page?");

    /* truncated real document */
    size_t len;
    char *doc = read_file(corpus_path(MOFA_DIR "603bcc6b1e/latest.xml"), &len);
    expect_error(anpi_mofa_parse, doc, len / 2, ANPI_EPARSE, "not well-formed XML at line");
    free(doc);
    expect_error(anpi_mofa_parse, synthetic_mofa, strlen(synthetic_mofa) - 12, ANPI_EPARSE,
                 "not well-formed");

    const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE opendata [<!ENTITY a \"aaaa\">]>"
                      "<opendata><mail><keyCd>&a;</keyCd></mail></opendata>";
    expect_error(anpi_mofa_parse, dtd, strlen(dtd), ANPI_EPARSE, "DOCTYPE");

    size_t big = ANPI_MOFA_MAX_DOC + 1;
    char *huge = anpi_xcalloc(1, big);
    memcpy(huge, "<?xml version=\"1.0\"?>", 21);
    expect_error(anpi_mofa_parse, huge, big, ANPI_ETOOBIG, "limit");
    free(huge);
    expect_error(anpi_mofa_parse, NULL, 0, ANPI_EPARSE, "no MOFA document");
}

/* ---- GDACS ------------------------------------------------------------- */

static void
test_gdacs_7d(void **state)
{
    (void)state;
    struct anpi_event_list l = parse_corpus(anpi_gdacs_parse, GDACS_7D);
    assert_int_equal(l.n, 115);
    size_t eq = 0, dr = 0, tc = 0, vo = 0, green = 0, orange = 0, red = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct anpi_event *ev = l.ev[i];
        check_common(ev, "gdacs");
        eq += strcmp(ev->risk_kind, "EQ") == 0;
        dr += strcmp(ev->risk_kind, "DR") == 0;
        tc += strcmp(ev->risk_kind, "TC") == 0;
        vo += strcmp(ev->risk_kind, "VO") == 0;
        green += ev->risk_level == 1;
        orange += ev->risk_level == 2;
        red += ev->risk_level == 3;
        assert_true(ev->risk_level >= 1 && ev->risk_level <= 3);
        assert_true(strncmp(ev->url, "http://www.gdacs.org/report.aspx?eventtype=", 43) == 0);
        assert_true(!isnan(ev->lat) && !isnan(ev->lon));
        assert_true(ev->occurred_at > 0 && ev->occurred_at <= ev->issued_at);
        assert_true(ev->issued_at >= T("2019-12-01T00:00:00Z") &&
                    ev->issued_at < T("2020-01-01T00:00:00Z"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ev->doc_id, l.ev[j]->doc_id);
    }
    assert_int_equal(eq, 100);
    assert_int_equal(dr, 11);
    assert_int_equal(tc, 3);
    assert_int_equal(vo, 1);
    assert_int_equal(green, 107);
    assert_int_equal(orange, 8);
    assert_int_equal(red, 0);

    /* multi-country drought: iso3 BIH first, then the named list */
    const struct anpi_event *dr9 = find(&l, "DR1013280");
    assert_string_equal(dr9->doc_id, "DR1013280/9");
    static const char *const dr9c[] = { "BA", "BG", "BY", "HR", "MD", "ME",
                                        "PL", "RO", "RS", "RU", "UA" };
    assert_int_equal(dr9->ncountries, ANPI_ARRAY_LEN(dr9c));
    for (size_t i = 0; i < ANPI_ARRAY_LEN(dr9c); i++)
        assert_string_equal(dr9->countries[i], dr9c[i]);
    assert_string_equal(dr9->country, "BA");
    const struct anpi_event *dr1 = find(&l, "DR1013682");
    assert_int_equal(dr1->ncountries, 4);
    assert_true(has_country(dr1, "BG") && has_country(dr1, "IQ") && has_country(dr1, "IR") &&
                has_country(dr1, "TR"));

    /* sea region, no iso3: no country */
    const struct anpi_event *ridge = find(&l, "EQ1199768");
    assert_int_equal(ridge->ncountries, 0);
    assert_string_equal(ridge->country, "");
    assert_string_equal(ridge->hazard, "Earthquake");
    assert_true(fabs(ridge->magnitude - 5.0) < 1e-9);
    /* "Sulawesi, Indonesia": place + country */
    const struct anpi_event *sul = find(&l, "EQ1199493");
    assert_int_equal(sul->ncountries, 1);
    assert_string_equal(sul->country, "ID");
    /* "W. Caroline Islands, Micronesia" with iso3 GUM */
    const struct anpi_event *car = find(&l, "EQ1199295");
    assert_int_equal(car->ncountries, 2);
    assert_string_equal(car->countries[0], "GU");
    assert_string_equal(car->countries[1], "FM");

    /* Orange on the event, the episode too */
    const struct anpi_event *dr43 = find(&l, "DR1012728");
    assert_int_equal(dr43->risk_level, 2);
    assert_int_equal(dr43->ncountries, 8);
    assert_int_equal(dr43->occurred_at, T("2018-10-21T00:00:00Z"));
    anpi_event_list_free(&l);
}

static void
test_gdacs_current(void **state)
{
    (void)state;
    struct anpi_event_list l = parse_corpus(anpi_gdacs_parse, GDACS_NOW);
    assert_int_equal(l.n, 16);
    const struct anpi_event *tc = find(&l, "TC1000643");
    check_common(tc, "gdacs");
    assert_string_equal(tc->doc_id, "TC1000643/1");
    assert_string_equal(tc->risk_kind, "TC");
    assert_string_equal(tc->typhoon_name, "CALVINIA-19");
    assert_string_equal(tc->country, "MU");
    assert_int_equal(tc->risk_level, 1);
    assert_true(fabs(tc->lat - -19.4) < 1e-9 && fabs(tc->lon - 59.8) < 1e-9);
    assert_int_equal(tc->issued_at, T("2019-12-29T12:00:00Z"));
    assert_string_equal(tc->headline, "Tropical Storm (maximum wind speed of 93 km/h)");
    assert_true(isnan(tc->magnitude));   /* a km/h value is no magnitude */
    assert_string_equal(tc->url, "http://www.gdacs.org/report.aspx?eventtype=TC&eventid=1000643");

    const struct anpi_event *eq = find(&l, "EQ1199929");
    assert_string_equal(eq->doc_id, "EQ1199929/1287798");
    assert_true(fabs(eq->magnitude - 5.5) < 1e-9);
    assert_string_equal(eq->country, "ZA");
    assert_true(strncmp(eq->title, "Green earthquake alert", 22) == 0);

    /* "Southeast Of Loyalty Islands": the sea region adds nothing to iso3 VUT */
    const struct anpi_event *loy = find(&l, "EQ1199647");
    assert_int_equal(loy->ncountries, 1);
    assert_string_equal(loy->country, "VU");

    /* alertlevel Orange, episode Green: the max */
    assert_int_equal(find(&l, "TC1000641")->risk_level, 2);
    anpi_event_list_free(&l);
}

static const char synthetic_gdacs[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<rss version=\"2.0\" xmlns:gdacs=\"http://www.gdacs.org\" "
    "xmlns:geo=\"http://www.w3.org/2003/01/geo/wgs84_pos#\" "
    "xmlns:georss=\"http://www.georss.org/georss\"><channel><title>test</title>\n"
    "<item><title>Red wildfire alert in Testland</title><description>synthetic</description>\n"
    " <link>https://www.example.jp/wf/1</link><pubDate>Fri, 01 May 2099 00:00:00 GMT</pubDate>\n"
    " <georss:point>35.5 139.25</georss:point>\n"
    " <gdacs:eventtype>WF</gdacs:eventtype><gdacs:alertlevel>Orange</gdacs:alertlevel>\n"
    " <gdacs:episodealertlevel>Red</gdacs:episodealertlevel><gdacs:eventid>42</gdacs:eventid>\n"
    " <gdacs:episodeid>7</gdacs:episodeid><gdacs:iso3>PER</gdacs:iso3>\n"
    " <gdacs:country>Peru, Chile, Atlantis, Peru</gdacs:country></item>\n"
    "<item><pubDate>Fri, 01 May 2099 00:00:00 GMT</pubDate><gdacs:eventtype>EQ</gdacs:eventtype>\n"
    " <gdacs:eventid>43</gdacs:eventid></item>\n"
    "<item><pubDate>not a date</pubDate><gdacs:eventtype>EQ</gdacs:eventtype>\n"
    " <gdacs:eventid>44</gdacs:eventid><gdacs:episodeid>1</gdacs:episodeid></item>\n"
    "<item><pubDate>Fri, 01 May 2099 00:00:00 GMT</pubDate><gdacs:eventtype>TS</gdacs:eventtype>\n"
    " <gdacs:eventid>45</gdacs:eventid><gdacs:episodeid>1</gdacs:episodeid>\n"
    " <geo:Point><geo:lat>91</geo:lat><geo:long>10</geo:long></geo:Point>\n"
    " <gdacs:alertlevel>Purple</gdacs:alertlevel><gdacs:iso3 /><gdacs:country /></item>\n"
    "</channel></rss>\n";

static void
test_gdacs_synthetic(void **state)
{
    (void)state;
    /* with a BOM and blanks before the declaration */
    size_t n = strlen(synthetic_gdacs);
    char *doc = anpi_xmalloc(n + 5);
    memcpy(doc, "\xEF\xBB\xBF\n ", 5);
    memcpy(doc + 5, synthetic_gdacs, n);
    struct anpi_event_list l = parse_ok(anpi_gdacs_parse, doc, n + 5);
    free(doc);
    assert_int_equal(l.n, 2);   /* no episodeid / bad pubDate: skipped */
    const struct anpi_event *wf = l.ev[0];
    check_common(wf, "gdacs");
    assert_string_equal(wf->doc_id, "WF42/7");
    assert_string_equal(wf->event_key, "WF42");
    assert_string_equal(wf->hazard, "Wildfire");
    assert_int_equal(wf->risk_level, 3);
    assert_int_equal(wf->ncountries, 2);
    assert_string_equal(wf->countries[0], "PE");
    assert_string_equal(wf->countries[1], "CL");
    assert_true(fabs(wf->lat - 35.5) < 1e-9 && fabs(wf->lon - 139.25) < 1e-9);
    assert_int_equal(wf->occurred_at, 0);
    const struct anpi_event *ts = l.ev[1];
    check_common(ts, "gdacs");
    assert_int_equal(ts->risk_level, 0);
    assert_int_equal(ts->ncountries, 0);
    assert_true(isnan(ts->lat) && isnan(ts->lon));   /* lat 91 out of range */
    anpi_event_list_free(&l);

    /* without a BOM */
    l = parse_ok(anpi_gdacs_parse, synthetic_gdacs, n);
    assert_int_equal(l.n, 2);
    anpi_event_list_free(&l);
}

static void
test_gdacs_errors(void **state)
{
    (void)state;
    size_t len;
    char *doc = read_file(corpus_path(GDACS_NOW), &len);
    assert_true((unsigned char)doc[0] == 0xEF);   /* the real file has a BOM */
    expect_error(anpi_gdacs_parse, doc, len - 100, ANPI_EPARSE, "GDACS: not well-formed XML");
    free(doc);
    const char *html = "<html><body>Service unavailable</body></html>";
    expect_error(anpi_gdacs_parse, html, strlen(html), ANPI_EPARSE, "not RSS");
    const char *nochan = "<rss version=\"2.0\"></rss>";
    expect_error(anpi_gdacs_parse, nochan, strlen(nochan), ANPI_EPARSE, "without <channel>");
    const char *dtd = "<!DOCTYPE rss [<!ENTITY x \"x\">]><rss><channel/></rss>";
    expect_error(anpi_gdacs_parse, dtd, strlen(dtd), ANPI_EPARSE, "DOCTYPE");
    size_t big = ANPI_GDACS_MAX_DOC + 1;
    char *huge = anpi_xcalloc(1, big);
    expect_error(anpi_gdacs_parse, huge, big, ANPI_ETOOBIG, "limit");
    free(huge);
}

/* Parsers append: events already in the list stay, errors add nothing. */
static void
test_list_append(void **state)
{
    (void)state;
    struct anpi_event_list l = parse_ok(anpi_gdacs_parse, synthetic_gdacs, strlen(synthetic_gdacs));
    char err[128];
    assert_int_equal(anpi_mofa_parse(synthetic_mofa, strlen(synthetic_mofa), &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.ev[0]->source, "gdacs");
    assert_string_equal(l.ev[3]->source, "mofa");
    assert_int_equal(anpi_mofa_parse("<html/>", 7, &l, err, sizeof(err)), ANPI_EPARSE);
    assert_int_equal(l.n, 4);
    anpi_event_list_free(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_country_table),
        cmocka_unit_test(test_country_lookups),
        cmocka_unit_test(test_rfc822),
        cmocka_unit_test(test_mofa_helpers),
        cmocka_unit_test(test_mofa_all_snapshots),
        cmocka_unit_test(test_mofa_iran_raise),
        cmocka_unit_test(test_mofa_israel_gulf),
        cmocka_unit_test(test_mofa_levels_and_codes),
        cmocka_unit_test(test_mofa_stable_ids),
        cmocka_unit_test(test_mofa_synthetic),
        cmocka_unit_test(test_mofa_errors),
        cmocka_unit_test(test_gdacs_7d),
        cmocka_unit_test(test_gdacs_current),
        cmocka_unit_test(test_gdacs_synthetic),
        cmocka_unit_test(test_gdacs_errors),
        cmocka_unit_test(test_list_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
