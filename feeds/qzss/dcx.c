/* dcx.c - QZSS L1S receiver output -> events (J-ALERT over DCX).
 *
 * Input: the text a GNSS receiver prints, one NMEA sentence per line.  Only
 * "$QZQSM,<svid>,<63 hex digits>*<2 hex digits>" is read; every other line
 * ($GPGGA, blank, comments) is ignored.  A sentence whose NMEA checksum,
 * length, preamble or CRC-24Q is wrong is counted and skipped - a receiver
 * log always has some - and the document fails only when it holds $QZQSM
 * sentences of which not one is valid (a wrong feed, not noise).
 *
 * The 63 hex digits are the 250-bit L1S message plus two padding bits.
 * Layout (IS-QZSS-DCX, as decoded by nbtk/azarashi; FEEDS.md §2.3), bit
 * offsets from the first bit of the message, MSB first:
 *
 *     0   8  preamble 0x53/0x9A/0xC6 (A/B/C, rotates by subframe)
 *     8   6  message type: 43 DC Report (JMA, not decoded here), 44 DCX
 *    14  10  satellite designation mask (ignored)
 *    24   2  A1  message type 0 Test, 1 Alert, 2 Update, 3 All Clear
 *    26   9  A2  country/region (111 Japan)
 *    35   5  A3  provider (Japan: 1 FMMC/L-Alert, 2 FDMA, 3 Related
 *                Ministries, 4 Local Government)
 *    40   7  A4  hazard category and type (8 Missile attack, 113 Test alert)
 *    47   2  A5  severity   49 1 A6 onset week   50 14 A7 onset minute of week
 *    64   2  A8  duration   66 1 A9 library type  67 3 A10 library version
 *    70  10  A11 guidance instruction (Japanese library: 128..136 J-ALERT)
 *   146  16  EX1 target municipality (L-Alert, local government)
 *   146   1  EX8 J-Alert target list type: 0 prefectures, 1 municipalities
 *   147  64  EX9 J-Alert targets: the top 47 bits are prefectures, Okinawa
 *              first and Hokkaido last (bit 46 from the right = JIS 47);
 *              or four 16-bit municipality codes
 *   214   6  VN  version   220 6 reserved   226 24 CRC-24Q over bits 0..225
 *
 * Municipality codes are JIS X 0402 without the check digit (札幌市中央区
 * 01101 -> 1101), so the prefecture is code / 1000.  This is inferred from
 * the codes in the real log (1101, 13101, 27100, 47201 are the wards and
 * cities FEEDS.md names) and azarashi's table, not from the specification.
 *
 * Which messages become events:
 *   J-Alert (A2 = 111, A3 = 2 or 3)             -> ANPI_EV_MISSILE, always;
 *   L-Alert / local government with a civil-protection hazard (A4 1..12
 *   CBRNE except 13 siren test, 98..103 SECURITY) -> ANPI_EV_MISSILE;
 *   everything else (null messages, L-Alert evacuation for weather, other
 *   countries, DC Reports) -> no event (JMA data comes from JMA XML).
 *
 * Event fields:
 *   status      A1 = 0 Test or A4 = 113 Test alert -> TEST; else ACTUAL.
 *               So a broadcast drill never reaches rules for real alerts.
 *   info_type   A1 1 Alert -> ISSUE, 2 Update -> CORRECTION,
 *               3 All Clear -> CANCEL, 0 Test -> ISSUE.  J-ALERT sends its
 *               all-clear texts (A11 129-131, 135) as Alert; they stay ISSUE
 *               and the phase says all clear.
 *   phase       A11 (Japanese library, A9 = 1, A10 = 0): 128 LAUNCH,
 *               132 IMMINENT, 134 IMPACT, 133 INTERCEPTION, 129 OVERFLIGHT,
 *               130 IMPACT_OUTSIDE (海に落下), 131/135 ALL_CLEAR (飛来しない/
 *               落下しない), 136 NONE (test).  Without one of these: A1 = 3
 *               -> ALL_CLEAR; A4 = 8 -> LAUNCH (CAMF defines the hazard as
 *               "Missile launch."); A4 = 113 -> NONE; else OTHER.
 *   target_prefs EX9 prefecture bits, or the prefectures of the EX9/EX1
 *               municipalities; none for an L-Alert that targets an ellipse
 *               (A12..A16 set: EX1 is then unused, as azarashi reads it).
 *   doc_id      "dcx:" + the hex of bits 24..219 (CAMF, extended message and
 *               version: 196 bits, 49 digits).  Preamble (rotates by
 *               subframe), satellite designation, the 6 reserved bits 220..225
 *               (they change between retransmissions in the real log) and the
 *               CRC are left out, so identical broadcasts are one event; the
 *               retransmissions inside a document are dropped on this key.
 *   event_key   "dcx:<A2>-<A3>-<A4>-<A6>.<A7>", plus "-<EX1>" for L-Alert and
 *               local government.  A2+A3+A4 (+EX1) is the alert identity an
 *               Update or All Clear keeps (IS-QZSS-DCX as summarised in
 *               azarashi DCX-fix.md §14); the broadcast has no message
 *               identifier.  The onset minute of the week narrows it: the
 *               engine sends once per rule and event_key, so a key shared by
 *               two launches a week apart would silence the second.  Test
 *               blocks sent in one minute for several regions share a key
 *               (one incident that gains prefectures).  A launch (FDMA) and
 *               the impact message (Related Ministries) differ in A3, so they
 *               are different keys; linking them is the incident grouping's
 *               job.
 *   title       "Jアラート: <A4 hazard>" (Lアラート / 自治体 for the others);
 *   headline, description  the A11 guidance text (Japanese), "" when none;
 *   hazard      A4 hazard type name (English, CAMF); info_kind the provider.
 *   issued_at, occurred_at  0: a $QZQSM sentence carries no date, and A6/A7
 *               (minute of the week) needs the reception date to resolve, so
 *               the engine's receive time is used. */
#include "feeds/qzss/dcx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "engine/log.h"

#define HEX_DIGITS 63   /* 250 bits + 2 padding bits */

static void ANPI_PRINTF(3, 4)
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- bits --------------------------------------------------------------- */

static uint64_t
bits(const uint8_t *msg, unsigned start, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = start; i < start + n; i++)
        v = (v << 1) | (uint64_t)((msg[i / 8] >> (7 - i % 8)) & 1u);
    return v;
}

uint32_t
anpi_qzss_crc24q(const uint8_t *msg, size_t nbits)
{
    uint32_t crc = 0;
    for (size_t i = 0; i < nbits; i++) {
        uint32_t bit = (uint32_t)(msg[i / 8] >> (7 - i % 8)) & 1u;
        crc ^= bit << 23;
        crc <<= 1;
        if (crc & 0x1000000u)
            crc ^= 0x1864CFBu;
    }
    return crc & 0xFFFFFFu;
}

unsigned
anpi_qzss_nmea_checksum(const char *s, size_t n)
{
    unsigned cs = 0;
    for (size_t i = 0; i < n; i++)
        cs ^= (unsigned char)s[i];
    return cs;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ---- CAMF tables -------------------------------------------------------- */

/* A4 hazard types anpi names; the rest are named by category. */
static const struct { unsigned code; const char *name; } hazard_names[] = {
    { 1, "Air strike" }, { 2, "Attack on IT systems" },
    { 3, "Attack with nuclear weapons" }, { 4, "Biological hazard" },
    { 5, "Chemical hazard" }, { 6, "Explosive hazard" }, { 7, "Meteorite impact" },
    { 8, "Missile attack" }, { 9, "Nuclear hazard" },
    { 10, "Nuclear power station accident" }, { 11, "Radiological hazard" },
    { 12, "Satellite/space re-entry debris" }, { 13, "Siren test" },
    { 36, "Earthquake" }, { 44, "Tsunami" }, { 46, "Volcano eruption" }, { 68, "Flood" },
    { 74, "Rainfall" }, { 82, "Tropical cyclone (typhoon)" },
    { 93, "Missing person / abduction" }, { 95, "Safety warning" },
    { 96, "Undefined flying object" },
    { 98, "Chemical attack" }, { 99, "Guerrilla attack" }, { 100, "Hijack" },
    { 101, "Shooting or danger due to weapons" }, { 102, "Special forces attack" },
    { 103, "Terrorism" }, { 113, "Test alert" },
};

static const char *
hazard_category(unsigned a4)
{
    static const struct { unsigned last; const char *name; } cats[] = {
        { 13, "CBRNE" }, { 23, "ENVIRONMENT" }, { 31, "FIRE" }, { 47, "GEO" },
        { 53, "HEALTH" }, { 60, "INFRASTRUCTURE" }, { 82, "MET" }, { 87, "RESCUE" },
        { 97, "SAFETY" }, { 103, "SECURITY" }, { 112, "TRANSPORT" }, { 113, "OTHER" },
    };
    if (a4 == 0)
        return "UNDEFINED";
    for (size_t i = 0; i < ANPI_ARRAY_LEN(cats); i++)
        if (a4 <= cats[i].last)
            return cats[i].name;
    return "UNDEFINED";
}

static char *
hazard_name(unsigned a4)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(hazard_names); i++)
        if (hazard_names[i].code == a4)
            return anpi_xstrdup(hazard_names[i].name);
    return anpi_xasprintf("%s hazard type %u", hazard_category(a4), a4);
}

/* J-ALERT guidance of the Japanese library (A11), FEEDS.md §2.2. */
static const struct {
    unsigned code;
    enum anpi_missile_phase phase;
    const char *text;
} guidance[] = {
    { 128, ANPI_MS_LAUNCH, "ミサイル発射。ミサイル発射。ミサイルが発射されたものとみられます。"
                           "建物の中、又は地下に避難して下さい。" },
    { 129, ANPI_MS_OVERFLIGHT, "ミサイル通過。ミサイル通過。先程のミサイルは通過したものとみられます。"
                               "避難の呼びかけを解除します。不審なものには決して近寄らず直ちに警察や"
                               "消防などに連絡して下さい。" },
    { 130, ANPI_MS_IMPACT_OUTSIDE, "先程のミサイルは、海に落下したものとみられます。"
                                   "避難の呼びかけを解除します。不審なものには決して近寄らず直ちに"
                                   "警察や消防などに連絡して下さい。" },
    { 131, ANPI_MS_ALL_CLEAR, "先程のミサイルは、我が国には飛来しないものとみられます。"
                              "避難の呼びかけを解除します。" },
    { 132, ANPI_MS_IMMINENT, "直ちに避難。直ちに避難。直ちに建物の中、又は地下に避難して下さい。"
                             "ミサイルが、周辺に落下するものとみられます。直ちに避難して下さい。" },
    { 133, ANPI_MS_INTERCEPTION, "先程のミサイルは、迎撃により破壊されました。ミサイルの破片の落下の"
                                 "可能性があります。続報を伝達しますので、引き続き屋内に避難して下さい。" },
    { 134, ANPI_MS_IMPACT, "ミサイル落下。ミサイル落下。ミサイルが、周辺に落下したものとみられます。"
                           "続報を伝達しますので、引き続き屋内に避難して下さい。" },
    { 135, ANPI_MS_ALL_CLEAR, "先程のミサイルは、我が国には落下しないものとみられます。"
                              "避難の呼びかけを解除します。" },
    { 136, ANPI_MS_NONE, "これは、Jアラートのテストです。" },
    { 1, ANPI_MS_NONE, "直ちに命を守るための最善の行動を。" },
    { 126, ANPI_MS_NONE, "これは、DCX のテストです。" },
    { 127, ANPI_MS_NONE, "直ちに命を守るための最善の行動を。" },
    { 255, ANPI_MS_NONE, "直ちに命を守るための最善の行動を。" },
};

static const char *const provider_ja[] = { "", "FMMC (Lアラート)", "消防庁", "関係省庁", "地方公共団体" };

/* ---- decoding ----------------------------------------------------------- */

int
anpi_qzss_decode(const uint8_t msg[ANPI_QZSS_MSG_BYTES], struct anpi_dcx_msg *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->preamble = msg[0];
    if (msg[0] != 0x53 && msg[0] != 0x9A && msg[0] != 0xC6) {
        set_err(err, errlen, "preamble 0x%02X is not an L1S preamble (53/9A/C6)", msg[0]);
        return ANPI_EPARSE;
    }
    uint32_t want = (uint32_t)bits(msg, 226, 24), got = anpi_qzss_crc24q(msg, 226);
    if (want != got) {
        set_err(err, errlen, "CRC-24Q mismatch: message says %06X, computed %06X", want, got);
        return ANPI_EPARSE;
    }
    out->mt = (unsigned)bits(msg, 8, 6);
    if (out->mt != 44)
        return ANPI_OK;
    out->a1 = (unsigned)bits(msg, 24, 2);
    out->a2 = (unsigned)bits(msg, 26, 9);
    out->a3 = (unsigned)bits(msg, 35, 5);
    out->a4 = (unsigned)bits(msg, 40, 7);
    out->a5 = (unsigned)bits(msg, 47, 2);
    out->a6 = (unsigned)bits(msg, 49, 1);
    out->a7 = (unsigned)bits(msg, 50, 14);
    out->a8 = (unsigned)bits(msg, 64, 2);
    out->a9 = (unsigned)bits(msg, 66, 1);
    out->a10 = (unsigned)bits(msg, 67, 3);
    out->a11 = (unsigned)bits(msg, 70, 10);
    out->ellipse = bits(msg, 80, 49);
    out->ex1 = (unsigned)bits(msg, 146, 16);
    out->ex8 = (unsigned)bits(msg, 146, 1);
    out->vn = (unsigned)bits(msg, 214, 6);
    if (out->ex8 == 0) {
        uint64_t p = bits(msg, 147, 47);
        for (unsigned b = 0; b < ANPI_PREF_COUNT; b++)
            if (p >> b & 1u)
                out->prefs |= ANPI_PREFSET_BIT(b + 1);
    } else {
        for (unsigned i = 0; i < 4; i++)
            out->munis[i] = (unsigned)bits(msg, 147 + i * 16, 16);
    }

    /* Null message: everything after the country is zero (A2 stays 111). */
    int null = bits(msg, 24, 2) == 0;
    for (unsigned i = 35; null && i < 220; i += 32) {
        unsigned n = 220 - i < 32 ? 220 - i : 32;
        null = bits(msg, i, n) == 0;
    }
    if (null)
        out->kind = ANPI_DCX_NULL;
    else if (out->a2 != 111)
        out->kind = ANPI_DCX_OUTSIDE_JAPAN;
    else if (out->a3 == 1)
        out->kind = ANPI_DCX_L_ALERT;
    else if (out->a3 == 2 || out->a3 == 3)
        out->kind = ANPI_DCX_J_ALERT;
    else if (out->a3 == 4)
        out->kind = ANPI_DCX_LOCAL_GOV;
    else
        out->kind = ANPI_DCX_UNKNOWN;
    return ANPI_OK;
}

/* Civil-protection hazards: CBRNE except the siren test, and SECURITY. */
static int
civil_protection(unsigned a4)
{
    return (a4 >= 1 && a4 <= 12) || (a4 >= 98 && a4 <= 103);
}

static int
muni_pref(unsigned code)
{
    unsigned p = code / 1000;
    return code != 0 && p >= 1 && p <= ANPI_PREF_COUNT ? (int)p : 0;
}

static void
fill_empty(struct anpi_event *ev)
{
    char **f[] = { &ev->source, &ev->doc_id, &ev->kind, &ev->event_key, &ev->serial,
                   &ev->title, &ev->headline, &ev->info_kind, &ev->magnitude_text,
                   &ev->hypocenter, &ev->hypocenter_code, &ev->description, &ev->url,
                   &ev->typhoon_name, &ev->typhoon_class, &ev->hazard, &ev->risk_kind };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(f); i++)
        if (!*f[i])
            *f[i] = anpi_xstrdup("");
}

/* The event for a decoded message, or NULL when it is not one anpi acts on.
 * content_hex: bits 24..219 as hex (the doc_id key). */
static struct anpi_event *
to_event(const struct anpi_dcx_msg *m, const char *content_hex)
{
    if (m->kind == ANPI_DCX_J_ALERT) {
        /* every J-ALERT message is civil protection */
    } else if (m->kind == ANPI_DCX_L_ALERT || m->kind == ANPI_DCX_LOCAL_GOV) {
        if (!civil_protection(m->a4))
            return NULL;
    } else {
        return NULL;
    }
    struct anpi_event *ev = anpi_event_new();
    ev->type = ANPI_EV_MISSILE;
    ev->source = anpi_xstrdup("qzss");
    ev->kind = anpi_xstrdup("MT44");
    ev->doc_id = anpi_xasprintf("dcx:%s", content_hex);
    ev->status = (m->a1 == 0 || m->a4 == 113) ? ANPI_ST_TEST : ANPI_ST_ACTUAL;
    ev->info_type = m->a1 == 2 ? ANPI_IT_CORRECTION : m->a1 == 3 ? ANPI_IT_CANCEL : ANPI_IT_ISSUE;
    ev->hazard = hazard_name(m->a4);

    const char *text = "";
    int have_phase = 0;
    if (m->a9 == 1 && m->a10 == 0 && m->a2 == 111) {   /* Japanese library, version 1 */
        for (size_t i = 0; i < ANPI_ARRAY_LEN(guidance); i++) {
            if (guidance[i].code == m->a11) {
                text = guidance[i].text;
                if (m->a11 >= 128 && m->a11 <= 136) {
                    ev->missile_phase = guidance[i].phase;
                    have_phase = 1;
                }
                break;
            }
        }
    }
    if (!have_phase) {
        if (m->a1 == 3)
            ev->missile_phase = ANPI_MS_ALL_CLEAR;
        else if (m->a4 == 8)
            ev->missile_phase = ANPI_MS_LAUNCH;
        else if (m->a4 == 113)
            ev->missile_phase = ANPI_MS_NONE;
        else
            ev->missile_phase = ANPI_MS_OTHER;
    }
    ev->headline = anpi_xstrdup(text);
    ev->description = anpi_xstrdup(text);
    ev->info_kind = anpi_xstrdup(m->a3 < ANPI_ARRAY_LEN(provider_ja) ? provider_ja[m->a3] : "");
    const char *channel = m->kind == ANPI_DCX_J_ALERT ? "Jアラート"
                          : m->kind == ANPI_DCX_L_ALERT ? "Lアラート" : "自治体";
    ev->title = anpi_xasprintf("%s: %s", channel, ev->hazard);

    if (m->kind == ANPI_DCX_J_ALERT && m->ex8 == 0) {
        ev->target_prefs = m->prefs;
    } else if (m->kind == ANPI_DCX_J_ALERT) {
        for (unsigned i = 0; i < 4; i++) {
            int p = muni_pref(m->munis[i]);
            if (p)
                ev->target_prefs |= ANPI_PREFSET_BIT(p);
        }
    } else if (!(m->kind == ANPI_DCX_L_ALERT && m->ellipse)) {
        /* An L-Alert with a target ellipse (A12..A16) leaves EX1 unused;
         * turning coordinates into prefectures is not done here. */
        int p = muni_pref(m->ex1);
        if (p)
            ev->target_prefs = ANPI_PREFSET_BIT(p);
    }
    if (m->kind == ANPI_DCX_J_ALERT)
        ev->event_key = anpi_xasprintf("dcx:%u-%u-%u-%u.%u", m->a2, m->a3, m->a4, m->a6, m->a7);
    else
        ev->event_key = anpi_xasprintf("dcx:%u-%u-%u-%u.%u-%u", m->a2, m->a3, m->a4, m->a6,
                                       m->a7, m->ex1);
    fill_empty(ev);
    return ev;
}

/* ---- the document ------------------------------------------------------- */

#define KEY_BITS  196   /* bits 24..219 */
#define KEY_BYTES 25

/* Open-addressing set of message contents (bits 24..219). */
struct seen_set {
    size_t cap, n;
    uint8_t (*key)[KEY_BYTES];
    uint8_t *used;
};

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* 1 when key was already in the set, else adds it and returns 0. */
static int
seen_add(struct seen_set *s, const uint8_t key[KEY_BYTES])
{
    if ((s->n + 1) * 2 > s->cap) {
        struct seen_set bigger = { s->cap ? s->cap * 2 : 64, 0, NULL, NULL };
        bigger.key = anpi_xcalloc(bigger.cap, sizeof(*bigger.key));
        bigger.used = anpi_xcalloc(bigger.cap, 1);
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i])
                seen_add(&bigger, s->key[i]);
        free(s->key);
        free(s->used);
        *s = bigger;
    }
    size_t i = (size_t)(fnv1a(key, KEY_BYTES) & (s->cap - 1));
    while (s->used[i]) {
        if (memcmp(s->key[i], key, KEY_BYTES) == 0)
            return 1;
        i = (i + 1) & (s->cap - 1);
    }
    s->used[i] = 1;
    memcpy(s->key[i], key, KEY_BYTES);
    s->n++;
    return 0;
}

/* Bits 24..219 of msg, left-aligned (the last 4 bits of key zero). */
static void
content_of(const uint8_t msg[ANPI_QZSS_MSG_BYTES], uint8_t key[KEY_BYTES])
{
    memset(key, 0, KEY_BYTES);
    for (unsigned i = 0; i < KEY_BITS; i++)
        if ((msg[(i + 24) / 8] >> (7 - (i + 24) % 8)) & 1u)
            key[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

static void
content_hex(const uint8_t key[KEY_BYTES], char out[KEY_BITS / 4 + 1])
{
    static const char digits[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < KEY_BITS / 4; i++) {
        unsigned nib = i % 2 == 0 ? key[i / 2] >> 4 : key[i / 2] & 0xFu;
        out[i] = digits[nib];
    }
    out[KEY_BITS / 4] = '\0';
}

enum sentence_result { S_OK, S_MALFORMED, S_CHECKSUM };

/* "$QZQSM,svid,hex*CS" (without line end) -> msg. */
static enum sentence_result
read_sentence(const char *line, size_t n, uint8_t msg[ANPI_QZSS_MSG_BYTES])
{
    const char *star = memchr(line, '*', n);
    if (!star || (size_t)(line + n - star) != 3)
        return S_MALFORMED;
    int h = hexval(star[1]), l = hexval(star[2]);
    if (h < 0 || l < 0)
        return S_MALFORMED;
    const char *p = line + 7;   /* after "$QZQSM," */
    size_t svid_len = 0;
    while (p + svid_len < star && p[svid_len] >= '0' && p[svid_len] <= '9')
        svid_len++;
    if (svid_len == 0 || svid_len > 3 || p + svid_len >= star || p[svid_len] != ',')
        return S_MALFORMED;
    const char *hex = p + svid_len + 1;
    if (star - hex != HEX_DIGITS)
        return S_MALFORMED;
    memset(msg, 0, ANPI_QZSS_MSG_BYTES);
    for (int i = 0; i < HEX_DIGITS; i++) {
        int v = hexval(hex[i]);
        if (v < 0)
            return S_MALFORMED;
        msg[i / 2] |= (uint8_t)(i % 2 == 0 ? v << 4 : v);
    }
    if (anpi_qzss_nmea_checksum(line + 1, (size_t)(star - line - 1)) != (unsigned)(h * 16 + l))
        return S_CHECKSUM;
    return S_OK;
}

int
anpi_qzss_parse_stats(const char *doc, size_t len, struct anpi_event_list *out,
                      struct anpi_qzss_stats *stats, char *err, size_t errlen)
{
    struct anpi_qzss_stats st = { 0 };
    set_err(err, errlen, "%s", "");
    if (stats)
        *stats = st;
    if (!doc) {
        set_err(err, errlen, "no document");
        return ANPI_EPARSE;
    }
    if (len > ANPI_QZSS_MAX_DOC) {
        set_err(err, errlen, "document is %zu bytes, over the %u byte limit", len,
                ANPI_QZSS_MAX_DOC);
        return ANPI_ETOOBIG;
    }
    struct anpi_event_list got = { 0 };
    struct seen_set seen = { 0 };
    size_t lineno = 0, first_bad_line = 0, valid = 0;
    int rc = ANPI_OK;
    const char *bad_why = "";
    for (size_t pos = 0; pos < len;) {
        const char *line = doc + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n < 7 || memcmp(line, "$QZQSM,", 7) != 0)
            continue;   /* other NMEA sentences and noise */
        st.sentences++;
        uint8_t msg[ANPI_QZSS_MSG_BYTES];
        enum sentence_result r = n > ANPI_QZSS_MAX_LINE ? S_MALFORMED : read_sentence(line, n, msg);
        if (r != S_OK) {
            if (r == S_MALFORMED)
                st.malformed++;
            else
                st.bad_checksum++;
            if (!first_bad_line) {
                first_bad_line = lineno;
                bad_why = r == S_MALFORMED ? "malformed sentence" : "NMEA checksum mismatch";
            }
            continue;
        }
        struct anpi_dcx_msg m;
        char why[96];
        if (anpi_qzss_decode(msg, &m, why, sizeof(why)) != ANPI_OK) {
            st.bad_frame++;
            if (!first_bad_line) {
                first_bad_line = lineno;
                bad_why = "bad L1S frame (preamble or CRC-24Q)";
            }
            continue;
        }
        valid++;
        if (m.mt == 43) {
            st.dcr++;
            continue;
        }
        if (m.mt != 44) {
            st.other_mt++;
            continue;
        }
        st.dcx++;
        uint8_t key[KEY_BYTES];
        content_of(msg, key);
        if (seen_add(&seen, key)) {
            st.duplicates++;
            continue;
        }
        char hex[KEY_BITS / 4 + 1];
        content_hex(key, hex);
        struct anpi_event *ev = to_event(&m, hex);
        if (!ev)
            continue;
        if (got.n >= ANPI_QZSS_MAX_EVENTS) {
            anpi_event_free(ev);
            set_err(err, errlen, "line %zu: more than %u distinct DCX messages in one document",
                    lineno, ANPI_QZSS_MAX_EVENTS);
            rc = ANPI_ETOOBIG;
            break;
        }
        anpi_event_list_push(&got, ev);
    }
    free(seen.key);
    free(seen.used);
    if (rc == ANPI_OK && st.sentences > 0 && valid == 0) {
        set_err(err, errlen,
                "none of %zu $QZQSM sentences is valid (%zu malformed, %zu bad checksum, "
                "%zu bad frame); first at line %zu: %s",
                st.sentences, st.malformed, st.bad_checksum, st.bad_frame, first_bad_line,
                bad_why);
        rc = ANPI_EPARSE;
    }
    if (rc != ANPI_OK) {
        anpi_event_list_free(&got);
        return rc;
    }
    st.events = got.n;
    for (size_t i = 0; i < got.n; i++)
        anpi_event_list_push(out, got.ev[i]);
    free(got.ev);
    if (stats)
        *stats = st;
    return ANPI_OK;
}

int
anpi_qzss_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                size_t errlen)
{
    struct anpi_qzss_stats st;
    int rc = anpi_qzss_parse_stats(doc, len, out, &st, err, errlen);
    if (rc == ANPI_OK && (st.malformed || st.bad_checksum || st.bad_frame))
        anpi_warn(ANPI_LG_FEED,
                  "qzss: skipped %zu of %zu $QZQSM sentences (%zu malformed, %zu bad checksum, "
                  "%zu bad frame)",
                  st.malformed + st.bad_checksum + st.bad_frame, st.sentences, st.malformed,
                  st.bad_checksum, st.bad_frame);
    return rc;
}
