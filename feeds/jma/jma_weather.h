/* jma_weather.h - meteorology bodies: weather warnings (VPWW53/54), typhoon
 * analysis (VPTW60-65) and typhoon text (VPTI50-52) -> an event
 * (internal to feeds/jma; called by anpi_jma_parse). */
#ifndef ANPI_FEEDS_JMA_WEATHER_H
#define ANPI_FEEDS_JMA_WEATHER_H

#include <libxml/tree.h>

#include "feeds/event.h"

/* Hard cap on warning items kept per telegram: a prefecture has at most a
 * few hundred 市町村等 times some 25 kinds. */
#define ANPI_JMA_MAX_WEATHER_ITEMS 20000

/* Level of a 気象警報・注意報 Kind: Status 解除 / 発表警報・注意報はなし -> NONE;
 * else by Code (02-08 警報, 10-27 注意報, 32-38 特別警報), else by Name. */
enum anpi_weather_level anpi_jma_weather_level(const char *code, const char *name,
                                               const char *status);

/* Fill the weather / typhoon fields from body (namespace ns). */
void anpi_jma_read_weather(struct anpi_event *ev, const xmlNode *body, const char *ns);

#endif
