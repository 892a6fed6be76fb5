/* jma_test_util.c - file helpers shared by the JMA unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "tests/unit/jma/jma_test_util.h"
#include "engine/anpi.h"
#include "feeds/event_json.h"
#include "feeds/jma/jma_xml.h"

char *
jt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = anpi_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)16 << 20) {
                free(buf);
                fclose(f);
                return NULL;
            }
            cap *= 2;
            buf = anpi_xrealloc(buf, cap + 1);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

const char *
jt_corpus_path(const char *rel)
{
    static char buf[4096];
    const char *shared = getenv("ANPI_SHARED");
    snprintf(buf, sizeof(buf), "%s/corpus/jma/%s", shared ? shared : "(ANPI_SHARED unset)", rel);
    return buf;
}

const char *
jt_source_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("ANPI_SOURCE_ROOT");
    snprintf(buf, sizeof(buf), "%s/%s", root ? root : "(ANPI_SOURCE_ROOT unset)", rel);
    return buf;
}

struct anpi_event *
jt_parse_file(const char *path)
{
    size_t len;
    char *xml = jt_read_file(path, &len);
    if (!xml)
        fail_msg("cannot read %s", path);
    struct anpi_event *ev = NULL;
    char err[256];
    int rc = anpi_jma_parse(xml, len, &ev, err, sizeof(err));
    free(xml);
    if (rc != 0)
        fail_msg("%s: parse failed (%d): %s", path, rc, err);
    return ev;
}

void
jt_assert_json_roundtrip(const struct anpi_event *ev)
{
    json_t *j1 = anpi_event_to_json(ev);
    assert_non_null(j1);
    char *text = json_dumps(j1, JSON_COMPACT);
    assert_non_null(text);
    json_error_t jerr;
    json_t *parsed = json_loads(text, 0, &jerr);
    assert_non_null(parsed);
    struct anpi_event *back = NULL;
    char err[256];
    int rc = anpi_event_from_json(parsed, &back, err, sizeof(err));
    if (rc != 0)
        fail_msg("from_json: %s", err);
    json_t *j2 = anpi_event_to_json(back);
    assert_non_null(j2);
    if (!json_equal(j1, j2)) {
        char *t2 = json_dumps(j2, JSON_COMPACT);
        fail_msg("round trip differs:\n%s\n%s", text, t2);
    }
    json_decref(j1);
    json_decref(j2);
    json_decref(parsed);
    free(text);
    anpi_event_free(back);
}

const struct anpi_city_intensity *
jt_city(const struct anpi_event *ev, const char *code)
{
    for (size_t i = 0; i < ev->ncities; i++)
        if (strcmp(ev->cities[i].code, code) == 0)
            return &ev->cities[i];
    return NULL;
}
