/* public.c - the public listener: reply pages (/r/{token}) and the
 * duty officers' approval links (/a/{token}).
 *
 * No login, no cookies, no script; every page is Cache-Control: no-store
 * (set by the HTTP layer).  A GET never changes anything: approval links
 * show a confirmation form, so a mail scanner that prefetches links cannot
 * approve a broadcast.  A forged or unknown token gets the same 404 page as
 * a token for something that does not exist. */
#include "admin-api/endpoints/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/body.h"
#include "admin-api/endpoints/tallycache.h"
#include "admin-api/pages.h"
#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"

#define DRILL_BANNER "【訓練】これは訓練です。実際の災害ではありません。"

static void
page(struct anpi_http_req *req, unsigned status, char *html)
{
    anpi_http_respond(req, status, "text/html; charset=utf-8", html, strlen(html));
    free(html);
}

static void
message_page(struct anpi_http_req *req, unsigned status, const char *title, const char *text)
{
    page(req, status, anpi_page_message(title, text));
}

static void
bad_link(struct anpi_http_req *req)
{
    message_page(req, 404, "リンクが無効です",
                 "このリンクは無効です。メールに記載されたリンクをもう一度開いてください。");
}

/* ---- reply page --------------------------------------------------------- */

static const char REPLY_SQL[] =
    "SELECT p.name, b.questions::text, b.drill, (b.expires_at + interval '7 days' < now()),"
    " coalesce(b.vars->>'incident.title', ''), b.body,"
    " (SELECT coalesce(jsonb_object_agg(question_id, choice), '{}') FROM"
    "   (SELECT DISTINCT ON (question_id) question_id, choice FROM responses"
    "     WHERE recipient_id = r.id ORDER BY question_id, id DESC) l)::text,"
    " (SELECT comment FROM responses WHERE recipient_id = r.id ORDER BY id DESC LIMIT 1),"
    " (SELECT coalesce(jsonb_agg(to_char(rs.created_at AT TIME ZONE 'Asia/Tokyo', 'MM/DD HH24:MI') || '  '"
    "     || coalesce((SELECT q->>'text' FROM jsonb_array_elements(b.questions) q WHERE q->>'id' = rs.question_id),"
    "                 rs.question_id) || ': ' || rs.choice ORDER BY rs.id), '[]')"
    "   FROM responses rs WHERE rs.recipient_id = r.id)::text,"
    /* messages written back to the person about their answer (0012) */
    " (SELECT coalesce(jsonb_agg(to_char(w.created_at AT TIME ZONE 'Asia/Tokyo', 'MM/DD HH24:MI') || E'\\n'"
    "     || w.text ORDER BY w.id), '[]')"
    "   FROM (SELECT * FROM write_backs WHERE recipient_id = r.id ORDER BY id DESC LIMIT 50) w)::text"
    " FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id JOIN people p ON p.id = r.person_id"
    " WHERE r.id = $1::bigint AND b.kind = 'safety'";

/* The messages written back to the person (newest last), as a section at
 * the end of the reply page: each is "MM/DD HH:MI" then the text, escaped,
 * its line breaks kept. */
static char *
with_write_backs(char *html, const char *list_json)
{
    json_error_t jerr;
    json_t *list = json_loads(list_json, 0, &jerr);
    char *end = html ? strstr(html, "</main>") : NULL;
    if (!json_array_size(list) || !end) {
        json_decref(list);
        return html;
    }
    struct anpi_buf b;
    anpi_buf_init(&b, 8 * 1024 * 1024);   /* the page (4 MiB cap) plus at most 50 capped messages */
    anpi_buf_append(&b, html, (size_t)(end - html));
    anpi_buf_puts(&b, "<section class=\"write-backs\">\n<h2>担当者からのメッセージ</h2>\n<ul>\n");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *t = json_string_value(json_array_get(list, i));
        anpi_buf_puts(&b, "<li>");
        while (t && *t) {
            size_t n = strcspn(t, "\r\n");
            char *line = anpi_xstrndup(t, n);
            anpi_buf_put_html(&b, line);
            free(line);
            t += n;
            if (*t == '\r' && t[1] == '\n')
                t++;
            if (*t) {
                anpi_buf_puts(&b, "<br>\n");
                t++;
            }
        }
        anpi_buf_puts(&b, "</li>\n");
    }
    anpi_buf_puts(&b, "</ul>\n</section>\n");
    anpi_buf_puts(&b, end);
    json_decref(list);
    free(html);
    return anpi_buf_steal(&b);
}

static void
reply_page_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        message_page(c->req, 503, "一時的なエラー", "ただいま混み合っています。少し待ってからもう一度開いてください。");
        api_call_free(c);
        return;
    }
    if (PQntuples(res) == 0) {
        bad_link(c->req);
        api_call_free(c);
        return;
    }
    if (PQgetvalue(res, 0, 3)[0] == 't') {
        message_page(c->req, 410, "受付終了", "この安否確認の受付は終了しました。");
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *qs = json_loads(PQgetvalue(res, 0, 1), 0, &jerr);
    json_t *cur = json_loads(PQgetvalue(res, 0, 6), 0, &jerr);
    json_t *hist = json_loads(PQgetvalue(res, 0, 8), 0, &jerr);
    size_t nq = json_array_size(qs);
    struct anpi_page_question *pq = anpi_xcalloc(nq ? nq : 1, sizeof(*pq));
    const char ***choices = anpi_xcalloc(nq ? nq : 1, sizeof(*choices));
    for (size_t i = 0; i < nq; i++) {
        json_t *q = json_array_get(qs, i);
        json_t *ch = json_object_get(q, "choices");
        choices[i] = anpi_xcalloc(json_array_size(ch) + 1, sizeof(char *));
        for (size_t k = 0; k < json_array_size(ch); k++)
            choices[i][k] = json_string_value(json_array_get(ch, k));
        pq[i].id = json_string_value(json_object_get(q, "id"));
        pq[i].text = json_string_value(json_object_get(q, "text"));
        pq[i].nchoices = json_array_size(ch);
        pq[i].choices = choices[i];
        pq[i].current = json_string_value(json_object_get(cur, pq[i].id));
    }
    size_t nh = json_array_size(hist);
    const char **history = anpi_xcalloc(nh ? nh : 1, sizeof(char *));
    for (size_t i = 0; i < nh; i++)
        history[i] = json_string_value(json_array_get(hist, i));
    char name[300];
    snprintf(name, sizeof(name), "%s さん", PQgetvalue(res, 0, 0));
    char action[128];
    snprintf(action, sizeof(action), "/r/%s", anpi_http_param(c->req, "token"));
    const char *comment = PQgetisnull(res, 0, 7) ? NULL : PQgetvalue(res, 0, 7);
    struct anpi_reply_page p = {
        .title = "安否確認",
        .intro = PQgetvalue(res, 0, 4),
        .person_name = name,
        .action = action,
        .nquestions = nq,
        .questions = pq,
        .comment = comment && *comment ? comment : NULL,
        .notice = c->notice,
        .drill_banner = PQgetvalue(res, 0, 2)[0] == 't' ? DRILL_BANNER : NULL,
        .history = history,
        .nhistory = nh,
    };
    char *html = with_write_backs(anpi_page_reply(&p), PQgetvalue(res, 0, 9));
    page(c->req, c->notice && strncmp(c->notice, "エラー", strlen("エラー")) == 0 ? 400 : 200, html);
    for (size_t i = 0; i < nq; i++)
        free(choices[i]);
    free(choices);
    free(pq);
    free(history);
    json_decref(qs);
    json_decref(cur);
    json_decref(hist);
    api_call_free(c);
}

static void
show_reply(struct api_call *c)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", c->id);
    const char *p[1] = { ids };
    anpi_db_query(c->e->db, REPLY_SQL, 1, p, reply_page_cb, c);
}

static long long
reply_recipient(struct anpi_engine *e, struct anpi_http_req *req, enum anpi_link_kind want)
{
    enum anpi_link_kind kind;
    int64_t id;
    if (anpi_link_parse(e->link_key, anpi_http_param(req, "token"), &kind, &id) != ANPI_OK)
        return 0;
    if (want == ANPI_LINK_REPLY && kind != ANPI_LINK_REPLY)
        return 0;
    if (want != ANPI_LINK_REPLY && kind == ANPI_LINK_REPLY)
        return 0;
    return (long long)id;
}

static void
h_reply_get(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = reply_recipient(e, req, ANPI_LINK_REPLY);
    if (!id) {
        bad_link(req);
        return;
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    show_reply(c);
}

static void
answered_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        message_page(c->req, 503, "一時的なエラー",
                     "回答を保存できませんでした。少し待ってからもう一度送信してください。");
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (result && strcmp(result, "recorded") == 0) {
        c->e->m.answers++;
        /* this node's tallies show the answer at once */
        anpi_tally_invalidate((long long)json_integer_value(json_object_get(j, "broadcast_id")));
        c->notice = anpi_xstrdup("回答を受け付けました。状況が変わったら、もう一度送信してください。");
        show_reply(c);
    } else if (result && strcmp(result, "invalid") == 0) {
        c->notice = anpi_xasprintf("エラー: 回答を読み取れませんでした（%s）。選び直して送信してください。",
                                   json_string_value(json_object_get(j, "error")) ?: "");
        show_reply(c);
    } else if (result && strcmp(result, "expired") == 0) {
        message_page(c->req, 410, "受付終了", "この安否確認の受付は終了しました。");
        api_call_free(c);
    } else {
        bad_link(c->req);
        api_call_free(c);
    }
    json_decref(j);
}

static void
h_reply_post(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = reply_recipient(e, req, ANPI_LINK_REPLY);
    if (!id) {
        bad_link(req);
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_form form = { 0 };
    char err[256] = "";
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    if (anpi_form_parse(body ? body : "", len, &form, err, sizeof(err)) != ANPI_OK) {
        c->notice = anpi_xasprintf("エラー: 送信内容を読み取れませんでした（%s）。", err);
        show_reply(c);
        return;
    }
    json_t *answers = json_object();
    const char *comment = "";
    for (size_t i = 0; i < form.n; i++) {
        if (strcmp(form.f[i].name, "comment") == 0)
            comment = form.f[i].value;
        else if (form.f[i].value[0])
            json_object_set_new(answers, form.f[i].name, json_string(form.f[i].value));
    }
    char *aj = json_dumps(answers, JSON_COMPACT);
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    char cm[1024];
    snprintf(cm, sizeof(cm), "%s", comment);   /* comments are capped at 1 KB */
    const char *p[5] = { ids, aj, cm, "web", anpi_http_peer(req) };
    anpi_db_query(e->db, "SELECT anpi_answer($1::bigint, $2::jsonb, $3, $4, $5)::text", 5, p,
                  answered_cb, c);
    free(aj);
    json_decref(answers);
    anpi_form_free(&form);
}

/* ---- approval links ----------------------------------------------------- */

static const char APPROVAL_SQL[] =
    "SELECT a.id, a.status, i.title, a.reason, anpi_pref_names(a.prefs), r.person_id,"
    " (SELECT count(*) FROM anpi_audience(a.prefs, ARRAY(SELECT jsonb_array_elements_text("
    "    coalesce(i.message->'groups', '[]')))))"
    " FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id"
    " JOIN approvals a ON a.id = b.approval_id JOIN incidents i ON i.id = a.incident_id"
    " WHERE r.id = $1::bigint AND b.kind = 'approval'";

static void
approval_page_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        message_page(c->req, 503, "一時的なエラー", "少し待ってからもう一度開いてください。");
    } else if (PQntuples(res) == 0) {
        bad_link(c->req);
    } else {
        char summary[2048];
        snprintf(summary, sizeof(summary), "対象: %s（%s 人）\n理由: %s", PQgetvalue(res, 0, 4),
                 PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 3));
        char action[128];
        snprintf(action, sizeof(action), "/a/%s", anpi_http_param(c->req, "token"));
        const char *status = PQgetvalue(res, 0, 1);
        char notice[256] = "";
        bool done = strcmp(status, "pending") != 0;
        if (c->notice)
            snprintf(notice, sizeof(notice), "%s", c->notice);
        else if (done)
            snprintf(notice, sizeof(notice), "この承認依頼は処理済みです（%s）。",
                     strcmp(status, "approved") == 0 ? "承認済み" :
                     strcmp(status, "rejected") == 0 ? "却下" :
                     strcmp(status, "expired") == 0 ? "期限切れ" : "取消");
        struct anpi_approval_page p = {
            .action = action, .decision = c->decision, .incident_title = PQgetvalue(res, 0, 2),
            .summary = summary, .notice = notice[0] ? notice : NULL, .done = done || c->notice,
        };
        char *html = anpi_page_approval(&p);
        if (html)
            page(c->req, 200, html);
        else
            bad_link(c->req);
    }
    api_call_free(c);
}

static void
show_approval(struct api_call *c)
{
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", c->id);
    const char *p[1] = { ids };
    anpi_db_query(c->e->db, APPROVAL_SQL, 1, p, approval_page_cb, c);
}

static struct api_call *
approval_call(struct anpi_engine *e, struct anpi_http_req *req)
{
    enum anpi_link_kind kind;
    int64_t id;
    if (anpi_link_parse(e->link_key, anpi_http_param(req, "token"), &kind, &id) != ANPI_OK ||
        kind == ANPI_LINK_REPLY) {
        bad_link(req);
        return NULL;
    }
    struct api_call *c = api_call_new(e, req);
    c->id = (long long)id;
    snprintf(c->decision, sizeof(c->decision), "%s", kind == ANPI_LINK_APPROVE ? "approve" : "reject");
    return c;
}

static void
h_approval_get(struct anpi_http_req *req, void *ctx)
{
    struct api_call *c = approval_call(ctx, req);
    if (c)
        show_approval(c);
}

static void
link_decided_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        message_page(c->req, 503, "一時的なエラー", "記録できませんでした。もう一度送信してください。");
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    const char *st = json_string_value(json_object_get(j, "approval_status"));
    if (!result || strcmp(result, "not_found") == 0) {
        bad_link(c->req);
        api_call_free(c);
    } else {
        if (strcmp(result, "recorded") == 0) {
            if (json_object_get(j, "broadcast_id"))
                anpi_dispatch_kick(c->e);
            c->notice = anpi_xstrdup(strcmp(c->decision, "approve") == 0
                ? (st && strcmp(st, "approved") == 0 ? "承認しました。安否確認を送信します。"
                                                      : "承認を記録しました。ほかの承認者の判断を待っています。")
                : "却下を記録しました。送信しません。");
        } else if (strcmp(result, "duplicate") == 0) {
            c->notice = anpi_xstrdup("あなたはすでに判断済みです。");
        } else if (strcmp(result, "expired") == 0) {
            c->notice = anpi_xstrdup("期限切れのため送信しません。");
        } else {
            c->notice = anpi_xstrdup("この承認依頼はすでに処理済みです。");
        }
        show_approval(c);
    }
    json_decref(j);
}

static void
h_approval_post(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    struct api_call *c = approval_call(e, req);
    if (!c)
        return;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_form form = { 0 };
    char err[256] = "";
    const char *comment = "";
    if (anpi_form_parse(body ? body : "", len, &form, err, sizeof(err)) == ANPI_OK) {
        const char *v = anpi_form_get(&form, "comment");
        if (v)
            comment = v;
    }
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", c->id);
    char cm[1024];
    snprintf(cm, sizeof(cm), "%s", comment);
    const char *p[4] = { ids, c->decision, cm, anpi_http_peer(req) };
    anpi_db_query(e->db,
        "SELECT anpi_decide(b.approval_id, 'person:' || r.person_id, $2, $3, 'link', $4)::text"
        " FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id"
        " WHERE r.id = $1::bigint AND b.kind = 'approval'", 4, p, link_decided_cb, c);
    anpi_form_free(&form);
}

/* ---- one-button links: address confirmation, HR unsubscribe ------------- */

/* The delivery id a link of this kind names, or 0. */
static long long
link_delivery(struct anpi_engine *e, struct anpi_http_req *req, enum anpi_link_kind want)
{
    enum anpi_link_kind kind;
    int64_t id;
    if (anpi_link_parse(e->link_key, anpi_http_param(req, "token"), &kind, &id) != ANPI_OK || kind != want)
        return 0;
    return (long long)id;
}

/* A page with one button (a POST form back to the same link): a GET never
 * changes anything, so a link scanner cannot act for the person. */
static void
button_page(struct anpi_http_req *req, const char *prefix, const char *title, const char *text,
            const char *hidden, const char *button)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    anpi_buf_put_html(&b, title);
    anpi_buf_puts(&b, "</title><style>body{font-family:sans-serif;max-width:40em;margin:auto;"
                      "padding:0 12px}button{display:block;width:100%;padding:1em;font-size:1.2em}</style>"
                      "</head><body><h1>");
    anpi_buf_put_html(&b, title);
    anpi_buf_puts(&b, "</h1><p>");
    anpi_buf_put_html(&b, text);
    anpi_buf_printf(&b, "</p><form method=\"post\" action=\"%s", prefix);
    anpi_buf_put_html(&b, anpi_http_param(req, "token"));
    anpi_buf_puts(&b, "\">");
    anpi_buf_puts(&b, hidden);
    anpi_buf_puts(&b, "<button type=\"submit\">");
    anpi_buf_put_html(&b, button);
    anpi_buf_puts(&b, "</button></form></body></html>\n");
    anpi_http_respond(req, 200, "text/html; charset=utf-8", b.data, b.len);
    anpi_buf_free(&b);
}

/* What the database said about a one-button action. */
struct button_call {
    struct api_call *c;
    const char *ok_word;      /* "confirmed", "unsubscribed" in the function's result */
    const char *title, *done;
};

static void
button_done(void *arg, const PGresult *res, const char *err)
{
    struct button_call *bc = arg;
    char want[48];
    snprintf(want, sizeof(want), "\"%s\"", bc->ok_word);
    if (err)
        message_page(bc->c->req, 503, "一時的なエラー", "記録できませんでした。もう一度送信してください。");
    else if (strstr(PQgetvalue(res, 0, 0), want))
        message_page(bc->c->req, 200, bc->title, bc->done);
    else
        bad_link(bc->c->req);
    api_call_free(bc->c);
    free(bc);
}

static void
button_post(struct anpi_engine *e, struct anpi_http_req *req, enum anpi_link_kind kind, const char *sql,
            const char *ok_word, const char *title, const char *done)
{
    long long id = link_delivery(e, req, kind);
    if (!id) {
        bad_link(req);
        return;
    }
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[1] = { ids };
    struct button_call *bc = anpi_xcalloc(1, sizeof(*bc));
    bc->c = api_call_new(e, req);
    bc->ok_word = ok_word;
    bc->title = title;
    bc->done = done;
    anpi_db_query(e->db, sql, 1, p, button_done, bc);
}

/* Address check: the address receives mail. */
static void
h_confirm_get(struct anpi_http_req *req, void *ctx)
{
    if (!link_delivery(ctx, req, ANPI_LINK_CONFIRM)) {
        bad_link(req);
        return;
    }
    button_page(req, "/c/", "受信確認", "安否確認システムからのメールを受信できることを確認します。", "", "確認");
}

static void
h_confirm_post(struct anpi_http_req *req, void *ctx)
{
    button_post(ctx, req, ANPI_LINK_CONFIRM, "SELECT anpi_confirm_address($1::bigint)::text", "confirmed",
                "受信確認", "確認しました。ありがとうございました。");
}

/* HR mail one-click unsubscribe (RFC 8058): mail clients POST
 * "List-Unsubscribe=One-Click" without the page. */
static void
h_unsubscribe_get(struct anpi_http_req *req, void *ctx)
{
    if (!link_delivery(ctx, req, ANPI_LINK_UNSUBSCRIBE)) {
        bad_link(req);
        return;
    }
    button_page(req, "/u/", "配信停止",
                "この種類のお知らせメールの配信を停止します。安否確認のメールは停止されません。",
                "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">", "配信を停止する");
}

static void
h_unsubscribe_post(struct anpi_http_req *req, void *ctx)
{
    button_post(ctx, req, ANPI_LINK_UNSUBSCRIBE, "SELECT anpi_hr_unsubscribe($1::bigint)::text", "unsubscribed",
                "配信停止", "配信を停止しました。");
}

int
anpi_api_public_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = 0;
    rc |= anpi_http_route(s, "GET", "/r/{token}", h_reply_get, e);
    rc |= anpi_http_route(s, "POST", "/r/{token}", h_reply_post, e);
    rc |= anpi_http_route(s, "GET", "/a/{token}", h_approval_get, e);
    rc |= anpi_http_route(s, "POST", "/a/{token}", h_approval_post, e);
    rc |= anpi_http_route(s, "GET", "/c/{token}", h_confirm_get, e);
    rc |= anpi_http_route(s, "POST", "/c/{token}", h_confirm_post, e);
    rc |= anpi_http_route(s, "GET", "/u/{token}", h_unsubscribe_get, e);
    rc |= anpi_http_route(s, "POST", "/u/{token}", h_unsubscribe_post, e);
    return rc ? ANPI_ERROR : ANPI_OK;
}
