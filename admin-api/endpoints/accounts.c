/* accounts.c - console accounts, API tokens, and one's own password and
 * second factor.
 *
 *   POST /api/v1/accounts                     create (system-admin)
 *   GET  /api/v1/accounts                     list
 *   GET  /api/v1/accounts/{login}             one
 *   POST /api/v1/accounts/{login}/disable     disable at once: sessions and tokens die
 *   POST /api/v1/accounts/{login}/groups      replace a group admin's groups
 *   POST /api/v1/accounts/{login}/password    admin reset: a new initial password
 *   POST /api/v1/tokens                       sign in, get a bearer token (open)
 *   GET  /api/v1/tokens                       one's own tokens
 *   DELETE /api/v1/tokens/{id}                revoke (own; a system admin any)
 *   GET  /api/v1/account                      who am I
 *   POST /api/v1/account/password             change one's own password
 *   POST /api/v1/account/totp                 enrol a (new) TOTP secret
 *
 * Handlers check shapes here; new passwords go through the chain of
 * passchange.h (re-confirmation, history, policy and argon2id on the thread
 * pool) shared with the console; every write is one function of
 * engine/schema/0020_account_ops.sql, which answers
 * {"status", "body"|"error"} for the handler to relay.  Passwords and TOTP
 * secrets are never logged nor audited. */
#include "admin-api/endpoints/api.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin-api/body.h"
#include "admin-api/endpoints/passchange.h"
#include "admin-api/endpoints/signin.h"
#include "engine/anpi.h"
#include "engine/auth/apitoken.h"
#include "engine/auth/password.h"
#include "engine/auth/totp.h"
#include "engine/buf.h"
#include "engine/log.h"

#define TOKEN_BODY_MAX  (16 * 1024)    /* POST /api/v1/tokens: a login and a password */
#define BODY_MAX        (64 * 1024)
#define LOGIN_MAX       64
#define PERSON_ID_MAX   64
#define LABEL_MAX       100
#define GROUPS_MAX      1000
#define TOTP_ISSUER     "anpi"

/* One request through its asynchronous steps. */
struct acall {
    struct api_call call;          /* first: api_query's callback gets &call back */
    long long caller;              /* api_who id (0 = bootstrap token) */
    char actor[72];
    char login[72];                /* own login, for TOTP enrolment (fits api_who.login) */
    char *groups;                  /* "{1,2}" */
    char secret[ANPI_TOTP_SECRET_B32 + 1];
    bool has_secret;
    json_t *extra;                 /* merged into a 2xx body */
};

static struct acall *
acall_new(struct anpi_engine *e, struct anpi_http_req *req)
{
    struct acall *c = anpi_xcalloc(1, sizeof(*c));
    c->call.e = e;
    c->call.req = req;
    const struct api_who *w = api_who(req);
    if (w)
        c->caller = w->id;
    snprintf(c->actor, sizeof(c->actor), "%s", api_actor(req));
    return c;
}

static void
acall_free(struct acall *c)
{
    free(c->groups);
    OPENSSL_cleanse(c->secret, sizeof(c->secret));
    json_decref(c->extra);
    free(c);
}

static void
fail_call(struct acall *c, unsigned status, const char *msg)
{
    anpi_http_respond_error(c->call.req, status, "%s", msg);
    acall_free(c);
}

/* The JSON body as an object, or NULL after answering 400/413. */
static json_t *
body_json(struct anpi_http_req *req, size_t max)
{
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    if (len > max) {
        anpi_http_respond_error(req, 413, "the request body is larger than %zu bytes", max);
        return NULL;
    }
    char err[256];
    json_t *j = anpi_json_body(body ? body : "", len, err, sizeof(err));
    if (!j)
        anpi_http_respond_error(req, 400, "%s", err);
    return j;
}

/* An optional string member: true when absent (out NULL) or a string. */
static bool
opt_string(json_t *j, const char *key, const char **out)
{
    json_t *v = json_object_get(j, key);
    *out = json_string_value(v);
    return !v || json_is_string(v);
}

static bool
login_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > LOGIN_MAX || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._@-", s[i]))
            return false;
    return true;
}

/* {"status", "body"|"error"} from a 0020 function -> the answer. */
static void
relay_cb(void *arg, const PGresult *res, const char *err)
{
    struct acall *c = arg;
    if (err) {
        anpi_error(ANPI_LG_API, "accounts: database error: %s", err);
        fail_call(c, 503, "database error: nothing was changed");
        return;
    }
    json_error_t jerr;
    json_t *j = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? json_loads(PQgetvalue(res, 0, 0), 0, &jerr)
                                                                : NULL;
    json_int_t status = json_integer_value(json_object_get(j, "status"));
    json_t *body = json_object_get(j, "body");
    if (status >= 200 && status < 300 && json_is_object(body)) {
        if (c->extra)
            json_object_update(body, c->extra);
        anpi_http_respond_json(c->call.req, (unsigned)status, json_incref(body));
    } else if (status >= 400 && status < 600) {
        anpi_http_respond_error(c->call.req, (unsigned)status, "%s",
                                json_string_value(json_object_get(j, "error")) ?: "refused");
    } else {
        anpi_http_respond_error(c->call.req, 500, "unexpected answer from the database");
    }
    json_decref(j);
    acall_free(c);
}

/* api_passchange's answer: the write's {"status", ...} relayed, or the refusal. */
static void
passchange_cb(const struct api_passchange_result *r, void *arg)
{
    struct acall *c = arg;
    if (r->res)
        relay_cb(c, r->res, NULL);
    else
        fail_call(c, r->status, r->msg);
}

/* ---- POST /api/v1/accounts ---------------------------------------------------- */

/* [ids] -> "{1,2}" or NULL with err. */
static char *
group_list(json_t *v, char *err, size_t errlen, size_t *count)
{
    *count = 0;
    if (!v)
        return anpi_xstrdup("{}");
    if (!json_is_array(v) || json_array_size(v) > GROUPS_MAX) {
        snprintf(err, errlen, "\"groups\" must be an array of at most %d group ids", GROUPS_MAX);
        return NULL;
    }
    struct anpi_buf b;
    anpi_buf_init(&b, 32 * GROUPS_MAX);
    anpi_buf_append(&b, "{", 1);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *g = json_array_get(v, i);
        long long id = 0;
        if (json_is_integer(g) && json_integer_value(g) > 0)
            id = (long long)json_integer_value(g);
        else if (json_is_string(g))
            id = api_id(json_string_value(g));
        if (id <= 0) {
            snprintf(err, errlen, "groups[%zu] must be a group id (a positive integer)", i);
            anpi_buf_free(&b);
            return NULL;
        }
        char num[32];
        int n = snprintf(num, sizeof(num), "%s%lld", i ? "," : "", id);
        anpi_buf_append(&b, num, (size_t)n);
    }
    anpi_buf_append(&b, "}", 1);
    *count = json_array_size(v);
    return anpi_buf_steal(&b);
}

static void
h_create(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    json_t *j = body_json(req, BODY_MAX);
    if (!j)
        return;
    char err[256];
    const char *login = NULL, *password = NULL, *role = NULL, *person = NULL;
    json_t *must = json_object_get(j, "must_change"), *totp = json_object_get(j, "totp");
    enum api_role r;
    size_t ngroups = 0;
    char *groups = NULL;
    if (!opt_string(j, "login", &login) || !login || !login_ok(login)) {
        anpi_http_respond_error(req, 400, "\"login\" must be 3-64 characters of A-Z, a-z, 0-9 and . _ @ -, "
                                          "starting with a letter or digit");
        goto out;
    }
    if (strcasecmp(login, "api") == 0) {
        anpi_http_respond_error(req, 409, "\"api\" is the bootstrap token's name in the audit log; choose another login");
        goto out;
    }
    if (!opt_string(j, "password", &password) || !password) {
        anpi_http_respond_error(req, 400, "\"password\" (the initial password) is required");
        goto out;
    }
    if (anpi_password_check_length(password, err, sizeof(err)) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "%s", ANPI_PASSWORD_TOOLONG_MSG);
        goto out;
    }
    if (!opt_string(j, "role", &role) || !role || api_role_parse(role, &r) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "\"role\" must be one of system-admin, duty-officer, group-admin, hr, viewer");
        goto out;
    }
    groups = group_list(json_object_get(j, "groups"), err, sizeof(err), &ngroups);
    if (!groups) {
        anpi_http_respond_error(req, 400, "%s", err);
        goto out;
    }
    if (r == API_ROLE_GROUP_ADMIN && ngroups == 0) {
        anpi_http_respond_error(req, 400, "a group-admin needs at least one group in \"groups\"");
        goto out;
    }
    if (r != API_ROLE_GROUP_ADMIN && ngroups > 0) {
        anpi_http_respond_error(req, 400, "only a group-admin administers groups: a %s takes no \"groups\"", role);
        goto out;
    }
    if (!opt_string(j, "person_id", &person) || (person && (!*person || strlen(person) > PERSON_ID_MAX))) {
        anpi_http_respond_error(req, 400, "\"person_id\" must be a person id (a string of 1-%d bytes)",
                                PERSON_ID_MAX);
        goto out;
    }
    if ((must && !json_is_boolean(must)) || (totp && !json_is_boolean(totp))) {
        anpi_http_respond_error(req, 400, "\"must_change\" and \"totp\" must be true or false");
        goto out;
    }
    struct acall *c = acall_new(e, req);
    /* Every system admin has a second factor; others when asked. */
    if (r == API_ROLE_SYSTEM_ADMIN || json_is_true(totp)) {
        if (anpi_totp_secret_new(c->secret) != ANPI_OK) {
            fail_call(c, 503, "no randomness for a TOTP secret");
            goto out;
        }
        c->has_secret = true;
        char *uri = anpi_totp_uri(c->secret, TOTP_ISSUER, login);
        c->extra = json_pack("{s:s, s:s?}", "totp_secret", c->secret, "totp_uri", uri);
        free(uri);
    }
    const char *p[8] = { c->actor, login, NULL, api_role_name(r), groups, person,
                         !must || json_is_true(must) ? "true" : "false", c->has_secret ? c->secret : NULL };
    struct api_passchange pc = {
        .login = login,
        .password = password,
        .sql = "SELECT anpi_account_create($1, $2, $3, $4, $5, $6::bigint[], $7, $8::boolean, $9)::text",
        .nparams = 8,
        .params = p,
        .hash_param = 2,
    };
    api_passchange(e, req, &pc, passchange_cb, c);
out:
    free(groups);
    json_decref(j);
}

/* ---- reads -------------------------------------------------------------------- */

static void
h_list(struct anpi_http_req *req, void *ctx)
{
    struct acall *c = acall_new(ctx, req);
    api_query(&c->call, "SELECT anpi_accounts_list($1)::text", 0, NULL, relay_cb);
}

static void
h_get(struct anpi_http_req *req, void *ctx)
{
    struct acall *c = acall_new(ctx, req);
    const char *p[1] = { anpi_http_param(req, "login") };
    api_query(&c->call, "SELECT anpi_account_get($1, $2)::text", 1, p, relay_cb);
}

/* ---- disable, groups, admin reset --------------------------------------------- */

static void
h_disable(struct anpi_http_req *req, void *ctx)
{
    const char *login = anpi_http_param(req, "login");
    const struct api_who *w = api_who(req);
    if (w && strcasecmp(login, w->login) == 0) {
        anpi_http_respond_error(req, 400, "自分のアカウントは無効にできません (you cannot disable your own account)");
        return;
    }
    struct acall *c = acall_new(ctx, req);
    const char *p[2] = { c->actor, login };
    api_query(&c->call, "SELECT anpi_account_disable($1, $2, $3)::text", 2, p, relay_cb);
}

static void
h_groups(struct anpi_http_req *req, void *ctx)
{
    json_t *j = body_json(req, BODY_MAX);
    if (!j)
        return;
    char err[256];
    size_t n = 0;
    json_t *g = json_object_get(j, "groups");
    char *groups = g ? group_list(g, err, sizeof(err), &n) : NULL;
    if (!g)
        snprintf(err, sizeof(err), "\"groups\" (an array of group ids) is required");
    if (groups && n == 0) {
        snprintf(err, sizeof(err), "a group-admin needs at least one group in \"groups\"");
        free(groups);
        groups = NULL;
    }
    if (!groups) {
        anpi_http_respond_error(req, 400, "%s", err);
        json_decref(j);
        return;
    }
    struct acall *c = acall_new(ctx, req);
    c->groups = groups;
    const char *p[3] = { c->actor, anpi_http_param(req, "login"), groups };
    api_query(&c->call, "SELECT anpi_account_set_groups($1, $2, $3, $4::bigint[])::text", 3, p,
              relay_cb);
    json_decref(j);
}

static void
h_reset(struct anpi_http_req *req, void *ctx)
{
    json_t *j = body_json(req, BODY_MAX);
    if (!j)
        return;
    const char *password = NULL, *login = anpi_http_param(req, "login");
    char err[256];
    if (!opt_string(j, "password", &password) || !password) {
        anpi_http_respond_error(req, 400, "\"password\" (the new initial password) is required");
    } else if (anpi_password_check_length(password, err, sizeof(err)) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "%s", ANPI_PASSWORD_TOOLONG_MSG);
    } else if (strlen(login) > LOGIN_MAX) {
        anpi_http_respond_error(req, 404, "no such account");
    } else {
        struct acall *c = acall_new(ctx, req);
        /* The new password must not repeat the account's recent ones either. */
        const char *p[3] = { c->actor, login, NULL };
        struct api_passchange pc = {
            .login = login,
            .password = password,
            .history = true,
            .sql = "SELECT anpi_account_reset_password($1, $2, $3, $4)::text",
            .nparams = 3,
            .params = p,
            .hash_param = 2,
        };
        api_passchange(ctx, req, &pc, passchange_cb, c);
    }
    json_decref(j);
}

/* ---- POST /api/v1/tokens --------------------------------------------------------- */

struct tokcall {
    struct acall *c;
    unsigned scopes;
    char *label;
    char token[ANPI_APITOKEN_LEN + 1];
    struct api_signin_result r;
};

static void
token_stored_cb(void *arg, const PGresult *res, const char *err)
{
    struct tokcall *t = arg;
    struct acall *c = t->c;
    c->extra = json_pack("{s:s, s:{s:s, s:s}, s:b, s:b}", "token", t->token, "account", "login", t->r.login, "role",
                         t->r.role, "password_change_required", t->r.must_change, "password_change_due",
                         t->r.remind);
    OPENSSL_cleanse(t->token, sizeof(t->token));
    free(t->label);
    free(t);
    relay_cb(c, res, err);
}

static void
token_signin_cb(const struct api_signin_result *r, void *arg)
{
    struct tokcall *t = arg;
    struct acall *c = t->c;
    if (r->status != 0) {
        if (r->status == 429) {
            char ra[24];
            snprintf(ra, sizeof(ra), "%lld", r->retry_after);
            anpi_http_set_header(c->call.req, "Retry-After", ra);
            anpi_http_respond_json(c->call.req, 429, json_pack("{s:s, s:I}", "error", r->msg, "retry_after",
                                                          (json_int_t)r->retry_after));
            acall_free(c);
        } else {
            fail_call(c, r->status, r->msg);
        }
        free(t->label);
        free(t);
        return;
    }
    t->r = *r;
    char hash[ANPI_APITOKEN_HASH_HEX + 1];
    if (anpi_apitoken_new(t->token, hash) != ANPI_OK) {
        free(t->label);
        free(t);
        fail_call(c, 503, "no randomness for a token");
        return;
    }
    char acc[24], sc[16], life[24];
    snprintf(acc, sizeof(acc), "%lld", r->account);
    snprintf(sc, sizeof(sc), "%u", t->scopes);
    snprintf(life, sizeof(life), "%lld", (long long)c->call.e->cfg->token_max_s);
    const char *p[6] = { acc, hash, sc, t->label, anpi_http_peer(c->call.req), life };
    anpi_db_query(c->call.e->db, "SELECT anpi_token_create($1::bigint, $2, $3::int, $4, $5, $6::bigint)::text", 6, p,
                  token_stored_cb, t);
}

static void
h_token(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    json_t *j = body_json(req, TOKEN_BODY_MAX);
    if (!j)
        return;
    const char *login = NULL, *password = NULL, *totp = NULL, *scopes = NULL, *label = NULL;
    unsigned mask = ANPI_SCOPE_ALL;
    if (!opt_string(j, "login", &login) || !login || !opt_string(j, "password", &password) || !password) {
        anpi_http_respond_error(req, 400, "\"login\" and \"password\" (strings) are required");
    } else if (!opt_string(j, "totp", &totp)) {
        anpi_http_respond_error(req, 400, "\"totp\" must be the 6-digit code as a string");
    } else if (!opt_string(j, "scopes", &scopes) ||
               (scopes && (anpi_scopes_parse(scopes, &mask) != ANPI_OK || mask == 0))) {
        anpi_http_respond_error(req, 400, "\"scopes\" must be a comma list of read, approve, broadcast, "
                                          "directory, admin (omit it for all)");
    } else if (!opt_string(j, "label", &label) || (label && (strlen(label) > LABEL_MAX || strpbrk(label, "\r\n")))) {
        anpi_http_respond_error(req, 400, "\"label\" must be one line of at most %d bytes", LABEL_MAX);
    } else {
        struct tokcall *t = anpi_xcalloc(1, sizeof(*t));
        t->c = acall_new(e, req);
        t->scopes = mask;
        t->label = anpi_xstrdup(label ? label : "");
        api_signin(e, login, password, totp, anpi_http_peer(req), "token", token_signin_cb, t);
    }
    json_decref(j);
}

/* ---- own tokens ------------------------------------------------------------------- */

static void
h_tokens(struct anpi_http_req *req, void *ctx)
{
    struct acall *c = acall_new(ctx, req);
    api_query(&c->call, "SELECT anpi_tokens_list($1)::text", 0, NULL, relay_cb);
}

static void
h_revoke(struct anpi_http_req *req, void *ctx)
{
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id) {
        anpi_http_respond_error(req, 404, "no token %s", anpi_http_param(req, "id"));
        return;
    }
    struct acall *c = acall_new(ctx, req);
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { c->actor, ids };
    api_query(&c->call, "SELECT anpi_token_revoke($1, $2, $3::bigint)::text", 2, p, relay_cb);
}

/* ---- GET /api/v1/account ------------------------------------------------------------ */

static const char *
via_name(char via)
{
    return via == 's' ? "session" : via == 't' ? "token" : "config";
}

static void
h_me(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const struct api_who *w = api_who(req);
    if (!w || w->id == 0) {
        anpi_http_respond_json(req, 200,
                               json_pack("{s:I, s:s, s:s, s:[], s:b, s:b, s:b, s:s}", "id", (json_int_t)0, "login",
                                         "api", "role", "system-admin", "groups", "must_change", 0,
                                         "password_change_due", 0, "has_totp", 0, "via", "config"));
        return;
    }
    struct acall *c = acall_new(e, req);
    char scopes[64] = "";
    anpi_scopes_format(w->scopes, scopes, sizeof(scopes));
    c->extra = json_pack("{s:s, s:s}", "via", via_name(w->via), "scopes", scopes);
    char remind[24];
    snprintf(remind, sizeof(remind), "%lld", (long long)e->cfg->password_remind_s);
    const char *p[1] = { remind };
    api_query(&c->call, "SELECT anpi_account_me($1, $2::bigint)::text", 1, p, relay_cb);
}

/* ---- own password and TOTP ------------------------------------------------------------ */

/* Refuse the bootstrap token: it has no account row, no password. */
static bool
has_account(struct anpi_http_req *req)
{
    const struct api_who *w = api_who(req);
    if (!w || w->id == 0) {
        anpi_http_respond_error(req, 400, "the configuration's api.token is not an account: it has no password "
                                          "or TOTP (sign in with an account for this)");
        return false;
    }
    return true;
}

static void
totp_signin_cb(const struct api_signin_result *r, void *arg)
{
    struct acall *c = arg;
    if (r->status != 0) {
        if (r->status == 429) {
            char ra[24];
            snprintf(ra, sizeof(ra), "%lld", r->retry_after);
            anpi_http_set_header(c->call.req, "Retry-After", ra);
        }
        /* 401 here would read as "signed out"; the caller is signed in and
         * typed the current password wrong. */
        fail_call(c, r->status == 401 ? 403 : r->status,
                  r->status == 401 ? "現在のパスワードが違います (the current password is wrong)" : r->msg);
        return;
    }
    if (r->account != c->caller) {
        fail_call(c, 403, "the password belongs to another account");
        return;
    }
    if (anpi_totp_secret_new(c->secret) != ANPI_OK) {
        fail_call(c, 503, "no randomness for a TOTP secret");
        return;
    }
    char *uri = anpi_totp_uri(c->secret, TOTP_ISSUER, c->login);
    c->extra = json_pack("{s:s, s:s?}", "totp_secret", c->secret, "totp_uri", uri);
    free(uri);
    const char *p[1] = { c->secret };
    api_query(&c->call, "SELECT anpi_account_set_totp($1, $2)::text", 1, p, relay_cb);
}

static void
h_own_password(struct anpi_http_req *req, void *ctx)
{
    if (!has_account(req))
        return;
    json_t *j = body_json(req, TOKEN_BODY_MAX);
    if (!j)
        return;
    const char *cur = NULL, *next = NULL;
    if (!opt_string(j, "password", &cur) || !cur || !opt_string(j, "new_password", &next) || !next)
        anpi_http_respond_error(req, 400, "\"password\" (the current one) and \"new_password\" are required");
    else
        api_passchange_own(ctx, req, cur, next, "password", passchange_cb, acall_new(ctx, req));
    json_decref(j);
}

static void
h_own_totp(struct anpi_http_req *req, void *ctx)
{
    if (!has_account(req))
        return;
    json_t *j = body_json(req, TOKEN_BODY_MAX);
    if (!j)
        return;
    const char *cur = NULL;
    if (!opt_string(j, "password", &cur) || !cur) {
        anpi_http_respond_error(req, 400, "\"password\" (the current one) is required");
    } else {
        struct acall *c = acall_new(ctx, req);
        snprintf(c->login, sizeof(c->login), "%s", api_who(req)->login);
        api_signin_password(c->call.e, c->login, cur, anpi_http_peer(req), "totp", totp_signin_cb, c);
    }
    json_decref(j);
}

int
anpi_api_accounts_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    static const struct {
        const char *method, *pattern;
        enum api_perm perm;
        anpi_http_handler h;
    } R[] = {
        { "POST", "/api/v1/accounts", API_ACCOUNTS, h_create },
        { "GET", "/api/v1/accounts", API_ACCOUNTS, h_list },
        { "GET", "/api/v1/accounts/{login}", API_ACCOUNTS, h_get },
        { "POST", "/api/v1/accounts/{login}/disable", API_ACCOUNTS, h_disable },
        { "POST", "/api/v1/accounts/{login}/groups", API_ACCOUNTS, h_groups },
        { "POST", "/api/v1/accounts/{login}/password", API_ACCOUNTS, h_reset },
        { "POST", "/api/v1/tokens", API_OPEN, h_token },
        { "GET", "/api/v1/tokens", API_SELF, h_tokens },
        { "DELETE", "/api/v1/tokens/{id}", API_SELF, h_revoke },
        { "GET", "/api/v1/account", API_SELF, h_me },
        { "POST", "/api/v1/account/password", API_SELF, h_own_password },
        { "POST", "/api/v1/account/totp", API_SELF, h_own_totp },
    };
    for (size_t i = 0; i < sizeof(R) / sizeof(R[0]); i++) {
        int rc = api_route(e, s, R[i].method, R[i].pattern, R[i].perm, R[i].h);
        if (rc != ANPI_OK)
            return rc;
    }
    return ANPI_OK;
}
