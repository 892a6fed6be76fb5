/* jma_test_util.h - file helpers shared by the JMA unit tests. */
#ifndef ANPI_TEST_JMA_UTIL_H
#define ANPI_TEST_JMA_UTIL_H

#include <stddef.h>

#include "feeds/event.h"

/* Whole file into a new NUL-terminated buffer (capped at 16 MiB); NULL when
 * it cannot be read. */
char *jt_read_file(const char *path, size_t *len);

/* $ANPI_SHARED/corpus/jma/<rel>, or $ANPI_SOURCE_ROOT/<rel>; static buffer. */
const char *jt_corpus_path(const char *rel);
const char *jt_source_path(const char *rel);

/* Parse a file; fails the running test (with the parser's message) when it
 * cannot be read or parsed. */
struct anpi_event *jt_parse_file(const char *path);

/* to_json -> text -> from_json -> to_json must give equal JSON. */
void jt_assert_json_roundtrip(const struct anpi_event *ev);

/* City by code, or NULL. */
const struct anpi_city_intensity *jt_city(const struct anpi_event *ev, const char *code);

#endif
