/* smtp_policy.h - the one place that turns SMTP replies and local failures
 * into delivery outcomes (Postfix smtp_trouble idea).  Call sites never
 * decide TEMPFAIL/PERMFAIL themselves. */
#ifndef ANPI_SMTP_POLICY_H
#define ANPI_SMTP_POLICY_H

#include <stdbool.h>
#include "channels/smtp.h"

/* Where in the session a reply or failure happened. */
enum anpi_smtp_stage {
    ANPI_SMTP_STAGE_CONNECT,    /* resolve / TCP connect */
    ANPI_SMTP_STAGE_BANNER,
    ANPI_SMTP_STAGE_EHLO,       /* EHLO or HELO */
    ANPI_SMTP_STAGE_STARTTLS,   /* STARTTLS command and the TLS handshake */
    ANPI_SMTP_STAGE_AUTH,
    ANPI_SMTP_STAGE_RSET,
    ANPI_SMTP_STAGE_MAIL,
    ANPI_SMTP_STAGE_RCPT,
    ANPI_SMTP_STAGE_DATA,       /* the DATA command */
    ANPI_SMTP_STAGE_BODY,       /* sending the body, before the final "." */
    ANPI_SMTP_STAGE_EOM,        /* waiting for the reply to the final "." */
};

const char *anpi_smtp_stage_name(enum anpi_smtp_stage st);

/* A reply the state machine did not expect (anything but the success code
 * of that stage).  Fills *o (result, code, enhanced, text, user_unknown). */
void anpi_smtp_policy_reply(enum anpi_smtp_stage st, int code, const char *enhanced,
                            const char *text, struct anpi_smtp_outcome *o);

/* A local failure (connect error, timeout, TLS, protocol error, peer closed)
 * at stage st: TEMPFAIL with code 0 and text. */
void anpi_smtp_policy_local(enum anpi_smtp_stage st, const char *text,
                            struct anpi_smtp_outcome *o);

/* Should a message that failed with *o at stage st be tried on the next
 * relay?  Yes for connection-level trouble and 421 before the message could
 * have been accepted; never after the final "." (it may have been delivered). */
bool anpi_smtp_policy_failover(enum anpi_smtp_stage st, const struct anpi_smtp_outcome *o);

/* Synchronous "no such user": 5xx with 5.1.1, or 550 with a known phrase. */
bool anpi_smtp_policy_user_unknown(int code, const char *enhanced, const char *text);

#endif
