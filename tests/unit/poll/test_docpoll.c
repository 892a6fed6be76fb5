/* test_docpoll.c - the single-document poller against a loopback server:
 * changed vs unchanged bodies, 304, URL fail-over without re-delivery,
 * every failure mode counted without stalling the loop, back-off, a restart
 * seeded with the last hash, closing from the callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "engine/anpi.h"
#include "feeds/poll/docpoll.h"
#include "testhttpd.h"
#include "testloop.h"

#define MAX_GOT 16

struct fx {
    uv_loop_t loop;
    struct anpi_docpoll *p;
    int closed;
    int close_in_cb;
    char *urls[2];
    size_t ndocs;
    char *doc_url[MAX_GOT];
    char *doc_body[MAX_GOT];
    uint64_t wait_rounds;
};

static void
on_closed(void *arg)
{
    ((struct fx *)arg)->closed++;
}

static void
on_doc(void *arg, const char *source, const char *url, const char *body, size_t len)
{
    struct fx *fx = arg;
    assert_string_equal(source, "gdacs");
    assert_true(fx->ndocs < MAX_GOT);
    assert_int_equal(strlen(body), len);
    fx->doc_url[fx->ndocs] = strdup(url);
    fx->doc_body[fx->ndocs] = strndup(body, len);
    fx->ndocs++;
    if (fx->close_in_cb) {
        anpi_docpoll_close(fx->p, on_closed, fx);
        fx->p = NULL;
    }
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
    thttpd_reset();
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;
    int had = fx->p != NULL || fx->close_in_cb;
    if (fx->p)
        anpi_docpoll_close(fx->p, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, had ? 1 : 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    for (size_t i = 0; i < fx->ndocs; i++) {
        free(fx->doc_url[i]);
        free(fx->doc_body[i]);
    }
    free(fx->urls[0]);
    free(fx->urls[1]);
    free(fx);
    return 0;
}

static struct anpi_docpoll *
make(struct fx *fx, const char *path1, const char *path2, int timeout_s)
{
    fx->urls[0] = thttpd_url(path1);
    fx->urls[1] = path2 ? thttpd_url(path2) : NULL;
    struct anpi_docpoll_opts o = {
        .source = "gdacs",
        .urls = (const char *const *)fx->urls,
        .nurls = path2 ? 2 : 1,
        .interval_s = 3600,
        .timeout_s = timeout_s,
        .max_bytes = 1024 * 1024,
    };
    fx->p = anpi_docpoll_create(&fx->loop, &o, on_doc, fx);
    assert_non_null(fx->p);
    return fx->p;
}

static int
round_done(void *arg)
{
    struct fx *fx = arg;
    return fx->p == NULL || anpi_docpoll_stats(fx->p)->rounds >= fx->wait_rounds;
}

static const struct anpi_docpoll_stats *
poll_once(struct fx *fx)
{
    fx->wait_rounds = anpi_docpoll_stats(fx->p)->rounds + 1;
    anpi_docpoll_poll_now(fx->p);
    assert_true(run_until(&fx->loop, round_done, fx, 20000));
    return anpi_docpoll_stats(fx->p);
}

/* The server ignores conditional GET: the same body must not come twice. */
static void
test_changed_and_unchanged(void **state)
{
    struct fx *fx = *state;
    thttpd_conditional(0);
    thttpd_add_doc("g1.xml");
    make(fx, "/feed.xml", NULL, 5);
    const struct anpi_docpoll_stats *st = poll_once(fx);
    assert_int_equal(fx->ndocs, 1);
    assert_int_equal(st->documents, 1);
    assert_true(st->last_document > 0);
    assert_non_null(strstr(fx->doc_body[0], "/doc/g1.xml"));
    assert_string_equal(fx->doc_url[0], fx->urls[0]);
    st = poll_once(fx);
    st = poll_once(fx);
    assert_int_equal(thttpd_count("/feed.xml"), 3);
    assert_int_equal(thttpd_count_304(), 0);
    assert_int_equal(fx->ndocs, 1);
    assert_int_equal(st->unchanged, 2);
    assert_int_equal(st->documents, 1);
    assert_int_equal(st->polls, 3);
    assert_int_equal(st->rounds, 3);
    assert_int_equal(st->errors, 0);
    /* a new body is delivered */
    thttpd_add_doc("g2.xml");
    st = poll_once(fx);
    assert_int_equal(fx->ndocs, 2);
    assert_non_null(strstr(fx->doc_body[1], "/doc/g2.xml"));
    assert_int_equal(st->documents, 2);
    assert_int_equal(st->unchanged, 2);
}

static void
test_not_modified(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("n1.xml");
    make(fx, "/feed.xml", NULL, 5);
    const struct anpi_docpoll_stats *st = poll_once(fx);
    assert_int_equal(st->not_modified, 0);
    st = poll_once(fx);
    st = poll_once(fx);
    assert_int_equal(thttpd_count_304(), 2);
    assert_int_equal(st->not_modified, 2);
    assert_int_equal(st->documents, 1);
    assert_int_equal(st->unchanged, 0);
    assert_int_equal(fx->ndocs, 1);
    assert_true(st->last_success >= st->last_poll);
    /* the document changes: the validators no longer match, 200 again */
    thttpd_add_doc("n2.xml");
    st = poll_once(fx);
    assert_int_equal(st->documents, 2);
    assert_int_equal(thttpd_count_304(), 2);
}

/* The first URL fails: the second answers and its body is delivered once;
 * when the first is back with the same document it is not delivered again. */
static void
test_second_url(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("m1.xml");
    make(fx, "/feed.xml", "/to-feed", 5);
    thttpd_fail_once("/feed.xml");
    const struct anpi_docpoll_stats *st = poll_once(fx);
    assert_int_equal(fx->ndocs, 1);
    assert_string_equal(fx->doc_url[0], fx->urls[1]);
    assert_int_equal(st->errors, 1);
    assert_int_equal(st->consecutive_errors, 0);
    assert_non_null(strstr(st->last_error, "HTTP 500"));
    assert_non_null(strstr(st->last_error, fx->urls[0]));
    st = poll_once(fx);
    assert_int_equal(thttpd_count("/feed.xml"), 3);     /* 500, the redirect target, round 2 */
    assert_int_equal(thttpd_count("/to-feed"), 1);       /* not asked again */
    assert_int_equal(fx->ndocs, 1);
    assert_int_equal(st->unchanged, 1);
    assert_int_equal(st->documents, 1);
}

/* A failing poller beside a healthy one: the loop keeps ticking and the
 * healthy poller is not held up. */
static void
check_failure(void **state, const char *path, const char *want)
{
    struct fx *fx = *state;
    thttpd_add_doc("h1.xml");
    make(fx, path, NULL, 1);
    struct fx healthy = { 0 };
    healthy.urls[0] = thttpd_url("/feed.xml");
    struct anpi_docpoll_opts o = { .source = "gdacs", .urls = (const char *const *)healthy.urls,
                                   .nurls = 1, .interval_s = 3600 };
    healthy.p = anpi_docpoll_create(&fx->loop, &o, on_doc, &healthy);
    assert_non_null(healthy.p);

    struct ticker tk;
    ticker_start(&fx->loop, &tk);
    uint64_t t0 = uv_hrtime();
    fx->wait_rounds = 1;
    healthy.wait_rounds = 1;
    anpi_docpoll_poll_now(fx->p);
    anpi_docpoll_poll_now(healthy.p);
    assert_true(run_until(&fx->loop, round_done, &healthy, 5000));
    /* the healthy round ended while the hanging one still waited for its
     * 1 s timeout: an order, not a bet on the clock of a loaded machine */
    bool healthy_first = !round_done(fx);
    assert_true(run_until(&fx->loop, round_done, fx, 20000));
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    ticker_stop(&tk);

    const struct anpi_docpoll_stats *st = anpi_docpoll_stats(fx->p);
    assert_int_equal(st->errors, 1);
    assert_int_equal(st->consecutive_errors, 1);
    assert_int_equal(st->last_success, 0);
    assert_int_equal(st->documents, 0);
    assert_int_equal(fx->ndocs, 0);
    if (!strstr(st->last_error, want))
        fail_msg("last_error \"%s\" lacks \"%s\"", st->last_error, want);
    assert_non_null(strstr(st->last_error, fx->urls[0]));
    if (ms > 100 && tk.ticks < (unsigned)((ms - 100) / 20))
        fail_msg("%u ticks of 10 ms in %.0f ms", tk.ticks, ms);
    assert_int_equal(healthy.ndocs, 1);
    assert_int_equal(anpi_docpoll_stats(healthy.p)->errors, 0);
    if (strcmp(path, "/hang") == 0)
        assert_true(healthy_first);
    anpi_docpoll_close(healthy.p, on_closed, &healthy);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(healthy.closed, 1);
    free(healthy.doc_url[0]);
    free(healthy.doc_body[0]);
    free(healthy.urls[0]);
}

static void
test_error_500(void **state)
{
    check_failure(state, "/status/500", "HTTP 500");
}

static void
test_error_hang(void **state)
{
    check_failure(state, "/hang", "timeout after 1s");
}

static void
test_error_oversize(void **state)
{
    check_failure(state, "/big", "too large: over 1048576 bytes");
}

static void
test_error_not_found(void **state)
{
    check_failure(state, "/doc/none.xml", "HTTP 404");
}

static void
test_backoff(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("b1.xml");
    fx->urls[0] = thttpd_url("/feed.xml");
    struct anpi_docpoll_opts o = { .source = "gdacs", .urls = (const char *const *)fx->urls,
                                   .nurls = 1, .interval_s = 60, .max_backoff_s = 300 };
    fx->p = anpi_docpoll_create(&fx->loop, &o, on_doc, fx);
    assert_non_null(fx->p);
    thttpd_fail_once("/feed.xml");
    fx->wait_rounds = 1;
    assert_int_equal(anpi_docpoll_start(fx->p), 0);
    assert_true(run_until(&fx->loop, round_done, fx, 10000));
    const struct anpi_docpoll_stats *st = anpi_docpoll_stats(fx->p);
    assert_int_equal(st->consecutive_errors, 1);
    assert_int_equal(st->next_poll - st->last_poll, 120 * 1000);
    thttpd_fail_once("/feed.xml");
    poll_once(fx);
    assert_int_equal(st->consecutive_errors, 2);
    assert_int_equal(st->next_poll - st->last_poll, 240 * 1000);
    thttpd_fail_once("/feed.xml");
    poll_once(fx);
    assert_int_equal(st->consecutive_errors, 3);
    assert_int_equal(st->next_poll - st->last_poll, 300 * 1000);   /* capped */
    assert_int_equal(st->last_success, 0);
    poll_once(fx);
    assert_int_equal(st->consecutive_errors, 0);
    assert_int_equal(st->errors, 3);
    assert_int_equal(st->next_poll - st->last_poll, 60 * 1000);
    assert_true(st->last_success > 0);
    assert_int_equal(fx->ndocs, 1);
}

/* After a restart the engine hands over the hash of the body it stored. */
static void
test_seeded_hash(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("s1.xml");
    make(fx, "/feed.xml", NULL, 5);
    poll_once(fx);
    assert_int_equal(fx->ndocs, 1);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(fx->doc_body[0], strlen(fx->doc_body[0]), md, &mdlen,
                                EVP_sha256(), NULL), 1);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02X", md[i]);     /* either case is accepted */
    anpi_docpoll_close(fx->p, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, 1);
    fx->closed = 0;
    free(fx->urls[0]);

    make(fx, "/feed.xml", NULL, 5);
    assert_int_equal(anpi_docpoll_set_last_sha256(fx->p, "abc"), ANPI_EPARSE);
    char bad[65];
    memcpy(bad, hex, sizeof(bad));
    bad[10] = 'g';
    assert_int_equal(anpi_docpoll_set_last_sha256(fx->p, bad), ANPI_EPARSE);
    assert_int_equal(anpi_docpoll_set_last_sha256(fx->p, hex), 0);
    const struct anpi_docpoll_stats *st = poll_once(fx);
    assert_int_equal(st->unchanged, 1);
    assert_int_equal(st->documents, 0);
    assert_int_equal(fx->ndocs, 1);
}

static void
test_close_in_callback(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("c1.xml");
    make(fx, "/feed.xml", NULL, 5);
    fx->close_in_cb = 1;
    fx->wait_rounds = 1;
    anpi_docpoll_poll_now(fx->p);
    assert_true(run_until(&fx->loop, round_done, fx, 10000));
    assert_null(fx->p);
    assert_int_equal(fx->ndocs, 1);
}

static void
test_create_rejects_bad_opts(void **state)
{
    struct fx *fx = *state;
    const char *urls[] = { "http://127.0.0.1/x.xml", "" };
    struct anpi_docpoll_opts o = { .source = "cap", .urls = urls, .nurls = 0 };
    assert_null(anpi_docpoll_create(&fx->loop, &o, on_doc, fx));
    o.nurls = 2;
    assert_null(anpi_docpoll_create(&fx->loop, &o, on_doc, fx));   /* an empty URL */
    o.nurls = 1;
    o.source = "";
    assert_null(anpi_docpoll_create(&fx->loop, &o, on_doc, fx));
    o.source = "cap";
    assert_null(anpi_docpoll_create(&fx->loop, &o, NULL, fx));
    assert_null(anpi_docpoll_create(&fx->loop, NULL, on_doc, fx));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changed_and_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_modified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seeded_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_opts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
