/* console_html.c - the admin console's HTML pages.
 *
 * Built like the public pages (pages.c): plain HTML forms that work with no
 * script on a phone, a viewport meta, big tap targets and a little inline
 * CSS.  The data comes from the scoped SQL functions as JSON; whatever
 * shape it has, every string is escaped and every missing member is shown
 * as a blank, so a surprising row can make a page wrong but never unsafe. */
#include "admin-api/console_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/buf.h"

/* Pages are built from the database (subjects, group names, choices typed by
 * people); cap so a runaway row cannot make a page of unbounded size. */
#define CONSOLE_PAGE_MAX (4 * 1024 * 1024)

static const char console_css[] =
    "body{font-family:sans-serif;margin:0;padding:0 12px;line-height:1.6;"
    "max-width:48em;margin:auto;color:#111;background:#fff}"
    "h1{font-size:1.4em}h2{font-size:1.2em}h3{font-size:1.05em;margin:.2em 0}"
    "header{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;justify-content:space-between;"
    "border-bottom:1px solid #ccc;padding:.4em 0}"
    "header form{margin:0}header button{width:auto;margin:0;padding:.6em 1em;font-size:1em}"
    "nav a{display:inline-block;padding:.6em .4em;min-height:44px;box-sizing:border-box}"
    ".who{font-weight:bold}"
    ".notice{background:#dff3df;border:1px solid #5a5;padding:.6em}"
    ".error{background:#fde2e2;border:1px solid #c33;padding:.6em}"
    ".remind{background:#fff3c4;border:1px solid #cc9a06;padding:.6em}"
    ".drill{background:#ffd84d;padding:0 .3em;font-weight:bold}"
    "label{display:block;margin-top:.8em;font-weight:bold}"
    "input[type=text],input[type=password]{display:block;width:100%;box-sizing:border-box;"
    "font-size:1.1em;padding:.6em;margin:.2em 0}"
    "button{display:block;width:100%;padding:1em;margin:1em 0;font-size:1.2em;border-radius:6px}"
    "ul.b{list-style:none;padding:0}"
    "ul.b li{border:1px solid #aaa;border-radius:6px;margin:.5em 0}"
    "ul.b a{display:block;padding:.7em;color:#003c8f;text-decoration:none}"
    ".g{border:1px solid #aaa;border-radius:6px;margin:.6em 0;padding:.5em .7em}"
    ".g p{margin:.2em 0}.g ul{margin:.2em 0;padding-left:1.2em}"
    ".muted{color:#555;font-size:.92em}"
    "textarea{display:block;width:100%;box-sizing:border-box;font-size:1.05em;padding:.6em;margin:.2em 0;"
    "min-height:6em}"
    "fieldset{border:1px solid #aaa;border-radius:6px;margin:.8em 0;padding:.4em .7em}"
    "legend{font-weight:bold}"
    "label.c{font-weight:normal;margin:0;padding:.45em 0;min-height:44px;box-sizing:border-box}"
    "label.c input{width:20px;height:20px;vertical-align:middle;margin-right:.4em}"
    /* px, not fractional em: no bare small number in the page that a test
     * blanking an id out of a 404 page could mistake for that id */
    ".d1{padding-left:20px}.d2{padding-left:40px}.d3{padding-left:60px}.d4{padding-left:80px}"
    ".d5{padding-left:100px}.d6{padding-left:120px}.d7{padding-left:140px}"
    "ul.p{list-style:none;padding:0}ul.p li{border-bottom:1px solid #ddd;padding:.5em 0}"
    "summary{padding:.5em 0;min-height:44px;box-sizing:border-box;color:#003c8f}"
    ".actions button{margin:.5em 0}"
    "a.go{display:block;text-align:center;padding:.8em;margin:1em 0;border:1px solid #003c8f;"
    "border-radius:6px;color:#003c8f;text-decoration:none;font-size:1.1em}";

static void
head(struct anpi_buf *b, const char *title, int refresh_s)
{
    anpi_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"referrer\" content=\"no-referrer\">\n"
                     "<meta name=\"robots\" content=\"noindex, nofollow\">\n");
    /* No JavaScript: a live tally reloads itself. */
    if (refresh_s > 0)
        anpi_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_s);
    anpi_buf_puts(b, "<title>");
    anpi_buf_put_html(b, title ? title : "");
    anpi_buf_puts(b, " - anpi 管理コンソール</title>\n<style>");
    anpi_buf_puts(b, console_css);
    anpi_buf_puts(b, "</style>\n</head>\n<body>\n");
}

/* Who is signed in, the links, and the sign-out form (a POST with the
 * session's CSRF token: a link would let any page sign the user out). */
static void
nav_bar(struct anpi_buf *b, const struct anpi_console_nav *nav)
{
    if (!nav)
        return;
    anpi_buf_puts(b, "<header>\n<span class=\"who\">");
    anpi_buf_put_html(b, nav->login ? nav->login : "");
    anpi_buf_puts(b, "（");
    anpi_buf_put_html(b, nav->role ? nav->role : "");
    anpi_buf_puts(b, "）</span>\n<nav><a href=\"/console/\">ホーム</a> ");
    if (nav->may_send)
        anpi_buf_puts(b, "<a href=\"/console/compose\">配信を作成</a> ");
    anpi_buf_puts(b, "<a href=\"/console/password\">パスワード変更</a></nav>\n"
                     "<form method=\"post\" action=\"/console/logout\">"
                     "<input type=\"hidden\" name=\"csrf\" value=\"");
    anpi_buf_put_html(b, nav->csrf ? nav->csrf : "");
    anpi_buf_puts(b, "\"><button type=\"submit\">サインアウト</button></form>\n</header>\n");
}

static void
open_page(struct anpi_buf *b, const struct anpi_console_nav *nav, const char *title)
{
    anpi_buf_init(b, CONSOLE_PAGE_MAX);
    head(b, title, nav ? nav->refresh_s : 0);
    nav_bar(b, nav);
    anpi_buf_puts(b, "<main>\n<h1>");
    anpi_buf_put_html(b, title ? title : "");
    anpi_buf_puts(b, "</h1>\n");
}

static char *
finish(struct anpi_buf *b)
{
    anpi_buf_puts(b, "</main>\n</body>\n</html>\n");
    return anpi_buf_steal(b);
}

static void
para(struct anpi_buf *b, const char *cls, const char *role, const char *text)
{
    if (!text)
        return;
    anpi_buf_printf(b, "<p class=\"%s\"%s%s%s>", cls, role ? " role=\"" : "", role ? role : "", role ? "\"" : "");
    anpi_buf_put_html(b, text);
    anpi_buf_puts(b, "</p>\n");
}

static void
hidden(struct anpi_buf *b, const char *name, const char *value)
{
    anpi_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    anpi_buf_put_html(b, value ? value : "");
    anpi_buf_puts(b, "\">\n");
}

/* --- JSON members, tolerant of any shape ------------------------------------ */

static const char *
jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long
jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v) && isfinite(json_real_value(v)))
        return (long long)json_real_value(v);
    return 0;
}

static double
jrate(const json_t *o, const char *key)
{
    double r = json_number_value(json_object_get(o, key));
    return isfinite(r) && r >= 0 && r <= 1 ? r : 0;
}

/* "2025-01-01T09:00:00.123+09:00" -> "2025-01-01 09:00" (escaped). */
static void
put_time(struct anpi_buf *b, const char *iso)
{
    char t[17];
    size_t n = strlen(iso);
    if (n >= 16 && iso[10] == 'T') {
        memcpy(t, iso, 16);
        t[10] = ' ';
        t[16] = '\0';
        anpi_buf_put_html(b, t);
    } else {
        anpi_buf_put_html(b, iso);
    }
}

/* --- pages ------------------------------------------------------------------ */

char *
anpi_console_login_page(const struct anpi_console_login_page *p)
{
    struct anpi_buf b;
    open_page(&b, NULL, "サインイン");
    para(&b, "notice", "status", p->notice);
    para(&b, "error", "alert", p->error);
    anpi_buf_puts(&b, "<form method=\"post\" action=\"/console/login\" accept-charset=\"UTF-8\">\n");
    hidden(&b, "login_csrf", p->login_csrf);
    anpi_buf_puts(&b, "<label for=\"login\">ログイン名</label>\n"
                      "<input type=\"text\" id=\"login\" name=\"login\" autocomplete=\"username\" "
                      "autocapitalize=\"none\" spellcheck=\"false\" required maxlength=\"64\" value=\"");
    anpi_buf_put_html(&b, p->login ? p->login : "");
    anpi_buf_puts(&b, "\">\n<label for=\"password\">パスワード</label>\n"
                      "<input type=\"password\" id=\"password\" name=\"password\" "
                      "autocomplete=\"current-password\" required>\n"
                      "<label for=\"totp\">確認コード（6桁・設定している場合）</label>\n"
                      "<input type=\"text\" id=\"totp\" name=\"totp\" inputmode=\"numeric\" "
                      "autocomplete=\"one-time-code\" maxlength=\"8\" pattern=\"[0-9]*\">\n"
                      "<button type=\"submit\">サインイン</button>\n</form>\n");
    return finish(&b);
}

char *
anpi_console_home_page(const struct anpi_console_nav *nav, const json_t *history, bool remind, const char *notice)
{
    struct anpi_buf b;
    open_page(&b, nav, "管理コンソール");
    para(&b, "notice", "status", notice);
    if (remind)
        anpi_buf_puts(&b, "<p class=\"remind\" role=\"status\">パスワードの定期変更の時期です。"
                          "<a href=\"/console/password\">パスワードを変更する</a></p>\n");
    if (nav && nav->may_send)
        anpi_buf_puts(&b, "<p><a class=\"go\" href=\"/console/compose\">安否確認の配信を作成する</a></p>\n");
    anpi_buf_puts(&b, "<h2>最近の配信</h2>\n");
    const json_t *list = json_object_get(history, "broadcasts");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        anpi_buf_puts(&b, "<p>表示できる配信はありません。</p>\n");
        return finish(&b);
    }
    anpi_buf_puts(&b, "<ul class=\"b\">\n");
    size_t i;
    const json_t *row;
    json_array_foreach(list, i, row) {
        long long id = jint(row, "id");
        if (id <= 0)
            continue;
        anpi_buf_printf(&b, "<li><a href=\"/console/broadcasts/%lld\">", id);
        if (json_is_true(json_object_get(row, "drill")))
            anpi_buf_puts(&b, "<span class=\"drill\">訓練</span> ");
        const char *subject = jstr(row, "subject");
        if (*subject)
            anpi_buf_put_html(&b, subject);
        else
            anpi_buf_printf(&b, "配信 %lld", id);
        anpi_buf_puts(&b, "<br><span class=\"muted\">");
        put_time(&b, jstr(row, "created_at"));
        anpi_buf_puts(&b, " ");
        anpi_buf_put_html(&b, jstr(row, "created_by"));
        anpi_buf_printf(&b, " ・ 回答 %lld / %lld（%.1f%%）</span></a></li>\n", jint(row, "answered"),
                        jint(row, "recipients"), 100.0 * jrate(row, "answer_rate"));
    }
    anpi_buf_puts(&b, "</ul>\n");
    return finish(&b);
}

/* The counts of one question in one group, in the question's choice order
 * (jsonb objects sort their keys, which would scramble the choices). */
static void
group_answers(struct anpi_buf *b, const json_t *questions, const json_t *answers)
{
    size_t qi;
    const json_t *q;
    json_array_foreach(questions, qi, q) {
        const char *qid = jstr(q, "id");
        const json_t *counts = json_object_get(answers, qid);
        const json_t *choices = json_object_get(q, "choices");
        if (!json_is_array(choices))
            continue;
        anpi_buf_puts(b, "<p>");
        anpi_buf_put_html(b, *jstr(q, "text") ? jstr(q, "text") : qid);
        anpi_buf_puts(b, "</p>\n<ul>\n");
        size_t ci;
        const json_t *ch;
        json_array_foreach(choices, ci, ch) {
            const char *c = json_string_value(ch);
            if (!c)
                continue;
            anpi_buf_puts(b, "<li>");
            anpi_buf_put_html(b, c);
            anpi_buf_printf(b, ": %lld</li>\n", jint(counts, c));
        }
        anpi_buf_puts(b, "</ul>\n");
    }
}

/* A path segment of ours with a value from the database in it (a person
 * id in a form's action): everything but unreserved characters is
 * percent-encoded, then the result is escaped like any attribute. */
static void
put_segment(struct anpi_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~')
            anpi_buf_putc(b, (char)*p);
        else
            anpi_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

/* A person's latest answers, in the questions' order: "text: choice". */
static void
person_answers(struct anpi_buf *b, const json_t *questions, const json_t *answers)
{
    size_t qi;
    const json_t *q;
    bool any = false;
    json_array_foreach(questions, qi, q) {
        const char *choice = json_string_value(json_object_get(answers, jstr(q, "id")));
        if (!choice)
            continue;
        anpi_buf_puts(b, any ? " ・ " : "<br><span class=\"answer\">");
        anpi_buf_put_html(b, *jstr(q, "text") ? jstr(q, "text") : jstr(q, "id"));
        anpi_buf_puts(b, ": <b>");
        anpi_buf_put_html(b, choice);
        anpi_buf_puts(b, "</b>");
        any = true;
    }
    if (any)
        anpi_buf_puts(b, "</span>");
}

/* The link to another page of one list of people, the other list staying
 * where it is. */
static void
page_link(struct anpi_buf *b, long long bid, bool unanswered, long long to, long long other, bool live,
          const char *text, const char *rel)
{
    anpi_buf_printf(b, "<a rel=\"%s\" href=\"/console/broadcasts/%lld?u=%lld&amp;a=%lld%s\">%s</a>", rel, bid,
                    unanswered ? to : other, unanswered ? other : to, live ? "&amp;live=1" : "", text);
}

/* Where a list starts and the links to its neighbouring pages (ID order,
 * a page = the people the SQL gave, at most its "limit"). */
static void
page_nav(struct anpi_buf *b, long long bid, bool unanswered, const json_t *people, size_t shown, long long total,
         bool live)
{
    const json_t *list = json_object_get(people, unanswered ? "unanswered" : "answered");
    long long off = jint(list, "offset"), other = jint(json_object_get(people, unanswered ? "answered" : "unanswered"),
                                                     "offset");
    long long lim = jint(people, "limit");
    if (lim <= 0)
        lim = (long long)shown;
    bool prev = off > 0, next = off + (long long)shown < total;
    if (!prev && !next)
        return;
    anpi_buf_printf(b, "<p class=\"muted pages\">ID順に %lld〜%lld 人目を表示しています（全 %lld 人）。",
                    shown ? off + 1 : off, off + (long long)shown, total);
    if (prev) {
        anpi_buf_puts(b, " ");
        page_link(b, bid, unanswered, off > lim ? off - lim : 0, other, live, "← 前のページ", "prev");
    }
    if (next) {
        anpi_buf_puts(b, " ");
        page_link(b, bid, unanswered, off + (long long)shown, other, live, "次のページ →", "next");
    }
    anpi_buf_puts(b, "</p>\n");
}

/* One list of people (answered or not) with a write-back form each. */
static void
people_list(struct anpi_buf *b, const struct anpi_console_nav *nav, long long bid, const json_t *questions,
            const json_t *all, bool unanswered, bool forms)
{
    const json_t *list = json_object_get(all, unanswered ? "unanswered" : "answered");
    const char *title = unanswered ? "未回答" : "回答済み";
    const char *cls = unanswered ? "unanswered-people" : "answered-people";
    bool live = nav && nav->refresh_s > 0;
    const json_t *people = json_object_get(list, "people");
    long long total = jint(list, "total");
    size_t shown = json_is_array(people) ? json_array_size(people) : 0;
    anpi_buf_printf(b, "<h2>%s（%lld人）</h2>\n", title, total);
    if (shown == 0 && total > 0) {
        /* a page past the end (the list shrank since the link was made) */
        anpi_buf_puts(b, "<p>このページには誰もいません。 ");
        page_link(b, bid, unanswered, 0, jint(json_object_get(all, unanswered ? "answered" : "unanswered"), "offset"),
                  live, "最初のページへ", "first");
        anpi_buf_puts(b, "</p>\n");
        return;
    }
    if (shown == 0) {
        anpi_buf_puts(b, "<p>いません。</p>\n");
        return;
    }
    page_nav(b, bid, unanswered, all, shown, total, live);
    anpi_buf_printf(b, "<ul class=\"p %s\">\n", cls);
    size_t i;
    const json_t *p;
    json_array_foreach(people, i, p) {
        const char *id = jstr(p, "id");
        if (!*id)
            continue;
        anpi_buf_puts(b, "<li><b>");
        anpi_buf_put_html(b, jstr(p, "name"));
        anpi_buf_puts(b, "</b> <span class=\"muted pid\">");
        anpi_buf_put_html(b, id);
        anpi_buf_puts(b, "</span>");
        if (json_is_array(questions))
            person_answers(b, questions, json_object_get(p, "answers"));
        const char *wb = jstr(p, "written_back");
        if (*wb) {
            anpi_buf_puts(b, "<br><span class=\"muted\">送ったメッセージ: ");
            anpi_buf_put_html(b, wb);
            anpi_buf_puts(b, "</span>");
        }
        if (forms) {
            anpi_buf_printf(b, "\n<details><summary>メッセージを送る</summary>"
                               "<form method=\"post\" action=\"/console/broadcasts/%lld/people/", bid);
            struct anpi_buf seg;
            anpi_buf_init(&seg, 1024);
            put_segment(&seg, id);
            char *s = anpi_buf_steal(&seg);
            anpi_buf_put_html(b, s ? s : "");
            free(s);
            anpi_buf_puts(b, "/message\" accept-charset=\"UTF-8\">");
            hidden(b, "csrf", nav->csrf);
            anpi_buf_puts(b, "<textarea name=\"text\" maxlength=\"2000\" required "
                             "aria-label=\"メッセージ\"></textarea>"
                             "<button type=\"submit\">送信する</button></form></details>");
        }
        anpi_buf_puts(b, "</li>\n");
    }
    anpi_buf_puts(b, "</ul>\n");
    page_nav(b, bid, unanswered, all, shown, total, live);
}

char *
anpi_console_tally_page(const struct anpi_console_nav *nav, const json_t *broadcast, const json_t *groups,
                        const json_t *people, const char *notice)
{
    struct anpi_buf b;
    const char *subject = jstr(broadcast, "subject");
    long long bid = jint(broadcast, "id");
    bool safety = strcmp(jstr(broadcast, "kind"), "safety") == 0;
    bool live = nav && nav->refresh_s > 0;
    /* A reload would lose a message being typed: the live view has no forms. */
    bool forms = nav && nav->may_send && safety && bid > 0 && !live;
    open_page(&b, nav, *subject ? subject : "配信の集計");
    para(&b, "notice", "status", notice);
    if (bid > 0) {
        if (live)
            anpi_buf_printf(&b, "<p class=\"live\">%d 秒ごとに自動更新しています。 "
                                "<a href=\"/console/broadcasts/%lld\">自動更新を止める</a></p>\n",
                            nav->refresh_s, bid);
        else
            anpi_buf_printf(&b, "<p class=\"live\"><a href=\"/console/broadcasts/%lld?live=1\">"
                                "自動更新する</a></p>\n", bid);
    }
    if (json_is_true(json_object_get(broadcast, "drill")))
        anpi_buf_puts(&b, "<p><span class=\"drill\">訓練</span> この配信は訓練です。</p>\n");
    anpi_buf_puts(&b, "<p class=\"muted\">");
    put_time(&b, jstr(broadcast, "created_at"));
    anpi_buf_puts(&b, " ");
    anpi_buf_put_html(&b, jstr(broadcast, "created_by"));
    anpi_buf_puts(&b, "</p>\n");

    const json_t *questions = json_object_get(broadcast, "questions");
    const json_t *unanswered = json_object_get(people, "unanswered");
    if (forms && jint(unanswered, "total") > 0) {
        /* The count is of the people this account reaches: a group admin
         * resends to its own unanswered people only (the SQL decides). */
        anpi_buf_printf(&b, "<form class=\"actions resend\" method=\"post\" action=\"/console/broadcasts/%lld/resend\">\n",
                        bid);
        hidden(&b, "csrf", nav->csrf);
        anpi_buf_printf(&b, "<button type=\"submit\">未回答の %lld 人に再送する</button>\n</form>\n",
                        jint(unanswered, "total"));
    }

    const json_t *list = json_object_get(groups, "groups");
    anpi_buf_puts(&b, "<h2>グループ別の集計</h2>\n");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        anpi_buf_puts(&b, "<p>表示できるグループはありません。</p>\n");
    } else {
        size_t i;
        const json_t *g;
        json_array_foreach(list, i, g) {
            anpi_buf_puts(&b, "<section class=\"g\">\n<h3>");
            const char *path = jstr(g, "path");
            anpi_buf_put_html(&b, *path ? path : jstr(g, "name"));
            anpi_buf_printf(&b,
                            "</h3>\n<p>対象 %lld ・ 回答 <b class=\"answered\">%lld</b> ・ 未回答 "
                            "<b class=\"unanswered\">%lld</b> ・ 回答率 %.1f%%</p>\n",
                            jint(g, "recipients"), jint(g, "answered"), jint(g, "unanswered"),
                            100.0 * jrate(g, "answer_rate"));
            if (json_is_array(questions))
                group_answers(&b, questions, json_object_get(g, "answers"));
            anpi_buf_puts(&b, "</section>\n");
        }
    }
    if (people) {
        people_list(&b, nav, bid, questions, people, true, forms);
        people_list(&b, nav, bid, questions, people, false, forms);
    }
    return finish(&b);
}

/* --- composing a broadcast ---------------------------------------------------- */

static void
text_input(struct anpi_buf *b, const char *id, const char *label, const char *value, const char *extra)
{
    anpi_buf_printf(b, "<label for=\"%s\">%s</label>\n<input type=\"text\" id=\"%s\" name=\"%s\" %s value=\"", id,
                    label, id, id, extra);
    anpi_buf_put_html(b, value ? value : "");
    anpi_buf_puts(b, "\">\n");
}

static void
text_area(struct anpi_buf *b, const char *id, const char *label, const char *value, const char *extra)
{
    anpi_buf_printf(b, "<label for=\"%s\">%s</label>\n<textarea id=\"%s\" name=\"%s\" %s>", id, label, id, id,
                    extra);
    anpi_buf_put_html(b, value ? value : "");
    anpi_buf_puts(b, "</textarea>\n");
}

static void
check_box(struct anpi_buf *b, const char *cls, const char *name, const char *value, bool on)
{
    anpi_buf_printf(b, "<label class=\"c%s%s\"><input type=\"checkbox\" name=\"%s\" value=\"", cls ? " " : "",
                    cls ? cls : "", name);
    anpi_buf_put_html(b, value);
    anpi_buf_printf(b, "\"%s> ", on ? " checked" : "");
}

static bool
is_checked(const struct anpi_console_compose *f, long long id)
{
    for (size_t i = 0; i < f->n_checked; i++)
        if (f->checked[i] == id)
            return true;
    return false;
}

char *
anpi_console_compose_page(const struct anpi_console_nav *nav, const struct anpi_console_compose *f)
{
    struct anpi_buf b;
    open_page(&b, nav, "配信を作成");
    if (f->error) {
        anpi_buf_puts(&b, "<p class=\"error\" role=\"alert\">入力を確認してください: ");
        anpi_buf_put_html(&b, f->error);
        anpi_buf_puts(&b, "</p>\n");
    }
    if (f->previewed) {
        anpi_buf_printf(&b, "<div class=\"notice preview\" role=\"status\"><p>この宛先では "
                            "<b class=\"count\">%lld</b> 人に届きます（%lld people would be asked）。</p>\n",
                        f->preview_count, f->preview_count);
        size_t n = json_is_array(f->preview_sample) ? json_array_size(f->preview_sample) : 0;
        if (n) {
            anpi_buf_printf(&b, "<p class=\"muted\">先頭の %zu 人: <span class=\"sample\">", n);
            for (size_t i = 0; i < n; i++) {
                const char *id = json_string_value(json_array_get(f->preview_sample, i));
                if (!id)
                    continue;
                if (i)
                    anpi_buf_puts(&b, ", ");
                anpi_buf_put_html(&b, id);
            }
            anpi_buf_puts(&b, "</span></p>\n");
        }
        anpi_buf_puts(&b, "</div>\n");
    }
    anpi_buf_puts(&b, "<form method=\"post\" action=\"/console/compose\" accept-charset=\"UTF-8\">\n");
    hidden(&b, "csrf", f->csrf);
    text_input(&b, "subject", "件名", f->subject, "maxlength=\"300\"");
    text_area(&b, "body", "本文", f->body, "maxlength=\"16384\" rows=\"6\"");
    anpi_buf_puts(&b, "<p class=\"muted\">{{person.name}} は宛先の氏名に置き換わります。"
                      "回答用のリンクは本文の末尾に自動で付きます。</p>\n");
    for (int i = 0; i < ANPI_CONSOLE_QUESTIONS; i++) {
        char id[16], label[64];
        anpi_buf_printf(&b, "<fieldset class=\"q\"><legend>質問 %d%s</legend>\n", i + 1, i ? "（任意）" : "");
        snprintf(id, sizeof(id), "q%d_text", i + 1);
        snprintf(label, sizeof(label), "質問文");
        text_input(&b, id, label, f->q_text[i], "maxlength=\"500\"");
        snprintf(id, sizeof(id), "q%d_choices", i + 1);
        snprintf(label, sizeof(label), "選択肢（1行に1つ、2〜10個）");
        text_area(&b, id, label, f->q_choices[i], "rows=\"4\"");
        anpi_buf_puts(&b, "</fieldset>\n");
    }

    anpi_buf_puts(&b, "<fieldset class=\"audience\"><legend>宛先</legend>\n");
    if (f->n_groups == 0) {
        anpi_buf_puts(&b, "<p>選べるグループはありません。</p>\n");
    } else {
        anpi_buf_puts(&b, "<p class=\"muted\">グループ</p>\n<div class=\"groups\">\n");
        for (size_t i = 0; i < f->n_groups; i++) {
            const struct anpi_console_group *g = &f->groups[i];
            char cls[8], val[24];
            int d = g->depth < 0 ? 0 : g->depth > 7 ? 7 : g->depth;
            snprintf(cls, sizeof(cls), "d%d", d);
            snprintf(val, sizeof(val), "%lld", g->id);
            check_box(&b, d ? cls : NULL, "group", val, is_checked(f, g->id));
            anpi_buf_put_html(&b, g->name ? g->name : "");
            anpi_buf_puts(&b, "</label>\n");
        }
        anpi_buf_puts(&b, "</div>\n");
        if (f->groups_total > f->n_groups)
            anpi_buf_printf(&b, "<p class=\"muted\">グループが多いため先頭の %zu 件だけを表示しています"
                                "（全 %zu 件）。ほかのグループは API で指定してください。</p>\n",
                            f->n_groups, f->groups_total);
        check_box(&b, NULL, "subgroups", "1", f->subgroups);
        anpi_buf_puts(&b, "下位グループも含める</label>\n");
    }
    text_input(&b, "people", "個人（ID をカンマか空白で区切る）", f->people,
               "autocapitalize=\"none\" spellcheck=\"false\"");
    text_input(&b, "regions", "地域（都道府県コード 13 や市区町村コード 13101、カンマか空白で区切る）", f->regions,
               "inputmode=\"numeric\"");
    anpi_buf_printf(&b, "<label class=\"c\"><input type=\"radio\" name=\"match\" value=\"any\"%s> "
                        "どれかに当てはまる人（グループ・地域・個人の和）</label>\n"
                        "<label class=\"c\"><input type=\"radio\" name=\"match\" value=\"all\"%s> "
                        "グループと地域の両方に当てはまる人</label>\n",
                    f->match_all ? "" : " checked", f->match_all ? " checked" : "");
    anpi_buf_puts(&b, "</fieldset>\n");
    check_box(&b, NULL, "drill", "1", f->drill);
    anpi_buf_puts(&b, "訓練として送る</label>\n");
    /* Enter in a text field submits with the first button: the harmless one. */
    anpi_buf_puts(&b, "<div class=\"actions\">\n"
                      "<button type=\"submit\" name=\"action\" value=\"preview\">宛先の人数を確認する</button>\n"
                      "<button type=\"submit\" name=\"action\" value=\"send\">送信する</button>\n"
                      "</div>\n</form>\n");
    return finish(&b);
}

char *
anpi_console_password_page(const struct anpi_console_nav *nav, const struct anpi_console_password_page *p)
{
    struct anpi_buf b;
    open_page(&b, nav, "パスワード変更");
    if (p->forced)
        anpi_buf_puts(&b, "<p class=\"remind\" role=\"status\">初期パスワードのままです。"
                          "ほかの画面を使う前に、新しいパスワードに変更してください。</p>\n");
    para(&b, "notice", "status", p->notice);
    para(&b, "error", "alert", p->error);
    anpi_buf_puts(&b, "<form method=\"post\" action=\"/console/password\" accept-charset=\"UTF-8\">\n");
    hidden(&b, "csrf", p->csrf);
    anpi_buf_puts(&b, "<label for=\"current\">現在のパスワード</label>\n"
                      "<input type=\"password\" id=\"current\" name=\"current\" "
                      "autocomplete=\"current-password\" required>\n"
                      "<label for=\"new\">新しいパスワード</label>\n"
                      "<input type=\"password\" id=\"new\" name=\"new\" autocomplete=\"new-password\" required>\n"
                      "<label for=\"repeat\">新しいパスワード（確認）</label>\n"
                      "<input type=\"password\" id=\"repeat\" name=\"repeat\" autocomplete=\"new-password\" "
                      "required>\n<p class=\"muted\">12文字以上で、英小文字・英大文字・数字・記号のうち3種類以上。"
                      "ログイン名や最近使ったパスワードは使えません。</p>\n"
                      "<button type=\"submit\">変更する</button>\n</form>\n");
    return finish(&b);
}

char *
anpi_console_message_page(const struct anpi_console_nav *nav, const char *title, const char *text,
                          const char *href, const char *link_text)
{
    struct anpi_buf b;
    open_page(&b, nav, title);
    para(&b, "message", NULL, text);
    if (href && link_text) {
        anpi_buf_puts(&b, "<p><a href=\"");
        anpi_buf_put_html(&b, href);
        anpi_buf_puts(&b, "\">");
        anpi_buf_put_html(&b, link_text);
        anpi_buf_puts(&b, "</a></p>\n");
    }
    return finish(&b);
}

/* --- responses ---------------------------------------------------------------- */

void
anpi_console_respond(struct anpi_http_req *req, unsigned status, char *html)
{
    /* The server adds most of these to any HTML page already; set them here
     * too so the console never depends on those defaults. */
    anpi_http_set_header(req, "Cache-Control", "no-store");
    anpi_http_set_header(req, "X-Frame-Options", "DENY");
    anpi_http_set_header(req, "Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                         "frame-ancestors 'none'");
    anpi_http_set_header(req, "Referrer-Policy", "no-referrer");
    anpi_http_set_header(req, "X-Content-Type-Options", "nosniff");
    anpi_http_respond(req, status, "text/html; charset=utf-8", html ? html : "", html ? strlen(html) : 0);
    free(html);
}

void
anpi_console_redirect(struct anpi_http_req *req, const char *location)
{
    /* Only our own absolute paths: never a redirect built from outside input. */
    if (!location || location[0] != '/' || location[1] == '/' || location[1] == '\\')
        location = "/console/";
    anpi_http_set_header(req, "Location", location);
    anpi_console_respond(req, 303,
                         anpi_console_message_page(NULL, "移動します", "次の画面に移動します。", location, "次へ"));
}
