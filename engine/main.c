/* main.c - anpid: the alert broadcast daemon.
 *
 *   anpid --config FILE           run
 *   anpid --config FILE --check   validate config and rules, print every error
 *
 * Start-up may block (config, rules, migrations, the directory import);
 * after the loop starts nothing does. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <uv.h>

#include "channels/dkim.h"
#include "channels/smtp.h"
#include "engine/anpi.h"
#include "engine/config.h"
#include "engine/db.h"
#include "engine/directory.h"
#include "engine/engine.h"
#include "engine/log.h"
#include "engine/sync.h"
#include "feeds/poll/docpoll.h"
#include "feeds/poll/linereader.h"
#include "feeds/poll/poller.h"
#include "engine/rules_audit.h"
#include "rules/rules.h"
#include "admin-api/http.h"

#ifndef ANPI_PACKS_INSTALL_DIR
#define ANPI_PACKS_INSTALL_DIR "/usr/share/anpi/packs"
#endif
#ifndef ANPI_PACKS_DIR
#define ANPI_PACKS_DIR ANPI_PACKS_INSTALL_DIR
#endif
#ifndef ANPI_VERSION
#define ANPI_VERSION "0.0.0"
#endif

static struct anpi_engine engine;
static uv_signal_t sig_term, sig_int;
static uv_timer_t force_exit;

static void
usage(FILE *f)
{
    fputs("usage: anpid --config FILE [--check] [--log-level debug|info|warn|error]\n"
          "  --config FILE  configuration (YAML)\n"
          "  --check        validate the configuration and the rules, then exit\n"
          "  --version      print the version\n", f);
}

static int
load_rules(const struct anpi_config *cfg, struct anpi_ruleset **out)
{
    /* rules.packs_dir, else the build's source tree, else the installed packs */
    const char *packs = cfg->packs_dir;
    if (!packs)
        packs = access(ANPI_PACKS_DIR, R_OK) == 0 ? ANPI_PACKS_DIR : ANPI_PACKS_INSTALL_DIR;
    const char *defaults[1] = { packs };
    const char *const *paths = cfg->nrule_paths ? (const char *const *)cfg->rule_paths : defaults;
    size_t n = cfg->nrule_paths ? cfg->nrule_paths : 1;
    struct anpi_errors errs = { 0 };
    int rc = anpi_rules_load(paths, n, out, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msg[i]);
    anpi_errors_free(&errs);
    return rc;
}

/* The link key is shared by every node through the database; the first node
 * to start makes it. */
static int
load_link_key(const char *conninfo, unsigned char key[32], char *err, size_t errlen)
{
    unsigned char fresh[32];
    char hex[65];
    if (RAND_bytes(fresh, sizeof(fresh)) != 1) {
        snprintf(err, errlen, "no randomness for the link key");
        return ANPI_ERROR;
    }
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return ANPI_ERROR;
    }
    const char *p[1] = { hex };
    PQclear(PQexecParams(pg, "INSERT INTO settings (name, value) VALUES ('link_key', $1)"
                             " ON CONFLICT DO NOTHING", 1, NULL, p, NULL, NULL, 0));
    PGresult *r = PQexec(pg, "SELECT value FROM settings WHERE name = 'link_key'");
    int rc = ANPI_ERROR;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && strlen(PQgetvalue(r, 0, 0)) == 64) {
        const char *v = PQgetvalue(r, 0, 0);
        for (int i = 0; i < 32; i++) {
            unsigned int byte;
            if (sscanf(v + 2 * i, "%2x", &byte) != 1)
                break;
            key[i] = (unsigned char)byte;
            rc = i == 31 ? ANPI_OK : rc;
        }
    }
    if (rc != ANPI_OK)
        snprintf(err, errlen, "cannot read the link key from settings");
    PQclear(r);
    PQfinish(pg);
    return rc;
}

static void
seed_seen_urls(struct anpi_poller *p, const char *conninfo, const char *source)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) == CONNECTION_OK) {
        const char *prm[1] = { source };
        PGresult *r = PQexecParams(pg, "SELECT url FROM feed_documents WHERE url IS NOT NULL"
                                       " AND source = $1 ORDER BY id DESC LIMIT 50000",
                                   1, NULL, prm, NULL, NULL, 0);
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
            anpi_poller_mark_seen(p, PQgetvalue(r, i, 0));
        PQclear(r);
    }
    PQfinish(pg);
}

/* A restart does not hand the poller's current document in again. */
static void
seed_last_document(struct anpi_docpoll *p, const char *conninfo, const char *source)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) == CONNECTION_OK) {
        const char *prm[1] = { source };
        PGresult *r = PQexecParams(pg, "SELECT sha256 FROM feed_documents WHERE source = $1"
                                       " ORDER BY id DESC LIMIT 1", 1, NULL, prm, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            anpi_docpoll_set_last_sha256(p, PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(pg);
}

struct polled {
    struct anpi_engine *e;
    char *source;
    char *url;
};

static void
polled_doc_done(void *arg, const struct anpi_ingest_result *r)
{
    struct polled *p = arg;
    if (r->status >= 400)
        anpi_warn(ANPI_LG_FEED, "%s document %s not used: %s", p->source, p->url ? p->url : "-",
                  r->error ? r->error : "?");
    free(p->source);
    free(p->url);
    free(p);
}

static void
ingest_polled(struct anpi_engine *e, const char *source, const char *url, const char *body, size_t len)
{
    struct polled *p = anpi_xcalloc(1, sizeof(*p));
    p->e = e;
    p->source = anpi_xstrdup(source);
    p->url = url ? anpi_xstrdup(url) : NULL;
    anpi_ingest(e, source, url, body, len, false, "poller", polled_doc_done, p);
}

/* A JMA document fetched by the high-frequency or the long feed's poller:
 * both pollers learn the URL, so neither ever fetches it again. */
static void
polled_doc(void *arg, const char *source, const char *url, const char *title, const char *body,
           size_t len)
{
    struct anpi_engine *e = arg;
    (void)title;
    for (size_t i = 0; i < ANPI_MAX_FEEDS; i++)
        if (e->pollers[i])
            anpi_poller_mark_seen(e->pollers[i], url);
    ingest_polled(e, source, url, body, len);
}

static void
polled_body(void *arg, const char *source, const char *url, const char *body, size_t len)
{
    ingest_polled(arg, source, url, body, len);
}

/* QZSS receivers print one NMEA sentence per line; each $QZQSM line is a
 * document of its own (retransmissions dedupe on the event id). */
static void
qzss_line(void *arg, const char *line, size_t len)
{
    if (len < 7 || memcmp(line, "$QZQSM", 6) != 0)
        return;
    ingest_polled(arg, "qzss", NULL, line, len);
}

static void
start_feeds(struct anpi_engine *e)
{
    const struct anpi_config *cfg = e->cfg;
    for (size_t i = 0; i < cfg->nfeeds; i++) {
        const struct anpi_feed_conf *f = &cfg->feeds[i];
        struct anpi_feed_health *h = anpi_feed_health_get(e, f->source);
        if (!h)
            continue;
        size_t slot = (size_t)(h - e->feeds);
        h->stale_after_s = f->stale_after_s;
        if (strcmp(f->source, "jma") == 0 && f->nurls) {
            struct anpi_poller_opts po = {
                .source = "jma", .urls = (const char *const *)f->urls, .nurls = f->nurls,
                .interval_s = f->interval_s,
            };
            e->pollers[slot] = anpi_poller_create(e->loop, &po, polled_doc, e);
            h->polled = true;
            if (f->nlong_urls) {
                /* the long feed catches up after an outage: polled hourly */
                struct anpi_feed_health *lh = anpi_feed_health_get(e, "jma-long");
                if (lh) {
                    struct anpi_poller_opts lo = {
                        .source = "jma", .urls = (const char *const *)f->long_urls,
                        .nurls = f->nlong_urls, .interval_s = 3600,
                    };
                    lh->polled = true;
                    e->pollers[lh - e->feeds] = anpi_poller_create(e->loop, &lo, polled_doc, e);
                }
            }
        } else if (f->nurls && (strcmp(f->source, "cap") == 0 || strcmp(f->source, "mofa") == 0 ||
                                strcmp(f->source, "gdacs") == 0)) {
            struct anpi_docpoll_opts dopts = {
                .source = f->source, .urls = (const char *const *)f->urls, .nurls = f->nurls,
                .interval_s = f->interval_s,
            };
            e->docpolls[slot] = anpi_docpoll_create(e->loop, &dopts, polled_body, e);
            h->polled = true;
        } else if (strcmp(f->source, "qzss") == 0 && (f->tcp || f->device)) {
            struct anpi_linereader_opts lo = { .tcp = f->tcp, .device = f->device, .baud = f->baud };
            e->readers[slot] = anpi_linereader_create(e->loop, &lo, qzss_line, e);
            h->polled = true;
        }
    }
    for (size_t i = 0; i < ANPI_MAX_FEEDS; i++) {
        if (e->pollers[i]) {
            seed_seen_urls(e->pollers[i], cfg->db_conninfo, "jma");
            anpi_poller_start(e->pollers[i]);
        }
        if (e->docpolls[i]) {
            seed_last_document(e->docpolls[i], cfg->db_conninfo, e->feeds[i].source);
            anpi_docpoll_start(e->docpolls[i]);
        }
        if (e->readers[i])
            anpi_linereader_start(e->readers[i]);
    }
}

static void
stop_feeds(struct anpi_engine *e)
{
    for (size_t i = 0; i < ANPI_MAX_FEEDS; i++) {
        if (e->pollers[i])
            anpi_poller_close(e->pollers[i], NULL, NULL);
        if (e->docpolls[i])
            anpi_docpoll_close(e->docpolls[i], NULL, NULL);
        if (e->readers[i])
            anpi_linereader_close(e->readers[i], NULL, NULL);
    }
}

static void
on_force_exit(uv_timer_t *t)
{
    (void)t;
    anpi_warn(ANPI_LG_MAIN, "shutdown took too long; exiting");
    exit(0);
}

static void
on_signal(uv_signal_t *s, int signum)
{
    struct anpi_engine *e = s->data;
    if (e->stopping)
        return;
    anpi_info(ANPI_LG_MAIN, "signal %d: shutting down", signum);
    anpi_dispatch_stop(e);
    anpi_feed_health_stop(e);
    anpi_sync_stop(e);
    anpi_inbound_stop(e);
    stop_feeds(e);
    if (e->pub)
        anpi_http_server_close(e->pub, NULL, NULL);
    if (e->admin)
        anpi_http_server_close(e->admin, NULL, NULL);
    if (e->smtp)
        anpi_smtp_pool_close(e->smtp, NULL, NULL);
    anpi_db_close(e->db, NULL, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_timer_init(e->loop, &force_exit);
    uv_timer_start(&force_exit, on_force_exit, 5000, 0);
    uv_unref((uv_handle_t *)&force_exit);
}

int
main(int argc, char **argv)
{
    const char *config_path = NULL, *log_level = NULL;
    bool check = false;
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'k' },
        { "log-level", required_argument, NULL, 'l' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:khl:V", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'k': check = true; break;
        case 'l': log_level = optarg; break;
        case 'V': printf("anpid %s\n", ANPI_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || optind != argc) {
        usage(stderr);
        return 2;
    }

    struct anpi_config *cfg = NULL;
    struct anpi_errors errs = { 0 };
    int rc = anpi_config_load(config_path, &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msg[i]);
    anpi_errors_free(&errs);
    struct anpi_ruleset *rules = NULL;
    int rrc = ANPI_EPARSE;
    if (cfg)
        rrc = load_rules(cfg, &rules);
    if (rc != ANPI_OK || rrc != ANPI_OK) {
        fprintf(stderr, "anpid: %s is not valid%s\n", config_path,
                rc == ANPI_OK ? " (rule errors above)" : "");
        anpi_ruleset_free(rules);
        anpi_config_free(cfg);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK, %zu rule(s) from %zu file(s)\n", config_path, rules->nrules,
               rules->nfiles);
        anpi_ruleset_free(rules);
        anpi_config_free(cfg);
        return 0;
    }
    if (log_level || cfg->log_level)
        anpi_log_set_level_name(log_level ? log_level : cfg->log_level);
    signal(SIGPIPE, SIG_IGN);

    struct anpi_engine *e = &engine;
    e->cfg = cfg;
    e->rules = rules;
    e->loop = uv_default_loop();
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(e->node_id, sizeof(e->node_id), "%s:%d:%lld", host, (int)getpid(), (long long)anpi_now_ms());
    const char *at = cfg->smtp_from ? strrchr(cfg->smtp_from, '@') : NULL;
    snprintf(e->mail_domain, sizeof(e->mail_domain), "%s", at ? at + 1 : "anpi.invalid");

    char err[1024] = "";
    if (anpi_db_migrate(cfg->db_conninfo, err, sizeof(err)) != ANPI_OK ||
        load_link_key(cfg->db_conninfo, e->link_key, err, sizeof(err)) != ANPI_OK) {
        anpi_error(ANPI_LG_MAIN, "database: %s", err);
        return 1;
    }
    if (cfg->directory_import &&
        anpi_directory_import_file(cfg->db_conninfo, cfg->directory_import, err, sizeof(err)) != ANPI_OK) {
        anpi_error(ANPI_LG_MAIN, "%s", err);
        return 1;
    }

    anpi_db_create(e->loop, cfg->db_conninfo, cfg->db_pool_size, &e->db);
    if (cfg->nrelays) {
        struct anpi_smtp_opts so = {
            .helo_name = cfg->smtp_helo, .timeout_s = cfg->smtp_timeout_s,
            .max_connections = cfg->smtp_connections,
            .limits = cfg->smtp_limits, .nlimits = cfg->nsmtp_limits,
        };
        e->smtp = anpi_smtp_pool_create(e->loop, cfg->relays, cfg->nrelays, &so);
    } else if (!cfg->outbox_dir) {
        anpi_warn(ANPI_LG_MAIN, "no smtp.relays and no outbox.dir: mail stays queued");
    }
    for (size_t i = 0; i < cfg->ndkim; i++) {
        struct anpi_dkim_key *k = anpi_dkim_key_load(cfg->dkim[i].key_file, cfg->dkim[i].algorithm,
                                                     cfg->dkim[i].domain, cfg->dkim[i].selector, err,
                                                     sizeof(err));
        if (!k) {
            anpi_error(ANPI_LG_MAIN, "dkim[%zu]: %s", i, err);
            return 1;
        }
        e->dkim = anpi_xrealloc(e->dkim, (e->ndkim + 1) * sizeof(*e->dkim));
        e->dkim[e->ndkim++] = k;
    }
    if (anpi_inbound_start(e, err, sizeof(err)) != ANPI_OK) {
        anpi_error(ANPI_LG_MAIN, "inbound.lmtp: %s", err);
        return 1;
    }
    if (anpi_api_start(e, err, sizeof(err)) != ANPI_OK) {
        anpi_error(ANPI_LG_MAIN, "http: %s", err);
        return 1;
    }
    start_feeds(e);
    anpi_feed_health_start(e);
    anpi_sync_start(e);
    anpi_rules_audit(e);
    for (size_t i = 0; i < rules->nrules; i++) {
        if (rules->rules[i].sender_hr && strncmp(cfg->public_url, "https://", 8) != 0) {
            anpi_warn(ANPI_LG_MAIN, "rule %s sends HR mail but public_url is not https: RFC 8058 one-click "
                      "unsubscribe needs https, so that mail cannot be built", rules->rules[i].id);
            break;
        }
    }
    anpi_dispatch_start(e);

    uv_signal_init(e->loop, &sig_term);
    uv_signal_init(e->loop, &sig_int);
    sig_term.data = sig_int.data = e;
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    anpi_info(ANPI_LG_MAIN, "anpid %s started: %zu rule(s), node %s", ANPI_VERSION, rules->nrules, e->node_id);

    uv_run(e->loop, UV_RUN_DEFAULT);
    anpi_info(ANPI_LG_MAIN, "stopped");
    uv_loop_close(e->loop);
    for (size_t i = 0; i < e->ndkim; i++)
        anpi_dkim_key_free(e->dkim[i]);
    free(e->dkim);
    anpi_ruleset_free(rules);
    anpi_config_free(cfg);
    return 0;
}
