/* test_linereader.c - lines from a TCP server in the test (odd chunks, an
 * over-long line, CRLF, a disconnect and a reconnect, a refused connection
 * retried) and from a pseudo-terminal standing in for the serial device
 * (raw mode at the configured speed, missing device retried, hang-up and
 * reopen). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <termios.h>
#include <unistd.h>

#include "engine/anpi.h"
#include "feeds/poll/linereader.h"
#include "testloop.h"

#define MAX_GOT 32

struct fx {
    uv_loop_t loop;
    struct anpi_linereader *r;
    int closed;
    size_t nlines;
    char *lines[MAX_GOT];
    size_t want_lines;
};

static void
on_closed(void *arg)
{
    ((struct fx *)arg)->closed++;
}

static void
on_line(void *arg, const char *line, size_t len)
{
    struct fx *fx = arg;
    assert_int_equal(strlen(line), len);
    assert_true(fx->nlines < MAX_GOT);
    fx->lines[fx->nlines++] = strndup(line, len);
}

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    uv_loop_init(&fx->loop);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;
    if (fx->r)
        anpi_linereader_close(fx->r, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, fx->r ? 1 : 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    for (size_t i = 0; i < fx->nlines; i++)
        free(fx->lines[i]);
    free(fx);
    return 0;
}

static int
got_lines(void *arg)
{
    struct fx *fx = arg;
    return fx->nlines >= fx->want_lines;
}

/* ---- a scripted TCP server on the test's loop --------------------------- */

#define CLOSE_CONN ((const char *)1)

struct srv {
    uv_tcp_t listen;
    uv_tcp_t *client;
    uv_timer_t timer;
    int port;
    int accepts;
    const char *const *scripts[4];   /* per connection: chunks, CLOSE_CONN, NULL */
    size_t step;
    int closing;                     /* handles of this struct not yet closed */
};

static void
free_client(uv_handle_t *h)
{
    free(h);
}

static void
on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void
srv_step(uv_timer_t *t)
{
    struct srv *s = t->data;
    const char *const *script = s->scripts[s->accepts - 1];
    const char *chunk = script ? script[s->step] : NULL;
    if (!chunk || !s->client) {
        uv_timer_stop(t);
        return;
    }
    s->step++;
    if (chunk == CLOSE_CONN) {
        uv_close((uv_handle_t *)s->client, free_client);
        s->client = NULL;
        uv_timer_stop(t);
        return;
    }
    uv_write_t *w = malloc(sizeof(*w));
    w->data = strdup(chunk);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)strlen(chunk));
    assert_int_equal(uv_write(w, (uv_stream_t *)s->client, &b, 1, on_written), 0);
}

static void
on_connection(uv_stream_t *l, int status)
{
    struct srv *s = l->data;
    assert_int_equal(status, 0);
    uv_tcp_t *c = malloc(sizeof(*c));
    uv_tcp_init(l->loop, c);
    assert_int_equal(uv_accept(l, (uv_stream_t *)c), 0);
    if (s->client)
        uv_close((uv_handle_t *)s->client, free_client);
    s->client = c;
    s->accepts++;
    s->step = 0;
    uv_timer_start(&s->timer, srv_step, 5, 5);
}

static void
srv_init(uv_loop_t *loop, struct srv *s, int listen_now)
{
    memset(s, 0, sizeof(*s));
    uv_tcp_init(loop, &s->listen);
    s->listen.data = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&s->listen, (const struct sockaddr *)&sa, 0), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&s->listen, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (listen_now)
        assert_int_equal(uv_listen((uv_stream_t *)&s->listen, 4, on_connection), 0);
}

static void
srv_handle_closed(uv_handle_t *h)
{
    ((struct srv *)h->data)->closing--;
}

/* s lives on the test's stack: wait until libuv is done with it */
static void
srv_close(struct srv *s)
{
    if (s->client)
        uv_close((uv_handle_t *)s->client, free_client);
    s->client = NULL;
    s->closing = 2;
    uv_close((uv_handle_t *)&s->listen, srv_handle_closed);
    uv_close((uv_handle_t *)&s->timer, srv_handle_closed);
    while (s->closing)
        uv_run(s->timer.loop, UV_RUN_ONCE);
}

static struct anpi_linereader *
make_tcp(struct fx *fx, int port)
{
    char hp[64];
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
    struct anpi_linereader_opts o = { .source = "qzss", .tcp = hp, .min_backoff_ms = 20,
                                      .max_backoff_s = 1, .connect_timeout_s = 2 };
    fx->r = anpi_linereader_create(&fx->loop, &o, on_line, fx);
    assert_non_null(fx->r);
    return fx->r;
}

static char long_line[5003];
static char max_line[ANPI_LINEREADER_MAX_LINE + 3];

static void
test_tcp_lines_and_reconnect(void **state)
{
    struct fx *fx = *state;
    memset(long_line, 'x', 5000);
    memcpy(long_line + 5000, "\r\n", 2);
    memset(max_line, 'y', ANPI_LINEREADER_MAX_LINE);
    memcpy(max_line + ANPI_LINEREADER_MAX_LINE, "\r\n", 2);
    const char *conn1[] = {
        "$GPGGA,1*00\r", "\n$QZQSM,55,9AAF", "8\r\n",
        "xxxxxxxxxxxxxxxx", long_line, "\r\n", "\n",       /* over-long, then empty lines */
        max_line,                                          /* 4096 bytes: fine */
        "last-of-1\nparti", "al-no-newline", CLOSE_CONN, NULL,
    };
    const char *conn2[] = { "second-1\r\n", "second-2\n", NULL };
    struct srv s;
    srv_init(&fx->loop, &s, 1);
    s.scripts[0] = conn1;
    s.scripts[1] = conn2;
    make_tcp(fx, s.port);
    assert_int_equal(anpi_linereader_start(fx->r), 0);
    fx->want_lines = 6;
    assert_true(run_until(&fx->loop, got_lines, fx, 10000));
    assert_int_equal(fx->nlines, 6);
    assert_string_equal(fx->lines[0], "$GPGGA,1*00");
    assert_string_equal(fx->lines[1], "$QZQSM,55,9AAF8");
    assert_int_equal(strlen(fx->lines[2]), ANPI_LINEREADER_MAX_LINE);
    assert_int_equal(fx->lines[2][0], 'y');
    assert_string_equal(fx->lines[3], "last-of-1");
    assert_string_equal(fx->lines[4], "second-1");     /* the partial line was dropped */
    assert_string_equal(fx->lines[5], "second-2");
    const struct anpi_linereader_stats *st = anpi_linereader_stats(fx->r);
    assert_int_equal(s.accepts, 2);
    assert_int_equal(st->connects, 2);
    assert_int_equal(st->disconnects, 1);
    assert_true(st->connected);
    assert_int_equal(st->lines, 6);
    assert_int_equal(st->errors, 2);                   /* the long line, the lost connection */
    assert_true(st->last_line >= st->last_connect);
    assert_non_null(strstr(st->last_error, "connection closed by the peer"));
    srv_close(&s);
}

static void
test_tcp_refused_then_up(void **state)
{
    struct fx *fx = *state;
    const char *conn1[] = { "hello\r\n", NULL };
    struct srv s;
    srv_init(&fx->loop, &s, 0);          /* bound, not listening: connections refused */
    s.scripts[0] = conn1;
    make_tcp(fx, s.port);
    anpi_linereader_start(fx->r);
    const struct anpi_linereader_stats *st = anpi_linereader_stats(fx->r);
    fx->want_lines = 1;
    assert_false(run_until(&fx->loop, got_lines, fx, 300));
    assert_true(st->errors >= 2);                       /* retried */
    assert_false(st->connected);
    assert_int_equal(st->connects, 0);
    assert_non_null(strstr(st->last_error, "connect"));
    assert_non_null(strstr(st->last_error, "127.0.0.1"));
    assert_int_equal(uv_listen((uv_stream_t *)&s.listen, 4, on_connection), 0);
    assert_true(run_until(&fx->loop, got_lines, fx, 5000));
    assert_string_equal(fx->lines[0], "hello");
    assert_int_equal(st->connects, 1);
    srv_close(&s);
}

/* ---- a pseudo-terminal as the serial device ----------------------------- */

static int
open_pty(char *slave, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    assert_int_equal(ptsname_r(m, slave, len), 0);
    return m;
}

static void
put(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int
is_connected(void *arg)
{
    struct fx *fx = arg;
    return anpi_linereader_stats(fx->r)->connected;
}

static int
is_disconnected(void *arg)
{
    return !is_connected(arg);
}

static void
test_serial_pty(void **state)
{
    struct fx *fx = *state;
    char dir[] = "/tmp/anpi-linereader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[PATH_MAX];
    snprintf(link, sizeof(link), "%s/ttyQZSS", dir);

    struct anpi_linereader_opts o = { .device = link, .baud = 115200, .min_backoff_ms = 20,
                                      .max_backoff_s = 1 };
    fx->r = anpi_linereader_create(&fx->loop, &o, on_line, fx);
    assert_non_null(fx->r);
    const struct anpi_linereader_stats *st = anpi_linereader_stats(fx->r);

    /* the device is not there yet: retried */
    anpi_linereader_start(fx->r);
    fx->want_lines = 1;
    assert_false(run_until(&fx->loop, got_lines, fx, 200));
    assert_true(st->errors >= 2);
    assert_non_null(strstr(st->last_error, "cannot open"));
    assert_non_null(strstr(st->last_error, link));

    char slave[128];
    int m1 = open_pty(slave, sizeof(slave));
    assert_int_equal(symlink(slave, link), 0);
    assert_true(run_until(&fx->loop, is_connected, fx, 5000));
    /* raw mode at the configured speed (a pty keeps the termios it is given) */
    int sfd = open(slave, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    assert_true(sfd >= 0);
    struct termios t;
    assert_int_equal(tcgetattr(sfd, &t), 0);
    close(sfd);
    assert_int_equal(cfgetispeed(&t), B115200);
    assert_int_equal(t.c_lflag & (ICANON | ECHO), 0);
    assert_int_equal(t.c_iflag & ICRNL, 0);

    uint64_t errs_before = st->errors;
    put(m1, "$QZQSM,55,C6AF8");
    put(m1, "9AD\r\n$GPRMC,");
    put(m1, "2*00\r\na\rb\n");          /* raw: a lone CR stays inside the line */
    fx->want_lines = 3;
    assert_true(run_until(&fx->loop, got_lines, fx, 5000));
    assert_string_equal(fx->lines[0], "$QZQSM,55,C6AF89AD");
    assert_string_equal(fx->lines[1], "$GPRMC,2*00");
    assert_string_equal(fx->lines[2], "a\rb");
    assert_int_equal(st->errors, errs_before);
    assert_int_equal(st->connects, 1);

    /* the receiver goes away (hang-up), comes back under the same name */
    put(m1, "half a li");
    close(m1);
    assert_true(run_until(&fx->loop, is_disconnected, fx, 5000));
    assert_int_equal(st->disconnects, 1);
    int m2 = open_pty(slave, sizeof(slave));
    unlink(link);
    assert_int_equal(symlink(slave, link), 0);
    assert_true(run_until(&fx->loop, is_connected, fx, 5000));
    put(m2, "ne\r\n$QZQSM,after\r\n");
    fx->want_lines = 5;
    assert_true(run_until(&fx->loop, got_lines, fx, 5000));
    assert_string_equal(fx->lines[3], "ne");            /* a fragment: the parser's problem */
    assert_string_equal(fx->lines[4], "$QZQSM,after");
    assert_int_equal(st->connects, 2);

    anpi_linereader_close(fx->r, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, 1);
    fx->r = NULL;
    fx->closed = 0;
    close(m2);
    unlink(link);
    rmdir(dir);
}

static void
test_not_a_tty(void **state)
{
    struct fx *fx = *state;
    struct anpi_linereader_opts o = { .device = "/dev/null", .min_backoff_ms = 1000 };
    fx->r = anpi_linereader_create(&fx->loop, &o, on_line, fx);
    assert_non_null(fx->r);
    anpi_linereader_start(fx->r);
    const struct anpi_linereader_stats *st = anpi_linereader_stats(fx->r);
    assert_int_equal(st->errors, 1);
    assert_false(st->connected);
    assert_non_null(strstr(st->last_error, "/dev/null: not a serial device"));
}

/* Closing while a connection attempt is pending leaves nothing behind. */
static void
test_close_while_connecting(void **state)
{
    struct fx *fx = *state;
    struct anpi_linereader_opts o = { .tcp = "localhost:9", .min_backoff_ms = 20 };
    fx->r = anpi_linereader_create(&fx->loop, &o, on_line, fx);
    assert_non_null(fx->r);
    anpi_linereader_start(fx->r);
    /* teardown closes it at once and checks the loop closes cleanly */
}

static void
test_create_rejects_bad_opts(void **state)
{
    struct fx *fx = *state;
    struct anpi_linereader_opts o = { 0 };
    assert_null(anpi_linereader_create(&fx->loop, &o, on_line, fx));
    o.tcp = "127.0.0.1:2101";
    o.device = "/dev/ttyS0";
    assert_null(anpi_linereader_create(&fx->loop, &o, on_line, fx));
    o.device = NULL;
    assert_null(anpi_linereader_create(&fx->loop, &o, NULL, fx));
    const char *bad_tcp[] = { "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":2101", "::1:2101",
                              "[::1]2101", "host:+80", "host:port" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad_tcp); i++) {
        o.tcp = bad_tcp[i];
        assert_null(anpi_linereader_create(&fx->loop, &o, on_line, fx));
    }
    o.tcp = NULL;
    o.device = "ttyS0";
    assert_null(anpi_linereader_create(&fx->loop, &o, on_line, fx));
    o.device = "/dev/ttyS0";
    o.baud = 9601;
    assert_null(anpi_linereader_create(&fx->loop, &o, on_line, fx));
    /* a good one, closed without ever starting */
    o.baud = 4800;
    fx->r = anpi_linereader_create(&fx->loop, &o, on_line, fx);
    assert_non_null(fx->r);
    o.device = NULL;
    o.tcp = "[::1]:2101";
    struct anpi_linereader *r6 = anpi_linereader_create(&fx->loop, &o, on_line, fx);
    assert_non_null(r6);
    anpi_linereader_close(r6, NULL, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp_lines_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_refused_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serial_pty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_tty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_connecting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_opts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
