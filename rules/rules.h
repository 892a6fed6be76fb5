/* rules.h - the rule language: loading, matching, aftershock grouping,
 * templates and the prefecture table.
 *
 * rules/ is pure C over plain structs: no event loop, no database, no I/O
 * except reading rule and template files in anpi_rules_load().  Everything
 * here can be replayed against recorded events (anpictl simulate). */
#ifndef ANPI_RULES_H
#define ANPI_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feeds/event.h"
#include "engine/anpi.h"

enum anpi_on_timeout { ANPI_TIMEOUT_HOLD = 0, ANPI_TIMEOUT_SEND, ANPI_TIMEOUT_ESCALATE };
enum anpi_area_mode { ANPI_AREA_SAME = 0, ANPI_AREA_ADJACENT, ANPI_AREA_RADIUS };

struct anpi_question { char *id; char *text; size_t nchoices; char **choices; };

struct anpi_template { char *subject; char *text; char *html; /* html may be NULL */ };

struct anpi_rule {
    char *id, *pack, *file;  int line;             /* where it was defined */
    /* when */
    enum anpi_event_type event;        /* the first of event_types (UNKNOWN for a drill rule) */
    unsigned event_types;              /* bit (1u << ANPI_EV_x); 0 only for a scheduled drill rule */
    unsigned statuses;                 /* bit (1u << ANPI_ST_x); default: actual only */
    enum anpi_intensity intensity_at_least;        /* ANPI_INT_NONE = no intensity condition (earthquake, eew) */
    bool where_staff_regions;          /* where: staff_regions */
    anpi_prefset where_prefs;          /* where: [list of codes]; 0 = anywhere */
    enum anpi_tsunami_grade tsunami_at_least;      /* ANPI_TS_NONE = no condition */
    enum anpi_weather_level weather_at_least;      /* ANPI_WX_NONE = no condition */
    char **weather_kinds; size_t nweather_kinds;   /* substrings of kind_name ("大雨"); 0 = any kind */
    bool typhoon_only;                 /* typhoon: true - weather events that carry a typhoon */
    bool eew_warning_only;             /* eew_warning_only: true - 警報 only, not 予報 */
    unsigned missile_phases;           /* bit (1u << ANPI_MS_x); 0 = ANPI_MISSILE_DEFAULT_PHASES */
    int risk_level_at_least;           /* overseas: 0 = no condition, else 1..4 */
    char **risk_kinds; size_t nrisk_kinds;         /* overseas risk_kind codes (T40, EQ, ...); 0 = any */
    char (*countries)[3]; size_t ncountries;       /* ISO alpha-2, upper case; 0 = any country */
    /* incident (safety checks) */
    bool opens_incident;               /* has an incident: section */
    int64_t aftershock_window_s;       /* default 6h */
    enum anpi_area_mode aftershock_area; double aftershock_radius_km;   /* default same */
    char *notify_group;                /* who hears of silent aftershocks; default "duty-officers" */
    bool resend_if_stronger;           /* default true */
    /* approval */
    bool approval_required;            /* approval: none -> false */
    int approvals_required;            /* default 1 */
    char *approver_group;              /* directory group whose members are asked; default "duty-officers" */
    int64_t approval_timeout_s;        /* default 15m */
    enum anpi_on_timeout on_timeout;   char *escalate_group;
    int64_t expiry_s;                  /* incident expiry; 0 = the config's incidents.expiry (default 6h) */
    /* audience */
    bool audience_affected_regions;    /* regions: affected_prefectures */
    anpi_prefset audience_prefs;       /* regions: [codes] */
    char **audience_groups; size_t naudience_groups;   /* members of these directory groups */
    bool audience_travellers;          /* travellers: event_countries - people whose registered trip
                                        * covers today in one of the event's countries (the engine
                                        * resolves it; overseas events only) */
    /* message */
    struct anpi_template message;      /* loaded from the template file at load time */
    struct anpi_template approval_message;   /* request sent to approvers (pack default if absent) */
    struct anpi_template notice_message;     /* aftershock notice to notify_group (pack default if absent) */
    size_t nquestions; struct anpi_question *questions;
    /* follow_up */
    int64_t resend_after_s; int max_resends;       /* 0 / 0: no resends */
    int64_t resend_until_s;            /* no resend round starts later than this after the first
                                        * mail; 0 = until the incident expiry (which caps it anyway) */
    size_t nresend_wording;            /* 0: resends use message (as the first mail) */
    struct anpi_template *resend_wording;   /* [i] = resend round i+1; the last one repeats
                                             * (inline subject/text; html NULL) */
    /* corrections (JMA 訂正) and cancellations (取消) of a report this rule acted on */
    bool send_corrections;             /* on_correction: send (default ignore) */
    bool notify_cancellations;         /* on_cancel: notify (default: rules with an incident, when
                                        * the pack has a cancellation-notice template) */
    struct anpi_template correction_message;     /* loaded iff send_corrections */
    struct anpi_template cancellation_message;   /* loaded iff notify_cancellations */
    bool sender_hr;                    /* sender: hr - from smtp.from_hr, with List-Unsubscribe */
    /* scheduled drill (a rule with schedule: and no when:) */
    int64_t schedule_every_s;          /* 0 = not a drill rule */
    int schedule_at_min;               /* minutes after midnight JST, -1 = none */
    int64_t schedule_start;            /* first day (JST midnight, s since epoch); 0 = 1970-01-01 JST */
};

/* The missile phases a rule without missile_phases: reacts to. */
#define ANPI_MISSILE_DEFAULT_PHASES                                                     \
    ((1u << ANPI_MS_LAUNCH) | (1u << ANPI_MS_IMMINENT) | (1u << ANPI_MS_IMPACT) |      \
     (1u << ANPI_MS_OVERFLIGHT) | (1u << ANPI_MS_OTHER))

struct anpi_ruleset { size_t nrules; struct anpi_rule *rules; size_t nfiles; char **files; };

/* Limits on rule input (a rule file is trusted-ish admin input, but it is
 * still parsed by code that must not fall over). */
#define ANPI_RULES_MAX_FILE      (1024 * 1024)   /* bytes per rule file */
#define ANPI_RULES_MAX_DEPTH     32              /* YAML nesting levels */
#define ANPI_TEMPLATE_MAX_FILE   (64 * 1024)     /* bytes per template file */
#define ANPI_RULES_MAX_CHOICES   10
#define ANPI_RULES_MAX_RESENDS   10              /* follow_up.max_resends and wording entries */
#define ANPI_RULES_MAX_SUBJECT   300             /* bytes of an inline (follow_up.wording) subject */

/* Load rule files. Each path is a YAML file or a directory (every *.yaml / *.yml in it, sorted,
 * recursively). Template names resolve to <dir of the rule file>/templates/<name>.ja.txt (and
 * optional <name>.ja.html); a template file starts with "Subject: ..." then a blank line, then the
 * body. Every error is appended to errs as "FILE:LINE:COL: message"; on any error returns
 * ANPI_EPARSE and *out is NULL (a bad file is refused as a whole). */
int anpi_rules_load(const char *const *paths, size_t npaths, struct anpi_ruleset **out,
                    struct anpi_errors *errs);
void anpi_ruleset_free(struct anpi_ruleset *rs);
/* The rule with this id, or NULL. */
const struct anpi_rule *anpi_ruleset_find(const struct anpi_ruleset *rs, const char *id);

/* Does the rule match the event?  staff_prefs = prefectures where at least one person lives
 * (used by where: staff_regions).  On a match returns true and sets *affected to the prefectures
 * at or over the threshold (intersected with where): intensity for earthquake/eew, grade for
 * tsunami/weather, target_prefs for missile, always 0 for overseas.  why gets a one-line
 * explanation either way ("intensity 6- in 千葉県 >= 5-", "tsunami warning in 岩手県 >=
 * advisory", "status exercise not enabled for this rule", ...).  Cancellations never match
 * (the engine resolves them by event key); corrections match information rules only with
 * on_correction: send; scheduled drill rules never match. */
bool anpi_rule_match(const struct anpi_rule *r, const struct anpi_event *ev,
                     anpi_prefset staff_prefs, anpi_prefset *affected, char *why, size_t whylen);

/* Scheduled drill rules: the first run strictly after `after` (s since epoch), or 0 when the
 * rule has no schedule.  Runs fall at start + at + k * every (k >= 0, JST), so every: 7d with
 * start on a Monday fires on Mondays. */
int64_t anpi_rule_next_drill(const struct anpi_rule *r, int64_t after);

/* Aftershock grouping (pure).  The engine passes the open incidents of this rule.  Window and
 * area grouping applies to earthquake and eew events only; every other type joins an incident
 * by event key alone. */
struct anpi_incident_state {
    int64_t id;
    const char *const *event_keys; size_t nevent_keys;   /* every event key joined so far */
    int64_t main_occurred_at;          /* main shock origin time (s since epoch) */
    int64_t window_end;                /* main + window (officers may extend it) */
    enum anpi_intensity main_max;      /* strongest intensity of the current round's quake */
    double main_lat, main_lon;         /* NAN if unknown */
    anpi_prefset covered;              /* prefectures whose people are already in the audience */
};
enum anpi_group_action {
    ANPI_GROUP_NEW = 0,       /* open a new incident */
    ANPI_GROUP_SILENT,        /* joins; nobody re-mailed; notify_group is told */
    ANPI_GROUP_ADD_PREFS,     /* joins; only people in add_prefs are added (behind the same gate) */
    ANPI_GROUP_STRONGER,      /* joins; stronger than the main shock: new round to everyone affected (gate) */
};
struct anpi_group_decision {
    enum anpi_group_action action;
    int64_t incident_id;       /* for the join actions */
    anpi_prefset add_prefs;    /* ADD_PREFS: newly covered prefectures; STRONGER: all affected */
    bool same_event;           /* joined by event key (not by window/area) */
    char reason[512];          /* stored and shown: "joined incident 12: same area (千葉県), 0h40m after the main shock" */
};
void anpi_group_decide(const struct anpi_rule *r, const struct anpi_event *ev, anpi_prefset affected,
                       const struct anpi_incident_state *open, size_t nopen, int64_t now,
                       struct anpi_group_decision *out);
const char *anpi_group_action_name(enum anpi_group_action a);   /* "new", "silent", ... */

/* Templates: {{name}} substitution.  lookup returns the value or NULL (unknown -> rendered empty
 * and reported via errs if non-NULL).  html=true escapes values (&<>"'). Returns malloc'd string. */
typedef const char *(*anpi_template_lookup)(void *ctx, const char *name);
char *anpi_template_render(const char *tmpl, anpi_template_lookup lookup, void *ctx, bool html,
                           struct anpi_errors *errs);
/* Checks a template's variables against an allowed list (NULL-terminated); used at load time.
 * Errors read "WHERE:LINE:COL: ..." with line and column inside tmpl. */
int anpi_template_check(const char *tmpl, const char *const *allowed, const char *where,
                        struct anpi_errors *errs);
/* The same, with line numbers offset by first_line - 1 (a template file's body starts
 * after its Subject: line). */
int anpi_template_check_at(const char *tmpl, const char *const *allowed, const char *where,
                           int first_line, struct anpi_errors *errs);
/* The variables a rule's templates may use (NULL-terminated). */
extern const char *const anpi_template_vars[];
/* Value of an event.* variable that is computed from the event alone (event.description,
 * event.url, event.tsunami, event.tsunami_areas, event.weather, event.missile,
 * event.risk_level, event.hazard); malloc'd, "" when the event has none.  NULL for names it
 * does not compute (event.country, event.title, ... are filled by the engine). */
char *anpi_template_event_var(const struct anpi_event *ev, const char *name);

/* Prefecture table (JIS X 0401): names, adjacency (land borders + common sea-bridge neighbours;
 * see prefs.c for the choice), centroids for the radius mode. */
const char *anpi_pref_name(int code);                 /* 13 -> "東京都"; NULL if not 1..47 */
int anpi_pref_parse(const char *s);                   /* "13", "東京都", "tokyo" -> 13; -1 if unknown */
anpi_prefset anpi_pref_neighbours(int code);
void anpi_prefset_format(anpi_prefset s, char *buf, size_t len);   /* "千葉県, 東京都" */
/* Location of the prefectural office: 0, or ANPI_ENOTFOUND for a bad code. */
int anpi_pref_centroid(int code, double *lat, double *lon);
/* Great-circle distance in km. */
double anpi_distance_km(double lat1, double lon1, double lat2, double lon2);

#endif
