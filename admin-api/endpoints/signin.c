/* signin.c - the one sign-in check (signin.h), shared by POST /api/v1/tokens,
 * the console's login form and the password re-checks of accounts.c.
 *
 * Steps, each a callback on the loop thread:
 *   1. one query: the throttle rows of "account:<lower(login)>" and
 *      "peer:<address key>" and the account behind the login;
 *   2. either key says wait -> 429, audited, and no password check at all
 *      (a locked-out guesser learns nothing and costs no argon2 time);
 *   3. argon2id verify on the thread pool, against NULL (the dummy hash)
 *      when the login is unknown or disabled, so every attempt costs the same;
 *   4. the TOTP code for accounts with a secret, the step claimed in the
 *      database so a code works once; a system admin without a secret is
 *      refused;
 *   5. one query records the outcome: both throttle rows, a rehash if the
 *      argon2 parameters changed, the audit entry with the reason.
 * The 401 message is the same for every reason: only the audit log says
 * which it was. */
#include "admin-api/endpoints/signin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "engine/auth/lockout.h"
#include "engine/auth/password.h"
#include "engine/auth/totp.h"
#include "engine/log.h"

#define LOGIN_MAX 64     /* the accounts.login CHECK allows 3..64 characters */

static const char MSG_BAD[] =
    "ログイン名、パスワードまたは確認コードが違います (wrong login, password or code)";
static const char MSG_LOCKED[] =
    "試行回数が多すぎます。しばらく待ってから再試行してください (too many failed attempts: try again later)";
static const char MSG_TOTP_REQUIRED[] =
    "システム管理者には確認コード（TOTP）が必要です (TOTP is required for system admins: "
    "ask another system admin to enrol one)";

struct signin {
    struct anpi_engine *e;
    api_signin_cb cb;
    void *arg;
    bool check_totp;
    char via[16];
    char login[LOGIN_MAX + 1];     /* as typed (ASCII-lowered copy in the keys) */
    char *password;
    char totp[ANPI_TOTP_CODE_MAX + 1];
    bool has_totp;
    char peer[64];
    char account_key[LOGIN_MAX + 16];
    char peer_key[80];
    struct anpi_lockout acc_lock, peer_lock;
    /* the account, when there is one */
    bool found, disabled;
    char *hash, *secret;
    int64_t last_step, changed_at;
    const char *reason;            /* NULL = success */
    struct api_signin_result r;
};

static int64_t
now_s(void)
{
    return (int64_t)time(NULL);
}

static void
signin_free(struct signin *s)
{
    if (s->password) {
        OPENSSL_cleanse(s->password, strlen(s->password));
        free(s->password);
    }
    free(s->hash);
    if (s->secret) {
        OPENSSL_cleanse(s->secret, strlen(s->secret));
        free(s->secret);
    }
    free(s);
}

static void
finish(struct signin *s)
{
    s->cb(&s->r, s->arg);
    signin_free(s);
}

/* Answer at once, before any query (malformed input). */
static void
refuse_now(unsigned status, const char *msg, api_signin_cb cb, void *arg)
{
    struct api_signin_result r;
    memset(&r, 0, sizeof(r));
    r.status = status;
    snprintf(r.msg, sizeof(r.msg), "%s", msg);
    cb(&r, arg);
}

static void
recorded_cb(void *arg, const PGresult *res, const char *err)
{
    struct signin *s = arg;
    (void)res;
    if (err) {
        anpi_error(ANPI_LG_API, "recording a sign-in failed: %s", err);
        s->r.status = 503;
        snprintf(s->r.msg, sizeof(s->r.msg), "database error: the sign-in was not recorded");
    }
    finish(s);
}

/* Step 5: throttle rows, rehash, audit; then the answer.  rehash may be NULL. */
static void
record(struct signin *s, const char *rehash)
{
    char acc_state[64], peer_state[64];
    bool locked = s->reason && strcmp(s->reason, "locked") == 0;
    if (!locked) {
        if (s->reason) {
            int64_t now = now_s();
            anpi_lockout_fail(&s->acc_lock, now);
            anpi_lockout_fail(&s->peer_lock, now);
        } else {
            anpi_lockout_ok(&s->acc_lock);
            anpi_lockout_ok(&s->peer_lock);
        }
        anpi_lockout_format(&s->acc_lock, acc_state, sizeof(acc_state));
        anpi_lockout_format(&s->peer_lock, peer_state, sizeof(peer_state));
    }
    json_t *d = json_pack("{s:s, s:s}", "via", s->via, "peer", s->peer);
    if (s->reason)
        json_object_set_new(d, "reason", json_string(s->reason));
    char *detail = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    char id[24];
    snprintf(id, sizeof(id), "%lld", s->r.account);
    /* The actor is the login as stored when it exists; "?" for a login
     * nobody has (what was typed still names the object). */
    const char *p[10] = {
        s->account_key, locked ? NULL : acc_state, s->peer_key, locked ? NULL : peer_state,
        s->found ? id : NULL, rehash, s->found ? s->r.login : "?",
        s->reason ? "auth.failure" : "auth.success", s->found ? s->r.login : s->login, detail,
    };
    anpi_db_query(s->e->db,
                  "SELECT anpi_signin_record($1, $2, $3, $4, $5::bigint, $6, $7, $8, $9, $10::jsonb)",
                  10, p, recorded_cb, s);
    free(detail);
}

static void
fail(struct signin *s, const char *reason, unsigned status, const char *msg)
{
    s->reason = reason;
    s->r.status = status;
    s->r.account = 0;
    snprintf(s->r.msg, sizeof(s->r.msg), "%s", msg);
    record(s, NULL);
}

static void
rehash_cb(int rc, const char *encoded, void *data)
{
    struct signin *s = data;
    /* A failed rehash leaves the old (still valid) hash: sign in anyway. */
    record(s, rc == ANPI_OK ? encoded : NULL);
}

/* Password (and code, if any) right: the status flags, then record. */
static void
succeed(struct signin *s)
{
    struct anpi_password_policy pol;
    anpi_password_policy_default(&pol);
    pol.remind_after_s = s->e->cfg->password_remind_s;
    enum anpi_password_status st = anpi_password_status(s->r.must_change, s->changed_at, now_s(), &pol);
    s->r.must_change = st == ANPI_PASSWORD_MUST_CHANGE;
    s->r.remind = st != ANPI_PASSWORD_OK;
    s->r.status = 0;
    s->r.msg[0] = '\0';
    s->reason = NULL;
    if (anpi_password_needs_rehash(s->hash) &&
        anpi_password_hash_async(s->e->loop, s->password, rehash_cb, s) == ANPI_OK)
        return;
    record(s, NULL);
}

static void
claim_cb(void *arg, const PGresult *res, const char *err)
{
    struct signin *s = arg;
    if (err) {
        anpi_error(ANPI_LG_API, "claiming a TOTP step failed: %s", err);
        s->r.status = 503;
        snprintf(s->r.msg, sizeof(s->r.msg), "database error: try again");
        finish(s);
        return;
    }
    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't') {
        fail(s, "bad_totp", 401, MSG_BAD);    /* the same code twice, maybe in two racing requests */
        return;
    }
    succeed(s);
}

static void
verified_cb(int rc, void *data)
{
    struct signin *s = data;
    if (!s->found) {
        fail(s, "unknown_login", 401, MSG_BAD);
        return;
    }
    if (s->disabled) {
        fail(s, "disabled", 401, MSG_BAD);
        return;
    }
    if (rc != ANPI_OK) {
        fail(s, "bad_password", 401, MSG_BAD);
        return;
    }
    if (!s->check_totp) {
        succeed(s);
        return;
    }
    if (!s->secret) {
        if (strcmp(s->r.role, "system-admin") == 0) {
            fail(s, "totp_required", 403, MSG_TOTP_REQUIRED);
            return;
        }
        succeed(s);
        return;
    }
    int64_t step = s->last_step;
    if (!s->has_totp || anpi_totp_verify(s->secret, s->totp, now_s(), 1, &step) != ANPI_OK) {
        fail(s, "bad_totp", 401, MSG_BAD);
        return;
    }
    char id[24], st[24];
    snprintf(id, sizeof(id), "%lld", s->r.account);
    snprintf(st, sizeof(st), "%lld", (long long)step);
    const char *p[2] = { id, st };
    anpi_db_query(s->e->db, "SELECT anpi_totp_claim($1::bigint, $2::bigint)", 2, p, claim_cb, s);
}

/* "f:l:u" or SQL NULL -> lockout state (a damaged row counts as clean). */
static void
lock_state(const PGresult *res, int col, struct anpi_lockout *out)
{
    struct anpi_lockout init = ANPI_LOCKOUT_INIT;
    *out = init;
    if (!PQgetisnull(res, 0, col) && anpi_lockout_parse(PQgetvalue(res, 0, col), out) != ANPI_OK)
        *out = init;
}

static void
state_cb(void *arg, const PGresult *res, const char *err)
{
    struct signin *s = arg;
    if (err || PQntuples(res) != 1) {
        if (err)
            anpi_error(ANPI_LG_API, "reading the sign-in state failed: %s", err);
        s->r.status = 503;
        snprintf(s->r.msg, sizeof(s->r.msg), "database error: try again");
        finish(s);
        return;
    }
    lock_state(res, 0, &s->acc_lock);
    lock_state(res, 1, &s->peer_lock);
    s->found = !PQgetisnull(res, 0, 2);
    if (s->found) {
        int64_t v = 0;
        s->r.account = anpi_parse_int64(PQgetvalue(res, 0, 2), 1, INT64_MAX, &v) == ANPI_OK ? v : 0;
        snprintf(s->r.login, sizeof(s->r.login), "%s", PQgetvalue(res, 0, 3));
        snprintf(s->r.role, sizeof(s->r.role), "%s", PQgetvalue(res, 0, 4));
        s->hash = anpi_xstrdup(PQgetvalue(res, 0, 5));
        s->secret = PQgetisnull(res, 0, 6) ? NULL : anpi_xstrdup(PQgetvalue(res, 0, 6));
        s->last_step = anpi_parse_int64(PQgetvalue(res, 0, 7), 0, INT64_MAX, &v) == ANPI_OK ? v : 0;
        s->r.must_change = PQgetvalue(res, 0, 8)[0] == 't';
        s->changed_at = anpi_parse_int64(PQgetvalue(res, 0, 9), 0, INT64_MAX, &v) == ANPI_OK ? v : 0;
        s->disabled = PQgetvalue(res, 0, 10)[0] == 't';
    }
    int64_t now = now_s();
    int64_t wait = anpi_lockout_check(&s->acc_lock, now);
    int64_t wait_peer = anpi_lockout_check(&s->peer_lock, now);
    if (wait_peer > wait)
        wait = wait_peer;
    if (wait > 0) {
        s->r.retry_after = wait;
        fail(s, "locked", 429, MSG_LOCKED);
        return;
    }
    /* Unknown and disabled logins are checked against the dummy hash. */
    const char *hash = s->found && !s->disabled ? s->hash : NULL;
    if (anpi_password_verify_async(s->e->loop, hash, s->password, verified_cb, s) != ANPI_OK) {
        s->r.status = 503;
        snprintf(s->r.msg, sizeof(s->r.msg), "the password check could not be started: try again");
        finish(s);
    }
}

static void
start(struct anpi_engine *e, const char *login, const char *password, const char *totp, const char *peer,
      const char *via, bool check_totp, api_signin_cb cb, void *arg)
{
    char why[256];
    if (!login || !*login || strlen(login) > LOGIN_MAX) {
        refuse_now(400, "\"login\" must be 1-64 characters", cb, arg);
        return;
    }
    if (!password) {
        refuse_now(400, "\"password\" is missing", cb, arg);
        return;
    }
    if (anpi_password_check_length(password, why, sizeof(why)) != ANPI_OK) {
        refuse_now(400, ANPI_PASSWORD_TOOLONG_MSG, cb, arg);
        return;
    }
    if (totp && strlen(totp) > ANPI_TOTP_CODE_MAX) {
        refuse_now(400, "\"totp\" must be the 6-digit code of the authenticator app", cb, arg);
        return;
    }
    struct signin *s = anpi_xcalloc(1, sizeof(*s));
    s->e = e;
    s->cb = cb;
    s->arg = arg;
    s->check_totp = check_totp;
    snprintf(s->via, sizeof(s->via), "%s", via ? via : "?");
    snprintf(s->login, sizeof(s->login), "%s", login);
    s->password = anpi_xstrdup(password);
    if (totp) {
        snprintf(s->totp, sizeof(s->totp), "%s", totp);
        s->has_totp = true;
    }
    snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "");
    /* Keys: the login ASCII-lowered (logins are ASCII by the table CHECK);
     * the peer as its address key (an IPv6 client counts per /64). */
    int n = snprintf(s->account_key, sizeof(s->account_key), "account:");
    for (const char *c = login; *c && (size_t)n + 1 < sizeof(s->account_key); c++)
        s->account_key[n++] = (char)tolower((unsigned char)*c);
    s->account_key[n] = '\0';
    char addr[64];
    if (!peer || anpi_lockout_addr_key(peer, addr, sizeof(addr)) != ANPI_OK)
        snprintf(addr, sizeof(addr), "unknown");
    snprintf(s->peer_key, sizeof(s->peer_key), "peer:%s", addr);
    const char *p[3] = { login, s->account_key, s->peer_key };
    anpi_db_query(e->db,
                  "SELECT account_state, peer_state, account_id, login, role, password_hash, totp_secret,"
                  " totp_last_step, must_change, changed_at, disabled FROM anpi_signin_state($1, $2, $3)",
                  3, p, state_cb, s);
}

void
api_signin(struct anpi_engine *e, const char *login, const char *password, const char *totp,
           const char *peer, const char *via, api_signin_cb cb, void *arg)
{
    start(e, login, password, totp, peer, via, true, cb, arg);
}

void
api_signin_password(struct anpi_engine *e, const char *login, const char *password, const char *peer,
                    const char *via, api_signin_cb cb, void *arg)
{
    start(e, login, password, NULL, peer, via, false, cb, arg);
}
