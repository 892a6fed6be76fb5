/* test_qzss.c - the QZSS DCX parser: the real receiver log (read from
 * $ANPI_SHARED at run time, never copied), the sentences FEEDS.md §2.3 names,
 * the live path (A1 flipped to Alert in memory, CRC and checksum
 * recomputed), and synthetic messages built bit by bit for every phase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/feed.h"
#include "feeds/qzss/dcx.h"

/* From nbtk/azarashi tests/test_dcx.py (MIT): a J-Alert test whose EX9
 * lists the seven Kyushu prefectures (FEEDS.md §2.3). */
static const char KYUSHU[] =
    "$QZQSM,57,C6B0840DE3E21171208800000000000000000FE00000000000000000B8C7F50*72";

/* ---- helpers ------------------------------------------------------------ */

static char *
read_log(size_t *len)
{
    const char *shared = getenv("ANPI_SHARED");
    char path[4096];
    snprintf(path, sizeof(path), "%s/corpus/missile/qzss-dcx/qzqsm_dcx_240604.log",
             shared ? shared : "(ANPI_SHARED unset)");
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = anpi_xmalloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The log line that starts with `prefix` and ends with `suffix` (a new
 * string without the line end); fails the test when there is none. */
static char *
log_line(const char *prefix, const char *suffix)
{
    size_t len;
    char *log = read_log(&len);
    char *found = NULL;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        while (n && line[n - 1] == '\r')
            n--;
        size_t sl = strlen(suffix), pl = strlen(prefix);
        if (n >= pl + sl && strncmp(line, prefix, pl) == 0 &&
            strncmp(line + n - sl, suffix, sl) == 0) {
            found = anpi_xstrndup(line, n);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    if (!found)
        fail_msg("no line %s...%s in the log", prefix, suffix);
    return found;
}

static int
hexv(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* "$QZQSM,svid,hex*CS" -> msg bytes. */
static void
sentence_msg(const char *s, uint8_t msg[ANPI_QZSS_MSG_BYTES])
{
    const char *hex = strchr(s + 7, ',') + 1;
    memset(msg, 0, ANPI_QZSS_MSG_BYTES);
    for (int i = 0; i < 63; i++)
        msg[i / 2] |= (uint8_t)(i % 2 == 0 ? hexv(hex[i]) << 4 : hexv(hex[i]));
}

static void
set_bits(uint8_t *msg, unsigned start, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned pos = start + i;
        uint8_t mask = (uint8_t)(0x80u >> (pos % 8));
        if (v >> (n - 1 - i) & 1u)
            msg[pos / 8] |= mask;
        else
            msg[pos / 8] &= (uint8_t)~mask;
    }
}

/* CRC over bits 0..225 into 226..249, then the sentence with its checksum. */
static void
make_sentence(uint8_t msg[ANPI_QZSS_MSG_BYTES], unsigned svid, char out[96])
{
    set_bits(msg, 250, 6, 0);
    set_bits(msg, 226, 24, anpi_qzss_crc24q(msg, 226));
    char body[90];
    int n = snprintf(body, sizeof(body), "QZQSM,%u,", svid);
    for (int i = 0; i < 63; i++) {
        unsigned nib = i % 2 == 0 ? msg[i / 2] >> 4 : msg[i / 2] & 0xFu;
        body[n++] = "0123456789ABCDEF"[nib];
    }
    body[n] = '\0';
    snprintf(out, 96, "$%s*%02X", body, anpi_qzss_nmea_checksum(body, (size_t)n));
}

struct fields {
    unsigned preamble, mt, a1, a2, a3, a4, a5, a7, a9, a11, ex8;
    anpi_prefset prefs;
    unsigned munis[4];
    unsigned ex1;
};

/* A synthetic message: J-Alert (FDMA) unless the fields say otherwise. */
static void
build(const struct fields *f, char out[96])
{
    uint8_t msg[ANPI_QZSS_MSG_BYTES] = { 0 };
    set_bits(msg, 0, 8, f->preamble ? f->preamble : 0x53);
    set_bits(msg, 8, 6, f->mt ? f->mt : 44);
    set_bits(msg, 24, 2, f->a1);
    set_bits(msg, 26, 9, f->a2 ? f->a2 : 111);
    set_bits(msg, 35, 5, f->a3);
    set_bits(msg, 40, 7, f->a4);
    set_bits(msg, 47, 2, f->a5);
    set_bits(msg, 50, 14, f->a7);
    set_bits(msg, 66, 1, f->a9);
    set_bits(msg, 70, 10, f->a11);
    if (f->ex1) {
        set_bits(msg, 146, 16, f->ex1);
    } else if (f->ex8) {
        set_bits(msg, 146, 1, 1);
        for (unsigned i = 0; i < 4; i++)
            set_bits(msg, 147 + i * 16, 16, f->munis[i]);
    } else {
        for (unsigned code = 1; code <= ANPI_PREF_COUNT; code++)
            if (f->prefs & ANPI_PREFSET_BIT(code))
                set_bits(msg, 147 + 47 - code, 1, 1);
    }
    set_bits(msg, 214, 6, 1);
    make_sentence(msg, 55, out);
}

static struct anpi_event_list
parse_ok(const char *doc, struct anpi_qzss_stats *st)
{
    struct anpi_event_list l = { 0 };
    char err[256];
    int rc = anpi_qzss_parse_stats(doc, strlen(doc), &l, st, err, sizeof(err));
    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, err);
    return l;
}

/* Parse one sentence that must give exactly one event. */
static struct anpi_event *
one_event(const char *sentence)
{
    struct anpi_qzss_stats st;
    struct anpi_event_list l = parse_ok(sentence, &st);
    if (l.n != 1)
        fail_msg("%zu events from %s", l.n, sentence);
    struct anpi_event *ev = l.ev[0];
    free(l.ev);
    return ev;
}

static anpi_prefset
prefs_range(int from, int to)
{
    anpi_prefset s = 0;
    for (int c = from; c <= to; c++)
        s |= ANPI_PREFSET_BIT(c);
    return s;
}

/* ---- the real log --------------------------------------------------------- */

static void
test_log_counts(void **state)
{
    (void)state;
    size_t len;
    char *log = read_log(&len);
    struct anpi_event_list l = { 0 };
    struct anpi_qzss_stats st;
    char err[256];
    assert_int_equal(anpi_qzss_parse_stats(log, len, &l, &st, err, sizeof(err)), 0);
    assert_int_equal(st.sentences, 259);
    assert_int_equal(st.malformed + st.bad_checksum + st.bad_frame, 0);
    assert_int_equal(st.dcx, 259);
    assert_int_equal(st.dcr, 0);
    assert_int_equal(st.events, l.n);

    /* Per message kind, retransmissions included (FEEDS.md §2.3). */
    size_t kinds[6] = { 0 }, jalert_test = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        uint8_t msg[ANPI_QZSS_MSG_BYTES];
        struct anpi_dcx_msg m;
        sentence_msg(line, msg);
        assert_int_equal(anpi_qzss_decode(msg, &m, err, sizeof(err)), 0);
        kinds[m.kind]++;
        if (m.kind == ANPI_DCX_J_ALERT && m.a1 == 0)
            jalert_test++;
        line = nl ? nl + 1 : NULL;
    }
    assert_int_equal(kinds[ANPI_DCX_J_ALERT], 88);
    assert_int_equal(jalert_test, 88);
    assert_int_equal(kinds[ANPI_DCX_L_ALERT], 160);
    assert_int_equal(kinds[ANPI_DCX_OUTSIDE_JAPAN], 10);
    assert_int_equal(kinds[ANPI_DCX_NULL], 1);

    /* 26 distinct J-Alert messages, 12 L-Alert civil-protection tests; all
     * flagged test, so nothing here may reach a rule for real alerts. */
    size_t jalert = 0, launch = 0, impact = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct anpi_event *ev = l.ev[i];
        assert_int_equal(ev->type, ANPI_EV_MISSILE);
        assert_int_equal(ev->status, ANPI_ST_TEST);
        assert_string_equal(ev->source, "qzss");
        assert_true(strncmp(ev->doc_id, "dcx:", 4) == 0 && strlen(ev->doc_id) == 53);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ev->doc_id, l.ev[j]->doc_id);
        if (strncmp(ev->title, "Jアラート", strlen("Jアラート")) == 0)
            jalert++;
        launch += ev->missile_phase == ANPI_MS_LAUNCH && strstr(ev->headline, "ミサイル発射");
        impact += ev->missile_phase == ANPI_MS_IMPACT && strstr(ev->headline, "ミサイル落下");
    }
    assert_int_equal(jalert, 26);
    assert_int_equal(l.n, 38);
    assert_int_equal(launch, 1);
    assert_int_equal(impact, 1);
    assert_int_equal(st.duplicates, 177);   /* 82 distinct messages in 259 sentences */
    anpi_event_list_free(&l);
    free(log);
}

static void
test_log_launch(void **state)
{
    (void)state;
    char *s = log_line("$QZQSM,54,53B0840DE211", "*7D");
    uint8_t msg[ANPI_QZSS_MSG_BYTES];
    struct anpi_dcx_msg m;
    char err[128];
    sentence_msg(s, msg);
    assert_int_equal(anpi_qzss_decode(msg, &m, err, sizeof(err)), 0);
    assert_int_equal(m.mt, 44);
    assert_int_equal(m.kind, ANPI_DCX_J_ALERT);
    assert_int_equal(m.a1, 0);
    assert_int_equal(m.a2, 111);
    assert_int_equal(m.a3, 2);     /* FDMA */
    assert_int_equal(m.a4, 8);     /* Missile attack */
    assert_int_equal(m.a5, 3);     /* Extreme */
    assert_int_equal(m.a11, 128);
    assert_int_equal(m.ex8, 0);
    assert_true(m.prefs == prefs_range(1, 47));

    struct anpi_event *ev = one_event(s);
    assert_int_equal(ev->type, ANPI_EV_MISSILE);
    assert_int_equal(ev->status, ANPI_ST_TEST);
    assert_int_equal(ev->info_type, ANPI_IT_ISSUE);
    assert_int_equal(ev->missile_phase, ANPI_MS_LAUNCH);
    assert_true(ev->target_prefs == prefs_range(1, 47));
    assert_string_equal(ev->hazard, "Missile attack");
    assert_string_equal(ev->info_kind, "消防庁");
    assert_string_equal(ev->title, "Jアラート: Missile attack");
    assert_string_equal(ev->headline, "ミサイル発射。ミサイル発射。ミサイルが発射されたものとみられ"
                                      "ます。建物の中、又は地下に避難して下さい。");
    assert_int_equal(ev->issued_at, 0);
    anpi_event_free(ev);
    free(s);
}

static void
test_log_impact(void **state)
{
    (void)state;
    char *s = log_line("$QZQSM,55,53B0840DE311", "*00");
    struct anpi_event *ev = one_event(s);
    assert_int_equal(ev->status, ANPI_ST_TEST);
    assert_int_equal(ev->missile_phase, ANPI_MS_IMPACT);
    assert_true(ev->target_prefs == prefs_range(1, 47));
    assert_string_equal(ev->info_kind, "関係省庁");
    assert_non_null(strstr(ev->headline, "ミサイル落下。ミサイル落下。"));
    assert_non_null(strstr(ev->description, "引き続き屋内に避難して下さい。"));
    anpi_event_free(ev);
    free(s);
}

static void
test_kyushu(void **state)
{
    (void)state;
    struct anpi_event *ev = one_event(KYUSHU);
    /* 福岡 40, 佐賀 41, 長崎 42, 熊本 43, 大分 44, 宮崎 45, 鹿児島 46 */
    assert_true(ev->target_prefs == prefs_range(40, 46));
    assert_int_equal(ev->status, ANPI_ST_TEST);
    assert_int_equal(ev->missile_phase, ANPI_MS_NONE);    /* A11 136: J-Alert test */
    assert_string_equal(ev->headline, "これは、Jアラートのテストです。");
    assert_string_equal(ev->hazard, "Test alert");
    anpi_event_free(ev);
}

/* The live path: the real launch message with A1 = Alert. */
static void
test_flip_to_alert(void **state)
{
    (void)state;
    char *s = log_line("$QZQSM,54,53B0840DE211", "*7D");
    uint8_t msg[ANPI_QZSS_MSG_BYTES];
    char again[96], alert[96], clear[96];
    sentence_msg(s, msg);
    make_sentence(msg, 54, again);
    assert_string_equal(again, s);    /* the test's own encoder agrees with the satellite */

    set_bits(msg, 24, 2, 1);
    make_sentence(msg, 54, alert);
    assert_string_not_equal(alert, s);
    struct anpi_event *test_ev = one_event(s), *ev = one_event(alert);
    assert_int_equal(ev->status, ANPI_ST_ACTUAL);
    assert_int_equal(ev->info_type, ANPI_IT_ISSUE);
    assert_int_equal(ev->missile_phase, ANPI_MS_LAUNCH);
    assert_true(ev->target_prefs == prefs_range(1, 47));
    assert_string_not_equal(ev->doc_id, test_ev->doc_id);
    assert_string_equal(ev->event_key, test_ev->event_key);   /* A1 is not identity */

    set_bits(msg, 24, 2, 3);   /* All Clear */
    make_sentence(msg, 54, clear);
    struct anpi_event *cl = one_event(clear);
    assert_int_equal(cl->status, ANPI_ST_ACTUAL);
    assert_int_equal(cl->info_type, ANPI_IT_CANCEL);
    assert_string_equal(cl->event_key, ev->event_key);
    anpi_event_free(cl);
    anpi_event_free(ev);
    anpi_event_free(test_ev);
    free(s);
}

/* ---- synthetic ------------------------------------------------------------ */

static void
test_phases(void **state)
{
    (void)state;
    static const struct { unsigned a1, a4, a11; enum anpi_missile_phase phase; } cases[] = {
        { 1, 8, 128, ANPI_MS_LAUNCH },        { 1, 8, 132, ANPI_MS_IMMINENT },
        { 1, 8, 134, ANPI_MS_IMPACT },        { 2, 8, 133, ANPI_MS_INTERCEPTION },
        { 2, 8, 129, ANPI_MS_OVERFLIGHT },    { 2, 8, 130, ANPI_MS_IMPACT_OUTSIDE },
        { 3, 8, 131, ANPI_MS_ALL_CLEAR },     { 3, 8, 135, ANPI_MS_ALL_CLEAR },
        { 1, 8, 0, ANPI_MS_LAUNCH },          { 3, 8, 0, ANPI_MS_ALL_CLEAR },
        { 1, 1, 0, ANPI_MS_OTHER },           { 1, 95, 0, ANPI_MS_OTHER },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(cases); i++) {
        struct fields f = { .a1 = cases[i].a1, .a3 = 2, .a4 = cases[i].a4, .a5 = 3,
                            .a9 = 1, .a11 = cases[i].a11, .a7 = 1000,
                            .prefs = ANPI_PREFSET_BIT(47) };
        char s[96];
        build(&f, s);
        struct anpi_event *ev = one_event(s);
        if (ev->missile_phase != cases[i].phase)
            fail_msg("case %zu: phase %s, want %s", i, anpi_missile_phase_name(ev->missile_phase),
                     anpi_missile_phase_name(cases[i].phase));
        assert_int_equal(ev->status, ANPI_ST_ACTUAL);
        assert_int_equal(ev->info_type, cases[i].a1 == 2 ? ANPI_IT_CORRECTION
                                        : cases[i].a1 == 3 ? ANPI_IT_CANCEL : ANPI_IT_ISSUE);
        assert_true(ev->target_prefs == ANPI_PREFSET_BIT(47));
        anpi_event_free(ev);
    }
    /* A9 = 0 (international library): A11 128 is not the J-ALERT text. */
    struct fields f = { .a1 = 1, .a3 = 2, .a4 = 8, .a9 = 0, .a11 = 134,
                        .prefs = ANPI_PREFSET_BIT(1) };
    char s[96];
    build(&f, s);
    struct anpi_event *ev = one_event(s);
    assert_int_equal(ev->missile_phase, ANPI_MS_LAUNCH);
    assert_string_equal(ev->headline, "");
    anpi_event_free(ev);
}

static void
test_test_alert_is_test(void **state)
{
    (void)state;
    /* A4 = 113 "Test alert" is a drill even when A1 says Alert. */
    struct fields f = { .a1 = 1, .a3 = 3, .a4 = 113, .a9 = 1, .a11 = 136,
                        .prefs = ANPI_PREFSET_BIT(13) };
    char s[96];
    build(&f, s);
    struct anpi_event *ev = one_event(s);
    assert_int_equal(ev->status, ANPI_ST_TEST);
    assert_true(ev->target_prefs == ANPI_PREFSET_BIT(13));
    anpi_event_free(ev);
}

static void
test_municipalities(void **state)
{
    (void)state;
    /* 札幌市中央区 01101, 千代田区 13101, 大阪市 27100, 那覇市 47201 */
    struct fields f = { .a1 = 1, .a3 = 3, .a4 = 8, .a9 = 1, .a11 = 132, .ex8 = 1,
                        .munis = { 1101, 13101, 27100, 47201 } };
    char s[96];
    build(&f, s);
    struct anpi_event *ev = one_event(s);
    assert_true(ev->target_prefs == (ANPI_PREFSET_BIT(1) | ANPI_PREFSET_BIT(13) |
                                     ANPI_PREFSET_BIT(27) | ANPI_PREFSET_BIT(47)));
    assert_int_equal(ev->missile_phase, ANPI_MS_IMMINENT);
    assert_string_equal(ev->event_key, "dcx:111-3-8-0.0");
    anpi_event_free(ev);

    /* L-Alert: a missile warning for one municipality counts; a flood
     * evacuation order does not (weather comes from JMA). */
    struct fields la = { .a1 = 1, .a3 = 1, .a4 = 8, .ex1 = 4205 };   /* 気仙沼市 */
    build(&la, s);
    ev = one_event(s);
    assert_true(ev->target_prefs == ANPI_PREFSET_BIT(4));
    assert_non_null(strstr(ev->title, "Lアラート"));
    assert_string_equal(ev->event_key, "dcx:111-1-8-0.0-4205");
    anpi_event_free(ev);
    struct fields flood = { .a1 = 1, .a3 = 1, .a4 = 68, .ex1 = 4205 };
    build(&flood, s);
    struct anpi_qzss_stats st;
    struct anpi_event_list l = parse_ok(s, &st);
    assert_int_equal(l.n, 0);
    assert_int_equal(st.dcx, 1);
}

static void
test_no_event_kinds(void **state)
{
    (void)state;
    char doc[512], s[96];
    struct fields outside = { .a1 = 1, .a2 = 71, .a3 = 1, .a4 = 44 };   /* Fiji tsunami */
    struct fields dcr = { .mt = 43, .a1 = 1, .a3 = 2, .a4 = 8 };
    struct fields null = { .a2 = 111 };
    build(&outside, s);
    snprintf(doc, sizeof(doc), "%s\n", s);
    build(&dcr, s);
    strcat(doc, s);
    strcat(doc, "\n");
    build(&null, s);
    strcat(doc, s);
    struct anpi_qzss_stats st;
    struct anpi_event_list l = parse_ok(doc, &st);
    assert_int_equal(l.n, 0);
    assert_int_equal(st.sentences, 3);
    assert_int_equal(st.dcr, 1);
    assert_int_equal(st.dcx, 2);
}

static void
test_retransmissions(void **state)
{
    (void)state;
    struct fields f = { .a1 = 1, .a3 = 2, .a4 = 8, .a9 = 1, .a11 = 128,
                        .prefs = ANPI_PREFSET_BIT(46) | ANPI_PREFSET_BIT(47) };
    char a[96], b[96], c[96], doc[512];
    build(&f, a);
    f.preamble = 0x9A;     /* the next subframe: same message, other preamble and CRC */
    build(&f, b);
    f.a11 = 134;           /* a different message */
    build(&f, c);
    assert_string_not_equal(a, b);
    snprintf(doc, sizeof(doc), "%s\r\n%s\r\n%s\r\n%s\r\n", a, a, b, c);
    struct anpi_qzss_stats st;
    struct anpi_event_list l = parse_ok(doc, &st);
    assert_int_equal(l.n, 2);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(l.ev[0]->missile_phase, ANPI_MS_LAUNCH);
    assert_int_equal(l.ev[1]->missile_phase, ANPI_MS_IMPACT);
    assert_string_equal(l.ev[0]->event_key, l.ev[1]->event_key);
    anpi_event_list_free(&l);
}

static void
test_bad_sentences(void **state)
{
    (void)state;
    struct fields f = { .a1 = 1, .a3 = 2, .a4 = 8, .a9 = 1, .a11 = 128,
                        .prefs = ANPI_PREFSET_BIT(1) };
    char good[96], badcs[96], badcrc[128], doc[1024];
    build(&f, good);
    strcpy(badcs, good);
    badcs[strlen(badcs) - 1] = badcs[strlen(badcs) - 1] == '0' ? '1' : '0';
    /* flip a payload bit but keep the NMEA checksum right: CRC must catch it */
    uint8_t msg[ANPI_QZSS_MSG_BYTES];
    sentence_msg(good, msg);
    msg[10] ^= 0x10;
    char body[96];
    memcpy(body, good, sizeof(body));
    char *hex = strchr(body + 7, ',') + 1;
    hex[20] = "0123456789ABCDEF"[msg[10] >> 4];
    char *star = strchr(body, '*');
    *star = '\0';
    snprintf(badcrc, sizeof(badcrc), "%s*%02X", body,
             anpi_qzss_nmea_checksum(body + 1, strlen(body + 1)));

    snprintf(doc, sizeof(doc),
             "$GPGGA,085120.00,3540.0000,N,13945.0000,E,1,08,1.0,40.0,M,39.0,M,,*4B\n"
             "\n# receiver restarted\n%s\n%s\n$QZQSM,55,ZZ*00\n$QZQSM,55,53B0\n%s\n",
             badcs, badcrc, good);
    struct anpi_qzss_stats st;
    struct anpi_event_list l = parse_ok(doc, &st);
    assert_int_equal(l.n, 1);
    assert_int_equal(st.sentences, 5);
    assert_int_equal(st.bad_checksum, 1);
    assert_int_equal(st.bad_frame, 1);
    assert_int_equal(st.malformed, 2);
    anpi_event_list_free(&l);

    /* Nothing valid at all: the feed is wrong, say so. */
    snprintf(doc, sizeof(doc), "%s\n%s\n", badcs, badcrc);
    char err[256];
    assert_int_equal(anpi_qzss_parse(doc, strlen(doc), &l, err, sizeof(err)), ANPI_EPARSE);
    assert_int_equal(l.n, 0);
    assert_non_null(strstr(err, "none of 2 $QZQSM sentences is valid"));
    assert_non_null(strstr(err, "line 1: NMEA checksum mismatch"));

    /* No $QZQSM at all is fine: an empty document. */
    assert_int_equal(anpi_qzss_parse("$GPRMC,x*00\n", 12, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 0);
}

static void
test_decode_errors(void **state)
{
    (void)state;
    uint8_t msg[ANPI_QZSS_MSG_BYTES];
    struct anpi_dcx_msg m;
    char err[128];
    sentence_msg(KYUSHU, msg);
    assert_int_equal(anpi_qzss_decode(msg, &m, err, sizeof(err)), 0);
    msg[0] = 0x12;
    assert_int_equal(anpi_qzss_decode(msg, &m, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "preamble 0x12"));
    sentence_msg(KYUSHU, msg);
    msg[31] ^= 0x40;   /* last CRC bit */
    assert_int_equal(anpi_qzss_decode(msg, &m, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "CRC-24Q mismatch"));
}

static void
test_too_big(void **state)
{
    (void)state;
    size_t n = ANPI_QZSS_MAX_DOC + 1;
    char *doc = anpi_xmalloc(n);
    memset(doc, '\n', n);
    struct anpi_event_list l = { 0 };
    char err[128];
    assert_int_equal(anpi_qzss_parse(doc, n, &l, err, sizeof(err)), ANPI_ETOOBIG);
    assert_non_null(strstr(err, "over the"));
    free(doc);
}

static void
test_feed_source(void **state)
{
    (void)state;
    const struct anpi_feed_source *src = anpi_feed_source_find("qzss");
    if (!src)
        skip();    /* until feeds/sources.c lists the parser */
    assert_ptr_equal(src->parse, anpi_qzss_parse);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_counts),
        cmocka_unit_test(test_log_launch),
        cmocka_unit_test(test_log_impact),
        cmocka_unit_test(test_kyushu),
        cmocka_unit_test(test_flip_to_alert),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_test_alert_is_test),
        cmocka_unit_test(test_municipalities),
        cmocka_unit_test(test_no_event_kinds),
        cmocka_unit_test(test_retransmissions),
        cmocka_unit_test(test_bad_sentences),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_feed_source),
    };
    return cmocka_run_group_tests_name("qzss", tests, NULL, NULL);
}
