/* pages.h - the public HTML pages (reply form, approval confirmation, plain
 * messages).  Plain HTML forms that work with no script and no cookies on any
 * old phone browser; UTF-8; Japanese UI.  Every value is HTML-escaped. */
#ifndef ANPI_ADMIN_API_PAGES_H
#define ANPI_ADMIN_API_PAGES_H

#include <stdbool.h>
#include <stddef.h>

/* Radio inputs are named by the question id, with the choice text as value;
 * the free comment is the field "comment". */
struct anpi_page_question { const char *id; const char *text; size_t nchoices;
                            const char *const *choices; const char *current; /* NULL = unanswered */ };
struct anpi_reply_page {
    const char *title;         /* e.g. "安否確認" */
    const char *intro;         /* message text shown above the form (plain text, escaped, newlines -> <br>) */
    const char *person_name;   /* "試験 太郎 さん" shown, escaped */
    const char *action;        /* form action URL (the same /r/{token}) */
    size_t nquestions; const struct anpi_page_question *questions;
    const char *comment;       /* current free comment or NULL */
    const char *notice;        /* e.g. "回答を受け付けました。変更する場合は再度送信してください。" or NULL */
    const char *drill_banner;  /* "【訓練】..." or NULL */
    const char *const *history;   /* previous answers as text lines, may be NULL */
    size_t nhistory;
};
char *anpi_page_reply(const struct anpi_reply_page *p);         /* malloc'd HTML */

/* Approval link page: GET shows incident summary and a confirm button (a POST
 * form with hidden field decision=approve|reject), so that mail scanners that
 * prefetch links never approve anything.  done = show the notice only, no
 * form.  NULL if decision is neither "approve" nor "reject". */
struct anpi_approval_page { const char *action; const char *decision /* "approve"|"reject" */;
    const char *incident_title; const char *summary; const char *notice; bool done; };
char *anpi_page_approval(const struct anpi_approval_page *p);
char *anpi_page_message(const char *title, const char *text);   /* errors: expired/unknown link */

#endif
