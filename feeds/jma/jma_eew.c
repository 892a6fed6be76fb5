/* jma_eew.c - 緊急地震速報 (EEW) bodies: VXSE43 警報, VXSE44 予報, VXSE45
 * 地震動予報, VXSE42 配信テスト (FEEDS.md §1.7).
 *
 * Field mapping (paths below /Report; Body in the seismology1 namespace):
 *
 *   Body/Earthquake/... (jma_xml.c, as for 地震情報) -> occurred_at, hypocenter,
 *                                                     lat/lon/depth_km, magnitude
 *   Body/Intensity/Forecast/ForecastInt/To, or From when To is absent or
 *     "over" (程度以上: at least From)               -> max_intensity
 *   Body/Intensity/Forecast/Pref/Code (緊急地震速報／府県予報区, 4 digits,
 *     NOT JIS; eew_areas.c)                         -> the prefecture of ...
 *   .../Pref/Area/ForecastInt/To (else From)        -> pref_intensity[] (max per
 *                                                     prefecture over its areas)
 *   Control/Title 緊急地震速報（警報） (VXSE43), or any
 *     .../Pref/Area/Category/Kind/Code 10/11/19 (警報 area), or
 *     Head/Headline/Information/Item/Kind/Code 31  -> eew_warning
 *   Body/NextAdvisory present (最終報), or InfoType 取消 -> eew_final
 *   Head/Serial (jma_xml.c)                         -> serial
 *
 * A 取消 carries only Body/Text: no forecast is read from it.  The forecast of
 * an area whose value cannot be read stays NONE; it never lowers another. */
#include "feeds/jma/jma_eew.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/jma_areas.h"
#include "feeds/jma/jmx_dom.h"

/* The forecast of one ForecastInt: To when it is an intensity, else From
 * ("over" and a missing To both mean "From or more"). */
static enum anpi_intensity
forecast_of(const xmlNode *fi, const char *ns)
{
    enum anpi_intensity to = anpi_jmx_intensity(anpi_jmx_child(fi, ns, "To"));
    enum anpi_intensity from = anpi_jmx_intensity(anpi_jmx_child(fi, ns, "From"));
    return anpi_jmx_stronger(to, from);
}

static int
is_warning_code(const char *code)
{
    return code && (strcmp(code, "10") == 0 || strcmp(code, "11") == 0 ||
                    strcmp(code, "19") == 0 || strcmp(code, "31") == 0);
}

static int
kind_is_warning(const xmlNode *kind, const char *ns)
{
    char *code = anpi_jmx_text(anpi_jmx_child(kind, ns, "Code"));
    int w = is_warning_code(code);
    free(code);
    return w;
}

static int
headline_warns(const xmlNode *head)
{
    const xmlNode *hl = anpi_jmx_child(head, ANPI_NS_IB, "Headline");
    for (const xmlNode *inf = anpi_jmx_child(hl, ANPI_NS_IB, "Information"); inf;
         inf = anpi_jmx_next(inf, ANPI_NS_IB, "Information"))
        for (const xmlNode *it = anpi_jmx_child(inf, ANPI_NS_IB, "Item"); it;
             it = anpi_jmx_next(it, ANPI_NS_IB, "Item"))
            if (kind_is_warning(anpi_jmx_child(it, ANPI_NS_IB, "Kind"), ANPI_NS_IB))
                return 1;
    return 0;
}

void
anpi_jma_read_eew(struct anpi_event *ev, const xmlNode *head, const xmlNode *body,
                  const char *ns)
{
    ev->eew_final = ev->info_type == ANPI_IT_CANCEL ||
                    anpi_jmx_child(body, ns, "NextAdvisory") != NULL;
    if (ev->info_type == ANPI_IT_CANCEL)
        return;
    ev->eew_warning = strcmp(ev->kind, "VXSE43") == 0 || headline_warns(head);

    const xmlNode *fc = anpi_jmx_child(anpi_jmx_child(body, ns, "Intensity"), ns, "Forecast");
    ev->max_intensity = anpi_jmx_stronger(ev->max_intensity,
                                          forecast_of(anpi_jmx_child(fc, ns, "ForecastInt"), ns));
    for (const xmlNode *p = anpi_jmx_child(fc, ns, "Pref"); p; p = anpi_jmx_next(p, ns, "Pref")) {
        char *code = anpi_jmx_text(anpi_jmx_child(p, ns, "Code"));
        int pc = anpi_jma_eew_pref(code);
        free(code);
        for (const xmlNode *a = anpi_jmx_child(p, ns, "Area"); a; a = anpi_jmx_next(a, ns, "Area")) {
            if (kind_is_warning(anpi_jmx_child(anpi_jmx_child(a, ns, "Category"), ns, "Kind"), ns))
                ev->eew_warning = true;
            enum anpi_intensity v = forecast_of(anpi_jmx_child(a, ns, "ForecastInt"), ns);
            if (pc)
                ev->pref_intensity[pc] = anpi_jmx_stronger(ev->pref_intensity[pc], v);
            /* The whole-event range is normally the maximum of the areas;
             * never report less than an area forecasts. */
            ev->max_intensity = anpi_jmx_stronger(ev->max_intensity, v);
        }
    }
}
