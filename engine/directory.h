/* directory.h - applying a parsed people CSV to the database. */
#ifndef ANPI_DIRECTORY_H
#define ANPI_DIRECTORY_H

#include "engine/people_csv.h"

/* The rows as the JSON array anpi_import_people2() takes (malloc'd):
 * {"line", "id", "name", "kana", "emails", "regions", "cities", "groups"}
 * plus "attributes" (an object) only when the CSV has that column. */
char *anpi_directory_rows_json(const struct anpi_people_csv *csv);

/* Start-up only (blocking): read, parse (UTF-8 or Shift_JIS) and import a
 * CSV file in one transaction, in merge mode.  Every row error is logged;
 * nothing is applied if any. */
int anpi_directory_import_file(const char *conninfo, const char *path, char *err, size_t errlen);

#endif
