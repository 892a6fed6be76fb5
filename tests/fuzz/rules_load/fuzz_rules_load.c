/* fuzz_rules_load.c - libFuzzer target for the rule loader.
 *
 * The loader reads files (rule file, then templates beside it), so each input
 * is written to rules.yaml in a scratch pack directory that holds one valid
 * template, templates/t.ja.txt, and loaded from there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/rules.h"

static char dir[256], rules_path[300], tmpl_dir[300], tmpl_path[320];

static void
cleanup(void)
{
    unlink(rules_path);
    unlink(tmpl_path);
    rmdir(tmpl_dir);
    rmdir(dir);
}

static int
init(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof(dir), "%s/anpi-fuzz-rules-XXXXXX", base);
    if (!mkdtemp(dir))
        return -1;
    snprintf(rules_path, sizeof(rules_path), "%s/rules.yaml", dir);
    snprintf(tmpl_dir, sizeof(tmpl_dir), "%s/templates", dir);
    snprintf(tmpl_path, sizeof(tmpl_path), "%s/t.ja.txt", tmpl_dir);
    if (mkdir(tmpl_dir, 0700) != 0)
        return -1;
    FILE *f = fopen(tmpl_path, "w");
    if (!f)
        return -1;
    fputs("Subject: 安否確認 {{event.hypocenter}}\n\n{{drill_banner}}\n{{person.name}} 様\n"
          "{{reply_url}}\n", f);
    fclose(f);
    atexit(cleanup);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = 0;
    if (!ready) {
        if (init() != 0)
            abort();
        ready = 1;
    }
    FILE *f = fopen(rules_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    const char *paths[] = { rules_path };
    struct anpi_ruleset *rs = NULL;
    struct anpi_errors errs = { 0 };
    int rc = anpi_rules_load(paths, 1, &rs, &errs);
    /* The contract: an error list iff refused, and never a half-loaded set. */
    if ((rc == 0) != (errs.n == 0) || (rc == 0) != (rs != NULL))
        abort();
    if (rs) {
        /* Exercise what the engine does with a loaded rule, for every event
         * type (each has its own matcher). */
        struct anpi_event *ev = anpi_event_new();
        ev->event_key = anpi_xstrdup("20240101000000");
        ev->occurred_at = 1700000000;
        ev->pref_intensity[13] = ANPI_INT_6L;
        ev->max_intensity = ANPI_INT_6L;
        ev->pref_tsunami[3] = ANPI_TS_WARNING;
        ev->max_tsunami = ANPI_TS_WARNING;
        ev->nweather = 1;
        ev->weather = anpi_xcalloc(1, sizeof(*ev->weather));
        ev->weather[0].pref = 12;
        ev->weather[0].kind_name = anpi_xstrdup("大雨警報");
        ev->weather[0].level = ANPI_WX_WARNING;
        ev->pref_weather[12] = ANPI_WX_WARNING;
        ev->max_weather = ANPI_WX_WARNING;
        ev->missile_phase = ANPI_MS_LAUNCH;
        ev->target_prefs = ANPI_PREFSET_BIT(47);
        memcpy(ev->country, "TH", 3);
        ev->risk_level = 3;
        ev->risk_kind = anpi_xstrdup("T40");
        static const enum anpi_event_type types[] = {
            ANPI_EV_EARTHQUAKE, ANPI_EV_EEW, ANPI_EV_TSUNAMI, ANPI_EV_WEATHER,
            ANPI_EV_MISSILE, ANPI_EV_OVERSEAS, ANPI_EV_MANUAL,
        };
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            ev->type = types[t];
            for (size_t i = 0; i < rs->nrules; i++) {
                anpi_prefset aff;
                char why[256];
                struct anpi_group_decision d;
                anpi_rule_match(&rs->rules[i], ev, ANPI_PREFSET_BIT(13), &aff, why, sizeof(why));
                anpi_group_decide(&rs->rules[i], ev, aff, NULL, 0, ev->occurred_at, &d);
                anpi_rule_next_drill(&rs->rules[i], ev->occurred_at);
            }
        }
        anpi_event_free(ev);
    }
    anpi_ruleset_free(rs);
    anpi_errors_free(&errs);
    return 0;
}
