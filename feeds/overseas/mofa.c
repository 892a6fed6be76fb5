/* mofa.c - MOFA 海外安全情報オープンデータ -> struct anpi_event.
 *
 * Field mapping (one event per opendata/mail; FEEDS.md §3.1):
 *
 *   type         ANPI_EV_OVERSEAS
 *   source       "mofa"
 *   doc_id       keyCd "/" leaveDate as written ("2026T039/2026/03/31 00:00:00"):
 *                the same item in every later feed version keeps its id, an
 *                update of an item (new leaveDate) is a new event
 *   event_key    keyCd (領事メール: numeric; 危険情報 YYYYTnnn; スポット/広域 YYYYCnnn)
 *   risk_kind    infoType: T40 危険情報, T41 感染症危険情報, C30 スポット情報,
 *                C31 感染症スポット情報, C50 広域情報, C51 感染症広域情報,
 *                R10 領事メール(一般), R20 領事メール(緊急)
 *   info_kind    the Japanese name of infoType ("" when unknown)
 *   risk_level   highest N with riskLevelN true (1..4), 0 when no flag is set;
 *                flags: 1/Y true, 0/N/empty false (third-party feeds use Y/N);
 *                infectionLevelN are not risk levels and are not read
 *   title        title
 *   description  lead; when a country code has no entry in the country
 *                table the text ends with "\n\n(MOFA country code not mapped:
 *                NNNN, ...)" so the officer sees what was not matched
 *   hazard       contentInfo ("治安情勢 一般犯罪 誘拐 災害"), "" when absent
 *   url          infoUrl
 *   issued_at    leaveDate, JST (no zone in the feed)
 *   created_at   opendata@lastModified (JST) when readable, else leaveDate
 *   countries    every country/cd mapped through the MOFA code table
 *                (country.c), in document order, duplicates dropped
 *                (1000 米国 and 1808 ハワイ are both US)
 *   country      the first of countries, "" when none
 *   status       ANPI_ST_ACTUAL, info_type ANPI_IT_ISSUE (MOFA has no
 *                exercise or cancel marker)
 *
 * Not read: area/cd (the countries say more), xml*Url, koukanCd (embassy),
 * mapImageUrl, infectionLevelN.
 *
 * The document must start (after a BOM and blanks) with "<?xml" or
 * "<opendata" and have <opendata> as its root: MOFA answers maintenance and
 * unknown codes with an HTML page and HTTP 200. */
#include "feeds/overseas/mofa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/jma/iso8601.h"
#include "feeds/overseas/country.h"
#include "feeds/overseas/ovx.h"

#define MAX_COUNTRIES 400   /* a 広域情報 names ~200; more is not MOFA */
#define MAX_UNMAPPED_TEXT 512

static const struct {
    const char *code;
    const char *name;
} info_types[] = {
    { "T40", "危険情報" },
    { "T41", "感染症危険情報" },
    { "C30", "スポット情報" },
    { "C31", "感染症スポット情報" },
    { "C50", "広域情報" },
    { "C51", "感染症広域情報" },
    { "R10", "領事メール(一般)" },
    { "R20", "領事メール(緊急)" },
};

const char *
anpi_mofa_info_type_name(const char *info_type)
{
    for (size_t i = 0; info_type && i < ANPI_ARRAY_LEN(info_types); i++)
        if (strcmp(info_types[i].code, info_type) == 0)
            return info_types[i].name;
    return "";
}

static int
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
anpi_mofa_flag(const char *s)
{
    if (!s)
        return 0;
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && blank(s[n - 1]))
        n--;
    if (n == 0)
        return 0;
    if (n == 1 && (s[0] == '1' || s[0] == 'Y' || s[0] == 'y'))
        return 1;
    if (n == 1 && (s[0] == '0' || s[0] == 'N' || s[0] == 'n'))
        return 0;
    return -1;
}

static int
two(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

int
anpi_mofa_parse_time(const char *s, int64_t *out)
{
    if (!s)
        return ANPI_EPARSE;
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && blank(s[n - 1]))
        n--;
    /* "YYYY/MM/DD hh:mm" or "YYYY/MM/DD hh:mm:ss" */
    if (n != 16 && n != 19)
        return ANPI_EPARSE;
    int y1, y2, mo, d, h, mi, se = 0;
    if (two(s, &y1) || two(s + 2, &y2) || s[4] != '/' || two(s + 5, &mo) || s[7] != '/' ||
        two(s + 8, &d) || s[10] != ' ' || two(s + 11, &h) || s[13] != ':' || two(s + 14, &mi))
        return ANPI_EPARSE;
    if (n == 19 && (s[16] != ':' || two(s + 17, &se)))
        return ANPI_EPARSE;
    char iso[40];
    snprintf(iso, sizeof(iso), "%02d%02d-%02d-%02dT%02d:%02d:%02d+09:00", y1, y2, mo, d, h, mi, se);
    return anpi_iso8601_parse(iso, out) == 0 ? ANPI_OK : ANPI_EPARSE;
}

static void
add_country(struct anpi_event *ev, const char *a2)
{
    for (size_t i = 0; i < ev->ncountries; i++)
        if (strcmp(ev->countries[i], a2) == 0)
            return;
    ev->countries = anpi_xrealloc(ev->countries, (ev->ncountries + 1) * sizeof(*ev->countries));
    memcpy(ev->countries[ev->ncountries++], a2, 3);
    if (ev->country[0] == '\0')
        memcpy(ev->country, a2, 3);
}

/* Empty strings for every text field the mail does not fill, so that
 * consumers never meet NULL. */
static void
fill_empty(struct anpi_event *ev)
{
    char **f[] = { &ev->kind, &ev->serial, &ev->headline, &ev->magnitude_text, &ev->hypocenter,
                   &ev->hypocenter_code, &ev->typhoon_name, &ev->typhoon_class, &ev->hazard };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(f); i++)
        if (!*f[i])
            *f[i] = anpi_xstrdup("");
}

/* One <mail> -> event, or NULL (skipped, warning logged). */
static struct anpi_event *
parse_mail(const xmlNode *mail, int64_t last_modified)
{
    char *key = anpi_ovx_child_text(mail, NULL, "keyCd");
    char *leave = anpi_ovx_child_text(mail, NULL, "leaveDate");
    struct anpi_event *ev = NULL;
    int64_t issued;
    if (key[0] == '\0') {
        anpi_warn(ANPI_LG_FEED, "mofa: <mail> at line %ld has no keyCd; skipped",
                  (long)xmlGetLineNo(mail));
        goto out;
    }
    if (anpi_mofa_parse_time(leave, &issued) != 0) {
        anpi_warn(ANPI_LG_FEED, "mofa: <mail> %.40s at line %ld: leaveDate '%.40s' is not "
                  "YYYY/MM/DD hh:mm:ss; skipped", key, (long)xmlGetLineNo(mail), leave);
        goto out;
    }
    ev = anpi_event_new();
    ev->type = ANPI_EV_OVERSEAS;
    ev->status = ANPI_ST_ACTUAL;
    ev->info_type = ANPI_IT_ISSUE;
    ev->source = anpi_xstrdup("mofa");
    ev->doc_id = anpi_xasprintf("%s/%s", key, leave);
    ev->event_key = key;
    key = NULL;
    ev->issued_at = issued;
    ev->created_at = last_modified ? last_modified : issued;
    ev->risk_kind = anpi_ovx_child_text(mail, NULL, "infoType");
    ev->info_kind = anpi_xstrdup(anpi_mofa_info_type_name(ev->risk_kind));
    ev->title = anpi_ovx_child_text(mail, NULL, "title");
    ev->url = anpi_ovx_child_text(mail, NULL, "infoUrl");
    ev->hazard = anpi_ovx_child_text(mail, NULL, "contentInfo");

    for (int lvl = 4; lvl >= 1 && ev->risk_level == 0; lvl--) {
        char name[16];
        snprintf(name, sizeof(name), "riskLevel%d", lvl);
        char *v = anpi_ovx_child_text(mail, NULL, name);
        if (anpi_mofa_flag(v) == 1)
            ev->risk_level = lvl;
        free(v);
    }

    /* Unmapped codes are collected as text for the description. */
    char unmapped[MAX_UNMAPPED_TEXT] = "";
    size_t ulen = 0;
    size_t seen = 0;
    for (const xmlNode *c = anpi_ovx_child(mail, NULL, "country"); c && seen < MAX_COUNTRIES;
         c = anpi_ovx_next(c, NULL, "country"), seen++) {
        char *cd = anpi_ovx_child_text(c, NULL, "cd");
        char a2[3];
        if (cd[0] == '\0') {
            /* an empty <country/>: nothing to map */
        } else if (anpi_country_from_mofa(cd, a2) == 0) {
            add_country(ev, a2);
        } else if (ulen + 16 < sizeof(unmapped)) {
            /* ASCII letters and digits only, at most 12: the code goes into
             * mail text and must stay valid UTF-8 whatever the feed held. */
            if (ulen) {
                memcpy(unmapped + ulen, ", ", 2);
                ulen += 2;
            }
            size_t k = 0;
            for (const char *p = cd; *p && k < 12; p++)
                if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= 'a' && *p <= 'z'))
                    unmapped[ulen + k++] = *p;
            if (k == 0)
                unmapped[ulen + k++] = '?';
            ulen += k;
            unmapped[ulen] = '\0';
        }
        free(cd);
    }
    char *lead = anpi_ovx_child_text(mail, NULL, "lead");
    if (ulen) {
        ev->description = anpi_xasprintf("%s%s(MOFA country code not mapped: %s)", lead,
                                         lead[0] ? "\n\n" : "", unmapped);
        free(lead);
    } else {
        ev->description = lead;
    }
    fill_empty(ev);
out:
    free(key);
    free(leave);
    return ev;
}

/* Does the body begin like MOFA open data?  Maintenance pages are HTML. */
static int
looks_like_opendata(const char *doc, size_t len)
{
    size_t i = anpi_ovx_skip_head(doc, len);
    static const char *const starts[] = { "<?xml", "<opendata" };
    for (size_t k = 0; k < ANPI_ARRAY_LEN(starts); k++) {
        size_t n = strlen(starts[k]);
        if (len - i >= n && memcmp(doc + i, starts[k], n) == 0)
            return 1;
    }
    return 0;
}

int
anpi_mofa_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                size_t errlen)
{
    anpi_ovx_err(err, errlen, "%s", "");
    if (doc && len <= ANPI_MOFA_MAX_DOC && !looks_like_opendata(doc, len)) {
        anpi_ovx_err(err, errlen, "not MOFA open data (maintenance page?): the body does not "
                     "start with <?xml");
        return ANPI_EPARSE;
    }
    xmlDocPtr d = NULL;
    int rc = anpi_ovx_read(doc, len, ANPI_MOFA_MAX_DOC, "MOFA", &d, err, errlen);
    if (rc != ANPI_OK)
        return rc;
    const xmlNode *root = xmlDocGetRootElement(d);
    if (!anpi_ovx_is(root, NULL, "opendata")) {
        anpi_ovx_err(err, errlen, "not MOFA open data (maintenance page?): root element is <%.40s>",
                     (const char *)root->name);
        xmlFreeDoc(d);
        return ANPI_EPARSE;
    }
    int64_t last_modified = 0;
    xmlChar *lm = xmlGetProp(root, (const xmlChar *)"lastModified");
    if (lm) {
        if (anpi_mofa_parse_time((const char *)lm, &last_modified) != 0)
            last_modified = 0;
        xmlFree(lm);
    }
    for (const xmlNode *m = anpi_ovx_child(root, NULL, "mail"); m;
         m = anpi_ovx_next(m, NULL, "mail")) {
        struct anpi_event *ev = parse_mail(m, last_modified);
        if (ev)
            anpi_event_list_push(out, ev);
    }
    xmlFreeDoc(d);
    return ANPI_OK;
}
