/* fuzz_jma_xml.c - libFuzzer target for anpi_jma_parse.
 *
 * Every accepted document must also survive event -> JSON text -> event ->
 * JSON unchanged; any difference aborts, so the fuzzer checks the JSON
 * inverse as well as memory safety. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/event_json.h"
#include "feeds/jma/jma_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
silence(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        xmlSetGenericErrorFunc(NULL, silence);
        init = 1;
    }
    struct anpi_event *ev = NULL;
    char err[256];
    int rc = anpi_jma_parse((const char *)data, size, &ev, err, sizeof(err));
    if (rc != 0) {
        if (ev || err[0] == '\0')
            abort();   /* failures must leave no event and say why */
        return 0;
    }
    json_t *j1 = anpi_event_to_json(ev);
    if (!j1)
        abort();       /* libxml2 hands out valid UTF-8 only */
    char *text = json_dumps(j1, JSON_COMPACT);
    json_error_t jerr;
    json_t *parsed = text ? json_loads(text, 0, &jerr) : NULL;
    struct anpi_event *back = NULL;
    if (!parsed || anpi_event_from_json(parsed, &back, err, sizeof(err)) != 0)
        abort();
    json_t *j2 = anpi_event_to_json(back);
    if (!j2 || !json_equal(j1, j2))
        abort();
    json_decref(j1);
    json_decref(j2);
    json_decref(parsed);
    free(text);
    anpi_event_free(back);
    anpi_event_free(ev);
    return 0;
}
