/* test_body.c - JSON and urlencoded-form body parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/body.h"
#include "engine/anpi.h"

static json_t *
jparse(const char *s, char *err, size_t errlen)
{
    return anpi_json_body(s, strlen(s), err, errlen);
}

static void
test_json_ok(void **state)
{
    (void)state;
    char err[256] = "";
    json_t *j = jparse("{\"name\": \"試験 太郎\", \"n\": [1, {\"a\": \"]}\"}]}", err, sizeof(err));
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "試験 太郎");
    json_decref(j);
    /* the length is honoured: bytes after it are not read */
    static const char two[] = "{\"a\":1}{\"b\":2}";
    j = anpi_json_body(two, 7, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
}

static void
test_json_errors(void **state)
{
    (void)state;
    char err[256];
    /* position of the error */
    assert_null(jparse("{\"a\": 1,\n \"b\": tru}", err, sizeof(err)));
    assert_non_null(strstr(err, "invalid JSON at 2:"));
    assert_null(jparse("{\"a\": 1, \"b\": }", err, sizeof(err)));
    assert_non_null(strstr(err, "invalid JSON at 1:"));
    /* non-object top level */
    const char *tops[] = { "[1,2]", "\"s\"", "42", "null" };
    for (size_t i = 0; i < 4; i++) {
        err[0] = '\0';
        assert_null(jparse(tops[i], err, sizeof(err)));
        assert_true(strncmp(err, "invalid JSON at 1:", 18) == 0);
    }
    assert_null(jparse("[1]", err, sizeof(err)));
    assert_string_equal(err, "invalid JSON at 1:1: top level must be an object");
    /* empty, duplicate keys, NUL */
    assert_null(anpi_json_body("", 0, err, sizeof(err)));
    assert_non_null(strstr(err, "invalid JSON at"));
    assert_null(jparse("{\"a\":1,\"a\":2}", err, sizeof(err)));
    assert_null(jparse("{\"a\":\"x\\u0000y\"}", err, sizeof(err)));
    assert_null(anpi_json_body("{\"a\":1}\0", 8, err, sizeof(err)));
    /* invalid UTF-8 in a string */
    assert_null(jparse("{\"a\":\"\xff\"}", err, sizeof(err)));
}

static void
test_json_depth(void **state)
{
    (void)state;
    char err[256];
    /* 32 levels are fine, 33 are not */
    char buf[200000];
    size_t o = 0;
    buf[o++] = '{';
    buf[o++] = '"';
    buf[o++] = 'k';
    buf[o++] = '"';
    buf[o++] = ':';
    for (int i = 0; i < 31; i++)
        buf[o++] = '[';
    for (int i = 0; i < 31; i++)
        buf[o++] = ']';
    buf[o++] = '}';
    json_t *j = anpi_json_body(buf, o, err, sizeof(err));
    assert_non_null(j);
    json_decref(j);

    o = 5;
    for (int i = 0; i < 32; i++)
        buf[o++] = '[';
    for (int i = 0; i < 32; i++)
        buf[o++] = ']';
    buf[o++] = '}';
    assert_null(anpi_json_body(buf, o, err, sizeof(err)));
    assert_string_equal(err, "invalid JSON at 1:37: nesting deeper than 32");

    /* a depth bomb: 100k brackets fail fast, no stack trouble */
    memset(buf, '[', 100000);
    assert_null(anpi_json_body(buf, 100000, err, sizeof(err)));
    assert_non_null(strstr(err, "nesting deeper than 32"));
    /* brackets inside strings do not count */
    o = 0;
    o += (size_t)sprintf(buf, "{\"s\":\"");
    for (int i = 0; i < 100; i++)
        buf[o++] = '[';
    o += (size_t)sprintf(buf + o, "\"}");
    j = anpi_json_body(buf, o, err, sizeof(err));
    assert_non_null(j);
    json_decref(j);
}

static int
fparse(const char *s, struct anpi_form *f, char *err, size_t errlen)
{
    return anpi_form_parse(s, strlen(s), f, err, errlen);
}

static void
test_form_decoding(void **state)
{
    (void)state;
    struct anpi_form f;
    char err[256] = "";
    assert_int_equal(fparse("q1=%E6%97%A5&name=%E8%A9%A6%E9%A8%93+%E5%A4%AA%E9%83%8E"
                            "&comment=a+b%2Bc%26d%3De&empty=&flag&q1=second&&x%20y=1",
                            &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 7);
    assert_string_equal(anpi_form_get(&f, "q1"), "日");
    assert_string_equal(anpi_form_get(&f, "name"), "試験 太郎");
    assert_string_equal(anpi_form_get(&f, "comment"), "a b+c&d=e");
    assert_string_equal(anpi_form_get(&f, "empty"), "");
    assert_string_equal(anpi_form_get(&f, "flag"), "");
    assert_string_equal(anpi_form_get(&f, "x y"), "1");
    assert_null(anpi_form_get(&f, "missing"));
    /* duplicates keep all values, in order */
    assert_string_equal(f.f[0].name, "q1");
    assert_string_equal(f.f[0].value, "日");
    assert_string_equal(f.f[5].name, "q1");
    assert_string_equal(f.f[5].value, "second");
    anpi_form_free(&f);
    assert_int_equal(f.n, 0);

    /* raw UTF-8 and a CRLF comment are fine */
    assert_int_equal(fparse("c=%E7%84%A1%E4%BA%8B%0D%0A%E5%9C%A8%E5%AE%85", &f, err,
                            sizeof(err)), 0);
    assert_string_equal(anpi_form_get(&f, "c"), "無事\r\n在宅");
    anpi_form_free(&f);
    assert_int_equal(fparse("", &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 0);
    anpi_form_free(&f);
}

static void
test_form_errors(void **state)
{
    (void)state;
    struct anpi_form f;
    char err[256];
    assert_int_equal(fparse("a=1&b=%ZZ", &f, err, sizeof(err)), ANPI_EPARSE);
    assert_string_equal(err, "bad percent-escape in value of field 2 at byte 7");
    assert_int_equal(f.n, 0);
    assert_null(f.f);
    assert_int_equal(fparse("a=%E", &f, err, sizeof(err)), ANPI_EPARSE);
    assert_int_equal(fparse("a=%", &f, err, sizeof(err)), ANPI_EPARSE);
    assert_int_equal(fparse("%4=1", &f, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "in name of field 1"));
    /* invalid UTF-8: stray byte, overlong, surrogate, truncated */
    const char *bad[] = { "a=%FF", "a=%C0%AF", "a=%ED%A0%80", "a=%E6%97", "a=%F4%90%80%80",
                          "%80=x" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(fparse(bad[i], &f, err, sizeof(err)), ANPI_EPARSE);
        assert_non_null(strstr(err, "invalid UTF-8"));
    }
    /* NUL escaped or raw */
    assert_int_equal(fparse("a=x%00y", &f, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "NUL byte"));
    assert_int_equal(anpi_form_parse("a=x\0y", 5, &f, err, sizeof(err)), ANPI_EPARSE);
    /* empty name */
    assert_int_equal(fparse("a=1&=2", &f, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "empty name in field 2"));

    /* ANPI_FORM_MAX_FIELDS fields pass, one more does not */
    char *buf = malloc(32 * (ANPI_FORM_MAX_FIELDS + 1));
    assert_non_null(buf);
    size_t o = 0;
    for (int i = 0; i < ANPI_FORM_MAX_FIELDS; i++)
        o += (size_t)sprintf(buf + o, "%sf%d=%d", i ? "&" : "", i, i);
    assert_int_equal(anpi_form_parse(buf, o, &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, ANPI_FORM_MAX_FIELDS);
    char last[16];
    snprintf(last, sizeof(last), "f%d", ANPI_FORM_MAX_FIELDS - 1);
    assert_string_equal(anpi_form_get(&f, last), last + 1);   /* f1999=1999 */
    anpi_form_free(&f);
    o += (size_t)sprintf(buf + o, "&fx=x");
    assert_int_equal(anpi_form_parse(buf, o, &f, err, sizeof(err)), ANPI_ETOOBIG);
    char want[64];
    snprintf(want, sizeof(want), "more than %d fields", ANPI_FORM_MAX_FIELDS);
    assert_non_null(strstr(err, want));
    assert_int_equal(f.n, 0);
    free(buf);

    /* 64 KiB cap */
    size_t big = ANPI_FORM_MAX_BYTES + 1;
    char *b = malloc(big);
    memset(b, 'a', big);
    b[0] = 'k';
    b[1] = '=';
    assert_int_equal(anpi_form_parse(b, big, &f, err, sizeof(err)), ANPI_ETOOBIG);
    assert_int_equal(anpi_form_parse(b, big - 1, &f, err, sizeof(err)), 0);
    assert_int_equal(strlen(anpi_form_get(&f, "k")), big - 3);
    anpi_form_free(&f);
    free(b);
}

/* The session cookie among others, with the blanks browsers and proxies add. */
static void
test_cookie_find(void **state)
{
    (void)state;
    char v[16];
    assert_int_equal(anpi_cookie_find("a=1; anpi_session=abc; b=2", "anpi_session", v, sizeof(v)), ANPI_OK);
    assert_string_equal(v, "abc");
    assert_int_equal(anpi_cookie_find("anpi_session=xyz ;b=2", "anpi_session", v, sizeof(v)), ANPI_OK);
    assert_string_equal(v, "xyz");
    /* a longer name that starts with ours is another cookie */
    assert_int_equal(anpi_cookie_find("anpi_session2=no", "anpi_session", v, sizeof(v)), ANPI_ENOTFOUND);
    assert_int_equal(anpi_cookie_find("x_anpi_session=no", "anpi_session", v, sizeof(v)), ANPI_ENOTFOUND);
    assert_int_equal(anpi_cookie_find("", "anpi_session", v, sizeof(v)), ANPI_ENOTFOUND);
    assert_int_equal(anpi_cookie_find("anpi_session=0123456789abcdefXYZ", "anpi_session", v, sizeof(v)),
                     ANPI_ETOOBIG);
    /* the first occurrence wins */
    assert_int_equal(anpi_cookie_find("anpi_session=one; anpi_session=two", "anpi_session", v, sizeof(v)),
                     ANPI_OK);
    assert_string_equal(v, "one");
    assert_int_equal(anpi_cookie_find("anpi_session=", "anpi_session", v, sizeof(v)), ANPI_OK);
    assert_string_equal(v, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_ok),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_form_decoding),
        cmocka_unit_test(test_form_errors),
        cmocka_unit_test(test_cookie_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
