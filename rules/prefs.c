/* prefs.c - the prefecture table (JIS X 0401): names, adjacency, centroids.
 *
 * Adjacency is what aftershock grouping means by "adjacent area".  It is the
 * land borders plus the fixed links people and quakes treat as one region:
 *   北海道-青森県 (Seikan tunnel), 千葉県-神奈川県 (Tokyo Bay Aqua-Line),
 *   兵庫県-徳島県 (Akashi-Kaikyo / Onaruto bridges via Awaji island),
 *   岡山県-香川県 (Seto-Ohashi), 広島県-愛媛県 (Shimanami Kaido),
 *   山口県-福岡県 (Kanmon straits).
 * Other sea neighbours (e.g. 大阪府-徳島県 across the bay) are left out on
 * purpose: "adjacent" should pull in the next-door prefecture, not half of
 * western Japan.  沖縄県 has no neighbours.
 *
 * Centroids are the prefectural offices' locations (rounded to 0.001 deg);
 * they are good enough for "within 100 km" and are only used as a fallback
 * reference point by callers. */
#include "rules/rules.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct pref {
    const char *name;      /* 東京都 */
    const char *shortname; /* 東京 (name without 都道府県; 北海道 stays whole) */
    const char *romaji;
    double lat, lon;
} prefs[ANPI_PREF_COUNT + 1] = {
    [1] = { "北海道", "北海道", "hokkaido", 43.064, 141.347 },
    [2] = { "青森県", "青森", "aomori", 40.824, 140.740 },
    [3] = { "岩手県", "岩手", "iwate", 39.704, 141.153 },
    [4] = { "宮城県", "宮城", "miyagi", 38.269, 140.872 },
    [5] = { "秋田県", "秋田", "akita", 39.719, 140.102 },
    [6] = { "山形県", "山形", "yamagata", 38.240, 140.364 },
    [7] = { "福島県", "福島", "fukushima", 37.750, 140.468 },
    [8] = { "茨城県", "茨城", "ibaraki", 36.342, 140.447 },
    [9] = { "栃木県", "栃木", "tochigi", 36.566, 139.884 },
    [10] = { "群馬県", "群馬", "gunma", 36.391, 139.061 },
    [11] = { "埼玉県", "埼玉", "saitama", 35.857, 139.649 },
    [12] = { "千葉県", "千葉", "chiba", 35.605, 140.123 },
    [13] = { "東京都", "東京", "tokyo", 35.690, 139.692 },
    [14] = { "神奈川県", "神奈川", "kanagawa", 35.448, 139.643 },
    [15] = { "新潟県", "新潟", "niigata", 37.902, 139.023 },
    [16] = { "富山県", "富山", "toyama", 36.695, 137.211 },
    [17] = { "石川県", "石川", "ishikawa", 36.594, 136.626 },
    [18] = { "福井県", "福井", "fukui", 36.065, 136.222 },
    [19] = { "山梨県", "山梨", "yamanashi", 35.664, 138.568 },
    [20] = { "長野県", "長野", "nagano", 36.651, 138.181 },
    [21] = { "岐阜県", "岐阜", "gifu", 35.391, 136.722 },
    [22] = { "静岡県", "静岡", "shizuoka", 34.977, 138.383 },
    [23] = { "愛知県", "愛知", "aichi", 35.180, 136.907 },
    [24] = { "三重県", "三重", "mie", 34.730, 136.509 },
    [25] = { "滋賀県", "滋賀", "shiga", 35.004, 135.868 },
    [26] = { "京都府", "京都", "kyoto", 35.021, 135.756 },
    [27] = { "大阪府", "大阪", "osaka", 34.686, 135.520 },
    [28] = { "兵庫県", "兵庫", "hyogo", 34.691, 135.183 },
    [29] = { "奈良県", "奈良", "nara", 34.685, 135.833 },
    [30] = { "和歌山県", "和歌山", "wakayama", 34.226, 135.168 },
    [31] = { "鳥取県", "鳥取", "tottori", 35.504, 134.238 },
    [32] = { "島根県", "島根", "shimane", 35.472, 133.051 },
    [33] = { "岡山県", "岡山", "okayama", 34.662, 133.935 },
    [34] = { "広島県", "広島", "hiroshima", 34.397, 132.460 },
    [35] = { "山口県", "山口", "yamaguchi", 34.186, 131.471 },
    [36] = { "徳島県", "徳島", "tokushima", 34.066, 134.559 },
    [37] = { "香川県", "香川", "kagawa", 34.340, 134.043 },
    [38] = { "愛媛県", "愛媛", "ehime", 33.842, 132.766 },
    [39] = { "高知県", "高知", "kochi", 33.560, 133.531 },
    [40] = { "福岡県", "福岡", "fukuoka", 33.607, 130.418 },
    [41] = { "佐賀県", "佐賀", "saga", 33.249, 130.299 },
    [42] = { "長崎県", "長崎", "nagasaki", 32.745, 129.874 },
    [43] = { "熊本県", "熊本", "kumamoto", 32.790, 130.742 },
    [44] = { "大分県", "大分", "oita", 33.238, 131.613 },
    [45] = { "宮崎県", "宮崎", "miyazaki", 31.911, 131.424 },
    [46] = { "鹿児島県", "鹿児島", "kagoshima", 31.560, 130.558 },
    [47] = { "沖縄県", "沖縄", "okinawa", 26.212, 127.681 },
};

/* Each border once; anpi_pref_neighbours() looks both ways, so the relation
 * is symmetric by construction. */
static const unsigned char borders[][2] = {
    { 1, 2 },                                                   /* Seikan tunnel */
    { 2, 3 }, { 2, 5 },
    { 3, 4 }, { 3, 5 },
    { 4, 5 }, { 4, 6 }, { 4, 7 },
    { 5, 6 },
    { 6, 7 }, { 6, 15 },
    { 7, 8 }, { 7, 9 }, { 7, 10 }, { 7, 15 },
    { 8, 9 }, { 8, 11 }, { 8, 12 },
    { 9, 10 }, { 9, 11 },
    { 10, 11 }, { 10, 15 }, { 10, 20 },
    { 11, 12 }, { 11, 13 }, { 11, 19 }, { 11, 20 },
    { 12, 13 }, { 12, 14 },                                     /* 12-14: Aqua-Line */
    { 13, 14 }, { 13, 19 },
    { 14, 19 }, { 14, 22 },
    { 15, 16 }, { 15, 20 },
    { 16, 17 }, { 16, 20 }, { 16, 21 },
    { 17, 18 }, { 17, 21 },
    { 18, 21 }, { 18, 25 }, { 18, 26 },
    { 19, 20 }, { 19, 22 },
    { 20, 21 }, { 20, 22 }, { 20, 23 },
    { 21, 23 }, { 21, 24 }, { 21, 25 },
    { 22, 23 },
    { 23, 24 },
    { 24, 25 }, { 24, 26 }, { 24, 29 }, { 24, 30 },
    { 25, 26 },
    { 26, 27 }, { 26, 28 }, { 26, 29 },
    { 27, 28 }, { 27, 29 }, { 27, 30 },
    { 28, 31 }, { 28, 33 }, { 28, 36 },                         /* 28-36: Awaji bridges */
    { 29, 30 },
    { 31, 32 }, { 31, 33 }, { 31, 34 },
    { 32, 34 }, { 32, 35 },
    { 33, 34 }, { 33, 37 },                                     /* 33-37: Seto-Ohashi */
    { 34, 35 }, { 34, 38 },                                     /* 34-38: Shimanami */
    { 35, 40 },                                                 /* Kanmon */
    { 36, 37 }, { 36, 38 }, { 36, 39 },
    { 37, 38 },
    { 38, 39 },
    { 40, 41 }, { 40, 43 }, { 40, 44 },
    { 41, 42 },
    { 43, 44 }, { 43, 45 }, { 43, 46 },
    { 44, 45 },
    { 45, 46 },
};

const char *
anpi_pref_name(int code)
{
    if (code < 1 || code > ANPI_PREF_COUNT)
        return NULL;
    return prefs[code].name;
}

int
anpi_pref_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    if (s[0] >= '0' && s[0] <= '9') {
        int64_t v;
        if (strlen(s) > 2 || anpi_parse_int64(s, 1, ANPI_PREF_COUNT, &v) != ANPI_OK)
            return -1;
        return (int)v;
    }
    for (int i = 1; i <= ANPI_PREF_COUNT; i++) {
        if (strcmp(s, prefs[i].name) == 0 || strcmp(s, prefs[i].shortname) == 0 ||
            strcasecmp(s, prefs[i].romaji) == 0)
            return i;
    }
    return -1;
}

anpi_prefset
anpi_pref_neighbours(int code)
{
    anpi_prefset s = 0;
    if (code < 1 || code > ANPI_PREF_COUNT)
        return 0;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(borders); i++) {
        if (borders[i][0] == code)
            s |= ANPI_PREFSET_BIT(borders[i][1]);
        else if (borders[i][1] == code)
            s |= ANPI_PREFSET_BIT(borders[i][0]);
    }
    return s;
}

void
anpi_prefset_format(anpi_prefset s, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 1; i <= ANPI_PREF_COUNT; i++) {
        if (!(s & ANPI_PREFSET_BIT(i)))
            continue;
        const char *sep = used ? ", " : "";
        size_t need = strlen(sep) + strlen(prefs[i].name);
        /* Stop at a whole name so the text never ends in half a character. */
        if (used + need + 1 > len)
            break;
        memcpy(buf + used, sep, strlen(sep));
        memcpy(buf + used + strlen(sep), prefs[i].name, strlen(prefs[i].name));
        used += need;
        buf[used] = '\0';
    }
}

int
anpi_pref_centroid(int code, double *lat, double *lon)
{
    if (code < 1 || code > ANPI_PREF_COUNT)
        return ANPI_ENOTFOUND;
    *lat = prefs[code].lat;
    *lon = prefs[code].lon;
    return ANPI_OK;
}

double
anpi_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    /* Haversine on a sphere of mean Earth radius: error well under 1% at the
     * distances aftershock grouping cares about. */
    const double r = 6371.0, d2r = M_PI / 180.0;
    double dlat = (lat2 - lat1) * d2r, dlon = (lon2 - lon1) * d2r;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * d2r) * cos(lat2 * d2r) * sin(dlon / 2) * sin(dlon / 2);
    if (a > 1.0)
        a = 1.0;
    return 2.0 * r * asin(sqrt(a));
}
