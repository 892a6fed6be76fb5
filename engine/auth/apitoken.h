/* apitoken.h - API tokens for anpictl and scripts.
 *
 * A token is "anpi_" followed by 32 random bytes in unpadded base64url (43
 * characters), 48 characters in all.  It is shown once, when made; only its
 * SHA-256 (64 lower-case hex digits) is stored, so a leaked database does
 * not leak usable tokens.  Revoking a token is deleting (or flagging) its
 * stored hash; anpi_apitoken_hash() of a presented token is the lookup key.
 *
 * Scopes (a bit mask, stored beside the hash; written as a comma list):
 *   read       see incidents, broadcasts and their tallies, rules, feed status
 *   approve    approve or reject pending incidents (duty-officer work)
 *   broadcast  create manual broadcasts and resend to those who have not answered
 *   directory  change people and groups, CSV import and export
 *   admin      accounts, roles, tokens and settings
 * Scopes are independent: "admin" does not imply the others. */
#ifndef ANPI_AUTH_APITOKEN_H
#define ANPI_AUTH_APITOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/anpi.h"

#define ANPI_APITOKEN_PREFIX     "anpi_"
#define ANPI_APITOKEN_RAW_BYTES  32
#define ANPI_APITOKEN_LEN        48      /* 5 + 43, without the NUL */
#define ANPI_APITOKEN_HASH_HEX   64      /* without the NUL */

enum anpi_scope {
    ANPI_SCOPE_READ      = 1u << 0,
    ANPI_SCOPE_APPROVE   = 1u << 1,
    ANPI_SCOPE_BROADCAST = 1u << 2,
    ANPI_SCOPE_DIRECTORY = 1u << 3,
    ANPI_SCOPE_ADMIN     = 1u << 4,
};
#define ANPI_SCOPE_ALL 0x1fu

/* Make a new token and its stored hash. */
int anpi_apitoken_new(char token[ANPI_APITOKEN_LEN + 1], char hash_hex[ANPI_APITOKEN_HASH_HEX + 1]);

/* Check that token has the exact format (prefix, length, alphabet,
 * canonical last character) and write its SHA-256 in hex.  ANPI_EPARSE if
 * the format is wrong: such a string is never looked up. */
int anpi_apitoken_hash(const char *token, char hash_hex[ANPI_APITOKEN_HASH_HEX + 1]);

/* Constant-time comparison of two stored-hash strings of 64 hex digits. */
bool anpi_apitoken_hash_equal(const char *a_hex, const char *b_hex);

/* Parse "read,approve" (ASCII spaces around names allowed, case-sensitive,
 * no empty items, at most 256 bytes) into a mask.  An unknown scope is
 * ANPI_EPARSE; the empty string gives mask 0. */
int anpi_scopes_parse(const char *s, unsigned *mask);

/* The comma list for mask in the order above; ANPI_ETOOBIG if len is too
 * small (64 always fits), ANPI_EPARSE for bits outside ANPI_SCOPE_ALL. */
int anpi_scopes_format(unsigned mask, char *out, size_t len);

/* True when granted holds every scope in needed. */
bool anpi_scopes_allow(unsigned granted, unsigned needed);

#endif
