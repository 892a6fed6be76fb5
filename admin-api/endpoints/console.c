/* console.c - the admin console: sign-in, sessions, the home page with the
 * recent broadcasts, the per-group tally of one broadcast, password change
 * and sign-out.  HTML forms, no script (admin-api/console_html.c).
 *
 *   GET  /console/login            sign-in form (open)
 *   POST /console/login            check (api_signin), start a session (open)
 *   GET  /console/                 who am I, recent broadcasts (self)
 *   GET  /console/broadcasts/{id}  per-group tally (broadcasts.read, scoped)
 *   GET  /console/password         change password form (self)
 *   POST /console/password         change it (self, csrf)
 *   POST /console/logout           end the session (self, csrf)
 *
 * Login CSRF: the sign-in form is posted before there is a session, so it
 * is bound to a short-lived pre-session cookie (anpi_login, random) whose
 * HMAC under the configuration's API token travels in the hidden field
 * login_csrf.  A forged cross-site post has neither (SameSite=Strict keeps
 * the cookie home), and a planted cookie is useless without the key.
 *
 * Sessions: the cookie value is a fresh token of the API token format;
 * only its SHA-256 is stored, beside the session's CSRF token, which every
 * later state-changing form carries (checked by the gate, gate.c).  Idle
 * and absolute timeouts and disabled accounts are enforced where the
 * session is looked up (anpi_principal, schema 0014). */
#include "admin-api/endpoints/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "admin-api/body.h"
#include "admin-api/console_html.h"
#include "admin-api/endpoints/passchange.h"
#include "admin-api/endpoints/signin.h"
#include "engine/auth/apitoken.h"
#include "engine/auth/password.h"
#include "engine/log.h"

#define LOGIN_COOKIE "anpi_login"
/* Long enough to type a password and a TOTP code, short enough that a
 * form left open on a shared PC goes stale. */
#define LOGIN_COOKIE_MAX_AGE 900

/* login_csrf = HMAC-SHA256(api.token, "anpi-console-login:" cookie), hex. */
static void
login_mac(const struct anpi_engine *e, const char *cookie, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "anpi-console-login:%s", cookie);
    const char *key = e->cfg->api_token ? e->cfg->api_token : "";
    out[0] = '\0';
    if (n < 0 || (size_t)n >= sizeof(msg) ||
        !HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, (size_t)n, md, &mdlen))
        return;
    for (unsigned i = 0; i < 32 && i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
nav_of(const struct anpi_http_req *req, struct anpi_console_nav *nav)
{
    const struct api_who *w = api_who(req);
    nav->login = w ? w->login : "";
    nav->role = w ? api_role_name(w->role) : "";
    nav->csrf = w ? w->csrf : "";
}

static void
respond_message(struct anpi_http_req *req, unsigned status, const char *title, const char *text)
{
    struct anpi_console_nav nav;
    nav_of(req, &nav);
    anpi_console_respond(req, status, anpi_console_message_page(&nav, title, text, "/console/", "ホームへ"));
}

/* --- sign-in --------------------------------------------------------------- */

/* Show the sign-in form.  The pre-session cookie is kept when the browser
 * still has a well-formed one (a second tab keeps working), else a new one
 * is set.  cookie_in may be NULL. */
static void
login_form(struct anpi_http_req *req, struct anpi_engine *e, unsigned status, const char *cookie_in,
           const char *login, const char *error, const char *notice)
{
    char tok[ANPI_APITOKEN_LEN + 1], hash[ANPI_APITOKEN_HASH_HEX + 1], mac[65];
    if (cookie_in && anpi_apitoken_hash(cookie_in, hash) == ANPI_OK) {
        snprintf(tok, sizeof(tok), "%s", cookie_in);
    } else if (anpi_apitoken_new(tok, hash) != ANPI_OK) {
        anpi_console_respond(req, 503, anpi_console_message_page(NULL, "一時的に利用できません",
                                                                 "no randomness for the sign-in form; try again",
                                                                 NULL, NULL));
        return;
    }
    anpi_http_set_cookie(req, LOGIN_COOKIE, tok, LOGIN_COOKIE_MAX_AGE);
    login_mac(e, tok, mac);
    struct anpi_console_login_page p = { .login = login, .login_csrf = mac, .error = error, .notice = notice };
    anpi_console_respond(req, status, anpi_console_login_page(&p));
}

static void
h_login_get(struct anpi_http_req *req, void *ctx)
{
    char cookie[ANPI_APITOKEN_LEN + 8];
    bool have = anpi_cookie_find(anpi_http_header(req, "Cookie"), LOGIN_COOKIE, cookie, sizeof(cookie)) == ANPI_OK;
    const char *bye = anpi_http_query(req, "bye");
    login_form(req, ctx, 200, have ? cookie : NULL, NULL, NULL,
               bye ? "サインアウトしました。 (signed out)" : NULL);
}

struct login_call {
    struct anpi_engine *e;
    struct anpi_http_req *req;
    char cookie[ANPI_APITOKEN_LEN + 8];   /* the pre-session cookie, to show the form again */
    char login[72];
    char token[ANPI_APITOKEN_LEN + 1];    /* the new session cookie */
    bool must_change;
};

static void
session_cb(void *arg, const PGresult *res, const char *err)
{
    struct login_call *lc = arg;
    struct anpi_http_req *req = lc->req;
    if (err || PQntuples(res) != 1) {
        anpi_error(ANPI_LG_API, "console: cannot store a session: %s", err ? err : "no row");
        login_form(req, lc->e, 503, lc->cookie, lc->login,
                   "サインインを完了できませんでした。しばらくしてからもう一度お試しください。 "
                   "(the session could not be stored: try again)", NULL);
        free(lc);
        return;
    }
    anpi_http_set_cookie(req, API_SESSION_COOKIE, lc->token, (long long)lc->e->cfg->session_max_s);
    anpi_console_redirect(req, lc->must_change ? "/console/password" : "/console/");
    free(lc);
}

static void
signed_in(const struct api_signin_result *r, void *arg)
{
    struct login_call *lc = arg;
    struct anpi_http_req *req = lc->req;
    if (anpi_http_req_gone(req)) {
        anpi_http_respond_error(req, 503, "gone");
        free(lc);
        return;
    }
    if (r->status != 0) {
        if (r->status == 429 && r->retry_after > 0) {
            char ra[24];
            snprintf(ra, sizeof(ra), "%lld", r->retry_after);
            anpi_http_set_header(req, "Retry-After", ra);
        }
        login_form(req, lc->e, r->status, lc->cookie, lc->login, r->msg[0] ? r->msg : "サインインできません", NULL);
        free(lc);
        return;
    }
    char hash[ANPI_APITOKEN_HASH_HEX + 1], csrf[ANPI_APITOKEN_LEN + 1], unused[ANPI_APITOKEN_HASH_HEX + 1];
    if (anpi_apitoken_new(lc->token, hash) != ANPI_OK || anpi_apitoken_new(csrf, unused) != ANPI_OK) {
        login_form(req, lc->e, 503, lc->cookie, lc->login, "no randomness for a session; try again", NULL);
        free(lc);
        return;
    }
    lc->must_change = r->must_change;
    char acc[24];
    snprintf(acc, sizeof(acc), "%lld", r->account);
    const char *p[4] = { acc, hash, csrf, anpi_http_peer(req) };
    anpi_db_query(lc->e->db,
                  "INSERT INTO sessions (account_id, hash, csrf, peer) VALUES ($1::bigint, $2, $3, $4) RETURNING id",
                  4, p, session_cb, lc);
}

static void
h_login_post(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_form form = { 0 };
    char err[256];
    char cookie[ANPI_APITOKEN_LEN + 8];
    bool have = anpi_cookie_find(anpi_http_header(req, "Cookie"), LOGIN_COOKIE, cookie, sizeof(cookie)) == ANPI_OK;
    if (anpi_form_parse(body ? body : "", len, &form, err, sizeof(err)) != ANPI_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "送信内容を読めませんでした (unreadable form: %s)", err);
        login_form(req, e, 400, have ? cookie : NULL, NULL, msg, NULL);
        return;
    }
    /* Double submit, bound by HMAC: the field must be the MAC of the cookie. */
    const char *field = anpi_form_get(&form, "login_csrf");
    char mac[65] = "";
    if (have)
        login_mac(e, cookie, mac);
    if (!have || !field || strlen(field) != 64 || strlen(mac) != 64 || CRYPTO_memcmp(field, mac, 64) != 0) {
        anpi_form_free(&form);
        /* A new pre-session cookie and form: the user can simply retry. */
        login_form(req, e, 403, NULL, NULL,
                   "このサインインフォームは使えません（期限切れか、別のサイトから送信されました）。"
                   "もう一度サインインしてください。 (login CSRF check failed: the form expired or was "
                   "posted from another site; sign in again)",
                   NULL);
        return;
    }
    const char *login = anpi_form_get(&form, "login");
    const char *password = anpi_form_get(&form, "password");
    const char *totp = anpi_form_get(&form, "totp");
    if (!login || !*login || !password || !*password) {
        login_form(req, e, 400, cookie, login && strlen(login) < 72 ? login : NULL,
                   "ログイン名とパスワードを入力してください。 (login and password are required)", NULL);
        anpi_form_free(&form);
        return;
    }
    struct login_call *lc = anpi_xcalloc(1, sizeof(*lc));
    lc->e = e;
    lc->req = req;
    snprintf(lc->cookie, sizeof(lc->cookie), "%s", cookie);
    /* Refill only a login that could be one (the form caps it at 64). */
    if (strlen(login) < sizeof(lc->login))
        snprintf(lc->login, sizeof(lc->login), "%s", login);
    api_signin(e, login, password, totp ? totp : "", anpi_http_peer(req), "console", signed_in, lc);
    anpi_form_free(&form);
}

/* --- sign-out -------------------------------------------------------------- */

static void
logout_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    (void)res;
    if (err) {
        respond_message(c->req, 503, "サインアウトできませんでした", "database error: the session was not ended; try again");
        api_call_free(c);
        return;
    }
    anpi_http_set_cookie(c->req, API_SESSION_COOKIE, "gone", 0);
    anpi_console_redirect(c->req, "/console/login?bye=1");
    api_call_free(c);
}

static void
h_logout(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const struct api_who *w = api_who(req);
    if (!w || w->via != 's') {
        respond_message(req, 400, "サインアウト", "this request carries no console session to end");
        return;
    }
    char id[24];
    snprintf(id, sizeof(id), "%lld", w->credential);
    const char *p[3] = { id, w->login, anpi_http_peer(req) };
    anpi_db_query(e->db,
                  "WITH s AS (UPDATE sessions SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL"
                  "           RETURNING id)"
                  " SELECT anpi_audit($2, 'auth.signout', 'account:' || $2,"
                  "        jsonb_build_object('via', 'console', 'peer', $3::text, 'session', s.id)) FROM s",
                  3, p, logout_cb, api_call_new(e, req));
}

/* --- home ------------------------------------------------------------------ */

static bool
must_change_first(struct anpi_http_req *req)
{
    const struct api_who *w = api_who(req);
    if (w && w->via == 's' && w->must_change) {
        anpi_console_redirect(req, "/console/password");
        return true;
    }
    return false;
}

static json_t *
json_cell(const PGresult *res, int col)
{
    if (PQntuples(res) != 1 || PQnfields(res) <= col || PQgetisnull(res, 0, col))
        return NULL;
    return json_loads(PQgetvalue(res, 0, col), 0, NULL);
}

static void
home_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        respond_message(c->req, 503, "一時的に利用できません", err);
        api_call_free(c);
        return;
    }
    json_t *history = json_cell(res, 0);
    bool remind = PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't';
    struct anpi_console_nav nav;
    nav_of(c->req, &nav);
    const char *notice = anpi_http_query(c->req, "changed") ? "パスワードを変更しました。 (password changed)" : NULL;
    anpi_console_respond(c->req, 200, anpi_console_home_page(&nav, history, remind, notice));
    json_decref(history);
    api_call_free(c);
}

#define HOME_BROADCASTS "20"

static void
h_home(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    if (must_change_first(req))
        return;
    char remind[24];
    snprintf(remind, sizeof(remind), "%lld", (long long)e->cfg->password_remind_s);
    const char *p[2] = { HOME_BROADCASTS, remind };
    api_query(api_call_new(e, req),
              "SELECT anpi_broadcasts_json($1::bigint, NULL::boolean, NULL::text, $2::int, 0)::text,"
              " EXISTS (SELECT 1 FROM accounts a WHERE a.id = $1::bigint AND $3::bigint > 0"
              "         AND a.password_changed_at < now() - make_interval(secs => $3::bigint))",
              2, p, home_cb);
}

/* --- one broadcast's tally ------------------------------------------------- */

static void
tally_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        respond_message(c->req, 503, "一時的に利用できません", err);
        api_call_free(c);
        return;
    }
    json_t *b = json_cell(res, 0), *g = json_cell(res, 1);
    if (!b || !g) {
        /* Outside the caller's scope looks exactly like no broadcast. */
        char msg[96];
        snprintf(msg, sizeof(msg), "配信 %lld はありません。 (no broadcast %lld)", c->id, c->id);
        respond_message(c->req, 404, "見つかりません", msg);
    } else {
        struct anpi_console_nav nav;
        nav_of(c->req, &nav);
        anpi_console_respond(c->req, 200, anpi_console_tally_page(&nav, b, g));
    }
    json_decref(b);
    json_decref(g);
    api_call_free(c);
}

static void
h_tally(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    if (must_change_first(req))
        return;
    long long id = api_id(anpi_http_param(req, "id"));
    if (id <= 0) {
        respond_message(req, 404, "見つかりません", "配信番号が正しくありません。 (malformed broadcast id)");
        return;
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[1] = { ids };
    api_query(c,
              "SELECT anpi_broadcast_json($1::bigint, $2::bigint)::text,"
              " anpi_broadcast_groups_json($1::bigint, $2::bigint)::text",
              1, p, tally_cb);
}

/* --- password change ------------------------------------------------------ */

/* The same chain as POST /api/v1/account/password (passchange.h): the
 * current password re-confirmed through the throttled, audited sign-in
 * check, the policy against the login and the last N hashes, argon2id on
 * the thread pool, and one write (anpi_account_change_password, schema
 * 0020) that ends the account's other sessions and audits the change. */

static void
pw_form(struct anpi_http_req *req, unsigned status, bool forced, const char *error)
{
    struct anpi_console_nav nav;
    nav_of(req, &nav);
    struct anpi_console_password_page p = { .csrf = nav.csrf, .error = error, .forced = forced };
    anpi_console_respond(req, status, anpi_console_password_page(&nav, &p));
}

static void
pw_done(const struct api_passchange_result *r, void *arg)
{
    struct anpi_http_req *req = arg;
    const struct api_who *w = api_who(req);
    if (r->status == 200)
        anpi_console_redirect(req, "/console/?changed=1");
    else
        pw_form(req, r->status, w && w->must_change, r->msg);
}

static void
h_password_get(struct anpi_http_req *req, void *ctx)
{
    (void)ctx;
    const struct api_who *w = api_who(req);
    pw_form(req, 200, w && w->must_change, NULL);
}

static void
h_password_post(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const struct api_who *w = api_who(req);
    bool forced = w && w->must_change;
    if (!w || w->id == 0) {
        respond_message(req, 400, "パスワード変更",
                        "the configuration's api.token is not an account: it has no password to change");
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_form form = { 0 };
    char err[256];
    if (anpi_form_parse(body ? body : "", len, &form, err, sizeof(err)) != ANPI_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "送信内容を読めませんでした (unreadable form: %s)", err);
        pw_form(req, 400, forced, msg);
        return;
    }
    const char *cur = anpi_form_get(&form, "current"), *next = anpi_form_get(&form, "new"),
               *again = anpi_form_get(&form, "repeat");
    if (!cur || !*cur || !next || !*next || !again) {
        pw_form(req, 400, forced,
                "現在のパスワードと新しいパスワード（2回）を入力してください。 (current, new and repeat are required)");
    } else if (anpi_password_check_length(cur, err, sizeof(err)) != ANPI_OK ||
               anpi_password_check_length(next, err, sizeof(err)) != ANPI_OK) {
        pw_form(req, 400, forced, ANPI_PASSWORD_TOOLONG_MSG);
    } else if (strcmp(next, again) != 0) {
        pw_form(req, 400, forced, "新しいパスワードが2回とも同じではありません。 (the new passwords differ)");
    } else {
        api_passchange_own(e, req, cur, next, "console-password", pw_done, req);
    }
    /* The form holds passwords: wipe them before freeing. */
    for (size_t i = 0; i < form.n; i++)
        if (form.f[i].value)
            OPENSSL_cleanse(form.f[i].value, strlen(form.f[i].value));
    anpi_form_free(&form);
}

/* --- routes ---------------------------------------------------------------- */

static void
h_console_root(struct anpi_http_req *req, void *ctx)
{
    (void)ctx;
    anpi_console_redirect(req, "/console/");
}

int
anpi_api_console_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = 0;
    rc |= api_route(e, s, "GET", "/console", API_OPEN, h_console_root);
    rc |= api_route(e, s, "GET", "/console/login", API_OPEN, h_login_get);
    rc |= api_route(e, s, "POST", "/console/login", API_OPEN, h_login_post);
    rc |= api_route(e, s, "GET", "/console/", API_SELF, h_home);
    rc |= api_route(e, s, "GET", "/console/broadcasts/{id}", API_BROADCASTS_READ, h_tally);
    rc |= api_route(e, s, "GET", "/console/password", API_SELF, h_password_get);
    rc |= api_route(e, s, "POST", "/console/password", API_SELF, h_password_post);
    rc |= api_route(e, s, "POST", "/console/logout", API_SELF, h_logout);
    return rc ? ANPI_ERROR : ANPI_OK;
}
