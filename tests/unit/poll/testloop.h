/* testloop.h - run a libuv loop until a condition holds (poll tests). */
#ifndef ANPI_TEST_LOOP_H
#define ANPI_TEST_LOOP_H

#include <uv.h>

struct run_until {
    int (*cond)(void *);
    void *arg;
    uint64_t deadline;
    int met;
};

static void
run_until_check(uv_timer_t *t)
{
    struct run_until *ru = t->data;
    if (ru->cond(ru->arg)) {
        ru->met = 1;
        uv_stop(t->loop);
    } else if (uv_now(t->loop) >= ru->deadline) {
        uv_stop(t->loop);
    }
}

/* 1 when cond became true within max_ms, 0 on timeout. */
static inline int
run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, uint64_t max_ms)
{
    uv_update_time(loop);
    struct run_until ru = { cond, arg, uv_now(loop) + max_ms, 0 };
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &ru;
    uv_timer_start(&t, run_until_check, 2, 2);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ru.met;
}

/* Counts ticks of a 10 ms timer: proves the loop stays responsive. */
struct ticker {
    uv_timer_t t;
    unsigned ticks;
};

static void
ticker_cb(uv_timer_t *t)
{
    ((struct ticker *)t->data)->ticks++;
}

static inline void
ticker_start(uv_loop_t *loop, struct ticker *tk)
{
    tk->ticks = 0;
    uv_timer_init(loop, &tk->t);
    tk->t.data = tk;
    uv_timer_start(&tk->t, ticker_cb, 10, 10);
}

static void
ticker_closed(uv_handle_t *h)
{
    ((struct ticker *)h->data)->t.data = NULL;
}

/* Close and wait for the close callback: tk usually lives on the stack. */
static inline void
ticker_stop(struct ticker *tk)
{
    uv_close((uv_handle_t *)&tk->t, ticker_closed);
    while (tk->t.data)
        uv_run(tk->t.loop, UV_RUN_ONCE);
}

#endif
