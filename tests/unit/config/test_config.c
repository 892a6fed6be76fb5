/* test_config.c - the YAML config loader: every key, defaults, every error
 * kind with its exact position, ${ENV:...}, relative paths, secret files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <cmocka.h>

#include "engine/config.h"

static char tmpdir[PATH_MAX];   /* realpath'd, so it equals the loader's config dir */

static char *
write_file(const char *name, const char *text)
{
    char *path = anpi_xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return path;
}

struct loaded {
    int rc;
    struct anpi_config *cfg;
    struct anpi_errors errs;
    char *path;
};

static void
load(struct loaded *l, const char *text)
{
    memset(l, 0, sizeof(*l));
    l->path = write_file("anpid.yaml", text);
    l->rc = anpi_config_load(l->path, &l->cfg, &l->errs);
}

static void
unload(struct loaded *l)
{
    anpi_config_free(l->cfg);
    anpi_errors_free(&l->errs);
    free(l->path);
}

static void
dump_errors(const struct loaded *l)
{
    for (size_t i = 0; i < l->errs.n; i++)
        print_message("# %s\n", l->errs.msg[i]);
}

/* errs must hold exactly this message "FILE:" + rest. */
static void
expect_error(const struct loaded *l, const char *rest)
{
    char *want = anpi_xasprintf("%s:%s", l->path, rest);
    bool found = false;
    for (size_t i = 0; i < l->errs.n; i++)
        if (strcmp(l->errs.msg[i], want) == 0)
            found = true;
    if (!found) {
        print_message("# wanted: %s\n", want);
        dump_errors(l);
    }
    free(want);
    assert_true(found);
}

/* The one error a config produces. */
static void
expect_only_error(const char *text, const char *rest)
{
    struct loaded l;
    load(&l, text);
    assert_int_equal(l.rc, ANPI_EPARSE);
    assert_null(l.cfg);
    expect_error(&l, rest);
    if (l.errs.n != 1)
        dump_errors(&l);
    assert_int_equal(l.errs.n, 1);
    unload(&l);
}

#define BASE "database:\n  conninfo: \"dbname=anpi\"\n" \
             "public_url: \"http://127.0.0.1:8080\"\n" \
             "api:\n  token: \"0123456789abcdef\"\n"

static int
setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/anpi-conf-test-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    if (!realpath(tmpl, tmpdir))
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    const char *names[] = { "anpid.yaml", "token.txt", "relay.pw", "short.txt" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(names); i++) {
        char *p = anpi_xasprintf("%s/%s", tmpdir, names[i]);
        unlink(p);
        free(p);
    }
    return rmdir(tmpdir);
}

static void
test_full(void **state)
{
    (void)state;
    struct loaded l;
    load(&l,
         "# every key\n"
         "database:\n"
         "  conninfo: \"host=/run/postgresql dbname=anpi\"\n"
         "  pool: 8\n"
         "listen:\n"
         "  public: \"0.0.0.0:80\"\n"
         "  admin: \"[::1]:9090\"\n"
         "public_url: \"https://anpi.example.jp/\"\n"
         "smtp:\n"
         "  relays:\n"
         "    - host: mx1.example.jp\n"
         "      port: 587\n"
         "      tls: starttls\n"
         "      verify: false\n"
         "      ca_file: certs/ca.pem\n"
         "      username: anpi\n"
         "      password: \"s3cret\"\n"
         "    - {host: mx2.example.jp, tls: implicit}\n"
         "    - host: localhost\n"
         "  from: \"anpi@example.jp\"\n"
         "  helo: anpi.example.jp\n"
         "  timeout: 2m\n"
         "  connections: 2\n"
         "rules:\n"
         "  paths: [rules/quake.yaml, /etc/anpi/rules.d]\n"
         "  packs_dir: packs\n"
         "  templates_dir: /usr/share/anpi/templates\n"
         "directory:\n"
         "  import: people.csv\n"
         "feeds:\n"
         "  jma:\n"
         "    url: [\"https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml\",\n"
         "          \"https://mirror.example.jp/eqvol.xml\"]\n"
         "    interval: \"90s\"\n"
         "api:\n"
         "  token: \"abcdefghijklmnopqrstuvwxyz\"\n"
         "  max_body: 4096\n"
         "outbox:\n"
         "  dir: var/outbox\n"
         "incidents:\n"
         "  expiry: 12h\n"
         "log:\n"
         "  level: debug\n");
    if (l.rc)
        dump_errors(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.errs.n, 0);
    struct anpi_config *c = l.cfg;
    char buf[PATH_MAX + 64];
    assert_string_equal(c->path, l.path);
    assert_string_equal(c->db_conninfo, "host=/run/postgresql dbname=anpi");
    assert_int_equal(c->db_pool_size, 8);
    assert_string_equal(c->listen_public, "0.0.0.0:80");
    assert_string_equal(c->listen_admin, "[::1]:9090");
    assert_string_equal(c->public_url, "https://anpi.example.jp");
    assert_int_equal(c->nrelays, 3);
    assert_string_equal(c->relays[0].host, "mx1.example.jp");
    assert_int_equal(c->relays[0].port, 587);
    assert_int_equal(c->relays[0].tls, ANPI_TLS_STARTTLS);
    assert_false(c->relays[0].tls_verify);
    snprintf(buf, sizeof(buf), "%s/certs/ca.pem", tmpdir);
    assert_string_equal(c->relays[0].ca_file, buf);
    assert_string_equal(c->relays[0].username, "anpi");
    assert_string_equal(c->relays[0].password, "s3cret");
    assert_string_equal(c->relays[1].host, "mx2.example.jp");
    assert_int_equal(c->relays[1].port, 465);
    assert_int_equal(c->relays[1].tls, ANPI_TLS_IMPLICIT);
    assert_true(c->relays[1].tls_verify);
    assert_null(c->relays[1].username);
    assert_int_equal(c->relays[2].port, 25);
    assert_int_equal(c->relays[2].tls, ANPI_TLS_NONE);
    assert_string_equal(c->smtp_from, "anpi@example.jp");
    assert_string_equal(c->smtp_helo, "anpi.example.jp");
    assert_int_equal(c->smtp_timeout_s, 120);
    assert_int_equal(c->smtp_connections, 2);
    assert_int_equal(c->nrule_paths, 2);
    snprintf(buf, sizeof(buf), "%s/rules/quake.yaml", tmpdir);
    assert_string_equal(c->rule_paths[0], buf);
    assert_string_equal(c->rule_paths[1], "/etc/anpi/rules.d");
    snprintf(buf, sizeof(buf), "%s/packs", tmpdir);
    assert_string_equal(c->packs_dir, buf);
    assert_string_equal(c->templates_dir, "/usr/share/anpi/templates");
    snprintf(buf, sizeof(buf), "%s/people.csv", tmpdir);
    assert_string_equal(c->directory_import, buf);
    assert_int_equal(c->njma_urls, 2);
    assert_string_equal(c->jma_urls[0], "https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml");
    assert_string_equal(c->jma_urls[1], "https://mirror.example.jp/eqvol.xml");
    assert_int_equal(c->jma_interval_s, 90);
    assert_string_equal(c->api_token, "abcdefghijklmnopqrstuvwxyz");
    assert_int_equal(c->api_max_body, 4096);
    snprintf(buf, sizeof(buf), "%s/var/outbox", tmpdir);
    assert_string_equal(c->outbox_dir, buf);
    assert_int_equal(c->incident_expiry_s, 12 * 3600);
    assert_string_equal(c->log_level, "debug");
    unload(&l);
}

static void
test_defaults(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, BASE);
    assert_int_equal(l.rc, 0);
    struct anpi_config *c = l.cfg;
    assert_int_equal(c->db_pool_size, 4);
    assert_string_equal(c->listen_public, "127.0.0.1:8080");
    assert_string_equal(c->listen_admin, "127.0.0.1:8081");
    assert_string_equal(c->public_url, "http://127.0.0.1:8080");
    assert_int_equal(c->nrelays, 0);
    assert_null(c->relays);
    assert_null(c->smtp_from);
    assert_string_equal(c->smtp_helo, "localhost");
    assert_int_equal(c->smtp_timeout_s, 60);
    assert_int_equal(c->smtp_connections, 8);
    assert_int_equal(c->nrule_paths, 0);
    assert_null(c->rule_paths);
    assert_null(c->packs_dir);
    assert_null(c->templates_dir);
    assert_null(c->directory_import);
    assert_int_equal(c->njma_urls, 0);
    assert_int_equal(c->jma_interval_s, 60);
    assert_int_equal(c->api_max_body, 10 * 1024 * 1024);
    assert_null(c->outbox_dir);
    assert_int_equal(c->incident_expiry_s, 6 * 3600);
    assert_string_equal(c->log_level, "info");
    unload(&l);

    /* a single URL as a string, an interval in bare seconds, empty sections */
    load(&l, BASE "feeds: {jma: {url: \"http://127.0.0.1:9000/feed.xml\", interval: 30}}\n"
                  "rules:\nlog:\n");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.cfg->njma_urls, 1);
    assert_string_equal(l.cfg->jma_urls[0], "http://127.0.0.1:9000/feed.xml");
    assert_int_equal(l.cfg->jma_interval_s, 30);
    unload(&l);
}

static void
test_missing_required(void **state)
{
    (void)state;
    struct loaded l;
    /* comment lines first: "document start" is where the document's content starts */
    load(&l, "# nothing useful\nlog:\n  level: warn\n");
    assert_int_equal(l.rc, ANPI_EPARSE);
    expect_error(&l, "2:1: database.conninfo: missing required key");
    expect_error(&l, "2:1: public_url: missing required key");
    expect_error(&l, "2:1: api.token: missing required key (or token_file)");
    assert_int_equal(l.errs.n, 3);
    unload(&l);

    /* an empty file is a document without any key */
    load(&l, "");
    assert_int_equal(l.rc, ANPI_EPARSE);
    expect_error(&l, "1:1: database.conninfo: missing required key");
    assert_int_equal(l.errs.n, 3);
    unload(&l);

    expect_only_error("public_url: \"http://h\"\napi: {token: \"0123456789abcdef\"}\n"
                      "database:\n  pool: 2\n",
                      "1:1: database.conninfo: missing required key");
    expect_only_error(BASE "smtp:\n  from: anpi@example.jp\n  relays:\n    - port: 25\n",
                      "9:7: smtp.relays[0].host: missing required key");
    expect_only_error(BASE "smtp:\n  relays:\n    - host: mx.example.jp\n",
                      "1:1: smtp.from: missing required key (needed when smtp.relays or "
                      "outbox.dir is set)");
}

static void
test_errors(void **state)
{
    (void)state;
    expect_only_error(BASE "databse:\n  pool: 4\n",
                      "6:1: databse: unknown key (did you mean \"database\"?)");
    expect_only_error(BASE "log:\n  colour: red\n", "7:3: log.colour: unknown key");
    expect_only_error("database:\n  conninfo: x\n  pool: many\n" "public_url: \"http://h\"\n"
                      "api: {token: \"0123456789abcdef\"}\n",
                      "3:9: database.pool: expected an integer from 1 to 100, got \"many\"");
    expect_only_error(BASE "smtp:\n  relays: 5\n",
                      "7:11: smtp.relays: expected a list of relays, got a scalar");
    expect_only_error(BASE "listen: \"127.0.0.1:80\"\n",
                      "6:9: listen: expected a mapping, got a scalar");
    expect_only_error(BASE "listen:\n  public: \"::1:8080\"\n",
                      "7:11: listen.public: IPv6 addresses need brackets, like [::1]:8080, "
                      "got \"::1:8080\"");
    expect_only_error(BASE "listen:\n  admin: \"127.0.0.1:65536\"\n",
                      "7:10: listen.admin: the port must be a number from 0 to 65535, "
                      "got \"127.0.0.1:65536\"");
    expect_only_error(BASE "listen:\n  admin: localhost\n",
                      "7:10: listen.admin: expected host:port, like 127.0.0.1:8080, "
                      "got \"localhost\"");
    expect_only_error("database: {conninfo: x}\npublic_url: \"ftp://example.jp\"\n"
                      "api: {token: \"0123456789abcdef\"}\n",
                      "2:13: public_url: expected an http:// or https:// URL, "
                      "got \"ftp://example.jp\"");
    expect_only_error("database: {conninfo: x}\npublic_url: \"http://h\"\napi:\n"
                      "  token: short\n",
                      "4:10: api.token: must be 16 to 4096 characters long");
    expect_only_error(BASE "smtp:\n  from: anpi@\n",
                      "7:9: smtp.from: expected a mail address like anpi@example.jp, "
                      "got \"anpi@\"");
    expect_only_error(BASE "smtp:\n  from: a@example.jp\n  relays:\n"
                      "    - {host: mx.example.jp, username: u, password: p}\n",
                      "9:39: smtp.relays[0].username: AUTH only over TLS: set tls: starttls "
                      "or implicit, or drop the username");
    expect_only_error(BASE "smtp:\n  from: a@example.jp\n  relays:\n"
                      "    - {host: mx.example.jp, tls: maybe}\n",
                      "9:34: smtp.relays[0].tls: expected none, starttls or implicit, "
                      "got \"maybe\"");
    expect_only_error(BASE "smtp:\n  from: a@example.jp\n  relays:\n"
                      "    - {host: mx.example.jp, verify: perhaps}\n",
                      "9:37: smtp.relays[0].verify: expected true or false, got \"perhaps\"");
    expect_only_error(BASE "smtp:\n  timeout: soon\n",
                      "7:12: smtp.timeout: expected a duration from 1s to 3600s, like 90s, "
                      "15m, 6h, 2d or seconds, got \"soon\"");
    expect_only_error(BASE "log: {level: loud}\n",
                      "6:14: log.level: expected debug, info, warn or error, got \"loud\"");
    expect_only_error(BASE "database:\n  pool: 2\n",
                      "6:1: database: duplicate key (first given at line 1)");
    expect_only_error(BASE "rules:\n  paths: []\n", "7:10: rules.paths: the list is empty");
    expect_only_error(BASE "feeds:\n  jma:\n    url: [\"https://ok.example.jp/\", \"file:///x\"]\n",
                      "8:37: feeds.jma.url[1]: expected an http:// or https:// URL, "
                      "got \"file:///x\"");
    expect_only_error(BASE "outbox: {dir: }\n",
                      "6:15: outbox.dir: expected a value, got nothing");
}

static void
test_syntax_and_limits(void **state)
{
    (void)state;
    expect_only_error(BASE "log: [info\n",
                      "7:1: YAML syntax error: did not find expected ',' or ']' "
                      "(while parsing a flow sequence at line 6)");
    expect_only_error(BASE "x: &a {level: info}\nlog: *a\n",
                      "7:6: YAML aliases (*a) are not supported in the config");
    expect_only_error(BASE "---\nlog: {}\n---\nlog: {}\n",
                      "6:1: only one YAML document is allowed");

    /* nesting: 16 levels (the top mapping and 15 lists) are parsed (and then
     * rejected as unknown); 17 are not */
    char deep[256] = BASE "x: ";
    for (int i = 0; i < 15; i++)
        strcat(deep, "[");
    for (int i = 0; i < 15; i++)
        strcat(deep, "]");
    strcat(deep, "\n");
    expect_only_error(deep, "6:1: x: unknown key");
    char deeper[256] = BASE "x: ";
    for (int i = 0; i < 16; i++)
        strcat(deeper, "[");
    for (int i = 0; i < 16; i++)
        strcat(deeper, "]");
    strcat(deeper, "\n");
    expect_only_error(deeper, "6:19: nested deeper than 16 levels");

    /* 1 MiB file cap */
    size_t big = 1024 * 1024 + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '#', big);
    text[big] = '\0';
    struct loaded l;
    load(&l, text);
    free(text);
    assert_int_equal(l.rc, ANPI_EPARSE);
    assert_int_equal(l.errs.n, 1);
    char *want = anpi_xasprintf("%s:1:1: config file %s is larger than 1048576 bytes", l.path,
                                l.path);
    assert_string_equal(l.errs.msg[0], want);
    free(want);
    unload(&l);

    /* a missing file */
    struct anpi_config *cfg = (struct anpi_config *)&l;
    struct anpi_errors errs = { 0 };
    assert_int_equal(anpi_config_load("/nonexistent/anpid.yaml", &cfg, &errs), ANPI_EPARSE);
    assert_null(cfg);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0], "/nonexistent/anpid.yaml:1:1: cannot open config file "
                                     "/nonexistent/anpid.yaml: No such file or directory");
    anpi_errors_free(&errs);
}

static void
test_many_errors(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "database:\n  pool: 0\n"
             "listen: {public: \"h:1\", admin: \"[::g]:1\"}\n"
             "smtp: {connections: -1, timeout: 0}\n"
             "api: {tokn: x}\n");
    assert_int_equal(l.rc, ANPI_EPARSE);
    expect_error(&l, "2:9: database.pool: expected an integer from 1 to 100, got \"0\"");
    expect_error(&l, "3:32: listen.admin: not a valid IPv6 address in brackets, got \"[::g]:1\"");
    expect_error(&l, "4:21: smtp.connections: expected an integer from 1 to 100, got \"-1\"");
    expect_error(&l, "4:34: smtp.timeout: expected a duration from 1s to 3600s, like 90s, 15m, "
                     "6h, 2d or seconds, got \"0\"");
    expect_error(&l, "5:7: api.tokn: unknown key (did you mean \"token\"?)");
    expect_error(&l, "1:1: database.conninfo: missing required key");
    expect_error(&l, "1:1: public_url: missing required key");
    expect_error(&l, "1:1: api.token: missing required key (or token_file)");
    assert_int_equal(l.errs.n, 8);
    unload(&l);
}

static void
test_env(void **state)
{
    (void)state;
    setenv("ANPI_TEST_DB_PASS", "pa ss", 1);
    setenv("ANPI_TEST_TOKEN", "tok-0123456789abcdef", 1);
    setenv("ANPI_TEST_POOL", "7", 1);
    unsetenv("ANPI_TEST_UNSET");
    struct loaded l;
    load(&l, "database:\n  conninfo: \"dbname=anpi password=${ENV:ANPI_TEST_DB_PASS}\"\n"
             "  pool: ${ENV:ANPI_TEST_POOL}\n"
             "public_url: \"http://127.0.0.1:8080\"\n"
             "api:\n  token: \"${ENV:ANPI_TEST_TOKEN}\"\n");
    if (l.rc)
        dump_errors(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg->db_conninfo, "dbname=anpi password=pa ss");
    assert_int_equal(l.cfg->db_pool_size, 7);
    assert_string_equal(l.cfg->api_token, "tok-0123456789abcdef");
    unload(&l);

    expect_only_error("database: {conninfo: x}\npublic_url: \"http://h\"\n"
                      "api:\n  token: \"${ENV:ANPI_TEST_UNSET}\"\n",
                      "4:10: api.token: environment variable ANPI_TEST_UNSET is not set");
    expect_only_error("database: {conninfo: x}\npublic_url: \"http://h\"\n"
                      "api:\n  token: \"${ENV:ANPI TOKEN}\"\n",
                      "4:10: api.token: malformed environment reference: write ${ENV:NAME} "
                      "with NAME of letters, digits and '_'");
}

static void
test_secret_files(void **state)
{
    (void)state;
    char *tok = write_file("token.txt", "file-token-0123456789\n");
    char *pw = write_file("relay.pw", "relay-secret\r\n");
    free(write_file("short.txt", "short\n"));
    free(tok);
    free(pw);
    struct loaded l;
    load(&l, "database: {conninfo: x}\npublic_url: \"http://h/\"\n"
             "api:\n  token_file: token.txt\n"
             "smtp:\n  from: anpi@example.jp\n  relays:\n"
             "    - {host: mx.example.jp, tls: starttls, username: u, password_file: relay.pw}\n");
    if (l.rc)
        dump_errors(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg->api_token, "file-token-0123456789");
    assert_string_equal(l.cfg->relays[0].password, "relay-secret");
    assert_string_equal(l.cfg->public_url, "http://h");
    unload(&l);

    expect_only_error("database: {conninfo: x}\npublic_url: \"http://h\"\n"
                      "api:\n  token: \"0123456789abcdef\"\n  token_file: token.txt\n",
                      "5:3: api.token_file: give either token or token_file, not both");
    char *msg = anpi_xasprintf("4:15: api.token_file: the secret in %s/short.txt must be 16 to "
                               "4096 characters long", tmpdir);
    expect_only_error("database: {conninfo: x}\npublic_url: \"http://h\"\n"
                      "api:\n  token_file: short.txt\n", msg);
    free(msg);
    msg = anpi_xasprintf("4:15: api.token_file: cannot open secret file %s/none.txt: No such "
                         "file or directory", tmpdir);
    expect_only_error("database: {conninfo: x}\npublic_url: \"http://h\"\n"
                      "api:\n  token_file: none.txt\n", msg);
    free(msg);
}


static void
test_feeds(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, BASE
         "feeds:\n"
         "  alarm_group: \"本省/危機管理\"\n"
         "  jma:\n"
         "    url: [\"https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml\",\n"
         "          \"https://mirror.example.jp/eqvol.xml\"]\n"
         "    long_url: \"https://www.data.jma.go.jp/developer/xml/feed/eqvol_l.xml\"\n"
         "    interval: 30s\n"
         "    stale_after: 10m\n"
         "  cap:\n"
         "    stale_after: 1h\n"
         "  mofa:\n"
         "    url: \"https://www.ezairyu.example.jp/opendata/area/newarrivalL.xml\"\n"
         "    stale_after: 1h\n"
         "  gdacs: {url: [\"https://gdacs.example.org/xml/rss.xml\", \"http://127.0.0.1:9/rss.xml\"],"
         " interval: 15m}\n"
         "  qzss: {device: /dev/ttyUSB0, baud: 115200, stale_after: 5m}\n"
         "  eew: {stale_after: 2h}\n");
    if (l.rc)
        dump_errors(&l);
    assert_int_equal(l.rc, 0);
    struct anpi_config *c = l.cfg;
    assert_string_equal(c->feed_alarm_group, "本省/危機管理");
    assert_int_equal(c->nfeeds, 6);
    /* in the order of the file */
    const char *order[] = { "jma", "cap", "mofa", "gdacs", "qzss", "eew" };
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(c->feeds[i].source, order[i]);
        assert_ptr_equal(anpi_config_feed(c, order[i]), &c->feeds[i]);
    }
    assert_null(anpi_config_feed(c, "cap2"));
    const struct anpi_feed_conf *f = anpi_config_feed(c, "jma");
    assert_int_equal(f->nurls, 2);
    assert_string_equal(f->urls[1], "https://mirror.example.jp/eqvol.xml");
    assert_int_equal(f->nlong_urls, 1);
    assert_string_equal(f->long_urls[0], "https://www.data.jma.go.jp/developer/xml/feed/eqvol_l.xml");
    assert_int_equal(f->interval_s, 30);
    assert_int_equal(f->stale_after_s, 600);
    /* the fields existing code reads are still filled */
    assert_int_equal(c->njma_urls, 2);
    assert_string_equal(c->jma_urls[0], "https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml");
    assert_int_equal(c->jma_interval_s, 30);
    f = anpi_config_feed(c, "cap");
    assert_int_equal(f->nurls, 0);              /* push only */
    assert_int_equal(f->interval_s, 60);
    assert_int_equal(f->stale_after_s, 3600);
    f = anpi_config_feed(c, "mofa");
    assert_int_equal(f->nurls, 1);
    assert_int_equal(f->interval_s, 300);
    assert_null(f->long_urls);
    f = anpi_config_feed(c, "gdacs");
    assert_int_equal(f->nurls, 2);
    assert_int_equal(f->interval_s, 900);
    assert_int_equal(f->stale_after_s, 0);      /* off */
    f = anpi_config_feed(c, "qzss");
    assert_string_equal(f->device, "/dev/ttyUSB0");
    assert_null(f->tcp);
    assert_int_equal(f->baud, 115200);
    assert_int_equal(f->stale_after_s, 300);
    assert_int_equal(f->nurls, 0);
    f = anpi_config_feed(c, "eew");
    assert_int_equal(f->stale_after_s, 7200);
    unload(&l);

    /* defaults: no feeds, the admins group; an empty section enables a source */
    load(&l, BASE);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.cfg->nfeeds, 0);
    assert_null(anpi_config_feed(l.cfg, "jma"));
    assert_string_equal(l.cfg->feed_alarm_group, "admins");
    unload(&l);
    load(&l, BASE "feeds:\n  cap:\n  gdacs: {url: \"https://gdacs.example.org/rss.xml\"}\n"
                  "  qzss: {tcp: \"192.0.2.10:2101\"}\n");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.cfg->nfeeds, 3);
    assert_int_equal(anpi_config_feed(l.cfg, "cap")->interval_s, 60);
    assert_int_equal(anpi_config_feed(l.cfg, "gdacs")->interval_s, 600);
    assert_string_equal(anpi_config_feed(l.cfg, "qzss")->tcp, "192.0.2.10:2101");
    assert_int_equal(anpi_config_feed(l.cfg, "qzss")->baud, 0);   /* tcp: no line speed */
    assert_int_equal(l.cfg->njma_urls, 0);
    assert_int_equal(l.cfg->jma_interval_s, 60);
    unload(&l);
    load(&l, BASE "feeds: {qzss: {device: /dev/ttyACM0}}\n");
    assert_int_equal(l.rc, 0);
    assert_int_equal(anpi_config_feed(l.cfg, "qzss")->baud, 9600);
    unload(&l);
}

static void
test_feed_errors(void **state)
{
    (void)state;
    expect_only_error(BASE "feeds:\n  mofa:\n    interval: 10m\n",
                      "8:5: feeds.mofa.url: missing required key (mofa is polled)");
    expect_only_error(BASE "feeds:\n  gdacs: {}\n",
                      "7:10: feeds.gdacs.url: missing required key (gdacs is polled)");
    expect_only_error(BASE "feeds:\n  qzss:\n    baud: 9600\n",
                      "8:5: feeds.qzss.tcp: missing required key (or device)");
    expect_only_error(BASE "feeds:\n  qzss: {tcp: \"127.0.0.1:2101\", device: /dev/ttyS0}\n",
                      "7:33: feeds.qzss.device: give either tcp or device, not both");
    expect_only_error(BASE "feeds:\n  qzss: {tcp: \"127.0.0.1:2101\", baud: 4800}\n",
                      "7:39: feeds.qzss.baud: baud applies to a serial device only, not to tcp");
    expect_only_error(BASE "feeds:\n  qzss: {device: /dev/ttyS0, baud: 9601}\n",
                      "7:36: feeds.qzss.baud: expected a serial speed: 1200, 2400, 4800, 9600, "
                      "19200, 38400, 57600, 115200 or 230400, got \"9601\"");
    expect_only_error(BASE "feeds:\n  qzss: {device: ttyS0}\n",
                      "7:18: feeds.qzss.device: expected an absolute device path like "
                      "/dev/ttyUSB0, got \"ttyS0\"");
    expect_only_error(BASE "feeds:\n  qzss: {tcp: \"127.0.0.1:0\"}\n",
                      "7:15: feeds.qzss.tcp: the port must be a number from 1 to 65535");
    expect_only_error(BASE "feeds:\n  qzss: {tcp: \"/dev/ttyS0\"}\n",
                      "7:15: feeds.qzss.tcp: expected host:port, like 127.0.0.1:8080, got "
                      "\"/dev/ttyS0\"");
    expect_only_error(BASE "feeds:\n  cap: {url: \"http://h/cap.xml\", stale_after: 60s}\n",
                      "7:47: feeds.cap.stale_after: must be longer than the poll interval (60s), "
                      "got 60s");
    expect_only_error(BASE "feeds:\n  eew: {stale_after: 5s}\n",
                      "7:22: feeds.eew.stale_after: expected a duration from 10s to 2592000s, "
                      "like 90s, 15m, 6h, 2d or seconds, got \"5s\"");
    expect_only_error(BASE "feeds:\n  cap: {url: \"http://h/cap.xml\", interval: 5s}\n",
                      "7:44: feeds.cap.interval: expected a duration from 10s to 86400s, like "
                      "90s, 15m, 6h, 2d or seconds, got \"5s\"");
    expect_only_error(BASE "feeds:\n  jma: {long_url: \"http://h/long.xml\"}\n",
                      "7:19: feeds.jma.long_url: long_url needs url (the short feed) as well");
    expect_only_error(BASE "feeds:\n  cap: {long_url: \"http://h/long.xml\"}\n",
                      "7:9: feeds.cap.long_url: unknown key");
    expect_only_error(BASE "feeds:\n  eew: {url: \"http://h/eew.xml\"}\n",
                      "7:9: feeds.eew.url: unknown key");
    expect_only_error(BASE "feeds:\n  mofa: {url: \"ftp://h/x.xml\"}\n",
                      "7:15: feeds.mofa.url: expected an http:// or https:// URL, got "
                      "\"ftp://h/x.xml\"");
    expect_only_error(BASE "feeds:\n  cap: [\"http://h/cap.xml\"]\n",
                      "7:8: feeds.cap: expected a mapping, got a list");
    expect_only_error(BASE "feeds:\n  gdac: {url: \"http://h/rss.xml\"}\n",
                      "7:3: feeds.gdac: unknown key (did you mean \"gdacs\"?)");
    expect_only_error(BASE "feeds:\n  alarm_group: \"/admins\"\n",
                      "7:16: feeds.alarm_group: expected a directory group name of 1 to 256 "
                      "bytes without blanks or empty path segments, got \"/admins\"");
    expect_only_error(BASE "feeds:\n  alarm_group: \"\"\n",
                      "7:16: feeds.alarm_group: expected a directory group name of 1 to 256 "
                      "bytes without blanks or empty path segments, got \"\"");
    expect_only_error(BASE "feeds:\n  cap: {}\n  cap: {}\n",
                      "8:3: feeds.cap: duplicate key (first given at line 7)");
}

/* Delivery keys: smtp.limits, smtp.iso2022jp_domains, smtp.from_hr,
 * inbound.lmtp, directory.address_check. */
static void
test_delivery_keys(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, BASE "smtp:\n  from: anpi@example.jp\n  from_hr: saiyo@example.jp\n"
                  "  iso2022jp_domains: [Mobile.Example.JP, docomo.ne.jp]\n"
                  "  limits:\n    - {match: docomo.ne.jp, connections: 2, rate: 20, messages_per_connection: 100}\n"
                  "    - {match: \"*\", rate: 0}\n"
                  "inbound:\n  lmtp: \"127.0.0.1:2424\"\n"
                  "directory:\n  address_check: 90d\n");
    dump_errors(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg->smtp_from_hr, "saiyo@example.jp");
    assert_int_equal(l.cfg->niso2022jp_domains, 2);
    assert_string_equal(l.cfg->iso2022jp_domains[0], "mobile.example.jp");   /* lower-cased */
    assert_int_equal(l.cfg->nsmtp_limits, 2);
    assert_string_equal(l.cfg->smtp_limits[0].match, "docomo.ne.jp");
    assert_int_equal(l.cfg->smtp_limits[0].connections, 2);
    assert_true(l.cfg->smtp_limits[0].rate > 19.9 && l.cfg->smtp_limits[0].rate < 20.1);
    assert_int_equal(l.cfg->smtp_limits[0].messages_per_connection, 100);
    assert_string_equal(l.cfg->smtp_limits[1].match, "*");
    assert_string_equal(l.cfg->inbound_lmtp, "127.0.0.1:2424");
    assert_int_equal(l.cfg->address_check_s, 90 * 86400);
    unload(&l);

    load(&l, BASE "smtp:\n  from: anpi@example.jp\n  iso2022jp_domains: [\"not a domain\"]\n");
    assert_int_not_equal(l.rc, 0);
    assert_true(l.errs.n >= 1 && strstr(l.errs.msg[0], "smtp.iso2022jp_domains[0]: expected a mail domain") != NULL);
    unload(&l);
    load(&l, BASE "inbound:\n  lmtp: nowhere\n");
    assert_int_not_equal(l.rc, 0);
    assert_true(l.errs.n >= 1 && strstr(l.errs.msg[0], "inbound.lmtp") != NULL);
    unload(&l);
    load(&l, BASE "directory:\n  address_check: 1h\n");
    assert_int_not_equal(l.rc, 0);
    assert_true(l.errs.n >= 1 && strstr(l.errs.msg[0], "directory.address_check") != NULL);
    unload(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery_keys),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_syntax_and_limits),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_secret_files),
        cmocka_unit_test(test_feeds),
        cmocka_unit_test(test_feed_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
