/* test_atom.c - Atom parser on a JMA-format feed written here, on the real
 * feeds in $ANPI_SHARED/corpus (read at run time, never copied), and on
 * hostile or broken input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "feeds/poll/atom.h"

static const char jma_feed[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<feed xmlns=\"http://www.w3.org/2005/Atom\" lang=\"ja\">\n"
    "  <title>高頻度（地震火山）</title>\n"
    "  <subtitle>JMAXML publishing feed</subtitle>\n"
    "  <updated>2024-03-12T17:01:12+09:00</updated>\n"
    "  <id>https://feed.example.jp/feed/eqvol.xml#short_1710230472</id>\n"
    "  <link rel=\"related\" href=\"https://www.example.jp/\"/>\n"
    "  <link rel=\"self\" href=\"https://feed.example.jp/feed/eqvol.xml\"/>\n"
    "  <rights type=\"html\"><![CDATA[<a href=\"https://www.example.jp/terms\">利用規約</a>]]></rights>\n"
    "  <entry>\n"
    "    <title>震源・震度に関する情報</title>\n"
    "    <id>https://feed.example.jp/data/20240312051233_0_VXSE53_010000.xml</id>\n"
    "    <updated>2024-03-12T05:12:33Z</updated>\n"
    "    <author><name>気象庁</name></author>\n"
    "    <link type=\"application/xml\" href=\"https://feed.example.jp/data/20240312051233_0_VXSE53_010000.xml\"/>\n"
    "    <content type=\"text\">【震源・震度情報】試験</content>\n"
    "  </entry>\n"
    "  <entry>\n"
    "    <title>震度速報</title>\n"
    "    <id>urn:uuid:11111111-2222-3333-4444-555555555555</id>\n"
    "    <updated>2024-03-12T14:10:00+09:00</updated>\n"
    "    <author><name>大阪管区気象台</name></author>\n"
    "    <link rel=\"alternate\" href=\"https://feed.example.jp/html/x.html\"/>\n"
    "    <link type=\"application/xml\" href=\"https://feed.example.jp/data/uuid.xml\"/>\n"
    "  </entry>\n"
    "  <entry>\n"
    "    <title>リンクなし（idがURL）</title>\n"
    "    <id>http://feed.example.jp/data/by-id.xml</id>\n"
    "    <updated>2024-03-12T05:00:00.250Z</updated>\n"
    "  </entry>\n"
    "  <entry>\n"
    "    <title>URLなし</title>\n"
    "    <id>urn:uuid:00000000-0000-0000-0000-000000000000</id>\n"
    "    <link href=\"file:///etc/passwd\"/>\n"
    "  </entry>\n"
    "</feed>\n";

static void
test_jma_feed(void **state)
{
    (void)state;
    struct anpi_atom_feed f;
    char err[256];
    assert_int_equal(anpi_atom_parse(jma_feed, strlen(jma_feed), &f, err, sizeof(err)), 0);
    assert_string_equal(f.title, "高頻度（地震火山）");
    assert_string_equal(f.updated, "2024-03-12T17:01:12+09:00");
    assert_int_equal(f.n, 3);                       /* the URL-less entry is skipped */
    assert_string_equal(f.entries[0].href,
                        "https://feed.example.jp/data/20240312051233_0_VXSE53_010000.xml");
    assert_string_equal(f.entries[0].title, "震源・震度に関する情報");
    assert_string_equal(f.entries[0].author, "気象庁");
    assert_int_equal(f.entries[0].updated_at, INT64_C(1710220353000));
    /* type application/xml wins over an earlier link */
    assert_string_equal(f.entries[1].href, "https://feed.example.jp/data/uuid.xml");
    assert_string_equal(f.entries[1].id, "urn:uuid:11111111-2222-3333-4444-555555555555");
    assert_int_equal(f.entries[1].updated_at, INT64_C(1710220200000));   /* +09:00 */
    /* no link: the id is an http URL */
    assert_string_equal(f.entries[2].href, "http://feed.example.jp/data/by-id.xml");
    assert_null(f.entries[2].author);
    assert_int_equal(f.entries[2].updated_at, INT64_C(1710219600250));
    anpi_atom_free(&f);
    anpi_atom_free(&f);         /* safe twice */
}

static char *
read_shared(const char *rel, size_t *len)
{
    const char *dir = getenv("ANPI_SHARED");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    b[n] = '\0';
    *len = (size_t)n;
    return b;
}

/* Count and collect entry URLs straight from the file text, independently
 * of libxml2, as the oracle for the parser. */
static size_t
count_substr(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void
test_corpus_eqvol(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_shared("corpus/jma/feeds/mican3-jmaxml_test/eqvol.xml", &len);
    struct anpi_atom_feed f;
    char err[256];
    assert_int_equal(anpi_atom_parse(xml, len, &f, err, sizeof(err)), 0);
    size_t want = count_substr(xml, "<entry>");
    assert_true(want > 0);
    assert_int_equal(f.n, want);
    assert_string_equal(f.title, "長期（地震火山）");
    for (size_t i = 0; i < f.n; i++) {
        /* every href is the entry's id, and appears in the file as a link */
        assert_string_equal(f.entries[i].href, f.entries[i].id);
        char needle[512];
        snprintf(needle, sizeof(needle), "<link type=\"application/xml\" href=\"%s\"/>", f.entries[i].href);
        assert_non_null(strstr(xml, needle));
        assert_non_null(strstr(f.entries[i].href, "_0_V"));
        assert_string_equal(f.entries[i].author, "気象庁");
        assert_true(f.entries[i].updated_at > INT64_C(1700000000000));
        if (i > 0)      /* newest first in the file */
            assert_true(f.entries[i].updated_at <= f.entries[i - 1].updated_at);
    }
    anpi_atom_free(&f);
    free(xml);
}

static void
test_corpus_shirasagi(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_shared("corpus/jma/feeds/shirasagi/earthquake-sample-1.xml", &len);
    struct anpi_atom_feed f;
    char err[256];
    assert_int_equal(anpi_atom_parse(xml, len, &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, count_substr(xml, "<entry>"));
    assert_int_equal(f.n, 1);
    /* old style: urn:uuid id, the URL comes from the link */
    assert_int_equal(strncmp(f.entries[0].id, "urn:uuid:", 9), 0);
    assert_int_equal(strncmp(f.entries[0].href, "http://", 7), 0);
    char needle[512];
    snprintf(needle, sizeof(needle), "<link href=\"%s\" type=\"application/xml\"/>", f.entries[0].href);
    assert_non_null(strstr(xml, needle));
    assert_non_null(strstr(f.entries[0].href, f.entries[0].id + 9));   /* uuid in the file name */
    anpi_atom_free(&f);
    free(xml);
}

static void
expect_error(const char *xml, int code, const char *want)
{
    struct anpi_atom_feed f;
    char err[256];
    int rc = anpi_atom_parse(xml, strlen(xml), &f, err, sizeof(err));
    assert_int_equal(rc, code);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_int_equal(f.n, 0);
    assert_null(f.entries);
}

static void
test_errors(void **state)
{
    (void)state;
    expect_error("<html><body>503</body></html>", ANPI_EPARSE, "not an Atom feed: root element is <html>");
    expect_error("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>", ANPI_EPARSE, "not well-formed XML");
    expect_error("not xml at all", ANPI_EPARSE, "line 1");
    expect_error("<feed xmlns=\"urn:other\"/>", ANPI_EPARSE, "not an Atom feed");
    expect_error("", ANPI_EPARSE, "empty");
    /* billion laughs: stopped at the DOCTYPE */
    expect_error("<?xml version=\"1.0\"?>\n<!DOCTYPE feed [\n"
                 "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                 "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>\n"
                 "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>&c;</title></feed>",
                 ANPI_EPARSE, "DOCTYPE not allowed");
    /* external entity */
    expect_error("<!DOCTYPE feed SYSTEM \"http://127.0.0.1:1/x.dtd\">"
                 "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>", ANPI_EPARSE, "DOCTYPE");
    /* undeclared entity */
    expect_error("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>&xxe;</title></feed>",
                 ANPI_EPARSE, "not well-formed");
}

static void
test_size_cap(void **state)
{
    (void)state;
    size_t n = ANPI_ATOM_MAX_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    struct anpi_atom_feed f;
    char err[256];
    assert_int_equal(anpi_atom_parse(big, n, &f, err, sizeof(err)), ANPI_ETOOBIG);
    assert_non_null(strstr(err, "too large"));
    free(big);
}

static void
test_empty_feed_and_no_namespace(void **state)
{
    (void)state;
    struct anpi_atom_feed f;
    char err[256];
    const char *x = "<feed><title>t</title><entry><link href=\"https://a.example.jp/1.xml\"/></entry></feed>";
    assert_int_equal(anpi_atom_parse(x, strlen(x), &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 1);
    assert_null(f.entries[0].title);
    assert_null(f.entries[0].id);
    assert_int_equal(f.entries[0].updated_at, 0);
    anpi_atom_free(&f);
    x = "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>";
    assert_int_equal(anpi_atom_parse(x, strlen(x), &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 0);
    anpi_atom_free(&f);
    /* elements of other namespaces are ignored, not taken for Atom ones */
    x = "<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:o=\"urn:o\">"
        "<o:entry><link href=\"https://a.example.jp/2.xml\"/></o:entry>"
        "<entry><o:link href=\"https://a.example.jp/3.xml\"/><id> https://a.example.jp/4.xml </id></entry></feed>";
    assert_int_equal(anpi_atom_parse(x, strlen(x), &f, err, sizeof(err)), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.entries[0].href, "https://a.example.jp/4.xml");
    anpi_atom_free(&f);
}

static void
test_parse_time(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(anpi_atom_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(anpi_atom_parse_time("2024-03-12T14:12:33+09:00", &t), 0);
    assert_int_equal(t, INT64_C(1710220353000));
    assert_int_equal(anpi_atom_parse_time("2024-03-11T20:12:33-09:00", &t), 0);
    assert_int_equal(t, INT64_C(1710220353000));
    assert_int_not_equal(anpi_atom_parse_time("2024-03-12", &t), 0);
    assert_int_not_equal(anpi_atom_parse_time("2024-13-12T00:00:00Z", &t), 0);
    assert_int_not_equal(anpi_atom_parse_time("2024-03-12T00:00:00", &t), 0);
    assert_int_not_equal(anpi_atom_parse_time("2024-03-12T00:00:00Zjunk", &t), 0);
    assert_int_not_equal(anpi_atom_parse_time("2024-03-12T00:00:00.Z", &t), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jma_feed),
        cmocka_unit_test(test_corpus_eqvol),
        cmocka_unit_test(test_corpus_shirasagi),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_empty_feed_and_no_namespace),
        cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
