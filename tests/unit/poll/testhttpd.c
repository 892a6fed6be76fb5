/* testhttpd.c - loopback HTTP server for the poll tests. */
#include "testhttpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#define MAX_DOCS 64
#define MAX_PATHS 128

static struct MHD_Daemon *daemon_;
static int port_;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int stopping;

static char docs[MAX_DOCS][64];
static int ndocs;
static unsigned version = 1;
static int conditional = 1;
static int twice;
static unsigned n304;
static struct { char path[128]; unsigned count; int fail_once; } paths[MAX_PATHS];
static int npaths;

static int
path_slot(const char *path)
{
    for (int i = 0; i < npaths; i++)
        if (strcmp(paths[i].path, path) == 0)
            return i;
    if (npaths == MAX_PATHS)
        abort();
    snprintf(paths[npaths].path, sizeof(paths[npaths].path), "%s", path);
    paths[npaths].count = 0;
    paths[npaths].fail_once = 0;
    return npaths++;
}

void
thttpd_reset(void)
{
    pthread_mutex_lock(&mu);
    ndocs = 0;
    npaths = 0;
    n304 = 0;
    conditional = 1;
    twice = 0;
    version++;
    pthread_mutex_unlock(&mu);
}

void
thttpd_add_doc(const char *name)
{
    pthread_mutex_lock(&mu);
    if (ndocs < MAX_DOCS)
        snprintf(docs[ndocs++], sizeof(docs[0]), "%s", name);
    version++;
    pthread_mutex_unlock(&mu);
}

void
thttpd_list_twice(int on)
{
    pthread_mutex_lock(&mu);
    twice = on;
    version++;
    pthread_mutex_unlock(&mu);
}

void
thttpd_conditional(int on)
{
    pthread_mutex_lock(&mu);
    conditional = on;
    pthread_mutex_unlock(&mu);
}

void
thttpd_fail_once(const char *path)
{
    pthread_mutex_lock(&mu);
    paths[path_slot(path)].fail_once = 1;
    pthread_mutex_unlock(&mu);
}

unsigned
thttpd_count(const char *path)
{
    pthread_mutex_lock(&mu);
    unsigned c = 0;
    for (int i = 0; i < npaths; i++)
        if (strcmp(paths[i].path, path) == 0)
            c = paths[i].count;
    pthread_mutex_unlock(&mu);
    return c;
}

unsigned
thttpd_count_304(void)
{
    pthread_mutex_lock(&mu);
    unsigned c = n304;
    pthread_mutex_unlock(&mu);
    return c;
}

char *
thttpd_url(const char *path)
{
    char *s = NULL;
    if (asprintf(&s, "http://127.0.0.1:%d%s", port_, path) < 0)
        abort();
    return s;
}

const char *
thttpd_doc_body(const char *name, char *buf, size_t len)
{
    snprintf(buf, len,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<Report><Control><Title>試験</Title></Control><Name>%s</Name></Report>\n", name);
    return buf;
}

static enum MHD_Result
send_buf(struct MHD_Connection *c, unsigned status, const char *body, size_t len,
         const char *ctype)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static ssize_t
big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= THTTPD_BIG_BYTES)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = THTTPD_BIG_BYTES - (size_t)pos;
    if (n > max)
        n = max;
    memset(buf, 'x', n);
    return (ssize_t)n;
}

static enum MHD_Result
serve_feed(struct MHD_Connection *c)
{
    char etag[64], lm[64];
    pthread_mutex_lock(&mu);
    unsigned v = version;
    int cond = conditional;
    snprintf(etag, sizeof(etag), "\"v%u\"", v);
    snprintf(lm, sizeof(lm), "Tue, 12 Mar 2024 %02u:%02u:00 GMT", (v / 60) % 24, v % 60);
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    const char *ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Modified-Since");
    if (cond && ((inm && strcmp(inm, etag) == 0) || (!inm && ims && strcmp(ims, lm) == 0))) {
        n304++;
        pthread_mutex_unlock(&mu);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "ETag", etag);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, r);
        MHD_destroy_response(r);
        return ret;
    }
    size_t cap = 4096 + (size_t)ndocs * 2 * 1024;
    char *body = malloc(cap);
    size_t len = (size_t)snprintf(body, cap,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" lang=\"ja\">\n"
        "  <title>高頻度（地震火山）</title>\n"
        "  <subtitle>JMAXML publishing feed</subtitle>\n"
        "  <updated>2024-03-12T17:01:12+09:00</updated>\n"
        "  <id>http://127.0.0.1:%d/feed.xml#short_%u</id>\n"
        "  <link rel=\"self\" href=\"http://127.0.0.1:%d/feed.xml\"/>\n", port_, v, port_);
    for (int i = ndocs - 1; i >= 0; i--) {
        for (int k = 0; k < (twice ? 2 : 1); k++)
            len += (size_t)snprintf(body + len, cap - len,
                "  <entry>\n"
                "    <title>震源・震度に関する情報 %s</title>\n"
                "    <id>http://127.0.0.1:%d/doc/%s</id>\n"
                "    <updated>2024-03-12T05:%02d:%02dZ</updated>\n"
                "    <author><name>気象庁</name></author>\n"
                "    <link type=\"application/xml\" href=\"http://127.0.0.1:%d/doc/%s\"/>\n"
                "    <content type=\"text\">【試験】</content>\n"
                "  </entry>\n", docs[i], port_, docs[i], i / 60, i % 60, port_, docs[i]);
    }
    len += (size_t)snprintf(body + len, cap - len, "</feed>\n");
    pthread_mutex_unlock(&mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/atom+xml");
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Last-Modified", lm);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version_, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)method;
    (void)version_;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    pthread_mutex_lock(&mu);
    int slot = path_slot(url);
    paths[slot].count++;
    int fail = paths[slot].fail_once;
    paths[slot].fail_once = 0;
    pthread_mutex_unlock(&mu);
    if (fail || strcmp(url, "/status/500") == 0)
        return send_buf(c, 500, "internal error\n", 15, "text/plain");
    if (strcmp(url, "/feed.xml") == 0)
        return serve_feed(c);
    if (strcmp(url, "/big") == 0 || strcmp(url, "/bigcl") == 0 || strcmp(url, "/doc/big.xml") == 0) {
        uint64_t size = strcmp(url, "/bigcl") == 0 ? THTTPD_BIG_BYTES : MHD_SIZE_UNKNOWN;
        struct MHD_Response *r = MHD_create_response_from_callback(size, 64 * 1024, big_reader, NULL, NULL);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strncmp(url, "/doc/", 5) == 0) {
        int found = 0;
        pthread_mutex_lock(&mu);
        for (int i = 0; i < ndocs; i++)
            if (strcmp(docs[i], url + 5) == 0)
                found = 1;
        pthread_mutex_unlock(&mu);
        if (!found)
            return send_buf(c, 404, "not found\n", 10, "text/plain");
        char b[512];
        thttpd_doc_body(url + 5, b, sizeof(b));
        return send_buf(c, 200, b, strlen(b), "application/xml");
    }
    if (strcmp(url, "/hang") == 0) {
        for (int i = 0; i < 100 && !stopping; i++)
            usleep(50 * 1000);
        return send_buf(c, 200, "late\n", 5, "text/plain");
    }
    if (strcmp(url, "/loop") == 0 || strcmp(url, "/to-feed") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", strcmp(url, "/loop") == 0 ? "/loop" : "/feed.xml");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_FOUND, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/notatom") == 0) {
        const char *h = "<html><body>メンテナンス中</body></html>\n";
        return send_buf(c, 200, h, strlen(h), "text/html");
    }
    if (strcmp(url, "/ua") == 0) {
        const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
        return send_buf(c, 200, ua ? ua : "", ua ? strlen(ua) : 0, "text/plain");
    }
    if (strcmp(url, "/gzip") == 0) {
        const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
        static const char plain[] = "gzip body: 試験 太郎\n";
        if (!ae || !strstr(ae, "gzip"))
            return send_buf(c, 200, plain, strlen(plain), "text/plain");
        unsigned char out[512];
        z_stream z = { 0 };
        deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (unsigned char *)plain;
        z.avail_in = (unsigned)strlen(plain);
        z.next_out = out;
        z.avail_out = sizeof(out);
        deflate(&z, Z_FINISH);
        size_t n = sizeof(out) - z.avail_out;
        deflateEnd(&z);
        struct MHD_Response *r = MHD_create_response_from_buffer(n, out, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Content-Encoding", "gzip");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    return send_buf(c, 404, "not found\n", 10, "text/plain");
}

int
thttpd_start(void)
{
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    stopping = 0;
    daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                               0, NULL, NULL, on_request, NULL,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                               MHD_OPTION_END);
    if (!daemon_)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    port_ = di ? di->port : -1;
    return port_;
}

void
thttpd_stop(void)
{
    stopping = 1;
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
