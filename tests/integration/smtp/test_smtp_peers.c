/* test_smtp_peers.c - the SMTP pool against real peers: Postfix smtp-sink,
 * aiosmtpd with STARTTLS + AUTH (tls_peer.py), and hostile peers written
 * here on the same libuv loop (silent, one byte per second, garbage, a
 * 10 KB line).  Every peer runs on a free loopback port and is killed at
 * the end of its test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "channels/smtp.h"

/* ---- processes and ports --------------------------------------------------- */

static pid_t peers[8];
static size_t npeers;

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void
wait_port(int port)
{
    for (int i = 0; i < 200; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (r == 0)
            return;
        usleep(25000);
    }
    fail_msg("peer on port %d did not start", port);
}

static pid_t
spawn(const char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        if (!getenv("ANPI_TEST_VERBOSE"))
            dup2(devnull, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    peers[npeers++] = pid;
    return pid;
}

static void
stop_peers(void)
{
    for (size_t i = 0; i < npeers; i++) {
        kill(peers[i], SIGTERM);
        waitpid(peers[i], NULL, 0);
    }
    npeers = 0;
}

static int
start_sink(const char *dumpdir, const char *extra1, const char *extra2)
{
    int port = free_port();
    char listen[64], tmpl[512];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(tmpl, sizeof(tmpl), "%s/%%M.", dumpdir);
    const char *argv[16];
    size_t n = 0;
    argv[n++] = "/usr/sbin/smtp-sink";
    if (geteuid() == 0) {
        argv[n++] = "-u";
        argv[n++] = "nobody";
    }
    argv[n++] = "-d";
    argv[n++] = tmpl;
    if (extra1)
        argv[n++] = extra1;
    if (extra2)
        argv[n++] = extra2;
    argv[n++] = listen;
    argv[n++] = "64";
    argv[n] = NULL;
    spawn(argv);
    wait_port(port);
    return port;
}

static char *
make_dir(void)
{
    char tmpl[] = "/tmp/anpi-smtp-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    chmod(d, 0777);   /* smtp-sink drops to nobody */
    return strdup(d);
}

static void
rm_dir(char *d)
{
    DIR *dir = opendir(d);
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
        unlink(p);
    }
    if (dir)
        closedir(dir);
    rmdir(d);
    free(d);
}

/* Concatenate every file in d; returns the count. */
static size_t
read_dir(const char *d, char **all)
{
    size_t n = 0, len = 0;
    char *buf = NULL;
    DIR *dir = opendir(d);
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".pem") || strstr(e->d_name, ".key") ||
            strstr(e->d_name, ".c") || strstr(e->d_name, ".srl"))
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = realloc(buf, len + (size_t)sz + 2);
        len += fread(buf + len, 1, (size_t)sz, f);
        buf[len++] = '\x01';   /* file separator */
        fclose(f);
        n++;
    }
    if (dir)
        closedir(dir);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    *all = buf;
    return n;
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- driving the pool -------------------------------------------------------- */

struct res {
    int calls;
    struct anpi_smtp_outcome o;
    char relay[64];
    double at;               /* seconds since the batch started */
    struct batch *b;
};

struct batch {
    uv_loop_t *loop;
    struct anpi_smtp_pool *pool;
    size_t expected, done;
    int closed;
    bool close_when_done;
    uv_timer_t watchdog;
    double t0;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_closed(void *arg)
{
    struct batch *b = arg;
    b->closed = 1;
    uv_close((uv_handle_t *)&b->watchdog, NULL);
}

static void
on_result(void *arg, const struct anpi_smtp_outcome *o)
{
    struct res *r = arg;
    r->calls++;
    r->o = *o;
    snprintf(r->relay, sizeof(r->relay), "%s", o->relay ? o->relay : "");
    r->o.relay = NULL;
    r->at = now_s() - r->b->t0;
    r->b->done++;
    if (r->b->done == r->b->expected && r->b->close_when_done)
        anpi_smtp_pool_close(r->b->pool, on_closed, r->b);
}

static void
on_watchdog(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "watchdog: test took over 30 s\n");
    abort();
}

static void
batch_init(struct batch *b, uv_loop_t *loop, const struct anpi_relay_conf *relays, size_t n,
           const struct anpi_smtp_opts *opts)
{
    memset(b, 0, sizeof(*b));
    b->loop = loop;
    b->close_when_done = true;
    b->pool = anpi_smtp_pool_create(loop, relays, n, opts);
    assert_non_null(b->pool);
    uv_timer_init(loop, &b->watchdog);
    uv_timer_start(&b->watchdog, on_watchdog, 30000, 0);
    uv_unref((uv_handle_t *)&b->watchdog);
    b->t0 = now_s();
}

static void
send_one(struct batch *b, struct res *r, const char *rcpt, const char *msg)
{
    memset(r, 0, sizeof(*r));
    r->b = b;
    b->expected++;
    assert_int_equal(anpi_smtp_send(b->pool, "anpi@example.jp", rcpt, msg, strlen(msg), on_result, r), 0);
}

static struct anpi_relay_conf
relay(const char *host, int port)
{
    struct anpi_relay_conf c = { .host = (char *)host, .port = port, .tls = ANPI_TLS_NONE,
                                 .tls_verify = true };
    return c;
}

static const struct anpi_smtp_opts opts1 = { .helo_name = "anpi.example.jp", .timeout_s = 5,
                                             .max_connections = 2 };

static const char *msg_plain =
    "From: anpi@example.jp\nSubject: drill\n\nline one\n.\n..\n.hidden\nlast line\n";

/* ---- tests ----------------------------------------------------------------------- */

static void
test_sink_twenty(void **state)
{
    (void)state;
    char *dump = make_dir();
    int port = start_sink(dump, NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_relay_conf rc = relay("127.0.0.1", port);
    struct batch b;
    batch_init(&b, &loop, &rc, 1, &opts1);
    struct res r[20];
    char rcpt[20][64], msg[20][256];
    for (int i = 0; i < 20; i++) {
        snprintf(rcpt[i], sizeof(rcpt[i]), "user%02d@example.jp", i);
        snprintf(msg[i], sizeof(msg[i]),
                 "From: anpi@example.jp\r\nTo: %s\r\nSubject: t%02d\r\n\r\n.\r\n..\r\n.x\r\nmarker-%02d\r\n",
                 rcpt[i], i, i);
        send_one(&b, &r[i], rcpt[i], msg[i]);
    }
    assert_int_equal(anpi_smtp_queued(b.pool), 20);
    struct anpi_smtp_stats st;
    anpi_smtp_pool_stats(b.pool, &st);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(b.closed);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(r[i].calls, 1);
        if (r[i].o.result != ANPI_SMTP_SENT)
            fail_msg("message %d: %d %s", i, r[i].o.code, r[i].o.text);
        assert_int_equal(r[i].o.code, 250);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_peers();

    char *all;
    assert_int_equal(read_dir(dump, &all), 20);
    assert_int_equal(count(all, "X-Mail-Args: <anpi@example.jp>"), 20);
    for (int i = 0; i < 20; i++) {
        char want[128];
        snprintf(want, sizeof(want), "X-Rcpt-Args: <%s>\n", rcpt[i]);
        assert_int_equal(count(all, want), 1);
        /* Dot-stuffing undone by the server: the lines arrive as written. */
        snprintf(want, sizeof(want), "\n\n.\n..\n.x\nmarker-%02d\n", i);
        if (count(all, want) != 1)
            fail_msg("body of message %d not restored", i);
    }
    free(all);
    rm_dir(dump);
}

static int g_opened;

static void
test_sink_reuse(void **state)
{
    (void)state;
    char *dump = make_dir();
    int port = start_sink(dump, NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_relay_conf rc = relay("127.0.0.1", port);
    struct anpi_smtp_opts o = opts1;
    o.max_connections = 1;
    o.max_msgs_per_conn = 3;
    struct batch b;
    batch_init(&b, &loop, &rc, 1, &o);
    b.close_when_done = false;
    struct res r[7];
    for (int i = 0; i < 7; i++)
        send_one(&b, &r[i], "hanako@example.jp", msg_plain);
    while (b.done < 7)
        uv_run(&loop, UV_RUN_ONCE);
    struct anpi_smtp_stats st;
    anpi_smtp_pool_stats(b.pool, &st);
    /* 7 messages, 3 per connection, one connection at a time: reused with
     * RSET, and a new connection after every third message. */
    assert_int_equal(st.connections_opened, 3);
    assert_int_equal(st.messages_sent, 7);
    g_opened = (int)st.connections_opened;
    anpi_smtp_pool_close(b.pool, on_closed, &b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(b.closed);
    for (int i = 0; i < 7; i++)
        assert_int_equal(r[i].o.result, ANPI_SMTP_SENT);
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_peers();
    char *all;
    assert_int_equal(read_dir(dump, &all), 7);
    free(all);
    rm_dir(dump);
}

static void
test_sink_rejects(void **state)
{
    (void)state;
    char *dump = make_dir();
    int hard = start_sink(dump, "-f", "rcpt");
    int soft = start_sink(dump, "-r", "rcpt");
    int quit = start_sink(dump, "-Q", "mail");
    int good = start_sink(dump, NULL, NULL);
    int closed_port = free_port();   /* nothing listens there */
    uv_loop_t loop;
    uv_loop_init(&loop);

    struct anpi_relay_conf rh = relay("127.0.0.1", hard), rs = relay("127.0.0.1", soft);
    struct anpi_relay_conf rq = relay("127.0.0.1", quit);
    struct anpi_relay_conf fo1[2] = { relay("127.0.0.1", quit), relay("127.0.0.1", good) };
    struct anpi_relay_conf fo2[2] = { relay("127.0.0.1", closed_port), relay("127.0.0.1", good) };
    struct batch bh, bs, bq, bf1, bf2;
    batch_init(&bh, &loop, &rh, 1, &opts1);
    batch_init(&bs, &loop, &rs, 1, &opts1);
    batch_init(&bq, &loop, &rq, 1, &opts1);
    batch_init(&bf1, &loop, fo1, 2, &opts1);
    batch_init(&bf2, &loop, fo2, 2, &opts1);
    struct res r[7];
    send_one(&bh, &r[0], "taro@example.jp", msg_plain);
    send_one(&bh, &r[1], "jiro@example.jp", msg_plain);   /* same connection after a 5xx */
    send_one(&bs, &r[2], "taro@example.jp", msg_plain);
    send_one(&bq, &r[3], "taro@example.jp", msg_plain);
    send_one(&bf1, &r[4], "taro@example.jp", msg_plain);
    send_one(&bf2, &r[5], "taro@example.jp", msg_plain);
    send_one(&bf2, &r[6], "bad<addr>@example.jp", msg_plain);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(bh.closed && bs.closed && bq.closed && bf1.closed && bf2.closed);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].o.result, ANPI_SMTP_PERMFAIL);
        assert_true(r[i].o.code >= 500 && r[i].o.code < 600);
        assert_true(strlen(r[i].o.text) > 0);
    }
    assert_int_equal(r[2].o.result, ANPI_SMTP_TEMPFAIL);
    assert_true(r[2].o.code >= 400 && r[2].o.code < 500);
    assert_true(strlen(r[2].o.text) > 0);
    assert_int_equal(r[3].o.result, ANPI_SMTP_TEMPFAIL);
    assert_int_equal(r[3].o.code, 421);
    /* Failover: 421 on the first relay, then delivered by the second. */
    char goodname[64];
    snprintf(goodname, sizeof(goodname), "127.0.0.1:%d", good);
    assert_int_equal(r[4].o.result, ANPI_SMTP_SENT);
    assert_string_equal(r[4].relay, goodname);
    /* Failover after "connection refused". */
    assert_int_equal(r[5].o.result, ANPI_SMTP_SENT);
    assert_string_equal(r[5].relay, goodname);
    /* Envelope injection refused before any command. */
    assert_int_equal(r[6].o.result, ANPI_SMTP_PERMFAIL);
    assert_string_equal(r[6].o.text, "invalid address");
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_peers();
    char *all;
    read_dir(dump, &all);
    /* exactly the two failovers carried a message.  A sink that answers 354
     * to the DATA of a pipelined transaction whose RCPT it refused gets a
     * lone "." (RFC 2920) and may dump an empty transaction: not a message. */
    size_t delivered = 0;
    for (const char *p = all; (p = strstr(p, "Subject: drill")) != NULL; p++)
        delivered++;
    assert_int_equal(delivered, 2);
    free(all);
    rm_dir(dump);
}

/* smtp-sink -A 0 answers "550 This violates SMTP" right after 354 and
 * hangs up.  On loopback the whole body is in the peer's socket before that
 * reply is read, so on the wire it cannot be told from a 550 to the final
 * "."; the peer's verdict is passed on unchanged.  (A peer that hangs up
 * mid-DATA without a reply is PEER_DROP_IN_DATA in test_hung_peers:
 * TEMPFAIL.) */
static void
test_sink_abort_in_data(void **state)
{
    (void)state;
    char *dump = make_dir();
    int port = start_sink(dump, "-A", "0");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_relay_conf rc = relay("127.0.0.1", port);
    struct batch b;
    batch_init(&b, &loop, &rc, 1, &opts1);
    struct res r;
    send_one(&b, &r, "taro@example.jp", msg_plain);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.o.code, 550);
    assert_string_equal(r.o.text, "This violates SMTP");
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_peers();
    rm_dir(dump);
}

/* ---- hostile peers on the test's own loop ------------------------------------ */

enum peer_kind { PEER_SILENT, PEER_TRICKLE, PEER_GARBAGE, PEER_LONGLINE, PEER_DROP_IN_DATA };

struct peer {
    uv_tcp_t server;
    enum peer_kind kind;
    int port;
    uv_tcp_t client;
    bool has_client;
    uv_timer_t trickle;
    size_t sent;
    bool in_data;
    char line[1024];
    size_t linelen;
};

static void
peer_wrote(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void
peer_write(struct peer *p, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof(*w) + len);
    char *copy = (char *)(w + 1);
    memcpy(copy, data, len);
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&p->client, &b, 1, peer_wrote) != 0)
        free(w);
}

static void
on_trickle(uv_timer_t *t)
{
    struct peer *p = t->data;
    static const char banner[] = "220 slow.example.jp ESMTP\r\n";
    if (p->sent < sizeof(banner) - 1)
        peer_write(p, banner + p->sent++, 1);
}

static void
peer_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    static char buf[4096];
    (void)s;
    *b = uv_buf_init(buf, sizeof(buf));
}

/* Only PEER_DROP_IN_DATA answers: 250 to everything, 354 to DATA, then
 * it hangs up on the first body bytes.  The others read and ignore. */
static void
peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct peer *p = s->data;
    if (n <= 0 || p->kind != PEER_DROP_IN_DATA || uv_is_closing((uv_handle_t *)s))
        return;
    if (p->in_data) {
        uv_close((uv_handle_t *)s, NULL);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (b->base[i] != '\n') {
            if (p->linelen < sizeof(p->line) - 1)
                p->line[p->linelen++] = b->base[i];
            continue;
        }
        p->line[p->linelen] = '\0';
        p->linelen = 0;
        if (strncmp(p->line, "DATA", 4) == 0) {
            peer_write(p, "354 go\r\n", 9);
            p->in_data = true;
            return;
        }
        peer_write(p, "250 ok\r\n", 8);
    }
}

static void
on_peer_conn(uv_stream_t *server, int status)
{
    struct peer *p = server->data;
    assert_int_equal(status, 0);
    assert_false(p->has_client);   /* one connection per test peer */
    uv_tcp_init(server->loop, &p->client);
    p->client.data = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->client), 0);
    p->has_client = true;
    uv_read_start((uv_stream_t *)&p->client, peer_alloc, peer_read);
    switch (p->kind) {
    case PEER_SILENT:
        break;
    case PEER_TRICKLE:
        uv_timer_start(&p->trickle, on_trickle, 0, 400);
        break;
    case PEER_GARBAGE:
        peer_write(p, "hello\r\n", 7);
        break;
    case PEER_DROP_IN_DATA:
        peer_write(p, "220 drop.example.jp ESMTP\r\n", 27);
        break;
    case PEER_LONGLINE: {
        static char line[10240 + 2];
        memset(line, 'x', sizeof(line));
        memcpy(line, "220 ", 4);
        memcpy(line + 10240, "\r\n", 2);
        peer_write(p, line, sizeof(line));
        break;
    }
    }
}

static void
peer_start(uv_loop_t *loop, struct peer *p, enum peer_kind kind)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    uv_tcp_init(loop, &p->server);
    p->server.data = p;
    uv_timer_init(loop, &p->trickle);
    p->trickle.data = p;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&p->server, (struct sockaddr *)&a, 0), 0);
    int l = sizeof(a);
    uv_tcp_getsockname(&p->server, (struct sockaddr *)&a, &l);
    p->port = ntohs(a.sin_port);
    assert_int_equal(uv_listen((uv_stream_t *)&p->server, 8, on_peer_conn), 0);
}

static void
peer_stop(struct peer *p)
{
    uv_close((uv_handle_t *)&p->server, NULL);
    uv_close((uv_handle_t *)&p->trickle, NULL);
    if (p->has_client && !uv_is_closing((uv_handle_t *)&p->client))
        uv_close((uv_handle_t *)&p->client, NULL);
}

static void
test_hung_peers(void **state)
{
    (void)state;
    char *dump = make_dir();
    int good = start_sink(dump, NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct peer silent, trickle, garbage, longline, drop;
    peer_start(&loop, &drop, PEER_DROP_IN_DATA);
    peer_start(&loop, &silent, PEER_SILENT);
    peer_start(&loop, &trickle, PEER_TRICKLE);
    peer_start(&loop, &garbage, PEER_GARBAGE);
    peer_start(&loop, &longline, PEER_LONGLINE);
    struct anpi_smtp_opts o = opts1;
    o.timeout_s = 1;
    struct anpi_relay_conf rs = relay("127.0.0.1", silent.port), rt = relay("127.0.0.1", trickle.port);
    struct anpi_relay_conf rgb = relay("127.0.0.1", garbage.port), rl = relay("127.0.0.1", longline.port);
    struct anpi_relay_conf rg = relay("127.0.0.1", good), rd = relay("127.0.0.1", drop.port);
    struct batch bs, bt, bgb, bl, bg, bd;
    batch_init(&bd, &loop, &rd, 1, &o);
    batch_init(&bs, &loop, &rs, 1, &o);
    batch_init(&bt, &loop, &rt, 1, &o);
    batch_init(&bgb, &loop, &rgb, 1, &o);
    batch_init(&bl, &loop, &rl, 1, &o);
    batch_init(&bg, &loop, &rg, 1, &o);
    struct res r[6];
    send_one(&bd, &r[5], "taro@example.jp", msg_plain);
    send_one(&bs, &r[0], "taro@example.jp", msg_plain);
    send_one(&bt, &r[1], "taro@example.jp", msg_plain);
    send_one(&bgb, &r[2], "taro@example.jp", msg_plain);
    send_one(&bl, &r[3], "taro@example.jp", msg_plain);
    send_one(&bg, &r[4], "taro@example.jp", msg_plain);
    double t0 = now_s();
    while (!(bs.closed && bt.closed && bgb.closed && bl.closed && bg.closed && bd.closed))
        uv_run(&loop, UV_RUN_ONCE);
    double took = now_s() - t0;

    assert_int_equal(r[0].o.result, ANPI_SMTP_TEMPFAIL);
    assert_string_equal(r[0].o.text, "timeout waiting for banner");
    assert_int_equal(r[1].o.result, ANPI_SMTP_TEMPFAIL);
    assert_string_equal(r[1].o.text, "timeout waiting for banner");
    assert_true(r[0].at >= 0.9 && r[1].at >= 0.9);
    assert_int_equal(r[2].o.result, ANPI_SMTP_TEMPFAIL);
    assert_non_null(strstr(r[2].o.text, "protocol error"));
    assert_int_equal(r[3].o.result, ANPI_SMTP_TEMPFAIL);
    assert_non_null(strstr(r[3].o.text, "protocol error"));
    /* The working relay did not wait for the hung ones. */
    assert_int_equal(r[4].o.result, ANPI_SMTP_SENT);
    assert_true(r[4].at < 0.9);
    assert_true(took < 5.0);
    /* Peer hung up after 354 while the body was on its way. */
    assert_int_equal(r[5].o.result, ANPI_SMTP_TEMPFAIL);
    assert_int_equal(r[5].o.code, 0);

    peer_stop(&silent);
    peer_stop(&trickle);
    peer_stop(&garbage);
    peer_stop(&longline);
    peer_stop(&drop);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_peers();
    rm_dir(dump);
}

/* Closing the pool with work queued: every callback runs once with
 * "shutting down". */
static void
test_close_pending(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct peer silent;
    peer_start(&loop, &silent, PEER_SILENT);
    struct anpi_relay_conf rs = relay("127.0.0.1", silent.port);
    struct anpi_smtp_opts o = opts1;
    o.max_connections = 1;
    struct batch b;
    batch_init(&b, &loop, &rs, 1, &o);
    b.close_when_done = false;
    struct res r[3];
    for (int i = 0; i < 3; i++)
        send_one(&b, &r[i], "taro@example.jp", msg_plain);
    uv_run(&loop, UV_RUN_NOWAIT);
    anpi_smtp_pool_close(b.pool, on_closed, &b);
    while (!b.closed)
        uv_run(&loop, UV_RUN_ONCE);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].o.result, ANPI_SMTP_TEMPFAIL);
        assert_string_equal(r[i].o.text, "shutting down");
    }
    peer_stop(&silent);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- TLS and AUTH against aiosmtpd ---------------------------------------------- */

static char *certdir;

static int
start_tls_peer(const char *mode, const char *outdir)
{
    int port = free_port();
    char ps[16], cert[512], key[512], script[512];
    snprintf(ps, sizeof(ps), "%d", port);
    snprintf(cert, sizeof(cert), "%s/server.pem", certdir);
    snprintf(key, sizeof(key), "%s/server.key", certdir);
    snprintf(script, sizeof(script), "%s/tests/integration/smtp/tls_peer.py",
             getenv("ANPI_SOURCE_ROOT"));
    const char *argv[] = { "/usr/bin/python3", script, ps, cert, key, outdir, mode,
                           "drill", "s3cret", NULL };
    spawn(argv);
    wait_port(port);
    return port;
}

static void
test_tls(void **state)
{
    (void)state;
    certdir = make_dir();
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/tests/integration/smtp/make_certs.sh %s",
             getenv("ANPI_SOURCE_ROOT"), certdir);
    assert_int_equal(system(cmd), 0);
    char *out = make_dir(), *out_plain = make_dir();
    int tport = start_tls_peer("starttls", out);
    int pport = start_tls_peer("plain", out_plain);
    char ca[512], other[512];
    snprintf(ca, sizeof(ca), "%s/ca.pem", certdir);
    snprintf(other, sizeof(other), "%s/other.pem", certdir);

    struct anpi_relay_conf ok = relay("localhost", tport);
    ok.tls = ANPI_TLS_STARTTLS;
    ok.ca_file = ca;
    ok.username = "drill";
    ok.password = "s3cret";
    struct anpi_relay_conf wrong_host = ok, unknown_ca = ok, bad_pass = ok, no_verify = ok;
    wrong_host.host = "127.0.0.1";       /* the certificate names "localhost" only */
    unknown_ca.ca_file = other;
    bad_pass.password = "wrong";
    no_verify.host = "127.0.0.1";
    no_verify.tls_verify = false;
    no_verify.ca_file = NULL;
    struct anpi_relay_conf no_starttls = relay("localhost", pport);
    no_starttls.tls = ANPI_TLS_STARTTLS;
    no_starttls.ca_file = ca;
    struct anpi_relay_conf auth_plaintext = relay("localhost", pport);
    auth_plaintext.username = "drill";
    auth_plaintext.password = "s3cret";

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_smtp_opts o = opts1;
    const struct anpi_relay_conf *confs[] = { &ok, &wrong_host, &unknown_ca, &bad_pass,
                                              &no_verify, &no_starttls, &auth_plaintext };
    enum { N = 7 };
    struct batch b[N];
    struct res r[N];
    for (int i = 0; i < N; i++) {
        batch_init(&b[i], &loop, confs[i], 1, &o);
        send_one(&b[i], &r[i], "taro@example.jp", msg_plain);
    }
    for (;;) {
        bool all = true;
        for (int i = 0; i < N; i++)
            all = all && b[i].closed;
        if (all)
            break;
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_run(&loop, UV_RUN_DEFAULT);   /* the watchdogs' close callbacks */
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_peers();

    if (r[0].o.result != ANPI_SMTP_SENT)
        fail_msg("verified STARTTLS+AUTH: %d %s", r[0].o.code, r[0].o.text);
    assert_int_equal(r[1].o.result, ANPI_SMTP_TEMPFAIL);
    assert_non_null(strstr(r[1].o.text, "certificate verify failed"));
    assert_int_equal(r[2].o.result, ANPI_SMTP_TEMPFAIL);
    assert_non_null(strstr(r[2].o.text, "certificate verify failed"));
    assert_int_equal(r[3].o.result, ANPI_SMTP_TEMPFAIL);
    assert_int_equal(r[3].o.code, 535);
    assert_int_equal(r[4].o.result, ANPI_SMTP_SENT);   /* tls_verify=false */
    assert_int_equal(r[5].o.result, ANPI_SMTP_TEMPFAIL);
    assert_string_equal(r[5].o.text, "relay does not offer STARTTLS");
    assert_int_equal(r[6].o.result, ANPI_SMTP_TEMPFAIL);
    assert_non_null(strstr(r[6].o.text, "not encrypted"));

    /* Exactly the two accepted messages reached the TLS peer, nothing the
     * plain one. */
    char *all;
    assert_int_equal(read_dir(out, &all), 2);
    assert_int_equal(count(all, "X-Auth: True"), 2);
    assert_int_equal(count(all, "X-Rcpt-To: taro@example.jp"), 2);
    assert_int_equal(count(all, "\r\n.\r\n..\r\n.hidden\r\n"), 2);   /* un-stuffed by the peer */
    free(all);
    assert_int_equal(read_dir(out_plain, &all), 0);
    free(all);
    rm_dir(out);
    rm_dir(out_plain);
    rm_dir(certdir);
}


/* ---- pipelining, limits, slow-down, failover ------------------------------------ */

static void
run_until(uv_loop_t *loop, struct batch *b, size_t n)
{
    while (b->done < n)
        uv_run(loop, UV_RUN_ONCE);
}

static void
finish(uv_loop_t *loop, struct batch *b)
{
    anpi_smtp_pool_close(b->pool, on_closed, b);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_true(b->closed);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* With PIPELINING offered every envelope goes out in one write (and the
 * next one behind the final dot); smtp-sink -p does not offer it and the
 * same batch goes through lock-step. */
static void
test_pipelining(void **state)
{
    (void)state;
    for (int nopipe = 0; nopipe < 2; nopipe++) {
        char *dump = make_dir();
        int port = start_sink(dump, nopipe ? "-p" : NULL, NULL);
        uv_loop_t loop;
        uv_loop_init(&loop);
        struct anpi_relay_conf rc = relay("127.0.0.1", port);
        struct anpi_smtp_opts o = opts1;
        o.max_connections = 1;
        struct batch b;
        batch_init(&b, &loop, &rc, 1, &o);
        b.close_when_done = false;
        struct res r[30];
        char rcpt[30][64];
        for (int i = 0; i < 30; i++) {
            snprintf(rcpt[i], sizeof(rcpt[i]), "p%02d@example.jp", i);
            send_one(&b, &r[i], rcpt[i], msg_plain);
        }
        run_until(&loop, &b, 30);
        struct anpi_smtp_stats st;
        anpi_smtp_pool_stats(b.pool, &st);
        for (int i = 0; i < 30; i++)
            if (r[i].o.result != ANPI_SMTP_SENT)
                fail_msg("message %d: %d %s", i, r[i].o.code, r[i].o.text);
        assert_int_equal(st.messages_sent, 30);
        assert_int_equal(st.connections_opened, 1);
        if (nopipe)
            assert_int_equal(st.txn_pipelined, 0);
        else
            assert_int_equal(st.txn_pipelined, 30);
        finish(&loop, &b);
        stop_peers();
        char *all;
        assert_int_equal(read_dir(dump, &all), 30);
        for (int i = 0; i < 30; i++) {
            char want[128];
            snprintf(want, sizeof(want), "X-Rcpt-Args: <p%02d@example.jp>\n", i);
            assert_int_equal(count(all, want), 1);
        }
        free(all);
        rm_dir(dump);
    }
}

/* smtp.limits: one connection at a time, 5 messages per connection, 20
 * messages per second.  The bucket spaces 20 messages over at least 19/20 s
 * (a lower bound: a slow machine cannot make it fail). */
static void
test_limits(void **state)
{
    (void)state;
    char *dump = make_dir();
    int port = start_sink(dump, NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_relay_conf rc = relay("127.0.0.1", port);
    const struct anpi_smtp_limit lim[] = {
        { .match = "example.jp", .connections = 1, .rate = 20, .burst = 1,
          .messages_per_connection = 5 },
    };
    struct anpi_smtp_opts o = opts1;
    o.max_connections = 4;
    o.limits = lim;
    o.nlimits = 1;
    struct batch b;
    batch_init(&b, &loop, &rc, 1, &o);
    b.close_when_done = false;
    struct res r[24];
    for (int i = 0; i < 20; i++)
        send_one(&b, &r[i], "taro@example.jp", msg_plain);
    /* other domains are not held back by it */
    for (int i = 20; i < 24; i++)
        send_one(&b, &r[i], "jiro@example.com", msg_plain);
    run_until(&loop, &b, 24);
    double first = 1e9, last = 0;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(r[i].o.result, ANPI_SMTP_SENT);
        first = r[i].at < first ? r[i].at : first;
        last = r[i].at > last ? r[i].at : last;
    }
    assert_true(last - first >= 0.9);
    for (int i = 20; i < 24; i++) {
        assert_int_equal(r[i].o.result, ANPI_SMTP_SENT);
        assert_true(r[i].at < last / 2);
    }
    struct anpi_smtp_stats st;
    anpi_smtp_pool_stats(b.pool, &st);
    assert_true(st.connections_opened >= 5);   /* 4 for example.jp (5 each), 1+ for example.com */
    struct anpi_smtp_group_stats gs[4];
    size_t ng = anpi_smtp_pool_group_stats(b.pool, gs, 4);
    assert_int_equal(ng, 2);
    assert_string_equal(gs[0].group, "limit:example.jp");
    assert_int_equal(gs[0].sent, 20);
    assert_true(gs[0].rate_limit == 20.0);
    assert_string_equal(gs[1].group, "default");
    assert_int_equal(gs[1].sent, 4);
    /* the engine's share hook: two nodes, half each */
    anpi_smtp_set_share(b.pool, 1, 2);
    anpi_smtp_pool_group_stats(b.pool, gs, 4);
    assert_true(gs[0].rate_limit == 10.0);
    finish(&loop, &b);
    stop_peers();
    rm_dir(dump);
}

/* 421 from the destination halves the group's rate. */
static void
test_slowdown(void **state)
{
    (void)state;
    char *dump = make_dir();
    int port = start_sink(dump, "-Q", "rcpt");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_relay_conf rc = relay("127.0.0.1", port);
    const struct anpi_smtp_limit lim[] = { { .match = "*", .rate = 40, .burst = 2 } };
    struct anpi_smtp_opts o = opts1;
    o.limits = lim;
    o.nlimits = 1;
    struct batch b;
    batch_init(&b, &loop, &rc, 1, &o);
    b.close_when_done = false;
    struct res r[3];
    for (int i = 0; i < 3; i++)
        send_one(&b, &r[i], "hanako@example.jp", msg_plain);
    run_until(&loop, &b, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].o.result, ANPI_SMTP_TEMPFAIL);
        assert_int_equal(r[i].o.code, 421);
    }
    struct anpi_smtp_stats st;
    anpi_smtp_pool_stats(b.pool, &st);
    assert_true(st.slowdowns >= 1);
    assert_int_equal(st.messages_deferred, 3);
    struct anpi_smtp_group_stats gs[2];
    assert_int_equal(anpi_smtp_pool_group_stats(b.pool, gs, 2), 1);
    assert_string_equal(gs[0].group, "domain:example.jp");
    assert_true(gs[0].rate_limit <= 20.0);
    assert_int_equal(gs[0].deferred, 3);
    finish(&loop, &b);
    stop_peers();
    rm_dir(dump);
}

/* A relay that refuses connections is marked down after three failures and
 * the mail goes to the next one; with no relay left the answer is TEMPFAIL. */
static void
test_relay_down(void **state)
{
    (void)state;
    char *dump = make_dir();
    int port = start_sink(dump, NULL, NULL);
    int dead = free_port();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct anpi_relay_conf rcs[2] = { relay("127.0.0.1", dead), relay("127.0.0.1", port) };
    struct anpi_smtp_opts o = opts1;
    o.max_connections = 1;
    struct batch b;
    batch_init(&b, &loop, rcs, 2, &o);
    b.close_when_done = false;
    struct res r[10];
    for (int i = 0; i < 10; i++)
        send_one(&b, &r[i], "taro@example.jp", msg_plain);
    run_until(&loop, &b, 10);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    for (int i = 0; i < 10; i++) {
        if (r[i].o.result != ANPI_SMTP_SENT)
            fail_msg("message %d: %d %s", i, r[i].o.code, r[i].o.text);
        assert_string_equal(r[i].relay, want);
    }
    struct anpi_smtp_stats st;
    anpi_smtp_pool_stats(b.pool, &st);
    assert_int_equal(st.relays_marked_down, 1);
    struct anpi_smtp_relay_stats rs[2];
    assert_int_equal(anpi_smtp_pool_relay_stats(b.pool, rs, 2), 2);
    assert_true(rs[0].down);
    assert_false(rs[1].down);
    assert_int_equal(rs[1].sent, 10);
    finish(&loop, &b);

    /* only the dead relay: three connection failures, then "relay down" */
    uv_loop_init(&loop);
    batch_init(&b, &loop, rcs, 1, &o);
    b.close_when_done = false;
    for (int i = 0; i < 6; i++)
        send_one(&b, &r[i], "taro@example.jp", msg_plain);
    run_until(&loop, &b, 6);
    size_t down = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(r[i].o.result, ANPI_SMTP_TEMPFAIL);
        down += strstr(r[i].o.text, "relay down") != NULL;
    }
    assert_int_equal(down, 3);
    anpi_smtp_pool_stats(b.pool, &st);
    assert_int_equal(st.relays_marked_down, 1);
    finish(&loop, &b);
    stop_peers();
    rm_dir(dump);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_twenty),
        cmocka_unit_test(test_sink_reuse),
        cmocka_unit_test(test_sink_rejects),
        cmocka_unit_test(test_sink_abort_in_data),
        cmocka_unit_test(test_hung_peers),
        cmocka_unit_test(test_close_pending),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_slowdown),
        cmocka_unit_test(test_relay_down),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    stop_peers();
    return rc;
}
