/* totp.h - TOTP second factor (RFC 6238 over RFC 4226 HOTP).
 *
 * HMAC-SHA1, 30-second steps counted from the Unix epoch, 6 digits: what
 * every authenticator app accepts from an otpauth:// URI.  Secrets are 160
 * random bits written as 32 characters of RFC 4648 base32 (no padding). */
#ifndef ANPI_AUTH_TOTP_H
#define ANPI_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/anpi.h"

#define ANPI_TOTP_STEP_S       30
#define ANPI_TOTP_DIGITS       6
#define ANPI_TOTP_SECRET_BYTES 20
#define ANPI_TOTP_SECRET_B32   32    /* characters, without the NUL */
#define ANPI_TOTP_MAX_WINDOW   10    /* steps either side; larger windows are clamped */
#define ANPI_TOTP_CODE_MAX     16    /* longest typed code accepted, in bytes */

/* A new random secret (OpenSSL RAND_bytes), base32, NUL-terminated. */
int anpi_totp_secret_new(char out_b32[ANPI_TOTP_SECRET_B32 + 1]);

/* Decode an RFC 4648 base32 secret (upper or lower case, optional '='
 * padding at the end, no spaces) into out.  Returns the number of bytes
 * (10..64 accepted) or ANPI_EPARSE. */
int anpi_totp_secret_decode(const char *b32, uint8_t *out, size_t outlen);

/* Parse a code as typed: exactly 6 ASCII digits, spaces anywhere ignored
 * ("123 456"), at most ANPI_TOTP_CODE_MAX bytes.  Anything else, including
 * full-width digits, is ANPI_EPARSE. */
int anpi_totp_code_parse(const char *code, uint32_t *out);

/* RFC 4226 HOTP value for counter with digits (6..8) digits. */
int anpi_totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits,
                   uint32_t *out);

/* The 6-digit code for time now (unix seconds), as a NUL-terminated string. */
int anpi_totp_code(const char *b32_secret, int64_t now, char out[ANPI_TOTP_DIGITS + 1]);

/* Check a typed code at time now, accepting steps now/30 - window ..
 * now/30 + window (window clamped to 0..ANPI_TOTP_MAX_WINDOW).
 * *matched_step is in/out: on entry the last step this account used (0 if
 * none), on success the step that matched, which the caller stores.  A code
 * for a step <= the last used one is refused, so a code cannot be replayed.
 * 0 on success; ANPI_EPARSE for a malformed code or secret; ANPI_EPERM for
 * a wrong or reused code.  All candidate steps are compared, in constant
 * time, whatever the outcome. */
int anpi_totp_verify(const char *b32_secret, const char *code, int64_t now, int window,
                     int64_t *matched_step);

/* The otpauth:// URI for an authenticator app (shown as a QR code):
 *   otpauth://totp/<issuer>:<account>?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30
 * issuer and account are UTF-8 and percent-encoded.  Returns a malloc'd
 * string (free()), or NULL if an argument is NULL or longer than 256 bytes. */
char *anpi_totp_uri(const char *b32_secret, const char *issuer, const char *account);

#endif
