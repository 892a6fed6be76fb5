/* jma_tsunami.c - VTSE41 / VTSE51 / VTSE52 tsunami bodies (FEEDS.md §1.6).
 *
 * Field mapping (paths below /Report; Body children in the seismology1
 * namespace, jmx_eb: = elementBasis1):
 *
 *   Head/ValidDateTime (jma_xml.c)                    -> valid_until
 *   Body/Tsunami/Forecast/Item          (VTSE41, 51)  -> tsunami[] one per item
 *   Body/Tsunami/Estimation/Item        (VTSE52)      -> tsunami[] one per item
 *     Area/Code, Area/Name                            -> .code, .name
 *     Area/Code via tsunami_areas.c                   -> .prefs
 *     Category/Kind/Code (Name if the code is new)    -> .kind_code, .grade
 *     Category/LastKind/Code                          -> .last_grade
 *     FirstHeight/ArrivalTime, else FirstHeight/Condition -> .first_arrival
 *     MaxHeight/jmx_eb:TsunamiHeight/@description,
 *       else its text + "m", else MaxHeight/Condition -> .max_height
 *   strongest .grade per prefecture of .prefs         -> pref_tsunami[]
 *   strongest .grade                                  -> max_tsunami
 *   VTSE52 Estimation item .prefs                     -> target_prefs
 *   VTSE41 with ValidDateTime and no item above 津波予報 -> tsunami_expires
 *
 * Kind codes: 52/53 大津波警報 (53 = newly issued), 51 津波警報, 62 津波注意報,
 * 71/72/73 津波予報（若干の海面変動） (72/73 = after an advisory / warning was
 * lifted), 50 警報解除, 60 津波注意報解除, 00 津波なし.  Each VTSE41 is a
 * complete snapshot for its EventID: consumers replace, never merge.
 * VTSE51 Observation (tide stations) and VTSE52 Observation (offshore
 * sensors) carry no grade and are left to the text (description). */
#include "feeds/jma/jma_tsunami.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/jma_areas.h"
#include "feeds/jma/jmx_dom.h"

static const struct {
    const char *code;
    enum anpi_tsunami_grade grade;
} kind_codes[] = {
    { "52", ANPI_TS_MAJOR }, { "53", ANPI_TS_MAJOR }, { "51", ANPI_TS_WARNING },
    { "62", ANPI_TS_ADVISORY }, { "71", ANPI_TS_FORECAST }, { "72", ANPI_TS_FORECAST },
    { "73", ANPI_TS_FORECAST }, { "50", ANPI_TS_NONE }, { "60", ANPI_TS_NONE },
    { "00", ANPI_TS_NONE },
};

enum anpi_tsunami_grade
anpi_jma_tsunami_grade(const char *code, const char *name)
{
    if (code)
        for (size_t i = 0; i < ANPI_ARRAY_LEN(kind_codes); i++)
            if (strcmp(code, kind_codes[i].code) == 0)
                return kind_codes[i].grade;
    /* A code JMA adds later: the name still says what it is.  解除 first,
     * since "警報解除" contains "警報". */
    if (!name || strstr(name, "解除") || strstr(name, "なし"))
        return ANPI_TS_NONE;
    if (strstr(name, "大津波警報"))
        return ANPI_TS_MAJOR;
    if (strstr(name, "津波警報"))
        return ANPI_TS_WARNING;
    if (strstr(name, "津波注意報"))
        return ANPI_TS_ADVISORY;
    if (strstr(name, "津波予報"))
        return ANPI_TS_FORECAST;
    return ANPI_TS_NONE;
}

static enum anpi_tsunami_grade
grade_of(const xmlNode *kind, const char *ns, char **code_out)
{
    char *code = anpi_jmx_text(anpi_jmx_child(kind, ns, "Code"));
    char *name = anpi_jmx_text(anpi_jmx_child(kind, ns, "Name"));
    enum anpi_tsunami_grade g = anpi_jma_tsunami_grade(code, name);
    free(name);
    if (code_out)
        *code_out = code ? code : anpi_xstrdup("");
    else
        free(code);
    return g;
}

static char *
first_arrival(const xmlNode *fh, const char *ns)
{
    char *t = anpi_jmx_text(anpi_jmx_child(fh, ns, "ArrivalTime"));
    if (t && *t)
        return t;
    free(t);
    return anpi_jmx_text0(anpi_jmx_child(fh, ns, "Condition"));
}

static char *
max_height(const xmlNode *mh, const char *ns)
{
    const xmlNode *th = anpi_jmx_child(mh, ANPI_NS_EB, "TsunamiHeight");
    if (th) {
        char *d = anpi_jmx_attr(th, "description");
        if (d && *d)
            return d;
        free(d);
        char *v = anpi_jmx_text0(th);
        if (*v && strcmp(v, "NaN") != 0) {
            char *r = anpi_xasprintf("%sm", v);
            free(v);
            return r;
        }
        free(v);
    }
    return anpi_jmx_text0(anpi_jmx_child(mh, ns, "Condition"));
}

static void
add_item(struct anpi_event *ev, size_t *cap, const xmlNode *item, const char *ns)
{
    if (ev->ntsunami >= ANPI_JMA_MAX_TSUNAMI_ITEMS)
        return;
    if (ev->ntsunami == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        ev->tsunami = anpi_xrealloc(ev->tsunami, *cap * sizeof(*ev->tsunami));
    }
    struct anpi_tsunami_area *a = &ev->tsunami[ev->ntsunami++];
    memset(a, 0, sizeof(*a));
    const xmlNode *area = anpi_jmx_child(item, ns, "Area");
    a->code = anpi_jmx_text0(anpi_jmx_child(area, ns, "Code"));
    a->name = anpi_jmx_text0(anpi_jmx_child(area, ns, "Name"));
    const struct anpi_jma_tsunami_area *def = anpi_jma_tsunami_area(a->code);
    a->prefs = def ? def->prefs : 0;
    const xmlNode *cat = anpi_jmx_child(item, ns, "Category");
    const xmlNode *kind = anpi_jmx_child(cat, ns, "Kind");
    if (kind) {
        a->grade = grade_of(kind, ns, &a->kind_code);
    } else {
        a->grade = ANPI_TS_NONE;
        a->kind_code = anpi_xstrdup("");
    }
    const xmlNode *last = anpi_jmx_child(cat, ns, "LastKind");
    a->last_grade = last ? grade_of(last, ns, NULL) : ANPI_TS_NONE;
    a->first_arrival = first_arrival(anpi_jmx_child(item, ns, "FirstHeight"), ns);
    a->max_height = max_height(anpi_jmx_child(item, ns, "MaxHeight"), ns);
}

void
anpi_jma_read_tsunami(struct anpi_event *ev, const xmlNode *body, const char *ns)
{
    const xmlNode *ts = anpi_jmx_child(body, ns, "Tsunami");
    size_t cap = 0;
    const xmlNode *fc = anpi_jmx_child(ts, ns, "Forecast");
    for (const xmlNode *it = anpi_jmx_child(fc, ns, "Item"); it; it = anpi_jmx_next(it, ns, "Item"))
        add_item(ev, &cap, it, ns);
    size_t nforecast = ev->ntsunami;
    const xmlNode *es = anpi_jmx_child(ts, ns, "Estimation");
    for (const xmlNode *it = anpi_jmx_child(es, ns, "Item"); it; it = anpi_jmx_next(it, ns, "Item"))
        add_item(ev, &cap, it, ns);
    /* Offshore estimates (VTSE52) name coasts without a grade: the event
     * still concerns those prefectures. */
    for (size_t i = nforecast; i < ev->ntsunami; i++)
        ev->target_prefs |= ev->tsunami[i].prefs;

    for (size_t i = 0; i < ev->ntsunami; i++) {
        const struct anpi_tsunami_area *a = &ev->tsunami[i];
        if (a->grade > ev->max_tsunami)
            ev->max_tsunami = a->grade;
        for (int p = 1; p <= ANPI_PREF_COUNT; p++)
            if ((a->prefs & ANPI_PREFSET_BIT(p)) && a->grade > ev->pref_tsunami[p])
                ev->pref_tsunami[p] = a->grade;
    }
    /* A 津波予報 with a validity end is never cancelled (FEEDS.md §1.6):
     * the engine must close the incident itself at valid_until. */
    ev->tsunami_expires = strcmp(ev->kind, "VTSE41") == 0 && ev->valid_until != 0 &&
                          ev->max_tsunami <= ANPI_TS_FORECAST;
}
