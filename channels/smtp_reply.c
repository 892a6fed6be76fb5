/* smtp_reply.c - incremental SMTP reply parser. */
#include "channels/smtp_reply.h"

#include <stdio.h>
#include <string.h>

/* Every line's text is kept for EHLO capability parsing; the cap follows
 * from the line limits, so it never grows past ~200 KB. */
#define TEXT_MAX (ANPI_SMTP_REPLY_LINE_MAX * ANPI_SMTP_REPLY_LINES_MAX + 16)

void
anpi_smtp_reply_init(struct anpi_smtp_reply_parser *p)
{
    memset(p, 0, sizeof(*p));
    anpi_buf_init(&p->text, TEXT_MAX);
}

void
anpi_smtp_reply_free(struct anpi_smtp_reply_parser *p)
{
    anpi_buf_free(&p->text);
}

const char *
anpi_smtp_reply_error(const struct anpi_smtp_reply_parser *p)
{
    return p->err ? p->errmsg : "";
}

bool
anpi_smtp_reply_partial(const struct anpi_smtp_reply_parser *p)
{
    return !p->err && !p->done && (p->linelen > 0 || p->nlines > 0);
}

static int
fail(struct anpi_smtp_reply_parser *p, int err, const char *msg)
{
    p->err = err;
    snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg);
    return err;
}

static size_t
parse_num(const char *s, size_t len, size_t *i, int *v)
{
    size_t start = *i;
    int n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - start < 3) {
        n = n * 10 + (s[*i] - '0');
        (*i)++;
    }
    *v = n;
    return *i - start;
}

size_t
anpi_smtp_parse_enhanced(const char *s, size_t len, char *out)
{
    out[0] = '\0';
    if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2;
    int y, z;
    if (!parse_num(s, len, &i, &y) || i >= len || s[i] != '.')
        return 0;
    i++;
    if (!parse_num(s, len, &i, &z))
        return 0;
    if (i < len && s[i] != ' ' && s[i] != '\t')
        return 0;
    if (i >= 16)
        return 0;
    memcpy(out, s, i);
    out[i] = '\0';
    return i;
}

/* One complete line (without its line end) in p->line.  Returns 1 when it
 * was the last line of the reply, 0 for a continuation, or an error. */
static int
take_line(struct anpi_smtp_reply_parser *p)
{
    const char *l = p->line;
    size_t n = p->linelen;
    if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
        l[2] < '0' || l[2] > '9')
        return fail(p, ANPI_EPARSE, "reply line does not start with a 3-digit code");
    if (n > 3 && l[3] != ' ' && l[3] != '-')
        return fail(p, ANPI_EPARSE, "reply code not followed by space or '-'");
    for (size_t i = 0; i < n; i++) {
        if (l[i] == '\0' || l[i] == '\r')
            return fail(p, ANPI_EPARSE, "NUL or bare CR in reply line");
    }
    int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    if (p->nlines > 0 && code != p->code)
        return fail(p, ANPI_EPARSE, "mismatched codes in multi-line reply");
    if (p->nlines >= ANPI_SMTP_REPLY_LINES_MAX)
        return fail(p, ANPI_ETOOBIG, "reply over 100 lines");
    const char *text = n > 4 ? l + 4 : "";
    size_t tlen = n > 4 ? n - 4 : 0;
    if (p->nlines == 0) {
        p->code = code;
        anpi_smtp_parse_enhanced(text, tlen, p->enhanced);
    }
    p->nlines++;
    if (anpi_buf_append(&p->text, text, tlen) != 0 || anpi_buf_putc(&p->text, '\n') != 0)
        return fail(p, ANPI_ETOOBIG, "reply text too long");
    return (n == 3 || l[3] == ' ') ? 1 : 0;
}

int
anpi_smtp_reply_feed(struct anpi_smtp_reply_parser *p, const char *data, size_t len,
                     size_t *used, struct anpi_smtp_reply *out)
{
    *used = 0;
    if (p->err)
        return p->err;
    if (p->done) {
        /* The previous call handed out a reply: start the next one. */
        p->done = false;
        p->code = 0;
        p->nlines = 0;
        p->enhanced[0] = '\0';
        anpi_buf_reset(&p->text);
    }
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c != '\n') {
            if (p->linelen >= ANPI_SMTP_REPLY_LINE_MAX - 1)
                return fail(p, ANPI_ETOOBIG, "reply line over 2048 bytes");
            p->line[p->linelen++] = c;
            continue;
        }
        /* CRLF is the rule; a bare LF is accepted (many servers' tests). */
        if (p->linelen > 0 && p->line[p->linelen - 1] == '\r')
            p->linelen--;
        p->line[p->linelen] = '\0';
        int r = take_line(p);
        p->linelen = 0;
        if (r < 0)
            return r;
        if (r == 1) {
            *used = i + 1;
            p->done = true;
            out->code = p->code;
            memcpy(out->enhanced, p->enhanced, sizeof(out->enhanced));
            out->nlines = p->nlines;
            out->lines = p->text.data ? p->text.data : "";
            out->lines_len = p->text.len;
            return 1;
        }
    }
    *used = len;
    return 0;
}
