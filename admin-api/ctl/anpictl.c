/* anpictl - command-line client for anpid's admin API.
 *
 *   anpictl [--url URL] [--token TOKEN | --config FILE] COMMAND [ARGS]
 *
 * The URL and token come from the options, else ANPI_URL / ANPI_TOKEN, else
 * the daemon's config file (listen.admin and api.token). */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

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
          "  audit verify                  the server recomputes the audit hash chain (exit 1: broken)\n"
          "  audit verify --file F [--anchor HASH]  recompute it here from an export (F: file or -)\n"
          "  audit export [--from ID]      entries with their hashes as JSON lines on stdout\n"
          "  health                        /healthz\n"
          "  login LOGIN [--scopes S] [--label L]  sign in (password and TOTP code read from the\n"
          "                                terminal, or two lines on stdin) and print a new API\n"
          "                                token: export ANPI_TOKEN=... for the next commands\n"
          "  passwd                        change your password (current, then the new one twice,\n"
          "                                from the terminal or three lines on stdin); a token\n"
          "                                taken with an initial password may do only this\n"
          "  whoami                        the account behind the token\n"
          "  accounts                      console accounts (system admins)\n"
          "  disable LOGIN                 disable an account: its sessions and tokens end at once\n"
          "  tokens                        your API tokens;  revoke ID  revokes one\n"
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

/* --- audit chain ------------------------------------------------------------
 *
 * `audit verify --file F` recomputes the chain from an export (JSON lines from
 * GET /api/v1/audit/export, as written by `audit export`) without trusting
 * the server: for every entry, in file order,
 *
 *   prev_hash == the previous entry's hash (64 zeros before the first entry,
 *                or --anchor HASH when the export starts later)
 *   hash      == hex SHA-256 of "prev_hash|id|at|actor|action|object|detail_text"
 *   detail    == detail_text parsed (so what is shown is what was hashed)
 *
 * This is the serialisation of engine/schema/0008_audit_chain.sql. */

#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_LINE_MAX (16u * 1024 * 1024)     /* one exported entry */
#define AUDIT_PAGE 10000                       /* the server's export page cap */

struct audit_check {
    long long entries;
    long long bad_id;         /* 0: none */
    long long last_id;        /* 0: none yet */
    char last_hash[65];
    char reason[512];
};

static const char *
audit_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool
is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static void
sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        out[0] = '\0';            /* compares unequal to any hash */
        return;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* One exported line.  false (with k->reason and k->bad_id set) when the chain
 * breaks here or the line is not an export entry. */
static bool
audit_check_line(struct audit_check *k, const char *line, size_t len, long lineno)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(o)) {
        snprintf(k->reason, sizeof(k->reason), "line %ld: not a JSON object: %s", lineno,
                 o ? "another JSON value" : jerr.text);
        json_decref(o);
        return false;
    }
    bool good = false;
    json_t *jid = json_object_get(o, "id");
    const char *at = audit_str(o, "at"), *actor = audit_str(o, "actor"), *action = audit_str(o, "action"),
               *object = audit_str(o, "object"), *dtext = audit_str(o, "detail_text"),
               *prev = audit_str(o, "prev_hash"), *hash = audit_str(o, "hash");
    json_t *detail = json_object_get(o, "detail");
    long long id = json_is_integer(jid) ? (long long)json_integer_value(jid) : 0;
    if (id <= 0 || !at || !actor || !action || !object || !dtext || !detail || !is_hex64(prev) ||
        !is_hex64(hash)) {
        snprintf(k->reason, sizeof(k->reason),
                 "line %ld: not an audit export entry (needs id, at, actor, action, object, detail,"
                 " detail_text and 64-hex prev_hash and hash)", lineno);
        goto out;
    }
    k->bad_id = id;
    if (k->last_id && id <= k->last_id) {
        snprintf(k->reason, sizeof(k->reason), "line %ld: entry %lld follows entry %lld: not in id order",
                 lineno, id, k->last_id);
        goto out;
    }
    if (strcmp(prev, k->last_hash) != 0) {
        if (k->last_id)
            snprintf(k->reason, sizeof(k->reason),
                     "entry %lld does not follow entry %lld (prev_hash mismatch): an entry between them"
                     " is missing or entry %lld was changed", id, k->last_id, k->last_id);
        else
            snprintf(k->reason, sizeof(k->reason),
                     "entry %lld is the first entry but its prev_hash is not %s: earlier entries are"
                     " missing (export from the first entry, or pass --anchor HASH)",
                     id, strcmp(k->last_hash, AUDIT_GENESIS) == 0 ? "the genesis value" : "the anchor");
        goto out;
    }
    json_t *dparsed = json_loads(dtext, 0, &jerr);
    bool same = dparsed && json_equal(dparsed, detail);
    json_decref(dparsed);
    if (!same) {
        snprintf(k->reason, sizeof(k->reason), "entry %lld: detail differs from detail_text", id);
        goto out;
    }
    char *material = anpi_xasprintf("%s|%lld|%s|%s|%s|%s|%s", prev, id, at, actor, action, object, dtext);
    char got[65];
    sha256_hex(material, strlen(material), got);
    free(material);
    if (strcmp(got, hash) != 0) {
        snprintf(k->reason, sizeof(k->reason), "entry %lld was changed (its content does not match its hash)", id);
        goto out;
    }
    k->bad_id = 0;
    k->entries++;
    k->last_id = id;
    memcpy(k->last_hash, hash, 65);
    good = true;
out:
    json_decref(o);
    return good;
}

static int
audit_verify_file(const char *path, const char *anchor)
{
    if (anchor && !is_hex64(anchor)) {
        fprintf(stderr, "anpictl: --anchor: expected 64 lower-case hex digits (an entry's hash)\n");
        return 2;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "anpictl: cannot open %s\n", path);
        return 2;
    }
    struct audit_check k = { 0 };
    memcpy(k.last_hash, anchor ? anchor : AUDIT_GENESIS, 65);
    struct anpi_buf line;
    anpi_buf_init(&line, AUDIT_LINE_MAX);
    bool good = true, eof = false;
    long lineno = 0;
    while (good && !eof) {
        anpi_buf_reset(&line);
        int ch;
        while ((ch = getc(f)) != EOF && ch != '\n')
            if (anpi_buf_putc(&line, (char)ch) != ANPI_OK)
                break;
        eof = ch == EOF;
        lineno++;
        if (ch != EOF && ch != '\n') {
            snprintf(k.reason, sizeof(k.reason), "line %ld: longer than %u bytes", lineno, AUDIT_LINE_MAX);
            good = false;
        } else if (line.len > 0) {
            good = audit_check_line(&k, line.data, line.len, lineno);
        }
    }
    if (good && ferror(f)) {
        snprintf(k.reason, sizeof(k.reason), "%s: read error", path);
        good = false;
    }
    if (f != stdin)
        fclose(f);
    anpi_buf_free(&line);
    if (good && k.entries == 0) {
        snprintf(k.reason, sizeof(k.reason), "%s: no entries", path);
        good = false;
    }
    json_t *j = json_pack("{s:b, s:I, s:o, s:s, s:o, s:s}", "ok", good, "entries", (json_int_t)k.entries,
                          "first_bad_id", k.bad_id ? json_integer(k.bad_id) : json_null(),
                          "reason", good ? "chain intact" : k.reason,
                          "last_id", k.last_id ? json_integer(k.last_id) : json_null(),
                          "last_hash", k.last_hash);
    json_dumpf(j, good ? stdout : stderr, JSON_INDENT(2));
    fputc('\n', good ? stdout : stderr);
    json_decref(j);
    return good ? 0 : 1;
}

/* GET into a buffer: 0 with the body on 200, else a message and 1 or 2. */
static int
fetch(const struct ctl *c, const char *path, struct anpi_buf *out)
{
    CURL *h = curl_easy_init();
    if (!h)
        return 2;
    char *url = anpi_xasprintf("%s%s", c->url, path);
    char *auth = anpi_xasprintf("Authorization: Bearer %s", c->token ? c->token : "");
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "X-Anpi-Client: anpictl");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (cc != CURLE_OK) {
        fprintf(stderr, "anpictl: %s: %s\n", url, curl_easy_strerror(cc));
        rc = 2;
    } else if (status != 200) {
        fprintf(stderr, "anpictl: %s: HTTP %ld: %s\n", url, status, out->data ? out->data : "");
        rc = 1;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(url);
    free(auth);
    return rc;
}

/* `audit export [--from ID]`: every entry from ID on, page by page, to stdout. */
static int
audit_export(const struct ctl *c, long long from)
{
    struct anpi_buf page;
    anpi_buf_init(&page, 256 * 1024 * 1024);
    int rc = 0;
    for (;;) {
        char path[96];
        snprintf(path, sizeof(path), "/api/v1/audit/export?from=%lld&limit=%d", from, AUDIT_PAGE);
        anpi_buf_reset(&page);
        if ((rc = fetch(c, path, &page)) != 0)
            break;
        long n = 0;
        long long last = 0;
        for (const char *p = page.data; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            json_error_t jerr;
            json_t *o = json_loadb(p, len, 0, &jerr);
            json_t *jid = json_object_get(o, "id");
            if (!json_is_integer(jid) || json_integer_value(jid) < from) {
                fprintf(stderr, "anpictl: export page from %lld: line %ld is not an entry at or after it\n",
                        from, n + 1);
                json_decref(o);
                rc = 1;
                break;
            }
            last = (long long)json_integer_value(jid);
            json_decref(o);
            fwrite(p, 1, len, stdout);
            fputc('\n', stdout);
            n++;
            p = nl ? nl + 1 : p + len;
        }
        if (rc != 0 || n < AUDIT_PAGE)
            break;
        from = last + 1;
    }
    anpi_buf_free(&page);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "anpictl: writing the export failed\n");
        rc = 2;
    }
    return rc;
}

/* One line from the terminal without echo (or from stdin when it is not a
 * terminal, for scripts).  The newline is stripped; false on EOF, and on a
 * line that does not fit in out (said on stderr: its rest would otherwise
 * be taken for the next answer). */
static bool
read_secret(const char *prompt, char *out, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    bool ok = fgets(out, (int)len, stdin) != NULL;
    if (ok && !strchr(out, '\n') && !feof(stdin)) {
        int ch;
        while ((ch = getchar()) != EOF && ch != '\n')
            ;
        OPENSSL_cleanse(out, len);
        fprintf(stderr, "anpictl: an answer longer than %zu bytes was refused\n", len - 2);
        ok = false;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok;
}

#define SECRET_LINE 1100          /* the sign-in refuses passwords longer than 1,024 bytes */
#define SECRET_BODY (16 * 1024)   /* three answers, each escaped at most sixfold */

/* POST j (consumed), which carries secrets, to path.  The body is written
 * into a stack buffer that is wiped afterwards, so that no growing heap
 * buffer leaves copies behind, and the strings j holds are wiped before it
 * is freed.  j NULL (a value was not valid UTF-8) or a body too long: bad
 * is said on stderr and nothing is sent (2). */
static int
post_secret(const struct ctl *c, const char *path, json_t *j, const char *bad)
{
    char body[SECRET_BODY];
    size_t n = j ? json_dumpb(j, body, sizeof(body), JSON_COMPACT) : 0;
    if (j) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
            if (json_is_string(v))
                OPENSSL_cleanse((char *)(uintptr_t)json_string_value(v), json_string_length(v));
        json_decref(j);
    }
    int rc = 2;
    if (n == 0 || n > sizeof(body))
        fprintf(stderr, "anpictl: %s\n", bad);
    else
        rc = request(c, "POST", path, "application/json", body, n);
    OPENSSL_cleanse(body, sizeof(body));
    return rc;
}

/* anpictl login: POST /api/v1/tokens with what the person types. */
static int
login(const struct ctl *c, const char *user, const char *scopes, const char *label)
{
    char pw[SECRET_LINE], code[32] = "";
    int rc = 2;
    if (!read_secret("password: ", pw, sizeof(pw))) {
        fprintf(stderr, "anpictl: login: no password given\n");
        goto out;
    }
    if (!read_secret("TOTP code (empty if none): ", code, sizeof(code)))
        code[0] = '\0';
    json_t *j = json_pack("{s:s, s:s, s:s}", "login", user, "password", pw, "label", label ? label : "anpictl");
    if (j && code[0])
        json_object_set_new(j, "totp", json_string(code));
    if (j && scopes)
        json_object_set_new(j, "scopes", json_string(scopes));
    rc = post_secret(c, "/api/v1/tokens", j, "login: the login or the password is not valid UTF-8, or too long");
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(code, sizeof(code));
    return rc;
}

/* anpictl passwd: change the token's own account's password (the only
 * thing a token taken with an initial password may do).  The new one is
 * typed twice; a mismatch sends nothing. */
static int
passwd(const struct ctl *c)
{
    char cur[SECRET_LINE], pw[SECRET_LINE], again[SECRET_LINE];
    int rc = 2;
    if (!read_secret("current password: ", cur, sizeof(cur)) ||
        !read_secret("new password: ", pw, sizeof(pw)) || !read_secret("new password again: ", again, sizeof(again))) {
        fprintf(stderr, "anpictl: passwd: expected the current password and the new one twice\n");
        goto out;
    }
    if (strcmp(pw, again) != 0) {
        fprintf(stderr, "anpictl: passwd: the two new passwords differ; nothing was changed\n");
        goto out;
    }
    rc = post_secret(c, "/api/v1/account/password",
                     json_pack("{s:s, s:s}", "password", cur, "new_password", pw),
                     "passwd: a password is not valid UTF-8");
out:
    OPENSSL_cleanse(cur, sizeof(cur));
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(again, sizeof(again));
    return rc;
}

int
main(int argc, char **argv)
{
    struct ctl c = { 0 };
    const char *config = NULL, *comment = NULL;
    bool replay = false;
    const char *source = "jma", *scopes = NULL, *label = NULL;
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
        else if (strcmp(argv[i], "--scopes") == 0 && i + 1 < argc)
            scopes = argv[++i];
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
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
    } else if (strcmp(cmd, "audit") == 0 && arg && strcmp(arg, "verify") == 0) {
        const char *file = NULL, *anchor = NULL;
        for (int i = first + 2; i + 1 < argc; i++) {
            if (strcmp(argv[i], "--file") == 0 || strcmp(argv[i], "--offline") == 0)
                file = argv[++i];
            else if (strcmp(argv[i], "--anchor") == 0)
                anchor = argv[++i];
        }
        if (file)
            rc = audit_verify_file(file, anchor);
        else
            rc = request(&c, "GET", "/api/v1/audit/verify", NULL, NULL, 0);
    } else if (strcmp(cmd, "audit") == 0 && arg && strcmp(arg, "export") == 0) {
        int64_t from = 1;
        for (int i = first + 2; i + 1 < argc; i++)
            if (strcmp(argv[i], "--from") == 0 && anpi_parse_int64(argv[++i], 1, INT64_MAX, &from) != ANPI_OK) {
                fprintf(stderr, "anpictl: --from: expected an entry id (a positive integer)\n");
                from = 0;
            }
        rc = from > 0 ? audit_export(&c, (long long)from) : 2;
    } else if (strcmp(cmd, "audit") == 0 && !arg) {
        rc = request(&c, "GET", "/api/v1/audit", NULL, NULL, 0);
    } else if (strcmp(cmd, "health") == 0) {
        rc = request(&c, "GET", "/healthz", NULL, NULL, 0);
    } else if (strcmp(cmd, "login") == 0 && arg) {
        rc = login(&c, arg, scopes, label);
    } else if (strcmp(cmd, "passwd") == 0 && !arg) {
        rc = passwd(&c);
    } else if (strcmp(cmd, "whoami") == 0) {
        rc = request(&c, "GET", "/api/v1/account", NULL, NULL, 0);
    } else if (strcmp(cmd, "accounts") == 0) {
        rc = request(&c, "GET", "/api/v1/accounts", NULL, NULL, 0);
    } else if (strcmp(cmd, "disable") == 0 && arg && strlen(arg) < 128 && !strpbrk(arg, "/?#%")) {
        snprintf(path, sizeof(path), "/api/v1/accounts/%s/disable", arg);
        rc = request(&c, "POST", path, "application/json", "{}", 2);
    } else if (strcmp(cmd, "tokens") == 0) {
        rc = request(&c, "GET", "/api/v1/tokens", NULL, NULL, 0);
    } else if (strcmp(cmd, "revoke") == 0 && arg && valid_id(arg)) {
        snprintf(path, sizeof(path), "/api/v1/tokens/%s", arg);
        rc = request(&c, "DELETE", path, NULL, NULL, 0);
    } else {
        usage(stderr);
    }
    curl_global_cleanup();
    free(c.url);
    free(c.token);
    free(c.as);
    return rc;
}
