/* password.h - console account passwords: argon2id hashing, verification,
 * the strength policy and the "must change / please change" status.
 *
 * Hashes are stored in the PHC string format libargon2 writes:
 *   $argon2id$v=19$m=32768,t=2,p=1$<salt b64>$<hash b64>
 * (16-byte random salt, 32-byte tag, unpadded standard base64).
 *
 * Cost parameters: argon2id, 32 MiB of memory, 2 passes, 1 lane.  That is
 * above OWASP's argon2id floor (19 MiB, t=2, p=1) and took 50-90 ms per hash
 * on the 2-core build machine (measured with libargon2 20171227, 2025).  The
 * parameters live in the encoded string, so raising them later only needs
 * anpi_password_needs_rehash() at the next successful login.
 *
 * Hashing is deliberately slow: on the event loop use the _async variants,
 * which run on the libuv thread pool. */
#ifndef ANPI_AUTH_PASSWORD_H
#define ANPI_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/anpi.h"

#define ANPI_PASSWORD_T_COST      2u
#define ANPI_PASSWORD_M_COST_KIB  32768u   /* 32 MiB */
#define ANPI_PASSWORD_LANES       1u
#define ANPI_PASSWORD_SALT_BYTES  16u
#define ANPI_PASSWORD_TAG_BYTES   32u

/* Longest password accepted, in bytes.  Anything longer is refused with
 * ANPI_ETOOBIG before any hashing, so a 10 KB "password" costs nothing. */
#define ANPI_PASSWORD_MAX_BYTES   1024u

/* Size of a buffer that holds any encoded hash we write (ours are ~97
 * bytes; the slack allows for raised parameters). */
#define ANPI_PASSWORD_HASH_MAX    160u

/* Longest stored hash string accepted by verify/needs_rehash, and the
 * largest memory cost a stored hash may ask for (a corrupted or hostile row
 * must not make a login allocate gigabytes). */
#define ANPI_PASSWORD_ENCODED_MAX 512u
#define ANPI_PASSWORD_M_COST_MAX_KIB (1024u * 1024u)   /* 1 GiB */

/* The message shown for an over-long password (Japanese, then English). */
#define ANPI_PASSWORD_TOOLONG_MSG \
    "パスワードが長すぎます（1024バイト以内にしてください） (password too long: at most 1024 bytes)"

/* 0 if pw is within ANPI_PASSWORD_MAX_BYTES, else ANPI_ETOOBIG with
 * ANPI_PASSWORD_TOOLONG_MSG in why (if why is not NULL).  Reads at most
 * ANPI_PASSWORD_MAX_BYTES + 1 bytes of pw. */
int anpi_password_check_length(const char *pw, char *why, size_t whylen);

/* Hash pw with a fresh random salt into out (outlen >= ANPI_PASSWORD_HASH_MAX).
 * ANPI_ETOOBIG for an over-long password, ANPI_ERROR if randomness or
 * libargon2 fails (out of memory for the 32 MiB matrix). */
int anpi_password_hash(const char *pw, char *out, size_t outlen);

/* Check pw against a stored hash.  0 on match, ANPI_EPERM on mismatch,
 * ANPI_ETOOBIG for an over-long pw, ANPI_EPARSE if encoded is not an
 * argon2id string we accept.  The tag comparison is constant time
 * (libargon2).  encoded == NULL verifies against an internal dummy hash and
 * returns ANPI_EPERM, so a login for an unknown account takes as long as
 * one for a known account with a wrong password. */
int anpi_password_verify(const char *encoded, const char *pw);

/* True when encoded was made with other parameters than the current ones
 * (or is not parseable): hash the password again after a good login. */
bool anpi_password_needs_rehash(const char *encoded);

struct anpi_password_policy {
    size_t min_chars;        /* minimum length in characters (code points); default 12 */
    int min_classes;         /* of lower, upper, digit, symbol (non-ASCII counts as symbol); default 3 */
    size_t history;          /* compare with at most this many previous hashes; default 5 */
    int64_t remind_after_s;  /* remind to change after this many seconds; 0 = never (default) */
};

/* Fill p with the defaults above. */
void anpi_password_policy_default(struct anpi_password_policy *p);

/* Check a proposed new password.  0 if acceptable; otherwise ANPI_EPERM
 * (weak), ANPI_ETOOBIG (over-long) or ANPI_EPARSE (not valid UTF-8 or has
 * control characters), with the first reason in why, Japanese then English:
 *   "パスワードは12文字以上にしてください (at least 12 characters)".
 * login may be NULL; when it has 3 or more characters the password must not
 * contain it, nor its local part if it is a mail address (ASCII
 * case-insensitive).  previous_hashes are the account's earlier hashes,
 * newest first; the first pol->history of them are verified against pw, so
 * this call costs up to history hash times: run it off the loop
 * (anpi_password_policy_async).  pol == NULL means the defaults. */
int anpi_password_policy(const char *pw, const char *login,
                         const char *const *previous_hashes, size_t nprev,
                         const struct anpi_password_policy *pol,
                         char *why, size_t whylen);

enum anpi_password_status {
    ANPI_PASSWORD_OK = 0,
    ANPI_PASSWORD_MUST_CHANGE,   /* initial (admin-set) password: change before anything else */
    ANPI_PASSWORD_REMIND,        /* older than pol->remind_after_s: suggest a change */
};

/* Status after a good login.  must_change is the account's "initial
 * password" flag; changed_at the time of the last change (unix seconds). */
enum anpi_password_status anpi_password_status(bool must_change, int64_t changed_at,
                                               int64_t now,
                                               const struct anpi_password_policy *pol);

/* Asynchronous variants: the work runs on the libuv thread pool and cb runs
 * on the loop thread.  The inputs are copied, so the caller may free them
 * at once.  A non-zero return means cb will never be called; an over-long
 * password is refused that way, at once, with ANPI_ETOOBIG (show
 * ANPI_PASSWORD_TOOLONG_MSG).  The encoded string passed to hash_cb is only
 * valid during the callback. */
typedef void (*anpi_password_hash_cb)(int rc, const char *encoded, void *data);
typedef void (*anpi_password_verify_cb)(int rc, void *data);
typedef void (*anpi_password_policy_cb)(int rc, const char *why, void *data);

int anpi_password_hash_async(uv_loop_t *loop, const char *pw,
                             anpi_password_hash_cb cb, void *data);
int anpi_password_verify_async(uv_loop_t *loop, const char *encoded, const char *pw,
                               anpi_password_verify_cb cb, void *data);
int anpi_password_policy_async(uv_loop_t *loop, const char *pw, const char *login,
                               const char *const *previous_hashes, size_t nprev,
                               const struct anpi_password_policy *pol,
                               anpi_password_policy_cb cb, void *data);

#endif
