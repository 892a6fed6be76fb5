/* iso2022jp.c - UTF-8 -> ISO-2022-JP (RFC 1468), exact or not at all.
 *
 * Japanese feature phones and some carrier gateways still render only
 * ISO-2022-JP.  glibc's iconv knows the JIS X 0208 table, but asked to
 * convert text containing ① or ㈱ it either fails midway or (with
 * //TRANSLIT) silently writes '?', and for ¥ it switches to JIS X 0201
 * Roman.  So each non-ASCII character is first looked up on its own
 * (iconv one way, then back, and only the ESC $ B form is accepted); what
 * has no exact code goes through the configured fallbacks, and every
 * replacement is reported.  The escape sequences are written here rather
 * than by iconv so that every line ends in ASCII mode (RFC 1468 requires it,
 * and it lets the MIME layer fold lines without tracking state). */
#include "channels/iso2022jp.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO_MAX     (16u * 1024 * 1024)
#define ESC_JIS     "\x1b$B"
#define ESC_ASCII   "\x1b(B"

static const struct anpi_jis_fallback defaults[] = {
    /* circled numbers (NEC row 13) */
    { "①", "(1)" }, { "②", "(2)" }, { "③", "(3)" }, { "④", "(4)" }, { "⑤", "(5)" },
    { "⑥", "(6)" }, { "⑦", "(7)" }, { "⑧", "(8)" }, { "⑨", "(9)" }, { "⑩", "(10)" },
    { "⑪", "(11)" }, { "⑫", "(12)" }, { "⑬", "(13)" }, { "⑭", "(14)" }, { "⑮", "(15)" },
    { "⑯", "(16)" }, { "⑰", "(17)" }, { "⑱", "(18)" }, { "⑲", "(19)" }, { "⑳", "(20)" },
    { "Ⅰ", "I" }, { "Ⅱ", "II" }, { "Ⅲ", "III" }, { "Ⅳ", "IV" }, { "Ⅴ", "V" },
    { "Ⅵ", "VI" }, { "Ⅶ", "VII" }, { "Ⅷ", "VIII" }, { "Ⅸ", "IX" }, { "Ⅹ", "X" },
    { "㈱", "(株)" }, { "㈲", "(有)" }, { "㈹", "(代)" }, { "№", "No." }, { "℡", "TEL" },
    { "㍉", "ミリ" }, { "㌔", "キロ" }, { "㌢", "センチ" }, { "㍍", "メートル" },
    { "㌘", "グラム" }, { "㌧", "トン" }, { "㌫", "パーセント" },
    /* IBM/NEC variant kanji often typed in names */
    { "髙", "高" }, { "﨑", "崎" }, { "德", "徳" }, { "栁", "柳" },
    /* Windows code points for characters JIS X 0208 has under another code */
    { "～", "〜" }, { "－", "−" }, { "∥", "‖" }, { "—", "―" },
    { "￠", "¢" }, { "￡", "£" }, { "￢", "¬" },
    /* half-width kana -> full-width; voiced pairs are matched first (longest) */
    { "｡", "。" }, { "｢", "「" }, { "｣", "」" }, { "､", "、" }, { "･", "・" }, { "ｦ", "ヲ" },
    { "ｧ", "ァ" }, { "ｨ", "ィ" }, { "ｩ", "ゥ" }, { "ｪ", "ェ" }, { "ｫ", "ォ" }, { "ｬ", "ャ" },
    { "ｭ", "ュ" }, { "ｮ", "ョ" }, { "ｯ", "ッ" }, { "ｰ", "ー" }, { "ｱ", "ア" }, { "ｲ", "イ" },
    { "ｳ", "ウ" }, { "ｴ", "エ" }, { "ｵ", "オ" }, { "ｶ", "カ" }, { "ｷ", "キ" }, { "ｸ", "ク" },
    { "ｹ", "ケ" }, { "ｺ", "コ" }, { "ｻ", "サ" }, { "ｼ", "シ" }, { "ｽ", "ス" }, { "ｾ", "セ" },
    { "ｿ", "ソ" }, { "ﾀ", "タ" }, { "ﾁ", "チ" }, { "ﾂ", "ツ" }, { "ﾃ", "テ" }, { "ﾄ", "ト" },
    { "ﾅ", "ナ" }, { "ﾆ", "ニ" }, { "ﾇ", "ヌ" }, { "ﾈ", "ネ" }, { "ﾉ", "ノ" }, { "ﾊ", "ハ" },
    { "ﾋ", "ヒ" }, { "ﾌ", "フ" }, { "ﾍ", "ヘ" }, { "ﾎ", "ホ" }, { "ﾏ", "マ" }, { "ﾐ", "ミ" },
    { "ﾑ", "ム" }, { "ﾒ", "メ" }, { "ﾓ", "モ" }, { "ﾔ", "ヤ" }, { "ﾕ", "ユ" }, { "ﾖ", "ヨ" },
    { "ﾗ", "ラ" }, { "ﾘ", "リ" }, { "ﾙ", "ル" }, { "ﾚ", "レ" }, { "ﾛ", "ロ" }, { "ﾜ", "ワ" },
    { "ﾝ", "ン" }, { "ﾞ", "゛" }, { "ﾟ", "゜" }, { "ｶﾞ", "ガ" }, { "ｷﾞ", "ギ" }, { "ｸﾞ", "グ" },
    { "ｹﾞ", "ゲ" }, { "ｺﾞ", "ゴ" }, { "ｻﾞ", "ザ" }, { "ｼﾞ", "ジ" }, { "ｽﾞ", "ズ" }, { "ｾﾞ", "ゼ" },
    { "ｿﾞ", "ゾ" }, { "ﾀﾞ", "ダ" }, { "ﾁﾞ", "ヂ" }, { "ﾂﾞ", "ヅ" }, { "ﾃﾞ", "デ" }, { "ﾄﾞ", "ド" },
    { "ﾊﾞ", "バ" }, { "ﾋﾞ", "ビ" }, { "ﾌﾞ", "ブ" }, { "ﾍﾞ", "ベ" }, { "ﾎﾞ", "ボ" }, { "ｳﾞ", "ヴ" },
    { "ﾊﾟ", "パ" }, { "ﾋﾟ", "ピ" }, { "ﾌﾟ", "プ" }, { "ﾍﾟ", "ペ" }, { "ﾎﾟ", "ポ" },
};

const struct anpi_jis_fallback *
anpi_jis_fallback_defaults(size_t *n)
{
    *n = ANPI_ARRAY_LEN(defaults);
    return defaults;
}

/* Length of the UTF-8 sequence at s and its code point, 0 if invalid. */
static size_t
utf8_dec(const unsigned char *s, unsigned *cpout)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cpout = c;
        return 1;
    }
    size_t n;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0) { n = 2; min = 0x80; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 3; min = 0x800; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 4; min = 0x10000; cp = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *cpout = cp;
    return n;
}

struct conv {
    iconv_t to, from;
};

/* The JIS X 0208 code of the one character ch[0..n), or false.  Exact
 * means: iconv writes ESC $ B b1 b2 ESC ( B and reads it back as ch. */
static bool
jis_code(const struct conv *cv, const unsigned char *ch, size_t n, unsigned char jis[2])
{
    char in[4], enc[16], back[8];
    memcpy(in, ch, n);
    char *ip = in, *op = enc;
    size_t il = n, ol = sizeof(enc);
    iconv(cv->to, NULL, NULL, NULL, NULL);
    if (iconv(cv->to, &ip, &il, &op, &ol) == (size_t)-1 ||
        iconv(cv->to, NULL, NULL, &op, &ol) == (size_t)-1)
        return false;
    if (sizeof(enc) - ol != 8 || memcmp(enc, ESC_JIS, 3) != 0 ||
        memcmp(enc + 5, ESC_ASCII, 3) != 0)
        return false;
    unsigned char b1 = (unsigned char)enc[3], b2 = (unsigned char)enc[4];
    if (b1 < 0x21 || b1 > 0x7e || b2 < 0x21 || b2 > 0x7e)
        return false;
    ip = enc;
    il = 8;
    op = back;
    ol = sizeof(back);
    iconv(cv->from, NULL, NULL, NULL, NULL);
    if (iconv(cv->from, &ip, &il, &op, &ol) == (size_t)-1)
        return false;
    if (sizeof(back) - ol != n || memcmp(back, ch, n) != 0)
        return false;
    jis[0] = b1;
    jis[1] = b2;
    return true;
}

/* ESC, SO and SI would be read as ISO-2022 controls. */
static bool
ascii_ok(unsigned c)
{
    return c < 0x80 && c != 0x1b && c != 0x0e && c != 0x0f;
}

struct enc {
    struct anpi_buf b;
    bool jis;
};

static void
put_ascii(struct enc *e, char c)
{
    if (e->jis) {
        anpi_buf_append(&e->b, ESC_ASCII, 3);
        e->jis = false;
    }
    anpi_buf_putc(&e->b, c);
}

static void
put_jis(struct enc *e, const unsigned char jis[2])
{
    if (!e->jis) {
        anpi_buf_append(&e->b, ESC_JIS, 3);
        e->jis = true;
    }
    anpi_buf_append(&e->b, jis, 2);
}

/* Encode s (a fallback's replacement) exactly, or false. */
static bool
put_exact(struct enc *e, const struct conv *cv, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        size_t n = utf8_dec(p, &cp);
        unsigned char jis[2];
        if (n == 1 && ascii_ok(cp))
            put_ascii(e, (char)cp);
        else if (n > 1 && jis_code(cv, p, n, jis))
            put_jis(e, jis);
        else
            return false;
        p += n;
    }
    return true;
}

/* "U+FF76 U+FF9E ｶﾞ" for a report. */
static void
describe(char *dst, size_t len, const unsigned char *s, size_t n)
{
    size_t off = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < n && off < len;) {
        unsigned cp;
        size_t cl = utf8_dec(s + i, &cp);
        if (!cl)
            break;
        int w = snprintf(dst + off, len - off, "U+%04X ", cp);
        if (w < 0)
            break;
        off += (size_t)w;
        i += cl;
    }
    if (off < len)
        snprintf(dst + off, len - off, "%.*s", (int)n, (const char *)s);
}

/* Drop the messages this call added (the list may hold the caller's). */
static void
errors_truncate(struct anpi_errors *e, size_t n)
{
    while (e->n > n)
        free(e->msg[--e->n]);
}

/* The longest fallback whose `from` starts at p, or NULL. */
static const struct anpi_jis_fallback *
find_fallback(const struct anpi_jis_fallback *fb, size_t nfb, const char *p)
{
    const struct anpi_jis_fallback *best = NULL;
    size_t bestlen = 0;
    for (size_t i = 0; i < nfb; i++) {
        if (!fb[i].from || !fb[i].to)
            continue;
        size_t l = strlen(fb[i].from);
        if (l > bestlen && strncmp(p, fb[i].from, l) == 0) {
            best = &fb[i];
            bestlen = l;
        }
    }
    return best;
}

int
anpi_iso2022jp_encode(const char *utf8, const struct anpi_jis_fallback *fb, size_t nfb,
                      char **out, size_t *outlen, struct anpi_errors *substitutions)
{
    *out = NULL;
    *outlen = 0;
    size_t inlen = strlen(utf8);
    if (inlen > ISO_MAX / 4)
        return ANPI_ETOOBIG;
    if (!fb)
        fb = anpi_jis_fallback_defaults(&nfb);
    for (const unsigned char *p = (const unsigned char *)utf8; *p;) {
        unsigned cp;
        size_t n = utf8_dec(p, &cp);
        if (!n)
            return ANPI_EPARSE;
        p += n;
    }

    /* Descriptors per call: an iconv_t carries conversion state, and this
     * runs on several threads. */
    struct conv cv;
    cv.to = iconv_open("ISO-2022-JP", "UTF-8");
    if (cv.to == (iconv_t)-1)
        return ANPI_ERROR;
    cv.from = iconv_open("UTF-8", "ISO-2022-JP");
    if (cv.from == (iconv_t)-1) {
        iconv_close(cv.to);
        return ANPI_ERROR;
    }

    struct enc e = { .jis = false };
    anpi_buf_init(&e.b, ISO_MAX);
    size_t first = substitutions ? substitutions->n : 0;
    bool declined = false;
    const unsigned char *p = (const unsigned char *)utf8;
    while (*p) {
        unsigned cp;
        size_t n = utf8_dec(p, &cp);
        unsigned char jis[2];
        if (n == 1 && ascii_ok(cp)) {
            put_ascii(&e, (char)cp);
            p++;
            continue;
        }
        if (n > 1 && jis_code(&cv, p, n, jis)) {
            put_jis(&e, jis);
            p += n;
            continue;
        }
        char what[96];
        const struct anpi_jis_fallback *f = find_fallback(fb, nfb, (const char *)p);
        size_t mark = e.b.len;
        bool mark_jis = e.jis;
        if (f && put_exact(&e, &cv, f->to)) {
            size_t fl = strlen(f->from);
            describe(what, sizeof(what), p, fl);
            if (substitutions && !declined)
                anpi_errors_add(substitutions, "%s -> %s", what, f->to);
            p += fl;
            continue;
        }
        /* Undo a replacement that was only partly encodable. */
        e.b.len = mark;
        e.jis = mark_jis;
        if (e.b.data)
            e.b.data[mark] = '\0';
        describe(what, sizeof(what), p, n);
        if (substitutions) {
            if (!declined)
                errors_truncate(substitutions, first);   /* from now on: what failed */
            if (f)
                anpi_errors_add(substitutions, "%s: fallback \"%s\" is not JIS X 0208 either",
                                what, f->to);
            else
                anpi_errors_add(substitutions, "%s: no JIS X 0208 code and no fallback", what);
        }
        declined = true;
        p += n;
    }
    if (e.jis)
        anpi_buf_append(&e.b, ESC_ASCII, 3);
    iconv_close(cv.to);
    iconv_close(cv.from);
    if (declined) {
        anpi_buf_free(&e.b);
        return ANPI_DECLINED;
    }
    if (e.b.len >= ISO_MAX) {
        anpi_buf_free(&e.b);
        return ANPI_ETOOBIG;
    }
    *outlen = e.b.len;
    *out = anpi_buf_steal(&e.b);
    return 0;
}

int
anpi_iso2022jp_fold(const char *in, size_t len, size_t soft, size_t hard, struct anpi_buf *b)
{
    if (soft < 16 || hard < soft)
        return ANPI_EPARSE;
    const unsigned char *s = (const unsigned char *)in;
    bool jis = false;
    const char *reopen = ESC_JIS;
    size_t col = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        if (s[i] == 0x1b) {
            if (len - i < 3)
                return ANPI_EPARSE;
            bool to_jis;
            if (s[i + 1] == '$' && (s[i + 2] == 'B' || s[i + 2] == '@'))
                to_jis = true;
            else if (s[i + 1] == '(' && (s[i + 2] == 'B' || s[i + 2] == 'J'))
                to_jis = false;
            else
                return ANPI_EPARSE;
            /* Entering a Japanese run that would not fit: start it on a new
             * line (a break between an ASCII word and Japanese text). */
            if (to_jis && !jis && col > 0 && col + 3 + 2 + 3 > soft) {
                rc = anpi_buf_append(b, "\r\n", 2);
                col = 0;
            }
            if (to_jis)
                reopen = s[i + 2] == 'B' ? ESC_JIS : "\x1b$@";
            bool was_jis = jis;
            jis = to_jis;
            if (rc == 0)
                rc = anpi_buf_append(b, s + i, 3);
            col += 3;
            i += 3;
            /* Leaving Japanese for an ASCII run that would not fit (a URL):
             * the run starts a line of its own. */
            if (was_jis && !to_jis && rc == 0) {
                size_t run = 0;
                while (i + run < len && s[i + run] != 0x1b && s[i + run] != '\n' &&
                       s[i + run] != '\r')
                    run++;
                if (col + run > soft) {
                    rc = anpi_buf_append(b, "\r\n", 2);
                    col = 0;
                }
            }
        } else if (s[i] == '\n' || (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')) {
            if (jis)
                return ANPI_EPARSE;          /* RFC 1468: lines end in ASCII */
            rc = anpi_buf_append(b, "\r\n", 2);
            col = 0;
            i += s[i] == '\r' ? 2 : 1;
        } else if (jis) {
            if (len - i < 2 || s[i] < 0x21 || s[i] > 0x7e || s[i + 1] < 0x21 || s[i + 1] > 0x7e)
                return ANPI_EPARSE;
            if (col + 2 + 3 > soft) {
                rc = anpi_buf_append(b, ESC_ASCII "\r\n", 5);
                if (rc == 0)
                    rc = anpi_buf_puts(b, reopen);
                col = 3;
            }
            if (rc == 0)
                rc = anpi_buf_append(b, s + i, 2);
            col += 2;
            i += 2;
        } else {
            if (s[i] >= 0x80 || s[i] == '\0' || s[i] == '\r' || s[i] == 0x0e || s[i] == 0x0f)
                return ANPI_EPARSE;
            if (col + 1 > hard) {
                rc = anpi_buf_append(b, "\r\n", 2);
                col = 0;
            }
            if (rc == 0)
                rc = anpi_buf_append(b, s + i, 1);
            col++;
            i++;
        }
    }
    if (rc)
        return rc;
    if (jis)
        return ANPI_EPARSE;
    return 0;
}
