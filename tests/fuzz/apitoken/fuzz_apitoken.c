/* fuzz_apitoken.c - the auth parsers that read outside strings: API tokens,
 * scope lists, TOTP codes and base32 secrets, lockout state, address keys.
 *
 * Input: the whole input is tried as each kind of string; when it holds a
 * newline, the part before it is also tried as a TOTP secret and the part
 * after it as a code.  Round trips are checked so a parser that accepts
 * something it cannot write back aborts the run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth/apitoken.h"
#include "engine/auth/lockout.h"
#include "engine/auth/totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    char hex[ANPI_APITOKEN_HASH_HEX + 1];
    if (anpi_apitoken_hash(s, hex) == 0) {
        if (strlen(s) != ANPI_APITOKEN_LEN || strlen(hex) != ANPI_APITOKEN_HASH_HEX ||
            !anpi_apitoken_hash_equal(hex, hex))
            abort();
    }

    unsigned mask;
    if (anpi_scopes_parse(s, &mask) == 0) {
        char txt[64];
        unsigned again;
        if (anpi_scopes_format(mask, txt, sizeof txt) != 0 ||
            anpi_scopes_parse(txt, &again) != 0 || again != mask)
            abort();
    }

    uint32_t code;
    if (anpi_totp_code_parse(s, &code) == 0 && code > 999999)
        abort();

    uint8_t key[64];
    int klen = anpi_totp_secret_decode(s, key, sizeof key);
    if (klen >= 0 && (klen < 10 || klen > 64))
        abort();

    struct anpi_lockout lo;
    if (anpi_lockout_parse(s, &lo) == 0) {
        char txt[64];
        struct anpi_lockout again;
        if (anpi_lockout_format(&lo, txt, sizeof txt) != 0 ||
            anpi_lockout_parse(txt, &again) != 0 || again.failures != lo.failures ||
            again.last_failure != lo.last_failure || again.locked_until != lo.locked_until)
            abort();
        (void)anpi_lockout_check(&lo, 1700000000);
        anpi_lockout_fail(&lo, 1700000000);
    }

    char addr[64];
    (void)anpi_lockout_addr_key(s, addr, sizeof addr);

    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        int64_t step = 0;
        (void)anpi_totp_verify(s, nl + 1, 1700000000, 1, &step);
        char *uri = anpi_totp_uri(s, "anpi", nl + 1);
        free(uri);
    }
    free(s);
    return 0;
}
