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

/* Tsunami grades (津波警報・注意報・予報), ordered. */
enum anpi_tsunami_grade {
    ANPI_TS_NONE = 0,       /* 津波なし / lifted (解除) */
    ANPI_TS_FORECAST,       /* 津波予報（若干の海面変動） */
    ANPI_TS_ADVISORY,       /* 津波注意報 */
    ANPI_TS_WARNING,        /* 津波警報 */
    ANPI_TS_MAJOR,          /* 大津波警報 */
};

struct anpi_tsunami_area {
    char *code;             /* 津波予報区 3-digit code, e.g. "210" */
    char *name;             /* 岩手県 */
    anpi_prefset prefs;     /* prefectures the forecast area lies in (one or more) */
    enum anpi_tsunami_grade grade, last_grade;
    char *kind_code;        /* JMA Kind/Code, e.g. "51" */
    char *first_arrival;    /* ISO time or condition text ("ただちに津波来襲と予測"), "" */
    char *max_height;       /* description, e.g. "３ｍ", "巨大", "" */
};

/* Weather warning levels (気象警報・注意報), ordered. */
enum anpi_weather_level {
    ANPI_WX_NONE = 0,       /* 解除 or nothing */
    ANPI_WX_ADVISORY,       /* 注意報 */
    ANPI_WX_WARNING,        /* 警報 */
    ANPI_WX_EMERGENCY,      /* 特別警報 */
};

struct anpi_weather_item {
    char *area_code;        /* 市町村等 or 府県予報区 code as in the document */
    char *area_name;
    int pref;               /* JIS prefecture code, 0 when unknown */
    char *kind_code;        /* e.g. "03" 大雨警報 */
    char *kind_name;        /* 大雨警報 */
    enum anpi_weather_level level;
    char *status;           /* 発表 / 継続 / 解除 / 特別警報から警報 ... */
};

/* Civil-protection (国民保護) / missile phases. */
enum anpi_missile_phase {
    ANPI_MS_NONE = 0,
    ANPI_MS_LAUNCH,         /* ミサイル発射 */
    ANPI_MS_IMMINENT,       /* 直ちに避難 (落下のおそれ) */
    ANPI_MS_IMPACT,         /* 落下 (領土・領海) */
    ANPI_MS_OVERFLIGHT,     /* 通過 */
    ANPI_MS_IMPACT_OUTSIDE, /* 落下 (領海外 / EEZ) */
    ANPI_MS_INTERCEPTION,   /* 迎撃 */
    ANPI_MS_ALL_CLEAR,      /* 解除 / 飛来しない */
    ANPI_MS_OTHER,          /* other civil-protection hazard (air strike, ...) */
};

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

    /* general */
    char *description;      /* human text of the report (Body/Text, CAP description, MOFA lead), "" */
    char *url;              /* link to the source's page for people, "" */
    anpi_prefset target_prefs;   /* prefectures the event names when not via intensity/tsunami/weather */

    /* tsunami (VTSE41/51/52) */
    size_t ntsunami;
    struct anpi_tsunami_area *tsunami;
    enum anpi_tsunami_grade max_tsunami;
    enum anpi_tsunami_grade pref_tsunami[ANPI_PREF_COUNT + 1];   /* strongest grade per prefecture */
    bool tsunami_expires;   /* 津波予報 with Head/ValidDateTime: no cancellation will follow */
    int64_t valid_until;    /* Head/ValidDateTime, 0 when absent */

    /* weather (VPWW5x) and typhoon (VPTW6x) */
    size_t nweather;
    struct anpi_weather_item *weather;
    enum anpi_weather_level max_weather;
    enum anpi_weather_level pref_weather[ANPI_PREF_COUNT + 1];
    char *typhoon_name;     /* "台風第10号 (HAISHEN)", "" */
    char *typhoon_class;    /* "台風(TS)", "熱帯低気圧(TD)", "" */
    int typhoon_pressure_hpa;    /* 0 unknown */
    double typhoon_wind_ms;      /* max sustained wind, NAN unknown */

    /* EEW (VXSE43/44/45): forecast intensity per prefecture goes into pref_intensity */
    bool eew_warning;       /* 警報 (VXSE43) vs 予報 */
    bool eew_final;         /* last report (NextAdvisory / final flag) */

    /* missile / civil protection (CAP, QZSS DCX) */
    enum anpi_missile_phase missile_phase;
    char *hazard;           /* CAP info/event or DCX hazard text */

    /* overseas (MOFA, GDACS) */
    char country[3];        /* ISO 3166-1 alpha-2, "" when none; see ncountries for more */
    size_t ncountries;
    char (*countries)[3];   /* every country the report names (alpha-2) */
    int risk_level;         /* MOFA 1-4; GDACS Green=1, Orange=2, Red=3; 0 none */
    char *risk_kind;        /* MOFA infoType (T40, C30, ...) or GDACS eventtype (EQ, TC, ...) */
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

const char *anpi_tsunami_grade_name(enum anpi_tsunami_grade g);   /* "none","forecast","advisory","warning","major" */
int anpi_tsunami_grade_parse(const char *s, enum anpi_tsunami_grade *out);
const char *anpi_tsunami_grade_label_ja(enum anpi_tsunami_grade g);  /* "津波警報" */
const char *anpi_weather_level_name(enum anpi_weather_level l);   /* "none","advisory","warning","emergency" */
int anpi_weather_level_parse(const char *s, enum anpi_weather_level *out);
const char *anpi_missile_phase_name(enum anpi_missile_phase p);   /* "launch","imminent",... */
int anpi_missile_phase_parse(const char *s, enum anpi_missile_phase *out);

/* Prefectures affected at or over `threshold` (by rank). */
anpi_prefset anpi_event_prefs_at_least(const struct anpi_event *ev, enum anpi_intensity threshold);

#endif
