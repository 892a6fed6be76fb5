/* smtp_bench.c - raw channel benchmark: send N one-recipient messages
 * through the SMTP pool (no database, no DKIM) and report timings as one
 * JSON line.  Used by smtp_fanout.sh and smtp_throttle.py; not a test.
 *
 *   smtp_bench PORT N SIZE CONNS [DOMAIN[=RATE] ...]
 *
 * Recipients cycle over the domains (default example.jp); a domain given
 * as name=RATE gets an smtp.limits entry with that rate (burst 1).  Per
 * domain the output has the time of the first and last acceptance, so a
 * throttle check can compute the observed rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "channels/smtp.h"
#include "engine/anpi.h"

#define MAX_DOMAINS 8

struct dom {
    char name[128];
    double rate;
    size_t sent, failed;
    uint64_t first_ns, last_ns;
};

static struct dom doms[MAX_DOMAINS];
static size_t ndoms, done_n, total;
static uint64_t t0;
static struct anpi_smtp_pool *pool;
static char last_err[600];

static void
on_closed(void *arg)
{
    (void)arg;
}

static void
on_sent(void *arg, const struct anpi_smtp_outcome *o)
{
    struct dom *d = arg;
    uint64_t now = uv_hrtime();
    if (o->result == ANPI_SMTP_SENT) {
        if (!d->sent)
            d->first_ns = now;
        d->last_ns = now;
        d->sent++;
    } else {
        d->failed++;
        snprintf(last_err, sizeof(last_err), "%d %s", o->code, o->text);
    }
    if (++done_n == total)
        anpi_smtp_pool_close(pool, on_closed, NULL);
}

int
main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: smtp_bench PORT N SIZE CONNS [DOMAIN[=RATE] ...]\n");
        return 2;
    }
    int64_t port, n, size, conns;
    if (anpi_parse_int64(argv[1], 1, 65535, &port) || anpi_parse_int64(argv[2], 1, 10000000, &n) ||
        anpi_parse_int64(argv[3], 10, 10000000, &size) || anpi_parse_int64(argv[4], 1, 1000, &conns)) {
        fprintf(stderr, "smtp_bench: bad number in arguments\n");
        return 2;
    }
    struct anpi_smtp_limit lims[MAX_DOMAINS];
    size_t nlims = 0;
    for (int i = 5; i < argc && ndoms < MAX_DOMAINS; i++) {
        struct dom *d = &doms[ndoms++];
        snprintf(d->name, sizeof(d->name), "%s", argv[i]);
        char *eq = strchr(d->name, '=');
        if (eq) {
            *eq = '\0';
            d->rate = strtod(eq + 1, NULL);
            lims[nlims++] = (struct anpi_smtp_limit){ .match = d->name, .rate = d->rate, .burst = 1 };
        }
    }
    if (!ndoms)
        snprintf(doms[ndoms++].name, sizeof(doms[0].name), "example.jp");

    uv_loop_t *loop = uv_default_loop();
    struct anpi_relay_conf relay = { .host = "127.0.0.1", .port = (int)port };
    struct anpi_smtp_opts opts = { .helo_name = "bench.example.jp", .timeout_s = 30,
                                   .max_connections = (int)conns, .limits = lims,
                                   .nlimits = nlims };
    pool = anpi_smtp_pool_create(loop, &relay, 1, &opts);
    if (!pool) {
        fprintf(stderr, "smtp_bench: cannot create the pool\n");
        return 1;
    }
    /* One message of SIZE bytes: headers plus ASCII body lines. */
    char *msg = anpi_xmalloc((size_t)size + 256);
    int hl = snprintf(msg, 256, "From: bench@example.jp\r\nTo: someone@example.jp\r\n"
                                "Subject: anpi bench\r\n\r\n");
    size_t len = (size_t)hl;
    while (len + 2 < (size_t)size) {
        size_t line = (size_t)size - len - 2 > 76 ? 76 : (size_t)size - len - 2;
        memset(msg + len, 'x', line);
        len += line;
        msg[len++] = '\r';
        msg[len++] = '\n';
    }
    total = (size_t)n;
    t0 = uv_hrtime();
    for (size_t i = 0; i < total; i++) {
        struct dom *d = &doms[i % ndoms];
        char rcpt[200];
        snprintf(rcpt, sizeof(rcpt), "user%zu@%s", i, d->name);
        if (anpi_smtp_send(pool, "bench@example.jp", rcpt, msg, len, on_sent, d) != 0) {
            fprintf(stderr, "smtp_bench: send refused\n");
            return 1;
        }
    }
    free(msg);
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t t1 = uv_hrtime();
    size_t sent = 0, failed = 0;
    printf("{\"messages\":%zu,\"seconds\":%.3f", total, (double)(t1 - t0) / 1e9);
    printf(",\"domains\":[");
    for (size_t i = 0; i < ndoms; i++) {
        struct dom *d = &doms[i];
        sent += d->sent;
        failed += d->failed;
        double span = d->sent > 1 ? (double)(d->last_ns - d->first_ns) / 1e9 : 0;
        printf("%s{\"domain\":\"%s\",\"limit\":%.1f,\"sent\":%zu,\"failed\":%zu,"
               "\"first\":%.3f,\"last\":%.3f,\"rate\":%.2f}",
               i ? "," : "", d->name, d->rate, d->sent, d->failed,
               (double)(d->first_ns - t0) / 1e9, (double)(d->last_ns - t0) / 1e9,
               span > 0 ? (double)(d->sent - 1) / span : 0);
    }
    printf("],\"sent\":%zu,\"failed\":%zu", sent, failed);
    if (failed)
        printf(",\"last_error\":\"%s\"", "see stderr");
    printf("}\n");
    if (failed)
        fprintf(stderr, "smtp_bench: last failure: %s\n", last_err);
    uv_loop_close(loop);
    return failed ? 1 : 0;
}
