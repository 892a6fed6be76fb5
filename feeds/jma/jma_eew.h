/* jma_eew.h - Body/Intensity/Forecast of EEW telegrams (VXSE42/43/44/45)
 * -> the EEW fields of an event (internal to feeds/jma). */
#ifndef ANPI_FEEDS_JMA_EEW_H
#define ANPI_FEEDS_JMA_EEW_H

#include <libxml/tree.h>

#include "feeds/event.h"

/* Fill max_intensity, pref_intensity[], eew_warning and eew_final from head
 * and body (namespace ns).  Needs ev->kind and ev->info_type set. */
void anpi_jma_read_eew(struct anpi_event *ev, const xmlNode *head, const xmlNode *body,
                       const char *ns);

#endif
