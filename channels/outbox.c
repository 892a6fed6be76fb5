/* outbox.c - Maildir-style file channel on the libuv thread pool. */
#include "channels/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/buf.h"

struct outbox_req {
    uv_work_t work;
    char *dir;
    char *data;              /* header line + CRLF message */
    size_t len;
    char *path;              /* final path, set by the worker */
    int status;
    anpi_outbox_cb cb;
    void *arg;
};

static atomic_uint seq;

static int
ensure_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    return -errno;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Runs on a pool thread. */
static void
outbox_work(uv_work_t *w)
{
    struct outbox_req *r = w->data;
    char sub[3][4096];
    static const char *const names[] = { "tmp", "new", "cur" };
    int rc = ensure_dir(r->dir);
    for (int i = 0; rc == 0 && i < 3; i++) {
        snprintf(sub[i], sizeof(sub[i]), "%s/%s", r->dir, names[i]);
        rc = ensure_dir(sub[i]);
    }
    if (rc != 0) {
        r->status = rc;
        return;
    }
    /* Maildir unique name: time, microseconds, pid, a process-wide counter,
     * host name with '/' and ':' replaced. */
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *h = host; *h; h++) {
        if (*h == '/' || *h == ':')
            *h = '_';
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned n = atomic_fetch_add(&seq, 1u);
    char name[512];
    snprintf(name, sizeof(name), "%lld.M%06ldP%dQ%u.%s", (long long)ts.tv_sec,
             ts.tv_nsec / 1000, (int)getpid(), n, host);
    char tmp[4700], fin[4700];
    snprintf(tmp, sizeof(tmp), "%s/%s", sub[0], name);
    snprintf(fin, sizeof(fin), "%s/%s", sub[1], name);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        r->status = -errno;
        return;
    }
    rc = write_all(fd, r->data, r->len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, fin) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        r->status = rc;
        return;
    }
    /* Make the rename durable too. */
    int dfd = open(sub[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    r->path = strdup(fin);
    r->status = r->path ? 0 : -ENOMEM;
}

static void
outbox_done(uv_work_t *w, int status)
{
    struct outbox_req *r = w->data;
    int st = status < 0 ? status : r->status;
    r->cb(r->arg, st, st == 0 ? r->path : NULL);
    free(r->dir);
    free(r->data);
    free(r->path);
    free(r);
}

int
anpi_outbox_write(uv_loop_t *loop, const char *dir, const char *envelope_to,
                  const char *msg, size_t len, anpi_outbox_cb cb, void *arg)
{
    if (!loop || !dir || !dir[0] || !envelope_to || !cb || (!msg && len))
        return ANPI_ERROR;
    if (!envelope_to[0] || strpbrk(envelope_to, "\r\n<>") || strlen(dir) > 3000)
        return ANPI_EPARSE;
    struct anpi_buf b;
    anpi_buf_init(&b, SIZE_MAX / 2);
    anpi_buf_printf(&b, "X-Anpi-Envelope-To: <%s>\r\n", envelope_to);
    /* CRLF line ends, as on the wire. */
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\r' || msg[i] == '\n') {
            if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
                i++;
            anpi_buf_append(&b, "\r\n", 2);
        } else {
            anpi_buf_putc(&b, msg[i]);
        }
    }
    struct outbox_req *r = anpi_xcalloc(1, sizeof(*r));
    r->dir = anpi_xstrdup(dir);
    r->len = b.len;
    r->data = anpi_buf_steal(&b);
    r->cb = cb;
    r->arg = arg;
    r->work.data = r;
    int rc = uv_queue_work(loop, &r->work, outbox_work, outbox_done);
    if (rc < 0) {
        free(r->dir);
        free(r->data);
        free(r);
        return rc;
    }
    return 0;
}
