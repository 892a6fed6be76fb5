/* directory.c - people CSV -> database (all rows or none). */
#include "engine/directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"

char *
anpi_directory_rows_json(const struct anpi_people_csv *csv)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < csv->nrows; i++) {
        const struct anpi_person_row *r = &csv->rows[i];
        json_t *em = json_array(), *rg = json_array(), *ct = json_array(), *gr = json_array();
        for (size_t k = 0; k < r->nemails; k++)
            json_array_append_new(em, json_string(r->emails[k]));
        for (size_t k = 0; k < r->nregions; k++)
            json_array_append_new(rg, json_integer(r->regions[k]));
        for (size_t k = 0; k < r->ncities; k++)
            json_array_append_new(ct, json_integer(r->cities[k]));
        for (size_t k = 0; k < r->ngroups; k++)
            json_array_append_new(gr, json_string(r->groups[k]));
        json_t *row = json_pack("{s:i, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "line", r->line,
                                "id", r->id, "name", r->name, "kana", r->kana ? r->kana : "",
                                "emails", em, "regions", rg, "cities", ct, "groups", gr);
        /* without the column the import leaves a person's attributes as
         * they are; with it, an empty cell clears them */
        if (csv->has_attributes) {
            json_t *at = json_object();
            for (size_t k = 0; k < r->nattrs; k++)
                json_object_set_new(at, r->attrs[k].key, json_string(r->attrs[k].value));
            json_object_set_new(row, "attributes", at);
        }
        json_array_append_new(rows, row);
    }
    char *s = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return s;
}

int
anpi_directory_import_file(const char *conninfo, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "directory.import: cannot open %s", path);
        return ANPI_ERROR;
    }
    struct anpi_buf b;
    anpi_buf_init(&b, ANPI_PEOPLE_CSV_MAX_INPUT);
    char chunk[65536];
    size_t n;
    int rc = ANPI_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (anpi_buf_append(&b, chunk, n) != ANPI_OK) {
            rc = ANPI_ETOOBIG;
            break;
        }
    }
    fclose(f);
    if (rc != ANPI_OK) {
        snprintf(err, errlen, "directory.import: %s is larger than %u bytes", path, ANPI_PEOPLE_CSV_MAX_INPUT);
        anpi_buf_free(&b);
        return rc;
    }
    struct anpi_people_csv csv = { 0 };
    struct anpi_errors errs = { 0 };
    if (anpi_people_csv_parse_any(b.data ? b.data : "", b.len, &csv, NULL, &errs) != ANPI_OK) {
        for (size_t i = 0; i < errs.n; i++)
            anpi_error(ANPI_LG_DIR, "%s: %s", path, errs.msg[i]);
        snprintf(err, errlen, "directory.import: %s has %zu error(s); nothing imported", path, errs.n);
        anpi_errors_free(&errs);
        anpi_buf_free(&b);
        return ANPI_EPARSE;
    }
    anpi_buf_free(&b);
    char *rows = anpi_directory_rows_json(&csv);
    anpi_people_csv_free(&csv);
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "directory.import: cannot connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        free(rows);
        return ANPI_ERROR;
    }
    /* merge: the rows given are added or updated, nobody else is touched;
     * the same function as the API's import, so attributes, cities and
     * masked addresses mean the same here */
    const char *p[2] = { rows, "config:directory.import" };
    PGresult *r = PQexecParams(pg, "SELECT anpi_import_people2($1::jsonb, 'merge', false, $2)::text",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "directory.import: %s", PQresultErrorMessage(r));
        rc = ANPI_ERROR;
    } else {
        json_t *rep = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        json_t *refused = json_object_get(rep, "errors");
        if (json_array_size(refused) > 0) {
            size_t k;
            json_t *m;
            json_array_foreach(refused, k, m)
                anpi_error(ANPI_LG_DIR, "%s: %s", path, json_string_value(m));
            snprintf(err, errlen, "directory.import: %s was refused (%zu error(s)); nothing imported",
                     path, json_array_size(refused));
            rc = ANPI_EPARSE;
        } else {
            anpi_info(ANPI_LG_DIR, "imported %s: %s", path, PQgetvalue(r, 0, 0));
        }
        json_decref(rep);
    }
    PQclear(r);
    PQfinish(pg);
    free(rows);
    if (rc != ANPI_OK)
        err[strcspn(err, "\n")] = '\0';
    return rc;
}
