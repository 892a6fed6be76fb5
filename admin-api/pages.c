/* pages.c - the public HTML pages: reply form, approval confirmation, plain
 * messages.
 *
 * They must work on any old phone browser with no script and no cookies:
 * plain forms, UTF-8, a viewport meta, big tap targets and a little inline
 * CSS (the server's Content-Security-Policy allows inline style only). */
#include "admin-api/pages.h"

#include <stdlib.h>
#include <string.h>

#include "engine/buf.h"

/* Pages are built from our own data (rules, directory), but names and
 * comments come from people: cap anyway so a runaway row cannot make a
 * page of unbounded size. */
#define PAGE_MAX (4 * 1024 * 1024)

static const char page_css[] =
    "body{font-family:sans-serif;margin:0;padding:0 12px;line-height:1.6;"
    "max-width:40em;margin:auto;color:#111;background:#fff}"
    "h1{font-size:1.4em}"
    ".drill{background:#ffd84d;padding:.6em;font-weight:bold;font-size:1.1em}"
    ".notice{background:#dff3df;border:1px solid #5a5;padding:.6em}"
    "fieldset{border:1px solid #999;margin:1em 0;padding:.5em}"
    "legend{font-weight:bold;font-size:1.1em}"
    "label.c{display:block;padding:.8em;margin:.4em 0;border:1px solid #aaa;"
    "border-radius:6px;font-size:1.1em}"
    "label.c input{transform:scale(1.4);margin-right:.8em}"
    "textarea{width:100%;box-sizing:border-box;font-size:1em}"
    "button{display:block;width:100%;padding:1em;margin:1em 0;font-size:1.2em;"
    "border-radius:6px}"
    ".history{color:#444;font-size:.95em}";

static void
head(struct anpi_buf *b, const char *title)
{
    anpi_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"referrer\" content=\"no-referrer\">\n"
                     "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>");
    anpi_buf_put_html(b, title ? title : "");
    anpi_buf_puts(b, "</title>\n<style>");
    anpi_buf_puts(b, page_css);
    anpi_buf_puts(b, "</style>\n</head>\n<body>\n<main>\n");
}

static char *
finish(struct anpi_buf *b)
{
    anpi_buf_puts(b, "</main>\n</body>\n</html>\n");
    return anpi_buf_steal(b);
}

/* Escaped text with newlines (LF, CRLF or CR) turned into <br>. */
static void
put_text_br(struct anpi_buf *b, const char *s)
{
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        char *piece = anpi_xstrndup(p, n);
        anpi_buf_put_html(b, piece);
        free(piece);
        p += n;
        if (*p == '\r' && p[1] == '\n')
            p++;
        if (*p) {
            anpi_buf_puts(b, "<br>\n");
            p++;
        }
    }
}

static void
para(struct anpi_buf *b, const char *cls, const char *text)
{
    if (!text)
        return;
    anpi_buf_printf(b, "<p class=\"%s\">", cls);
    put_text_br(b, text);
    anpi_buf_puts(b, "</p>\n");
}

char *
anpi_page_reply(const struct anpi_reply_page *p)
{
    struct anpi_buf b;
    anpi_buf_init(&b, PAGE_MAX);
    head(&b, p->title);
    para(&b, "drill", p->drill_banner);
    anpi_buf_puts(&b, "<h1>");
    anpi_buf_put_html(&b, p->title ? p->title : "");
    anpi_buf_puts(&b, "</h1>\n");
    if (p->notice) {
        anpi_buf_puts(&b, "<p class=\"notice\" role=\"status\">");
        put_text_br(&b, p->notice);
        anpi_buf_puts(&b, "</p>\n");
    }
    para(&b, "name", p->person_name);
    para(&b, "intro", p->intro);

    anpi_buf_puts(&b, "<form method=\"post\" action=\"");
    anpi_buf_put_html(&b, p->action ? p->action : "");
    anpi_buf_puts(&b, "\" accept-charset=\"UTF-8\">\n");
    for (size_t i = 0; i < p->nquestions; i++) {
        const struct anpi_page_question *q = &p->questions[i];
        anpi_buf_puts(&b, "<fieldset>\n<legend>");
        anpi_buf_put_html(&b, q->text ? q->text : "");
        anpi_buf_puts(&b, "</legend>\n");
        for (size_t c = 0; c < q->nchoices; c++) {
            const char *choice = q->choices[c] ? q->choices[c] : "";
            bool checked = q->current && strcmp(q->current, choice) == 0;
            anpi_buf_puts(&b, "<label class=\"c\"><input type=\"radio\" name=\"");
            anpi_buf_put_html(&b, q->id ? q->id : "");
            anpi_buf_puts(&b, "\" value=\"");
            anpi_buf_put_html(&b, choice);
            anpi_buf_puts(&b, checked ? "\" checked> " : "\"> ");
            anpi_buf_put_html(&b, choice);
            anpi_buf_puts(&b, "</label>\n");
        }
        anpi_buf_puts(&b, "</fieldset>\n");
    }
    anpi_buf_puts(&b, "<p><label for=\"comment\">コメント（任意）</label><br>\n"
                      "<textarea id=\"comment\" name=\"comment\" rows=\"3\">");
    /* Textarea content is text, not markup: escaped, newlines kept as is. */
    anpi_buf_put_html(&b, p->comment ? p->comment : "");
    anpi_buf_puts(&b, "</textarea></p>\n<button type=\"submit\">送信する</button>\n</form>\n");

    if (p->history && p->nhistory) {
        anpi_buf_puts(&b, "<section class=\"history\">\n<h2>これまでの回答</h2>\n<ul>\n");
        for (size_t i = 0; i < p->nhistory; i++) {
            anpi_buf_puts(&b, "<li>");
            put_text_br(&b, p->history[i] ? p->history[i] : "");
            anpi_buf_puts(&b, "</li>\n");
        }
        anpi_buf_puts(&b, "</ul>\n</section>\n");
    }
    return finish(&b);
}

char *
anpi_page_approval(const struct anpi_approval_page *p)
{
    const char *decision = p->decision ? p->decision : "";
    bool approve = strcmp(decision, "approve") == 0;
    if (!approve && strcmp(decision, "reject") != 0)
        return NULL;
    const char *verb = approve ? "承認" : "却下";

    struct anpi_buf b;
    anpi_buf_init(&b, PAGE_MAX);
    head(&b, approve ? "配信の承認" : "配信の却下");
    anpi_buf_printf(&b, "<h1>配信の%s</h1>\n", verb);
    if (p->notice) {
        anpi_buf_puts(&b, "<p class=\"notice\" role=\"status\">");
        put_text_br(&b, p->notice);
        anpi_buf_puts(&b, "</p>\n");
    }
    if (p->incident_title) {
        anpi_buf_puts(&b, "<h2>");
        anpi_buf_put_html(&b, p->incident_title);
        anpi_buf_puts(&b, "</h2>\n");
    }
    para(&b, "summary", p->summary);
    if (!p->done) {
        /* A GET never decides anything: only this POST does. */
        anpi_buf_printf(&b, "<p>この内容で配信を%sしますか？</p>\n", verb);
        anpi_buf_puts(&b, "<form method=\"post\" action=\"");
        anpi_buf_put_html(&b, p->action ? p->action : "");
        anpi_buf_puts(&b, "\" accept-charset=\"UTF-8\">\n");
        anpi_buf_printf(&b, "<input type=\"hidden\" name=\"decision\" value=\"%s\">\n",
                        approve ? "approve" : "reject");
        anpi_buf_printf(&b, "<button type=\"submit\">%sする</button>\n</form>\n", verb);
    }
    return finish(&b);
}

char *
anpi_page_message(const char *title, const char *text)
{
    struct anpi_buf b;
    anpi_buf_init(&b, PAGE_MAX);
    head(&b, title);
    anpi_buf_puts(&b, "<h1>");
    anpi_buf_put_html(&b, title ? title : "");
    anpi_buf_puts(&b, "</h1>\n");
    para(&b, "message", text);
    return finish(&b);
}
