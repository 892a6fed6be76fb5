/* config.h - anpid configuration (YAML).
 *
 * Loaded once at start-up (blocking file I/O is fine there).  Every problem is
 * reported as "FILE:LINE:COL: message" and loading continues so that all
 * problems are listed at once. */
#ifndef ANPI_CONFIG_H
#define ANPI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "engine/anpi.h"

enum anpi_tls_mode { ANPI_TLS_NONE = 0, ANPI_TLS_STARTTLS, ANPI_TLS_IMPLICIT };

struct anpi_relay_conf {
    char *host;
    int port;                       /* default 25 (none/starttls), 465 (implicit) */
    enum anpi_tls_mode tls;         /* default none */
    bool tls_verify;                /* default true */
    char *ca_file;                  /* optional, else system store */
    char *username, *password;      /* optional AUTH (only over TLS) */
};

/* smtp.limits: one entry per destination; the first whose match fits the
 * recipient domain wins (a domain covers its subdomains, "*" every domain).
 * Domains no entry matches get the built-in carrier profiles
 * (channels/limits.h). */
struct anpi_smtp_limit {
    char *match;                    /* "docomo.ne.jp" or "*" */
    int connections;                /* 0 = the pool default */
    double rate;                    /* messages per second, 0 = no limit */
    int burst;                      /* bucket size, default 1 */
    int messages_per_connection;    /* 0 = no limit */
};

/* One configured feed source (feeds.jma, feeds.cap, feeds.mofa, feeds.gdacs,
 * feeds.qzss, feeds.eew).  An entry exists only for a section present in the
 * file; fields a source does not use stay 0/NULL. */
struct anpi_feed_conf {
    char *source;                   /* "jma", "cap", "mofa", "gdacs", "qzss", "eew" */
    char **urls;                    /* url: a string or a list; the first that answers wins */
    size_t nurls;                   /* 0: not polled (cap: push only) */
    char **long_urls;               /* jma only: long_url, the long feed to catch up after an outage */
    size_t nlong_urls;
    int interval_s;                 /* polled sources: default jma 60, cap 60, mofa 300, gdacs 600 */
    int64_t stale_after_s;          /* alarm when nothing arrived for that long; 0 = off */
    char *tcp;                      /* qzss: "host:port" of the receiver, or NULL */
    char *device;                   /* qzss: serial device such as /dev/ttyUSB0, or NULL */
    int baud;                       /* qzss with device: default 9600 */
};

#define ANPI_CONFIG_MAX_FEEDS 6

/* dkim: one mapping, or a list of them for dual signing (RSA + Ed25519).
 * Keys are loaded by the SMTP channel (anpi_dkim_key_load) at start-up. */
struct anpi_dkim_conf {
    char *domain;                   /* d=, e.g. "example.jp" */
    char *selector;                 /* s=, e.g. "anpi2025" */
    char *key_file;                 /* key: PEM private key, relative to the config file */
    char *algorithm;                /* "rsa-sha256" (default) or "ed25519-sha256" */
};

#define ANPI_CONFIG_MAX_DKIM 4

struct anpi_config {
    char *path;                     /* the file it came from */

    char *db_conninfo;              /* database.conninfo (required) */
    int db_pool_size;               /* database.pool, default 4 */

    char *listen_public;            /* listen.public "host:port", default 127.0.0.1:8080 */
    char *listen_admin;             /* listen.admin "host:port", default 127.0.0.1:8081 */
    char *public_url;               /* public_url (required), no trailing slash */

    struct anpi_relay_conf *relays; /* smtp.relays */
    size_t nrelays;
    char *smtp_from;                /* smtp.from (required when relays or outbox are set): safety mail */
    char *smtp_from_hr;             /* smtp.from_hr: HR mail's sender (separate from safety mail) */
    char **iso2022jp_domains;       /* smtp.iso2022jp_domains: recipients' domains that get ISO-2022-JP */
    size_t niso2022jp_domains;
    char *inbound_lmtp;             /* inbound.lmtp "host:port": bounces and mail replies, or NULL */
    char *smtp_helo;                /* smtp.helo, default "localhost" */
    int smtp_timeout_s;             /* smtp.timeout, default 60 (per command) */
    int smtp_connections;           /* smtp.connections, default 8 (per relay) */
    struct anpi_smtp_limit *smtp_limits; /* smtp.limits, in file order */
    size_t nsmtp_limits;

    char **rule_paths;              /* rules.paths; NULL/0 = the shipped packs */
    size_t nrule_paths;
    char *packs_dir;                /* rules.packs_dir: where shipped packs live (default: compiled-in) */
    char *templates_dir;            /* rules.templates_dir (optional) */

    char *directory_import;         /* directory.import: CSV loaded at start (optional) */
    int64_t address_check_s;        /* directory.address_check: mail every address a confirm link this
                                     * often (e.g. 90d); 0 = only when started through the API */
    char *sync_source;              /* directory.sync.source: a CSV path (relative to the config) or an
                                     * http(s) URL, imported daily in update mode; NULL = no sync */
    int sync_at_min;                /* directory.sync.at "HH:MM" Japan time, as minutes after
                                     * midnight; default 03:00 (180) */
    char *sync_report_group;        /* directory.sync.report_group: mailed the report, default "admins" */

    char **jma_urls;                /* feeds.jma.url: a string or a list (redundant URLs) */
    size_t njma_urls;
    int jma_interval_s;             /* feeds.jma.interval, default 60 */
    struct anpi_feed_conf *feeds;   /* feeds.<source>, in the order of the file */
    size_t nfeeds;
    char *feed_alarm_group;         /* feeds.alarm_group: mailed when a feed is stale, default "admins" */

    char *api_token;                /* api.token (required; bearer token for the admin API) */
    size_t api_max_body;            /* api.max_body, default 10 MiB */
    char **api_allow;               /* api.allow: CIDR list of peers the admin listener serves;
                                     * NULL/0 = any (the listener's address is the only guard) */
    size_t napi_allow;

    int64_t session_idle_s;         /* accounts.session_idle, default 30m */
    int64_t session_max_s;          /* accounts.session_max (absolute), default 12h */
    int password_min_chars;         /* accounts.password_min_chars, default 12 */
    int password_history;           /* accounts.password_history, default 5 */
    int64_t password_remind_s;      /* accounts.password_remind_after; 0 = never (default) */
    int64_t token_max_s;            /* accounts.token_lifetime: API tokens expire; default 90d */

    int bulk_read_rows;             /* audit.bulk_read_rows: people rows one account may read in
                                     * 10 minutes before a warning entry; default 2000 */
    int office_start_min;           /* audit.office_hours.start "HH:MM" Japan time, default 07:00 */
    int office_end_min;             /* audit.office_hours.end, default 22:00; reads outside warn */

    /* escalation: when a group's answer rate to a safety broadcast is still
     * below `below` `after` its start, the group's admins and those of every
     * group above it are mailed (engine/schema/0019_escalation.sql).  The
     * section given = the default for every safety broadcast; a broadcast
     * may set its own (POST /api/v1/broadcasts/{id}/escalation). */
    bool escalation;                /* the escalation section is present (absent = off by default) */
    int64_t escalation_after_s;     /* escalation.after, default 30m */
    double escalation_below;        /* escalation.below, a rate from 0 to 1, default 0.5 */
    int64_t escalation_every_s;     /* escalation.check_every: how often the pass runs, default 30s */

    char *outbox_dir;               /* outbox.dir (optional file channel) */

    struct anpi_dkim_conf *dkim;    /* dkim: a mapping or a list; NULL/0 = unsigned mail */
    size_t ndkim;

    int64_t incident_expiry_s;      /* incidents.expiry, default 6h: older events are shown, not mailed */
    char *log_level;                /* log.level, default "info" */
};

/* Parse `path`.  On success returns 0 and *out; on failure returns
 * ANPI_EPARSE and fills errs (every error found, each "file:line:col: ..."). */
int anpi_config_load(const char *path, struct anpi_config **out, struct anpi_errors *errs);
void anpi_config_free(struct anpi_config *c);

/* The section for source ("jma", "cap", ...), or NULL when the file has none. */
const struct anpi_feed_conf *anpi_config_feed(const struct anpi_config *c, const char *source);

#endif
