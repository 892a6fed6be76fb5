/* console_form.h - typed text of the console's compose form as JSON
 * (admin-api/console_form.c). */
#ifndef ANPI_ADMIN_API_CONSOLE_FORM_H
#define ANPI_ADMIN_API_CONSOLE_FORM_H

#include <jansson.h>

/* "A1, A2　A3、A4" -> ["A1","A2","A3","A4"]: split on commas, blanks and
 * their full-width forms (、，and the ideographic space).  NULL s gives [].
 * Tokens that are not UTF-8 are left out.  A new reference. */
json_t *anpi_console_split_list(const char *s);

/* One choice per line, blank lines and surrounding blanks dropped.  A new
 * reference. */
json_t *anpi_console_choice_lines(const char *s);

#endif
