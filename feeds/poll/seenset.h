/* seenset.h - bounded set of strings (document URLs already fetched).
 *
 * Open addressing with linear probing and backward-shift deletion; when the
 * set holds `max` strings, adding one evicts the oldest (insertion order).
 * Lookups and inserts are O(1) on average; nothing scans the whole set. */
#ifndef ANPI_FEEDS_POLL_SEENSET_H
#define ANPI_FEEDS_POLL_SEENSET_H

#include <stddef.h>

struct anpi_seenset;

/* max: the most strings kept (0 = 50,000). */
struct anpi_seenset *anpi_seenset_create(size_t max);
void anpi_seenset_destroy(struct anpi_seenset *s);      /* NULL-safe */
/* 1 if present, 0 if not. */
int anpi_seenset_has(const struct anpi_seenset *s, const char *key);
/* 1 if added (possibly evicting the oldest), 0 if it was already present. */
int anpi_seenset_add(struct anpi_seenset *s, const char *key);
size_t anpi_seenset_count(const struct anpi_seenset *s);

#endif
