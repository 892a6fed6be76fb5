/* rules_audit.c - a rule change is an audited event.
 *
 * Rules are files an admin edits and anpid loads at start.  At every start
 * each loaded rule file and the templates beside it (<dir>/templates/) are
 * hashed (SHA-256) and handed to anpi_rules_seen (engine/schema/
 * 0027_rule_audit.sql), which compares them with what the last start
 * recorded and writes rules.added / rules.changed / rules.removed entries to
 * the hash-chained audit log.  A node started with other rule files than
 * its peers therefore shows up in the log too. */
#include "engine/rules_audit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "engine/log.h"
#include "rules/rules.h"

/* Bigger than any rule or template file the loader accepts. */
#define AUDIT_FILE_MAX (2 * 1024 * 1024)

/* SHA-256 of a file's content in hex; false if it cannot be read. */
static bool
file_digest(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    unsigned char buf[16384];
    size_t n, total = 0;
    while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        total += n;
        ok = total <= AUDIT_FILE_MAX && EVP_DigestUpdate(md, buf, n) == 1;
    }
    ok = ok && !ferror(f);
    unsigned char out[32];
    unsigned int len = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(md);
    fclose(f);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", out[i]);
    return ok;
}

static void
add_file(json_t *files, const char *path)
{
    char hex[65];
    if (json_object_get(files, path))
        return;
    if (!file_digest(path, hex)) {
        anpi_warn(ANPI_LG_MAIN, "rule audit: cannot read %s", path);
        return;
    }
    json_object_set_new(files, path, json_string(hex));
}

static bool
is_template(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".txt") == 0) || (n > 5 && strcmp(name + n - 5, ".html") == 0);
}

static void
add_templates(json_t *files, const char *rule_file)
{
    const char *slash = strrchr(rule_file, '/');
    char dir[4096];
    int w = slash ? snprintf(dir, sizeof(dir), "%.*s/templates", (int)(slash - rule_file), rule_file)
                  : snprintf(dir, sizeof(dir), "templates");
    if (w < 0 || (size_t)w >= sizeof(dir))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !is_template(de->d_name))
            continue;
        char path[4096 + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        add_file(files, path);
    }
    closedir(d);
}

static void
seen_cb(void *arg, const PGresult *res, const char *err)
{
    (void)arg;
    if (err)
        anpi_error(ANPI_LG_MAIN, "rule audit: %s", err);
    else if (PQntuples(res) == 1)
        anpi_info(ANPI_LG_MAIN, "rule audit: %s rule or template file(s) added, changed or removed since the "
                  "last start", PQgetvalue(res, 0, 0));
}

void
anpi_rules_audit(struct anpi_engine *e)
{
    json_t *files = json_object();
    for (size_t i = 0; i < e->rules->nfiles; i++) {
        add_file(files, e->rules->files[i]);
        add_templates(files, e->rules->files[i]);
    }
    char *text = json_dumps(files, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(files);
    if (!text) {
        anpi_error(ANPI_LG_MAIN, "rule audit: a rule file name is not UTF-8; not recorded");
        return;
    }
    const char *p[2] = { text, e->node_id };
    anpi_db_query(e->db, "SELECT anpi_rules_seen($1::jsonb, $2)", 2, p, seen_cb, NULL);
    free(text);
}
