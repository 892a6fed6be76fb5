/* test_pages.c - reply, approval and message pages: escaping, forms, no script. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "admin-api/pages.h"

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void
common_checks(const char *html)
{
    assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(html, "name=\"viewport\""));
    assert_non_null(strstr(html, "<html lang=\"ja\">"));
    assert_null(strcasestr(html, "<script"));
    assert_null(strcasestr(html, "javascript:"));
    assert_null(strcasestr(html, "<img"));
    assert_null(strcasestr(html, "<b>"));
}

static void
test_reply_page(void **state)
{
    (void)state;
    static const char *const choices1[] = { "無事", "軽傷", "重傷" };
    static const char *const choices2[] = { "出社可能", "出社不可", "<b>\"未定\"</b>" };
    struct anpi_page_question qs[] = {
        { .id = "safety", .text = "あなたの状況", .nchoices = 3, .choices = choices1,
          .current = "軽傷" },
        { .id = "work\"><script>x</script>", .text = "出社<script>alert(1)</script>",
          .nchoices = 3, .choices = choices2, .current = NULL },
    };
    static const char *const hist[] = { "10:02 無事", "10:05 <img src=x onerror=alert(1)>" };
    struct anpi_reply_page p = {
        .title = "安否確認",
        .intro = "地震が発生しました。\n状況を回答してください。\r\n<script>alert('x')</script>",
        .person_name = "試験 太郎<script>alert(1)</script> さん",
        .action = "/r/abc?x=\"><script>",
        .nquestions = 2, .questions = qs,
        .comment = "</textarea><script>alert(1)</script>",
        .notice = "回答を受け付けました。変更する場合は再度送信してください。",
        .drill_banner = "【訓練】これは訓練です",
        .history = hist, .nhistory = 2,
    };
    char *html = anpi_page_reply(&p);
    assert_non_null(html);
    common_checks(html);
    /* escaped, not markup */
    assert_non_null(strstr(html, "試験 太郎&lt;script&gt;alert(1)&lt;/script&gt; さん"));
    assert_non_null(strstr(html, "&lt;/textarea&gt;&lt;script&gt;"));
    assert_non_null(strstr(html, "action=\"/r/abc?x=&quot;&gt;&lt;script&gt;\""));
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
    /* newlines in the intro become <br> */
    assert_non_null(strstr(html, "地震が発生しました。<br>\n状況を回答してください。<br>\n"
                                 "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    /* a POST form with radios named by question id, current choice checked */
    assert_non_null(strstr(html, "<form method=\"post\""));
    assert_int_equal(count(html, "<form"), 1);
    assert_int_equal(count(html, "type=\"radio\" name=\"safety\""), 3);
    assert_non_null(strstr(html, "name=\"safety\" value=\"軽傷\" checked>"));
    assert_non_null(strstr(html, "name=\"safety\" value=\"無事\">"));
    assert_int_equal(count(html, " checked"), 1);
    assert_int_equal(count(html, "name=\"work&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""), 3);
    assert_non_null(strstr(html, "value=\"&lt;b&gt;&quot;未定&quot;&lt;/b&gt;\""));
    assert_non_null(strstr(html, "name=\"comment\""));
    assert_non_null(strstr(html, "【訓練】これは訓練です"));
    assert_non_null(strstr(html, "回答を受け付けました。"));
    assert_non_null(strstr(html, "<button type=\"submit\">"));
    free(html);

    /* minimal page: no notice, banner, history or comment */
    struct anpi_reply_page m = { .title = "安否確認", .action = "/r/t", .nquestions = 1,
                                 .questions = qs };
    html = anpi_page_reply(&m);
    common_checks(html);
    assert_null(strstr(html, "class=\"drill\""));
    assert_null(strstr(html, "class=\"notice\""));
    assert_null(strstr(html, "これまでの回答"));
    assert_non_null(strstr(html, "></textarea>"));
    free(html);
}

static void
test_approval_page(void **state)
{
    (void)state;
    struct anpi_approval_page p = {
        .action = "/a/tok", .decision = "approve",
        .incident_title = "震度6弱 <宮城県>", .summary = "対象 11,500 名\n承認をお願いします",
    };
    char *html = anpi_page_approval(&p);
    assert_non_null(html);
    common_checks(html);
    /* GET shows a confirm button: a POST form, never a link that acts */
    assert_non_null(strstr(html, "<form method=\"post\" action=\"/a/tok\""));
    assert_non_null(strstr(html, "<input type=\"hidden\" name=\"decision\" value=\"approve\">"));
    assert_non_null(strstr(html, "承認する</button>"));
    assert_non_null(strstr(html, "震度6弱 &lt;宮城県&gt;"));
    assert_non_null(strstr(html, "対象 11,500 名<br>\n承認をお願いします"));
    assert_null(strstr(html, "<a "));
    free(html);

    p.decision = "reject";
    html = anpi_page_approval(&p);
    assert_non_null(strstr(html, "value=\"reject\""));
    assert_non_null(strstr(html, "却下する</button>"));
    free(html);

    p.done = true;
    p.notice = "承認しました。";
    html = anpi_page_approval(&p);
    common_checks(html);
    assert_null(strstr(html, "<form"));
    assert_non_null(strstr(html, "承認しました。"));
    free(html);

    p.decision = "approve\"><script>";
    assert_null(anpi_page_approval(&p));
    p.decision = NULL;
    assert_null(anpi_page_approval(&p));
}

static void
test_message_page(void **state)
{
    (void)state;
    char *html = anpi_page_message("リンクの期限切れ", "このリンクは<無効>です。\n管理者に連絡してください。");
    common_checks(html);
    assert_non_null(strstr(html, "<title>リンクの期限切れ</title>"));
    assert_non_null(strstr(html, "このリンクは&lt;無効&gt;です。<br>\n管理者に連絡してください。"));
    assert_null(strstr(html, "<form"));
    free(html);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_page),
        cmocka_unit_test(test_approval_page),
        cmocka_unit_test(test_message_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
