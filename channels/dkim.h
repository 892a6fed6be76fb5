/* dkim.h - DKIM signatures (RFC 6376, relaxed/relaxed) for outgoing mail. */
#ifndef ANPI_DKIM_H
#define ANPI_DKIM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "engine/anpi.h"

/* One signing key (domain, selector, private key), read-only once loaded:
 * any number of threads may sign with it at once. */
struct anpi_dkim_key;

/* Load a PEM private key (PKCS#8 or traditional; not encrypted) for
 * algorithm "rsa-sha256" (RSA of at least 1024 bits; 2048 recommended) or
 * "ed25519-sha256" (RFC 8463).  domain: "example.jp"; selector: "anpi2025".
 * NULL on error with a message naming the file in err. */
struct anpi_dkim_key *anpi_dkim_key_load(const char *pem_path, const char *algorithm,
                                         const char *domain, const char *selector,
                                         char *err, size_t errlen);
void anpi_dkim_key_free(struct anpi_dkim_key *k);

/* The TXT record to publish at "<selector>._domainkey.<domain>":
 * "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519;
 * p=<base64 of the 32-byte key>".  malloc'ed; NULL on error. */
char *anpi_dkim_dns_txt(const struct anpi_dkim_key *k);

/* Prepend one DKIM-Signature per key to msg (an RFC 5322 message as
 * anpi_mime_build writes it; CRLF or LF line ends): c=relaxed/relaxed,
 * t=now, h= the From, To, Subject, Date, Message-ID, MIME-Version,
 * Content-Type, Content-Transfer-Encoding, Auto-Submitted,
 * List-Unsubscribe and List-Unsubscribe-Post fields present, plus From once
 * more (oversigned, so a second From cannot be added).  Each signature
 * covers the message alone, not the other signatures (dual RSA + Ed25519
 * signing).  Returns 0 with *signed_msg (malloc'ed, NUL-terminated) and
 * *signed_len, ANPI_EPARSE (no header, a header line without a colon, no
 * From), ANPI_ETOOBIG or ANPI_ERROR (OpenSSL failed).  Thread-safe. */
int anpi_dkim_sign(const struct anpi_dkim_key *const *keys, size_t nkeys, const char *msg,
                   size_t len, char **signed_msg, size_t *signed_len);

/* Same, with the t= timestamp given (tests, replays). */
int anpi_dkim_sign_at(const struct anpi_dkim_key *const *keys, size_t nkeys, const char *msg,
                      size_t len, int64_t t, char **signed_msg, size_t *signed_len);

/* Called on the loop thread: status as anpi_dkim_sign; signed_msg is the
 * callback's to free (NULL on error). */
typedef void (*anpi_dkim_done_cb)(int status, char *signed_msg, size_t signed_len, void *arg);

/* anpi_dkim_sign on libuv's thread pool (an RSA-2048 signature costs about
 * a millisecond: too long for the loop at thousands of messages).  msg is
 * copied; keys (the array is copied too) must stay loaded until cb runs.
 * Returns 0 (cb will run exactly once) or a negative code (cb will not run). */
int anpi_dkim_sign_async(uv_loop_t *loop, const struct anpi_dkim_key *const *keys, size_t nkeys,
                         const char *msg, size_t len, anpi_dkim_done_cb cb, void *arg);

#endif
