/* dispatch.c - drains the delivery queue into the mail channel.
 *
 * Deliveries are claimed in batches with a lease (anpi_claim: FOR UPDATE
 * SKIP LOCKED), so several nodes can drain one broadcast and a crashed
 * node's claims come back after the lease.  Each result is written back as
 * soon as the channel reports it; a crash between the relay's "250" and that
 * write can repeat at most the messages in flight (bounded by max_inflight).
 *
 * Results are written back in batches (anpi_deliveries_done, one statement
 * for up to RESULT_BATCH results, at the latest RESULT_FLUSH_MS after the
 * first), so the database keeps up with the relay; the window a crash can
 * repeat is what is in flight plus one unflushed batch.
 *
 * Each message: rendered from the broadcast's templates, built as MIME
 * (ISO-2022-JP for the domains configured for it when the text allows it,
 * otherwise UTF-8), DKIM-signed on the thread pool when keys are configured,
 * and sent with a VERP envelope sender that names the delivery, so a bounce
 * maps back to it.
 *
 * Also here: the housekeeping tick (expiry, approval timeouts, resends),
 * which lives in the database (anpi_tick) so any node can run it. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "channels/dkim.h"
#include "channels/mime.h"
#include "channels/outbox.h"
#include "channels/smtp.h"
#include "channels/verp.h"
#include "engine/buf.h"
#include "engine/anpi.h"
#include "engine/log.h"

#define CLAIM_BATCH "250"
#define LEASE "5 minutes"
#define TICK_MS 2000
#define DISPATCH_MS 1000
#define RESULT_BATCH 200
#define RESULT_FLUSH_MS 20

struct send_ctx {
    struct anpi_engine *e;
    char id[24];
    int attempts;
    char mail_from[320];
    char rcpt[320];
};

/* Results waiting for the next batched write. */
struct result {
    char id[24];
    char status[12];
    char *reply;
    int retry_s;
};
static struct result results[RESULT_BATCH];
static size_t nresults;
static uv_timer_t flush_timer;
static bool flush_timer_ready;

static void claim(struct anpi_engine *e);

static void
done_written(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    (void)res;
    if (err)
        anpi_error(ANPI_LG_SMTP, "recording delivery results failed (the leases expire and the "
                   "deliveries are retried): %s", err);
    claim(e);
}

static void
flush_results(struct anpi_engine *e)
{
    if (!nresults)
        return;
    uv_timer_stop(&flush_timer);
    struct anpi_buf ids, st, rp, rt;
    anpi_buf_init(&ids, 0);
    anpi_buf_init(&st, 0);
    anpi_buf_init(&rt, 0);
    anpi_buf_init(&rp, 0);
    json_t *replies = json_array();
    for (size_t i = 0; i < nresults; i++) {
        anpi_buf_printf(&ids, "%s%s", i ? "," : "{", results[i].id);
        anpi_buf_printf(&st, "%s%s", i ? "," : "{", results[i].status);
        anpi_buf_printf(&rt, "%s%d", i ? "," : "{", results[i].retry_s);
        json_array_append_new(replies, json_string(results[i].reply ? results[i].reply : ""));
        free(results[i].reply);
    }
    anpi_buf_putc(&ids, '}');
    anpi_buf_putc(&st, '}');
    anpi_buf_putc(&rt, '}');
    char *rj = json_dumps(replies, JSON_COMPACT);
    json_decref(replies);
    const char *p[5] = { ids.data, e->node_id, st.data, rj ? rj : "[]", rt.data };
    anpi_db_query(e->db, "SELECT anpi_deliveries_done($1::bigint[], $2, $3::text[], $4::jsonb, $5::int[])",
                  5, p, done_written, e);
    nresults = 0;
    anpi_buf_free(&ids);
    anpi_buf_free(&st);
    anpi_buf_free(&rt);
    anpi_buf_free(&rp);
    free(rj);
}

static void
flush_cb(uv_timer_t *t)
{
    flush_results(t->data);
}

static void
record(struct send_ctx *s, const char *status, const char *reply, int retry_s)
{
    struct anpi_engine *e = s->e;
    struct result *r = &results[nresults++];
    snprintf(r->id, sizeof(r->id), "%s", s->id);
    snprintf(r->status, sizeof(r->status), "%s", status);
    /* replies are stored as text: keep them valid UTF-8-ish and short */
    r->reply = anpi_xstrndup(reply ? reply : "", reply ? strnlen(reply, 600) : 0);
    r->retry_s = retry_s;
    if (nresults == RESULT_BATCH || e->stopping)
        flush_results(e);
    else if (nresults == 1 && flush_timer_ready)
        uv_timer_start(&flush_timer, flush_cb, RESULT_FLUSH_MS, 0);
    e->inflight--;
    free(s);
    if (e->inflight == 0 || e->inflight + 50 < e->max_inflight)
        claim(e);
}

static void
smtp_done(void *arg, const struct anpi_smtp_outcome *o)
{
    struct send_ctx *s = arg;
    struct anpi_engine *e = s->e;
    char reply[600];
    snprintf(reply, sizeof(reply), "%d %s%s%s", o->code, o->enhanced, o->enhanced[0] ? " " : "", o->text);
    switch (o->result) {
    case ANPI_SMTP_SENT:
        e->m.deliveries_sent++;
        record(s, "sent", reply, 0);
        break;
    case ANPI_SMTP_TEMPFAIL: {
        e->m.deliveries_deferred++;
        /* backoff grows with the attempts: 30 s, 60 s, 120 s ... 15 min, with
         * +-20% jitter so that a destination's deferred mail does not come
         * back all in the same second */
        int retry = 30 << (s->attempts > 5 ? 5 : s->attempts - 1 > 0 ? s->attempts - 1 : 0);
        if (retry > 900)
            retry = 900;
        uint32_t r;
        if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
            r = (uint32_t)anpi_now_ms();
        retry = retry * 80 / 100 + (int)(r % (uint32_t)(retry * 40 / 100 + 1));
        record(s, "deferred", reply, retry);
        break;
    }
    default:
        e->m.deliveries_failed++;
        record(s, o->user_unknown ? "bounced" : "failed", reply, 0);
    }
}

static void
outbox_done(void *arg, int status, const char *path)
{
    struct send_ctx *s = arg;
    (void)path;
    if (status == 0) {
        s->e->m.deliveries_sent++;
        record(s, "sent", "written to outbox", 0);
    } else {
        s->e->m.deliveries_deferred++;
        char msg[128];
        snprintf(msg, sizeof(msg), "outbox: %s", anpi_strerror(status));
        record(s, "deferred", msg, 60);
    }
}

static void
channel_send(struct send_ctx *s, char *msg, size_t len)
{
    struct anpi_engine *e = s->e;
    int rc;
    if (e->smtp)
        rc = anpi_smtp_send(e->smtp, s->mail_from, s->rcpt, msg, len, smtp_done, s);
    else
        rc = anpi_outbox_write(e->loop, e->cfg->outbox_dir, s->rcpt, msg, len, outbox_done, s);
    free(msg);
    if (rc != ANPI_OK) {
        char why[128];
        snprintf(why, sizeof(why), "channel refused the message: %s", anpi_strerror(rc));
        record(s, rc == ANPI_EPARSE ? "failed" : "deferred", why, 60);
    }
}

static void
signed_cb(int status, char *signed_msg, size_t signed_len, void *arg)
{
    struct send_ctx *s = arg;
    if (status != ANPI_OK) {
        free(signed_msg);
        anpi_error(ANPI_LG_SMTP, "DKIM signing failed for delivery %s: %s", s->id, anpi_strerror(status));
        record(s, "deferred", "DKIM signing failed", 60);
        return;
    }
    channel_send(s, signed_msg, signed_len);
}

static bool
iso2022jp_domain(const struct anpi_engine *e, const char *address)
{
    const char *at = strrchr(address, '@');
    if (!at)
        return false;
    for (size_t i = 0; i < e->cfg->niso2022jp_domains; i++)
        if (strcasecmp(at + 1, e->cfg->iso2022jp_domains[i]) == 0)
            return true;
    return false;
}

static void
send_one(struct anpi_engine *e, const PGresult *res, int row)
{
    struct send_ctx *s = anpi_xcalloc(1, sizeof(*s));
    s->e = e;
    snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(res, row, 0));
    snprintf(s->rcpt, sizeof(s->rcpt), "%s", PQgetvalue(res, row, 1));
    e->inflight++;

    struct anpi_render_in in = {
        .kind = PQgetvalue(res, row, 6),
        .subject_tmpl = PQgetvalue(res, row, 11),
        .body_tmpl = PQgetvalue(res, row, 12),
        .vars_json = PQgetvalue(res, row, 13),
        .person_name = PQgetvalue(res, row, 5),
        .recipient_id = strtoll(PQgetvalue(res, row, 4), NULL, 10),
        .incident_id = PQgetisnull(res, row, 8) ? 0 : strtoll(PQgetvalue(res, row, 8), NULL, 10),
        .round = (int)strtol(PQgetvalue(res, row, 3), NULL, 10),
        .delivery_id = strtoll(PQgetvalue(res, row, 0), NULL, 10),
        .drill = PQgetvalue(res, row, 10)[0] == 't',
    };
    s->attempts = (int)strtol(PQgetvalue(res, row, 14), NULL, 10);
    char *subject = NULL, *body = NULL;
    if (anpi_render(e, &in, &subject, &body) != ANPI_OK) {
        record(s, "failed", "cannot render the message (bad broadcast variables)", 0);
        return;
    }

    /* HR mail has its own sender and a one-click unsubscribe; safety mail
     * never has one (staff must not opt out of safety checks) */
    bool hr = strcmp(PQgetvalue(res, row, 15), "hr") == 0;
    const char *from = hr && e->cfg->smtp_from_hr ? e->cfg->smtp_from_hr : e->cfg->smtp_from;
    char unsub[512] = "";
    if (hr) {
        char tok[ANPI_LINK_TOKEN_LEN + 1];
        anpi_link_make(e->link_key, ANPI_LINK_UNSUBSCRIBE, strtoll(s->id, NULL, 10), tok);
        snprintf(unsub, sizeof(unsub), "%s/u/%s", e->cfg->public_url, tok);
    }
    /* envelope sender: <local>+d<id>.<mac>@<domain> so bounces map back */
    const char *at = strrchr(from, '@');
    char local[128] = "anpi";
    if (at && (size_t)(at - from) < sizeof(local))
        snprintf(local, sizeof(local), "%.*s", (int)(at - from), from);
    if (anpi_verp_encode(local, e->mail_domain, strtoll(s->id, NULL, 10), e->link_key,
                         sizeof(e->link_key), s->mail_from, sizeof(s->mail_from)) != ANPI_OK)
        snprintf(s->mail_from, sizeof(s->mail_from), "%s", from);

    char msgid[512];
    snprintf(msgid, sizeof(msgid), "anpi.%s@%s", PQgetvalue(res, row, 2), e->mail_domain);
    struct anpi_errors subst = { 0 };
    bool used_jis = false;
    struct anpi_mime_msg m = {
        .from = from,
        .from_name = hr ? "採用担当" : "安否確認システム",
        .to = s->rcpt,
        .subject = subject,
        .text = body,
        .message_id = msgid,
        .date = anpi_now_ms() / 1000,
        .auto_submitted = "auto-generated",
        .list_unsubscribe_url = unsub[0] ? unsub : NULL,
        .iso2022jp = iso2022jp_domain(e, s->rcpt),
        .substitutions = &subst,
        .used_iso2022jp = &used_jis,
    };
    if (m.iso2022jp) {
        m.jis_fallbacks = anpi_jis_fallback_defaults(&m.njis_fallbacks);
    }
    char *msg = NULL;
    size_t len = 0;
    int rc = anpi_mime_build(&m, &msg, &len);
    free(subject);
    free(body);
    /* characters outside JIS X 0208 were replaced: say so before sending */
    for (size_t i = 0; i < subst.n; i++)
        anpi_warn(ANPI_LG_SMTP, "delivery %s (ISO-2022-JP): substituted %s", s->id, subst.msg[i]);
    if (m.iso2022jp && !used_jis)
        anpi_info(ANPI_LG_SMTP, "delivery %s: text not encodable in ISO-2022-JP, sent as UTF-8", s->id);
    anpi_errors_free(&subst);
    if (rc != ANPI_OK) {
        record(s, "failed", "cannot build the message (invalid header value)", 0);
        return;
    }
    if (e->ndkim) {
        rc = anpi_dkim_sign_async(e->loop, (const struct anpi_dkim_key *const *)e->dkim, e->ndkim, msg, len,
                                  signed_cb, s);
        free(msg);
        if (rc != ANPI_OK)
            record(s, "deferred", "DKIM signing could not be queued", 60);
        return;
    }
    channel_send(s, msg, len);
}

static bool kick_pending;   /* work arrived while a claim was running */

static void
claimed(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    e->claiming = false;
    bool again = kick_pending;
    kick_pending = false;
    if (err || e->stopping)
        return;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        send_one(e, res, i);
    if (n > 0)
        anpi_debug(ANPI_LG_SMTP, "claimed %d deliveries (%u in flight)", n, e->inflight);
    if (n == (int)strtol(CLAIM_BATCH, NULL, 10) || again)
        claim(e);
}

static void
claim(struct anpi_engine *e)
{
    if (e->claiming) {
        /* the running claim may have missed rows committed just now */
        kick_pending = true;
        return;
    }
    if (e->stopping || e->inflight >= e->max_inflight)
        return;
    e->claiming = true;
    const char *p[1] = { e->node_id };
    anpi_db_query(e->db,
                  "SELECT delivery_id, address, message_id, round, recipient_id, person_name, kind,"
                  " broadcast_id, incident_id, approval_id, drill, subject, body, vars, attempts, sender"
                  " FROM anpi_claim($1, " CLAIM_BATCH ", '" LEASE "')", 1, p, claimed, e);
}

static void
dispatch_timer(uv_timer_t *t)
{
    claim(t->data);
}

static void
ticked(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    if (!err && res && PQntuples(res) > 0 && strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0)
        claim(e);
}

/* The number of live nodes: each takes its share of every destination's
 * rate, so the limits hold however many nodes send. */
static void
heartbeat_done(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    if (err || !res || PQntuples(res) == 0)
        return;
    unsigned n = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    if (n < 1)
        n = 1;
    if (n != e->live_nodes) {
        anpi_info(ANPI_LG_SMTP, "%u live node(s): this node sends 1/%u of each destination's rate", n, n);
        e->live_nodes = n;
        if (e->smtp)
            anpi_smtp_set_share(e->smtp, 1, n);
    }
}

static void
tick_timer(uv_timer_t *t)
{
    struct anpi_engine *e = t->data;
    if (e->stopping)
        return;
    anpi_db_query(e->db, "SELECT anpi_tick()", 0, NULL, ticked, e);
    const char *p[1] = { e->node_id };
    anpi_db_query(e->db, "SELECT anpi_heartbeat($1)", 1, p, heartbeat_done, e);
    anpi_db_query(e->db, "SELECT anpi_queue_maintenance($1)", 1, p, ticked, e);
}

void
anpi_dispatch_start(struct anpi_engine *e)
{
    uv_timer_init(e->loop, &flush_timer);
    flush_timer.data = e;
    flush_timer_ready = true;
    if (!e->max_inflight)
        e->max_inflight = 1000;
    uv_timer_init(e->loop, &e->dispatch_timer);
    e->dispatch_timer.data = e;
    uv_timer_start(&e->dispatch_timer, dispatch_timer, 100, DISPATCH_MS);
    uv_timer_init(e->loop, &e->tick_timer);
    e->tick_timer.data = e;
    uv_timer_start(&e->tick_timer, tick_timer, 500, TICK_MS);
}

void
anpi_dispatch_kick(struct anpi_engine *e)
{
    claim(e);
}

void
anpi_dispatch_stop(struct anpi_engine *e)
{
    e->stopping = true;
    flush_results(e);
    flush_timer_ready = false;
    uv_close((uv_handle_t *)&flush_timer, NULL);
    uv_timer_stop(&e->dispatch_timer);
    uv_timer_stop(&e->tick_timer);
    uv_close((uv_handle_t *)&e->dispatch_timer, NULL);
    uv_close((uv_handle_t *)&e->tick_timer, NULL);
}
