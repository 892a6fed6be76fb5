/* smtp_policy.c - SMTP reply and failure -> delivery outcome. */
#include "channels/smtp_policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const stage_names[] = {
    "CONNECT", "BANNER", "EHLO", "STARTTLS", "AUTH", "RSET", "MAIL", "RCPT", "DATA", "BODY", "EOM",
};

const char *
anpi_smtp_stage_name(enum anpi_smtp_stage st)
{
    if ((size_t)st < ANPI_ARRAY_LEN(stage_names))
        return stage_names[st];
    return "?";
}

static const char *
find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        if (strncasecmp(p, needle, n) == 0)
            return p;
    }
    return NULL;
}

bool
anpi_smtp_policy_user_unknown(int code, const char *enhanced, const char *text)
{
    if (code < 500 || code > 599)
        return false;
    if (enhanced && strcmp(enhanced, "5.1.1") == 0)
        return true;
    if (code != 550 || !text)
        return false;
    static const char *const phrases[] = {
        "user unknown", "unknown user", "no such user", "mailbox unavailable",
        "no such mailbox", "mailbox not found", "recipient unknown",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(phrases); i++) {
        if (find_ci(text, phrases[i]))
            return true;
    }
    return false;
}

static void
set_text(struct anpi_smtp_outcome *o, const char *text)
{
    /* Keep one line: multi-line reply text arrives joined with '\n'. */
    size_t j = 0;
    for (size_t i = 0; text && text[i] && j + 1 < sizeof(o->text); i++)
        o->text[j++] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
    while (j > 0 && o->text[j - 1] == ' ')
        j--;
    o->text[j] = '\0';
}

void
anpi_smtp_policy_reply(enum anpi_smtp_stage st, int code, const char *enhanced,
                       const char *text, struct anpi_smtp_outcome *o)
{
    o->code = code;
    snprintf(o->enhanced, sizeof(o->enhanced), "%s", enhanced ? enhanced : "");
    set_text(o, text);
    o->user_unknown = false;

    if (code < 400 || code > 599) {
        /* A 2xx/3xx where another was needed (e.g. 354 to MAIL): the
         * server speaks a protocol we do not understand.  Not the
         * recipient's fault. */
        o->result = ANPI_SMTP_TEMPFAIL;
        return;
    }
    if (code < 500) {
        o->result = ANPI_SMTP_TEMPFAIL;
        return;
    }
    switch (st) {
    case ANPI_SMTP_STAGE_CONNECT:
    case ANPI_SMTP_STAGE_BANNER:
    case ANPI_SMTP_STAGE_EHLO:
    case ANPI_SMTP_STAGE_STARTTLS:
    case ANPI_SMTP_STAGE_AUTH:
    case ANPI_SMTP_STAGE_RSET:
        /* 5xx before the envelope is about the relay or our configuration
         * (wrong password, no TLS), not about this recipient: bouncing
         * every address of a broadcast for it would be wrong. */
        o->result = ANPI_SMTP_TEMPFAIL;
        return;
    case ANPI_SMTP_STAGE_RCPT:
        /* RFC 5321 4.5.3.1.10: 552 to RCPT means "too many recipients",
         * to be treated as 452. */
        if (code == 552) {
            o->result = ANPI_SMTP_TEMPFAIL;
            return;
        }
        break;
    default:
        break;
    }
    o->result = ANPI_SMTP_PERMFAIL;
    if (st == ANPI_SMTP_STAGE_RCPT || st == ANPI_SMTP_STAGE_DATA || st == ANPI_SMTP_STAGE_EOM)
        o->user_unknown = anpi_smtp_policy_user_unknown(code, o->enhanced, o->text);
}

void
anpi_smtp_policy_local(enum anpi_smtp_stage st, const char *text, struct anpi_smtp_outcome *o)
{
    (void)st;
    o->result = ANPI_SMTP_TEMPFAIL;
    o->code = 0;
    o->enhanced[0] = '\0';
    o->user_unknown = false;
    set_text(o, text);
}

bool
anpi_smtp_policy_failover(enum anpi_smtp_stage st, const struct anpi_smtp_outcome *o)
{
    if (o->result != ANPI_SMTP_TEMPFAIL)
        return false;
    /* After the final "." the relay may have taken the message: sending it
     * again elsewhere would deliver it twice. */
    if (st == ANPI_SMTP_STAGE_EOM)
        return false;
    if (o->code == 421)
        return true;
    /* Local trouble (refused, timeout, TLS, protocol, closed) and any
     * failure before the envelope started: this relay cannot take mail. */
    if (o->code == 0)
        return true;
    return st < ANPI_SMTP_STAGE_MAIL;
}
