/* test_lmtp.c - the LMTP listener against real clients: Python's
 * smtplib.LMTP and raw sockets (lmtp_client.py), and Postfix's smtp-source
 * in LMTP mode.  The loop runs here; the client is a child process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "channels/lmtp.h"

enum answer { ANSWER_OK, ANSWER_FAIL, ANSWER_LATE };

struct msg {
    char *from;
    size_t nrcpts;
    char *rcpt0;
    char *data;
    size_t len;
};

struct t {
    uv_loop_t loop;
    struct anpi_lmtp *srv;
    uv_process_t proc;
    uv_timer_t late;
    bool late_init;
    enum answer answer;
    int64_t exit_status;
    bool exited, srv_closed;
    struct msg msgs[64];
    size_t nmsgs;
    /* a message whose answer is held back (ANSWER_LATE) */
    anpi_lmtp_done held_done;
    void *held_arg;
    size_t held_n;
    size_t sessions_at_exit;
};

static void
on_late(uv_timer_t *tm)
{
    struct t *t = tm->data;
    int codes[8];
    for (size_t i = 0; i < t->held_n; i++)
        codes[i] = i == 0 ? 250 : 451;
    anpi_lmtp_done d = t->held_done;
    t->held_done = NULL;
    d(t->held_arg, codes, t->held_n);
}

static void
on_msg(void *arg, const char *from, const char *const *rcpts, size_t n, const char *data, size_t len,
       anpi_lmtp_done done, void *done_arg)
{
    struct t *t = arg;
    assert_true(t->nmsgs < 64);
    struct msg *m = &t->msgs[t->nmsgs++];
    m->from = strdup(from);
    m->nrcpts = n;
    m->rcpt0 = strdup(rcpts[0]);
    m->data = malloc(len + 1);
    memcpy(m->data, data, len + 1);
    m->len = len;
    assert_int_equal(data[len], '\0');
    int codes[8];
    assert_true(n <= 8);
    if (t->answer == ANSWER_LATE) {
        /* suspend: answer from a timer, the session must wait */
        t->held_done = done;
        t->held_arg = done_arg;
        t->held_n = n;
        uv_timer_start(&t->late, on_late, 300, 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        codes[i] = t->answer == ANSWER_OK ? 250 : 451;
    done(done_arg, codes, n);
}

static void
on_closed(void *arg)
{
    ((struct t *)arg)->srv_closed = true;
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct t *t = p->data;
    t->exit_status = sig ? 128 + sig : status;
    t->exited = true;
    uv_close((uv_handle_t *)p, NULL);
}

/* Give the server a moment to see the client's close, then shut down. */
static void
on_settle(uv_timer_t *tm)
{
    struct t *t = tm->data;
    if (!t->exited) {
        uv_timer_start(tm, on_settle, 50, 0);
        return;
    }
    t->sessions_at_exit = anpi_lmtp_sessions(t->srv);
    if (t->held_done) {
        /* the client left while an answer was held: answer now, as the
         * engine would once its store finishes */
        uv_timer_stop(&t->late);
        on_late(&t->late);
    }
    anpi_lmtp_close(t->srv, on_closed, t);
    uv_close((uv_handle_t *)tm, NULL);
    uv_close((uv_handle_t *)&t->late, NULL);
}

/* Run argv (NULL-terminated; "%PORT%" replaced by the port) against a
 * fresh server with the given options. */
static void
run(struct t *t, struct anpi_lmtp_opts *o, enum answer answer, const char **argv)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(uv_loop_init(&t->loop), 0);
    t->answer = answer;
    o->listen = "127.0.0.1:0";
    o->hostname = "lmtp.test.example.jp";
    o->cb = on_msg;
    o->cb_arg = t;
    char err[256];
    assert_int_equal(anpi_lmtp_create(&t->loop, o, &t->srv, err, sizeof(err)), 0);
    int port = anpi_lmtp_port(t->srv);
    assert_true(port > 0);
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    const char *args[16];
    size_t i;
    for (i = 0; argv[i] && i < 15; i++) {
        if (strcmp(argv[i], "%PORT%") == 0)
            args[i] = ps;
        else if (strcmp(argv[i], "%HOSTPORT%") == 0) {
            static char hp[32];
            snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
            args[i] = hp;
        } else
            args[i] = argv[i];
    }
    args[i] = NULL;
    uv_timer_init(&t->loop, &t->late);
    t->late.data = t;
    uv_timer_t settle;
    uv_timer_init(&t->loop, &settle);
    settle.data = t;
    uv_timer_start(&settle, on_settle, 100, 0);

    uv_process_options_t po;
    memset(&po, 0, sizeof(po));
    uv_stdio_container_t io[3] = {
        { .flags = UV_IGNORE }, { .flags = UV_INHERIT_FD, .data.fd = 2 }, { .flags = UV_INHERIT_FD, .data.fd = 2 },
    };
    po.file = args[0];
    po.args = (char **)args;
    po.exit_cb = on_exit_cb;
    po.stdio = io;
    po.stdio_count = 3;
    t->proc.data = t;
    int rc = uv_spawn(&t->loop, &t->proc, &po);
    if (rc < 0)
        fail_msg("spawn %s: %s", args[0], uv_strerror(rc));
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_true(t->srv_closed);
    assert_int_equal(uv_loop_close(&t->loop), 0);
}

static void
free_msgs(struct t *t)
{
    for (size_t i = 0; i < t->nmsgs; i++) {
        free(t->msgs[i].from);
        free(t->msgs[i].rcpt0);
        free(t->msgs[i].data);
    }
}

static char script[1024];

static void
client(struct t *t, struct anpi_lmtp_opts *o, enum answer a, const char *mode)
{
    const char *argv[] = { "/usr/bin/python3", script, mode, "%PORT%", NULL };
    run(t, o, a, argv);
    if (t->exit_status != 0)
        fail_msg("lmtp_client.py %s exited with %lld", mode, (long long)t->exit_status);
    assert_int_equal(t->sessions_at_exit, 0);
}

static void
test_multi_recipients_dots(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    client(&t, &o, ANSWER_OK, "multi");
    assert_int_equal(t.nmsgs, 1);
    assert_string_equal(t.msgs[0].from, "");
    assert_int_equal(t.msgs[0].nrcpts, 3);
    assert_string_equal(t.msgs[0].rcpt0, "bounce+1@anpi.example.jp");
    /* smtplib dot-stuffs; after unstuffing the message is exactly what
     * the client meant to send, CRLF kept */
    assert_string_equal(t.msgs[0].data,
                        "From: taro@example.jp\r\nTo: anpi@example.jp\r\nSubject: test\r\n\r\n"
                        "first\r\n.leading dot\r\n..two dots\r\n.\tdot tab\r\nlast\r\n");
    free_msgs(&t);
}

static void
test_pipelining(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    client(&t, &o, ANSWER_OK, "pipeline");
    assert_int_equal(t.nmsgs, 2);
    assert_int_equal(t.msgs[0].nrcpts, 2);
    assert_string_equal(t.msgs[0].data, "Subject: one\r\n\r\n.x\r\n");
    assert_string_equal(t.msgs[1].from, "taro@example.jp");
    assert_string_equal(t.msgs[1].data, "Subject: two\r\n\r\nbody\r\n");
    free_msgs(&t);
}

static void
test_pipelining_with_late_answer(void **state)
{
    (void)state;
    /* the pipelined second transaction must wait for the first answer */
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    const char *argv[] = { "/usr/bin/python3", script, "pipeline", "%PORT%", NULL };
    run(&t, &o, ANSWER_LATE, argv);
    /* late answers give 250 to the first recipient, 451 to the rest, so
     * the client (expecting 250 for both) fails on "msg 1 rcpt 2" */
    assert_int_not_equal(t.exit_status, 0);
    assert_true(t.nmsgs >= 1);
    free_msgs(&t);
}

static void
test_late_and_failed_store(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    client(&t, &o, ANSWER_LATE, "late");
    assert_int_equal(t.nmsgs, 1);
    assert_null(t.held_done);
    free_msgs(&t);
    client(&t, &o, ANSWER_FAIL, "fail");
    assert_int_equal(t.nmsgs, 1);
    free_msgs(&t);
}

static void
test_100mb_message(void **state)
{
    (void)state;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    struct t t;
    struct anpi_lmtp_opts o = { 0 };           /* default 10 MiB cap */
    client(&t, &o, ANSWER_OK, "big");
    getrusage(RUSAGE_SELF, &ru1);
    /* only the small message after the big one was handed over */
    assert_int_equal(t.nmsgs, 1);
    assert_string_equal(t.msgs[0].data, "Subject: small\r\n\r\nok\r\n");
    /* memory stayed bounded: far below the 100 MB that went through */
    long grew_kb = ru1.ru_maxrss - ru0.ru_maxrss;
    if (grew_kb > 64 * 1024)
        fail_msg("max RSS grew by %ld KiB", grew_kb);
    free_msgs(&t);
}

static void
test_long_lines(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    client(&t, &o, ANSWER_OK, "longline");
    assert_int_equal(t.nmsgs, 1);
    /* the 9000-byte data line is kept whole, its leading dot removed */
    const char *d = t.msgs[0].data;
    assert_int_equal(t.msgs[0].len, strlen("Subject: long\r\n\r\n") + 9000 + 2);
    assert_int_equal(d[strlen("Subject: long\r\n\r\n")], 'y');
    free_msgs(&t);
}

static void
test_garbage(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    client(&t, &o, ANSWER_OK, "garbage");
    assert_int_equal(t.nmsgs, 0);
}

static void
test_disconnect_mid_data(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    client(&t, &o, ANSWER_OK, "middata");
    assert_int_equal(t.nmsgs, 0);        /* a partial message is never delivered */
}

static void
test_timeout(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { .timeout_ms = 300 };
    client(&t, &o, ANSWER_OK, "timeout");
    assert_int_equal(t.nmsgs, 0);
}

static void
test_max_conns(void **state)
{
    (void)state;
    struct t t;
    struct anpi_lmtp_opts o = { .max_conns = 2 };
    client(&t, &o, ANSWER_OK, "maxconn");
}

static void
test_smtp_source(void **state)
{
    (void)state;
    if (access("/usr/sbin/smtp-source", X_OK) != 0)
        skip();
    /* Postfix's load generator in LMTP mode: 3 sessions, 12 messages,
     * 2 recipients each, 5000-byte bodies */
    struct t t;
    struct anpi_lmtp_opts o = { 0 };
    const char *argv[] = { "/usr/sbin/smtp-source", "-L", "-s", "3", "-m", "12", "-r", "2", "-l", "5000",
                           "-f", "src@example.jp", "-t", "dst@anpi.example.jp", "%HOSTPORT%", NULL };
    run(&t, &o, ANSWER_OK, argv);
    assert_int_equal(t.exit_status, 0);
    assert_int_equal(t.nmsgs, 12);
    for (size_t i = 0; i < t.nmsgs; i++) {
        assert_int_equal(t.msgs[i].nrcpts, 2);
        assert_true(t.msgs[i].len >= 5000);
    }
    free_msgs(&t);
}

static void
test_create_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_lmtp *s;
    char err[256];
    static const char *bad[] = { "", "127.0.0.1", "127.0.0.1:99999", "mail.example.jp:24", "[::1:24" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct anpi_lmtp_opts o = { .listen = bad[i], .cb = on_msg };
        assert_int_equal(anpi_lmtp_create(&loop, &o, &s, err, sizeof(err)), ANPI_EPARSE);
        assert_null(s);
        assert_non_null(strstr(err, "inbound.lmtp"));
    }
    /* a port in use */
    struct anpi_lmtp_opts o = { .listen = "127.0.0.1:0", .cb = on_msg };
    struct anpi_lmtp *a;
    assert_int_equal(anpi_lmtp_create(&loop, &o, &a, err, sizeof(err)), 0);
    char spec[32];
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", anpi_lmtp_port(a));
    o.listen = spec;
    assert_true(anpi_lmtp_create(&loop, &o, &s, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "cannot listen"));
    anpi_lmtp_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    const char *root = getenv("ANPI_SOURCE_ROOT");
    snprintf(script, sizeof(script), "%s/tests/unit/channels/lmtp_client.py", root ? root : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_recipients_dots),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_pipelining_with_late_answer),
        cmocka_unit_test(test_late_and_failed_store),
        cmocka_unit_test(test_100mb_message),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_disconnect_mid_data),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_max_conns),
        cmocka_unit_test(test_smtp_source),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
