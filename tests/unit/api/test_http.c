/* test_http.c - the HTTP server on a real uv loop, driven by libcurl and raw
 * sockets from a client thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "admin-api/http.h"

/* ---- fixture: a server on a loop, a client function on a thread ---------- */

/* cmocka's asserts longjmp and must stay on the test's thread: the client
 * thread records its first failure, the test asserts there was none. */
#define CHECK(c) do { if (!(c)) { client_fail(f, __LINE__, "%s", #c); return; } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_) { client_fail(f, __LINE__, "%s == %lld, expected %lld", #a, a_, b_); \
                        return; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
        if (!a_ || strcmp(a_, b_) != 0) { \
            client_fail(f, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_); \
            return; } } while (0)

struct fx;
typedef void (*client_fn)(struct fx *f);

struct fx {
    uv_loop_t loop;
    struct anpi_http_server *srv;
    uv_async_t done;
    uv_thread_t thread;
    client_fn client;
    int port;
    int closed;
    /* handler observations (loop thread; read after the thread joined) */
    int count_calls;
    int slow_responded;
    int slow_gone;
    unsigned slow_ms;
    /* client observations */
    uint64_t fast_done_ns, slow_done_ns;
    long slow_status;
    char slow_body[64];
    char fail[512];
    int fds_before;
};

static int
count_fds(void)
{
    uv_fs_t req;
    int n = uv_fs_scandir(NULL, &req, "/proc/self/fd", 0, NULL);
    uv_fs_req_cleanup(&req);
    return n;
}

static void
client_fail(struct fx *f, int line, const char *fmt, ...)
{
    if (f->fail[0])
        return;
    int n = snprintf(f->fail, sizeof(f->fail), "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->fail + n, sizeof(f->fail) - (size_t)n, fmt, ap);
    va_end(ap);
}

static void
on_closed(void *arg)
{
    struct fx *f = arg;
    f->closed = 1;
}

static void
done_cb(uv_async_t *a)
{
    struct fx *f = a->data;
    anpi_http_server_close(f->srv, on_closed, f);
    uv_close((uv_handle_t *)a, NULL);
}

static void
client_main(void *arg)
{
    struct fx *f = arg;
    f->client(f);
    uv_async_send(&f->done);
}

static void h_echo(struct anpi_http_req *r, void *ctx);
static void h_count(struct anpi_http_req *r, void *ctx);
static void h_slow(struct anpi_http_req *r, void *ctx);
static void h_html(struct anpi_http_req *r, void *ctx);
static void h_first(struct anpi_http_req *r, void *ctx);
static void h_second(struct anpi_http_req *r, void *ctx);

static void
fx_start(struct fx *f, size_t max_body)
{
    memset(f, 0, sizeof(*f));
    f->slow_ms = 300;
    f->fds_before = count_fds();
    assert_int_equal(uv_loop_init(&f->loop), 0);
    char err[256] = "";
    struct anpi_http_opts o = { .listen = "127.0.0.1:0", .max_body = max_body };
    f->srv = anpi_http_server_create(&f->loop, &o, err, sizeof(err));
    if (!f->srv)
        fail_msg("server: %s", err);
    f->port = anpi_http_server_port(f->srv);
    assert_true(f->port > 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/api/v1/incidents/{id}/notes/{note}",
                                     h_echo, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/q", h_echo, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "POST", "/echo", h_echo, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "POST", "/count", h_count, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/slow", h_slow, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/fast", h_echo, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/html", h_html, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/first/{x}", h_first, f), 0);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/first/{x}", h_second, f), 0);
    /* malformed patterns are refused */
    assert_int_equal(anpi_http_route(f->srv, "GET", "/a/{}", h_echo, f), ANPI_EPARSE);
    assert_int_equal(anpi_http_route(f->srv, "GET", "noslash", h_echo, f), ANPI_EPARSE);
    assert_int_equal(anpi_http_route(f->srv, "GET", "/a/x{y}", h_echo, f), ANPI_EPARSE);
}

static void
fx_run(struct fx *f, client_fn fn)
{
    f->client = fn;
    assert_int_equal(uv_async_init(&f->loop, &f->done, done_cb), 0);
    f->done.data = f;
    assert_int_equal(uv_thread_create(&f->thread, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_thread_join(&f->thread);
    if (f->fail[0])
        fail_msg("client: %s", f->fail);
    assert_true(f->closed);
    /* no leaked handles, no leaked sockets */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(count_fds(), f->fds_before);
}

/* ---- handlers ------------------------------------------------------------ */

static void
h_echo(struct anpi_http_req *r, void *ctx)
{
    (void)ctx;
    size_t len;
    const char *body = anpi_http_body(r, &len);
    json_t *j = json_object();
    json_object_set_new(j, "method", json_string(anpi_http_method(r)));
    json_object_set_new(j, "path", json_string(anpi_http_path(r)));
    json_object_set_new(j, "peer", json_string(anpi_http_peer(r)));
    json_object_set_new(j, "len", json_integer((json_int_t)len));
    json_object_set_new(j, "body", json_stringn(body, len));
    const char *v;
    if ((v = anpi_http_param(r, "id")))
        json_object_set_new(j, "id", json_string(v));
    if ((v = anpi_http_param(r, "note")))
        json_object_set_new(j, "note", json_string(v));
    if ((v = anpi_http_query(r, "a")))
        json_object_set_new(j, "a", json_string(v));
    if ((v = anpi_http_query(r, "b")))
        json_object_set_new(j, "b", json_string(v));
    if ((v = anpi_http_header(r, "x-test")))
        json_object_set_new(j, "xtest", json_string(v));
    assert_null(anpi_http_param(r, "nope"));
    anpi_http_respond_json(r, 200, j);
}

static void
h_count(struct anpi_http_req *r, void *ctx)
{
    struct fx *f = ctx;
    f->count_calls++;
    anpi_http_respond(r, 200, "text/plain", "ok", 2);
}

static void
h_html(struct anpi_http_req *r, void *ctx)
{
    (void)ctx;
    anpi_http_set_header(r, "Set-Cookie", "sid=1");
    anpi_http_set_header(r, "X-Bad", "a\r\nSet-Cookie: x=1");
    anpi_http_set_header(r, "X-Extra", "yes");
    static const char html[] = "<!DOCTYPE html><p>ok</p>";
    anpi_http_respond(r, 200, "text/html; charset=utf-8", html, sizeof(html) - 1);
}

static void
h_first(struct anpi_http_req *r, void *ctx)
{
    (void)ctx;
    anpi_http_respond(r, 200, "text/plain", "first", 5);
}

static void
h_second(struct anpi_http_req *r, void *ctx)
{
    (void)ctx;
    anpi_http_respond_error(r, 500, "second route must never run");
}

struct slow {
    uv_timer_t t;
    struct anpi_http_req *req;
    struct fx *f;
};

static void
slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
slow_fire(uv_timer_t *t)
{
    struct slow *s = t->data;
    s->f->slow_gone = anpi_http_req_gone(s->req);
    s->f->slow_responded++;
    anpi_http_respond(s->req, 200, "text/plain", "slow", 4);
    uv_close((uv_handle_t *)t, slow_closed);
}

/* Answers later from a timer: the connection is suspended meanwhile. */
static void
h_slow(struct anpi_http_req *r, void *ctx)
{
    struct fx *f = ctx;
    struct slow *s = calloc(1, sizeof(*s));
    s->req = r;
    s->f = f;
    uv_timer_init(&f->loop, &s->t);   /* handlers run on the loop thread */
    s->t.data = s;
    uv_timer_start(&s->t, slow_fire, f->slow_ms, 0);
}

/* ---- client helpers (client thread) -------------------------------------- */

struct resp {
    long status;
    char hdrs[8192];
    size_t hlen;
    char body[8192];
    size_t blen;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t k = sz * n;
    size_t room = sizeof(r->body) - 1 - r->blen;
    size_t c = k < room ? k : room;
    memcpy(r->body + r->blen, p, c);
    r->blen += c;
    r->body[r->blen] = '\0';
    return k;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t k = sz * n;
    size_t room = sizeof(r->hdrs) - 1 - r->hlen;
    size_t c = k < room ? k : room;
    memcpy(r->hdrs + r->hlen, p, c);
    r->hlen += c;
    r->hdrs[r->hlen] = '\0';
    return k;
}

struct upload {
    const char *data;
    size_t len, off;
};

static size_t
on_read(char *p, size_t sz, size_t n, void *arg)
{
    struct upload *u = arg;
    size_t room = sz * n, left = u->len - u->off;
    size_t c = left < room ? left : room;
    if (c > 100)
        c = 100;   /* many small chunks */
    memcpy(p, u->data + u->off, c);
    u->off += c;
    return c;
}

/* One request.  chunked: send the body with Transfer-Encoding: chunked. */
static void
http_do(int port, const char *method, const char *path, const char *body, size_t blen,
        int chunked, struct resp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "X-Test: hello");
    struct upload up = { body, blen, 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body && chunked) {
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        out->status = -(long)rc;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static int
raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return -1;
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Send data (errors ignored: the server may close early), read what comes
 * back until the server closes or 5 s pass. */
static size_t
raw_exchange(int port, const char *data, size_t len, char *out, size_t outlen)
{
    int fd = raw_connect(port);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    size_t got = 0;
    while (got + 1 < outlen) {
        ssize_t n = recv(fd, out + got, outlen - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

static uint64_t
now_ns(void)
{
    return uv_hrtime();
}

/* ---- tests --------------------------------------------------------------- */

static void
client_routes(struct fx *f)
{
    struct resp r;
    http_do(f->port, "GET", "/api/v1/incidents/42/notes/n-7", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK((j) != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "id")), "42");
    CHECK_STR(json_string_value(json_object_get(j, "note")), "n-7");
    CHECK_STR(json_string_value(json_object_get(j, "peer")), "127.0.0.1");
    CHECK_STR(json_string_value(json_object_get(j, "xtest")), "hello");
    CHECK_STR(json_string_value(json_object_get(j, "path")),
                        "/api/v1/incidents/42/notes/n-7");
    json_decref(j);

    /* query arguments are decoded */
    http_do(f->port, "GET", "/q?a=%E6%97%A5&b=x+y", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
    j = json_loads(r.body, 0, NULL);
    CHECK((j) != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "a")), "日");
    CHECK_STR(json_string_value(json_object_get(j, "b")), "x y");
    CHECK_STR(json_string_value(json_object_get(j, "path")), "/q");
    json_decref(j);

    /* first match wins */
    http_do(f->port, "GET", "/first/abc", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "first");

    /* 404: unknown path, empty capture, extra segment, trailing slash */
    const char *missing[] = { "/nope", "/api/v1/incidents//notes/7",
                              "/api/v1/incidents/1/notes/2/3", "/q/" };
    for (size_t i = 0; i < 4; i++) {
        http_do(f->port, "GET", missing[i], NULL, 0, 0, &r);
        CHECK_EQ(r.status, 404);
        j = json_loads(r.body, 0, NULL);
        CHECK((j) != NULL);
        CHECK_STR(json_string_value(json_object_get(j, "error")), "not found");
        json_decref(j);
    }

    /* 405 with Allow */
    http_do(f->port, "DELETE", "/echo", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 405);
    CHECK((strstr(r.hdrs, "Allow: POST")) != NULL);
    http_do(f->port, "POST", "/q", "x", 1, 0, &r);
    CHECK_EQ(r.status, 405);
    CHECK((strstr(r.hdrs, "Allow: GET")) != NULL);

    /* HEAD is served by the GET route */
    http_do(f->port, "HEAD", "/fast", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.blen, 0);

    /* POST body reaches the handler */
    http_do(f->port, "POST", "/echo", "{\"k\":\"値\"}", strlen("{\"k\":\"値\"}"), 0, &r);
    CHECK_EQ(r.status, 200);
    j = json_loads(r.body, 0, NULL);
    CHECK((j) != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "body")), "{\"k\":\"値\"}");
    json_decref(j);
}

static void
test_routes(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    fx_run(&f, client_routes);
}

static void
client_headers(struct fx *f)
{
    struct resp r;
    http_do(f->port, "GET", "/html", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
    CHECK((strstr(r.hdrs, "Cache-Control: no-store")) != NULL);
    CHECK((strstr(r.hdrs, "X-Content-Type-Options: nosniff")) != NULL);
    CHECK((strstr(r.hdrs, "Referrer-Policy: no-referrer")) != NULL);
    CHECK(strstr(r.hdrs, "Content-Security-Policy: default-src 'none'; "
                         "style-src 'unsafe-inline'; form-action 'self'; "
                         "frame-ancestors 'none'") != NULL);
    CHECK((strstr(r.hdrs, "X-Extra: yes")) != NULL);
    CHECK((strcasestr(r.hdrs, "Set-Cookie")) == NULL);
    CHECK((strstr(r.hdrs, "X-Bad")) == NULL);
    CHECK_STR(r.body, "<!DOCTYPE html><p>ok</p>");

    /* JSON and error responses carry the defaults too, but no CSP */
    http_do(f->port, "GET", "/nope", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 404);
    CHECK((strstr(r.hdrs, "Cache-Control: no-store")) != NULL);
    CHECK((strstr(r.hdrs, "X-Content-Type-Options: nosniff")) != NULL);
    CHECK((strstr(r.hdrs, "Content-Type: application/json")) != NULL);
    CHECK((strstr(r.hdrs, "Content-Security-Policy")) == NULL);
    CHECK((strcasestr(r.hdrs, "Set-Cookie")) == NULL);
}

static void
test_headers(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    fx_run(&f, client_headers);
}

static void
slow_thread(void *arg)
{
    struct fx *f = arg;
    struct resp r;
    http_do(f->port, "GET", "/slow", NULL, 0, 0, &r);
    f->slow_status = r.status;
    size_t n = r.blen < sizeof(f->slow_body) - 1 ? r.blen : sizeof(f->slow_body) - 1;
    memcpy(f->slow_body, r.body, n);
    f->slow_body[n] = '\0';
    f->slow_done_ns = now_ns();
}

static void
client_suspend(struct fx *f)
{
    uv_thread_t t;
    uint64_t t0 = now_ns();
    CHECK_EQ(uv_thread_create(&t, slow_thread, f), 0);
    usleep(50 * 1000);
    struct resp r;
    http_do(f->port, "GET", "/fast", NULL, 0, 0, &r);
    f->fast_done_ns = now_ns();
    CHECK_EQ(r.status, 200);
    uv_thread_join(&t);
    CHECK_EQ(f->slow_status, 200);
    CHECK_STR(f->slow_body, "slow");
    /* the fast request was answered while the slow one waited */
    CHECK(f->fast_done_ns < f->slow_done_ns);
    CHECK(f->fast_done_ns - t0 < 250ull * 1000 * 1000);
    CHECK(f->slow_done_ns - t0 >= 300ull * 1000 * 1000);
}

static void
test_suspend_resume(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    fx_run(&f, client_suspend);
    assert_int_equal(f.slow_responded, 1);
    assert_false(f.slow_gone);
}

static void
client_body_limits(struct fx *f)
{
    char big[4096];
    memset(big, 'x', sizeof(big));
    struct resp r;
    /* announced by Content-Length */
    http_do(f->port, "POST", "/count", big, sizeof(big), 0, &r);
    CHECK_EQ(r.status, 413);
    CHECK((strstr(r.body, "too large")) != NULL);
    /* chunked: no length up front */
    http_do(f->port, "POST", "/count", big, sizeof(big), 1, &r);
    CHECK_EQ(r.status, 413);
    /* chunked under the limit arrives whole */
    http_do(f->port, "POST", "/echo", big, 1000, 1, &r);
    CHECK_EQ(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK((j) != NULL);
    CHECK_EQ(json_integer_value(json_object_get(j, "len")), 1000);
    CHECK_EQ(strspn(json_string_value(json_object_get(j, "body")), "x"), 1000);
    json_decref(j);
    /* exactly the limit is fine */
    http_do(f->port, "POST", "/count", big, 1024, 0, &r);
    CHECK_EQ(r.status, 200);
}

static void
test_body_limits(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 1024);
    fx_run(&f, client_body_limits);
    /* only the request at the limit reached the handler */
    assert_int_equal(f.count_calls, 1);
}

static long
status_of(const char *resp)
{
    if (strncmp(resp, "HTTP/1.", 7) != 0 || strlen(resp) < 12)
        return -1;
    return strtol(resp + 9, NULL, 10);
}

static void
client_evil(struct fx *f)
{
    char out[4096];
    /* A one-word request line: MHD 0.9.75 closes without an answer. */
    static const char garbled[] = "GARBAGE\r\n\r\n";
    raw_exchange(f->port, garbled, sizeof(garbled) - 1, out, sizeof(out));
    CHECK(status_of(out) == 400 || out[0] == '\0');

    static const char nover[] = "GET /fast\r\n\r\n";
    raw_exchange(f->port, nover, sizeof(nover) - 1, out, sizeof(out));
    CHECK_EQ(status_of(out), 400);

    static const char badhdr[] = "GET /fast HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n";
    raw_exchange(f->port, badhdr, sizeof(badhdr) - 1, out, sizeof(out));
    CHECK_EQ(status_of(out), 400);

    /* control bytes as the method */
    static const char badmethod[] = "\x01\x02\x03 /fast HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_exchange(f->port, badmethod, sizeof(badmethod) - 1, out, sizeof(out));
    CHECK_EQ(status_of(out), 400);

    static const char badver[] = "GET / HTTP/9.9\r\nHost: x\r\n\r\n";
    raw_exchange(f->port, badver, sizeof(badver) - 1, out, sizeof(out));
    long st = status_of(out);
    CHECK(st >= 400 && st < 600);

    /* a 100 KB URL */
    size_t n = 100 * 1024;
    char *req = malloc(n + 64);
    int k = snprintf(req, 64, "GET /");
    memset(req + k, 'a', n);
    strcpy(req + k + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_exchange(f->port, req, strlen(req), out, sizeof(out));
    CHECK_EQ(status_of(out), 414);

    /* a 100 KB header */
    k = snprintf(req, 64, "GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + k, 'b', n);
    strcpy(req + k + n, "\r\n\r\n");
    raw_exchange(f->port, req, strlen(req), out, sizeof(out));
    CHECK_EQ(status_of(out), 431);
    free(req);

    /* a bad chunked body */
    static const char badchunk[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n";
    raw_exchange(f->port, badchunk, sizeof(badchunk) - 1, out, sizeof(out));
    CHECK_EQ(status_of(out), 400);

    /* still serving */
    struct resp r;
    http_do(f->port, "GET", "/fast", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
}

static void
client_pipelining(struct fx *f)
{
    char out[8192];
    /* keep-alive: two requests on one connection, answered in order */
    static const char two[] = "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /q?a=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(f->port, two, sizeof(two) - 1, out, sizeof(out));
    CHECK_EQ(status_of(out), 200);
    char *second = strstr(out + 1, "HTTP/1.1 200");
    CHECK(second != NULL);
    CHECK(strstr(out, "\"path\":\"/fast\"") < strstr(out, "\"a\":\"2\""));
    CHECK(strstr(out, "Connection: close") > second);   /* the first one kept it open */

    /* a request pipelined behind a suspended one is not a hang-up */
    static const char slow[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(f->port, slow, sizeof(slow) - 1, out, sizeof(out));
    CHECK_EQ(status_of(out), 200);
    char *body = strstr(out, "\r\n\r\n");
    CHECK(body && strncmp(body + 4, "slow", 4) == 0);
    CHECK(strstr(body, "HTTP/1.1 200") != NULL);
    CHECK(strstr(body, "\"path\":\"/fast\"") != NULL);
}

static void
test_keepalive_pipelining(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    fx_run(&f, client_pipelining);
    assert_int_equal(f.slow_responded, 1);
    assert_false(f.slow_gone);
}

static void
test_evil_requests(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    fx_run(&f, client_evil);
}

static void
client_disconnect(struct fx *f)
{
    int fd = raw_connect(f->port);
    CHECK(fd >= 0);
    static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
    usleep(50 * 1000);
    close(fd);
    /* wait for the handler's timer to answer the departed client */
    usleep(450 * 1000);
    struct resp r;
    http_do(f->port, "GET", "/fast", NULL, 0, 0, &r);
    CHECK_EQ(r.status, 200);
}

static void
test_disconnect_while_suspended(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    fx_run(&f, client_disconnect);
    assert_int_equal(f.slow_responded, 1);
    assert_true(f.slow_gone);
}

static void
client_close_while_suspended(struct fx *f)
{
    int fd = raw_connect(f->port);
    CHECK(fd >= 0);
    static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
    usleep(50 * 1000);
    /* closing the server (done_cb) answers the waiting client with 503 */
    uv_async_send(&f->done);
    char out[2048];
    size_t got = 0;
    while (got + 1 < sizeof(out)) {
        ssize_t n = recv(fd, out + got, sizeof(out) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    CHECK_EQ(status_of(out), 503);
}

static void
test_close_while_suspended(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    f.slow_ms = 200;
    fx_run(&f, client_close_while_suspended);
    /* the handler answered after the server was gone: a no-op that freed */
    assert_int_equal(f.slow_responded, 1);
    assert_true(f.slow_gone);
}

static void
test_bad_listen(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *bad[] = { "nonsense", "127.0.0.1:99999", "[::1:80", "localhost:80",
                          "127.0.0.1:" };
    for (size_t i = 0; i < 5; i++) {
        char err[256] = "";
        struct anpi_http_opts o = { .listen = bad[i] };
        assert_null(anpi_http_server_create(&loop, &o, err, sizeof(err)));
        assert_non_null(strstr(err, "listen"));
    }
    /* a port in use names the reason */
    char err[256] = "";
    struct anpi_http_opts o = { .listen = "127.0.0.1:0" };
    struct anpi_http_server *s = anpi_http_server_create(&loop, &o, err, sizeof(err));
    assert_non_null(s);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", anpi_http_server_port(s));
    struct anpi_http_opts o2 = { .listen = addr };
    assert_null(anpi_http_server_create(&loop, &o2, err, sizeof(err)));
    assert_non_null(strstr(err, "in use"));
    anpi_http_server_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_ipv6(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char err[256] = "";
    struct anpi_http_opts o = { .listen = "[::1]:0" };
    struct anpi_http_server *s = anpi_http_server_create(&loop, &o, err, sizeof(err));
    if (!s) {
        /* a host without IPv6 loopback: the error must say so */
        assert_non_null(strstr(err, "listen [::1]:0"));
        skip();
    }
    assert_true(anpi_http_server_port(s) > 0);
    anpi_http_server_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* libuv opens a process-wide pipe on the first loop init: do it before
     * the per-test fd counts. */
    uv_loop_t warm;
    uv_loop_init(&warm);
    uv_loop_close(&warm);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_suspend_resume),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_evil_requests),
        cmocka_unit_test(test_keepalive_pipelining),
        cmocka_unit_test(test_disconnect_while_suspended),
        cmocka_unit_test(test_close_while_suspended),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_ipv6),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
