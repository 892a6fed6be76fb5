/* ytree.h - a YAML document as a small tree with source positions
 * (rules/-internal).
 *
 * The rule loader validates strictly and names file:line:col for every
 * problem, so it needs every node's mark.  libyaml's document API loses
 * nothing either, but building our own tree from the event API lets us cap
 * depth and node count while parsing and refuse aliases (no billion laughs). */
#ifndef ANPI_RULES_YTREE_H
#define ANPI_RULES_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/anpi.h"

enum anpi_ynode_kind { ANPI_Y_SCALAR, ANPI_Y_SEQ, ANPI_Y_MAP };

struct anpi_ynode {
    enum anpi_ynode_kind kind;
    int line, col;                 /* 1-based */
    char *value;                   /* scalar text (NUL-terminated; no NULs inside) */
    bool plain;                    /* scalar written without quotes */
    size_t n;                      /* SEQ: items; MAP: 2 * pairs (key, value, key, value, ...) */
    size_t cap;
    struct anpi_ynode **kids;
};

#define ANPI_YTREE_MAX_NODES 100000

/* Parse text (len bytes) into *out.  Errors are appended as
 * "FILE:LINE:COL: message"; returns 0 or ANPI_EPARSE (then *out is NULL).
 * An empty document gives ANPI_EPARSE too. */
int anpi_ytree_parse(const char *file, const char *text, size_t len, int max_depth,
                     struct anpi_ynode **out, struct anpi_errors *errs);
void anpi_ytree_free(struct anpi_ynode *n);
/* Map lookup by key (first match); NULL if absent or n is not a map. */
struct anpi_ynode *anpi_ytree_get(const struct anpi_ynode *map, const char *key);
const char *anpi_ytree_kind_name(enum anpi_ynode_kind k);   /* "a string", "a list", "a mapping" */

#endif
