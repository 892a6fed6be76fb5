/* token.h - login-free link tokens (reply and approval links).
 *
 * 256 random bits (OpenSSL RAND_bytes), base64url without padding (43
 * chars).  Only the SHA-256 hex of a token is ever stored, so a database
 * leak does not leak working links. */
#ifndef ANPI_ADMIN_API_TOKEN_H
#define ANPI_ADMIN_API_TOKEN_H

#define ANPI_TOKEN_LEN 43

/* Aborts if the random generator fails: a guessable link is worse than a restart. */
void anpi_token_new(char out[ANPI_TOKEN_LEN + 1]);
/* Validates form (length, alphabet, canonical last character) and writes the
 * SHA-256 hex of the 43 token characters (65 bytes incl. NUL).
 * ANPI_EPARSE if malformed (hex_out is then the empty string). */
int anpi_token_hash(const char *token, char hex_out[65]);

#endif
