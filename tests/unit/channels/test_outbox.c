/* test_outbox.c - the file channel writes Maildir-style files atomically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "channels/outbox.h"

struct done {
    int calls;
    int status;
    char path[4096];
};

static void
on_done(void *arg, int status, const char *path)
{
    struct done *d = arg;
    d->calls++;
    d->status = status;
    snprintf(d->path, sizeof(d->path), "%s", path ? path : "");
}

static size_t
count_files(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

static void
rm_tree(const char *root)
{
    static const char *const subs[] = { "tmp", "new", "cur" };
    for (size_t i = 0; i < 3; i++) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", root, subs[i]);
        DIR *d = opendir(p);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char f[2048];
            snprintf(f, sizeof(f), "%s/%s", p, e->d_name);
            unlink(f);
        }
        if (d)
            closedir(d);
        rmdir(p);
    }
    rmdir(root);
}

static void
test_write(void **state)
{
    (void)state;
    char root[] = "/tmp/anpi-outbox-XXXXXX";
    assert_non_null(mkdtemp(root));
    char box[600];
    snprintf(box, sizeof(box), "%s/box", root);   /* created on demand */

    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *msg = "Subject: test\nTo: taro@example.jp\n\n.\nline two\r\n";
    struct done d1 = { 0 }, d2 = { 0 };
    assert_int_equal(anpi_outbox_write(&loop, box, "taro@example.jp", msg, strlen(msg), on_done, &d1), 0);
    assert_int_equal(anpi_outbox_write(&loop, box, "hanako@example.jp", msg, strlen(msg), on_done, &d2), 0);
    assert_int_equal(d1.calls, 0);   /* never from inside the call */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d1.calls, 1);
    assert_int_equal(d2.calls, 1);
    assert_int_equal(d1.status, 0);
    assert_int_equal(d2.status, 0);
    assert_string_not_equal(d1.path, d2.path);

    char newdir[700], tmpdir[700];
    snprintf(newdir, sizeof(newdir), "%s/new", box);
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", box);
    assert_int_equal(count_files(newdir), 2);
    assert_int_equal(count_files(tmpdir), 0);
    assert_true(strncmp(d1.path, newdir, strlen(newdir)) == 0);

    FILE *f = fopen(d1.path, "rb");
    assert_non_null(f);
    char buf[512];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, "X-Anpi-Envelope-To: <taro@example.jp>\r\n"
                             "Subject: test\r\nTo: taro@example.jp\r\n\r\n.\r\nline two\r\n");

    /* Injection in the envelope address: refused, no callback. */
    struct done d3 = { 0 };
    assert_int_equal(anpi_outbox_write(&loop, box, "x@example.jp\r\nX-Evil: 1", msg, strlen(msg),
                                       on_done, &d3), ANPI_EPARSE);
    assert_int_equal(anpi_outbox_write(&loop, box, "<x@example.jp>", msg, strlen(msg), on_done,
                                       &d3), ANPI_EPARSE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d3.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    rm_tree(box);
    rmdir(root);
}

static void
test_unwritable(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct done d = { 0 };
    /* A regular file where the directory should be. */
    assert_int_equal(anpi_outbox_write(&loop, "/dev/null/box", "taro@example.jp", "x\n", 2,
                                       on_done, &d), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_true(d.status < 0);
    assert_string_equal(d.path, "");
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
