/* dcx.h - QZSS L1S disaster/crisis messages ($QZQSM receiver output) ->
 * struct anpi_event: the DCX (message type 44, CAMF) broadcast that carries
 * J-ALERT (missile) messages.  Field mapping: see the comment at the top of
 * dcx.c. */
#ifndef ANPI_FEEDS_QZSS_DCX_H
#define ANPI_FEEDS_QZSS_DCX_H

#include <stddef.h>
#include <stdint.h>

#include "feeds/event.h"
#include "feeds/feed.h"

#define ANPI_QZSS_MAX_DOC    (10u * 1024 * 1024)  /* larger documents: ANPI_ETOOBIG */
#define ANPI_QZSS_MAX_LINE   256u     /* longer lines are counted as malformed */
#define ANPI_QZSS_MAX_EVENTS 4096u    /* distinct messages per document, else ANPI_ETOOBIG */

#define ANPI_QZSS_MSG_BYTES  32       /* 250-bit L1S message + 6 padding bits */

/* Who a DCX message is from (classification as in IS-QZSS-DCX, by A2/A3). */
enum anpi_dcx_kind {
    ANPI_DCX_NULL = 0,      /* every field zero but the country */
    ANPI_DCX_L_ALERT,       /* Japan, A3 = 1 FMMC */
    ANPI_DCX_J_ALERT,       /* Japan, A3 = 2 FDMA or 3 Related Ministries */
    ANPI_DCX_LOCAL_GOV,     /* Japan, A3 = 4 */
    ANPI_DCX_OUTSIDE_JAPAN, /* A2 != 111 */
    ANPI_DCX_UNKNOWN,       /* Japan, other provider */
};

/* One decoded L1S message (CRC already checked).  For message type 43 (DC
 * Report) only preamble and mt are filled. */
struct anpi_dcx_msg {
    uint8_t preamble;       /* 0x53 (A), 0x9A (B) or 0xC6 (C): rotates by subframe */
    unsigned mt;            /* 43 DC Report (JMA), 44 DCX */
    enum anpi_dcx_kind kind;
    unsigned a1;            /* message type: 0 Test, 1 Alert, 2 Update, 3 All Clear */
    unsigned a2;            /* country/region, 111 = Japan */
    unsigned a3;            /* provider (per country) */
    unsigned a4;            /* hazard category and type, 1..113 */
    unsigned a5;            /* severity: 0 unknown, 1 moderate, 2 severe, 3 extreme */
    unsigned a6, a7;        /* hazard onset: week flag, minute of week (1..10080, 0 unused) */
    unsigned a8;            /* hazard duration class */
    unsigned a9, a10, a11;  /* guidance library type, version, instruction code */
    uint64_t ellipse;       /* A12..A16 (target ellipse) as one raw 49-bit value, 0 when unused */
    unsigned ex1;           /* L-Alert/local government target municipality (JIS X 0402, no check digit) */
    unsigned ex8;           /* J-Alert target list type: 0 prefectures, 1 municipalities */
    anpi_prefset prefs;     /* J-Alert EX9 prefecture list (ex8 == 0), JIS bits */
    unsigned munis[4];      /* J-Alert EX9 municipality list (ex8 == 1), 0 = empty slot */
    unsigned vn;            /* version number */
};

/* Counts from one document, for feed health. */
struct anpi_qzss_stats {
    size_t sentences;       /* lines starting "$QZQSM," */
    size_t malformed;       /* no "*CS", wrong length, not hex, line too long */
    size_t bad_checksum;    /* NMEA checksum mismatch */
    size_t bad_frame;       /* unknown preamble or CRC-24Q mismatch */
    size_t dcr;             /* message type 43 (JMA DC Report): not decoded here */
    size_t other_mt;        /* neither 43 nor 44 */
    size_t dcx;             /* valid type-44 messages, retransmissions included */
    size_t duplicates;      /* retransmissions of a message already seen in this document */
    size_t events;          /* events produced */
};

/* CRC-24Q (polynomial 0x1864CFB, as GPS/QZSS L1 messages use) over the first
 * nbits bits of msg, MSB first. */
uint32_t anpi_qzss_crc24q(const uint8_t *msg, size_t nbits);

/* XOR of the bytes between '$' and '*' (s points after the '$'). */
unsigned anpi_qzss_nmea_checksum(const char *s, size_t n);

/* Decode one 250-bit message (MSB first in msg[0..31]): checks preamble and
 * CRC, then the DCX fields.  0, or ANPI_EPARSE with a reason in err. */
int anpi_qzss_decode(const uint8_t msg[ANPI_QZSS_MSG_BYTES], struct anpi_dcx_msg *out,
                     char *err, size_t errlen);

/* anpi_feed_parse_fn: a receiver log (lines; "$QZQSM,svid,hex*CS" used,
 * everything else ignored) -> one event per distinct civil-protection DCX
 * message.  Bad sentences are counted and skipped; the document fails
 * (ANPI_EPARSE) only when it has $QZQSM sentences and not one is valid. */
int anpi_qzss_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                    size_t errlen);

/* The same with the counts (stats may be NULL). */
int anpi_qzss_parse_stats(const char *doc, size_t len, struct anpi_event_list *out,
                          struct anpi_qzss_stats *stats, char *err, size_t errlen);

#endif
