/* config.c - the anpid configuration file (YAML) loader.
 *
 * libyaml's event API builds a small tree that keeps every node's position;
 * a directive table (name, kind, offset, limits) per section then walks that
 * tree into struct anpi_config.  Aliases are refused: the config needs none,
 * and refusing them rules out alias bombs and cycles in one stroke.  Every
 * problem is reported as "FILE:LINE:COL: key.path: message" and the walk goes
 * on, so one run lists everything that is wrong. */
#include "engine/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "engine/buf.h"
#include "engine/people_csv.h"

#define CONF_MAX_FILE    (1024 * 1024)
#define CONF_MAX_DEPTH   16
#define CONF_MAX_STRING  (64 * 1024)    /* after ${ENV:...} substitution */
#define CONF_MAX_SECRET  (64 * 1024)    /* token_file, password_file */
#define CONF_MAX_LIST    256
#define CONF_MAX_RELAYS  16
#define CONF_MAX_LIMITS  256
#define CONF_SHOWN       60             /* bytes of a bad value echoed back */

/* ---- the node tree ----------------------------------------------------- */

enum ntype { N_SCALAR, N_MAP, N_SEQ };

struct node {
    enum ntype type;
    int line, col;              /* 1-based */
    bool plain;                 /* scalar was unquoted (so "~" means null) */
    char *str;                  /* scalar text */
    size_t len;
    struct node **kids;         /* map: key, value, key, value...; seq: items */
    size_t n, cap;
};

static void
node_free(struct node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

static void
node_add(struct node *parent, struct node *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->kids = anpi_xrealloc(parent->kids, parent->cap * sizeof(*parent->kids));
    }
    parent->kids[parent->n++] = kid;
}

static bool
node_is_null(const struct node *n)
{
    return n->type == N_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
            strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

static const char *
node_kind(const struct node *n)
{
    if (n->type == N_MAP)
        return "a mapping";
    if (n->type == N_SEQ)
        return "a list";
    return node_is_null(n) ? "nothing" : "a scalar";
}

/* ---- errors ------------------------------------------------------------ */

struct cctx {
    const char *file;           /* as given, for messages */
    char *dir;                  /* directory of the file, for relative paths */
    struct anpi_errors *errs;
    size_t nerr;
    int doc_line, doc_col;      /* document start: where missing keys point */
};

static void cerr(struct cctx *c, int line, int col, const char *path, const char *fmt, ...)
    ANPI_PRINTF(5, 6);

static void
cerr(struct cctx *c, int line, int col, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->nerr++;
    if (path && *path)
        anpi_errors_add(c->errs, "%s:%d:%d: %s: %s", c->file, line, col, path, msg);
    else
        anpi_errors_add(c->errs, "%s:%d:%d: %s", c->file, line, col, msg);
}

/* A value from the file for a message: at most CONF_SHOWN bytes, cut on a
 * UTF-8 boundary, control characters and quotes as '?'. */
static const char *
shown(char *dst, size_t dstlen, const char *s, size_t len)
{
    size_t n = 0, i = 0;
    size_t lim = len > CONF_SHOWN ? CONF_SHOWN : len;
    if (lim > dstlen - 4)
        lim = dstlen - 4;
    while (i < lim) {
        unsigned char ch = (unsigned char)s[i];
        size_t w = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
        if (i + w > lim)
            break;
        for (size_t k = 0; k < w; k++) {
            unsigned char b = (unsigned char)s[i + k];
            dst[n++] = (b < 0x20 || b == 0x7F || b == '"') ? '?' : (char)b;
        }
        i += w;
    }
    if (i < len) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
}

/* ---- reading and building the tree ------------------------------------- */

static int
read_file(struct cctx *c, const char *path, size_t max, const char *what, char **data,
          size_t *len, int line, int col, const char *keypath)
{
    /* O_NONBLOCK: a FIFO given as a path must not hang start-up */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        cerr(c, line, col, keypath, "cannot open %s %s: %s", what, path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cerr(c, line, col, keypath, "%s %s is not a regular file", what, path);
        close(fd);
        return ANPI_EPARSE;
    }
    /* read one byte more than allowed so a file that grew is still caught */
    struct anpi_buf b;
    anpi_buf_init(&b, max);
    char chunk[8192];
    int rc = ANPI_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            cerr(c, line, col, keypath, "cannot read %s %s: %s", what, path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (anpi_buf_append(&b, chunk, (size_t)n) != 0) {
            rc = ANPI_ETOOBIG;
            cerr(c, line, col, keypath, "%s %s is larger than %zu bytes", what, path, max);
            break;
        }
    }
    close(fd);
    if (rc) {
        anpi_buf_free(&b);
        return rc;
    }
    *len = b.len;
    *data = anpi_buf_steal(&b);
    return ANPI_OK;
}

/* Build the node tree from libyaml events.  NULL root with no error means an
 * empty document. */
static int
build_tree(struct cctx *c, const char *data, size_t len, struct node **root)
{
    yaml_parser_t p;
    struct node *stack[CONF_MAX_DEPTH];
    int depth = 0, ndocs = 0, rc = ANPI_OK;
    bool done = false;

    *root = NULL;
    c->doc_line = c->doc_col = 1;
    if (!yaml_parser_initialize(&p))
        return ANPI_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            char ctxbuf[128] = "";
            if (p.context)
                snprintf(ctxbuf, sizeof(ctxbuf), " (%s at line %zu)", p.context,
                         p.context_mark.line + 1);
            cerr(c, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1, NULL,
                 "YAML syntax error: %s%s", p.problem ? p.problem : "unknown problem", ctxbuf);
            rc = ANPI_EPARSE;
            break;
        }
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        struct node *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++ndocs > 1) {
                cerr(c, line, col, NULL, "only one YAML document is allowed");
                rc = ANPI_EPARSE;
                done = true;
            } else {
                c->doc_line = line;
                c->doc_col = col;
            }
            break;
        case YAML_ALIAS_EVENT:
            cerr(c, line, col, NULL, "YAML aliases (*%s) are not supported in the config",
                 (const char *)ev.data.alias.anchor);
            rc = ANPI_EPARSE;
            done = true;
            break;
        case YAML_SCALAR_EVENT:
            n = anpi_xcalloc(1, sizeof(*n));
            n->type = N_SCALAR;
            n->len = ev.data.scalar.length;
            n->str = anpi_xstrndup((const char *)ev.data.scalar.value, n->len);
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == CONF_MAX_DEPTH) {
                cerr(c, line, col, NULL, "nested deeper than %d levels", CONF_MAX_DEPTH);
                rc = ANPI_EPARSE;
                done = true;
                break;
            }
            n = anpi_xcalloc(1, sizeof(*n));
            n->type = ev.type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        if (n) {
            n->line = line;
            n->col = col;
            if (depth > 0)
                node_add(stack[depth - 1], n);
            else if (!*root)
                *root = n;
            else
                node_free(n);   /* cannot happen: one document, one root */
            if (n->type != N_SCALAR)
                stack[depth++] = n;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc) {
        node_free(*root);
        *root = NULL;
    }
    return rc;
}

/* ---- directive tables -------------------------------------------------- */

enum kind {
    K_SECTION,      /* mapping described by sub */
    K_STR,          /* char *, length min..max */
    K_SECRET_FILE,  /* char * read from a file (same field as its excl sibling) */
    K_PATH,         /* char *, relative to the config file's directory */
    K_PATH_LIST,    /* char ** + size_t: a string or a list of strings */
    K_URL_LIST,     /* char ** + size_t: http(s) URLs */
    K_DOMAIN_LIST,  /* char ** + size_t: mail domains (LDH labels, lower-cased) */
    K_URL,          /* char *, http(s), no trailing '/' */
    K_HOSTPORT,     /* char *, "host:port" or "[v6]:port" */
    K_HOSTNAME,     /* char *, LDH labels */
    K_ADDR,         /* char *, a mail address */
    K_INT,          /* int in min..max */
    K_SIZE,         /* size_t in min..max */
    K_DUR_INT,      /* int seconds in min..max */
    K_DUR64,        /* int64_t seconds in min..max */
    K_BOOL,         /* bool */
    K_TLS,          /* enum anpi_tls_mode */
    K_LOGLEVEL,     /* char *: debug|info|warn|error */
    K_RELAYS,       /* struct anpi_relay_conf * + size_t, items described by sub */
    K_DKIM,         /* struct anpi_dkim_conf * + size_t: a mapping or a list of them */
    K_LIMITS,       /* struct anpi_smtp_limit * + size_t: smtp.limits, items described by sub */
    K_FEED,         /* a feeds.<source> section: one struct anpi_feed_conf in cfg->feeds */
    K_DEVICE,       /* char *, an absolute path such as /dev/ttyUSB0 */
    K_BAUD,         /* int, a standard serial line speed */
    K_GROUP,        /* char *, a directory group name or path like "本省/大臣官房" */
    K_SOURCE,       /* char *, an http(s) URL, or else a path relative to the config file */
    K_HHMM,         /* int minutes after midnight from "HH:MM" (00:00-23:59) */
    K_CIDR_LIST,    /* char ** + size_t: IPv4/IPv6 addresses or CIDR blocks (api.allow) */
    K_RATIO,        /* double from 0 to 1 (an answer rate) */
};

#define D_REQUIRED 1u   /* required (together with its excl sibling, if any) */
#define D_SECRET   2u   /* never echo the value */

struct directive {
    const char *name;
    enum kind kind;
    size_t off;                 /* offset of the field in the base struct */
    size_t off_n;               /* lists: offset of the count */
    int64_t min, max;
    unsigned flags;
    const struct directive *sub;
    const char *excl;           /* sibling that may be given instead, not as well */
};

#define CF(f) offsetof(struct anpi_config, f)
#define RF(f) offsetof(struct anpi_relay_conf, f)
#define FF(f) offsetof(struct anpi_feed_conf, f)
#define KF(f) offsetof(struct anpi_dkim_conf, f)

/* smtp.limits items are read into this first: rate is a decimal number,
 * which the directive kinds do not have. */
struct limit_raw {
    char *match;
    int connections;
    char *rate;
    int burst;
    int messages_per_connection;
};
#define LF(f) offsetof(struct limit_raw, f)
#define END { NULL, K_STR, 0, 0, 0, 0, 0, NULL, NULL }

static const struct directive d_database[] = {
    { "conninfo", K_STR, CF(db_conninfo), 0, 1, 4096, D_REQUIRED | D_SECRET, NULL, NULL },
    { "pool", K_INT, CF(db_pool_size), 0, 1, 100, 0, NULL, NULL },
    END,
};

static const struct directive d_listen[] = {
    { "public", K_HOSTPORT, CF(listen_public), 0, 0, 0, 0, NULL, NULL },
    { "admin", K_HOSTPORT, CF(listen_admin), 0, 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_relay[] = {
    { "host", K_HOSTNAME, RF(host), 0, 0, 0, D_REQUIRED, NULL, NULL },
    { "port", K_INT, RF(port), 0, 1, 65535, 0, NULL, NULL },
    { "tls", K_TLS, RF(tls), 0, 0, 0, 0, NULL, NULL },
    { "verify", K_BOOL, RF(tls_verify), 0, 0, 0, 0, NULL, NULL },
    { "ca_file", K_PATH, RF(ca_file), 0, 0, 0, 0, NULL, NULL },
    { "username", K_STR, RF(username), 0, 1, 512, 0, NULL, NULL },
    { "password", K_STR, RF(password), 0, 1, 512, D_SECRET, NULL, "password_file" },
    { "password_file", K_SECRET_FILE, RF(password), 0, 1, 512, 0, NULL, "password" },
    END,
};

static const struct directive d_limit[] = {
    { "match", K_STR, LF(match), 0, 1, 253, D_REQUIRED, NULL, NULL },
    { "connections", K_INT, LF(connections), 0, 1, 100, 0, NULL, NULL },
    { "rate", K_STR, LF(rate), 0, 1, 32, 0, NULL, NULL },
    { "burst", K_INT, LF(burst), 0, 1, 10000, 0, NULL, NULL },
    { "messages_per_connection", K_INT, LF(messages_per_connection), 0, 0, 100000, 0, NULL, NULL },
    END,
};

static const struct directive d_smtp[] = {
    { "relays", K_RELAYS, CF(relays), CF(nrelays), 0, 0, 0, d_relay, NULL },
    { "limits", K_LIMITS, CF(smtp_limits), CF(nsmtp_limits), 0, 0, 0, d_limit, NULL },
    { "from", K_ADDR, CF(smtp_from), 0, 0, 0, 0, NULL, NULL },
    { "from_hr", K_ADDR, CF(smtp_from_hr), 0, 0, 0, 0, NULL, NULL },
    { "iso2022jp_domains", K_DOMAIN_LIST, CF(iso2022jp_domains), CF(niso2022jp_domains), 0, 0, 0, NULL, NULL },
    { "helo", K_HOSTNAME, CF(smtp_helo), 0, 0, 0, 0, NULL, NULL },
    { "timeout", K_DUR_INT, CF(smtp_timeout_s), 0, 1, 3600, 0, NULL, NULL },
    { "connections", K_INT, CF(smtp_connections), 0, 1, 100, 0, NULL, NULL },
    END,
};

static const struct directive d_dkim[] = {
    { "domain", K_HOSTNAME, KF(domain), 0, 0, 0, D_REQUIRED, NULL, NULL },
    { "selector", K_STR, KF(selector), 0, 1, 63, D_REQUIRED, NULL, NULL },
    { "key", K_PATH, KF(key_file), 0, 0, 0, D_REQUIRED, NULL, NULL },
    { "algorithm", K_STR, KF(algorithm), 0, 1, 32, 0, NULL, NULL },
    END,
};

static const struct directive d_rules[] = {
    { "paths", K_PATH_LIST, CF(rule_paths), CF(nrule_paths), 0, 0, 0, NULL, NULL },
    { "packs_dir", K_PATH, CF(packs_dir), 0, 0, 0, 0, NULL, NULL },
    { "templates_dir", K_PATH, CF(templates_dir), 0, 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_directory_sync[] = {
    { "source", K_SOURCE, CF(sync_source), 0, 0, 0, 0, NULL, NULL },   /* required: see below */
    { "at", K_HHMM, CF(sync_at_min), 0, 0, 0, 0, NULL, NULL },
    { "report_group", K_GROUP, CF(sync_report_group), 0, 1, 256, 0, NULL, NULL },
    END,
};

static const struct directive d_directory[] = {
    { "import", K_PATH, CF(directory_import), 0, 0, 0, 0, NULL, NULL },
    { "address_check", K_DUR64, CF(address_check_s), 0, 86400, 366 * 86400, 0, NULL, NULL },
    { "sync", K_SECTION, 0, 0, 0, 0, 0, d_directory_sync, NULL },
    END,
};

/* Feed sections: the base is a struct anpi_feed_conf.  cfg->jma_urls and
 * cfg->jma_interval_s are copied from feeds.jma after the walk. */
#define STALE_MIN 10
#define STALE_MAX (30 * 86400)

static const struct directive d_feed_jma[] = {
    { "url", K_URL_LIST, FF(urls), FF(nurls), 0, 0, 0, NULL, NULL },
    { "long_url", K_URL_LIST, FF(long_urls), FF(nlong_urls), 0, 0, 0, NULL, NULL },
    { "interval", K_DUR_INT, FF(interval_s), 0, 10, 86400, 0, NULL, NULL },
    { "stale_after", K_DUR64, FF(stale_after_s), 0, STALE_MIN, STALE_MAX, 0, NULL, NULL },
    END,
};

/* cap, mofa, gdacs: one document polled (cap may also be push only) */
static const struct directive d_feed_doc[] = {
    { "url", K_URL_LIST, FF(urls), FF(nurls), 0, 0, 0, NULL, NULL },
    { "interval", K_DUR_INT, FF(interval_s), 0, 10, 86400, 0, NULL, NULL },
    { "stale_after", K_DUR64, FF(stale_after_s), 0, STALE_MIN, STALE_MAX, 0, NULL, NULL },
    END,
};

static const struct directive d_feed_qzss[] = {
    { "tcp", K_HOSTPORT, FF(tcp), 0, 0, 0, D_REQUIRED, NULL, "device" },
    { "device", K_DEVICE, FF(device), 0, 0, 0, D_REQUIRED, NULL, "tcp" },
    { "baud", K_BAUD, FF(baud), 0, 0, 0, 0, NULL, NULL },
    { "stale_after", K_DUR64, FF(stale_after_s), 0, STALE_MIN, STALE_MAX, 0, NULL, NULL },
    END,
};

static const struct directive d_feed_eew[] = {
    { "stale_after", K_DUR64, FF(stale_after_s), 0, STALE_MIN, STALE_MAX, 0, NULL, NULL },
    END,
};

/* min of a K_FEED directive: the default interval in seconds */
static const struct directive d_feeds[] = {
    { "jma", K_FEED, 0, 0, 60, 0, 0, d_feed_jma, NULL },
    { "cap", K_FEED, 0, 0, 60, 0, 0, d_feed_doc, NULL },
    { "mofa", K_FEED, 0, 0, 300, 0, 0, d_feed_doc, NULL },
    { "gdacs", K_FEED, 0, 0, 600, 0, 0, d_feed_doc, NULL },
    { "qzss", K_FEED, 0, 0, 0, 0, 0, d_feed_qzss, NULL },
    { "eew", K_FEED, 0, 0, 0, 0, 0, d_feed_eew, NULL },
    { "alarm_group", K_GROUP, CF(feed_alarm_group), 0, 1, 256, 0, NULL, NULL },
    END,
};

static const struct directive d_api[] = {
    { "token", K_STR, CF(api_token), 0, 16, 4096, D_REQUIRED | D_SECRET, NULL, "token_file" },
    { "token_file", K_SECRET_FILE, CF(api_token), 0, 16, 4096, D_REQUIRED, NULL, "token" },
    { "max_body", K_SIZE, CF(api_max_body), 0, 1024, 1024 * 1024 * 1024, 0, NULL, NULL },
    { "allow", K_CIDR_LIST, CF(api_allow), CF(napi_allow), 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_accounts[] = {
    { "session_idle", K_DUR64, CF(session_idle_s), 0, 60, 86400, 0, NULL, NULL },
    { "session_max", K_DUR64, CF(session_max_s), 0, 300, 30 * 86400, 0, NULL, NULL },
    { "password_min_chars", K_INT, CF(password_min_chars), 0, 8, 128, 0, NULL, NULL },
    { "password_history", K_INT, CF(password_history), 0, 0, 24, 0, NULL, NULL },
    { "password_remind_after", K_DUR64, CF(password_remind_s), 0, 86400, 3650 * 86400, 0, NULL, NULL },
    { "token_lifetime", K_DUR64, CF(token_max_s), 0, 3600, 3650 * 86400, 0, NULL, NULL },
    END,
};

static const struct directive d_office_hours[] = {
    { "start", K_HHMM, CF(office_start_min), 0, 0, 0, 0, NULL, NULL },
    { "end", K_HHMM, CF(office_end_min), 0, 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_audit[] = {
    { "bulk_read_rows", K_INT, CF(bulk_read_rows), 0, 10, 10000000, 0, NULL, NULL },
    { "office_hours", K_SECTION, 0, 0, 0, 0, 0, d_office_hours, NULL },
    END,
};

/* escalation: present = on for every safety broadcast (see anpi_config_load) */
static const struct directive d_escalation[] = {
    { "after", K_DUR64, CF(escalation_after_s), 0, 0, 30 * 86400, 0, NULL, NULL },
    { "below", K_RATIO, CF(escalation_below), 0, 0, 0, 0, NULL, NULL },
    { "check_every", K_DUR64, CF(escalation_every_s), 0, 1, 3600, 0, NULL, NULL },
    END,
};

static const struct directive d_outbox[] = {
    { "dir", K_PATH, CF(outbox_dir), 0, 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_incidents[] = {
    { "expiry", K_DUR64, CF(incident_expiry_s), 0, 60, 30 * 86400, 0, NULL, NULL },
    END,
};

static const struct directive d_inbound[] = {
    { "lmtp", K_HOSTPORT, CF(inbound_lmtp), 0, 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_log[] = {
    { "level", K_LOGLEVEL, CF(log_level), 0, 0, 0, 0, NULL, NULL },
    END,
};

static const struct directive d_root[] = {
    { "database", K_SECTION, 0, 0, 0, 0, 0, d_database, NULL },
    { "listen", K_SECTION, 0, 0, 0, 0, 0, d_listen, NULL },
    { "public_url", K_URL, CF(public_url), 0, 0, 0, D_REQUIRED, NULL, NULL },
    { "smtp", K_SECTION, 0, 0, 0, 0, 0, d_smtp, NULL },
    { "inbound", K_SECTION, 0, 0, 0, 0, 0, d_inbound, NULL },
    { "rules", K_SECTION, 0, 0, 0, 0, 0, d_rules, NULL },
    { "directory", K_SECTION, 0, 0, 0, 0, 0, d_directory, NULL },
    { "feeds", K_SECTION, 0, 0, 0, 0, 0, d_feeds, NULL },
    { "api", K_SECTION, 0, 0, 0, 0, 0, d_api, NULL },
    { "outbox", K_SECTION, 0, 0, 0, 0, 0, d_outbox, NULL },
    { "dkim", K_DKIM, CF(dkim), CF(ndkim), 0, 0, 0, d_dkim, NULL },
    { "incidents", K_SECTION, 0, 0, 0, 0, 0, d_incidents, NULL },
    { "accounts", K_SECTION, 0, 0, 0, 0, 0, d_accounts, NULL },
    { "audit", K_SECTION, 0, 0, 0, 0, 0, d_audit, NULL },
    { "escalation", K_SECTION, 0, 0, 0, 0, 0, d_escalation, NULL },
    { "log", K_SECTION, 0, 0, 0, 0, 0, d_log, NULL },
    END,
};

#define MAX_DIRECTIVES 24       /* per table (d_root has 16) */

/* ---- scalar helpers ---------------------------------------------------- */

static char *
join_path(const char *prefix, const char *name)
{
    return *prefix ? anpi_xasprintf("%s.%s", prefix, name) : anpi_xstrdup(name);
}

/* Replace every ${ENV:NAME} in s.  NULL (error reported) if a variable is
 * unset or a reference is malformed. */
static char *
env_subst(struct cctx *c, const struct node *n, const char *path, const char *s)
{
    if (!strstr(s, "${ENV:"))
        return anpi_xstrdup(s);
    struct anpi_buf b;
    anpi_buf_init(&b, CONF_MAX_STRING);
    const char *p = s;
    int rc = 0;
    while (!rc) {
        const char *ref = strstr(p, "${ENV:");
        if (!ref) {
            rc = anpi_buf_puts(&b, p);
            break;
        }
        rc = anpi_buf_append(&b, p, (size_t)(ref - p));
        const char *name = ref + 6;
        size_t nlen = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789_");
        if (nlen == 0 || nlen > 128 || name[nlen] != '}' || (name[0] >= '0' && name[0] <= '9')) {
            cerr(c, n->line, n->col, path,
                 "malformed environment reference: write ${ENV:NAME} with NAME of "
                 "letters, digits and '_'");
            anpi_buf_free(&b);
            return NULL;
        }
        char var[130];
        memcpy(var, name, nlen);
        var[nlen] = '\0';
        const char *v = getenv(var);
        if (!v) {
            cerr(c, n->line, n->col, path, "environment variable %s is not set", var);
            anpi_buf_free(&b);
            return NULL;
        }
        if (!rc)
            rc = anpi_buf_puts(&b, v);
        p = name + nlen + 1;
    }
    if (rc) {
        cerr(c, n->line, n->col, path, "value is longer than %d bytes", CONF_MAX_STRING);
        anpi_buf_free(&b);
        return NULL;
    }
    return anpi_buf_steal(&b);
}

/* The string value of a scalar, with ${ENV:...} substituted; NULL and an
 * error when the node is not a usable scalar. */
static char *
scalar(struct cctx *c, const struct node *n, const char *path)
{
    if (n->type != N_SCALAR || node_is_null(n)) {
        cerr(c, n->line, n->col, path, "expected a value, got %s", node_kind(n));
        return NULL;
    }
    if (memchr(n->str, '\0', n->len)) {
        cerr(c, n->line, n->col, path, "value contains a NUL character");
        return NULL;
    }
    return env_subst(c, n, path, n->str);
}

static void
bad_value(struct cctx *c, const struct directive *d, const struct node *n, const char *path,
          const char *expected)
{
    char q[CONF_SHOWN * 2];
    if (d->flags & D_SECRET)
        cerr(c, n->line, n->col, path, "expected %s", expected);
    else
        cerr(c, n->line, n->col, path, "expected %s, got \"%s\"", expected,
             shown(q, sizeof(q), n->str, n->len));
}

static bool
has_space_or_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7F)
            return true;
    return false;
}

static bool
hostname_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253)
        return false;
    const char *label = s;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t n = (size_t)(p - label);
            if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
                return false;
            if (*p == '\0')
                return true;
            label = p + 1;
            continue;
        }
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
}

/* NULL if s is a valid "host:port", else what is wrong. */
static const char *
hostport_problem(const char *s)
{
    const char *port;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return "expected [IPv6 address]:port, like [::1]:8080";
        size_t n = (size_t)(close - s - 1);
        char a[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        if (n == 0 || n >= sizeof(a))
            return "not a valid IPv6 address in brackets";
        memcpy(a, s + 1, n);
        a[n] = '\0';
        if (inet_pton(AF_INET6, a, bin) != 1)
            return "not a valid IPv6 address in brackets";
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return "expected host:port, like 127.0.0.1:8080";
        if (memchr(s, ':', (size_t)(colon - s)))
            return "IPv6 addresses need brackets, like [::1]:8080";
        size_t n = (size_t)(colon - s);
        if (n == 0 || n > 253)
            return "expected host:port with a host name or address before ':'";
        char h[254];
        memcpy(h, s, n);
        h[n] = '\0';
        if (!hostname_ok(h))
            return "the host is not a valid host name or IPv4 address";
        port = colon + 1;
    }
    int64_t v;
    if (anpi_parse_int64(port, 0, 65535, &v) != 0 || port[0] == '+' || port[0] == '-')
        return "the port must be a number from 0 to 65535";
    return NULL;
}

/* NULL if s is an http(s) URL we can use as a base, else what is wrong. */
static const char *
url_problem(const char *s, bool base)
{
    size_t skip;
    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return "expected an http:// or https:// URL";
    if (has_space_or_control(s))
        return "a URL must not contain spaces or control characters";
    size_t hlen = strcspn(s + skip, "/:?#");
    if (hlen == 0)
        return "the URL has no host";
    if (strchr(s, '#'))
        return "a URL here must not have a #fragment";
    if (base && strchr(s, '?'))
        return "a base URL must not have a ?query";
    return NULL;
}

static char *
resolve_path(const struct cctx *c, const char *p)
{
    if (p[0] == '/')
        return anpi_xstrdup(p);
    return anpi_xasprintf("%s/%s", c->dir, p);
}

/* Read a secret file: trailing CR/LF dropped, nothing else changed. */
static char *
read_secret(struct cctx *c, const struct node *n, const char *path, const char *file)
{
    char *data = NULL;
    size_t len = 0;
    if (read_file(c, file, CONF_MAX_SECRET, "secret file", &data, &len, n->line, n->col,
                  path) != 0)
        return NULL;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (memchr(data, '\0', len) || strchr(data, '\n')) {
        cerr(c, n->line, n->col, path, "secret file %s must hold one line of text", file);
        free(data);
        return NULL;
    }
    return data;
}

static void
set_str(void *base, size_t off, char *v)
{
    char **slot = (char **)((char *)base + off);
    free(*slot);
    *slot = v;
}

static void
free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* NULL if s is an IPv4/IPv6 address or CIDR block, else what is wrong.
 * The same rules as anpi_cidr_parse (admin-api/allowlist.c), which compiles
 * the list at start-up; here they give the error its file:line:col. */
static const char *
cidr_problem(const char *s)
{
    char a[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(a))
        return "expected an IPv4 or IPv6 address or CIDR block like 10.0.0.0/8 or 2001:db8::/32";
    memcpy(a, s, alen);
    a[alen] = '\0';
    bool v6 = strchr(a, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, a, bin) != 1)
        return "expected an IPv4 or IPv6 address or CIDR block like 10.0.0.0/8 or 2001:db8::/32";
    int64_t max = v6 ? 128 : 32, prefix = max;
    if (slash) {
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n < 1 || n > 3 || strspn(p, "0123456789") != n || (n > 1 && p[0] == '0') ||
            anpi_parse_int64(p, 0, max, &prefix) != 0)
            return v6 ? "the prefix length after '/' must be a number from 0 to 128"
                      : "the prefix length after '/' must be a number from 0 to 32";
    }
    /* a host bit under the prefix is most likely a typo in the prefix */
    size_t nbytes = v6 ? 16 : 4;
    for (size_t i = 0; i < nbytes; i++) {
        int64_t lo = (int64_t)i * 8;
        int keep = prefix >= lo + 8 ? 8 : prefix > lo ? (int)(prefix - lo) : 0;
        unsigned char mask = keep == 0 ? 0 : (unsigned char)(0xffu << (8 - keep));
        if ((bin[i] & (unsigned char)~mask) != 0)
            return "host bits are set below the prefix length (write the network address)";
    }
    return NULL;
}

/* ---- the walk ---------------------------------------------------------- */

static void walk_map(struct cctx *c, const struct node *n, const struct directive *tab,
                     void *base, const char *path, int miss_line, int miss_col,
                     const struct node **seen);

static void
set_string_list(struct cctx *c, const struct directive *d, const struct node *n, void *base,
                const char *path)
{
    char ***slot = (char ***)((char *)base + d->off);
    size_t *count = (size_t *)((char *)base + d->off_n);
    const struct node *const *items = (const struct node *const *)&n;
    size_t nitems = 1;
    if (n->type == N_SEQ) {
        items = (const struct node *const *)n->kids;
        nitems = n->n;
        if (nitems == 0 && d->kind == K_CIDR_LIST) {
            /* api.allow: [] says "every peer", like leaving it out */
            free_list(*slot, *count);
            *slot = NULL;
            *count = 0;
            return;
        }
        if (nitems == 0) {
            cerr(c, n->line, n->col, path, "the list is empty");
            return;
        }
        if (nitems > CONF_MAX_LIST) {
            cerr(c, n->line, n->col, path, "more than %d entries", CONF_MAX_LIST);
            return;
        }
    } else if (n->type != N_SCALAR || node_is_null(n)) {
        cerr(c, n->line, n->col, path, "expected a string or a list of strings, got %s",
             node_kind(n));
        return;
    }
    char **list = anpi_xcalloc(nitems, sizeof(*list));
    size_t got = 0;
    for (size_t i = 0; i < nitems; i++) {
        char *ipath = n->type == N_SEQ ? anpi_xasprintf("%s[%zu]", path, i) : anpi_xstrdup(path);
        const struct node *it = items[i];
        char *v = scalar(c, it, ipath);
        if (v) {
            const char *why = NULL;
            if (*v == '\0')
                why = "must not be empty";
            else if (d->kind == K_CIDR_LIST)
                why = cidr_problem(v);
            else if (d->kind == K_URL_LIST)
                why = url_problem(v, false);
            else if (d->kind == K_DOMAIN_LIST) {
                for (char *q = v; *q; q++)
                    if (*q >= 'A' && *q <= 'Z')
                        *q = (char)(*q - 'A' + 'a');
                for (const char *q = v; *q && !why; q++)
                    if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '.'))
                        why = "expected a mail domain like docomo.ne.jp";
                if (!why && (!strchr(v, '.') || v[0] == '.' || v[0] == '-' || strlen(v) > 253))
                    why = "expected a mail domain like docomo.ne.jp";
            }
            if (why) {
                char q[CONF_SHOWN * 2];
                cerr(c, it->line, it->col, ipath, "%s, got \"%s\"", why,
                     shown(q, sizeof(q), it->str, it->len));
                free(v);
            } else if (d->kind == K_PATH_LIST) {
                list[got++] = resolve_path(c, v);
                free(v);
            } else
                list[got++] = v;
        }
        free(ipath);
    }
    free_list(*slot, *count);
    *slot = list;
    *count = got;
}

static const struct node *
seen_of(const struct directive *tab, const struct node **seen, const char *name)
{
    for (size_t i = 0; tab[i].name; i++)
        if (strcmp(tab[i].name, name) == 0)
            return seen[i];
    return NULL;
}

static void
set_relays(struct cctx *c, const struct directive *d, const struct node *n, void *base,
           const char *path)
{
    struct anpi_relay_conf **slot = (struct anpi_relay_conf **)((char *)base + d->off);
    size_t *count = (size_t *)((char *)base + d->off_n);
    if (n->type != N_SEQ) {
        cerr(c, n->line, n->col, path, "expected a list of relays, got %s", node_kind(n));
        return;
    }
    if (n->n > CONF_MAX_RELAYS) {
        cerr(c, n->line, n->col, path, "more than %d relays", CONF_MAX_RELAYS);
        return;
    }
    struct anpi_relay_conf *r = anpi_xcalloc(n->n ? n->n : 1, sizeof(*r));
    *slot = r;
    *count = n->n;
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->kids[i];
        char *ipath = anpi_xasprintf("%s[%zu]", path, i);
        const struct node *seen[MAX_DIRECTIVES] = { 0 };
        r[i].tls = ANPI_TLS_NONE;
        r[i].tls_verify = true;
        walk_map(c, it, d->sub, &r[i], ipath, it->line, it->col, seen);
        if (r[i].port == 0)
            r[i].port = r[i].tls == ANPI_TLS_IMPLICIT ? 465 : 25;
        const struct node *user = seen_of(d->sub, seen, "username");
        const struct node *pw_inline = seen_of(d->sub, seen, "password");
        const struct node *pw = pw_inline ? pw_inline : seen_of(d->sub, seen, "password_file");
        if (user && r[i].tls == ANPI_TLS_NONE) {
            char *p = anpi_xasprintf("%s.username", ipath);
            cerr(c, user->line, user->col, p,
                 "AUTH only over TLS: set tls: starttls or implicit, or drop the username");
            free(p);
        }
        if (user && !pw) {
            char *p = anpi_xasprintf("%s.username", ipath);
            cerr(c, user->line, user->col, p, "a username needs password or password_file");
            free(p);
        }
        if (pw && !user) {
            char *p = anpi_xasprintf("%s.%s", ipath, pw_inline ? "password" : "password_file");
            cerr(c, pw->line, pw->col, p, "a password needs a username");
            free(p);
        }
        free(ipath);
    }
}

/* dkim: {domain, selector, key, algorithm} or a list of such mappings. */
static void
set_dkim(struct cctx *c, const struct directive *d, const struct node *n, void *base,
         const char *path)
{
    struct anpi_dkim_conf **slot = (struct anpi_dkim_conf **)((char *)base + d->off);
    size_t *count = (size_t *)((char *)base + d->off_n);
    const struct node *const *items = (const struct node *const *)&n;
    size_t nitems = 1;
    if (n->type == N_SEQ) {
        items = (const struct node *const *)n->kids;
        nitems = n->n;
        if (nitems == 0 || nitems > ANPI_CONFIG_MAX_DKIM) {
            cerr(c, n->line, n->col, path, "expected 1 to %d signing keys, got %zu",
                 ANPI_CONFIG_MAX_DKIM, nitems);
            return;
        }
    } else if (n->type != N_MAP) {
        cerr(c, n->line, n->col, path, "expected a mapping or a list of mappings, got %s",
             node_kind(n));
        return;
    }
    struct anpi_dkim_conf *k = anpi_xcalloc(nitems, sizeof(*k));
    *slot = k;
    *count = nitems;
    for (size_t i = 0; i < nitems; i++) {
        const struct node *it = items[i];
        char *ipath = n->type == N_SEQ ? anpi_xasprintf("%s[%zu]", path, i) : anpi_xstrdup(path);
        const struct node *seen[MAX_DIRECTIVES] = { 0 };
        walk_map(c, it, d->sub, &k[i], ipath, it->line, it->col, seen);
        const struct node *alg = seen_of(d->sub, seen, "algorithm");
        if (!k[i].algorithm && !alg)
            k[i].algorithm = anpi_xstrdup("rsa-sha256");
        if (alg && k[i].algorithm && strcmp(k[i].algorithm, "rsa-sha256") != 0 &&
            strcmp(k[i].algorithm, "ed25519-sha256") != 0) {
            char *kp = anpi_xasprintf("%s.algorithm", ipath);
            char q[CONF_SHOWN * 2];
            cerr(c, alg->line, alg->col, kp, "expected rsa-sha256 or ed25519-sha256, got \"%s\"",
                 shown(q, sizeof(q), alg->str, alg->len));
            free(kp);
        }
        const struct node *sel = seen_of(d->sub, seen, "selector");
        if (sel && k[i].selector &&
            (strspn(k[i].selector, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789.-_") != strlen(k[i].selector) ||
             k[i].selector[0] == '.' || k[i].selector[0] == '-')) {
            char *kp = anpi_xasprintf("%s.selector", ipath);
            char q[CONF_SHOWN * 2];
            cerr(c, sel->line, sel->col, kp, "letters, digits, '.', '-' and '_' only, got \"%s\"",
                 shown(q, sizeof(q), sel->str, sel->len));
            free(kp);
        }
        free(ipath);
    }
}

static const int bauds[] = { 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400 };

/* The port of a "host:port" already checked by hostport_problem. */
static int64_t
hostport_port(const char *s)
{
    int64_t v = -1;
    const char *colon = strrchr(s, ':');
    if (colon)
        anpi_parse_int64(colon + 1, 0, 65535, &v);
    return v;
}

static void
set_feed(struct cctx *c, const struct directive *d, const struct node *n, void *base,
         const char *path)
{
    struct anpi_config *cfg = base;
    if (!node_is_null(n) && n->type != N_MAP) {
        cerr(c, n->line, n->col, path, "expected a mapping, got %s", node_kind(n));
        return;
    }
    /* walk_map refuses duplicate keys, so each source comes at most once */
    if (!cfg->feeds)
        cfg->feeds = anpi_xcalloc(ANPI_CONFIG_MAX_FEEDS, sizeof(*cfg->feeds));
    if (cfg->nfeeds == ANPI_CONFIG_MAX_FEEDS)
        return;
    struct anpi_feed_conf *f = &cfg->feeds[cfg->nfeeds++];
    f->source = anpi_xstrdup(d->name);
    f->interval_s = (int)d->min;
    const struct node *seen[MAX_DIRECTIVES] = { 0 };
    walk_map(c, n, d->sub, f, path, n->line, n->col, seen);

    const struct node *url = seen_of(d->sub, seen, "url");
    const struct node *long_url = seen_of(d->sub, seen, "long_url");
    const struct node *stale = seen_of(d->sub, seen, "stale_after");
    const struct node *tcp = seen_of(d->sub, seen, "tcp");
    const struct node *baud = seen_of(d->sub, seen, "baud");
    char *kp = NULL;
    /* MOFA and GDACS have no push channel: without a URL nothing arrives */
    if (!url && (strcmp(d->name, "mofa") == 0 || strcmp(d->name, "gdacs") == 0)) {
        kp = join_path(path, "url");
        cerr(c, n->line, n->col, kp, "missing required key (%s is polled)", d->name);
        free(kp);
    }
    if (long_url && !url) {
        kp = join_path(path, "long_url");
        cerr(c, long_url->line, long_url->col, kp, "long_url needs url (the short feed) as well");
        free(kp);
    }
    /* an alarm that fires between two polls of a healthy feed is noise */
    if (stale && f->stale_after_s && f->nurls && f->stale_after_s <= f->interval_s) {
        kp = join_path(path, "stale_after");
        cerr(c, stale->line, stale->col, kp,
             "must be longer than the poll interval (%ds), got %llds", f->interval_s,
             (long long)f->stale_after_s);
        free(kp);
    }
    if (tcp && f->tcp && hostport_port(f->tcp) == 0) {
        kp = join_path(path, "tcp");
        cerr(c, tcp->line, tcp->col, kp, "the port must be a number from 1 to 65535");
        free(kp);
    }
    if (baud && tcp) {
        kp = join_path(path, "baud");
        cerr(c, baud->line, baud->col, kp, "baud applies to a serial device only, not to tcp");
        free(kp);
    }
    if (f->device && !f->baud)
        f->baud = 9600;
    if (!f->device)
        f->baud = 0;
}

/* smtp.limits: a list of {match, connections, rate, burst,
 * messages_per_connection}; match is "*" or a mail domain. */
static void
set_limits(struct cctx *c, const struct directive *d, const struct node *n, void *base,
           const char *path)
{
    struct anpi_smtp_limit **slot = (struct anpi_smtp_limit **)((char *)base + d->off);
    size_t *count = (size_t *)((char *)base + d->off_n);
    if (n->type != N_SEQ) {
        cerr(c, n->line, n->col, path, "expected a list of limits, got %s", node_kind(n));
        return;
    }
    if (n->n > CONF_MAX_LIMITS) {
        cerr(c, n->line, n->col, path, "more than %d limits", CONF_MAX_LIMITS);
        return;
    }
    struct anpi_smtp_limit *l = anpi_xcalloc(n->n ? n->n : 1, sizeof(*l));
    *slot = l;
    *count = n->n;
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->kids[i];
        char *ipath = anpi_xasprintf("%s[%zu]", path, i);
        const struct node *seen[MAX_DIRECTIVES] = { 0 };
        struct limit_raw raw = { 0 };
        walk_map(c, it, d->sub, &raw, ipath, it->line, it->col, seen);
        const struct node *m = seen_of(d->sub, seen, "match");
        if (raw.match && strcmp(raw.match, "*") != 0) {
            bool ok = raw.match[0] != '.' && raw.match[0] != '-';
            for (char *q = raw.match; *q && ok; q++) {
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q - 'A' + 'a');
                ok = (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '.';
            }
            if (!ok) {
                char *kp = anpi_xasprintf("%s.match", ipath);
                cerr(c, m ? m->line : it->line, m ? m->col : it->col, kp,
                     "expected a mail domain such as docomo.ne.jp or \"*\", got \"%s\"", raw.match);
                free(kp);
            }
        }
        if (raw.rate) {
            char *end = NULL;
            double v = strtod(raw.rate, &end);
            const struct node *rn = seen_of(d->sub, seen, "rate");
            if (end == raw.rate || *end || !(v >= 0) || v > 100000) {
                char *kp = anpi_xasprintf("%s.rate", ipath);
                cerr(c, rn ? rn->line : it->line, rn ? rn->col : it->col, kp,
                     "expected messages per second from 0 to 100000 (0 = no limit), got \"%s\"",
                     raw.rate);
                free(kp);
            } else {
                l[i].rate = v;
            }
            free(raw.rate);
        }
        l[i].match = raw.match ? raw.match : anpi_xstrdup("");
        l[i].connections = raw.connections;
        l[i].burst = raw.burst > 0 ? raw.burst : 1;
        l[i].messages_per_connection = raw.messages_per_connection;
        free(ipath);
    }
}

static void
set_value(struct cctx *c, const struct directive *d, const struct node *n, void *base,
          const char *path)
{
    if (d->kind == K_SECTION) {
        const struct node *seen[MAX_DIRECTIVES] = { 0 };
        walk_map(c, n, d->sub, base, path, c->doc_line, c->doc_col, seen);
        return;
    }
    if (d->kind == K_RELAYS) {
        set_relays(c, d, n, base, path);
        return;
    }
    if (d->kind == K_DKIM) {
        set_dkim(c, d, n, base, path);
        return;
    }
    if (d->kind == K_LIMITS) {
        set_limits(c, d, n, base, path);
        return;
    }
    if (d->kind == K_FEED) {
        set_feed(c, d, n, base, path);
        return;
    }
    if (d->kind == K_PATH_LIST || d->kind == K_URL_LIST || d->kind == K_DOMAIN_LIST ||
        d->kind == K_CIDR_LIST) {
        set_string_list(c, d, n, base, path);
        return;
    }

    char *v = scalar(c, n, path);
    if (!v)
        return;
    char *p = (char *)base + d->off;
    int64_t num;
    const char *why;
    size_t len = strlen(v);
    size_t minlen = d->min > 0 ? (size_t)d->min : 1;

    switch (d->kind) {
    case K_STR:
        if (len < minlen || len > (size_t)d->max) {
            if (len == 0)
                cerr(c, n->line, n->col, path, "must not be empty");
            else
                cerr(c, n->line, n->col, path, "must be %zu to %lld characters long", minlen,
                     (long long)d->max);
            break;
        }
        set_str(base, d->off, v);
        return;
    case K_SECRET_FILE: {
        if (len == 0) {
            cerr(c, n->line, n->col, path, "must not be empty");
            break;
        }
        char *file = resolve_path(c, v);
        char *secret = read_secret(c, n, path, file);
        if (secret && (strlen(secret) < minlen || strlen(secret) > (size_t)d->max)) {
            cerr(c, n->line, n->col, path, "the secret in %s must be %zu to %lld characters long",
                 file, minlen, (long long)d->max);
            free(secret);
            secret = NULL;
        }
        free(file);
        if (secret)
            set_str(base, d->off, secret);
        break;
    }
    case K_PATH:
        if (len == 0) {
            cerr(c, n->line, n->col, path, "must not be empty");
            break;
        }
        set_str(base, d->off, resolve_path(c, v));
        break;
    case K_URL:
        if ((why = url_problem(v, true))) {
            char q[CONF_SHOWN * 2];
            cerr(c, n->line, n->col, path, "%s, got \"%s\"", why,
                 shown(q, sizeof(q), n->str, n->len));
            break;
        }
        /* a base URL: links are built as public_url + "/a/..." */
        while (len > strcspn(v, ":") + 4 && v[len - 1] == '/')
            v[--len] = '\0';
        set_str(base, d->off, v);
        return;
    case K_HOSTPORT:
        if ((why = hostport_problem(v))) {
            char q[CONF_SHOWN * 2];
            cerr(c, n->line, n->col, path, "%s, got \"%s\"", why,
                 shown(q, sizeof(q), n->str, n->len));
            break;
        }
        set_str(base, d->off, v);
        return;
    case K_HOSTNAME:
        if (!hostname_ok(v)) {
            bad_value(c, d, n, path, "a host name");
            break;
        }
        set_str(base, d->off, v);
        return;
    case K_ADDR:
        if (!anpi_mail_addr_ok(v, len)) {
            bad_value(c, d, n, path, "a mail address like anpi@example.jp");
            break;
        }
        set_str(base, d->off, v);
        return;
    case K_INT:
    case K_SIZE:
        if (anpi_parse_int64(v, d->min, d->max, &num) != 0) {
            char exp[96];
            snprintf(exp, sizeof(exp), "an integer from %lld to %lld", (long long)d->min,
                     (long long)d->max);
            bad_value(c, d, n, path, exp);
            break;
        }
        if (d->kind == K_INT)
            *(int *)p = (int)num;
        else
            *(size_t *)p = (size_t)num;
        break;
    case K_DUR_INT:
    case K_DUR64:
        if (anpi_parse_duration(v, &num) != 0 || num < d->min || num > d->max) {
            char exp[128];
            snprintf(exp, sizeof(exp),
                     "a duration from %llds to %llds, like 90s, 15m, 6h, 2d or seconds",
                     (long long)d->min, (long long)d->max);
            bad_value(c, d, n, path, exp);
            break;
        }
        if (d->kind == K_DUR_INT)
            *(int *)p = (int)num;
        else
            *(int64_t *)p = num;
        break;
    case K_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
            *(bool *)p = true;
        else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
            *(bool *)p = false;
        else
            bad_value(c, d, n, path, "true or false");
        break;
    case K_TLS:
        if (!strcmp(v, "none"))
            *(enum anpi_tls_mode *)p = ANPI_TLS_NONE;
        else if (!strcmp(v, "starttls"))
            *(enum anpi_tls_mode *)p = ANPI_TLS_STARTTLS;
        else if (!strcmp(v, "implicit"))
            *(enum anpi_tls_mode *)p = ANPI_TLS_IMPLICIT;
        else
            bad_value(c, d, n, path, "none, starttls or implicit");
        break;
    case K_DEVICE:
        if (v[0] != '/' || len > 4096 || has_space_or_control(v)) {
            bad_value(c, d, n, path, "an absolute device path like /dev/ttyUSB0");
            break;
        }
        set_str(base, d->off, v);
        return;
    case K_BAUD: {
        bool ok = anpi_parse_int64(v, 1, 1000000, &num) == 0;
        size_t i;
        for (i = 0; ok && i < ANPI_ARRAY_LEN(bauds); i++)
            if (bauds[i] == num)
                break;
        if (!ok || i == ANPI_ARRAY_LEN(bauds)) {
            bad_value(c, d, n, path,
                      "a serial speed: 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200 "
                      "or 230400");
            break;
        }
        *(int *)p = (int)num;
        break;
    }
    case K_GROUP:
        if (len < minlen || len > (size_t)d->max || has_space_or_control(v) || v[0] == '/' ||
            v[len - 1] == '/' || strstr(v, "//")) {
            char exp[128];
            snprintf(exp, sizeof(exp),
                     "a directory group name of %zu to %lld bytes without blanks or empty "
                     "path segments", minlen, (long long)d->max);
            bad_value(c, d, n, path, exp);
            break;
        }
        set_str(base, d->off, v);
        return;
    case K_SOURCE:
        if (len == 0) {
            cerr(c, n->line, n->col, path, "must not be empty");
            break;
        }
        if (strncasecmp(v, "http://", 7) == 0 || strncasecmp(v, "https://", 8) == 0) {
            if ((why = url_problem(v, false))) {
                char q[CONF_SHOWN * 2];
                cerr(c, n->line, n->col, path, "%s, got \"%s\"", why,
                     shown(q, sizeof(q), n->str, n->len));
                break;
            }
            set_str(base, d->off, v);
            return;
        }
        set_str(base, d->off, resolve_path(c, v));
        break;
    case K_HHMM: {
        /* exactly "H:MM" or "HH:MM": a time of day, not a duration */
        bool ok = (len == 4 || len == 5) && v[len - 3] == ':';
        int hh = 0;
        for (size_t i = 0; ok && i < len - 3; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            hh = hh * 10 + (v[i] - '0');
        }
        ok = ok && hh <= 23 && v[len - 2] >= '0' && v[len - 2] <= '5' && v[len - 1] >= '0' &&
             v[len - 1] <= '9';
        if (!ok) {
            bad_value(c, d, n, path, "a time of day \"HH:MM\" from 00:00 to 23:59 (Japan time)");
            break;
        }
        *(int *)p = hh * 60 + (v[len - 2] - '0') * 10 + (v[len - 1] - '0');
        break;
    }
    case K_RATIO: {
        char *end = NULL;
        double r = strtod(v, &end);
        if (end == v || *end || !(r >= 0.0 && r <= 1.0) || strspn(v, "0123456789.") != len) {
            bad_value(c, d, n, path, "a rate from 0 to 1, like 0.5");
            break;
        }
        *(double *)p = r;
        break;
    }
    case K_LOGLEVEL:
        if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error")) {
            bad_value(c, d, n, path, "debug, info, warn or error");
            break;
        }
        set_str(base, d->off, v);
        return;
    default:
        break;
    }
    free(v);
}

static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    size_t row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

static void
unknown_key(struct cctx *c, const struct node *k, const struct directive *tab, const char *path)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (const struct directive *d = tab; d->name; d++) {
        size_t dist = edit_distance(k->str, d->name);
        if (dist < bestd && dist < strlen(d->name)) {
            bestd = dist;
            best = d->name;
        }
    }
    if (best)
        cerr(c, k->line, k->col, path, "unknown key (did you mean \"%s\"?)", best);
    else
        cerr(c, k->line, k->col, path, "unknown key");
}

/* Required keys under a section that is absent altogether. */
static void
report_missing(struct cctx *c, const struct directive *tab, const char *path, int line, int col)
{
    for (const struct directive *d = tab; d->name; d++) {
        char *kp = join_path(path, d->name);
        if (d->kind == K_SECTION)
            report_missing(c, d->sub, kp, line, col);
        else if ((d->flags & D_REQUIRED) && !(d->excl && d->kind == K_SECRET_FILE))
            cerr(c, line, col, kp, "missing required key%s%s%s", d->excl ? " (or " : "",
                 d->excl ? d->excl : "", d->excl ? ")" : "");
        free(kp);
    }
}

static void
walk_map(struct cctx *c, const struct node *n, const struct directive *tab, void *base,
         const char *path, int miss_line, int miss_col, const struct node **seen)
{
    size_t ntab = 0;
    while (tab[ntab].name)
        ntab++;
    if (n && node_is_null(n))
        n = NULL;               /* "section:" with nothing under it */
    if (n && n->type != N_MAP) {
        cerr(c, n->line, n->col, path, "expected a mapping, got %s", node_kind(n));
        return;
    }
    const struct node *keys[MAX_DIRECTIVES] = { 0 };
    for (size_t i = 0; n && i + 1 < n->n; i += 2) {
        const struct node *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != N_SCALAR) {
            cerr(c, k->line, k->col, path, "a key must be a plain string, not %s",
                 node_kind(k));
            continue;
        }
        char q[CONF_SHOWN * 2];
        char *kp = join_path(path, shown(q, sizeof(q), k->str, k->len));
        size_t j;
        for (j = 0; j < ntab; j++)
            if (strlen(tab[j].name) == k->len && strcmp(tab[j].name, k->str) == 0)
                break;
        if (j == ntab)
            unknown_key(c, k, tab, kp);
        else if (seen[j])
            cerr(c, k->line, k->col, kp, "duplicate key (first given at line %d)",
                 keys[j]->line);
        else {
            const struct directive *d = &tab[j];
            const struct node *other = NULL;
            if (d->excl)
                for (size_t e = 0; e < ntab; e++)
                    if (strcmp(tab[e].name, d->excl) == 0)
                        other = seen[e];
            seen[j] = v;
            keys[j] = k;
            if (other) {
                cerr(c, k->line, k->col, kp, "give either %s or %s, not both", d->excl,
                     d->name);
            } else
                set_value(c, d, v, base, kp);
        }
        free(kp);
    }
    for (size_t j = 0; j < ntab; j++) {
        const struct directive *d = &tab[j];
        if (seen[j])
            continue;
        char *kp = join_path(path, d->name);
        if (d->kind == K_SECTION) {
            report_missing(c, d->sub, kp, miss_line, miss_col);
        } else if (d->flags & D_REQUIRED) {
            bool alt = false;
            for (size_t e = 0; d->excl && e < ntab; e++)
                if (strcmp(tab[e].name, d->excl) == 0 && seen[e])
                    alt = true;
            /* report a pair once, under the first name */
            bool second = false;
            for (size_t e = 0; d->excl && e < j; e++)
                if (strcmp(tab[e].name, d->excl) == 0)
                    second = true;
            if (!alt && !second)
                cerr(c, miss_line, miss_col, kp, "missing required key%s%s%s",
                     d->excl ? " (or " : "", d->excl ? d->excl : "", d->excl ? ")" : "");
        }
        free(kp);
    }
}

/* ---- entry points ------------------------------------------------------ */

void
anpi_config_free(struct anpi_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->db_conninfo);
    free(c->listen_public);
    free(c->listen_admin);
    free(c->public_url);
    for (size_t i = 0; i < c->nrelays; i++) {
        struct anpi_relay_conf *r = &c->relays[i];
        free(r->host);
        free(r->ca_file);
        free(r->username);
        if (r->password) {
            /* do not leave the relay password lying around in freed memory */
            explicit_bzero(r->password, strlen(r->password));
            free(r->password);
        }
    }
    free(c->relays);
    free(c->smtp_from);
    free(c->smtp_from_hr);
    free_list(c->iso2022jp_domains, c->niso2022jp_domains);
    free(c->inbound_lmtp);
    free(c->smtp_helo);
    for (size_t i = 0; i < c->nsmtp_limits; i++)
        free(c->smtp_limits[i].match);
    free(c->smtp_limits);
    free_list(c->rule_paths, c->nrule_paths);
    free(c->packs_dir);
    free(c->templates_dir);
    free(c->directory_import);
    free(c->sync_source);
    free(c->sync_report_group);
    free_list(c->jma_urls, c->njma_urls);
    for (size_t i = 0; i < c->nfeeds; i++) {
        struct anpi_feed_conf *f = &c->feeds[i];
        free(f->source);
        free_list(f->urls, f->nurls);
        free_list(f->long_urls, f->nlong_urls);
        free(f->tcp);
        free(f->device);
    }
    free(c->feeds);
    free(c->feed_alarm_group);
    if (c->api_token) {
        explicit_bzero(c->api_token, strlen(c->api_token));
        free(c->api_token);
    }
    free_list(c->api_allow, c->napi_allow);
    free(c->outbox_dir);
    for (size_t i = 0; i < c->ndkim; i++) {
        free(c->dkim[i].domain);
        free(c->dkim[i].selector);
        free(c->dkim[i].key_file);
        free(c->dkim[i].algorithm);
    }
    free(c->dkim);
    free(c->log_level);
    free(c);
}

const struct anpi_feed_conf *
anpi_config_feed(const struct anpi_config *c, const char *source)
{
    for (size_t i = 0; c && source && i < c->nfeeds; i++)
        if (strcmp(c->feeds[i].source, source) == 0)
            return &c->feeds[i];
    return NULL;
}

static void
set_defaults(struct anpi_config *cfg)
{
    cfg->db_pool_size = 4;
    cfg->listen_public = anpi_xstrdup("127.0.0.1:8080");
    cfg->listen_admin = anpi_xstrdup("127.0.0.1:8081");
    cfg->smtp_helo = anpi_xstrdup("localhost");
    cfg->smtp_timeout_s = 60;
    cfg->smtp_connections = 8;
    cfg->jma_interval_s = 60;
    cfg->feed_alarm_group = anpi_xstrdup("admins");
    cfg->sync_at_min = 3 * 60;
    cfg->sync_report_group = anpi_xstrdup("admins");
    cfg->api_max_body = 10 * 1024 * 1024;
    cfg->session_idle_s = 30 * 60;
    cfg->session_max_s = 12 * 3600;
    cfg->password_min_chars = 12;
    cfg->password_history = 5;
    cfg->token_max_s = 90 * 86400;
    cfg->bulk_read_rows = 2000;
    cfg->office_start_min = 7 * 60;
    cfg->office_end_min = 22 * 60;
    cfg->escalation_after_s = 30 * 60;
    cfg->escalation_below = 0.5;
    cfg->escalation_every_s = 30;
    cfg->incident_expiry_s = 6 * 3600;
    cfg->log_level = anpi_xstrdup("info");
}

static const struct node *
map_get(const struct node *n, const char *key)
{
    if (!n || n->type != N_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < n->n; i += 2)
        if (n->kids[i]->type == N_SCALAR && strcmp(n->kids[i]->str, key) == 0)
            return n->kids[i + 1];
    return NULL;
}

static char *
config_dir(const char *path)
{
    char *copy = anpi_xstrdup(path);
    char *dir = dirname(copy);
    char *abs = realpath(dir, NULL);
    char *res = abs ? anpi_xstrdup(abs) : anpi_xstrdup(dir);
    free(abs);
    free(copy);
    return res;
}

int
anpi_config_load(const char *path, struct anpi_config **out, struct anpi_errors *errs)
{
    struct cctx c = { .file = path, .errs = errs, .doc_line = 1, .doc_col = 1 };
    char *data = NULL;
    size_t len = 0;

    *out = NULL;
    if (read_file(&c, path, CONF_MAX_FILE, "config file", &data, &len, 1, 1, NULL) != 0)
        return ANPI_EPARSE;
    struct node *root = NULL;
    int rc = build_tree(&c, data, len, &root);
    free(data);
    if (rc) {
        if (c.nerr == 0)
            cerr(&c, 1, 1, NULL, "cannot parse: %s", anpi_strerror(rc));
        return ANPI_EPARSE;
    }

    c.dir = config_dir(path);
    struct anpi_config *cfg = anpi_xcalloc(1, sizeof(*cfg));
    cfg->path = anpi_xstrdup(path);
    set_defaults(cfg);

    const struct node *seen[MAX_DIRECTIVES] = { 0 };
    walk_map(&c, root, d_root, cfg, "", c.doc_line, c.doc_col, seen);

    /* the sender address is needed as soon as anything can send */
    if (!cfg->smtp_from && (cfg->nrelays > 0 || cfg->outbox_dir) &&
        !map_get(map_get(root, "smtp"), "from"))
        cerr(&c, c.doc_line, c.doc_col, "smtp.from",
             "missing required key (needed when smtp.relays or outbox.dir is set)");

    /* directory.sync needs its source, but only when the section is given
     * (a required key would make the whole section required) */
    const struct node *sync = map_get(map_get(root, "directory"), "sync");
    if (sync && !map_get(sync, "source"))
        cerr(&c, sync->line, sync->col, "directory.sync.source", "missing required key");

    /* escalation: the section given (even empty) turns the default on */
    const struct node *esc = map_get(root, "escalation");
    cfg->escalation = esc && !node_is_null(esc);

    /* existing callers read feeds.jma through these */
    const struct anpi_feed_conf *jma = anpi_config_feed(cfg, "jma");
    if (jma) {
        cfg->jma_interval_s = jma->interval_s;
        if (jma->nurls) {
            cfg->jma_urls = anpi_xcalloc(jma->nurls, sizeof(*cfg->jma_urls));
            for (size_t i = 0; i < jma->nurls; i++)
                cfg->jma_urls[i] = anpi_xstrdup(jma->urls[i]);
            cfg->njma_urls = jma->nurls;
        }
    }

    node_free(root);
    free(c.dir);
    if (c.nerr) {
        anpi_config_free(cfg);
        return ANPI_EPARSE;
    }
    *out = cfg;
    return ANPI_OK;
}
