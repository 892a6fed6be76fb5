/* test_fetch.c - libcurl multi on the libuv loop against a loopback server:
 * status, validators, conditional GET, redirects, every limit, cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "feeds/poll/http_fetch.h"
#include "testhttpd.h"
#include "testloop.h"

struct got {
    int called;
    int status;
    int code;
    char *error;
    char *body;
    size_t len;
    char *etag, *lm;
    double seconds;
};

struct fx {
    uv_loop_t loop;
    struct anpi_fetcher *f;
    int closed;
};

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
on_done(void *arg, const struct anpi_fetch_result *r)
{
    struct got *g = arg;
    g->called++;
    g->status = r->status;
    g->code = r->code;
    g->error = dup_or_null(r->error);
    g->body = malloc(r->len + 1);
    memcpy(g->body, r->body, r->len);
    g->body[r->len] = '\0';
    g->len = r->len;
    g->etag = dup_or_null(r->etag);
    g->lm = dup_or_null(r->last_modified);
    g->seconds = r->seconds;
}

static void
got_free(struct got *g)
{
    free(g->error);
    free(g->body);
    free(g->etag);
    free(g->lm);
    memset(g, 0, sizeof(*g));
}

static int
called(void *arg)
{
    return ((struct got *)arg)->called > 0;
}

static int
group_setup(void **state)
{
    (void)state;
    return thttpd_start() > 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    thttpd_stop();
    return 0;
}

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    uv_loop_init(&fx->loop);
    fx->f = anpi_fetcher_create(&fx->loop);
    thttpd_reset();
    *state = fx;
    return fx->f ? 0 : -1;
}

static void
on_closed(void *arg)
{
    ((struct fx *)arg)->closed = 1;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;
    if (fx->f)
        anpi_fetcher_close(fx->f, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, 1);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

static void
fetch_wait(struct fx *fx, const char *path, const struct anpi_fetch_opts *o, struct got *g)
{
    char *url = path[0] == '/' ? thttpd_url(path) : strdup(path);
    assert_int_equal(anpi_fetch(fx->f, url, o, on_done, g), 0);
    assert_int_equal(g->called, 0);            /* never called from inside anpi_fetch */
    assert_true(run_until(&fx->loop, called, g, 15000));
    assert_int_equal(g->called, 1);
    free(url);
}

static void
test_get_and_conditional(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("a.xml");
    struct got g = { 0 };
    fetch_wait(fx, "/feed.xml", NULL, &g);
    assert_null(g.error);
    assert_int_equal(g.status, 200);
    assert_non_null(strstr(g.body, "<feed"));
    assert_non_null(strstr(g.body, "/doc/a.xml"));
    assert_int_equal(g.len, strlen(g.body));
    assert_non_null(g.etag);
    assert_non_null(g.lm);
    assert_true(g.seconds >= 0.0 && g.seconds < 5.0);

    /* ETag only */
    struct anpi_fetch_opts o = { .etag = g.etag };
    struct got g2 = { 0 };
    fetch_wait(fx, "/feed.xml", &o, &g2);
    assert_null(g2.error);
    assert_int_equal(g2.status, 304);
    assert_int_equal(g2.len, 0);

    /* Last-Modified only */
    struct anpi_fetch_opts o2 = { .last_modified = g.lm };
    struct got g3 = { 0 };
    fetch_wait(fx, "/feed.xml", &o2, &g3);
    assert_int_equal(g3.status, 304);
    assert_int_equal(thttpd_count_304(), 2);

    /* a changed feed answers 200 again */
    thttpd_add_doc("b.xml");
    struct got g4 = { 0 };
    fetch_wait(fx, "/feed.xml", &o, &g4);
    assert_int_equal(g4.status, 200);
    assert_non_null(strstr(g4.body, "/doc/b.xml"));
    assert_string_not_equal(g4.etag, g.etag);
    got_free(&g);
    got_free(&g2);
    got_free(&g3);
    got_free(&g4);
}

static void
test_status_passed_through(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    fetch_wait(fx, "/doc/missing.xml", NULL, &g);
    assert_null(g.error);
    assert_int_equal(g.status, 404);
    got_free(&g);
    fetch_wait(fx, "/status/500", NULL, &g);
    assert_null(g.error);
    assert_int_equal(g.status, 500);
    got_free(&g);
}

static void
test_redirects(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    fetch_wait(fx, "/to-feed", NULL, &g);
    assert_null(g.error);
    assert_int_equal(g.status, 200);
    assert_non_null(strstr(g.body, "<feed"));
    got_free(&g);

    fetch_wait(fx, "/loop", NULL, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(g.error, "too many redirects");
    assert_int_equal(thttpd_count("/loop"), 1 + ANPI_FETCH_MAX_REDIRECTS);
    got_free(&g);
}

static void
test_timeout_keeps_loop_responsive(void **state)
{
    struct fx *fx = *state;
    struct ticker tk;
    ticker_start(&fx->loop, &tk);
    uint64_t t0 = uv_hrtime();
    struct anpi_fetch_opts o = { .timeout_s = 1 };
    struct got g = { 0 };
    fetch_wait(fx, "/hang", &o, &g);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    ticker_stop(&tk);
    assert_int_equal(g.status, 0);
    assert_string_equal(g.error, "timeout after 1s");
    assert_int_equal(g.code, ANPI_ETIMEDOUT);
    /* not before the timeout; that the timeout (and not /hang's late 200
     * after 5 s) ended it is in the status and message above, not in a
     * clock bet on a loaded machine */
    assert_true(ms >= 900);
    /* a 10 ms timer kept firing while the request hung */
    assert_true(tk.ticks >= 50);
    got_free(&g);
}

static void
test_body_cap(void **state)
{
    struct fx *fx = *state;
    struct anpi_fetch_opts o = { .max_bytes = 1024 * 1024 };
    struct got g = { 0 };
    /* chunked: the cap holds while receiving */
    fetch_wait(fx, "/big", &o, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(g.error, "too large: over 1048576 bytes");
    assert_int_equal(g.code, ANPI_ETOOBIG);
    assert_int_equal(g.len, 0);
    got_free(&g);
    /* with Content-Length: refused before the body */
    fetch_wait(fx, "/bigcl", &o, &g);
    assert_string_equal(g.error, "too large: over 1048576 bytes");
    got_free(&g);
    /* default cap: 10 MiB */
    fetch_wait(fx, "/big", NULL, &g);
    assert_string_equal(g.error, "too large: over 10485760 bytes");
    got_free(&g);
}

static void
test_protocols_refused(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    fetch_wait(fx, "file:///etc/passwd", NULL, &g);
    assert_int_equal(g.status, 0);
    assert_non_null(g.error);
    assert_int_equal(g.len, 0);
    got_free(&g);
    fetch_wait(fx, "gopher://127.0.0.1/", NULL, &g);
    assert_non_null(g.error);
    got_free(&g);
}

static void
test_refused_connection(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    /* port 1 on loopback: nothing listens there */
    fetch_wait(fx, "http://127.0.0.1:1/feed.xml", NULL, &g);
    assert_int_equal(g.status, 0);
    assert_non_null(g.error);
    assert_true(strlen(g.error) > 0);
    got_free(&g);
}

static void
test_user_agent_and_gzip(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    fetch_wait(fx, "/ua", NULL, &g);
    assert_int_equal(g.status, 200);
    assert_int_equal(strncmp(g.body, "anpi/", 5), 0);
    assert_true(strlen(g.body) > 5);
    got_free(&g);
    fetch_wait(fx, "/gzip", NULL, &g);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "gzip body: 試験 太郎\n");
    got_free(&g);
}

static void
test_crlf_validator_refused(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    struct anpi_fetch_opts o = { .etag = "\"x\"\r\nX-Evil: 1" };
    char *url = thttpd_url("/feed.xml");
    assert_int_equal(anpi_fetch(fx->f, url, &o, on_done, &g), ANPI_EPARSE);
    free(url);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(g.called, 0);
}

struct many {
    struct got g[12];
    int done;
};

static void
on_many(void *arg, const struct anpi_fetch_result *r)
{
    struct got *g = arg;
    on_done(g, r);
}

static int
all_done(void *arg)
{
    struct many *m = arg;
    for (int i = 0; i < 12; i++)
        if (!m->g[i].called)
            return 0;
    return 1;
}

static void
test_parallel(void **state)
{
    struct fx *fx = *state;
    struct many m = { 0 };
    char name[32], path[64];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "p%d.xml", i);
        thttpd_add_doc(name);
    }
    for (int i = 0; i < 12; i++) {
        snprintf(path, sizeof(path), "/doc/p%d.xml", i);
        char *url = thttpd_url(path);
        assert_int_equal(anpi_fetch(fx->f, url, NULL, on_many, &m.g[i]), 0);
        free(url);
    }
    assert_int_equal(anpi_fetcher_active(fx->f), 12);
    assert_true(run_until(&fx->loop, all_done, &m, 15000));
    char want[512];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "p%d.xml", i);
        assert_int_equal(m.g[i].status, 200);
        assert_string_equal(m.g[i].body, thttpd_doc_body(name, want, sizeof(want)));
        got_free(&m.g[i]);
    }
    assert_int_equal(anpi_fetcher_active(fx->f), 0);
}

static void
test_close_cancels(void **state)
{
    struct fx *fx = *state;
    struct got g = { 0 };
    char *url = thttpd_url("/hang");
    assert_int_equal(anpi_fetch(fx->f, url, NULL, on_done, &g), 0);
    free(url);
    uv_run(&fx->loop, UV_RUN_NOWAIT);   /* the request is under way */
    anpi_fetcher_close(fx->f, on_closed, fx);
    assert_int_equal(g.called, 1);
    assert_string_equal(g.error, "cancelled");
    assert_int_equal(g.status, 0);
    struct got g2 = { 0 };
    url = thttpd_url("/feed.xml");
    assert_int_equal(anpi_fetch(fx->f, url, NULL, on_done, &g2), ANPI_EPERM);
    free(url);
    fx->f = NULL;
    got_free(&g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_conditional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_passed_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_keeps_loop_responsive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocols_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_agent_and_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_validator_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
