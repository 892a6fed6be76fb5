/* jma_weather.c - meteorology bodies (FEEDS.md §1.9): weather warnings,
 * typhoon analysis, typhoon text.
 *
 * Field mapping (paths below /Report; Body in the meteorology1 namespace,
 * jmx_eb: = elementBasis1):
 *
 * 気象特別警報・警報・注意報 (VPWW53) and 気象警報・注意報（Ｈ２７） (VPWW54):
 *   Body/Warning[@type] - the finest level present is used, in the order
 *     （市町村等）, （市町村等をまとめた地域等）, （一次細分区域等）, （府県予報区等）;
 *     coarser ones repeat the same warnings and would count them twice
 *   .../Item/Area/{Code,Name}                      -> weather[].area_code, area_name
 *   .../Item/Area/Code via weather_areas.c         -> weather[].pref
 *   .../Item/Kind (one weather[] per Kind)/Code    -> weather[].kind_code
 *                                     /Name        -> weather[].kind_name
 *                                     /Status      -> weather[].status
 *   Code/Name/Status -> anpi_jma_weather_level     -> weather[].level
 *   strongest level per .pref / overall            -> pref_weather[], max_weather
 *   Head/EventID is empty for warnings: event_key "" (jma_xml.c keeps it so).
 *
 * 台風解析・予報情報 (VPTW60-65), Body/MeteorologicalInfos[@type="台風情報"]/
 * MeteorologicalInfo whose DateTime/@type is 実況 (the analysis, not a forecast):
 *   Item/Kind/Property[Type=呼称]/TyphoonNamePart/{Number,Name}
 *        -> typhoon_name "台風第10号 (HAISHEN)" ("" while no number: a TD)
 *   Property[Type=階級]/ClassPart/jmx_eb:TyphoonClass -> typhoon_class
 *   Property[Type=中心]/CenterPart/jmx_eb:Pressure     -> typhoon_pressure_hpa
 *   Property[Type=中心]/CenterPart/jmx_eb:Coordinate[@type="中心位置（度）"] -> lat, lon
 *   Property[Type=風]/WindPart/jmx_eb:WindSpeed[@type=最大風速][@unit=m/s]
 *        -> typhoon_wind_ms
 *   every MeteorologicalInfo (実況 and 予報): one line of DateTime/@type,
 *     class, Location, pressure and wind descriptions     -> description
 *     (so a 訂正 of a forecast pressure shows in the text)
 *
 * 全般台風情報 (VPTI50/51/52):
 *   Body/Comment/Text                               -> description
 *   (Head/Headline/Text -> headline in jma_xml.c)
 *
 * Values that cannot be read stay unknown (0 / NAN / ""), never guessed. */
#include "feeds/jma/jma_weather.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/jma_areas.h"
#include "feeds/jma/jma_xml.h"
#include "feeds/jma/jmx_dom.h"

/* ---- weather warnings ------------------------------------------------- */

/* 気象警報・注意報 codes (個別コード表 「警報等情報要素／気象警報・注意報」). */
static const struct {
    const char *code;
    enum anpi_weather_level level;
} wx_codes[] = {
    { "00", ANPI_WX_NONE },      /* 解除 */
    { "02", ANPI_WX_WARNING },   /* 暴風雪警報 */
    { "03", ANPI_WX_WARNING },   /* 大雨警報 */
    { "04", ANPI_WX_WARNING },   /* 洪水警報 */
    { "05", ANPI_WX_WARNING },   /* 暴風警報 */
    { "06", ANPI_WX_WARNING },   /* 大雪警報 */
    { "07", ANPI_WX_WARNING },   /* 波浪警報 */
    { "08", ANPI_WX_WARNING },   /* 高潮警報 */
    { "10", ANPI_WX_ADVISORY },  /* 大雨注意報 */
    { "12", ANPI_WX_ADVISORY },  /* 大雪注意報 */
    { "13", ANPI_WX_ADVISORY },  /* 風雪注意報 */
    { "14", ANPI_WX_ADVISORY },  /* 雷注意報 */
    { "15", ANPI_WX_ADVISORY },  /* 強風注意報 */
    { "16", ANPI_WX_ADVISORY },  /* 波浪注意報 */
    { "17", ANPI_WX_ADVISORY },  /* 融雪注意報 */
    { "18", ANPI_WX_ADVISORY },  /* 洪水注意報 */
    { "19", ANPI_WX_ADVISORY },  /* 高潮注意報 */
    { "20", ANPI_WX_ADVISORY },  /* 濃霧注意報 */
    { "21", ANPI_WX_ADVISORY },  /* 乾燥注意報 */
    { "22", ANPI_WX_ADVISORY },  /* なだれ注意報 */
    { "23", ANPI_WX_ADVISORY },  /* 低温注意報 */
    { "24", ANPI_WX_ADVISORY },  /* 霜注意報 */
    { "25", ANPI_WX_ADVISORY },  /* 着氷注意報 */
    { "26", ANPI_WX_ADVISORY },  /* 着雪注意報 */
    { "27", ANPI_WX_ADVISORY },  /* その他の注意報 */
    { "32", ANPI_WX_EMERGENCY }, /* 暴風雪特別警報 */
    { "33", ANPI_WX_EMERGENCY }, /* 大雨特別警報 */
    { "35", ANPI_WX_EMERGENCY }, /* 暴風特別警報 */
    { "36", ANPI_WX_EMERGENCY }, /* 大雪特別警報 */
    { "37", ANPI_WX_EMERGENCY }, /* 波浪特別警報 */
    { "38", ANPI_WX_EMERGENCY }, /* 高潮特別警報 */
};

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum anpi_weather_level
anpi_jma_weather_level(const char *code, const char *name, const char *status)
{
    /* A lifted warning keeps its Code and Name ("大雨注意報", Status 解除). */
    if (status && (strcmp(status, "解除") == 0 || strstr(status, "はなし")))
        return ANPI_WX_NONE;
    if (code && *code)
        for (size_t i = 0; i < ANPI_ARRAY_LEN(wx_codes); i++)
            if (strcmp(code, wx_codes[i].code) == 0)
                return wx_codes[i].level;
    if (!name)
        return ANPI_WX_NONE;
    if (ends_with(name, "特別警報"))
        return ANPI_WX_EMERGENCY;
    if (ends_with(name, "警報"))
        return ANPI_WX_WARNING;
    if (ends_with(name, "注意報"))
        return ANPI_WX_ADVISORY;
    return ANPI_WX_NONE;
}

static const char *const warning_levels[] = {
    "気象警報・注意報（市町村等）",
    "気象警報・注意報（市町村等をまとめた地域等）",
    "気象警報・注意報（一次細分区域等）",
    "気象警報・注意報（府県予報区等）",
};

static const xmlNode *
finest_warning(const xmlNode *body, const char *ns)
{
    for (size_t l = 0; l < ANPI_ARRAY_LEN(warning_levels); l++)
        for (const xmlNode *w = anpi_jmx_child(body, ns, "Warning"); w;
             w = anpi_jmx_next(w, ns, "Warning"))
            if (anpi_jmx_attr_is(w, "type", warning_levels[l]))
                return w;
    /* A level this table does not know yet: better than nothing. */
    return anpi_jmx_child(body, ns, "Warning");
}

static void
add_warning_item(struct anpi_event *ev, size_t *cap, const xmlNode *item, const xmlNode *kind,
                 const char *ns)
{
    if (ev->nweather >= ANPI_JMA_MAX_WEATHER_ITEMS)
        return;
    if (ev->nweather == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        ev->weather = anpi_xrealloc(ev->weather, *cap * sizeof(*ev->weather));
    }
    struct anpi_weather_item *w = &ev->weather[ev->nweather++];
    const xmlNode *area = anpi_jmx_child(item, ns, "Area");
    w->area_code = anpi_jmx_text0(anpi_jmx_child(area, ns, "Code"));
    w->area_name = anpi_jmx_text0(anpi_jmx_child(area, ns, "Name"));
    w->pref = anpi_jma_weather_area_pref(w->area_code);
    w->kind_code = anpi_jmx_text0(anpi_jmx_child(kind, ns, "Code"));
    w->kind_name = anpi_jmx_text0(anpi_jmx_child(kind, ns, "Name"));
    w->status = anpi_jmx_text0(anpi_jmx_child(kind, ns, "Status"));
    w->level = anpi_jma_weather_level(w->kind_code, w->kind_name, w->status);
    if (w->level > ev->max_weather)
        ev->max_weather = w->level;
    if (w->pref && w->level > ev->pref_weather[w->pref])
        ev->pref_weather[w->pref] = w->level;
}

static void
read_warnings(struct anpi_event *ev, const xmlNode *body, const char *ns)
{
    const xmlNode *w = finest_warning(body, ns);
    size_t cap = 0;
    for (const xmlNode *it = anpi_jmx_child(w, ns, "Item"); it; it = anpi_jmx_next(it, ns, "Item"))
        for (const xmlNode *k = anpi_jmx_child(it, ns, "Kind"); k; k = anpi_jmx_next(k, ns, "Kind"))
            add_warning_item(ev, &cap, it, k, ns);
}

/* ---- typhoon ---------------------------------------------------------- */

/* "986" -> 986, "17.5" -> 17.5; NAN when not a plain unsigned decimal. */
static double
number_of(const char *s)
{
    if (!s || !*s)
        return NAN;
    double v = 0, scale = 1;
    int dot = 0, digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
        } else if (*p >= '0' && *p <= '9') {
            if (++digits > 12)
                return NAN;
            v = v * 10 + (*p - '0');
            if (dot)
                scale *= 10;
        } else {
            return NAN;
        }
    }
    return digits ? v / scale : NAN;
}

static const xmlNode *
property(const xmlNode *item, const char *ns, const char *type)
{
    for (const xmlNode *k = anpi_jmx_child(item, ns, "Kind"); k; k = anpi_jmx_next(k, ns, "Kind")) {
        const xmlNode *p = anpi_jmx_child(k, ns, "Property");
        char *t = anpi_jmx_text(anpi_jmx_child(p, ns, "Type"));
        int hit = t && strcmp(t, type) == 0;
        free(t);
        if (hit)
            return p;
    }
    return NULL;
}

/* First jmx_eb:<name> child of parent whose @type and @unit match (either
 * may be NULL = any). */
static const xmlNode *
eb_child(const xmlNode *parent, const char *name, const char *type, const char *unit)
{
    for (const xmlNode *n = anpi_jmx_child(parent, ANPI_NS_EB, name); n;
         n = anpi_jmx_next(n, ANPI_NS_EB, name))
        if ((!type || anpi_jmx_attr_is(n, "type", type)) &&
            (!unit || anpi_jmx_attr_is(n, "unit", unit)))
            return n;
    return NULL;
}

static void
typhoon_name(struct anpi_event *ev, const xmlNode *item, const char *ns)
{
    const xmlNode *np = anpi_jmx_child(property(item, ns, "呼称"), ns, "TyphoonNamePart");
    if (!np)
        return;
    char *num = anpi_jmx_text0(anpi_jmx_child(np, ns, "Number"));
    char *name = anpi_jmx_text0(anpi_jmx_child(np, ns, "Name"));
    /* Number is YYNN ("2010" = 2020 typhoon no. 10). */
    size_t n = strlen(num);
    int ok = n == 4;
    for (size_t i = 0; ok && i < n; i++)
        ok = num[i] >= '0' && num[i] <= '9';
    if (ok) {
        int no = (num[2] - '0') * 10 + (num[3] - '0');
        free(ev->typhoon_name);
        ev->typhoon_name = *name ? anpi_xasprintf("台風第%d号 (%s)", no, name)
                                 : anpi_xasprintf("台風第%d号", no);
    }
    free(num);
    free(name);
}

static void
typhoon_now(struct anpi_event *ev, const xmlNode *item, const char *ns)
{
    typhoon_name(ev, item, ns);
    const xmlNode *cls = eb_child(anpi_jmx_child(property(item, ns, "階級"), ns, "ClassPart"),
                                  "TyphoonClass", NULL, NULL);
    if (cls) {
        free(ev->typhoon_class);
        ev->typhoon_class = anpi_jmx_text0(cls);
    }
    const xmlNode *center = anpi_jmx_child(property(item, ns, "中心"), ns, "CenterPart");
    char *pr = anpi_jmx_text(eb_child(center, "Pressure", NULL, "hPa"));
    double hpa = number_of(pr);
    free(pr);
    if (!isnan(hpa) && hpa >= 800 && hpa <= 1100)
        ev->typhoon_pressure_hpa = (int)hpa;
    char *co = anpi_jmx_text(eb_child(center, "Coordinate", "中心位置（度）", NULL));
    double la, lo;
    int depth;
    if (co && anpi_jma_parse_coordinate(co, 0, &la, &lo, &depth) == 0) {
        ev->lat = la;
        ev->lon = lo;
    }
    free(co);
    const xmlNode *wind = anpi_jmx_child(property(item, ns, "風"), ns, "WindPart");
    char *ws = anpi_jmx_text(eb_child(wind, "WindSpeed", "最大風速", "m/s"));
    double v = number_of(ws);
    free(ws);
    if (!isnan(v) && v <= 200)
        ev->typhoon_wind_ms = v;
}

/* One line per analysis / forecast time for the human text. */
static void
typhoon_line(struct anpi_event *ev, const xmlNode *mi, const xmlNode *item, const char *ns)
{
    const xmlNode *dt = anpi_jmx_child(mi, ns, "DateTime");
    char *when = anpi_jmx_attr(dt, "type");
    char *at = anpi_jmx_text0(dt);
    char *cls = anpi_jmx_text0(eb_child(anpi_jmx_child(property(item, ns, "階級"), ns, "ClassPart"),
                                        "TyphoonClass", NULL, NULL));
    const xmlNode *center = anpi_jmx_child(property(item, ns, "中心"), ns, "CenterPart");
    char *loc = anpi_jmx_text0(anpi_jmx_child(center, ns, "Location"));
    char *pr = anpi_jmx_attr(eb_child(center, "Pressure", NULL, "hPa"), "description");
    const xmlNode *wind = anpi_jmx_child(property(item, ns, "風"), ns, "WindPart");
    char *ws = anpi_jmx_attr(eb_child(wind, "WindSpeed", "最大風速", "m/s"), "description");
    char *line = anpi_xasprintf("%s %s: %s %s %s %s", when ? when : "", at, cls, loc,
                                pr ? pr : "", ws ? ws : "");
    anpi_jmx_append_line(&ev->description, line);
    free(line);
    free(when);
    free(at);
    free(cls);
    free(loc);
    free(pr);
    free(ws);
}

static void
read_typhoon(struct anpi_event *ev, const xmlNode *infos, const char *ns)
{
    int have_now = 0;
    for (const xmlNode *mi = anpi_jmx_child(infos, ns, "MeteorologicalInfo"); mi;
         mi = anpi_jmx_next(mi, ns, "MeteorologicalInfo")) {
        const xmlNode *item = anpi_jmx_child(mi, ns, "Item");
        if (!have_now && anpi_jmx_attr_is(anpi_jmx_child(mi, ns, "DateTime"), "type", "実況")) {
            typhoon_now(ev, item, ns);
            have_now = 1;
        }
        typhoon_line(ev, mi, item, ns);
    }
}

void
anpi_jma_read_weather(struct anpi_event *ev, const xmlNode *body, const char *ns)
{
    if (anpi_jmx_child(body, ns, "Warning"))
        read_warnings(ev, body, ns);
    for (const xmlNode *mi = anpi_jmx_child(body, ns, "MeteorologicalInfos"); mi;
         mi = anpi_jmx_next(mi, ns, "MeteorologicalInfos"))
        if (anpi_jmx_attr_is(mi, "type", "台風情報"))
            read_typhoon(ev, mi, ns);
    const xmlNode *comment = anpi_jmx_child(body, ns, "Comment");
    for (const xmlNode *t = anpi_jmx_child(comment, ns, "Text"); t; t = anpi_jmx_next(t, ns, "Text")) {
        char *s = anpi_jmx_text(t);
        anpi_jmx_append_line(&ev->description, s);
        free(s);
    }
}
