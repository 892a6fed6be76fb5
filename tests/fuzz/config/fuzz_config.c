/* fuzz_config.c - libFuzzer target for engine/config.c.
 *
 * The loader reads a file, so each input is written to one temporary file
 * (created once per process, rewritten for every input), loaded and freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config.h"

static char path[64];

static void
remove_tmp(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/anpi-fuzz-config-XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0)
            abort();
        close(fd);
        atexit(remove_tmp);
        setenv("ANPI_FUZZ_TOKEN", "fuzz-token-0123456789", 1);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    struct anpi_config *cfg = NULL;
    struct anpi_errors errs = { 0 };
    int rc = anpi_config_load(path, &cfg, &errs);
    /* the contract: success has no errors, failure has at least one */
    if ((rc == 0) != (errs.n == 0) || (rc == 0) != (cfg != NULL))
        abort();
    anpi_config_free(cfg);
    anpi_errors_free(&errs);
    return 0;
}
