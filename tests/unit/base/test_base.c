/* test_base.c - return codes, buffers, number and duration parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"

static void
test_parse_int(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(anpi_parse_int64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(anpi_parse_int64("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_not_equal(anpi_parse_int64("", 0, 100, &v), 0);
    assert_int_not_equal(anpi_parse_int64("12a", 0, 100, &v), 0);
    assert_int_not_equal(anpi_parse_int64("101", 0, 100, &v), 0);
    assert_int_not_equal(anpi_parse_int64("99999999999999999999999", 0, INT64_MAX, &v), 0);
}

static void
test_parse_duration(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(anpi_parse_duration("6h", &v), 0);
    assert_int_equal(v, 6 * 3600);
    assert_int_equal(anpi_parse_duration("15m", &v), 0);
    assert_int_equal(v, 900);
    assert_int_equal(anpi_parse_duration("30", &v), 0);
    assert_int_equal(v, 30);
    assert_int_not_equal(anpi_parse_duration("h", &v), 0);
    assert_int_not_equal(anpi_parse_duration("5x", &v), 0);
    assert_int_not_equal(anpi_parse_duration("-5m", &v), 0);
}

static void
test_buf_cap(void **state)
{
    (void)state;
    struct anpi_buf b;
    anpi_buf_init(&b, 8);
    assert_int_equal(anpi_buf_puts(&b, "12345678"), 0);
    assert_int_equal(anpi_buf_putc(&b, 'x'), ANPI_ETOOBIG);
    assert_int_equal(b.len, 8);
    anpi_buf_consume(&b, 3);
    assert_string_equal(b.data, "45678");
    anpi_buf_free(&b);
}

static void
test_buf_html(void **state)
{
    (void)state;
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_put_html(&b, "<a href=\"x\">&'</a>");
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    anpi_buf_free(&b);
}

static void
test_mask(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(anpi_log_mask_addr("taro@example.jp", buf, sizeof(buf)), "****@example.jp");
    assert_string_equal(anpi_log_mask_addr("nodomain", buf, sizeof(buf)), "****");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_html),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
