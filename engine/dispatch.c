/* dispatch.c - drains the delivery queue into the mail channel.
 *
 * Deliveries are claimed in batches with a lease (anpi_claim: FOR UPDATE
 * SKIP LOCKED), so several nodes can drain one broadcast and a crashed
 * node's claims come back after the lease.  Each result is written back as
 * soon as the channel reports it; a crash between the relay's "250" and that
 * write can repeat at most the messages in flight (bounded by max_inflight).
 *
 * Also here: the housekeeping tick (expiry, approval timeouts, resends),
 * which lives in the database (anpi_tick) so any node can run it. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/mime.h"
#include "channels/outbox.h"
#include "channels/smtp.h"
#include "engine/anpi.h"
#include "engine/log.h"

#define CLAIM_BATCH "100"
#define LEASE "5 minutes"
#define TICK_MS 2000
#define DISPATCH_MS 1000

struct send_ctx {
    struct anpi_engine *e;
    char id[24];
    int attempts;
};

static void claim(struct anpi_engine *e);

static void
done_written(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    (void)res;
    if (err)
        anpi_error(ANPI_LG_SMTP, "recording a delivery result failed: %s", err);
    (void)e;
}

static void
record(struct send_ctx *s, const char *status, const char *reply, int retry_s)
{
    struct anpi_engine *e = s->e;
    char retry[16];
    snprintf(retry, sizeof(retry), "%d", retry_s);
    const char *p[5] = { s->id, e->node_id, status, reply, retry };
    anpi_db_query(e->db, "SELECT anpi_delivery_done($1::bigint, $2, $3, $4, $5::int)", 5, p,
                  done_written, e);
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
        /* backoff grows with the attempts: 30 s, 60 s, 120 s ... 15 min */
        int retry = 30 << (s->attempts > 5 ? 5 : s->attempts - 1 > 0 ? s->attempts - 1 : 0);
        record(s, "deferred", reply, retry > 900 ? 900 : retry);
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
send_one(struct anpi_engine *e, const PGresult *res, int row)
{
    struct send_ctx *s = anpi_xcalloc(1, sizeof(*s));
    s->e = e;
    snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(res, row, 0));
    const char *address = PQgetvalue(res, row, 1);
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
        .drill = PQgetvalue(res, row, 10)[0] == 't',
    };
    s->attempts = (int)strtol(PQgetvalue(res, row, 14), NULL, 10);
    char *subject = NULL, *body = NULL;
    if (anpi_render(e, &in, &subject, &body) != ANPI_OK) {
        record(s, "failed", "cannot render the message (bad broadcast variables)", 0);
        return;
    }
    char msgid[512];
    snprintf(msgid, sizeof(msgid), "anpi.%s@%s", PQgetvalue(res, row, 2), e->mail_domain);
    struct anpi_mime_msg m = {
        .from = e->cfg->smtp_from,
        .from_name = "安否確認システム",
        .to = address,
        .subject = subject,
        .text = body,
        .message_id = msgid,
        .date = anpi_now_ms() / 1000,
        .auto_submitted = "auto-generated",
    };
    char *msg = NULL;
    size_t len = 0;
    int rc = anpi_mime_build(&m, &msg, &len);
    free(subject);
    free(body);
    if (rc != ANPI_OK) {
        record(s, "failed", "cannot build the message (invalid header value)", 0);
        return;
    }
    if (e->smtp)
        rc = anpi_smtp_send(e->smtp, e->cfg->smtp_from, address, msg, len, smtp_done, s);
    else
        rc = anpi_outbox_write(e->loop, e->cfg->outbox_dir, address, msg, len, outbox_done, s);
    free(msg);
    if (rc != ANPI_OK) {
        char why[128];
        snprintf(why, sizeof(why), "channel refused the message: %s", anpi_strerror(rc));
        record(s, rc == ANPI_EPARSE ? "failed" : "deferred", why, 60);
    }
}

static void
claimed(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    e->claiming = false;
    if (err || e->stopping)
        return;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        send_one(e, res, i);
    if (n > 0)
        anpi_debug(ANPI_LG_SMTP, "claimed %d deliveries (%u in flight)", n, e->inflight);
    if (n == (int)strtol(CLAIM_BATCH, NULL, 10))
        claim(e);
}

static void
claim(struct anpi_engine *e)
{
    if (e->claiming || e->stopping || e->inflight >= e->max_inflight)
        return;
    e->claiming = true;
    const char *p[1] = { e->node_id };
    anpi_db_query(e->db,
                  "SELECT delivery_id, address, message_id, round, recipient_id, person_name, kind,"
                  " broadcast_id, incident_id, approval_id, drill, subject, body, vars,"
                  " (SELECT attempts FROM deliveries WHERE id = delivery_id)"
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

static void
tick_timer(uv_timer_t *t)
{
    struct anpi_engine *e = t->data;
    if (!e->stopping)
        anpi_db_query(e->db, "SELECT anpi_tick()", 0, NULL, ticked, e);
}

void
anpi_dispatch_start(struct anpi_engine *e)
{
    if (!e->max_inflight)
        e->max_inflight = 400;
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
    uv_timer_stop(&e->dispatch_timer);
    uv_timer_stop(&e->tick_timer);
    uv_close((uv_handle_t *)&e->dispatch_timer, NULL);
    uv_close((uv_handle_t *)&e->tick_timer, NULL);
}
