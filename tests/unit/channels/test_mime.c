/* test_mime.c - messages built by anpi_mime_build, checked by Python's email
 * package (an independent parser) for decoded subject and body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "channels/mime.h"

static char dir[] = "/tmp/anpi-mime-XXXXXX";

static void
write_file(const char *name, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Build m, run mime_check.py on it; returns the transfer encoding it saw. */
static void
check(const struct anpi_mime_msg *m, const char *want_cte)
{
    char *out;
    size_t len;
    assert_int_equal(anpi_mime_build(m, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    write_file("msg", out, len);
    write_file("subject", m->subject, strlen(m->subject));
    write_file("text", m->text, strlen(m->text));
    if (m->html)
        write_file("html", m->html, strlen(m->html));
    free(out);
    const char *src = getenv("ANPI_SOURCE_ROOT");
    assert_non_null(src);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/unit/channels/mime_check.py %s/msg %s/subject %s/text %s%s",
             src, dir, dir, dir, m->html ? dir : "", m->html ? "/html" : "");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char seen[64] = "";
    if (!fgets(seen, sizeof(seen), p))
        seen[0] = '\0';
    seen[strcspn(seen, "\n")] = '\0';
    int st = pclose(p);
    if (st != 0)
        fail_msg("mime_check.py failed (%d) for subject %s", st, m->subject);
    assert_string_equal(seen, want_cte);
}

static struct anpi_mime_msg
base_msg(void)
{
    struct anpi_mime_msg m = {
        .from = "anpi@example.jp",
        .from_name = "安否確認システム",
        .to = "taro@example.jp",
        .subject = "Drill",
        .text = "Hello\n",
        .message_id = "b12.p34.a56@anpi.example.jp",
        .date = 1735689600,
        .auto_submitted = "auto-generated",
    };
    return m;
}

static void
test_ascii(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    m.from_name = "Anpi \"Safety\" Desk";
    m.subject = "Safety check: please answer";
    m.text = "Dear Taro,\n\nPlease answer: https://anpi.example.jp/r/abc\n.\n..\nFrom here\n"
             "trailing space \nend";
    check(&m, "quoted-printable");
}

static void
test_japanese(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    m.subject = "【安否確認】震度6弱の地震が発生しました。至急、安否を回答してください（訓練ではありません）";
    m.text = "試験 太郎 様\n\n石川県能登地方で震度6弱の地震が発生しました。\n"
             "次のリンクから安否を回答してください。\nhttps://anpi.example.jp/r/abc\n";
    check(&m, "base64");
}

static void
test_long_lines(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    static char text[2100 + 64];
    memset(text, 'a', 2000);
    text[2000] = '\n';
    strcpy(text + 2001, "short line = with equals\n");
    m.text = text;
    static char subj[200];
    memset(subj, 'S', 150);   /* long ASCII subject: encoded and folded */
    subj[150] = '\0';
    m.subject = subj;
    check(&m, "quoted-printable");

    /* A 2000-character Japanese line. */
    static char jp[2000 * 3 + 2];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) {
        memcpy(jp + n, "震", 3);
        n += 3;
    }
    jp[n] = '\0';
    m.text = jp;
    m.subject = "長い本文";
    check(&m, "base64");
}

static void
test_html(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    m.subject = "安否確認";
    m.text = "回答してください\n";
    m.html = "<p>回答して<b>ください</b></p>\n<p>--=_anpi_ &amp; boundary-like text</p>\n";
    const char *extra[] = { "X-Anpi-Broadcast: 12", "List-Unsubscribe: <mailto:u@example.jp>", NULL };
    m.extra_headers = extra;
    check(&m, "multipart");
}

static void
test_injection(void **state)
{
    (void)state;
    char *out = (char *)1;
    size_t len = 7;
    struct anpi_mime_msg m = base_msg();
    m.subject = "hello\r\nBcc: victim@example.jp";
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    assert_null(out);
    m = base_msg();
    m.subject = "hello\nBcc: victim@example.jp";
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    m = base_msg();
    m.from_name = "Taro\r";
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    m = base_msg();
    m.to = "taro@example.jp\r\nBcc: x@example.jp";
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    m = base_msg();
    m.to = "a@example.jp, b@example.jp";   /* never a list */
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    m = base_msg();
    m.message_id = "x>@example.jp";
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    m = base_msg();
    const char *bad1[] = { "X-Ok: fine", "X-Bad: a\r\nBcc: x@example.jp", NULL };
    m.extra_headers = bad1;
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    const char *bad2[] = { "Bcc: x@example.jp", NULL };
    m.extra_headers = bad2;
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    const char *bad3[] = { "NoColon", NULL };
    m.extra_headers = bad3;
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    m = base_msg();
    m.subject = "\xff\xfe bad utf-8";
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
}

static void
test_headers(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    m.from_name = NULL;
    m.auto_submitted = NULL;
    char *out;
    size_t len;
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_non_null(strstr(out, "Date: Wed, 1 Jan 2025 09:00:00 +0900\r\n"));
    assert_non_null(strstr(out, "\r\nFrom: anpi@example.jp\r\n"));
    assert_non_null(strstr(out, "\r\nTo: taro@example.jp\r\n"));
    assert_non_null(strstr(out, "\r\nMessage-ID: <b12.p34.a56@anpi.example.jp>\r\n"));
    assert_null(strstr(out, "Auto-Submitted"));
    free(out);
    m.auto_submitted = "auto-generated";
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_non_null(strstr(out, "\r\nAuto-Submitted: auto-generated\r\n"));
    free(out);
}

/* RFC 8058: HR bulk mail carries one-click unsubscribe, safety mail never. */
static void
test_list_unsubscribe(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    char *out;
    size_t len;
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_null(strstr(out, "List-Unsubscribe"));       /* not set: none */
    free(out);

    m.list_unsubscribe_url = "https://anpi.example.jp/u/0123abcd";
    m.text = "Monthly HR newsletter\n";
    check(&m, "quoted-printable");
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_non_null(strstr(out, "\r\nList-Unsubscribe: <https://anpi.example.jp/u/0123abcd>\r\n"
                                "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
    free(out);

    /* a long URL goes on a line of its own */
    static char url[400];
    snprintf(url, sizeof(url), "https://anpi.example.jp/u/%0300d", 7);
    m.list_unsubscribe_url = url;
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_non_null(strstr(out, "\r\nList-Unsubscribe:\r\n <https://anpi.example.jp/u/000"));
    free(out);

    const char *bad[] = {
        "https://anpi.example.jp/u/x\r\nBcc: victim@example.jp",
        "https://anpi.example.jp/u/x\n",
        "http://anpi.example.jp/u/x",        /* RFC 8058 wants HTTPS */
        "mailto:u@example.jp",
        "https://anpi.example.jp/u/a b",
        "https://anpi.example.jp/u/<x>",
        "https://",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m.list_unsubscribe_url = bad[i];
        out = (char *)1;
        assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
        assert_null(out);
    }
    /* not twice */
    m.list_unsubscribe_url = "https://anpi.example.jp/u/x";
    const char *dup[] = { "List-Unsubscribe: <mailto:u@example.jp>", NULL };
    m.extra_headers = dup;
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
    const char *dup2[] = { "list-unsubscribe-post: List-Unsubscribe=One-Click", NULL };
    m.extra_headers = dup2;
    assert_int_equal(anpi_mime_build(&m, &out, &len), ANPI_EPARSE);
}

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    static const char *const f[] = { "msg", "subject", "text", "html" };
    char path[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, f[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_japanese),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_injection),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_list_unsubscribe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
