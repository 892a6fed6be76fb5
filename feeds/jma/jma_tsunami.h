/* jma_tsunami.h - Body/Tsunami of VTSE41/51/52 -> the tsunami fields of an
 * event (internal to feeds/jma; called by anpi_jma_parse). */
#ifndef ANPI_FEEDS_JMA_TSUNAMI_H
#define ANPI_FEEDS_JMA_TSUNAMI_H

#include <libxml/tree.h>

#include "feeds/event.h"

/* Hard cap on forecast items kept per telegram (JMA has 66 areas). */
#define ANPI_JMA_MAX_TSUNAMI_ITEMS 256

/* Grade of a 警報等情報要素／津波警報・注意報・予報 Kind: by Code, else by
 * Name when the code is unknown; NONE for 解除 / 津波なし / unknown. */
enum anpi_tsunami_grade anpi_jma_tsunami_grade(const char *code, const char *name);

/* Fill ev->tsunami, max_tsunami, pref_tsunami, target_prefs (VTSE52
 * estimation areas) and tsunami_expires from `body` (namespace ns).  Needs
 * ev->kind and ev->valid_until set.  Never fails: unreadable items are kept
 * with what could be read. */
void anpi_jma_read_tsunami(struct anpi_event *ev, const xmlNode *body, const char *ns);

#endif
