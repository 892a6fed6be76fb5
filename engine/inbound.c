/* inbound.c - bounces and mail replies from the inbound LMTP listener.
 *
 * A local MTA delivers two kinds of mail here:
 *   - to the VERP envelope senders of our messages (<local>+d<id>.<mac>@...):
 *     bounces; the DSN is parsed and each failed recipient marks its
 *     delivery bounced (hard) or notes the delay (soft);
 *   - to smtp.from itself: replies from people whose phones cannot open the
 *     link; the In-Reply-To Message-ID names the delivery and the first line
 *     ("1", "無事", "１．") is the answer to the first question.
 * The LMTP answer for each recipient is sent only after the database has
 * the result (451 if it could not be stored, so the MTA retries). */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "channels/dsn.h"
#include "channels/lmtp.h"
#include "channels/mailreply.h"
#include "channels/verp.h"
#include "admin-api/endpoints/tallycache.h"
#include "engine/anpi.h"
#include "engine/log.h"

struct inbound_msg {
    struct anpi_engine *e;
    anpi_lmtp_done done;
    void *done_arg;
    size_t nrcpts;
    int *codes;
    unsigned pending;              /* database calls still out */
};

struct inbound_call {
    struct inbound_msg *m;
    size_t rcpt;                   /* which recipient's code this decides */
    char msgid[160];
    char *line;
};

static void
msg_step_done(struct inbound_msg *m)
{
    if (--m->pending > 0)
        return;
    m->done(m->done_arg, m->codes, m->nrcpts);
    free(m->codes);
    free(m);
}

static void
bounce_stored(void *arg, const PGresult *res, const char *err)
{
    struct inbound_call *c = arg;
    (void)res;
    if (err)
        c->m->codes[c->rcpt] = 451;
    msg_step_done(c->m);
    free(c);
}

static void
reply_stored(void *arg, const PGresult *res, const char *err)
{
    struct inbound_call *c = arg;
    if (err) {
        c->m->codes[c->rcpt] = 451;
    } else {
        anpi_info(ANPI_LG_SMTP, "mail reply to %s: %s", c->msgid, PQgetvalue(res, 0, 0));
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        const char *result = json_string_value(json_object_get(j, "result"));
        if (result && strcmp(result, "recorded") == 0) {
            c->m->e->m.answers++;
            /* this node's tallies show the answer at once */
            anpi_tally_invalidate((long long)json_integer_value(json_object_get(j, "broadcast_id")));
        }
        json_decref(j);
    }
    free(c->line);
    msg_step_done(c->m);
    free(c);
}

static void
choices_read(void *arg, const PGresult *res, const char *err)
{
    struct inbound_call *c = arg;
    struct inbound_msg *m = c->m;
    if (err) {
        m->codes[c->rcpt] = 451;
        free(c->line);
        msg_step_done(m);
        free(c);
        return;
    }
    /* "{無事,軽傷,重傷}" -> choices (PostgreSQL array text; choices never hold , { } " here
     * because the rule loader refuses nothing of the sort, so parse quotes too) */
    const char *t = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "{}";
    char *copy = anpi_xstrdup(t);
    const char *choices[16];
    size_t n = 0;
    char *p = copy + (copy[0] == '{');
    while (*p && *p != '}' && n < ANPI_ARRAY_LEN(choices)) {
        char *start = p;
        if (*p == '"') {
            start = ++p;
            while (*p && *p != '"')
                p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p)
                *p++ = '\0';
        } else {
            while (*p && *p != ',' && *p != '}')
                p++;
        }
        char sep = *p;
        if (sep == ',' || sep == '}')
            *p++ = '\0';
        choices[n++] = start;
        if (sep == '}')
            break;
    }
    int idx = anpi_mailreply_choice(c->line, choices, n);
    free(copy);
    char is[16];
    snprintf(is, sizeof(is), "%d", idx);
    const char *prm[3] = { c->msgid, is, c->line };
    anpi_db_query(m->e->db, "SELECT anpi_mail_reply($1, $2::int, $3)::text", 3, prm, reply_stored, c);
}

/* "anpi.12.34.abcdef012345.0@example.jp" -> "12.34.abcdef012345.0" */
static bool
our_message_id(const char *mid, char *out, size_t len)
{
    if (!mid || strncmp(mid, "anpi.", 5) != 0)
        return false;
    const char *at = strchr(mid, '@');
    if (!at || (size_t)(at - mid - 5) >= len || at == mid + 5)
        return false;
    snprintf(out, len, "%.*s", (int)(at - mid - 5), mid + 5);
    return true;
}

static void
handle_bounce(struct inbound_msg *m, size_t i, int64_t delivery, const char *data, size_t len)
{
    struct anpi_dsn dsn = { 0 };
    char err[256] = "";
    int rc = anpi_dsn_parse(data, len, &dsn, err, sizeof(err));
    if (rc == ANPI_DECLINED) {
        anpi_info(ANPI_LG_SMTP, "bounce for delivery %lld not understood; address left as it is",
                  (long long)delivery);
    } else if (rc != ANPI_OK) {
        anpi_warn(ANPI_LG_SMTP, "malformed bounce for delivery %lld: %s", (long long)delivery, err);
    } else {
        for (size_t k = 0; k < dsn.nrcpts; k++) {
            const struct anpi_dsn_rcpt *r = &dsn.rcpts[k];
            const char *cls = anpi_dsn_class_name(r->cls);
            if (strcmp(cls, "hard") != 0 && strcmp(cls, "soft") != 0)
                continue;
            struct inbound_call *c = anpi_xcalloc(1, sizeof(*c));
            c->m = m;
            c->rcpt = i;
            char id[32];
            snprintf(id, sizeof(id), "%lld", (long long)delivery);
            const char *prm[4] = { id, cls, r->status, r->diagnostic ? r->diagnostic : "" };
            m->pending++;
            anpi_db_query(m->e->db, "SELECT anpi_bounce($1::bigint, $2, $3, $4)", 4, prm, bounce_stored, c);
            /* one delivery per VERP address: the first classified entry decides */
            break;
        }
    }
    anpi_dsn_free(&dsn);
}

static void
handle_reply(struct inbound_msg *m, size_t i, const char *data, size_t len)
{
    struct anpi_mailreply rep = { 0 };
    char err[256] = "";
    if (anpi_mailreply_parse(data, len, &rep, err, sizeof(err)) != ANPI_OK || rep.auto_submitted ||
        !rep.first_line) {
        anpi_info(ANPI_LG_SMTP, "mail to the sender address ignored: %s",
                  rep.auto_submitted ? "automatic reply" : (err[0] ? err : "no answer line"));
        anpi_mailreply_free(&rep);
        return;
    }
    char msgid[160];
    bool ours = our_message_id(rep.in_reply_to, msgid, sizeof(msgid));
    for (size_t k = rep.nrefs; !ours && k > 0; k--)
        ours = our_message_id(rep.refs[k - 1], msgid, sizeof(msgid));
    if (ours) {
        struct inbound_call *c = anpi_xcalloc(1, sizeof(*c));
        c->m = m;
        c->rcpt = i;
        snprintf(c->msgid, sizeof(c->msgid), "%s", msgid);
        c->line = anpi_xstrdup(rep.first_line);
        const char *prm[1] = { msgid };
        m->pending++;
        anpi_db_query(m->e->db, "SELECT anpi_reply_choices($1)::text", 1, prm, choices_read, c);
    } else {
        anpi_info(ANPI_LG_SMTP, "mail reply that answers none of our messages ignored");
    }
    anpi_mailreply_free(&rep);
}

static void
on_message(void *arg, const char *mail_from, const char *const *rcpts, size_t nrcpts, const char *data,
           size_t len, anpi_lmtp_done done, void *done_arg)
{
    struct anpi_engine *e = arg;
    (void)mail_from;
    struct inbound_msg *m = anpi_xcalloc(1, sizeof(*m));
    m->e = e;
    m->done = done;
    m->done_arg = done_arg;
    m->nrcpts = nrcpts;
    m->codes = anpi_xcalloc(nrcpts ? nrcpts : 1, sizeof(int));
    m->pending = 1;   /* held until every recipient was looked at */
    const char *from = e->cfg->smtp_from;
    const char *at = from ? strrchr(from, '@') : NULL;
    char local[128] = "anpi";
    if (at && (size_t)(at - from) < sizeof(local))
        snprintf(local, sizeof(local), "%.*s", (int)(at - from), from);
    for (size_t i = 0; i < nrcpts; i++) {
        int64_t delivery;
        m->codes[i] = 250;
        if (anpi_verp_decode(rcpts[i], local, NULL, e->link_key, sizeof(e->link_key), &delivery) == ANPI_OK)
            handle_bounce(m, i, delivery, data, len);
        else if (from && strcasecmp(rcpts[i], from) == 0)
            handle_reply(m, i, data, len);
        else
            m->codes[i] = 550;   /* not an address of ours: the MTA bounces it */
    }
    msg_step_done(m);
}

int
anpi_inbound_start(struct anpi_engine *e, char *err, size_t errlen)
{
    if (!e->cfg->inbound_lmtp)
        return ANPI_OK;
    struct anpi_lmtp_opts o = {
        .listen = e->cfg->inbound_lmtp, .hostname = e->mail_domain, .cb = on_message, .cb_arg = e,
    };
    int rc = anpi_lmtp_create(e->loop, &o, &e->lmtp, err, errlen);
    if (rc == ANPI_OK)
        anpi_info(ANPI_LG_SMTP, "inbound LMTP on %s (port %d)", e->cfg->inbound_lmtp, anpi_lmtp_port(e->lmtp));
    return rc;
}

void
anpi_inbound_stop(struct anpi_engine *e)
{
    if (e->lmtp)
        anpi_lmtp_close(e->lmtp, NULL, NULL);
    e->lmtp = NULL;
}
