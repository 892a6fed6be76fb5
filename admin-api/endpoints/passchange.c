/* passchange.c - a new password through re-confirmation, history, policy,
 * argon2id and one write (see passchange.h).  Messages are Japanese then
 * English because the console shows them to people as they are. */
#include "admin-api/endpoints/passchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "admin-api/endpoints/api.h"
#include "admin-api/endpoints/signin.h"
#include "engine/anpi.h"
#include "engine/auth/password.h"
#include "engine/config.h"
#include "engine/log.h"

#define MSG_HASH_FAILED "パスワードを処理できませんでした。 (the password could not be hashed; nothing was changed)"
#define MSG_DB_FAILED   "データベースの障害で変更できませんでした。 (database error: nothing was changed)"

/* One change through its steps. */
struct passchange {
    struct api_call call;          /* first: api_query hands &call back */
    api_passchange_cb cb;
    void *arg;
    char *login;
    char *password;                /* wiped on free */
    long long account;             /* with a re-confirmation: whose password it must be */
    bool history;
    char *sql;
    int nparams, hash_param;
    char *params[API_QUERY_MAX_PARAMS];   /* wiped on free: may hold a TOTP secret */
    char **hashes;                 /* previous hashes, newest first */
    size_t nhashes;
};

static void
wipe(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Report to the caller and free: the end of every path. */
static void
finish(struct passchange *pc, unsigned status, const char *msg, const PGresult *res)
{
    struct api_passchange_result r = { .status = status, .msg = msg, .res = res };
    pc->cb(&r, pc->arg);
    free(pc->login);
    wipe(pc->password);
    free(pc->sql);
    for (int i = 0; i < pc->nparams; i++)
        wipe(pc->params[i]);
    for (size_t i = 0; i < pc->nhashes; i++)
        free(pc->hashes[i]);
    free(pc->hashes);
    free(pc);
}

/* The write's {"status", "body"|"error"} -> the result. */
static void
written_cb(void *arg, const PGresult *res, const char *err)
{
    struct passchange *pc = arg;
    if (err) {
        anpi_error(ANPI_LG_API, "password change: database error: %s", err);
        finish(pc, 503, MSG_DB_FAILED, NULL);
        return;
    }
    json_t *j = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    json_int_t status = json_integer_value(json_object_get(j, "status"));
    if (status >= 200 && status < 300)
        finish(pc, (unsigned)status, NULL, res);
    else if (status >= 400 && status < 600)
        finish(pc, (unsigned)status, json_string_value(json_object_get(j, "error")) ?: "refused", res);
    else
        finish(pc, 500, "unexpected answer from the database", res);
    json_decref(j);
}

static void
hashed_cb(int rc, const char *encoded, void *data)
{
    struct passchange *pc = data;
    if (rc != ANPI_OK) {
        finish(pc, 503, MSG_HASH_FAILED, NULL);
        return;
    }
    const char *p[API_QUERY_MAX_PARAMS];
    for (int i = 0; i < pc->nparams; i++)
        p[i] = i == pc->hash_param ? encoded : pc->params[i];
    api_query(&pc->call, pc->sql, pc->nparams, p, written_cb);
}

static void
policy_cb(int rc, const char *why, void *data)
{
    struct passchange *pc = data;
    if (rc != ANPI_OK) {
        finish(pc, 400, why && *why ? why : "the password does not meet the policy", NULL);
        return;
    }
    if (anpi_password_hash_async(pc->call.e->loop, pc->password, hashed_cb, pc) != ANPI_OK)
        finish(pc, 503, MSG_HASH_FAILED, NULL);
}

/* The policy of the configuration, against the login and pc->hashes. */
static void
check_policy(struct passchange *pc)
{
    const struct anpi_config *cfg = pc->call.e->cfg;
    struct anpi_password_policy pol;
    anpi_password_policy_default(&pol);
    if (cfg->password_min_chars > 0)
        pol.min_chars = (size_t)cfg->password_min_chars;
    if (cfg->password_history >= 0)
        pol.history = (size_t)cfg->password_history;
    pol.remind_after_s = cfg->password_remind_s;
    if (anpi_password_policy_async(pc->call.e->loop, pc->password, pc->login, (const char *const *)pc->hashes,
                                   pc->nhashes, &pol, policy_cb, pc) != ANPI_OK)
        finish(pc, 503, "the password policy check could not be started", NULL);
}

/* One row per previous hash (NULL for an account without any); no row at
 * all for an unknown login. */
static void
hashes_cb(void *arg, const PGresult *res, const char *err)
{
    struct passchange *pc = arg;
    if (err) {
        anpi_error(ANPI_LG_API, "password change: database error: %s", err);
        finish(pc, 503, MSG_DB_FAILED, NULL);
        return;
    }
    int n = PQntuples(res);
    if (n == 0) {
        char *msg = anpi_xasprintf("no account \"%s\"", pc->login);
        finish(pc, 404, msg, NULL);
        free(msg);
        return;
    }
    pc->hashes = anpi_xcalloc((size_t)n, sizeof(*pc->hashes));
    for (int i = 0; i < n; i++)
        if (!PQgetisnull(res, i, 0))
            pc->hashes[pc->nhashes++] = anpi_xstrdup(PQgetvalue(res, i, 0));
    check_policy(pc);
}

static void
fetch_hashes(struct passchange *pc)
{
    if (!pc->history) {
        check_policy(pc);
        return;
    }
    char n[16];
    int hist = pc->call.e->cfg->password_history;
    snprintf(n, sizeof(n), "%d", hist > 0 ? hist : 1);
    const char *p[2] = { pc->login, n };
    anpi_db_query(pc->call.e->db,
                  "SELECT h FROM anpi_account_hashes($1, $2::int) a LEFT JOIN LATERAL unnest(a.hashes) h ON true",
                  2, p, hashes_cb, pc);
}

static void
confirmed_cb(const struct api_signin_result *r, void *arg)
{
    struct passchange *pc = arg;
    if (r->status != 0) {
        if (r->status == 429 && r->retry_after > 0) {
            char ra[24];
            snprintf(ra, sizeof(ra), "%lld", r->retry_after);
            anpi_http_set_header(pc->call.req, "Retry-After", ra);
        }
        /* 401 would read as "signed out": the caller is signed in and typed
         * the current password wrong. */
        finish(pc, r->status == 401 ? 403 : r->status,
               r->status == 401 ? "現在のパスワードが違います。 (the current password is wrong)" : r->msg, NULL);
        return;
    }
    if (r->account != pc->account) {
        finish(pc, 403, "the password belongs to another account", NULL);
        return;
    }
    fetch_hashes(pc);
}

void
api_passchange(struct anpi_engine *e, struct anpi_http_req *req, const struct api_passchange *in,
               api_passchange_cb cb, void *arg)
{
    struct passchange *pc = anpi_xcalloc(1, sizeof(*pc));
    pc->call.e = e;
    pc->call.req = req;
    pc->cb = cb;
    pc->arg = arg;
    pc->login = anpi_xstrdup(in->login);
    pc->password = anpi_xstrdup(in->password);
    pc->account = in->account;
    pc->history = in->history;
    pc->sql = anpi_xstrdup(in->sql);
    pc->hash_param = in->hash_param;
    if (in->nparams < 1 || in->nparams > API_QUERY_MAX_PARAMS || in->hash_param < 0 ||
        in->hash_param >= in->nparams) {
        anpi_error(ANPI_LG_API, "password change: %d parameters with the hash as #%d", in->nparams,
                   in->hash_param);
        finish(pc, 500, "internal error: nothing was changed", NULL);
        return;
    }
    pc->nparams = in->nparams;
    for (int i = 0; i < in->nparams; i++)
        pc->params[i] = in->params[i] && i != in->hash_param ? anpi_xstrdup(in->params[i]) : NULL;
    /* Over-long passwords cost nothing: refused before any hashing, and
     * before the re-confirmation counts a failure against the account. */
    if (anpi_password_check_length(in->password, NULL, 0) != ANPI_OK ||
        (in->current && anpi_password_check_length(in->current, NULL, 0) != ANPI_OK)) {
        finish(pc, 400, ANPI_PASSWORD_TOOLONG_MSG, NULL);
        return;
    }
    if (in->current)
        api_signin_password(e, pc->login, in->current, anpi_http_peer(req), in->via, confirmed_cb, pc);
    else
        fetch_hashes(pc);
}

void
api_passchange_own(struct anpi_engine *e, struct anpi_http_req *req, const char *current, const char *password,
                   const char *via, api_passchange_cb cb, void *arg)
{
    const struct api_who *w = api_who(req);
    if (!w || w->id <= 0) {
        struct api_passchange_result r = {
            .status = 400,
            .msg = "the configuration's api.token is not an account: it has no password to change",
        };
        cb(&r, arg);
        return;
    }
    char keep[24];
    snprintf(keep, sizeof(keep), "%lld", w->credential);
    /* $1 is the caller itself: the account whose password changes. */
    const char *p[2] = { NULL, w->via == 's' ? keep : NULL };
    struct api_passchange pc = {
        .login = w->login,
        .password = password,
        .current = current,
        .via = via,
        .account = w->id,
        .history = true,
        .sql = "SELECT anpi_account_change_password($1::bigint, $2, $3::bigint)::text",
        .nparams = 2,
        .params = p,
        .hash_param = 0,
    };
    api_passchange(e, req, &pc, cb, arg);
}
