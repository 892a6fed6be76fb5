/* jma_areas.h - JMA area code tables -> JIS X 0401 prefectures.
 *
 * JMA telegrams name places with their own code lists (気象庁防災情報XML
 * 個別コード表), none of which is the JIS prefecture code the rules use:
 *   津波予報区 (3 digits, VTSE41/51/52 Body)            -> tsunami_areas.c
 *   緊急地震速報／府県予報区 (4 digits, EEW Body Pref)   -> eew_areas.c
 *   気象・地震・火山情報／府県予報区等, 一次細分区域等,
 *   市町村等をまとめた地域等 (6 digits), 市町村等 (7)   -> weather_areas.c */
#ifndef ANPI_FEEDS_JMA_AREAS_H
#define ANPI_FEEDS_JMA_AREAS_H

#include "feeds/event.h"

struct anpi_jma_tsunami_area {
    const char *code;       /* "320" */
    const char *name;       /* "伊豆諸島" */
    anpi_prefset prefs;     /* prefectures whose coast the area covers */
};

/* The 津波予報区 with that code, or NULL when it is not one of the 66. */
const struct anpi_jma_tsunami_area *anpi_jma_tsunami_area(const char *code);
/* All 66, in code order (for tests and documentation). */
const struct anpi_jma_tsunami_area *anpi_jma_tsunami_areas(size_t *n);

/* JIS code 1..47 of a 緊急地震速報／府県予報区 code ("9170" -> 17), 0 unknown. */
int anpi_jma_eew_pref(const char *code);
/* Its name as JMA writes it in EEW ("石川", "伊豆諸島"), NULL unknown. */
const char *anpi_jma_eew_pref_name(const char *code);

/* JIS code 1..47 of a weather-warning area code (6-digit 府県予報区等 /
 * 一次細分区域等 / 市町村等をまとめた地域等, or 7-digit 市町村等), 0 when the
 * code has neither form. */
int anpi_jma_weather_area_pref(const char *code);

#endif
