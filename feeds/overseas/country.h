/* country.h - one table of countries for the overseas feeds and the
 * traveller registry: ISO 3166-1 alpha-2 / alpha-3, English short name,
 * Japanese name (as used in mails, e.g. "ペルー"), and the MOFA 海外安全情報
 * country code where known.
 *
 * Besides the 249 ISO 3166-1 entries the table holds Kosovo as "XK"/"XKX"
 * (the user-assigned code the EU and most feeds use; MOFA lists Kosovo as
 * 9381), so every country MOFA reports on has an alpha-2.
 *
 * All lookups are case-insensitive (ASCII) and ignore surrounding blanks;
 * name lookups also collapse runs of blanks ("Virgin Islands  U.S."). */
#ifndef ANPI_FEEDS_OVERSEAS_COUNTRY_H
#define ANPI_FEEDS_OVERSEAS_COUNTRY_H

#include <stddef.h>

/* Where a country's MOFA code comes from. */
enum anpi_mofa_src {
    ANPI_MOFA_NONE = 0,   /* MOFA code unknown */
    ANPI_MOFA_SEEN,       /* seen in real MOFA open data (2026 newarrivalL snapshots) */
    ANPI_MOFA_DIAL,       /* derived: international dialling code, zero-padded to 4 digits */
};

struct anpi_country {
    const char *alpha2;   /* "PE" */
    const char *alpha3;   /* "PER" */
    const char *name_en;  /* "Peru" (ISO short name, common form where ISO has one) */
    const char *name_ja;  /* "ペルー" */
    const char *mofa;     /* "0051", NULL when unknown */
    enum anpi_mofa_src mofa_src;
};

/* Number of entries and the i-th one (0 <= i < count), sorted by alpha-2. */
size_t anpi_country_count(void);
const struct anpi_country *anpi_country_at(size_t i);

/* NULL when unknown. */
const struct anpi_country *anpi_country_by_alpha2(const char *alpha2);
const struct anpi_country *anpi_country_by_alpha3(const char *alpha3);
/* English name: the table's name or a known alias ("Russia", "Iran",
 * "Bosnia & Herzegovina", "P.N.G.", "Vietnam", ...). */
const struct anpi_country *anpi_country_by_name_en(const char *name);
/* MOFA 4-digit country code ("0051", "1000", "9001"); several codes may
 * name one country (1808 Hawaii -> US). */
const struct anpi_country *anpi_country_by_mofa(const char *code);

/* Japanese name for an alpha-2 code; NULL when unknown. */
const char *anpi_country_name_ja(const char *alpha2);

/* Code conversions into out (upper-case alpha-2 and NUL).  Return 0, or
 * ANPI_ENOTFOUND leaving out "". */
int anpi_country_from_alpha3(const char *alpha3, char out[3]);
int anpi_country_from_name_en(const char *name, char out[3]);
int anpi_country_from_mofa(const char *code, char out[3]);

#endif
