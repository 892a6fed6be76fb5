/* gdacs.c - GDACS RSS 2.0 -> struct anpi_event.
 *
 * Field mapping (one event per rss/channel/item; FEEDS.md §3.2;
 * gdacs = http://www.gdacs.org, geo = http://www.w3.org/2003/01/geo/wgs84_pos#,
 * georss = http://www.georss.org/georss):
 *
 *   type         ANPI_EV_OVERSEAS
 *   source       "gdacs"
 *   doc_id       gdacs:eventtype gdacs:eventid "/" gdacs:episodeid ("EQ1199929/1287798"):
 *                GDACS repeats an item in every feed version; a new episode
 *                of the same event is a new event
 *   event_key    gdacs:eventtype gdacs:eventid ("EQ1199929"), the key an event
 *                keeps across its episodes
 *   risk_kind    gdacs:eventtype: EQ earthquake, TC tropical cyclone, FL flood,
 *                VO volcano, DR drought, WF wildfire, TS tsunami
 *   hazard       English name of the event type ("Earthquake"), "" if unknown
 *   info_kind    "GDACS"
 *   risk_level   max(gdacs:alertlevel, gdacs:episodealertlevel):
 *                Green 1, Orange 2, Red 3, 0 when neither is readable
 *   countries    gdacs:iso3 (ISO alpha-3 -> alpha-2), then every name of the
 *                comma list in gdacs:country that is a country name
 *                ("Bulgaria, Iraq, Iran, Turkey"; "Sulawesi, Indonesia" gives
 *                Indonesia); duplicates dropped.  Sea regions ("Southern East
 *                Pacific Rise") and other place names give no country
 *   country      the first of countries, "" when none
 *   title        title
 *   headline     gdacs:severity text ("Magnitude 5.5M, Depth:10km"), "" when absent
 *   description  description
 *   url          link
 *   issued_at    pubDate (RFC 822)
 *   created_at   pubDate
 *   occurred_at  gdacs:fromdate (RFC 822), 0 when unreadable
 *   lat, lon     geo:Point/geo:lat, geo:long; else georss:point "lat lon";
 *                NAN when absent or out of range
 *   magnitude    EQ only: gdacs:severity@value when @unit is "M", else NAN
 *   typhoon_name TC only: gdacs:eventname ("CALVINIA-19"), else ""
 *   status       ANPI_ST_ACTUAL, info_type ANPI_IT_ISSUE
 *
 * Not read: bbox, alertscore, population, vulnerability, version,
 * iscurrent, todate, cap, resources, enclosure.  (The TC severity@value is
 * not the wind speed of the text, FEEDS.md: it is left alone.) */
#include "feeds/overseas/gdacs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/overseas/country.h"
#include "feeds/overseas/ovx.h"
#include "feeds/overseas/rfc822.h"

#define NS_GDACS  "http://www.gdacs.org"
#define NS_GEO    "http://www.w3.org/2003/01/geo/wgs84_pos#"
#define NS_GEORSS "http://www.georss.org/georss"

#define MAX_NAME 128   /* one name of the gdacs:country list */

static const struct {
    const char *code;
    const char *name;
} event_types[] = {
    { "EQ", "Earthquake" }, { "TC", "Tropical cyclone" }, { "FL", "Flood" },
    { "VO", "Volcano" },    { "DR", "Drought" },          { "WF", "Wildfire" },
    { "TS", "Tsunami" },
};

static int
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
anpi_gdacs_alert_level(const char *s)
{
    static const char *const names[] = { "green", "orange", "red" };
    if (!s)
        return 0;
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && blank(s[n - 1]))
        n--;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], s, n) == 0)
            return (int)i + 1;
    return 0;
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

/* The comma list of gdacs:country.  The whole text is tried first, as a
 * few country names carry a comma in ISO's spelling. */
static void
add_country_names(struct anpi_event *ev, const char *text)
{
    char a2[3];
    if (anpi_country_from_name_en(text, a2) == 0) {
        add_country(ev, a2);
        return;
    }
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && n < MAX_NAME) {
            char name[MAX_NAME];
            memcpy(name, p, n);
            name[n] = '\0';
            if (anpi_country_from_name_en(name, a2) == 0)
                add_country(ev, a2);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* Strict decimal in [lo, hi] -> value; NAN otherwise. */
static double
coord(const char *s, double lo, double hi)
{
    if (!s || !*s)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    while (blank(*end))
        end++;
    if (end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return NAN;
    return v;
}

static void
read_position(const xmlNode *item, struct anpi_event *ev)
{
    const xmlNode *pt = anpi_ovx_child(item, NS_GEO, "Point");
    if (pt) {
        char *la = anpi_ovx_child_text(pt, NS_GEO, "lat");
        char *lo = anpi_ovx_child_text(pt, NS_GEO, "long");
        double lat = coord(la, -90, 90), lon = coord(lo, -180, 180);
        free(la);
        free(lo);
        if (!isnan(lat) && !isnan(lon)) {
            ev->lat = lat;
            ev->lon = lon;
            return;
        }
    }
    char *gp = anpi_ovx_child_text(item, NS_GEORSS, "point");
    char *sp = gp;
    while (*sp && !blank(*sp))
        sp++;
    if (*sp) {
        *sp++ = '\0';
        double lat = coord(gp, -90, 90), lon = coord(sp, -180, 180);
        if (!isnan(lat) && !isnan(lon)) {
            ev->lat = lat;
            ev->lon = lon;
        }
    }
    free(gp);
}

/* Letters only (eventtype) or digits only (ids), 1..max characters. */
static int
token_ok(const char *s, int digits, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (digits ? (c < '0' || c > '9') : (c < 'A' || c > 'Z'))
            return 0;
    }
    return 1;
}

static void
fill_empty(struct anpi_event *ev)
{
    char **f[] = { &ev->kind, &ev->serial, &ev->headline, &ev->magnitude_text, &ev->hypocenter,
                   &ev->hypocenter_code, &ev->typhoon_name, &ev->typhoon_class, &ev->hazard,
                   &ev->title, &ev->description, &ev->url };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(f); i++)
        if (!*f[i])
            *f[i] = anpi_xstrdup("");
}

static struct anpi_event *
parse_item(const xmlNode *item)
{
    char *type = anpi_ovx_child_text(item, NS_GDACS, "eventtype");
    char *id = anpi_ovx_child_text(item, NS_GDACS, "eventid");
    char *episode = anpi_ovx_child_text(item, NS_GDACS, "episodeid");
    char *pub = anpi_ovx_child_text(item, NULL, "pubDate");
    struct anpi_event *ev = NULL;
    int64_t issued = 0;
    if (!token_ok(type, 0, 4) || !token_ok(id, 1, 18) || !token_ok(episode, 1, 18)) {
        anpi_warn(ANPI_LG_FEED, "gdacs: <item> at line %ld lacks a readable gdacs:eventtype, "
                  "eventid or episodeid; skipped", (long)xmlGetLineNo(item));
        goto out;
    }
    if (anpi_rfc822_parse(pub, &issued) != 0) {
        anpi_warn(ANPI_LG_FEED, "gdacs: <item> %s%s at line %ld: pubDate '%.40s' is not an "
                  "RFC 822 date; skipped", type, id, (long)xmlGetLineNo(item), pub);
        goto out;
    }
    ev = anpi_event_new();
    ev->type = ANPI_EV_OVERSEAS;
    ev->status = ANPI_ST_ACTUAL;
    ev->info_type = ANPI_IT_ISSUE;
    ev->source = anpi_xstrdup("gdacs");
    ev->doc_id = anpi_xasprintf("%s%s/%s", type, id, episode);
    ev->event_key = anpi_xasprintf("%s%s", type, id);
    ev->info_kind = anpi_xstrdup("GDACS");
    ev->issued_at = issued;
    ev->created_at = issued;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(event_types); i++)
        if (strcmp(event_types[i].code, type) == 0)
            ev->hazard = anpi_xstrdup(event_types[i].name);

    char *from = anpi_ovx_child_text(item, NS_GDACS, "fromdate");
    if (anpi_rfc822_parse(from, &ev->occurred_at) != 0)
        ev->occurred_at = 0;
    free(from);

    char *al = anpi_ovx_child_text(item, NS_GDACS, "alertlevel");
    char *eal = anpi_ovx_child_text(item, NS_GDACS, "episodealertlevel");
    int a = anpi_gdacs_alert_level(al), b = anpi_gdacs_alert_level(eal);
    ev->risk_level = a > b ? a : b;
    free(al);
    free(eal);

    char a2[3];
    char *iso3 = anpi_ovx_child_text(item, NS_GDACS, "iso3");
    if (iso3[0] && anpi_country_from_alpha3(iso3, a2) == 0)
        add_country(ev, a2);
    free(iso3);
    char *names = anpi_ovx_child_text(item, NS_GDACS, "country");
    if (names[0])
        add_country_names(ev, names);
    free(names);

    ev->title = anpi_ovx_child_text(item, NULL, "title");
    ev->description = anpi_ovx_child_text(item, NULL, "description");
    ev->url = anpi_ovx_child_text(item, NULL, "link");
    read_position(item, ev);

    const xmlNode *sev = anpi_ovx_child(item, NS_GDACS, "severity");
    ev->headline = anpi_ovx_text(sev);
    if (sev && strcmp(type, "EQ") == 0) {
        xmlChar *unit = xmlGetProp(sev, (const xmlChar *)"unit");
        xmlChar *val = xmlGetProp(sev, (const xmlChar *)"value");
        if (unit && val && strcmp((const char *)unit, "M") == 0)
            ev->magnitude = coord((const char *)val, -2, 12);
        xmlFree(unit);
        xmlFree(val);
    }
    if (strcmp(type, "TC") == 0)
        ev->typhoon_name = anpi_ovx_child_text(item, NS_GDACS, "eventname");
    ev->risk_kind = type;
    type = NULL;
    fill_empty(ev);
out:
    free(type);
    free(id);
    free(episode);
    free(pub);
    return ev;
}

int
anpi_gdacs_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                 size_t errlen)
{
    anpi_ovx_err(err, errlen, "%s", "");
    xmlDocPtr d = NULL;
    int rc = anpi_ovx_read(doc, len, ANPI_GDACS_MAX_DOC, "GDACS", &d, err, errlen);
    if (rc != ANPI_OK)
        return rc;
    const xmlNode *root = xmlDocGetRootElement(d);
    const xmlNode *channel = anpi_ovx_child(root, NULL, "channel");
    if (!anpi_ovx_is(root, NULL, "rss") || !channel) {
        anpi_ovx_err(err, errlen, "GDACS: root element is <%.40s>%s, not RSS <rss><channel>",
                     (const char *)root->name,
                     anpi_ovx_is(root, NULL, "rss") ? " without <channel>" : "");
        xmlFreeDoc(d);
        return ANPI_EPARSE;
    }
    for (const xmlNode *it = anpi_ovx_child(channel, NULL, "item"); it;
         it = anpi_ovx_next(it, NULL, "item")) {
        struct anpi_event *ev = parse_item(it);
        if (ev)
            anpi_event_list_push(out, ev);
    }
    xmlFreeDoc(d);
    return ANPI_OK;
}
