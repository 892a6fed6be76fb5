/* cap.c - OASIS CAP 1.2 -> events, for missile / civil-protection alerts.
 *
 * Hostile input, handled as the JMA parser does: size cap (10 MiB) before
 * libxml2 sees the document; NONET; no NOENT/DTDLOAD/DTDVALID/HUGE; any
 * DOCTYPE stops the parse from the SAX internalSubset hook before an entity
 * declaration is read; libxml2's depth limit applies.  Elements are matched
 * by namespace URI (urn:oasis:names:tc:emergency:cap:1.2) and local name.
 *
 * Mapping (FEEDS.md §2.4):
 *   alert/identifier, sender, sent, status, msgType   required
 *   doc_id      "<sender>,<identifier>,<sent>" (the CAP reference form);
 *               "#<n>" appended for the n-th <info> when n > 1
 *   status      Actual -> ACTUAL, Exercise -> EXERCISE,
 *               Test / System / Draft -> TEST (never reaches real rules)
 *   info_type   msgType Alert -> ISSUE, Update -> ISSUE (the next report on
 *               the same launch: a new phase such as 落下 or 解除 is news, not
 *               a correction of the earlier text; event_key joins it to the
 *               launch), Cancel -> CANCEL; Ack and Error carry no alert:
 *               0 events
 *   event_key   the identifier of the first <references> entry (the launch
 *               this message belongs to); a first Alert's own identifier
 *   issued_at, created_at  sent;  occurred_at  info/onset, else effective;
 *   valid_until info/expires (all with their UTC offsets)
 *   type        ANPI_EV_MISSILE when info/category is Security or CBRNE, or
 *               info/event names ミサイル / 弾道 / 国民保護 / missile;
 *               any other info -> ANPI_EV_UNKNOWN with the head fields only
 *               (the engine stores it; no missile rule matches it)
 *   missile_phase  first of: a parameter named missile_phase/phase holding
 *               an anpi phase name; parameter A11 (the DCX J-ALERT guidance
 *               code 128..135); info/event text; other parameter values;
 *               msgType Cancel -> ALL_CLEAR; a missile text without a phase
 *               word -> LAUNCH (the first phase: alert rather than miss it).
 *               Words, checked in this order so that "落下しない" is not an
 *               impact and "直ちに避難 ... 落下する" is not one either:
 *               解除/飛来しない/落下しない/all clear -> ALL_CLEAR,
 *               迎撃/intercept -> INTERCEPTION,
 *               領海外/EEZ/排他的経済水域/海に落下/outside -> IMPACT_OUTSIDE,
 *               通過/overfl/passed over -> OVERFLIGHT,
 *               直ちに避難/落下のおそれ/imminent/shelter immediately -> IMMINENT,
 *               落下/impact/landed/fell -> IMPACT,  発射/launch -> LAUNCH.
 *   target_prefs  area/geocode valueName "JIS X 0401" (also JISX0401,
 *               JIS_X_0401, prefecture, pref, 都道府県コード; case, spaces,
 *               '_' and '-' ignored) with values 01..47; "JIS X 0402"
 *               municipality codes give their prefecture; an area without
 *               such a geocode is read by areaDesc prefecture names
 *               (北海道 ... 沖縄県, 全国 = all).  An info with no <area> is an
 *               error ("CAP info 1 has no area: target prefectures unknown"),
 *               as is a missile info whose areas name no prefecture or a bad
 *               prefecture code: without targets nobody can be reached, and
 *               the error shows in feed health.
 *   title, hazard  info/event;  headline  info/headline;
 *   description info/description, then info/instruction;  url  info/web;
 *   info_kind   the categories, comma-separated;  kind "CAP".
 *   Languages: CAP repeats an alert as one <info> per language.  Only the
 *   infos in the language of the first info become events (a translation
 *   is the same alert, not a second one). */
#include "feeds/cap/cap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "engine/anpi.h"
#include "feeds/jma/iso8601.h"
#include "feeds/xmlsafe.h"

#define NS ANPI_CAP_NS

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

/* ---- DOM helpers -------------------------------------------------------- */

static int
is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 &&
           n->ns && n->ns->href && strcmp((const char *)n->ns->href, NS) == 0;
}

static xmlNode *
child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (is_elem(n, name))
            return n;
    return NULL;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trimmed text of the element, a new string; NULL when n is NULL. */
static char *
text_of(const xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *c = xmlNodeGetContent(n);
    if (!c)
        return anpi_xstrdup("");
    const char *s = (const char *)c;
    while (is_space(*s))
        s++;
    size_t len = strlen(s);
    while (len && is_space(s[len - 1]))
        len--;
    char *r = anpi_xstrndup(s, len);
    xmlFree(c);
    return r;
}

static char *
child_text(const xmlNode *parent, const char *name)
{
    return text_of(child(parent, name));
}

/* ---- prefectures -------------------------------------------------------- */

static const char *const pref_names[ANPI_PREF_COUNT + 1] = {
    "",
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県",
    "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県",
    "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県",
    "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
};

static anpi_prefset
prefs_in_text(const char *s)
{
    anpi_prefset set = 0;
    if (strstr(s, "全国")) {
        for (int c = 1; c <= ANPI_PREF_COUNT; c++)
            set |= ANPI_PREFSET_BIT(c);
        return set;
    }
    for (int c = 1; c <= ANPI_PREF_COUNT; c++)
        if (strstr(s, pref_names[c]))
            set |= ANPI_PREFSET_BIT(c);
    return set;
}

/* valueName with case, spaces, '_' and '-' dropped. */
static void
norm_name(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *s && n + 1 < outlen; s++) {
        char c = *s;
        if (c == ' ' || c == '_' || c == '-' || c == '\t')
            continue;
        out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

enum geo_kind { GEO_OTHER, GEO_PREF, GEO_MUNI };

static enum geo_kind
geocode_kind(const char *value_name)
{
    char n[64];
    norm_name(value_name, n, sizeof(n));
    if (strcmp(n, "jisx0401") == 0 || strcmp(n, "prefecture") == 0 || strcmp(n, "pref") == 0 ||
        strcmp(n, "prefcode") == 0 || strcmp(n, "prefecturecode") == 0 ||
        strcmp(n, "都道府県コード") == 0)
        return GEO_PREF;
    if (strcmp(n, "jisx0402") == 0 || strcmp(n, "municipality") == 0 ||
        strcmp(n, "municipalitycode") == 0 || strcmp(n, "市区町村コード") == 0)
        return GEO_MUNI;
    return GEO_OTHER;
}

/* "01".."47" (or "1".."47") -> code; 5/6-digit municipality -> its prefecture. */
static int
geocode_pref(enum geo_kind k, const char *v)
{
    int64_t code;
    size_t len = strlen(v);
    if (k == GEO_PREF) {
        if (len < 1 || len > 2 || anpi_parse_int64(v, 1, ANPI_PREF_COUNT, &code) != 0)
            return 0;
        return (int)code;
    }
    if ((len != 5 && len != 6) || anpi_parse_int64(v, 0, 999999, &code) != 0)
        return 0;
    int64_t p = len == 5 ? code / 1000 : code / 10000;
    return p >= 1 && p <= ANPI_PREF_COUNT ? (int)p : 0;
}

/* ---- phase -------------------------------------------------------------- */

static const struct {
    enum anpi_missile_phase phase;
    const char *words[8];
} phase_words[] = {
    { ANPI_MS_ALL_CLEAR, { "解除", "飛来しない", "落下しない", "all clear", "all-clear", "allclear",
                           "will not reach", NULL } },
    { ANPI_MS_INTERCEPTION, { "迎撃", "intercept", NULL } },
    { ANPI_MS_IMPACT_OUTSIDE, { "領海外", "eez", "排他的経済水域", "海に落下", "outside", NULL } },
    { ANPI_MS_OVERFLIGHT, { "通過", "overfl", "passed over", "passing over", NULL } },
    { ANPI_MS_IMMINENT, { "直ちに避難", "落下のおそれ", "imminent", "shelter immediately", NULL } },
    { ANPI_MS_IMPACT, { "落下", "impact", "landed", "fell", NULL } },
    { ANPI_MS_LAUNCH, { "発射", "launch", NULL } },
};

enum anpi_missile_phase
anpi_cap_phase_from_text(const char *s)
{
    if (!s)
        return ANPI_MS_NONE;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(phase_words); i++)
        for (size_t w = 0; phase_words[i].words[w]; w++)
            if (strcasestr(s, phase_words[i].words[w]))
                return phase_words[i].phase;
    return ANPI_MS_NONE;
}

/* DCX / J-ALERT guidance codes (FEEDS.md §2.2) carried as CAP parameter A11. */
static enum anpi_missile_phase
phase_from_a11(const char *v)
{
    int64_t c;
    if (anpi_parse_int64(v, 0, 1023, &c) != 0)
        return ANPI_MS_NONE;
    switch (c) {
    case 128: return ANPI_MS_LAUNCH;
    case 129: return ANPI_MS_OVERFLIGHT;
    case 130: return ANPI_MS_IMPACT_OUTSIDE;
    case 131: case 135: return ANPI_MS_ALL_CLEAR;
    case 132: return ANPI_MS_IMMINENT;
    case 133: return ANPI_MS_INTERCEPTION;
    case 134: return ANPI_MS_IMPACT;
    default: return ANPI_MS_NONE;
    }
}

static int
names_missile(const char *s)
{
    return s && (strstr(s, "ミサイル") || strstr(s, "弾道") || strstr(s, "国民保護") ||
                 strcasestr(s, "missile"));
}

/* ---- alert -------------------------------------------------------------- */

struct head {
    char *identifier, *sender, *sent_text, *key;
    int64_t sent;
    enum anpi_event_status status;
    enum anpi_info_type info_type;
};

static void
head_free(struct head *h)
{
    free(h->identifier);
    free(h->sender);
    free(h->sent_text);
    free(h->key);
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

static int
read_time(const xmlNode *info, const char *name, int idx, int64_t *out, char *err,
          size_t errlen)
{
    char *t = child_text(info, name);
    *out = 0;
    if (!t)
        return ANPI_OK;
    int rc = anpi_iso8601_parse(t, out);
    if (rc != 0)
        set_err(err, errlen, "CAP info %d <%s> '%.40s' is not a date-time with a UTC offset",
                idx, name, t);
    free(t);
    return rc == 0 ? ANPI_OK : ANPI_EPARSE;
}

/* Targets of one info. */
static int
read_areas(const xmlNode *info, int idx, int missile, anpi_prefset *out, char *err,
           size_t errlen)
{
    *out = 0;
    int narea = 0;
    char first_desc[64] = "";
    for (xmlNode *a = info->children; a; a = a->next) {
        if (!is_elem(a, "area"))
            continue;
        narea++;
        anpi_prefset set = 0;
        int coded = 0;
        for (xmlNode *g = a->children; g; g = g->next) {
            if (!is_elem(g, "geocode"))
                continue;
            char *vn = child_text(g, "valueName"), *v = child_text(g, "value");
            enum geo_kind k = vn ? geocode_kind(vn) : GEO_OTHER;
            int rc = ANPI_OK;
            if (k != GEO_OTHER) {
                int p = v ? geocode_pref(k, v) : 0;
                if (!p) {
                    set_err(err, errlen,
                            "CAP info %d area %d: geocode '%.40s' value '%.20s' is not a %s",
                            idx, narea, vn, v ? v : "", k == GEO_PREF
                                ? "prefecture code 01-47" : "municipality code of a prefecture");
                    rc = ANPI_EPARSE;
                } else {
                    set |= ANPI_PREFSET_BIT(p);
                    coded = 1;
                }
            }
            free(vn);
            free(v);
            if (rc != ANPI_OK)
                return rc;
        }
        if (!coded) {
            char *desc = child_text(a, "areaDesc");
            if (desc) {
                set = prefs_in_text(desc);
                if (!first_desc[0])
                    snprintf(first_desc, sizeof(first_desc), "%.60s", desc);
            }
            free(desc);
        }
        *out |= set;
    }
    if (narea == 0) {
        set_err(err, errlen, "CAP info %d has no area: target prefectures unknown", idx);
        return ANPI_EPARSE;
    }
    if (missile && *out == 0) {
        set_err(err, errlen,
                "CAP info %d: no area names a prefecture (no JIS X 0401 geocode; areaDesc "
                "'%s'): target prefectures unknown", idx, first_desc);
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}

static int
read_info(const xmlNode *info, int idx, const struct head *h, struct anpi_event **out,
          char *err, size_t errlen)
{
    struct anpi_event *ev = anpi_event_new();
    int rc = ANPI_EPARSE;
    char *cats = NULL, *event = child_text(info, "event");
    if (!event || !*event) {
        set_err(err, errlen, "CAP info %d has no <event>", idx);
        goto out;
    }
    int missile = names_missile(event);
    for (xmlNode *c = info->children; c; c = c->next) {
        if (!is_elem(c, "category"))
            continue;
        char *t = text_of(c);
        if (strcasecmp(t, "Security") == 0 || strcasecmp(t, "CBRNE") == 0)
            missile = 1;
        char *joined = cats ? anpi_xasprintf("%s,%s", cats, t) : anpi_xstrdup(t);
        free(cats);
        free(t);
        cats = joined;
    }
    ev->type = missile ? ANPI_EV_MISSILE : ANPI_EV_UNKNOWN;
    ev->source = anpi_xstrdup("cap");
    ev->kind = anpi_xstrdup("CAP");
    ev->doc_id = idx > 1 ? anpi_xasprintf("%s,%s,%s#%d", h->sender, h->identifier, h->sent_text, idx)
                         : anpi_xasprintf("%s,%s,%s", h->sender, h->identifier, h->sent_text);
    ev->event_key = anpi_xstrdup(h->key);
    ev->status = h->status;
    ev->info_type = h->info_type;
    ev->issued_at = h->sent;
    ev->created_at = h->sent;
    ev->title = anpi_xstrdup(event);
    ev->hazard = event;
    event = NULL;
    ev->info_kind = cats ? cats : anpi_xstrdup("");
    cats = NULL;
    ev->headline = child_text(info, "headline");
    char *desc = child_text(info, "description"), *instr = child_text(info, "instruction");
    if (desc && *desc && instr && *instr)
        ev->description = anpi_xasprintf("%s\n%s", desc, instr);
    else
        ev->description = anpi_xstrdup(desc && *desc ? desc : instr ? instr : "");
    free(desc);
    free(instr);
    ev->url = child_text(info, "web");

    int64_t effective, onset;
    if ((rc = read_time(info, "effective", idx, &effective, err, errlen)) != ANPI_OK ||
        (rc = read_time(info, "onset", idx, &onset, err, errlen)) != ANPI_OK ||
        (rc = read_time(info, "expires", idx, &ev->valid_until, err, errlen)) != ANPI_OK)
        goto out;
    ev->occurred_at = onset ? onset : effective;

    if ((rc = read_areas(info, idx, missile, &ev->target_prefs, err, errlen)) != ANPI_OK)
        goto out;

    if (missile) {
        enum anpi_missile_phase named = ANPI_MS_NONE, a11 = ANPI_MS_NONE, other = ANPI_MS_NONE;
        for (xmlNode *p = info->children; p; p = p->next) {
            if (!is_elem(p, "parameter"))
                continue;
            char *vn = child_text(p, "valueName"), *v = child_text(p, "value");
            char n[64];
            norm_name(vn ? vn : "", n, sizeof(n));
            enum anpi_missile_phase ph;
            if (v && (strcmp(n, "missilephase") == 0 || strcmp(n, "phase") == 0) &&
                anpi_missile_phase_parse(v, &ph) == 0 && named == ANPI_MS_NONE)
                named = ph;
            else if (v && strcmp(n, "a11") == 0 && a11 == ANPI_MS_NONE)
                a11 = phase_from_a11(v);
            else if (v && other == ANPI_MS_NONE)
                other = anpi_cap_phase_from_text(v);
            free(vn);
            free(v);
        }
        enum anpi_missile_phase from_event = anpi_cap_phase_from_text(ev->hazard);
        if (named != ANPI_MS_NONE)
            ev->missile_phase = named;
        else if (a11 != ANPI_MS_NONE)
            ev->missile_phase = a11;
        else if (from_event != ANPI_MS_NONE)
            ev->missile_phase = from_event;
        else if (other != ANPI_MS_NONE)
            ev->missile_phase = other;
        else if (h->info_type == ANPI_IT_CANCEL)
            ev->missile_phase = ANPI_MS_ALL_CLEAR;
        else if (names_missile(ev->hazard))
            ev->missile_phase = ANPI_MS_LAUNCH;
        else
            ev->missile_phase = ANPI_MS_NONE;
    }
    fill_empty(ev);
    *out = ev;
    ev = NULL;
    rc = ANPI_OK;
out:
    free(event);
    free(cats);
    anpi_event_free(ev);
    return rc;
}

static int
read_head(const xmlNode *alert, struct head *h, int *skip, char *err, size_t errlen)
{
    static const char *const required[] = { "identifier", "sender", "sent", "status", "msgType" };
    char *v[ANPI_ARRAY_LEN(required)] = { 0 };
    int rc = ANPI_EPARSE;
    *skip = 0;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(required); i++) {
        v[i] = child_text(alert, required[i]);
        if (!v[i] || !*v[i]) {
            set_err(err, errlen, "CAP alert has no <%s>", required[i]);
            goto out;
        }
    }
    if (anpi_iso8601_parse(v[2], &h->sent) != 0) {
        set_err(err, errlen, "CAP <sent> '%.40s' is not a date-time with a UTC offset", v[2]);
        goto out;
    }
    const char *st = v[3], *mt = v[4];
    if (strcmp(st, "Actual") == 0)
        h->status = ANPI_ST_ACTUAL;
    else if (strcmp(st, "Exercise") == 0)
        h->status = ANPI_ST_EXERCISE;
    else if (strcmp(st, "Test") == 0 || strcmp(st, "System") == 0 || strcmp(st, "Draft") == 0)
        h->status = ANPI_ST_TEST;
    else {
        set_err(err, errlen, "CAP <status> '%.40s' is not Actual, Exercise, System, Test or Draft",
                st);
        goto out;
    }
    if (strcmp(mt, "Alert") == 0)
        h->info_type = ANPI_IT_ISSUE;
    else if (strcmp(mt, "Update") == 0)
        h->info_type = ANPI_IT_ISSUE;
    else if (strcmp(mt, "Cancel") == 0)
        h->info_type = ANPI_IT_CANCEL;
    else if (strcmp(mt, "Ack") == 0 || strcmp(mt, "Error") == 0)
        *skip = 1;
    else {
        set_err(err, errlen, "CAP <msgType> '%.40s' is not Alert, Update, Cancel, Ack or Error",
                mt);
        goto out;
    }

    /* references: "sender,identifier,sent" entries separated by whitespace */
    char *refs = child_text(alert, "references");
    if (refs && *refs) {
        size_t n = strcspn(refs, " \t\r\n");
        char *c1 = memchr(refs, ',', n);
        char *c2 = c1 ? memchr(c1 + 1, ',', n - (size_t)(c1 + 1 - refs)) : NULL;
        if (!c1 || !c2 || c2 == c1 + 1) {
            set_err(err, errlen, "CAP <references> entry 1 '%.*s' is not sender,identifier,sent",
                    (int)(n > 60 ? 60 : n), refs);
            free(refs);
            goto out;
        }
        h->key = anpi_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
    } else {
        h->key = anpi_xstrdup(v[0]);
    }
    free(refs);
    h->identifier = v[0];
    h->sender = v[1];
    h->sent_text = v[2];
    v[0] = v[1] = v[2] = NULL;
    rc = ANPI_OK;
out:
    for (size_t i = 0; i < ANPI_ARRAY_LEN(v); i++)
        free(v[i]);
    return rc;
}

static int
parse_alert(const xmlNode *alert, struct anpi_event_list *got, char *err, size_t errlen)
{
    struct head h = { 0 };
    int skip, rc = read_head(alert, &h, &skip, err, errlen);
    if (rc != ANPI_OK || skip) {
        head_free(&h);
        return rc;
    }
    int idx = 0;
    char *lang0 = NULL;
    for (xmlNode *info = alert->children; info; info = info->next) {
        if (!is_elem(info, "info"))
            continue;
        if (++idx > (int)ANPI_CAP_MAX_INFO) {
            set_err(err, errlen, "CAP alert has more than %u <info> blocks", ANPI_CAP_MAX_INFO);
            rc = ANPI_EPARSE;
            break;
        }
        char *lang = child_text(info, "language");
        if (!lang || !*lang) {
            free(lang);
            lang = anpi_xstrdup("en-US");    /* CAP 1.2 default */
        }
        if (!lang0) {
            lang0 = lang;
        } else {
            int same = strcasecmp(lang, lang0) == 0;
            free(lang);
            if (!same)
                continue;   /* a translation of an info already read */
        }
        struct anpi_event *ev = NULL;
        if ((rc = read_info(info, idx, &h, &ev, err, errlen)) != ANPI_OK)
            break;
        anpi_event_list_push(got, ev);
    }
    free(lang0);
    head_free(&h);
    return rc;
}

int
anpi_cap_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
               size_t errlen)
{
    set_err(err, errlen, "%s", "");
    xmlDocPtr xdoc;
    int rc = anpi_xmlsafe_load(doc, len, ANPI_CAP_MAX_DOC, "cap.xml", " in a CAP alert", &xdoc,
                               err, errlen);
    if (rc != ANPI_OK)
        return rc;
    rc = ANPI_EPARSE;
    struct anpi_event_list got = { 0 };
    const xmlNode *root = xmlDocGetRootElement(xdoc);
    if (!root || strcmp((const char *)root->name, "alert") != 0) {
        set_err(err, errlen, "root element is <%.40s>, not a CAP <alert>",
                root ? (const char *)root->name : "");
        goto out;
    }
    if (!is_elem(root, "alert")) {
        set_err(err, errlen, "alert in namespace '%.80s', expected CAP 1.2 '%s'",
                root->ns && root->ns->href ? (const char *)root->ns->href : "", NS);
        goto out;
    }
    rc = parse_alert(root, &got, err, errlen);
out:
    if (rc == ANPI_OK) {
        for (size_t i = 0; i < got.n; i++)
            anpi_event_list_push(out, got.ev[i]);
        free(got.ev);
    } else {
        anpi_event_list_free(&got);
    }
    xmlFreeDoc(xdoc);
    return rc;
}
