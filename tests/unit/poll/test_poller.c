/* test_poller.c - the Atom poller against a loopback server: each document
 * fetched exactly once, 304 handling, feed URL fail-over, late documents,
 * pre-seeded URLs, and every failure mode counted without stalling the loop
 * or another poller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "feeds/poll/poller.h"
#include "testhttpd.h"
#include "testloop.h"

#define MAX_GOT 64

struct fx {
    uv_loop_t loop;
    struct anpi_poller *p;
    int closed;
    char *urls[2];
    size_t ndocs;
    char *doc_url[MAX_GOT];
    char *doc_body[MAX_GOT];
    char *doc_title[MAX_GOT];
    uint64_t wait_rounds;
};

static void
on_doc(void *arg, const char *source, const char *url, const char *title,
       const char *body, size_t len)
{
    struct fx *fx = arg;
    assert_string_equal(source, "jma");
    assert_true(fx->ndocs < MAX_GOT);
    fx->doc_url[fx->ndocs] = strdup(url);
    fx->doc_title[fx->ndocs] = strdup(title);
    fx->doc_body[fx->ndocs] = strndup(body, len);
    fx->ndocs++;
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

static void
on_closed(void *arg)
{
    ((struct fx *)arg)->closed++;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;
    if (fx->p)
        anpi_poller_close(fx->p, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, fx->p ? 1 : 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    for (size_t i = 0; i < fx->ndocs; i++) {
        free(fx->doc_url[i]);
        free(fx->doc_body[i]);
        free(fx->doc_title[i]);
    }
    free(fx->urls[0]);
    free(fx->urls[1]);
    free(fx);
    return 0;
}

static struct anpi_poller *
make(struct fx *fx, const char *path1, const char *path2, int timeout_s)
{
    fx->urls[0] = thttpd_url(path1);
    fx->urls[1] = path2 ? thttpd_url(path2) : NULL;
    struct anpi_poller_opts o = {
        .source = "jma",
        .urls = (const char *const *)fx->urls,
        .nurls = path2 ? 2 : 1,
        .interval_s = 3600,
        .timeout_s = timeout_s,
        .max_doc_bytes = 1024 * 1024,
    };
    fx->p = anpi_poller_create(&fx->loop, &o, on_doc, fx);
    assert_non_null(fx->p);
    return fx->p;
}

static int
round_done(void *arg)
{
    struct fx *fx = arg;
    return anpi_poller_stats(fx->p)->rounds >= fx->wait_rounds;
}

/* One round via poll_now, run to its end. */
static const struct anpi_poller_stats *
poll_once(struct fx *fx)
{
    fx->wait_rounds = anpi_poller_stats(fx->p)->rounds + 1;
    anpi_poller_poll_now(fx->p);
    assert_true(run_until(&fx->loop, round_done, fx, 20000));
    return anpi_poller_stats(fx->p);
}

static unsigned
doc_count(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/doc/%s", name);
    return thttpd_count(path);
}

static void
test_each_document_once(void **state)
{
    struct fx *fx = *state;
    thttpd_conditional(0);          /* the feed is "rebuilt" every time: 200, never 304 */
    thttpd_list_twice(1);           /* and even lists each entry twice */
    thttpd_add_doc("d1.xml");
    thttpd_add_doc("d2.xml");
    thttpd_add_doc("d3.xml");
    make(fx, "/feed.xml", NULL, 5);
    for (int i = 0; i < 3; i++) {
        const struct anpi_poller_stats *st = poll_once(fx);
        assert_int_equal(st->polls, i + 1);
        assert_int_equal(st->feeds_parsed, i + 1);
        assert_int_equal(st->errors, 0);
    }
    assert_int_equal(thttpd_count("/feed.xml"), 3);
    assert_int_equal(doc_count("d1.xml"), 1);
    assert_int_equal(doc_count("d2.xml"), 1);
    assert_int_equal(doc_count("d3.xml"), 1);
    assert_int_equal(fx->ndocs, 3);
    assert_int_equal(anpi_poller_stats(fx->p)->documents, 3);
    /* oldest first (the feed lists newest first) */
    for (int i = 0; i < 3; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/doc/d%d.xml", i + 1);
        char *u = thttpd_url(path);
        assert_string_equal(fx->doc_url[i], u);
        free(u);
    }
    char want[512];
    assert_string_equal(fx->doc_body[0], thttpd_doc_body("d1.xml", want, sizeof(want)));
    assert_string_equal(fx->doc_title[0], "震源・震度に関する情報 d1.xml");
    assert_true(anpi_poller_stats(fx->p)->last_document > 0);
}

static void
test_not_modified(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("n1.xml");
    make(fx, "/feed.xml", NULL, 5);
    const struct anpi_poller_stats *st = poll_once(fx);
    assert_int_equal(st->feeds_parsed, 1);
    assert_int_equal(st->not_modified, 0);
    st = poll_once(fx);
    st = poll_once(fx);
    assert_int_equal(st->polls, 3);
    assert_int_equal(st->not_modified, 2);
    assert_int_equal(st->feeds_parsed, 1);          /* not re-parsed */
    assert_int_equal(thttpd_count_304(), 2);
    assert_int_equal(thttpd_count("/feed.xml"), 3);
    assert_int_equal(doc_count("n1.xml"), 1);
    assert_int_equal(st->errors, 0);
    assert_true(st->last_success >= st->last_poll);
}

static void
test_second_url_when_first_fails(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("f1.xml");
    make(fx, "/status/500", "/feed.xml", 5);
    const struct anpi_poller_stats *st = poll_once(fx);
    assert_int_equal(thttpd_count("/status/500"), 1);
    assert_int_equal(thttpd_count("/feed.xml"), 1);
    assert_int_equal(doc_count("f1.xml"), 1);
    assert_int_equal(fx->ndocs, 1);
    assert_int_equal(st->errors, 1);                /* the first URL's failure is recorded */
    assert_int_equal(st->consecutive_errors, 0);    /* but the round succeeded */
    assert_non_null(strstr(st->last_error, "HTTP 500"));
    assert_non_null(strstr(st->last_error, "/status/500"));
    /* next round starts with the first URL again */
    poll_once(fx);
    assert_int_equal(thttpd_count("/status/500"), 2);
    assert_int_equal(doc_count("f1.xml"), 1);
}

static void
test_late_document(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("l1.xml");
    thttpd_add_doc("l2.xml");
    make(fx, "/feed.xml", NULL, 5);
    poll_once(fx);
    assert_int_equal(fx->ndocs, 2);
    thttpd_add_doc("l3.xml");
    const struct anpi_poller_stats *st = poll_once(fx);
    assert_int_equal(fx->ndocs, 3);
    char *u = thttpd_url("/doc/l3.xml");
    assert_string_equal(fx->doc_url[2], u);
    free(u);
    assert_int_equal(doc_count("l1.xml"), 1);
    assert_int_equal(doc_count("l2.xml"), 1);
    assert_int_equal(doc_count("l3.xml"), 1);
    assert_int_equal(st->not_modified, 0);
    assert_int_equal(st->documents, 3);
}

static void
test_mark_seen(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("s1.xml");
    thttpd_add_doc("s2.xml");
    make(fx, "/feed.xml", NULL, 5);
    char *u = thttpd_url("/doc/s1.xml");
    anpi_poller_mark_seen(fx->p, u);
    free(u);
    poll_once(fx);
    thttpd_conditional(0);
    poll_once(fx);
    assert_int_equal(doc_count("s1.xml"), 0);
    assert_int_equal(doc_count("s2.xml"), 1);
    assert_int_equal(fx->ndocs, 1);
}

static void
test_failed_document_retried(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("r1.xml");
    thttpd_add_doc("r2.xml");
    thttpd_fail_once("/doc/r1.xml");
    make(fx, "/feed.xml", NULL, 5);
    const struct anpi_poller_stats *st = poll_once(fx);
    assert_int_equal(fx->ndocs, 1);
    assert_int_equal(st->errors, 1);
    assert_non_null(strstr(st->last_error, "/doc/r1.xml: HTTP 500"));
    /* The feed did not change, yet the failed document is retried: the
     * poller did not keep the validators of a round with a failure. */
    st = poll_once(fx);
    assert_int_equal(st->not_modified, 0);
    assert_int_equal(fx->ndocs, 2);
    assert_int_equal(doc_count("r1.xml"), 2);
    assert_int_equal(doc_count("r2.xml"), 1);
    /* all fetched: now 304 */
    st = poll_once(fx);
    assert_int_equal(st->not_modified, 1);
    assert_int_equal(doc_count("r1.xml"), 2);
}

/* A failing poller runs beside a healthy one; the loop keeps ticking and
 * the healthy poller finishes its round long before the failure resolves. */
static void
check_failure(void **state, const char *path, const char *want)
{
    struct fx *fx = *state;
    thttpd_add_doc("h1.xml");
    make(fx, path, NULL, 1);
    struct fx healthy = { 0 };
    healthy.urls[0] = thttpd_url("/feed.xml");
    struct anpi_poller_opts o = { .source = "jma", .urls = (const char *const *)healthy.urls,
                                  .nurls = 1, .interval_s = 3600 };
    healthy.p = anpi_poller_create(&fx->loop, &o, on_doc, &healthy);
    assert_non_null(healthy.p);

    struct ticker tk;
    ticker_start(&fx->loop, &tk);
    uint64_t t0 = uv_hrtime();
    fx->wait_rounds = 1;
    healthy.wait_rounds = 1;
    anpi_poller_poll_now(fx->p);
    anpi_poller_poll_now(healthy.p);
    assert_true(run_until(&fx->loop, round_done, &healthy, 5000));
    /* the healthy round ended while the hanging one still waited for its
     * 1 s timeout: an order, not a bet on the clock of a loaded machine */
    bool healthy_first = !round_done(fx);
    assert_true(run_until(&fx->loop, round_done, fx, 20000));
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    ticker_stop(&tk);

    const struct anpi_poller_stats *st = anpi_poller_stats(fx->p);
    assert_int_equal(st->errors, 1);
    assert_int_equal(st->consecutive_errors, 1);
    assert_int_equal(st->last_success, 0);
    assert_int_equal(st->documents, 0);
    if (!strstr(st->last_error, want))
        fail_msg("last_error \"%s\" lacks \"%s\"", st->last_error, want);
    char *u = thttpd_url(path);
    assert_non_null(strstr(st->last_error, u));
    free(u);
    /* the loop stayed responsive: a 10 ms timer fired all along */
    if (ms > 100 && tk.ticks < (unsigned)((ms - 100) / 20))
        fail_msg("%u ticks of 10 ms in %.0f ms", tk.ticks, ms);
    /* the other poller was not held up */
    assert_int_equal(healthy.ndocs, 1);
    assert_int_equal(anpi_poller_stats(healthy.p)->errors, 0);
    if (strcmp(path, "/hang") == 0)
        assert_true(healthy_first);
    anpi_poller_close(healthy.p, on_closed, &healthy);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(healthy.closed, 1);
    free(healthy.doc_url[0]);
    free(healthy.doc_body[0]);
    free(healthy.doc_title[0]);
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
test_error_redirect_loop(void **state)
{
    check_failure(state, "/loop", "too many redirects");
}

static void
test_error_50mb(void **state)
{
    check_failure(state, "/big", "too large: over 10485760 bytes");
}

static void
test_error_not_atom(void **state)
{
    check_failure(state, "/notatom", "not an Atom feed");
}

static void
test_oversized_document_given_up(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("big.xml");      /* the server streams 50 MB for this one */
    thttpd_add_doc("ok.xml");
    make(fx, "/feed.xml", NULL, 10);   /* max_doc_bytes 1 MiB */
    const struct anpi_poller_stats *st = poll_once(fx);
    assert_int_equal(st->documents, 1);
    assert_int_equal(st->errors, 1);
    assert_non_null(strstr(st->last_error, "/doc/big.xml: too large: over 1048576 bytes"));
    /* it will not shrink: never downloaded again, even from a fresh feed */
    thttpd_conditional(0);
    st = poll_once(fx);
    st = poll_once(fx);
    assert_int_equal(doc_count("big.xml"), 1);
    assert_int_equal(doc_count("ok.xml"), 1);
    assert_int_equal(st->errors, 1);
}

static void
test_backoff(void **state)
{
    struct fx *fx = *state;
    thttpd_add_doc("b1.xml");
    fx->urls[0] = thttpd_url("/feed.xml");
    struct anpi_poller_opts o = { .source = "jma", .urls = (const char *const *)fx->urls,
                                  .nurls = 1, .interval_s = 60, .max_backoff_s = 300 };
    fx->p = anpi_poller_create(&fx->loop, &o, on_doc, fx);
    assert_non_null(fx->p);
    thttpd_fail_once("/feed.xml");
    fx->wait_rounds = 1;
    assert_int_equal(anpi_poller_start(fx->p), 0);
    assert_true(run_until(&fx->loop, round_done, fx, 10000));
    const struct anpi_poller_stats *st = anpi_poller_stats(fx->p);
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
    /* success resets to the plain interval */
    poll_once(fx);
    assert_int_equal(st->consecutive_errors, 0);
    assert_int_equal(st->errors, 3);
    assert_int_equal(st->next_poll - st->last_poll, 60 * 1000);
    assert_true(st->last_success > 0);
    assert_int_equal(fx->ndocs, 1);
}

static void
test_create_rejects_bad_opts(void **state)
{
    struct fx *fx = *state;
    const char *urls[] = { "http://127.0.0.1/feed.xml" };
    struct anpi_poller_opts o = { .source = "jma", .urls = urls, .nurls = 0 };
    assert_null(anpi_poller_create(&fx->loop, &o, on_doc, fx));
    o.nurls = 1;
    o.source = NULL;
    assert_null(anpi_poller_create(&fx->loop, &o, on_doc, fx));
    o.source = "jma";
    assert_null(anpi_poller_create(&fx->loop, &o, NULL, fx));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_document_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_modified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_url_when_first_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_document_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_redirect_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_50mb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_not_atom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_document_given_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_opts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
