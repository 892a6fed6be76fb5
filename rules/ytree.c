/* ytree.c - build a position-carrying YAML tree from libyaml's event API. */
#include "rules/ytree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const char *
anpi_ytree_kind_name(enum anpi_ynode_kind k)
{
    switch (k) {
    case ANPI_Y_SCALAR: return "a string";
    case ANPI_Y_SEQ:    return "a list";
    case ANPI_Y_MAP:    return "a mapping";
    }
    return "?";
}

void
anpi_ytree_free(struct anpi_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        anpi_ytree_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

struct anpi_ynode *
anpi_ytree_get(const struct anpi_ynode *map, const char *key)
{
    if (!map || map->kind != ANPI_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->kids[i]->value, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

static struct anpi_ynode *
node_new(enum anpi_ynode_kind kind, const yaml_mark_t *m)
{
    struct anpi_ynode *n = anpi_xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

static void
add_kid(struct anpi_ynode *parent, struct anpi_ynode *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->kids = anpi_xrealloc(parent->kids, parent->cap * sizeof(*parent->kids));
    }
    parent->kids[parent->n++] = kid;
}

int
anpi_ytree_parse(const char *file, const char *text, size_t len, int max_depth,
                 struct anpi_ynode **out, struct anpi_errors *errs)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct anpi_ynode *root = NULL;
    struct anpi_ynode **stack = anpi_xcalloc((size_t)max_depth + 1, sizeof(*stack));
    int depth = 0, ndocs = 0, rc = ANPI_OK;
    size_t nodes = 0;
    bool done = false;

    *out = NULL;
    if (!yaml_parser_initialize(&parser)) {
        free(stack);
        anpi_errors_add(errs, "%s:1:1: cannot initialise the YAML parser", file);
        return ANPI_EPARSE;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    while (!done && rc == ANPI_OK) {
        if (!yaml_parser_parse(&parser, &ev)) {
            anpi_errors_add(errs, "%s:%zu:%zu: YAML syntax error: %s%s%s", file,
                            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "unknown problem",
                            parser.context ? " " : "", parser.context ? parser.context : "");
            rc = ANPI_EPARSE;
            break;
        }
        const yaml_mark_t *m = &ev.start_mark;
        struct anpi_ynode *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++ndocs > 1) {
                anpi_errors_add(errs, "%s:%zu:%zu: only one YAML document per rule file", file,
                                m->line + 1, m->column + 1);
                rc = ANPI_EPARSE;
            }
            break;
        case YAML_ALIAS_EVENT:
            anpi_errors_add(errs, "%s:%zu:%zu: YAML aliases (*%s) are not supported in rule files",
                            file, m->line + 1, m->column + 1, (const char *)ev.data.alias.anchor);
            rc = ANPI_EPARSE;
            break;
        case YAML_SCALAR_EVENT:
            if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length)) {
                anpi_errors_add(errs, "%s:%zu:%zu: NUL character in a string", file,
                                m->line + 1, m->column + 1);
                rc = ANPI_EPARSE;
                break;
            }
            n = node_new(ANPI_Y_SCALAR, m);
            n->value = anpi_xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            break;
        case YAML_SEQUENCE_START_EVENT:
            n = node_new(ANPI_Y_SEQ, m);
            break;
        case YAML_MAPPING_START_EVENT:
            n = node_new(ANPI_Y_MAP, m);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        if (n) {
            if (++nodes > ANPI_YTREE_MAX_NODES) {
                anpi_errors_add(errs, "%s:%zu:%zu: more than %d YAML nodes", file, m->line + 1,
                                m->column + 1, ANPI_YTREE_MAX_NODES);
                anpi_ytree_free(n);
                rc = ANPI_EPARSE;
            } else {
                struct anpi_ynode *parent = depth ? stack[depth - 1] : NULL;
                if (!parent) {
                    anpi_ytree_free(root);   /* only one document reaches here */
                    root = n;
                } else if (parent->kind == ANPI_Y_MAP && parent->n % 2 == 0 &&
                           n->kind != ANPI_Y_SCALAR) {
                    anpi_errors_add(errs, "%s:%d:%d: mapping keys must be plain strings", file,
                                    n->line, n->col);
                    anpi_ytree_free(n);
                    n = NULL;
                    rc = ANPI_EPARSE;
                } else {
                    add_kid(parent, n);
                }
                if (n && n->kind != ANPI_Y_SCALAR) {
                    if (depth >= max_depth) {
                        anpi_errors_add(errs, "%s:%d:%d: nesting deeper than %d levels", file,
                                        n->line, n->col, max_depth);
                        rc = ANPI_EPARSE;
                    } else {
                        stack[depth++] = n;
                    }
                }
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    free(stack);
    if (rc == ANPI_OK && !root) {
        anpi_errors_add(errs, "%s:1:1: the file is empty (expected pack: and rules:)", file);
        rc = ANPI_EPARSE;
    }
    if (rc != ANPI_OK) {
        anpi_ytree_free(root);
        return rc;
    }
    *out = root;
    return ANPI_OK;
}
