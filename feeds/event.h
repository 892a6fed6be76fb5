/* event.h - the normalized event every feed adapter produces.
 *
 * Feeds turn source documents (JMA XML, CAP, ...) into this struct; rules
 * and the engine only ever see this, never the source format.  All strings
 * are heap-allocated UTF-8 owned by the event (free with anpi_event_free). */
#ifndef ANPI_FEEDS_EVENT_H
#define ANPI_FEEDS_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

enum anpi_event_type {
    ANPI_EV_UNKNOWN = 0,
    ANPI_EV_EARTHQUAKE,
    ANPI_EV_EEW,
    ANPI_EV_TSUNAMI,
    ANPI_EV_WEATHER,
    ANPI_EV_MISSILE,
    ANPI_EV_OVERSEAS,
    ANPI_EV_MANUAL,
};

enum anpi_event_status { ANPI_ST_ACTUAL = 0, ANPI_ST_EXERCISE, ANPI_ST_TEST };

enum anpi_info_type { ANPI_IT_ISSUE = 0, ANPI_IT_CORRECTION, ANPI_IT_CANCEL, ANPI_IT_DELAY };

/* JMA seismic intensity (震度階級).  The numeric values are NOT ranks for the
 * unreported marker: always compare with anpi_intensity_rank(). */
enum anpi_intensity {
    ANPI_INT_NONE = 0,      /* not reported / not applicable */
    ANPI_INT_1 = 1, ANPI_INT_2, ANPI_INT_3, ANPI_INT_4,
    ANPI_INT_5L,            /* 5- (5弱) */
    ANPI_INT_5U,            /* 5+ (5強) */
    ANPI_INT_6L,            /* 6- */
    ANPI_INT_6U,            /* 6+ */
    ANPI_INT_7,
    ANPI_INT_5L_UNREPORTED, /* 震度５弱以上未入電: at least 5-, value not received */
};

#define ANPI_PREF_COUNT 47  /* JIS X 0401 codes 01..47 */

/* Bit n (1..47) set = prefecture with JIS code n. */
typedef uint64_t anpi_prefset;
#define ANPI_PREFSET_BIT(code) ((anpi_prefset)1 << (code))

struct anpi_city_intensity {
    char *code;             /* 7-digit JMA city code, e.g. "0321300" */
    char *name;             /* 二戸市 */
    int pref;               /* JIS prefecture code 1..47 */
    enum anpi_intensity intensity;
};

struct anpi_event {
    enum anpi_event_type type;
    char *source;           /* "jma", "cap", "api", ... */
    char *doc_id;           /* unique per source: JMA uses Title+EventID+Serial+DateTime (see jma_xml.c) */
    char *kind;             /* data type code when known: "VXSE53"; else "" */
    enum anpi_event_status status;
    enum anpi_info_type info_type;
    char *event_key;        /* JMA EventID; several space-separated for some tsunami reports */
    char *serial;           /* report serial within the event ("" when absent) */
    char *title;            /* Control/Title */
    char *headline;         /* Head/Headline/Text, may be "" */
    char *info_kind;        /* Head/InfoKind, e.g. 地震情報 */
    int64_t issued_at;      /* seconds since epoch (Head/ReportDateTime) */
    int64_t occurred_at;    /* seconds since epoch (origin time), 0 when unknown */
    int64_t created_at;     /* Control/DateTime */

    /* earthquake detail */
    double magnitude;       /* NAN when unknown */
    char *magnitude_text;   /* description, e.g. "Ｍ８を超える巨大地震"; "" when absent */
    char *hypocenter;       /* 震央地名, "" when absent */
    char *hypocenter_code;
    double lat, lon;        /* NAN when unknown */
    int depth_km;           /* -1 unknown, 0 very shallow */
    enum anpi_intensity max_intensity;
    enum anpi_intensity pref_intensity[ANPI_PREF_COUNT + 1];  /* index = JIS code */
    size_t ncities;
    struct anpi_city_intensity *cities;
};

struct anpi_event *anpi_event_new(void);
void anpi_event_free(struct anpi_event *ev);

const char *anpi_event_type_name(enum anpi_event_type t);   /* "earthquake" */
int anpi_event_type_parse(const char *s, enum anpi_event_type *out);
const char *anpi_event_status_name(enum anpi_event_status s);  /* "actual", "exercise", "test" */
int anpi_event_status_parse(const char *s, enum anpi_event_status *out);
const char *anpi_info_type_name(enum anpi_info_type t);     /* "issue", "correction", "cancel", "delay" */

/* Intensity helpers.  rank: NONE=0, 1..4, 5-=5, 5+=6, 6-=7, 6+=8, 7=9;
 * the unreported marker ranks as 5-. */
int anpi_intensity_rank(enum anpi_intensity i);
/* Accepts "1".."4", "5-", "5+", "6-", "6+", "7", "5弱", "5強", "6弱", "6強",
 * full-width digits, "震度５弱以上未入電"; surrounding whitespace ignored. */
int anpi_intensity_parse(const char *s, enum anpi_intensity *out);
const char *anpi_intensity_name(enum anpi_intensity i);     /* "5-", "!5-" for unreported, "" for none */
const char *anpi_intensity_label_ja(enum anpi_intensity i); /* "震度5弱" */

/* Prefectures affected at or over `threshold` (by rank). */
anpi_prefset anpi_event_prefs_at_least(const struct anpi_event *ev, enum anpi_intensity threshold);

#endif
