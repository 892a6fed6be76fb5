/* verp.h - VERP envelope senders that map a bounce back to its delivery. */
#ifndef ANPI_VERP_H
#define ANPI_VERP_H

#include <stddef.h>
#include <stdint.h>
#include "engine/anpi.h"

/* "bounce+d123.1a2b3c4d@example.jp" for base_local "bounce", domain
 * "example.jp", delivery 123: the 8 hex digits are the first 32 bits of
 * HMAC-SHA256(key, "bounce+d123"), so a forged or mistyped bounce address
 * does not map to anyone's delivery.  base_local: letters, digits and
 * "._-" (no '+'), at most 40 octets; domain: letters, digits, "-." .
 * Returns 0, ANPI_EPARSE (bad base_local/domain/id < 0 / empty key) or
 * ANPI_ETOOBIG (out too small; 64 + strlen(domain) always suffices). */
int anpi_verp_encode(const char *base_local, const char *domain, int64_t delivery_id,
                     const unsigned char *key, size_t keylen, char *out, size_t len);

/* The delivery id in a bounce recipient address made by anpi_verp_encode
 * with the same base_local and key (local part compared case-insensitively,
 * as some MTAs fold case; domain not checked when NULL).  Returns 0 and
 * *delivery_id, ANPI_ENOTFOUND (not one of ours: other local part or
 * domain) or ANPI_EPERM (our shape but the MAC does not match). */
int anpi_verp_decode(const char *addr, const char *base_local, const char *domain,
                     const unsigned char *key, size_t keylen, int64_t *delivery_id);

#endif
