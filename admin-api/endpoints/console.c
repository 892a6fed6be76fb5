/* console.c - the admin console: sign-in, sessions, the home page with the
 * recent broadcasts, composing a broadcast, one broadcast's tally with its
 * people (resend to the unanswered, write back to a person), password
 * change and sign-out.  HTML forms, no script (admin-api/console_html.c).
 *
 *   GET  /console/login            sign-in form (open)
 *   POST /console/login            check (api_signin), start a session (open)
 *   GET  /console/                 who am I, recent broadcasts (self)
 *   GET  /console/broadcasts/{id}  per-group tally, the people answered and
 *                                  not (broadcasts.read, scoped)
 *   POST /console/broadcasts/{id}/resend  resend to the unanswered
 *                                  (broadcasts.send, scoped, csrf)
 *   POST /console/broadcasts/{id}/people/{person_id}/message
 *                                  write back to a person (broadcasts.send,
 *                                  scoped, csrf)
 *   GET  /console/compose          compose a broadcast (broadcasts.send)
 *   POST /console/compose          action=preview | send (csrf); the checks
 *                                  and SQL of POST /api/v1/broadcasts
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
#include "admin-api/console_form.h"
#include "admin-api/console_html.h"
#include "admin-api/endpoints/broadcasts.h"
#include "admin-api/endpoints/passchange.h"
#include "admin-api/endpoints/signin.h"
#include "admin-api/endpoints/tallycache.h"
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
    nav->may_send = w && api_role_may(w->role, API_BROADCAST_SEND);
    nav->refresh_s = 0;
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

/* The home page is an API_SELF route, which the gate lets through with an
 * initial password still to change (so that the change form can be
 * reached): send such a session to the form.  The other pages never get
 * here in that state: the gate redirects or refuses them. */
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

/* --- one broadcast: tally, people, resend and write-back ------------------- */

/* Rows per list (unanswered, answered) on a broadcast's page: at 11,500
 * recipients the page must stay small enough for a phone. */
#define CONSOLE_PEOPLE_ROWS "100"
/* ?live=1: the tally page reloads itself this often (seconds). */
#define CONSOLE_LIVE_REFRESH_S 30

/* A tally page on its way: the per-group count comes from the tally cache
 * (tallycache.c: one whole-tree count per broadcast per second, shared with
 * the API), the broadcast and its people from SQL. */
struct tally_call {
    struct api_call c;            /* first: api_query's callbacks get it */
    json_t *groups;               /* from the cache; NULL: SQL's column 1 */
    char uoff[24], aoff[24];
};

static void
tally_call_free(struct tally_call *tc)
{
    json_decref(tc->groups);
    api_call_free(&tc->c);   /* frees tc: c is its first member */
}

static void
tally_cb(void *arg, const PGresult *res, const char *err)
{
    struct tally_call *tc = arg;
    struct api_call *c = &tc->c;
    if (err) {
        respond_message(c->req, 503, "一時的に利用できません", err);
        tally_call_free(tc);
        return;
    }
    /* columns: the broadcast, its people, and (SQL path only) the groups */
    json_t *b = json_cell(res, 0), *people = json_cell(res, 1);
    json_t *g = tc->groups ? json_incref(tc->groups) : json_cell(res, 2);
    if (!b || !g) {
        /* Outside the caller's scope looks exactly like no broadcast. */
        char msg[96];
        snprintf(msg, sizeof(msg), "配信 %lld はありません。 (no broadcast %lld)", c->id, c->id);
        respond_message(c->req, 404, "見つかりません", msg);
    } else {
        struct anpi_console_nav nav;
        nav_of(c->req, &nav);
        const char *live = anpi_http_query(c->req, "live");
        if (live && strcmp(live, "1") == 0)
            nav.refresh_s = CONSOLE_LIVE_REFRESH_S;
        anpi_console_respond(c->req, 200, anpi_console_tally_page(&nav, b, g, people, c->notice));
    }
    json_decref(b);
    json_decref(g);
    json_decref(people);
    tally_call_free(tc);
}

/* The broadcast and its people; with_groups: the per-group count too (the
 * callers the tally cache does not serve). */
static void
tally_query(struct tally_call *tc, bool with_groups)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", tc->c.id);
    const char *p[4] = { ids, CONSOLE_PEOPLE_ROWS, tc->uoff, tc->aoff };
    api_query(&tc->c,
              with_groups ? "SELECT anpi_broadcast_json($1::bigint, $2::bigint)::text,"
                            " anpi_console_people_json($1::bigint, $2::bigint, $3::int, $4::int, $5::int)::text,"
                            " anpi_broadcast_groups_json($1::bigint, $2::bigint)::text"
                          : "SELECT anpi_broadcast_json($1::bigint, $2::bigint)::text,"
                            " anpi_console_people_json($1::bigint, $2::bigint, $3::int, $4::int, $5::int)::text",
              4, p, tally_cb);
}

static void
tally_counted(void *arg, unsigned status, const char *text, size_t len)
{
    struct tally_call *tc = arg;
    if (anpi_http_req_gone(tc->c.req)) {
        anpi_http_respond_error(tc->c.req, 503, "gone");
        tally_call_free(tc);
        return;
    }
    if (status == 404) {
        char msg[96];
        snprintf(msg, sizeof(msg), "配信 %lld はありません。 (no broadcast %lld)", tc->c.id, tc->c.id);
        respond_message(tc->c.req, 404, "見つかりません", msg);
        tally_call_free(tc);
        return;
    }
    if (status != 200 || !(tc->groups = json_loadb(text, len, 0, NULL))) {
        respond_message(tc->c.req, 503, "一時的に利用できません", status == 200 ? "unexpected tally" : text);
        tally_call_free(tc);
        return;
    }
    tally_query(tc, false);
}

/* A list offset from the query: a row number up to CONSOLE_MAX_OFFSET,
 * else 0. */
#define CONSOLE_MAX_OFFSET 10000000
static long long
list_offset(const struct anpi_http_req *req, const char *name)
{
    const char *v = anpi_http_query(req, name);
    int64_t n = 0;
    if (!v || anpi_parse_int64(v, 0, CONSOLE_MAX_OFFSET, &n) != ANPI_OK)
        return 0;
    return (long long)n;
}

static void
h_tally(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    if (id <= 0) {
        respond_message(req, 404, "見つかりません", "配信番号が正しくありません。 (malformed broadcast id)");
        return;
    }
    struct tally_call *tc = anpi_xcalloc(1, sizeof(*tc));
    tc->c.e = e;
    tc->c.req = req;
    tc->c.id = id;
    /* The confirmations after a resend or a write-back (303 here): fixed
     * texts, only a number taken from the query. */
    long long resent = api_id(anpi_http_query(req, "resent"));
    if (resent > 0)
        tc->c.notice = anpi_xasprintf("未回答の %lld 人に再送しました。 (resent)", resent);
    else if (anpi_http_query(req, "written"))
        tc->c.notice = anpi_xstrdup("メッセージを送りました。本人にメールで届き、回答ページにも表示されます。 (sent)");
    /* Where each list of people starts (?u= unanswered, ?a= answered):
     * anything that is not a row number is the first page. */
    snprintf(tc->uoff, sizeof(tc->uoff), "%lld", list_offset(req, "u"));
    snprintf(tc->aoff, sizeof(tc->aoff), "%lld", list_offset(req, "a"));
    if (!anpi_tally_fetch(e, api_who(req), id, tally_counted, tc))
        tally_query(tc, true);
}

static void
back_to(struct anpi_http_req *req, unsigned status, const char *title, const char *text, long long bid)
{
    struct anpi_console_nav nav;
    nav_of(req, &nav);
    char href[64];
    snprintf(href, sizeof(href), "/console/broadcasts/%lld", bid);
    anpi_console_respond(req, status, anpi_console_message_page(&nav, title, text, href, "配信に戻る"));
}

static void
resent_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    json_t *j = err ? NULL : json_cell(res, 0);
    const char *result = json_string_value(json_object_get(j, "result"));
    char msg[256];
    if (err) {
        snprintf(msg, sizeof(msg), "データベースのエラーで再送できませんでした。 (database error; nothing was sent: %s)",
                 err);
        back_to(c->req, 503, "再送できません", msg, c->id);
    } else if (result && strcmp(result, "resent") == 0) {
        anpi_dispatch_kick(c->e);
        char loc[96];
        snprintf(loc, sizeof(loc), "/console/broadcasts/%lld?resent=%lld", c->id,
                 (long long)json_integer_value(json_object_get(j, "recipients")));
        anpi_console_redirect(c->req, loc);
    } else if (!result || strcmp(result, "not_found") == 0) {
        snprintf(msg, sizeof(msg), "配信 %lld はありません。 (no broadcast %lld)", c->id, c->id);
        respond_message(c->req, 404, "見つかりません", msg);
    } else {
        const char *why = strcmp(result, "nobody") == 0 ? "全員が回答済みです。 (everybody has answered)"
                        : strcmp(result, "not_safety") == 0 ? "安否確認ではない配信は再送できません。 (not a safety check)"
                        : strcmp(result, "expired") == 0 ? "この配信は期限切れです。 (the broadcast has expired)"
                        : strcmp(result, "no_address") == 0
                            ? "未回答の人に使えるメールアドレスがありません。 (no usable address)"
                            : "予期しない応答です。 (unexpected answer from the database)";
        back_to(c->req, strcmp(result, "nobody") == 0 || strcmp(result, "not_safety") == 0 ||
                                strcmp(result, "expired") == 0 || strcmp(result, "no_address") == 0 ? 409 : 500,
                "再送できません", why, c->id);
    }
    json_decref(j);
    api_call_free(c);
}

/* POST /console/broadcasts/{id}/resend: anpi_broadcast_resend, the call
 * behind POST /api/v1/broadcasts/{id}/resend, reaching only the unanswered
 * people the account may reach. */
static void
h_resend(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    if (id <= 0) {
        respond_message(req, 404, "見つかりません", "配信番号が正しくありません。 (malformed broadcast id)");
        return;
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { ids, api_actor(req) };
    api_query(c, "SELECT anpi_broadcast_resend($1::bigint, $2::bigint, $3, NULL)::text", 2, p, resent_cb);
}

/* A write-back in two steps like the API's: find the recipient in scope,
 * then store and mail (api_write_back_store, broadcasts.h).  The call comes
 * first so api_query() can carry it. */
struct wb_form {
    struct api_call c;
    char *text;
};

static void
wb_form_free(struct wb_form *w)
{
    free(w->text);
    api_call_free(&w->c);   /* frees w: c is its first member */
}

static void
wb_stored_cb(void *arg, const PGresult *res, const char *err)
{
    struct wb_form *w = arg;
    json_t *j = err ? NULL : json_cell(res, 0);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (err) {
        char msg[256];
        snprintf(msg, sizeof(msg), "データベースのエラーで送れませんでした。 (database error; not sent: %s)", err);
        back_to(w->c.req, 503, "送れませんでした", msg, w->c.id);
    } else if (result && strcmp(result, "stored") == 0) {
        anpi_dispatch_kick(w->c.e);
        char loc[64];
        snprintf(loc, sizeof(loc), "/console/broadcasts/%lld?written=1", w->c.id);
        anpi_console_redirect(w->c.req, loc);
    } else {
        back_to(w->c.req, 404, "見つかりません", "この配信の宛先にその人はいません。 (no such recipient)", w->c.id);
    }
    json_decref(j);
    wb_form_free(w);
}

static void
wb_found_cb(void *arg, const PGresult *res, const char *err)
{
    struct wb_form *w = arg;
    json_t *j = err ? NULL : json_cell(res, 0);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (err) {
        char msg[256];
        snprintf(msg, sizeof(msg), "データベースのエラーで送れませんでした。 (database error: %s)", err);
        back_to(w->c.req, 503, "送れませんでした", msg, w->c.id);
    } else if (result && strcmp(result, "found") == 0) {
        long long rid = (long long)json_integer_value(json_object_get(j, "recipient_id"));
        json_decref(j);
        api_write_back_store(&w->c, rid, w->text, NULL, wb_stored_cb);
        return;
    } else if (result && strcmp(result, "not_safety") == 0) {
        back_to(w->c.req, 409, "送れません",
                "安否確認ではない配信には、回答についてのメッセージは送れません。 (not a safety check)", w->c.id);
    } else {
        back_to(w->c.req, 404, "見つかりません", "この配信の宛先にその人はいません。 (no such recipient)", w->c.id);
    }
    json_decref(j);
    wb_form_free(w);
}

/* A copy of s with CR LF (and lone CR) as LF: browsers send a textarea's
 * lines with CR LF, mail bodies are built with LF. */
static char *
lf_only(const char *s)
{
    char *out = anpi_xstrdup(s), *o = out;
    for (const char *p = s; *p; p++) {
        if (*p == '\r') {
            *o++ = '\n';
            if (p[1] == '\n')
                p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* POST /console/broadcasts/{id}/people/{person_id}/message (text, csrf). */
static void
h_write_back(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    const char *person = anpi_http_param(req, "person_id");
    if (id <= 0 || !person || !*person || strlen(person) > 64) {
        respond_message(req, 404, "見つかりません", "配信番号か個人 ID が正しくありません。 (malformed id)");
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_form form = { 0 };
    char err[256];
    if (anpi_form_parse(body ? body : "", len, &form, err, sizeof(err)) != ANPI_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "送信内容を読めませんでした (unreadable form: %s)", err);
        back_to(req, 400, "送れませんでした", msg, id);
        return;
    }
    const char *text = anpi_form_get(&form, "text");
    char *clean = text ? lf_only(text) : NULL;
    if (!clean || !*clean || strspn(clean, " \t\n") == strlen(clean) || strlen(clean) > API_WRITE_BACK_MAX) {
        char msg[200];
        snprintf(msg, sizeof(msg), "メッセージを %d バイト以内で入力してください。 (\"text\" must be a non-empty text of "
                 "at most %d bytes)", API_WRITE_BACK_MAX, API_WRITE_BACK_MAX);
        back_to(req, 400, "送れませんでした", msg, id);
        free(clean);
        anpi_form_free(&form);
        return;
    }
    anpi_form_free(&form);
    struct wb_form *w = anpi_xcalloc(1, sizeof(*w));
    w->c.e = e;
    w->c.req = req;
    w->c.id = id;
    w->text = clean;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { ids, person };
    api_query(&w->c, "SELECT anpi_write_back_target($1::bigint, $2::bigint, $3)::text", 2, p, wb_found_cb);
}

/* --- composing a broadcast ------------------------------------------------- */

/* Groups on the form: a system admin sees the whole tree (1,200 groups at
 * a ministry); past this the list is cut with a note. */
#define COMPOSE_GROUPS_MAX 3000
#define COMPOSE_DEPTH_MAX  64

/* A compose request on its way: the form as posted (the page shows it
 * again after an error or a preview), then the groups it may pick. */
struct compose_call {
    struct api_call c;            /* first: api_query's callbacks get it */
    struct anpi_form form;
    struct anpi_console_compose page;
    long long *checked;
    char *body;                   /* the body with LF line ends */
    char error[700];
    json_t *preview;              /* anpi_audience_preview's answer */
    unsigned status;
};

static void
compose_free(struct compose_call *cc)
{
    anpi_form_free(&cc->form);
    free(cc->checked);
    free(cc->body);
    json_decref(cc->preview);
    api_call_free(&cc->c);   /* frees cc: c is its first member */
}

/* Rows of anpi_dir_group_rows (id, parent_row, name, path, ...) in tree
 * order: each group followed by its subtree, siblings in row order. */
struct tree {
    const PGresult *res;
    int n;
    int *first, *next;            /* children lists by row */
    struct anpi_console_group *out;
    size_t nout, max;
    bool *seen;
};

static void
tree_walk(struct tree *t, int r, int depth)
{
    for (; r >= 0; r = t->next[r]) {
        if (t->seen[r])
            continue;
        t->seen[r] = true;
        if (t->nout < t->max) {
            struct anpi_console_group *g = &t->out[t->nout++];
            int64_t id = 0;
            g->id = anpi_parse_int64(PQgetvalue(t->res, r, 0), 1, INT64_MAX, &id) == ANPI_OK ? (long long)id : 0;
            g->name = PQgetvalue(t->res, r, 2);
            g->path = PQgetvalue(t->res, r, 3);
            g->depth = depth;
        }
        if (depth < COMPOSE_DEPTH_MAX)
            tree_walk(t, t->first[r], depth + 1);
    }
}

static void
compose_render(struct compose_call *cc, const PGresult *groups)
{
    struct anpi_console_nav nav;
    nav_of(cc->c.req, &nav);
    struct tree t = { 0 };
    int n = groups ? PQntuples(groups) : 0;
    if (n > 0 && PQnfields(groups) >= 4) {
        t.res = groups;
        t.n = n;
        t.first = anpi_xmalloc((size_t)n * sizeof(int));
        t.next = anpi_xmalloc((size_t)n * sizeof(int));
        t.seen = anpi_xcalloc((size_t)n, sizeof(bool));
        int *last = anpi_xmalloc((size_t)n * sizeof(int));
        int root = -1, root_last = -1;
        for (int r = 0; r < n; r++)
            t.first[r] = t.next[r] = last[r] = -1;
        for (int r = 0; r < n; r++) {
            int64_t pr = -1;
            if (!PQgetisnull(groups, r, 1) && anpi_parse_int64(PQgetvalue(groups, r, 1), 0, n - 1, &pr) != ANPI_OK)
                pr = -1;
            if (pr == r)
                pr = -1;
            int *head = pr >= 0 ? &t.first[pr] : &root, *tail = pr >= 0 ? &last[pr] : &root_last;
            if (*tail < 0)
                *head = r;
            else
                t.next[*tail] = r;
            *tail = r;
        }
        t.max = n < COMPOSE_GROUPS_MAX ? (size_t)n : COMPOSE_GROUPS_MAX;
        t.out = anpi_xcalloc(t.max, sizeof(*t.out));
        tree_walk(&t, root, 0);
        free(last);
    }
    cc->page.csrf = nav.csrf;
    cc->page.groups = t.out;
    cc->page.n_groups = t.nout;
    cc->page.groups_total = (size_t)n;
    cc->page.error = cc->error[0] ? cc->error : NULL;
    anpi_console_respond(cc->c.req, cc->status, anpi_console_compose_page(&nav, &cc->page));
    free(t.out);
    free(t.first);
    free(t.next);
    free(t.seen);
}

static void
groups_cb(void *arg, const PGresult *res, const char *err)
{
    struct compose_call *cc = arg;
    if (err) {
        respond_message(cc->c.req, 503, "一時的に利用できません", err);
    } else {
        compose_render(cc, res);
    }
    compose_free(cc);
}

/* Show the form (again): the groups the caller sees, then the page. */
static void
compose_show(struct compose_call *cc, unsigned status)
{
    cc->status = status;
    api_query(&cc->c, "SELECT id, parent_row, name, path FROM anpi_dir_group_rows($1::bigint)", 0, NULL, groups_cb);
}

static struct compose_call *
compose_new(struct anpi_engine *e, struct anpi_http_req *req)
{
    struct compose_call *cc = anpi_xcalloc(1, sizeof(*cc));
    cc->c.e = e;
    cc->c.req = req;
    return cc;
}

static void
h_compose_get(struct anpi_http_req *req, void *ctx)
{
    struct compose_call *cc = compose_new(ctx, req);
    /* The usual safety question, ready to send or to change. */
    cc->page.q_text[0] = "ご自身の状況を教えてください";
    cc->page.q_choices[0] = "無事\n軽いけが\n重いけが\n出勤できない";
    cc->page.subgroups = true;
    compose_show(cc, 200);
}

static bool
blank(const char *s)
{
    return !s || strspn(s, " \t\r\n") == strlen(s);
}

/* The form as a compose request in the API's JSON shape, so that
 * api_broadcast_compose() checks it exactly as it checks the API's. */
static json_t *
compose_json(struct compose_call *cc)
{
    const struct anpi_form *f = &cc->form;
    struct anpi_console_compose *pg = &cc->page;
    json_t *j = json_object();
    if (pg->subject && *pg->subject)
        json_object_set_new(j, "subject", json_string(pg->subject));
    if (cc->body && *cc->body)
        json_object_set_new(j, "body", json_string(cc->body));
    json_t *qs = json_array();
    for (int i = 0; i < ANPI_CONSOLE_QUESTIONS; i++) {
        if (blank(pg->q_text[i]) && blank(pg->q_choices[i]))
            continue;
        char id[8];
        snprintf(id, sizeof(id), "q%d", i + 1);
        json_array_append_new(qs, json_pack("{s:s, s:s, s:o}", "id", id, "text", pg->q_text[i] ? pg->q_text[i] : "",
                                            "choices", anpi_console_choice_lines(pg->q_choices[i])));
    }
    if (json_array_size(qs))
        json_object_set_new(j, "questions", qs);
    else
        json_decref(qs);
    json_t *groups = json_array();
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, "group") == 0 && f->f[i].value)
            json_array_append_new(groups, json_string(f->f[i].value));
    json_t *a = json_pack("{s:o, s:o, s:o, s:b, s:s}", "people", anpi_console_split_list(pg->people), "groups", groups,
                          "regions", anpi_console_split_list(pg->regions), "subgroups", pg->subgroups, "match",
                          pg->match_all ? "all" : "any");
    json_object_set_new(j, "audience", a);
    json_object_set_new(j, "drill", json_boolean(pg->drill));
    return j;
}

static void
composed_cb(void *arg, const PGresult *res, const char *err)
{
    struct compose_call *cc = arg;
    if (err) {
        snprintf(cc->error, sizeof(cc->error), "データベースのエラーです。何も送っていません。 (database error; "
                 "nothing was sent: %s)", err);
        compose_show(cc, 503);
        return;
    }
    json_t *j = json_cell(res, 0);
    const char *result = json_string_value(json_object_get(j, "result"));
    unsigned status = 400;
    if (result && strcmp(result, "created") == 0) {
        anpi_dispatch_kick(cc->c.e);
        char loc[64];
        snprintf(loc, sizeof(loc), "/console/broadcasts/%lld", (long long)json_integer_value(json_object_get(j, "id")));
        anpi_console_redirect(cc->c.req, loc);
        json_decref(j);
        compose_free(cc);
        return;
    }
    if (result && strcmp(result, "preview") == 0) {
        cc->preview = j;
        cc->page.previewed = true;
        cc->page.preview_count = (long long)json_integer_value(json_object_get(j, "recipients"));
        cc->page.preview_sample = json_object_get(j, "sample");
        compose_show(cc, 200);
        return;
    }
    if (result && strcmp(result, "empty") == 0) {
        snprintf(cc->error, sizeof(cc->error), "この宛先に当てはまる人はいません。何も送っていません。 "
                 "(the audience matches nobody; nothing was sent)");
    } else if (result && (strcmp(result, "unknown_people") == 0 || strcmp(result, "unknown_groups") == 0)) {
        bool people = result[8] == 'p';
        char *list = json_dumps(json_object_get(j, people ? "people" : "groups"), JSON_COMPACT);
        snprintf(cc->error, sizeof(cc->error), "%s: %.400s。何も送っていません。 (unknown %s in the audience; "
                 "nothing was sent)", people ? "見つからない個人 ID があります" : "選べないグループがあります",
                 list ? list : "", people ? "people" : "groups");
        free(list);
    } else {
        snprintf(cc->error, sizeof(cc->error), "予期しない応答です。 (unexpected answer from the database)");
        status = 500;
    }
    json_decref(j);
    compose_show(cc, status);
}

/* POST /console/compose: action=preview counts the audience, action=send
 * creates the broadcast; both through api_broadcast_compose (broadcasts.h),
 * the checks and the SQL of POST /api/v1/broadcasts(/preview). */
static void
h_compose_post(struct anpi_http_req *req, void *ctx)
{
    struct compose_call *cc = compose_new(ctx, req);
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[256];
    cc->page.subgroups = true;
    if (anpi_form_parse(body ? body : "", len, &cc->form, err, sizeof(err)) != ANPI_OK) {
        snprintf(cc->error, sizeof(cc->error), "送信内容を読めませんでした (unreadable form: %s)", err);
        compose_show(cc, 400);
        return;
    }
    const struct anpi_form *f = &cc->form;
    struct anpi_console_compose *pg = &cc->page;
    pg->subject = anpi_form_get(f, "subject");
    const char *text = anpi_form_get(f, "body");
    cc->body = lf_only(text ? text : "");
    pg->body = cc->body;
    static const char *const qt[ANPI_CONSOLE_QUESTIONS] = { "q1_text", "q2_text", "q3_text" };
    static const char *const qc[ANPI_CONSOLE_QUESTIONS] = { "q1_choices", "q2_choices", "q3_choices" };
    for (int i = 0; i < ANPI_CONSOLE_QUESTIONS; i++) {
        pg->q_text[i] = anpi_form_get(f, qt[i]);
        pg->q_choices[i] = anpi_form_get(f, qc[i]);
    }
    pg->people = anpi_form_get(f, "people");
    pg->regions = anpi_form_get(f, "regions");
    pg->subgroups = anpi_form_get(f, "subgroups") != NULL;
    const char *match = anpi_form_get(f, "match");
    pg->match_all = match && strcmp(match, "all") == 0;
    pg->drill = anpi_form_get(f, "drill") != NULL;
    cc->checked = anpi_xcalloc(f->n ? f->n : 1, sizeof(long long));
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, "group") == 0)
            cc->checked[pg->n_checked++] = api_id(f->f[i].value);
    pg->checked = cc->checked;

    const char *action = anpi_form_get(f, "action");
    bool preview = !action || strcmp(action, "send") != 0;
    if (match && strcmp(match, "all") != 0 && strcmp(match, "any") != 0) {
        snprintf(cc->error, sizeof(cc->error), "match must be any or all");
        compose_show(cc, 400);
        return;
    }
    json_t *j = compose_json(cc);
    char cerr[512];
    if (!api_broadcast_compose(&cc->c, j, preview, composed_cb, cerr, sizeof(cerr))) {
        snprintf(cc->error, sizeof(cc->error), "%s%s", cerr, preview ? "" : "。何も送っていません。 (nothing was sent)");
        compose_show(cc, 400);
    }
    json_decref(j);
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
    rc |= api_route(e, s, "POST", "/console/broadcasts/{id}/resend", API_BROADCAST_SEND, h_resend);
    rc |= api_route(e, s, "POST", "/console/broadcasts/{id}/people/{person_id}/message", API_BROADCAST_SEND,
                    h_write_back);
    rc |= api_route(e, s, "GET", "/console/compose", API_BROADCAST_SEND, h_compose_get);
    rc |= api_route(e, s, "POST", "/console/compose", API_BROADCAST_SEND, h_compose_post);
    rc |= api_route(e, s, "GET", "/console/password", API_SELF, h_password_get);
    rc |= api_route(e, s, "POST", "/console/password", API_SELF, h_password_post);
    rc |= api_route(e, s, "POST", "/console/logout", API_SELF, h_logout);
    return rc ? ANPI_ERROR : ANPI_OK;
}
