/* fuzz_http_body.c - libFuzzer target for the admin-api body parsers and
 * link tokens.  The first byte selects the parser, the rest is the input:
 *   0: JSON body, 1: urlencoded form, 2: Cookie header,
 *   3: form field values rendered into a page (checks escaping),
 *   4: the console compose form's typed lists and choice lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/body.h"
#include "admin-api/console_form.h"
#include "admin-api/pages.h"
#include "engine/anpi.h"

static size_t
count_lt(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '<';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    switch (data[0] % 5) {
    case 0: {
        json_t *j = anpi_json_body(in, len, err, sizeof(err));
        if (j) {
            if (!json_is_object(j))
                abort();
            char *s = json_dumps(j, JSON_COMPACT);
            free(s);
            json_decref(j);
        } else if (strncmp(err, "invalid JSON at ", 16) != 0) {
            abort();
        }
        break;
    }
    case 1: {
        struct anpi_form f;
        int rc = anpi_form_parse(in, len, &f, err, sizeof(err));
        if (rc == 0) {
            for (size_t i = 0; i < f.n; i++)
                if (anpi_form_get(&f, f.f[i].name) == NULL)
                    abort();
        } else if (f.n != 0 || f.f != NULL) {
            abort();
        }
        anpi_form_free(&f);
        break;
    }
    case 2: {
        char *hdr = malloc(len + 1);
        if (!hdr)
            return 0;
        memcpy(hdr, in, len);
        hdr[len] = '\0';
        char val[64];
        int rc = anpi_cookie_find(hdr, "anpi_session", val, sizeof(val));
        if (rc == ANPI_OK && (strnlen(val, sizeof(val)) == sizeof(val) || strchr(val, ';')))
            abort();
        free(hdr);
        break;
    }
    case 3: {
        struct anpi_form f;
        if (anpi_form_parse(in, len, &f, err, sizeof(err)) != 0)
            break;
        /* A title is never turned into markup: the page has exactly as many
         * '<' as the page with an empty title. */
        char *base = anpi_page_message("", "");
        size_t want = count_lt(base);
        free(base);
        for (size_t i = 0; i < f.n; i++) {
            char *html = anpi_page_message(f.f[i].value, "");
            if (count_lt(html) != want)
                abort();
            free(html);
        }
        anpi_form_free(&f);
        break;
    }
    case 4: {
        /* Typed text as the form parser hands it over: NUL-terminated. */
        char *text = malloc(len + 1);
        if (!text)
            return 0;
        memcpy(text, in, len);
        text[len] = '\0';
        json_t *lists[2] = { anpi_console_split_list(text), anpi_console_choice_lines(text) };
        for (int k = 0; k < 2; k++) {
            size_t i;
            json_t *v;
            if (!json_is_array(lists[k]))
                abort();
            json_array_foreach(lists[k], i, v) {
                const char *t = json_string_value(v);
                /* never an empty item; a list item never holds a separator */
                if (!t || !*t || (k == 0 && strpbrk(t, ", \t\r\n")) || (k == 1 && strpbrk(t, "\r\n")))
                    abort();
            }
            json_decref(lists[k]);
        }
        free(text);
        break;
    }
    }
    return 0;
}
