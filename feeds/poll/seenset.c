/* seenset.c - bounded string hash set with FIFO eviction.
 *
 * Keys live in a ring in insertion order (ring[head] is the oldest); the hash
 * table maps each key to its ring slot.  Linear probing with backward-shift
 * deletion keeps the table free of tombstones, so evicting the oldest key on
 * every insert (the steady state once the set is full) never degrades
 * lookups. */
#include "feeds/poll/seenset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/anpi.h"

#define EMPTY UINT32_MAX

struct anpi_seenset {
    size_t max;
    char **ring;        /* ring_cap slots; count used, oldest at head */
    size_t ring_cap;
    size_t head;
    size_t count;
    uint32_t *table;    /* ring slot per bucket, or EMPTY */
    uint64_t *hashes;   /* hash of the key per ring slot */
    size_t tcap;        /* power of two, > 2 * count */
    uint64_t seed;      /* per set, so colliding URLs cannot be prepared in advance */
};

static uint64_t
hash_str(uint64_t seed, const char *s)
{
    /* FNV-1a over the bytes, then a 64-bit finaliser (splitmix) to spread
     * the low bits that pick the bucket. */
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

struct anpi_seenset *
anpi_seenset_create(size_t max)
{
    struct anpi_seenset *s = anpi_xcalloc(1, sizeof(*s));
    s->max = max ? max : 50000;
    s->tcap = 64;
    s->table = anpi_xmalloc(s->tcap * sizeof(*s->table));
    memset(s->table, 0xff, s->tcap * sizeof(*s->table));
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)s;
    return s;
}

void
anpi_seenset_destroy(struct anpi_seenset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->ring[(s->head + i) % s->ring_cap]);
    free(s->ring);
    free(s->hashes);
    free(s->table);
    free(s);
}

size_t
anpi_seenset_count(const struct anpi_seenset *s)
{
    return s->count;
}

/* Bucket holding key, or the empty bucket where it would go. */
static size_t
find(const struct anpi_seenset *s, const char *key, uint64_t h, int *found)
{
    size_t mask = s->tcap - 1;
    size_t i = (size_t)h & mask;
    for (;;) {
        uint32_t slot = s->table[i];
        if (slot == EMPTY) {
            *found = 0;
            return i;
        }
        if (s->hashes[slot] == h && strcmp(s->ring[slot], key) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

int
anpi_seenset_has(const struct anpi_seenset *s, const char *key)
{
    int found;
    find(s, key, hash_str(s->seed, key), &found);
    return found;
}

static void
rehash(struct anpi_seenset *s, size_t tcap)
{
    free(s->table);
    s->tcap = tcap;
    s->table = anpi_xmalloc(tcap * sizeof(*s->table));
    memset(s->table, 0xff, tcap * sizeof(*s->table));
    size_t mask = tcap - 1;
    for (size_t n = 0; n < s->count; n++) {
        size_t slot = (s->head + n) % s->ring_cap;
        size_t i = (size_t)s->hashes[slot] & mask;
        while (s->table[i] != EMPTY)
            i = (i + 1) & mask;
        s->table[i] = (uint32_t)slot;
    }
}

/* Remove bucket i and shift later members of its probe run back, so that
 * every key stays reachable from its home bucket without tombstones. */
static void
remove_bucket(struct anpi_seenset *s, size_t i)
{
    size_t mask = s->tcap - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t slot = s->table[j];
        if (slot == EMPTY)
            break;
        size_t home = (size_t)s->hashes[slot] & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->table[i] = slot;
            i = j;
        }
    }
    s->table[i] = EMPTY;
}

static void
evict_oldest(struct anpi_seenset *s)
{
    size_t slot = s->head;
    int found;
    size_t b = find(s, s->ring[slot], s->hashes[slot], &found);
    if (found)
        remove_bucket(s, b);
    free(s->ring[slot]);
    s->ring[slot] = NULL;
    s->head = (s->head + 1) % s->ring_cap;
    s->count--;
}

int
anpi_seenset_add(struct anpi_seenset *s, const char *key)
{
    uint64_t h = hash_str(s->seed, key);
    int found;
    find(s, key, h, &found);
    if (found)
        return 0;
    if (s->count == s->max)
        evict_oldest(s);
    /* The ring only grows before the first eviction, i.e. while head == 0
     * and the used slots are 0..count-1, so a plain realloc keeps order. */
    if (s->count == s->ring_cap) {
        size_t cap = s->ring_cap ? s->ring_cap * 2 : 16;
        if (cap > s->max)
            cap = s->max;
        s->ring = anpi_xrealloc(s->ring, cap * sizeof(*s->ring));
        s->hashes = anpi_xrealloc(s->hashes, cap * sizeof(*s->hashes));
        s->ring_cap = cap;
    }
    if (2 * (s->count + 1) > s->tcap)
        rehash(s, s->tcap * 2);
    size_t slot = (s->head + s->count) % s->ring_cap;
    s->ring[slot] = anpi_xstrdup(key);
    s->hashes[slot] = h;
    size_t b = find(s, key, h, &found);
    s->table[b] = (uint32_t)slot;
    s->count++;
    return 1;
}
