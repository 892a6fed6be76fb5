/* jma_xml.c - JMA 気象庁防災情報XML telegram -> struct anpi_event.
 *
 * Elements are matched by namespace URI and local name, walking fixed paths
 * from the root (FEEDS.md §1.2): Control/Title and Head/Title share a local
 * name, so nothing is ever looked up "anywhere in the document".
 *
 * Hostile input: the document is size-capped before libxml2 sees it; the
 * parser runs without XML_PARSE_NOENT, DTDLOAD, DTDVALID or HUGE and with
 * NONET; any DOCTYPE stops the parse at once from the SAX internalSubset
 * hook (before a single entity declaration is read), so entity expansion
 * attacks never start; libxml2's default depth limit (256) applies.
 *
 * Head fields are strict (a telegram whose identity or times cannot be read
 * is rejected).  Detail fields (coordinate, magnitude, intensities) are
 * lenient: an unreadable value stays "unknown" rather than dropping a
 * quake report that people's safety may hang on.
 *
 * Field mapping of the parts every telegram shares (the type-specific
 * bodies are mapped in jma_tsunami.c, jma_eew.c and jma_weather.c):
 *
 *   Control/Title                      -> title; with the table below -> kind
 *   Control/DateTime (UTC)             -> created_at
 *   Control/Status 通常/訓練/試験      -> status actual/exercise/test
 *   Head/ReportDateTime                -> issued_at
 *   Head/ValidDateTime                 -> valid_until (0 when absent)
 *   Head/EventID (as written, may hold several ids) -> event_key
 *   Head/InfoType 発表/訂正/取消/遅延  -> info_type
 *   Head/Serial ("" when empty)        -> serial
 *   Head/InfoKind                      -> info_kind
 *   Head/Headline/Text                 -> headline
 *   Body/Text, Body/Comments/{WarningComment,ForecastComment,VarComment}/Text,
 *     Body/Comments/FreeFormComment (one line each), else headline -> description
 *   kind (VXSE5x/6x, VXSE4x, VTSE, VP.. / meteorology Body) -> type
 *   Body/Earthquake/OriginTime         -> occurred_at (VXSE51: Head/TargetDateTime)
 *   Body/Earthquake/Hypocenter/Area/{Name,Code,jmx_eb:Coordinate}
 *                                      -> hypocenter, hypocenter_code, lat, lon, depth_km
 *   Body/Earthquake/jmx_eb:Magnitude (+@description) -> magnitude, magnitude_text
 *   Body/Intensity/Observation/{MaxInt,Pref,Area,City} -> max_intensity,
 *                                         pref_intensity[], cities[]
 *   url: "" (the feed entry's link is known to the poller, not the document)
 * A 取消 is parsed for its head and Body/Text only: no tsunami, weather or
 * forecast item of a cancelled report is reported. */
#include "feeds/jma/jma_xml.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "engine/anpi.h"
#include "feeds/jma/iso8601.h"
#include "feeds/jma/jma_eew.h"
#include "feeds/jma/jma_tsunami.h"
#include "feeds/jma/jma_weather.h"
#include "feeds/jma/jmx_dom.h"
#include "feeds/xmlsafe.h"

#define NS_JMX  ANPI_NS_JMX
#define NS_IB   ANPI_NS_IB
#define NS_EB   ANPI_NS_EB
#define NS_BODY ANPI_NS_BODY
#define NS_METE ANPI_NS_METE

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

/* ---- value parsers ---------------------------------------------------- */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Unsigned decimal "12", "40.2" at *p; advances *p.  Mantissa and scale are
 * exact doubles and IEEE division rounds correctly, so the result equals
 * strtod's without its locale dependence. */
static int
parse_udecimal(const char **p, double *out, int *had_frac)
{
    const char *s = *p;
    int64_t mant = 0;
    int nd = 0, frac = 0;
    while (*s >= '0' && *s <= '9') {
        if (++nd > 15)
            return -1;
        mant = mant * 10 + (*s++ - '0');
    }
    if (nd == 0)
        return -1;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        while (*s >= '0' && *s <= '9') {
            if (++nd > 15)
                return -1;
            mant = mant * 10 + (*s++ - '0');
            frac++;
        }
    }
    double scale = 1;
    for (int i = 0; i < frac; i++)
        scale *= 10;
    *out = (double)mant / scale;
    if (had_frac)
        *had_frac = frac > 0;
    *p = s;
    return 0;
}

static double
parse_magnitude(const char *s)
{
    if (!s || strcmp(s, "NaN") == 0)
        return NAN;
    int neg = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    double v;
    if (parse_udecimal(&s, &v, NULL) != 0 || *s)
        return NAN;
    return neg ? -v : v;
}

static int
parse_signed_part(const char **p, double *v)
{
    char sign = **p;
    if (sign != '+' && sign != '-')
        return -1;
    (*p)++;
    if (parse_udecimal(p, v, NULL) != 0)
        return -1;
    if (sign == '-')
        *v = -*v;
    return 0;
}

/* DDMM / DDDMM (degrees and minutes) -> degrees. */
static double
degmin_to_deg(double v)
{
    double a = fabs(v);
    double deg = floor(a / 100);
    double r = deg + (a - deg * 100) / 60;
    return v < 0 ? -r : r;
}

int
anpi_jma_parse_coordinate(const char *s, int degmin, double *lat, double *lon, int *depth_km)
{
    if (!s)
        return ANPI_EPARSE;
    while (is_space(*s))
        s++;
    double la, lo;
    if (parse_signed_part(&s, &la) != 0 || parse_signed_part(&s, &lo) != 0)
        return ANPI_EPARSE;
    int depth = -1;
    if (*s == '+' || *s == '-') {
        /* Height in metres, negative below the surface; "+0" = ごく浅い. */
        char sign = *s++;
        double m;
        int frac;
        if (parse_udecimal(&s, &m, &frac) != 0 || frac || m > 1e7)
            return ANPI_EPARSE;
        depth = sign == '-' ? (int)lround(m / 1000.0) : 0;
    }
    if (*s != '/')
        return ANPI_EPARSE;
    s++;
    while (is_space(*s))
        s++;
    if (*s)
        return ANPI_EPARSE;
    if (degmin) {
        la = degmin_to_deg(la);
        lo = degmin_to_deg(lo);
    }
    if (fabs(la) > 90 || fabs(lo) > 180)
        return ANPI_EPARSE;
    *lat = la;
    *lon = lo;
    *depth_km = depth;
    return ANPI_OK;
}

/* ---- data type codes -------------------------------------------------- */

static const struct {
    const char *title;
    const char *kind;
} kinds[] = {
    { "震度速報", "VXSE51" },
    { "震源に関する情報", "VXSE52" },
    { "震源・震度に関する情報", "VXSE53" },
    { "地震の活動状況等に関する情報", "VXSE56" },
    { "地震回数に関する情報", "VXSE60" },
    { "顕著な地震の震源要素更新のお知らせ", "VXSE61" },
    { "長周期地震動に関する観測情報", "VXSE62" },
    { "緊急地震速報配信テスト", "VXSE42" },
    { "緊急地震速報（警報）", "VXSE43" },
    { "緊急地震速報（予報）", "VXSE44" },
    { "緊急地震速報（地震動予報）", "VXSE45" },
    { "津波警報・注意報・予報a", "VTSE41" },
    { "津波情報a", "VTSE51" },
    { "沖合の津波観測に関する情報", "VTSE52" },
    { "地震・津波に関するお知らせ", "VZSE40" },
    { "南海トラフ地震臨時情報", "VYSE50" },
    { "北海道・三陸沖後発地震注意情報", "VYSE60" },
    { "噴火速報", "VFVO56" },
    { "全般台風情報", "VPTI50" },
    { "全般台風情報（定型）", "VPTI51" },
    { "全般台風情報（詳細）", "VPTI52" },
    { "気象特別警報・警報・注意報", "VPWW53" },
    { "気象警報・注意報（Ｈ２７）", "VPWW54" },
};

const char *
anpi_jma_kind(const char *control_title, const char *info_kind)
{
    (void)info_kind;  /* every title we know maps to one code on its own */
    if (!control_title)
        return "";
    for (size_t i = 0; i < ANPI_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].title, control_title) == 0)
            return kinds[i].kind;
    return "";
}

static enum anpi_event_type
type_of(const char *kind, const char *body_ns)
{
    static const char *const quake[] = { "VXSE51", "VXSE52", "VXSE53", "VXSE61", "VXSE62" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(quake); i++)
        if (strcmp(kind, quake[i]) == 0)
            return ANPI_EV_EARTHQUAKE;
    if (strncmp(kind, "VXSE4", 5) == 0)
        return ANPI_EV_EEW;
    if (strncmp(kind, "VTSE", 4) == 0)
        return ANPI_EV_TSUNAMI;
    if (strncmp(kind, "VP", 2) == 0 || strcmp(body_ns, NS_METE) == 0)
        return ANPI_EV_WEATHER;
    return ANPI_EV_UNKNOWN;
}

/* ---- intensity -------------------------------------------------------- */

/* "03" -> 3; 0 when not a JIS X 0401 code. */
static int
pref_code(const char *s, size_t n)
{
    if (!s || strlen(s) < n)
        return 0;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= ANPI_PREF_COUNT ? v : 0;
}

static void
add_city(struct anpi_event *ev, size_t *cap, const xmlNode *city, const char *ns, int pref)
{
    char *code = anpi_jmx_text(anpi_jmx_child(city, ns, "Code"));
    char *name = anpi_jmx_text(anpi_jmx_child(city, ns, "Name"));
    char *cond = anpi_jmx_text(anpi_jmx_child(city, ns, "Condition"));
    enum anpi_intensity v = anpi_jmx_intensity(anpi_jmx_child(city, ns, "MaxInt"));
    /* A city with 未入電 has at least one station that measured 5- or more
     * but could not report it: never rank it below 5-, with or without a
     * MaxInt from its other stations (大蔵村 has MaxInt 4 plus the
     * Condition; 羽後町 only the Condition). */
    if (cond && strcmp(cond, "震度５弱以上未入電") == 0 &&
        anpi_intensity_rank(v) < anpi_intensity_rank(ANPI_INT_5L))
        v = ANPI_INT_5L_UNREPORTED;
    free(cond);
    if (ev->ncities == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        ev->cities = anpi_xrealloc(ev->cities, *cap * sizeof(*ev->cities));
    }
    struct anpi_city_intensity *c = &ev->cities[ev->ncities++];
    c->pref = pref_code(code, 2);
    if (!c->pref)
        c->pref = pref;
    c->code = code ? code : anpi_xstrdup("");
    c->name = name ? name : anpi_xstrdup("");
    c->intensity = v;
    if (c->pref)
        ev->pref_intensity[c->pref] = anpi_jmx_stronger(ev->pref_intensity[c->pref], v);
}

static void
read_observation(struct anpi_event *ev, const xmlNode *obs, const char *ns)
{
    size_t cap = 0;
    ev->max_intensity = anpi_jmx_stronger(ev->max_intensity, anpi_jmx_intensity(anpi_jmx_child(obs, ns, "MaxInt")));
    for (xmlNode *p = anpi_jmx_child(obs, ns, "Pref"); p; p = anpi_jmx_next(p, ns, "Pref")) {
        char *code = anpi_jmx_text(anpi_jmx_child(p, ns, "Code"));
        int pc = pref_code(code, 2);
        free(code);
        enum anpi_intensity pi = anpi_jmx_intensity(anpi_jmx_child(p, ns, "MaxInt"));
        for (xmlNode *a = anpi_jmx_child(p, ns, "Area"); a; a = anpi_jmx_next(a, ns, "Area")) {
            pi = anpi_jmx_stronger(pi, anpi_jmx_intensity(anpi_jmx_child(a, ns, "MaxInt")));
            for (xmlNode *c = anpi_jmx_child(a, ns, "City"); c; c = anpi_jmx_next(c, ns, "City"))
                add_city(ev, &cap, c, ns, pc);
        }
        if (pc)
            ev->pref_intensity[pc] = anpi_jmx_stronger(ev->pref_intensity[pc], pi);
        ev->max_intensity = anpi_jmx_stronger(ev->max_intensity, pi);
    }
    for (int p = 1; p <= ANPI_PREF_COUNT; p++)
        ev->max_intensity = anpi_jmx_stronger(ev->max_intensity, ev->pref_intensity[p]);
}

static int
read_earthquake(struct anpi_event *ev, const xmlNode *eq, const char *ns, char *err,
                size_t errlen)
{
    char *ot = anpi_jmx_text(anpi_jmx_child(eq, ns, "OriginTime"));
    if (ot && *ot && anpi_iso8601_parse(ot, &ev->occurred_at) != 0) {
        set_err(err, errlen, "Body/Earthquake/OriginTime: bad date-time '%.40s'", ot);
        free(ot);
        return ANPI_EPARSE;
    }
    free(ot);
    const xmlNode *area = anpi_jmx_child(anpi_jmx_child(eq, ns, "Hypocenter"), ns, "Area");
    if (area) {
        free(ev->hypocenter);
        ev->hypocenter = anpi_jmx_text(anpi_jmx_child(area, ns, "Name"));
        free(ev->hypocenter_code);
        ev->hypocenter_code = anpi_jmx_text(anpi_jmx_child(area, ns, "Code"));
        const xmlNode *co = anpi_jmx_child(area, NS_EB, "Coordinate");
        if (co) {
            char *txt = anpi_jmx_text(co);
            char *type = anpi_jmx_attr(co, "type");
            int degmin = type && strstr(type, "度分") != NULL;
            double la, lo;
            int d;
            if (anpi_jma_parse_coordinate(txt, degmin, &la, &lo, &d) == 0) {
                ev->lat = la;
                ev->lon = lo;
                ev->depth_km = d;
            }
            free(type);
            free(txt);
        }
    }
    const xmlNode *mag = anpi_jmx_child(eq, NS_EB, "Magnitude");
    if (mag) {
        char *txt = anpi_jmx_text(mag);
        char *cond = anpi_jmx_attr(mag, "condition");
        ev->magnitude = cond && strcmp(cond, "不明") == 0 ? NAN : parse_magnitude(txt);
        free(cond);
        free(txt);
        char *desc = anpi_jmx_attr(mag, "description");
        if (desc) {
            free(ev->magnitude_text);
            ev->magnitude_text = desc;
        }
    }
    return ANPI_OK;
}

/* Human text of the body: Body/Text (取消, VXSE42, VZSE40 ...), then every
 * Comments child (WarningComment, ForecastComment, VarComment: their Text;
 * FreeFormComment: its own text).  Typhoon summaries and Body/Comment/Text
 * were added by jma_weather.c before.  Without any, jma_xml.c falls back on
 * the headline. */
static void
read_texts(struct anpi_event *ev, const xmlNode *body, const char *ns)
{
    for (const xmlNode *t = anpi_jmx_child(body, ns, "Text"); t; t = anpi_jmx_next(t, ns, "Text")) {
        char *s = anpi_jmx_text(t);
        anpi_jmx_append_line(&ev->description, s);
        free(s);
    }
    const xmlNode *comments = anpi_jmx_child(body, ns, "Comments");
    for (const xmlNode *c = comments ? comments->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !anpi_jmx_is(c, ns, (const char *)c->name))
            continue;
        const xmlNode *t = anpi_jmx_child(c, ns, "Text");
        char *s = anpi_jmx_text(t ? t : c);
        anpi_jmx_append_line(&ev->description, s);
        free(s);
    }
}

/* ---- the document ----------------------------------------------------- */

/* Element `name` under parent, required in namespace ns.  Tells apart
 * "missing" from "present in the wrong namespace". */
static xmlNode *
need(const xmlNode *parent, const char *ns, const char *path, const char *name, char *err,
     size_t errlen)
{
    xmlNode *n = anpi_jmx_child(parent, ns, name);
    if (n)
        return n;
    xmlNode *other = anpi_jmx_child(parent, NULL, name);
    if (other)
        set_err(err, errlen, "%s in namespace '%.80s', expected '%s'", path,
                other->ns && other->ns->href ? (const char *)other->ns->href : "",
                ns);
    else
        set_err(err, errlen, "%s missing", path);
    return NULL;
}

static char *
need_text(const xmlNode *parent, const char *ns, const char *path, const char *name,
          char *err, size_t errlen)
{
    xmlNode *n = need(parent, ns, path, name, err, errlen);
    return n ? anpi_jmx_text(n) : NULL;
}

static int
status_of(const char *s, enum anpi_event_status *out)
{
    if (strcmp(s, "通常") == 0)
        *out = ANPI_ST_ACTUAL;
    else if (strcmp(s, "訓練") == 0)
        *out = ANPI_ST_EXERCISE;
    else if (strcmp(s, "試験") == 0)
        *out = ANPI_ST_TEST;
    else
        return ANPI_EPARSE;
    return ANPI_OK;
}

static int
info_type_of(const char *s, enum anpi_info_type *out)
{
    if (strcmp(s, "発表") == 0)
        *out = ANPI_IT_ISSUE;
    else if (strcmp(s, "訂正") == 0)
        *out = ANPI_IT_CORRECTION;
    else if (strcmp(s, "取消") == 0)
        *out = ANPI_IT_CANCEL;
    else if (strcmp(s, "遅延") == 0)
        *out = ANPI_IT_DELAY;
    else
        return ANPI_EPARSE;
    return ANPI_OK;
}

static int
parse_report(const xmlNode *root, struct anpi_event *ev, char *err, size_t errlen)
{
    int rc = ANPI_EPARSE;
    char *dt = NULL, *status = NULL, *rdt = NULL, *info = NULL, *tdt = NULL, *vdt = NULL;

    const xmlNode *control = need(root, NS_JMX, "Control", "Control", err, errlen);
    const xmlNode *head = need(root, NS_IB, "Head", "Head", err, errlen);
    if (!control || !head)
        return ANPI_EPARSE;
    if (!(ev->title = need_text(control, NS_JMX, "Control/Title", "Title", err, errlen)) ||
        !(dt = need_text(control, NS_JMX, "Control/DateTime", "DateTime", err, errlen)) ||
        !(status = need_text(control, NS_JMX, "Control/Status", "Status", err, errlen)) ||
        !(rdt = need_text(head, NS_IB, "Head/ReportDateTime", "ReportDateTime", err, errlen)) ||
        !(ev->event_key = need_text(head, NS_IB, "Head/EventID", "EventID", err, errlen)) ||
        !(info = need_text(head, NS_IB, "Head/InfoType", "InfoType", err, errlen)))
        goto out;
    if (status_of(status, &ev->status) != 0) {
        set_err(err, errlen, "Control/Status: unknown value '%.40s'", status);
        goto out;
    }
    if (info_type_of(info, &ev->info_type) != 0) {
        set_err(err, errlen, "Head/InfoType: unknown value '%.40s'", info);
        goto out;
    }
    if (anpi_iso8601_parse(dt, &ev->created_at) != 0) {
        set_err(err, errlen, "Control/DateTime: bad date-time '%.40s'", dt);
        goto out;
    }
    if (anpi_iso8601_parse(rdt, &ev->issued_at) != 0) {
        set_err(err, errlen, "Head/ReportDateTime: bad date-time '%.40s'", rdt);
        goto out;
    }
    ev->serial = anpi_jmx_text(anpi_jmx_child(head, NS_IB, "Serial"));
    if (!ev->serial)
        ev->serial = anpi_xstrdup("");
    ev->info_kind = anpi_jmx_text(anpi_jmx_child(head, NS_IB, "InfoKind"));
    if (!ev->info_kind)
        ev->info_kind = anpi_xstrdup("");
    ev->headline = anpi_jmx_text(anpi_jmx_child(anpi_jmx_child(head, NS_IB, "Headline"), NS_IB, "Text"));
    if (!ev->headline)
        ev->headline = anpi_xstrdup("");
    ev->kind = anpi_xstrdup(anpi_jma_kind(ev->title, ev->info_kind));
    /* When the content stops being valid (津波予報, some weather texts);
     * strict like the other head times, since an incident is closed on it. */
    vdt = anpi_jmx_text(anpi_jmx_child(head, NS_IB, "ValidDateTime"));
    if (vdt && *vdt && anpi_iso8601_parse(vdt, &ev->valid_until) != 0) {
        set_err(err, errlen, "Head/ValidDateTime: bad date-time '%.40s'", vdt);
        goto out;
    }
    ev->doc_id = anpi_xasprintf("%s/%s/%s/%s/%s", ev->title, ev->event_key, ev->serial, info, dt);

    const xmlNode *body = anpi_jmx_child(root, NULL, "Body");
    if (!body) {
        set_err(err, errlen, "Body missing");
        goto out;
    }
    const char *bns = body->ns && body->ns->href ? (const char *)body->ns->href : "";
    if (strncmp(bns, NS_BODY, strlen(NS_BODY)) != 0) {
        set_err(err, errlen, "Body in namespace '%.80s', expected '%s...'", bns, NS_BODY);
        goto out;
    }
    ev->type = type_of(ev->kind, bns);

    const xmlNode *eq = anpi_jmx_child(body, bns, "Earthquake");
    if (eq && read_earthquake(ev, eq, bns, err, errlen) != 0)
        goto out;
    /* VXSE51 has no Earthquake: the time the shaking was observed is the
     * best origin time we have. */
    tdt = anpi_jmx_text(anpi_jmx_child(head, NS_IB, "TargetDateTime"));
    if (!eq && strcmp(ev->kind, "VXSE51") == 0 && tdt && *tdt &&
        anpi_iso8601_parse(tdt, &ev->occurred_at) != 0) {
        set_err(err, errlen, "Head/TargetDateTime: bad date-time '%.40s'", tdt);
        goto out;
    }
    const xmlNode *intensity = anpi_jmx_child(body, bns, "Intensity");
    const xmlNode *obs = anpi_jmx_child(intensity, bns, "Observation");
    if (obs)
        read_observation(ev, obs, bns);
    /* A 取消 withdraws everything of its EventID and kind: it carries only
     * Body/Text, and no item of a cancelled report is ever reported. */
    if (ev->info_type != ANPI_IT_CANCEL) {
        if (ev->type == ANPI_EV_TSUNAMI)
            anpi_jma_read_tsunami(ev, body, bns);
        else if (ev->type == ANPI_EV_WEATHER)
            anpi_jma_read_weather(ev, body, bns);
    }
    if (ev->type == ANPI_EV_EEW)
        anpi_jma_read_eew(ev, head, body, bns);
    read_texts(ev, body, bns);
    /* event.h promises "" rather than NULL for absent texts. */
    if (!ev->magnitude_text)
        ev->magnitude_text = anpi_xstrdup("");
    if (!ev->hypocenter)
        ev->hypocenter = anpi_xstrdup("");
    if (!ev->hypocenter_code)
        ev->hypocenter_code = anpi_xstrdup("");
    if (!ev->description)
        ev->description = anpi_xstrdup(ev->headline);
    ev->url = anpi_xstrdup("");
    if (!ev->typhoon_name)
        ev->typhoon_name = anpi_xstrdup("");
    if (!ev->typhoon_class)
        ev->typhoon_class = anpi_xstrdup("");
    ev->hazard = anpi_xstrdup("");
    ev->risk_kind = anpi_xstrdup("");
    rc = ANPI_OK;
out:
    free(dt);
    free(status);
    free(rdt);
    free(info);
    free(tdt);
    free(vdt);
    return rc;
}

int
anpi_jma_parse(const char *xml, size_t len, struct anpi_event **out, char *err, size_t errlen)
{
    *out = NULL;
    set_err(err, errlen, "%s", "");
    /* The document is hostile: feeds/xmlsafe.c caps it and refuses DOCTYPE. */
    xmlDocPtr doc;
    int rc = anpi_xmlsafe_load(xml, len, ANPI_JMA_MAX_DOC, "jma.xml", " in a JMA telegram", &doc,
                               err, errlen);
    if (rc != ANPI_OK)
        return rc;
    rc = ANPI_EPARSE;
    struct anpi_event *ev = NULL;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "Report") != 0) {
        set_err(err, errlen, "root element is <%.40s>, not a JMA <Report>",
                root ? (const char *)root->name : "");
        goto out;
    }
    if (!anpi_jmx_is(root, NS_JMX, "Report")) {
        set_err(err, errlen, "Report in namespace '%.80s', expected '%s'",
                root->ns && root->ns->href ? (const char *)root->ns->href : "", NS_JMX);
        goto out;
    }
    ev = anpi_event_new();
    ev->source = anpi_xstrdup("jma");
    rc = parse_report(root, ev, err, errlen);
    if (rc == ANPI_OK) {
        *out = ev;
        ev = NULL;
    }
out:
    anpi_event_free(ev);
    xmlFreeDoc(doc);
    return rc;
}
