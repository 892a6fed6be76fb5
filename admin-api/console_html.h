/* console_html.h - the admin console's HTML pages: sign-in, home (recent
 * broadcasts), composing a broadcast, one broadcast (per-group tally, its
 * people, resend and write-back forms), password change, messages.
 *
 * Phone-first plain forms: no script, no external assets, inline CSS only
 * (the Content-Security-Policy allows nothing else), UTF-8, Japanese UI.
 * Every value that reaches a page is HTML-escaped, including the data from
 * the database (subjects, group names and choices are typed by people).
 * Every state-changing form carries a CSRF token in the hidden field
 * "csrf" (the sign-in form: "login_csrf", bound to a pre-session cookie). */
#ifndef ANPI_ADMIN_API_CONSOLE_HTML_H
#define ANPI_ADMIN_API_CONSOLE_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "admin-api/http.h"

/* The signed-in account shown at the top of every page, with the sign-out
 * form (which needs the session's CSRF token).  NULL nav = signed out. */
struct anpi_console_nav {
    const char *login;
    const char *role;
    const char *csrf;       /* the session's token; "" for a bearer-token caller */
    bool may_send;          /* the role may compose, resend and write back: links and forms shown */
    int refresh_s;          /* > 0: the page reloads itself this often (a live tally) */
};

struct anpi_console_login_page {
    const char *login;        /* the login typed before (refilled), or NULL */
    const char *login_csrf;   /* hidden field value bound to the anpi_login cookie */
    const char *error;        /* why the last attempt failed, or NULL */
    const char *notice;       /* e.g. "signed out", or NULL */
};
char *anpi_console_login_page(const struct anpi_console_login_page *p);

/* history is the object of anpi_broadcasts_json(): {"broadcasts": [{"id",
 * "subject", "kind", "drill", "created_by", "created_at", "recipients",
 * "answered", "answer_rate"}...]}.  Missing or mistyped members are shown
 * as blanks, never trusted.  remind shows the password-change banner;
 * notice (or NULL) a confirmation such as "password changed". */
char *anpi_console_home_page(const struct anpi_console_nav *nav, const json_t *history, bool remind,
                             const char *notice);

/* broadcast: anpi_broadcast_json() (id, subject, kind, drill, questions
 * with their choices, totals); groups: anpi_broadcast_groups_json()
 * ({"groups": [{"name", "path", "recipients", "answered", "unanswered",
 * "answer_rate", "answers": {qid: {choice: n}}}]}).  Choices are listed in
 * the question's order.  people: anpi_console_people_json() ({"limit",
 * "unanswered": {"total", "people": [...]}, "answered": {...}}, each person
 * {"id", "name", "answers": {qid: choice}, "written_back"}), or NULL for no
 * lists.  With nav->may_send the page has the resend form and a write-back
 * form per person (safety broadcasts only).  notice: a confirmation or NULL. */
char *anpi_console_tally_page(const struct anpi_console_nav *nav, const json_t *broadcast, const json_t *groups,
                              const json_t *people, const char *notice);

/* --- composing a broadcast ---------------------------------------------------- */

#define ANPI_CONSOLE_QUESTIONS 3   /* question slots on the form */

/* One group of the audience list, in tree order (parents before children). */
struct anpi_console_group {
    long long id;
    const char *name;
    const char *path;
    int depth;              /* 0 = a top group of what the caller sees */
};

/* The compose form as shown: the caller's input (kept after an error or a
 * preview, escaped like everything else), the groups it may pick, and what
 * the last preview found. */
struct anpi_console_compose {
    const char *csrf;
    const char *subject, *body;
    const char *q_text[ANPI_CONSOLE_QUESTIONS];
    const char *q_choices[ANPI_CONSOLE_QUESTIONS];   /* one choice per line */
    const char *people;          /* person ids as typed */
    const char *regions;         /* region codes as typed */
    const long long *checked;    /* group ids ticked */
    size_t n_checked;
    bool subgroups, match_all, drill;
    const struct anpi_console_group *groups;
    size_t n_groups;
    size_t groups_total;         /* more than n_groups: the list was cut (a note says so) */
    const char *error;           /* why the last post was refused, or NULL */
    bool previewed;              /* show the preview: */
    long long preview_count;     /*   how many people would be asked */
    const json_t *preview_sample;/*   the first person ids (array of strings) */
};
char *anpi_console_compose_page(const struct anpi_console_nav *nav, const struct anpi_console_compose *f);

struct anpi_console_password_page {
    const char *csrf;        /* the session's token for the hidden field */
    const char *error;       /* why the last attempt failed, or NULL */
    const char *notice;      /* e.g. "changed", or NULL */
    bool forced;             /* an initial password: explain that it must be changed first */
};
char *anpi_console_password_page(const struct anpi_console_nav *nav, const struct anpi_console_password_page *p);

/* A message page (errors, refusals) with an optional link (href and text
 * both non-NULL). */
char *anpi_console_message_page(const struct anpi_console_nav *nav, const char *title, const char *text,
                                const char *href, const char *link_text);

/* Answer with a console page: sets the console's security headers
 * (Cache-Control: no-store, X-Frame-Options: DENY, the CSP, Referrer-Policy)
 * and frees html. */
void anpi_console_respond(struct anpi_http_req *req, unsigned status, char *html);

/* 303 See Other to a path of this server (the console's own pages only). */
void anpi_console_redirect(struct anpi_http_req *req, const char *location);

#endif
