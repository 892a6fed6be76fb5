/* start.c - the two listeners: public (reply and approval pages only) and
 * admin (JSON API), on separate addresses so the admin side can be kept to
 * the office network. */
#include "admin-api/endpoints/api.h"

#include <stdio.h>

#include "admin-api/allowlist.h"
#include "engine/log.h"

int
anpi_api_start(struct anpi_engine *e, char *err, size_t errlen)
{
    struct anpi_http_opts pub = { .listen = e->cfg->listen_public, .max_body = 64 * 1024 };
    e->pub = anpi_http_server_create(e->loop, &pub, err, errlen);
    if (!e->pub)
        return ANPI_ERROR;
    struct anpi_http_opts adm = { .listen = e->cfg->listen_admin, .max_body = e->cfg->api_max_body,
                                  .cookies = true };
    static struct anpi_allowlist admin_allow;   /* api.allow; outlives the server */
    if (anpi_allowlist_setup(&admin_allow, &adm, "admin", e->cfg->api_allow, e->cfg->napi_allow, err, errlen) !=
        ANPI_OK)
        return ANPI_ERROR;
    e->admin = anpi_http_server_create(e->loop, &adm, err, errlen);
    if (!e->admin)
        return ANPI_ERROR;
    if (anpi_api_public_routes(e, e->pub) != ANPI_OK || anpi_api_admin_routes(e, e->admin) != ANPI_OK ||
        anpi_api_audit_routes(e, e->admin) != ANPI_OK || anpi_api_broadcasts_routes(e, e->admin) != ANPI_OK ||
        anpi_api_directory_routes(e, e->admin) != ANPI_OK || anpi_api_dirsync_routes(e, e->admin) != ANPI_OK ||
        anpi_api_gate_routes(e, e->admin) != ANPI_OK || anpi_api_accounts_routes(e, e->admin) != ANPI_OK ||
        anpi_api_console_routes(e, e->admin) != ANPI_OK || anpi_api_escalation_routes(e, e->admin) != ANPI_OK) {
        snprintf(err, errlen, "route table error");
        return ANPI_ERROR;
    }
    anpi_info(ANPI_LG_API, "listening: public %s (port %d), admin %s (port %d)", e->cfg->listen_public,
              anpi_http_server_port(e->pub), e->cfg->listen_admin, anpi_http_server_port(e->admin));
    return ANPI_OK;
}
