/* rules_audit.h - audit entries for rule files added, changed or removed
 * between two starts (engine/rules_audit.c). */
#ifndef ANPI_ENGINE_RULES_AUDIT_H
#define ANPI_ENGINE_RULES_AUDIT_H

#include "engine/engine.h"

/* Hash the loaded rule files and their templates and record the
 * differences with the last start (asynchronous; errors are logged). */
void anpi_rules_audit(struct anpi_engine *e);

#endif
