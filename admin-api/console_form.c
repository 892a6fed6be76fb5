/* console_form.c - what the console's compose form turns typed text into:
 * lists of ids or region codes, and a question's choices.  Outside input
 * (fuzzed by tests/fuzz/http_body); the results go through the same checks
 * as the JSON API's compose body. */
#include "admin-api/console_form.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"

/* Split a typed list (ids or codes) on commas, spaces and their full-width
 * forms (、，　) into a JSON array of strings. */
json_t *
anpi_console_split_list(const char *s)
{
    json_t *out = json_array();
    char *copy = anpi_xstrdup(s ? s : "");
    /* Full-width separators become ASCII spaces, byte for byte. */
    static const char *const wide[] = { "\xe3\x80\x81", "\xef\xbc\x8c", "\xe3\x80\x80" };
    for (size_t k = 0; k < sizeof(wide) / sizeof(wide[0]); k++)
        for (char *p = copy; (p = strstr(p, wide[k])) != NULL;)
            memset(p, ' ', 3);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t\r\n", &save); tok; tok = strtok_r(NULL, ", \t\r\n", &save))
        json_array_append_new(out, json_string(tok));
    free(copy);
    return out;
}

/* The choices of a question: one per line, blank lines and the spaces
 * around each dropped. */
json_t *
anpi_console_choice_lines(const char *s)
{
    json_t *out = json_array();
    char *copy = anpi_xstrdup(s ? s : "");
    char *save = NULL;
    for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        if (n)
            json_array_append_new(out, json_string(line));
    }
    free(copy);
    return out;
}

