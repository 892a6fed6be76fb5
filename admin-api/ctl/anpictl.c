/* anpictl - command-line client for anpid's admin API.
 *
 *   anpictl [--url URL] [--token TOKEN | --config FILE] COMMAND [ARGS]
 *
 * The URL and token come from the options, else ANPI_URL / ANPI_TOKEN, else
 * the daemon's config file (listen.admin and api.token). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/config.h"

struct ctl {
    char *url;
    char *token;
    char *as;
};

static void
usage(FILE *f)
{
    fputs("usage: anpictl [--url URL] [--token TOKEN] [--config FILE] COMMAND [ARGS]\n"
          "commands:\n"
          "  incidents [STATUS]            list incidents (e.g. pending_approval)\n"
          "  incident ID                   one incident with its events and grouping reasons\n"
          "  approve ID [--comment TEXT]   approve the pending round of an incident\n"
          "  reject ID [--comment TEXT]    reject it\n"
          "  broadcast ID                  tally: sent / answered per choice / unanswered\n"
          "  push FILE [--replay] [--source S]  push a feed document (jma, cap, qzss, mofa, gdacs;\n"
          "                                default jma; replay: times shifted to now)\n"
          "  import FILE                   import the people CSV\n"
          "  travellers FILE               import trips (CSV person_id,country,from,to)\n"
          "  feeds                         feed health: last success, documents, errors, stale\n"
          "  addresses [STATUS]            address states (unverified, valid, bouncing, invalid)\n"
          "  check-addresses               mail every address a confirm link now\n"
          "  audit                         recent audit log entries\n"
          "  health                        /healthz\n"
          "options: --as NAME records who decided (approve/reject)\n", f);
}

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
    struct anpi_buf *b = arg;
    if (anpi_buf_append(b, data, size * n) != ANPI_OK)
        return 0;
    return size * n;
}

static int
request(const struct ctl *c, const char *method, const char *path, const char *ctype,
        const char *body, size_t len)
{
    CURL *h = curl_easy_init();
    if (!h)
        return 2;
    struct anpi_buf out;
    anpi_buf_init(&out, 64 * 1024 * 1024);
    char *url = anpi_xasprintf("%s%s", c->url, path);
    char *auth = anpi_xasprintf("Authorization: Bearer %s", c->token ? c->token : "");
    char *ct = anpi_xasprintf("Content-Type: %s", ctype ? ctype : "application/json");
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, ct);
    hdr = curl_slist_append(hdr, "X-Anpi-Client: anpictl");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (cc != CURLE_OK) {
        fprintf(stderr, "anpictl: %s: %s\n", url, curl_easy_strerror(cc));
        rc = 2;
    } else {
        json_error_t jerr;
        json_t *j = out.data ? json_loads(out.data, 0, &jerr) : NULL;
        if (j) {
            json_dumpf(j, status >= 400 ? stderr : stdout, JSON_INDENT(2));
            fputc('\n', status >= 400 ? stderr : stdout);
            json_decref(j);
        } else if (out.data) {
            fputs(out.data, status >= 400 ? stderr : stdout);
        }
        rc = status >= 400 ? 1 : 0;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(url);
    free(auth);
    free(ct);
    anpi_buf_free(&out);
    return rc;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "anpictl: cannot open %s\n", path);
        return NULL;
    }
    struct anpi_buf b;
    anpi_buf_init(&b, 256 * 1024 * 1024);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (anpi_buf_append(&b, chunk, n) != ANPI_OK)
            break;
    if (f != stdin)
        fclose(f);
    *len = b.len;
    return anpi_buf_steal(&b);
}

static bool
valid_id(const char *s)
{
    int64_t v;
    return anpi_parse_int64(s, 1, INT64_MAX, &v) == ANPI_OK;
}

int
main(int argc, char **argv)
{
    struct ctl c = { 0 };
    const char *config = NULL, *comment = NULL;
    bool replay = false;
    const char *source = "jma";
    static const struct option opts[] = {
        { "url", required_argument, NULL, 'u' },
        { "token", required_argument, NULL, 't' },
        { "config", required_argument, NULL, 'c' },
        { "comment", required_argument, NULL, 'm' },
        { "as", required_argument, NULL, 'a' },
        { "replay", no_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+u:t:c:m:a:rh", opts, NULL)) != -1) {
        switch (ch) {
        case 'u': c.url = anpi_xstrdup(optarg); break;
        case 't': c.token = anpi_xstrdup(optarg); break;
        case 'c': config = optarg; break;
        case 'm': comment = optarg; break;
        case 'a': c.as = anpi_xstrdup(optarg); break;
        case 'r': replay = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    /* options may also follow the command: COMMAND ARG [--replay] [--comment T] [--as N] */
    int first = optind;
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    for (int i = first + 1; i < argc; i++) {
        if (strcmp(argv[i], "--replay") == 0)
            replay = true;
        else if (strcmp(argv[i], "--comment") == 0 && i + 1 < argc)
            comment = argv[++i];
        else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) {
            free(c.as);
            c.as = anpi_xstrdup(argv[++i]);
        } else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
            source = argv[++i];
    }
    const char *cmd = argv[first];
    const char *arg = first + 1 < argc && argv[first + 1][0] != '-' ? argv[first + 1] : NULL;

    if (!c.url && getenv("ANPI_URL"))
        c.url = anpi_xstrdup(getenv("ANPI_URL"));
    if (!c.token && getenv("ANPI_TOKEN"))
        c.token = anpi_xstrdup(getenv("ANPI_TOKEN"));
    if ((!c.url || !c.token) && config) {
        struct anpi_config *cfg = NULL;
        struct anpi_errors errs = { 0 };
        if (anpi_config_load(config, &cfg, &errs) != ANPI_OK) {
            for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.msg[i]);
            anpi_errors_free(&errs);
            return 2;
        }
        if (!c.url)
            c.url = anpi_xasprintf("http://%s", cfg->listen_admin);
        if (!c.token)
            c.token = anpi_xstrdup(cfg->api_token);
        anpi_config_free(cfg);
    }
    if (!c.url)
        c.url = anpi_xstrdup("http://127.0.0.1:8081");
    size_t ul = strlen(c.url);
    if (ul && c.url[ul - 1] == '/')
        c.url[ul - 1] = '\0';
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc = 2;
    char path[256];
    if (strcmp(cmd, "incidents") == 0) {
        snprintf(path, sizeof(path), "/api/v1/incidents%s%s", arg ? "?status=" : "", arg ? arg : "");
        rc = request(&c, "GET", path, NULL, NULL, 0);
    } else if (strcmp(cmd, "incident") == 0 && arg && valid_id(arg)) {
        snprintf(path, sizeof(path), "/api/v1/incidents/%s", arg);
        rc = request(&c, "GET", path, NULL, NULL, 0);
    } else if ((strcmp(cmd, "approve") == 0 || strcmp(cmd, "reject") == 0) && arg && valid_id(arg)) {
        snprintf(path, sizeof(path), "/api/v1/incidents/%s/%s", arg, cmd);
        const char *user = c.as ? c.as : getenv("USER");
        json_t *j = json_pack("{s:s, s:s}", "comment", comment ? comment : "", "by", user ? user : "");
        char *body = json_dumps(j, JSON_COMPACT);
        rc = request(&c, "POST", path, "application/json", body, strlen(body));
        free(body);
        json_decref(j);
    } else if (strcmp(cmd, "broadcast") == 0 && arg && valid_id(arg)) {
        snprintf(path, sizeof(path), "/api/v1/broadcasts/%s", arg);
        rc = request(&c, "GET", path, NULL, NULL, 0);
    } else if ((strcmp(cmd, "push") == 0 || strcmp(cmd, "import") == 0 ||
                strcmp(cmd, "travellers") == 0) && arg) {
        size_t len = 0;
        char *body = read_file(arg, &len);
        if (body) {
            if (cmd[0] == 'p') {
                snprintf(path, sizeof(path), "/api/v1/feeds/%s/documents%s", source, replay ? "?replay=1" : "");
                rc = request(&c, "POST", path, "application/octet-stream", body, len);
            } else if (cmd[0] == 'i') {
                rc = request(&c, "POST", "/api/v1/people/import", "text/csv", body, len);
            } else {
                rc = request(&c, "POST", "/api/v1/travellers/import", "text/csv", body, len);
            }
            free(body);
        }
    } else if (strcmp(cmd, "feeds") == 0) {
        rc = request(&c, "GET", "/api/v1/feeds", NULL, NULL, 0);
    } else if (strcmp(cmd, "addresses") == 0) {
        snprintf(path, sizeof(path), "/api/v1/addresses%s%s", arg ? "?status=" : "", arg ? arg : "");
        rc = request(&c, "GET", path, NULL, NULL, 0);
    } else if (strcmp(cmd, "check-addresses") == 0) {
        rc = request(&c, "POST", "/api/v1/addresses/check", "application/json", "{}", 2);
    } else if (strcmp(cmd, "audit") == 0) {
        rc = request(&c, "GET", "/api/v1/audit", NULL, NULL, 0);
    } else if (strcmp(cmd, "health") == 0) {
        rc = request(&c, "GET", "/healthz", NULL, NULL, 0);
    } else {
        usage(stderr);
    }
    curl_global_cleanup();
    free(c.url);
    free(c.token);
    free(c.as);
    return rc;
}
