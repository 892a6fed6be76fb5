/* test_iso2022jp.c - UTF-8 -> ISO-2022-JP with fallbacks, line folding, and
 * ISO-2022-JP messages from anpi_mime_build read back by Python's email
 * package (an independent decoder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <iconv.h>
#include <cmocka.h>

#include "channels/iso2022jp.h"
#include "channels/mime.h"
#include "engine/buf.h"

static char dir[] = "/tmp/anpi-iso-XXXXXX";

/* Decode ISO-2022-JP with glibc (the other direction from the encoder). */
static char *
decode(const char *iso, size_t len)
{
    iconv_t cd = iconv_open("UTF-8", "ISO-2022-JP");
    assert_true(cd != (iconv_t)-1);
    size_t cap = len * 3 + 16;
    char *out = malloc(cap);
    char *ip = (char *)iso, *op = out;
    size_t il = len, ol = cap - 1;
    assert_true(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
    *op = '\0';
    iconv_close(cd);
    return out;
}

/* Every line (split on LF) starts in ASCII and ends in ASCII: decodable
 * on its own, and its last escape is ESC ( B. */
static void
assert_lines_self_contained(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t ll = e ? (size_t)(e - p) : (size_t)(end - p);
        bool jis = false;
        for (size_t i = 0; i < ll; i++) {
            if (p[i] == 0x1b) {
                assert_true(i + 2 < ll);      /* never split */
                jis = p[i + 1] == '$';
                i += 2;
            } else if (jis) {
                assert_true(i + 1 < ll && p[i + 1] != 0x1b && p[i + 1] != '\r');
                i++;                          /* both bytes of a character */
            }
        }
        assert_false(jis);
        p += ll + 1;
    }
}

static void
test_exact(void **state)
{
    (void)state;
    const char *in = "試験 太郎 様\n震度６弱の地震が発生しました。\n"
                     "回答: https://anpi.example.jp/r/abc\n〜―−¢£¬\nend";
    char *out;
    size_t len;
    struct anpi_errors subs = { 0 };
    assert_int_equal(anpi_iso2022jp_encode(in, NULL, 0, &out, &len, &subs), 0);
    assert_int_equal(subs.n, 0);
    assert_int_equal(strlen(out), len);
    for (size_t i = 0; i < len; i++)
        assert_true((unsigned char)out[i] < 0x80);
    assert_non_null(strstr(out, "\x1b$B"));
    assert_non_null(strstr(out, "https://anpi.example.jp/r/abc"));
    assert_lines_self_contained(out, len);
    char *back = decode(out, len);
    assert_string_equal(back, in);
    free(back);
    free(out);

    /* ASCII alone stays as it is, with no escape at all */
    assert_int_equal(anpi_iso2022jp_encode("plain ascii\n", NULL, 0, &out, &len, NULL), 0);
    assert_string_equal(out, "plain ascii\n");
    free(out);
}

static void
test_fallbacks(void **state)
{
    (void)state;
    struct anpi_errors subs = { 0 };
    anpi_errors_add(&subs, "caller's own entry");
    char *out;
    size_t len;
    assert_int_equal(anpi_iso2022jp_encode("①㈱髙ｶﾞｷｬｯﾁ～", NULL, 0, &out, &len, &subs), 0);
    char *back = decode(out, len);
    assert_string_equal(back, "(1)(株)高ガキャッチ〜");
    free(back);
    free(out);
    assert_int_equal(subs.n, 1 + 9);
    assert_string_equal(subs.msg[0], "caller's own entry");
    assert_string_equal(subs.msg[1], "U+2460 ① -> (1)");
    assert_string_equal(subs.msg[2], "U+3231 ㈱ -> (株)");
    assert_string_equal(subs.msg[3], "U+9AD9 髙 -> 高");
    assert_string_equal(subs.msg[4], "U+FF76 U+FF9E ｶﾞ -> ガ");
    assert_string_equal(subs.msg[5], "U+FF77 ｷ -> キ");
    assert_string_equal(subs.msg[9], "U+FF5E ～ -> 〜");
    anpi_errors_free(&subs);

    /* configured fallbacks replace the built-in table */
    const struct anpi_jis_fallback fb[] = { { "😀", "(笑)" }, { "①", "1." } };
    assert_int_equal(anpi_iso2022jp_encode("①了解😀", fb, 2, &out, &len, &subs), 0);
    back = decode(out, len);
    assert_string_equal(back, "1.了解(笑)");
    free(back);
    free(out);
    assert_int_equal(subs.n, 2);
    assert_string_equal(subs.msg[1], "U+1F600 😀 -> (笑)");
    anpi_errors_free(&subs);
}

static void
test_no_fallback(void **state)
{
    (void)state;
    struct anpi_errors subs = { 0 };
    anpi_errors_add(&subs, "kept");
    char *out = (char *)1;
    size_t len = 9;
    /* ① would be substituted, but 😀 cannot be: the report lists what failed */
    assert_int_equal(anpi_iso2022jp_encode("①安否😀確認", NULL, 0, &out, &len, &subs),
                     ANPI_DECLINED);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_int_equal(subs.n, 2);
    assert_string_equal(subs.msg[0], "kept");
    assert_string_equal(subs.msg[1], "U+1F600 😀: no JIS X 0208 code and no fallback");
    anpi_errors_free(&subs);

    /* a fallback that is itself outside JIS X 0208 */
    const struct anpi_jis_fallback bad[] = { { "😀", "🙂" } };
    assert_int_equal(anpi_iso2022jp_encode("a😀", bad, 1, &out, &len, &subs), ANPI_DECLINED);
    assert_int_equal(subs.n, 1);
    assert_non_null(strstr(subs.msg[0], "is not JIS X 0208 either"));
    anpi_errors_free(&subs);

    /* ¥ exists only in JIS X 0201 Roman, ESC and SO are ISO-2022 controls */
    assert_int_equal(anpi_iso2022jp_encode("¥100", bad, 1, &out, &len, NULL), ANPI_DECLINED);
    assert_int_equal(anpi_iso2022jp_encode("a\x1b$Bb", NULL, 0, &out, &len, NULL), ANPI_DECLINED);
    assert_int_equal(anpi_iso2022jp_encode("a\x0e", NULL, 0, &out, &len, NULL), ANPI_DECLINED);
    /* invalid UTF-8 */
    assert_int_equal(anpi_iso2022jp_encode("\xe6\x97", NULL, 0, &out, &len, NULL), ANPI_EPARSE);
    assert_int_equal(anpi_iso2022jp_encode("\xc0\xaf", NULL, 0, &out, &len, NULL), ANPI_EPARSE);
}

/* Remove every fold the folder inserted and every line end, keeping the
 * rest: ESC ( B (CR)LF ESC $ B -> "", CR and LF -> "". */
static char *
unfold(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= 8 && memcmp(s + i, "\x1b(B\r\n\x1b$B", 8) == 0) {
            i += 8;
        } else if (len - i >= 7 && memcmp(s + i, "\x1b(B\n\x1b$B", 7) == 0) {
            i += 7;
        } else if (s[i] == '\r' || s[i] == '\n') {
            i++;
        } else {
            out[n++] = s[i++];
        }
    }
    out[n] = '\0';
    return out;
}

static void
test_fold(void **state)
{
    (void)state;
    /* 300 kanji, then a 200-character URL, then kanji again, then 2000 'a' */
    struct anpi_buf in;
    anpi_buf_init(&in, 0);
    for (int i = 0; i < 300; i++)
        anpi_buf_puts(&in, i % 2 ? "震" : "度");
    anpi_buf_puts(&in, " https://anpi.example.jp/r/");
    for (int i = 0; i < 173; i++)
        anpi_buf_putc(&in, (char)('a' + i % 26));
    anpi_buf_puts(&in, " 回答してください。\n短い行\n");
    for (int i = 0; i < 2000; i++)
        anpi_buf_putc(&in, 'a');
    anpi_buf_puts(&in, "\n");
    char *iso;
    size_t isolen;
    assert_int_equal(anpi_iso2022jp_encode(in.data, NULL, 0, &iso, &isolen, NULL), 0);

    struct anpi_buf out;
    anpi_buf_init(&out, 0);
    assert_int_equal(anpi_iso2022jp_fold(iso, isolen, 76, 900, &out), 0);
    assert_lines_self_contained(out.data, out.len);
    size_t longest = 0, lines = 0;
    for (const char *p = out.data; p < out.data + out.len;) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);                       /* CRLF everywhere */
        size_t ll = (size_t)(e - p);
        assert_null(memchr(p, '\n', ll));
        if (memchr(p, 0x1b, ll))
            assert_true(ll <= 76);                /* lines with Japanese: soft limit */
        if (ll > longest)
            longest = ll;
        lines++;
        p = e + 2;
    }
    assert_true(longest <= 900);
    assert_true(lines > 10);
    /* the URL is on one line, whole */
    assert_non_null(strstr(out.data, "https://anpi.example.jp/r/abcdefghijklmnopqrstuvwxyzabc"));
    const char *u = strstr(out.data, "https://");
    const char *ue = strstr(u, "\r\n");
    assert_true(ue - u >= 27 + 173);
    /* Nothing lost: without the folds and line ends, the text is the same. */
    char *a = unfold(out.data, out.len), *b = unfold(iso, isolen);
    assert_string_equal(a, b);
    free(a);
    free(b);
    /* and glibc decodes the folded text to the input with line breaks added */
    char *dec = decode(out.data, out.len);
    size_t k = 0;
    for (size_t i = 0; dec[i]; i++) {
        if (dec[i] == '\r' || dec[i] == '\n')
            continue;
        while (in.data[k] == '\n')
            k++;
        assert_int_equal(dec[i], in.data[k]);
        k++;
    }
    free(dec);
    free(iso);
    anpi_buf_free(&out);
    anpi_buf_free(&in);

    /* malformed input to the folder */
    anpi_buf_init(&out, 0);
    assert_int_equal(anpi_iso2022jp_fold("\x1b$B0\n", 5, 76, 900, &out), ANPI_EPARSE);
    assert_int_equal(anpi_iso2022jp_fold("\x1b$B0!", 5, 76, 900, &out), ANPI_EPARSE);
    assert_int_equal(anpi_iso2022jp_fold("\x1b$", 2, 76, 900, &out), ANPI_EPARSE);
    assert_int_equal(anpi_iso2022jp_fold("\x1b$B0", 4, 76, 900, &out), ANPI_EPARSE);
    assert_int_equal(anpi_iso2022jp_fold("\xe6", 1, 76, 900, &out), ANPI_EPARSE);
    assert_int_equal(anpi_iso2022jp_fold("a\rb", 3, 76, 900, &out), ANPI_EPARSE);
    anpi_buf_free(&out);
}

/* ---- whole messages through Python's email package ---- */

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

/* mime_check.py with the expected (substituted) subject and text; returns
 * what it printed (the transfer encoding or "multipart"). */
static void
python_check(const char *msg, size_t len, const char *subject, const char *text,
             const char *html, const char *want)
{
    write_file("msg", msg, len);
    write_file("subject", subject, strlen(subject));
    write_file("text", text, strlen(text));
    if (html)
        write_file("html", html, strlen(html));
    const char *src = getenv("ANPI_SOURCE_ROOT");
    assert_non_null(src);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/unit/channels/mime_check.py %s/msg %s/subject %s/text %s%s",
             src, dir, dir, dir, html ? dir : "", html ? "/html" : "");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char seen[64] = "";
    if (!fgets(seen, sizeof(seen), p))
        seen[0] = '\0';
    seen[strcspn(seen, "\n")] = '\0';
    int st = pclose(p);
    if (st != 0)
        fail_msg("mime_check.py failed (%d)", st);
    assert_string_equal(seen, want);
}

static struct anpi_mime_msg
iso_msg(void)
{
    struct anpi_mime_msg m = {
        .from = "anpi@example.jp",
        .from_name = "安否確認システム",
        .to = "taro@docomo.example.jp",
        .subject = "【安否確認】震度６弱の地震が発生しました。至急、安否を回答してください（訓練）",
        .text = "試験 太郎 様\n\n石川県能登地方で震度６弱の地震が発生しました。\n"
                "次のリンクから安否を回答してください。\nhttps://anpi.example.jp/r/abc\n",
        .message_id = "b12.p34.a56@anpi.example.jp",
        .date = 1735689600,
        .auto_submitted = "auto-generated",
        .iso2022jp = true,
    };
    return m;
}

static void
test_mime_iso(void **state)
{
    (void)state;
    struct anpi_mime_msg m = iso_msg();
    struct anpi_errors subs = { 0 };
    bool used = false;
    m.substitutions = &subs;
    m.used_iso2022jp = &used;
    char *out;
    size_t len;
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_true(used);
    assert_int_equal(subs.n, 0);
    assert_non_null(strstr(out, "Subject: =?ISO-2022-JP?B?"));
    assert_non_null(strstr(out, "From: =?ISO-2022-JP?B?"));
    assert_non_null(strstr(out, "Content-Type: text/plain; charset=ISO-2022-JP\r\n"
                                "Content-Transfer-Encoding: 7bit\r\n"));
    python_check(out, len, m.subject, m.text, NULL, "7bit");
    free(out);

    /* with substitutions, reported per field; Python reads the substituted text */
    m.subject = "①本社 ㈱テスト 髙橋";
    m.text = "ｱﾝﾋﾟ確認です。②を選んでください。\n";
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_true(used);
    assert_int_equal(subs.n, 7);
    assert_string_equal(subs.msg[0], "subject: U+2460 ① -> (1)");
    assert_string_equal(subs.msg[1], "subject: U+3231 ㈱ -> (株)");
    assert_string_equal(subs.msg[2], "subject: U+9AD9 髙 -> 高");
    assert_string_equal(subs.msg[3], "text: U+FF71 ｱ -> ア");
    assert_string_equal(subs.msg[6], "text: U+2461 ② -> (2)");
    python_check(out, len, "(1)本社 (株)テスト 高橋", "アンピ確認です。(2)を選んでください。\n",
                 NULL, "7bit");
    free(out);
    anpi_errors_free(&subs);

    /* HTML alternative: the text part in ISO-2022-JP, HTML stays UTF-8 */
    m = iso_msg();
    m.used_iso2022jp = &used;
    m.html = "<p>回答して<b>ください</b> 😀</p>\n";
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_true(used);
    assert_non_null(strstr(out, "charset=ISO-2022-JP"));
    python_check(out, len, m.subject, m.text, m.html, "multipart");
    free(out);
}

static void
test_mime_iso_declined(void **state)
{
    (void)state;
    struct anpi_mime_msg m = iso_msg();
    struct anpi_errors subs = { 0 };
    bool used = true;
    m.substitutions = &subs;
    m.used_iso2022jp = &used;
    m.subject = "①の確認 😀";      /* ① could be replaced, 😀 not: all UTF-8 */
    char *out;
    size_t len;
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_false(used);
    assert_int_equal(subs.n, 0);          /* nothing was substituted */
    assert_null(strstr(out, "ISO-2022-JP"));
    assert_non_null(strstr(out, "charset=UTF-8"));
    python_check(out, len, m.subject, m.text, NULL, "base64");
    free(out);
}

static void
test_mime_iso_long_lines(void **state)
{
    (void)state;
    struct anpi_mime_msg m = iso_msg();
    static char text[4000 * 3 + 64];
    size_t n = 0;
    for (int i = 0; i < 1500; i++) {
        memcpy(text + n, "震", 3);
        n += 3;
    }
    memcpy(text + n, "\nok\n", 5);
    m.text = text;
    char *out;
    size_t len;
    bool used = false;
    m.used_iso2022jp = &used;
    assert_int_equal(anpi_mime_build(&m, &out, &len), 0);
    assert_true(used);
    const char *body = strstr(out, "\r\n\r\n") + 4;
    assert_lines_self_contained(body, strlen(body));
    for (const char *p = out; *p;) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        assert_true(e - p <= 76);
        p = e + 2;
    }
    free(out);
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
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_no_fallback),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_mime_iso),
        cmocka_unit_test(test_mime_iso_declined),
        cmocka_unit_test(test_mime_iso_long_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
