/* load.c - rule files: read, validate strictly, resolve templates.
 *
 * A rule file is admin input, but a wrong rule can send 11,000 mails or none,
 * so validation is strict: unknown keys, wrong types and impossible
 * combinations are errors, every error names FILE:LINE:COL and the YAML path
 * ("rules[0].approval.timeout"), and all errors are collected before the
 * whole set is refused.  Nothing is half-loaded: the engine keeps the
 * previous ruleset when this returns an error.
 *
 * Every key (a file is {pack: NAME, rules: [RULE, ...]}):
 *   id                   rule name (letters, digits, - and _), unique across all files
 *   description          free text
 *   when:                the event conditions (a rule has when: or schedule:)
 *     event              earthquake | eew | tsunami | weather | missile | overseas | manual,
 *                        or a list of them; `event` in the struct is the first
 *     status             actual | exercise | test, or a list (default actual)
 *     intensity_at_least "5-" etc.; earthquake and eew (forecast intensity per prefecture)
 *     where              staff_regions or a list of prefectures; prefecture-based types
 *                        (everything but overseas)
 *     tsunami_at_least   forecast | advisory | warning | major: affected = prefectures whose
 *                        grade is at least that (tsunami)
 *     weather_at_least   advisory | warning | emergency: affected = prefectures with an item
 *                        at that level (weather)
 *     weather_kinds      [大雨, 暴風, ...]: only items whose kind_name contains one of them
 *                        (weather; alone it means at advisory level or more)
 *     typhoon            true: only weather events that carry a typhoon (VPTW6x)
 *     eew_warning_only   true: only 警報, not 予報 (eew)
 *     missile_phases     [launch, imminent, impact, overflight, impact_outside,
 *                        interception, all_clear, other] (default launch, imminent, impact,
 *                        overflight, other); affected = target_prefs (missile)
 *     risk_level_at_least 1..4 (overseas; GDACS Green=1, Orange=2, Red=3)
 *     risk_kinds         [T40, C30, EQ, TC, ...] exact codes (overseas; default any)
 *     countries          [TH, US, ...] ISO alpha-2 (overseas; default any)
 *   A condition for a type the rule is not for is an error.
 *   schedule:            a scheduled drill instead of when: (engine marks it a drill)
 *     every              duration >= 1h; whole days when at: is given
 *     at                 "HH:MM" JST
 *     start              "YYYY-MM-DD" (JST) the first day; default 1970-01-01
 *   A drill rule has approval: none, no incident:, and an audience with groups:.
 *   incident:            the rule opens incidents (safety checks)
 *     key                event_key (the only key there is)
 *     aftershocks: window, area (same | adjacent | NNkm), resend_if_stronger - earthquake and
 *                  eew only; notify (group), template (notice to notify)
 *   approval:            none, or {required, group | roles, timeout, on_timeout (hold | send
 *                        | escalate), escalate_to, expiry, template}
 *   audience:
 *     regions            affected_prefectures or a list of prefectures (people living there)
 *     groups             directory groups
 *     travellers         event_countries: people whose registered trip covers today in one
 *                        of the event's countries (overseas)
 *   message:
 *     template           the message (templates/NAME.ja.txt [+ .ja.html])
 *     questions          [{id, text, choices}]
 *     correction         template for on_correction: send (default correction-notice)
 *     cancellation       template for on_cancel: notify (default cancellation-notice)
 *   follow_up:           {resend_unanswered_after, max_resends, until, wording}
 *     until              no resend round starts later than this after the first mail
 *                        (>= resend_unanswered_after; the incident expiry caps it too)
 *     wording            [{subject, body}] - the template of resend round 1, 2, ...; the
 *                        last entry repeats; at most max_resends entries; checked like a
 *                        template file (unknown variables are errors where they stand)
 *   on_correction        send | ignore (default ignore): a 訂正 report of an event this rule
 *                        acted on is mailed with the correction template; with ignore,
 *                        information rules (no incident) do not match corrections at all
 *   on_cancel            notify | ignore: a 取消 report is mailed to those who were told
 *   sender               safety | hr (default safety): HR mail goes out from smtp.from_hr
 *                        with an RFC 8058 one-click List-Unsubscribe; safety mail never
 *                        carries one (staff must not opt out of safety checks)
 *
 * Defaults:
 *   when.status             actual only
 *   incident.aftershocks    window 6h, area same, notify duty-officers,
 *                           resend_if_stronger true
 *   approval (absent)       required: 1, group duty-officers, timeout 15m,
 *                           on_timeout hold, expiry 6h - a rule that forgets
 *                           approval: is gated, never sent unapproved; such a
 *                           rule must then have an incident: section
 *   follow_up               no resends; resend_unanswered_after alone means
 *                           max_resends 1; no until (rounds stop at the incident
 *                           expiry); no wording (resends repeat the message)
 *   on_cancel               notify for rules with an incident when the pack has a
 *                           cancellation-notice template (or message.cancellation names one),
 *                           else ignore; an explicit notify without a template is an error
 *   approval / notice templates: the pack's approval-request and
 *                           aftershock-notice unless approval.template /
 *                           incident.aftershocks.template name others. */
#include "rules/rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/ytree.h"

#define MAX_DIR_DEPTH 8
#define MAX_NAME      128

struct loader {
    struct anpi_errors *errs;
    const char *file;          /* current rule file */
    char *dir;                 /* its directory */
    const char *pack;
    struct anpi_ruleset *rs;
};

/* ---- error helpers ---------------------------------------------------- */

static void err(struct loader *L, const struct anpi_ynode *n, const char *path,
                const char *fmt, ...) ANPI_PRINTF(4, 5);

static void
err(struct loader *L, const struct anpi_ynode *n, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        anpi_errors_add(L->errs, "%s:%d:%d: %s: %s", L->file, n->line, n->col, path, msg);
    else
        anpi_errors_add(L->errs, "%s:%d:%d: %s", L->file, n->line, n->col, msg);
}

/* Path joining for messages ("rules[0].approval.timeout"); truncates rather
 * than fails (paths are bounded by the nesting cap anyway). */
static void
cat(char *buf, size_t len, size_t *used, const char *s)
{
    size_t l = strlen(s);
    if (*used + l >= len)
        l = len - 1 - *used;
    memcpy(buf + *used, s, l);
    *used += l;
    buf[*used] = '\0';
}

static void
sub(char *buf, size_t len, const char *path, const char *key)
{
    size_t used = 0;
    buf[0] = '\0';
    cat(buf, len, &used, path);
    if (*path)
        cat(buf, len, &used, ".");
    cat(buf, len, &used, key);
}

static void
idx(char *buf, size_t len, const char *path, size_t i)
{
    char num[32];
    size_t used = 0;
    snprintf(num, sizeof(num), "[%zu]", i);
    buf[0] = '\0';
    cat(buf, len, &used, path);
    cat(buf, len, &used, num);
}

/* Truncated copy of a scalar for messages, so a 1 MiB string does not end
 * up in an error line. */
static const char *
shown(const struct anpi_ynode *n, char *buf, size_t len)
{
    if (n->kind != ANPI_Y_SCALAR)
        return anpi_ytree_kind_name(n->kind);
    size_t l = strlen(n->value);
    if (l < len) {
        memcpy(buf, n->value, l + 1);
        return buf;
    }
    /* cut at a character boundary */
    size_t cut = len - 4;
    while (cut && ((unsigned char)n->value[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(buf, n->value, cut);
    memcpy(buf + cut, "...", 4);
    return buf;
}

static bool
want(struct loader *L, const struct anpi_ynode *n, const char *path, enum anpi_ynode_kind kind)
{
    if (n->kind == kind)
        return true;
    err(L, n, path, "expected %s, got %s", anpi_ytree_kind_name(kind),
        anpi_ytree_kind_name(n->kind));
    return false;
}

/* Unknown and duplicate keys of a mapping. */
static bool
check_map(struct loader *L, const struct anpi_ynode *n, const char *path,
          const char *const *keys)
{
    if (!want(L, n, path, ANPI_Y_MAP))
        return false;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const struct anpi_ynode *k = n->kids[i];
        bool known = false;
        for (size_t j = 0; keys[j]; j++)
            if (strcmp(keys[j], k->value) == 0)
                known = true;
        if (!known) {
            char list[512] = "", sb[80];
            for (size_t j = 0; keys[j]; j++) {
                strncat(list, j ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, keys[j], sizeof(list) - strlen(list) - 1);
            }
            err(L, k, path, "unknown key \"%s\" (expected one of: %s)", shown(k, sb, sizeof(sb)),
                list);
            continue;
        }
        for (size_t j = 0; j < i; j += 2) {
            if (strcmp(n->kids[j]->value, k->value) == 0) {
                err(L, k, path, "duplicate key \"%s\" (first at line %d)", k->value,
                    n->kids[j]->line);
                break;
            }
        }
    }
    return true;
}

/* ---- scalar readers: each reports its own error and returns false ------ */

static const char *
str(struct loader *L, const struct anpi_ynode *n, const char *path)
{
    if (!want(L, n, path, ANPI_Y_SCALAR))
        return NULL;
    if (!*n->value) {
        err(L, n, path, "must not be empty");
        return NULL;
    }
    return n->value;
}

static bool
name_ok(const char *s, bool allow_dot)
{
    size_t l = strlen(s);
    if (l == 0 || l > MAX_NAME)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || (allow_dot && c == '.')))
            return false;
    }
    return s[0] != '.' && s[0] != '-';
}

/* Identifiers (rule ids, pack names, template names, question ids). */
static char *
ident(struct loader *L, const struct anpi_ynode *n, const char *path, const char *example)
{
    const char *s = str(L, n, path);
    if (!s)
        return NULL;
    if (!name_ok(s, false)) {
        char sb[80];
        err(L, n, path, "expected a name like %s (letters, digits, - and _), got \"%s\"",
            example, shown(n, sb, sizeof(sb)));
        return NULL;
    }
    return anpi_xstrdup(s);
}

/* Directory group names: anything printable, capped. */
static char *
group_name(struct loader *L, const struct anpi_ynode *n, const char *path)
{
    const char *s = str(L, n, path);
    if (!s)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            err(L, n, path, "group names must not contain control characters");
            return NULL;
        }
    }
    if (strlen(s) > MAX_NAME) {
        err(L, n, path, "group name longer than %d bytes", MAX_NAME);
        return NULL;
    }
    return anpi_xstrdup(s);
}

static bool
duration(struct loader *L, const struct anpi_ynode *n, const char *path, int64_t min,
         int64_t *out)
{
    char sb[80];
    if (!want(L, n, path, ANPI_Y_SCALAR))
        return false;
    int64_t v;
    if (anpi_parse_duration(n->value, &v) != ANPI_OK) {
        err(L, n, path, "expected a duration like 15m, got \"%s\"", shown(n, sb, sizeof(sb)));
        return false;
    }
    if (v < min || v > 366 * 86400) {
        err(L, n, path, "duration %s out of range (%llds .. 366d)", shown(n, sb, sizeof(sb)),
            (long long)min);
        return false;
    }
    *out = v;
    return true;
}

static bool
boolean(struct loader *L, const struct anpi_ynode *n, const char *path, bool *out)
{
    char sb[80];
    if (!want(L, n, path, ANPI_Y_SCALAR))
        return false;
    if (strcmp(n->value, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(n->value, "false") == 0) {
        *out = false;
        return true;
    }
    err(L, n, path, "expected true or false, got \"%s\"", shown(n, sb, sizeof(sb)));
    return false;
}

static bool
integer(struct loader *L, const struct anpi_ynode *n, const char *path, int64_t min, int64_t max,
        int64_t *out)
{
    char sb[80];
    if (!want(L, n, path, ANPI_Y_SCALAR))
        return false;
    int rc = anpi_parse_int64(n->value, INT64_MIN, INT64_MAX, out);
    if (rc == ANPI_EPARSE) {
        err(L, n, path, "expected a whole number, got \"%s\"", shown(n, sb, sizeof(sb)));
        return false;
    }
    if (rc != ANPI_OK || *out < min || *out > max) {
        err(L, n, path, "must be between %lld and %lld, got %s", (long long)min, (long long)max,
            shown(n, sb, sizeof(sb)));
        return false;
    }
    return true;
}

/* A list of prefectures ("13", "東京都", "tokyo"). */
static bool
pref_list(struct loader *L, const struct anpi_ynode *n, const char *path, anpi_prefset *out)
{
    char p[256], sb[80];
    *out = 0;
    if (!want(L, n, path, ANPI_Y_SEQ))
        return false;
    if (n->n == 0) {
        err(L, n, path, "empty prefecture list");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n->n; i++) {
        idx(p, sizeof(p), path, i);
        const char *s = str(L, n->kids[i], p);
        int code = s ? anpi_pref_parse(s) : -1;
        if (!s) {
            ok = false;
        } else if (code < 0) {
            err(L, n->kids[i], p, "unknown prefecture \"%s\" (use a JIS code 1..47 or a name)",
                shown(n->kids[i], sb, sizeof(sb)));
            ok = false;
        } else {
            *out |= ANPI_PREFSET_BIT(code);
        }
    }
    return ok;
}

static bool
group_list(struct loader *L, const struct anpi_ynode *n, const char *path, char ***out,
           size_t *nout)
{
    char p[256];
    if (n->kind == ANPI_Y_SCALAR) {
        char *g = group_name(L, n, path);
        if (!g)
            return false;
        *out = anpi_xcalloc(1, sizeof(char *));
        (*out)[0] = g;
        *nout = 1;
        return true;
    }
    if (!want(L, n, path, ANPI_Y_SEQ))
        return false;
    if (n->n == 0) {
        err(L, n, path, "empty group list");
        return false;
    }
    *out = anpi_xcalloc(n->n, sizeof(char *));
    bool ok = true;
    for (size_t i = 0; i < n->n; i++) {
        idx(p, sizeof(p), path, i);
        char *g = group_name(L, n->kids[i], p);
        if (!g)
            ok = false;
        else
            (*out)[(*nout)++] = g;
    }
    return ok;
}

/* ---- templates --------------------------------------------------------- */

static bool
utf8_valid(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2; cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3; cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4; cp = c & 0x07;
        } else {
            *bad = i;
            return false;
        }
        if (i + len > n) {
            *bad = i;
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                *bad = i;
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad = i;
            return false;
        }
        i += len;
    }
    return true;
}

/* Read a whole file of at most max bytes.  Returns 0, -errno or ANPI_ETOOBIG. */
static int
slurp(const char *path, size_t max, char **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    if (st.st_size > (off_t)max) {
        close(fd);
        return ANPI_ETOOBIG;
    }
    char *buf = anpi_xmalloc(max + 2);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, max + 1 - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > max) {   /* grew while we read it */
            free(buf);
            close(fd);
            return ANPI_ETOOBIG;
        }
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return ANPI_OK;
}

/* Read and check one template file; body_only for the .html part (no
 * Subject: line).  Returns the text (CRLF folded to LF) or NULL. */
static char *
read_template_file(struct loader *L, const char *path, bool body_only, char **subject)
{
    char *text;
    size_t len, bad;
    int rc = slurp(path, ANPI_TEMPLATE_MAX_FILE, &text, &len);
    if (rc == ANPI_ETOOBIG) {
        anpi_errors_add(L->errs, "%s:1:1: template file larger than %d bytes", path,
                        ANPI_TEMPLATE_MAX_FILE);
        return NULL;
    }
    if (rc) {
        anpi_errors_add(L->errs, "%s:1:1: cannot read template: %s", path, anpi_strerror(rc));
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        anpi_errors_add(L->errs, "%s:1:1: template file contains a NUL byte", path);
        free(text);
        return NULL;
    }
    if (!utf8_valid((const unsigned char *)text, len, &bad)) {
        int line = 1;
        for (size_t i = 0; i < bad; i++)
            line += text[i] == '\n';
        anpi_errors_add(L->errs, "%s:%d:1: template is not valid UTF-8", path, line);
        free(text);
        return NULL;
    }
    /* CRLF -> LF, so mails are built from one line convention. */
    size_t w = 0;
    for (size_t r = 0; r < len; r++)
        if (!(text[r] == '\r' && text[r + 1] == '\n'))
            text[w++] = text[r];
    text[w] = '\0';

    if (anpi_template_check(text, anpi_template_vars, path, L->errs) != ANPI_OK) {
        free(text);
        return NULL;
    }
    if (body_only)
        return text;

    static const char subj[] = "Subject:";
    if (strncmp(text, subj, sizeof(subj) - 1) != 0) {
        anpi_errors_add(L->errs, "%s:1:1: a template starts with a \"Subject: ...\" line", path);
        free(text);
        return NULL;
    }
    char *s = text + sizeof(subj) - 1;
    char *eol = strchr(s, '\n');
    if (!eol || eol[1] != '\n') {
        anpi_errors_add(L->errs, "%s:2:1: expected a blank line after the Subject: line", path);
        free(text);
        return NULL;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = eol;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e == s) {
        anpi_errors_add(L->errs, "%s:1:1: the Subject: line is empty", path);
        free(text);
        return NULL;
    }
    *subject = anpi_xstrndup(s, (size_t)(e - s));
    char *body = anpi_xstrdup(eol + 2);
    free(text);
    return body;
}

static bool
load_template(struct loader *L, const struct anpi_ynode *at, const char *path, const char *name,
              const char *why, struct anpi_template *t)
{
    char *txt = anpi_xasprintf("%s/templates/%s.ja.txt", L->dir, name);
    char *html = anpi_xasprintf("%s/templates/%s.ja.html", L->dir, name);
    bool ok = false;
    struct stat st;
    if (stat(txt, &st) != 0) {
        err(L, at, path, "template file %s not found%s", txt, why);
        goto out;
    }
    t->text = read_template_file(L, txt, false, &t->subject);
    if (!t->text)
        goto out;
    if (stat(html, &st) == 0) {
        t->html = read_template_file(L, html, true, NULL);
        if (!t->html)
            goto out;
    }
    ok = true;
out:
    free(txt);
    free(html);
    return ok;
}

static void
template_free(struct anpi_template *t)
{
    free(t->subject);
    free(t->text);
    free(t->html);
    memset(t, 0, sizeof(*t));
}

/* ---- rule sections ----------------------------------------------------- */

/* A scalar or a list of scalars: calls each(item, item_path) for every
 * item.  Returns false (after reporting) for a wrong shape or an empty list. */
typedef bool (*item_fn)(struct loader *L, const struct anpi_ynode *item, const char *path,
                        void *arg);

static bool
scalar_or_list(struct loader *L, const struct anpi_ynode *v, const char *path, const char *what,
               item_fn each, void *arg)
{
    char ip[300];
    if (v->kind == ANPI_Y_SCALAR)
        return each(L, v, path, arg);
    if (!want(L, v, path, ANPI_Y_SEQ))
        return false;
    if (v->n == 0) {
        err(L, v, path, "empty %s list", what);
        return false;
    }
    if (v->n > 64) {
        err(L, v, path, "at most 64 items, got %zu", v->n);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < v->n; i++) {
        idx(ip, sizeof(ip), path, i);
        ok = each(L, v->kids[i], ip, arg) && ok;
    }
    return ok;
}

static bool
event_item(struct loader *L, const struct anpi_ynode *n, const char *path, void *arg)
{
    struct anpi_rule *r = arg;
    char sb[80];
    const char *s = str(L, n, path);
    enum anpi_event_type t;
    if (!s)
        return false;
    if (anpi_event_type_parse(s, &t) != ANPI_OK) {
        err(L, n, path, "unknown event type \"%s\" (expected earthquake, eew, tsunami, weather, "
            "missile, overseas or manual)", shown(n, sb, sizeof(sb)));
        return false;
    }
    if (r->event_types & (1u << t)) {
        err(L, n, path, "event type %s listed twice", s);
        return false;
    }
    if (!r->event_types)
        r->event = t;
    r->event_types |= 1u << t;
    return true;
}

static bool
phase_item(struct loader *L, const struct anpi_ynode *n, const char *path, void *arg)
{
    struct anpi_rule *r = arg;
    char sb[80];
    const char *s = str(L, n, path);
    enum anpi_missile_phase ph;
    if (!s)
        return false;
    if (anpi_missile_phase_parse(s, &ph) != ANPI_OK || ph == ANPI_MS_NONE) {
        err(L, n, path, "unknown missile phase \"%s\" (expected launch, imminent, impact, "
            "overflight, impact_outside, interception, all_clear or other)",
            shown(n, sb, sizeof(sb)));
        return false;
    }
    r->missile_phases |= 1u << ph;
    return true;
}

/* Free-text list items (weather kinds, risk kinds), capped and deduplicated. */
struct text_list { char ***items; size_t *n; size_t max_len; bool upper_code; };

static bool
text_item(struct loader *L, const struct anpi_ynode *n, const char *path, void *arg)
{
    struct text_list *tl = arg;
    char sb[80];
    const char *s = str(L, n, path);
    if (!s)
        return false;
    size_t l = strlen(s);
    if (l > tl->max_len) {
        err(L, n, path, "longer than %zu bytes", tl->max_len);
        return false;
    }
    if (tl->upper_code) {
        for (const char *c = s; *c; c++) {
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))) {
                err(L, n, path, "expected a code like T40 or EQ (A-Z, 0-9), got \"%s\"",
                    shown(n, sb, sizeof(sb)));
                return false;
            }
        }
    } else {
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
            if (*c < 0x20 || *c == 0x7f) {
                err(L, n, path, "must not contain control characters");
                return false;
            }
        }
    }
    for (size_t i = 0; i < *tl->n; i++) {
        if (strcmp((*tl->items)[i], s) == 0) {
            err(L, n, path, "\"%s\" listed twice", shown(n, sb, sizeof(sb)));
            return false;
        }
    }
    *tl->items = anpi_xrealloc(*tl->items, (*tl->n + 1) * sizeof(char *));
    (*tl->items)[(*tl->n)++] = anpi_xstrdup(s);
    return true;
}

static bool
country_item(struct loader *L, const struct anpi_ynode *n, const char *path, void *arg)
{
    struct anpi_rule *r = arg;
    char sb[80];
    const char *s = str(L, n, path);
    if (!s)
        return false;
    if (strlen(s) != 2 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) ||
        !((s[1] >= 'A' && s[1] <= 'Z') || (s[1] >= 'a' && s[1] <= 'z'))) {
        err(L, n, path, "expected an ISO 3166-1 alpha-2 country code like TH, got \"%s\"",
            shown(n, sb, sizeof(sb)));
        return false;
    }
    char cc[3] = { (char)(s[0] & ~0x20), (char)(s[1] & ~0x20), '\0' };
    for (size_t i = 0; i < r->ncountries; i++) {
        if (strcmp(r->countries[i], cc) == 0) {
            err(L, n, path, "country %s listed twice", cc);
            return false;
        }
    }
    r->countries = anpi_xrealloc(r->countries, (r->ncountries + 1) * sizeof(*r->countries));
    memcpy(r->countries[r->ncountries++], cc, 3);
    return true;
}

static const char *
types_text(unsigned types, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 1; t <= ANPI_EV_MANUAL; t++) {
        if (!(types & (1u << t)))
            continue;
        if (used)
            cat(buf, len, &used, ", ");
        cat(buf, len, &used, anpi_event_type_name((enum anpi_event_type)t));
    }
    return buf;
}

/* A condition that only means something for some event types: at least one
 * of the rule's types must be among them. */
static void
applies(struct loader *L, const struct anpi_rule *r, const struct anpi_ynode *n,
        const char *path, const char *key, unsigned types, const char *types_desc)
{
    char p[300], tb[128];
    if (!n || !r->event_types || (r->event_types & types))
        return;
    sub(p, sizeof(p), path, key);
    err(L, n, p, "applies to %s events, but this rule is for %s", types_desc,
        types_text(r->event_types, tb, sizeof(tb)));
}

#define PREF_TYPES ((1u << ANPI_EV_EARTHQUAKE) | (1u << ANPI_EV_EEW) | (1u << ANPI_EV_TSUNAMI) | \
                    (1u << ANPI_EV_WEATHER) | (1u << ANPI_EV_MISSILE) | (1u << ANPI_EV_MANUAL))

static void
parse_when(struct loader *L, const struct anpi_ynode *n, const char *path, struct anpi_rule *r)
{
    static const char *const keys[] = {
        "event", "status", "intensity_at_least", "where", "tsunami_at_least", "weather_at_least",
        "weather_kinds", "typhoon", "eew_warning_only", "missile_phases", "risk_level_at_least",
        "risk_kinds", "countries", NULL,
    };
    char p[256], sb[80];
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *v;
    if (!(v = anpi_ytree_get(n, "event"))) {
        err(L, n, path, "missing event (earthquake, eew, tsunami, weather, missile, overseas, manual)");
    } else {
        sub(p, sizeof(p), path, "event");
        scalar_or_list(L, v, p, "event type", event_item, r);
    }
    if ((v = anpi_ytree_get(n, "status"))) {
        sub(p, sizeof(p), path, "status");
        const struct anpi_ynode *const *items = (const struct anpi_ynode *const *)&v;
        size_t count = 1;
        if (v->kind == ANPI_Y_SEQ) {
            items = (const struct anpi_ynode *const *)v->kids;
            count = v->n;
            if (!count)
                err(L, v, p, "empty status list");
        }
        r->statuses = 0;
        for (size_t i = 0; i < count; i++) {
            char ip[280];
            if (v->kind == ANPI_Y_SEQ)
                idx(ip, sizeof(ip), p, i);
            else
                snprintf(ip, sizeof(ip), "%s", p);
            const char *s = str(L, items[i], ip);
            enum anpi_event_status st;
            if (!s)
                continue;
            if (anpi_event_status_parse(s, &st) != ANPI_OK)
                err(L, items[i], ip, "expected actual, exercise or test, got \"%s\"",
                    shown(items[i], sb, sizeof(sb)));
            else
                r->statuses |= 1u << st;
        }
        if (!r->statuses)
            r->statuses = 1u << ANPI_ST_ACTUAL;
    }
    if ((v = anpi_ytree_get(n, "intensity_at_least"))) {
        sub(p, sizeof(p), path, "intensity_at_least");
        if (want(L, v, p, ANPI_Y_SCALAR) &&
            (anpi_intensity_parse(v->value, &r->intensity_at_least) != ANPI_OK ||
             r->intensity_at_least == ANPI_INT_NONE))
            err(L, v, p, "expected an intensity like \"5-\", got \"%s\"", shown(v, sb, sizeof(sb)));
        applies(L, r, v, path, "intensity_at_least",
                (1u << ANPI_EV_EARTHQUAKE) | (1u << ANPI_EV_EEW), "earthquake and eew");
    }
    if ((v = anpi_ytree_get(n, "where"))) {
        sub(p, sizeof(p), path, "where");
        if (v->kind == ANPI_Y_SCALAR) {
            if (strcmp(v->value, "staff_regions") == 0)
                r->where_staff_regions = true;
            else
                err(L, v, p, "expected staff_regions or a list of prefectures, got \"%s\"",
                    shown(v, sb, sizeof(sb)));
        } else {
            pref_list(L, v, p, &r->where_prefs);
        }
        applies(L, r, v, path, "where", PREF_TYPES, "prefecture-based (not overseas)");
    }
    if ((v = anpi_ytree_get(n, "tsunami_at_least"))) {
        sub(p, sizeof(p), path, "tsunami_at_least");
        if (want(L, v, p, ANPI_Y_SCALAR) &&
            (anpi_tsunami_grade_parse(v->value, &r->tsunami_at_least) != ANPI_OK ||
             r->tsunami_at_least == ANPI_TS_NONE))
            err(L, v, p, "expected forecast, advisory, warning or major, got \"%s\"",
                shown(v, sb, sizeof(sb)));
        applies(L, r, v, path, "tsunami_at_least", 1u << ANPI_EV_TSUNAMI, "tsunami");
    }
    if ((v = anpi_ytree_get(n, "weather_at_least"))) {
        sub(p, sizeof(p), path, "weather_at_least");
        if (want(L, v, p, ANPI_Y_SCALAR) &&
            (anpi_weather_level_parse(v->value, &r->weather_at_least) != ANPI_OK ||
             r->weather_at_least == ANPI_WX_NONE))
            err(L, v, p, "expected advisory, warning or emergency, got \"%s\"",
                shown(v, sb, sizeof(sb)));
        applies(L, r, v, path, "weather_at_least", 1u << ANPI_EV_WEATHER, "weather");
    }
    if ((v = anpi_ytree_get(n, "weather_kinds"))) {
        sub(p, sizeof(p), path, "weather_kinds");
        struct text_list tl = { &r->weather_kinds, &r->nweather_kinds, 64, false };
        scalar_or_list(L, v, p, "weather kind", text_item, &tl);
        applies(L, r, v, path, "weather_kinds", 1u << ANPI_EV_WEATHER, "weather");
    }
    if ((v = anpi_ytree_get(n, "typhoon"))) {
        sub(p, sizeof(p), path, "typhoon");
        if (boolean(L, v, p, &r->typhoon_only) && !r->typhoon_only)
            err(L, v, p, "typhoon: false is the default; leave the key out");
        applies(L, r, v, path, "typhoon", 1u << ANPI_EV_WEATHER, "weather");
    }
    if ((v = anpi_ytree_get(n, "eew_warning_only"))) {
        sub(p, sizeof(p), path, "eew_warning_only");
        boolean(L, v, p, &r->eew_warning_only);
        applies(L, r, v, path, "eew_warning_only", 1u << ANPI_EV_EEW, "eew");
    }
    if ((v = anpi_ytree_get(n, "missile_phases"))) {
        sub(p, sizeof(p), path, "missile_phases");
        scalar_or_list(L, v, p, "missile phase", phase_item, r);
        applies(L, r, v, path, "missile_phases", 1u << ANPI_EV_MISSILE, "missile");
    }
    if ((v = anpi_ytree_get(n, "risk_level_at_least"))) {
        sub(p, sizeof(p), path, "risk_level_at_least");
        int64_t lv;
        if (integer(L, v, p, 1, 4, &lv))
            r->risk_level_at_least = (int)lv;
        applies(L, r, v, path, "risk_level_at_least", 1u << ANPI_EV_OVERSEAS, "overseas");
    }
    if ((v = anpi_ytree_get(n, "risk_kinds"))) {
        sub(p, sizeof(p), path, "risk_kinds");
        struct text_list tl = { &r->risk_kinds, &r->nrisk_kinds, 16, true };
        scalar_or_list(L, v, p, "risk kind", text_item, &tl);
        applies(L, r, v, path, "risk_kinds", 1u << ANPI_EV_OVERSEAS, "overseas");
    }
    if ((v = anpi_ytree_get(n, "countries"))) {
        sub(p, sizeof(p), path, "countries");
        scalar_or_list(L, v, p, "country", country_item, r);
        applies(L, r, v, path, "countries", 1u << ANPI_EV_OVERSEAS, "overseas");
    }
}

static void
parse_incident(struct loader *L, const struct anpi_ynode *n, const char *path,
               struct anpi_rule *r, const struct anpi_ynode **notice_tmpl)
{
    static const char *const keys[] = { "key", "aftershocks", NULL };
    static const char *const akeys[] = { "window", "area", "notify", "resend_if_stronger",
                                         "template", NULL };
    char p[256], q[256], sb[80];
    r->opens_incident = true;
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *v, *a;
    if ((v = anpi_ytree_get(n, "key"))) {
        sub(p, sizeof(p), path, "key");
        const char *s = str(L, v, p);
        if (s && strcmp(s, "event_key") != 0)
            err(L, v, p, "expected event_key, got \"%s\"", shown(v, sb, sizeof(sb)));
    }
    if (!(a = anpi_ytree_get(n, "aftershocks")))
        return;
    sub(p, sizeof(p), path, "aftershocks");
    if (!check_map(L, a, p, akeys))
        return;
    const unsigned quakes = (1u << ANPI_EV_EARTHQUAKE) | (1u << ANPI_EV_EEW);
    if (r->event_types && !(r->event_types & quakes)) {
        static const char *const only[] = { "window", "area", "resend_if_stronger" };
        for (size_t i = 0; i < 3; i++) {
            if ((v = anpi_ytree_get(a, only[i]))) {
                sub(q, sizeof(q), p, only[i]);
                err(L, v, q, "applies to earthquake and eew events only; other events join an "
                    "incident by event key alone");
            }
        }
    }
    if ((v = anpi_ytree_get(a, "window"))) {
        sub(q, sizeof(q), p, "window");
        duration(L, v, q, 0, &r->aftershock_window_s);
    }
    if ((v = anpi_ytree_get(a, "area"))) {
        sub(q, sizeof(q), p, "area");
        if (want(L, v, q, ANPI_Y_SCALAR)) {
            size_t l = strlen(v->value);
            int64_t km;
            if (strcmp(v->value, "same") == 0) {
                r->aftershock_area = ANPI_AREA_SAME;
            } else if (strcmp(v->value, "adjacent") == 0) {
                r->aftershock_area = ANPI_AREA_ADJACENT;
            } else if (l > 2 && l < 12 && strcmp(v->value + l - 2, "km") == 0) {
                char num[16];
                memcpy(num, v->value, l - 2);
                num[l - 2] = '\0';
                if (anpi_parse_int64(num, 1, 2000, &km) == ANPI_OK) {
                    r->aftershock_area = ANPI_AREA_RADIUS;
                    r->aftershock_radius_km = (double)km;
                } else {
                    err(L, v, q, "radius must be 1km .. 2000km, got \"%s\"", shown(v, sb, sizeof(sb)));
                }
            } else {
                err(L, v, q, "expected same, adjacent or a radius like 80km, got \"%s\"",
                    shown(v, sb, sizeof(sb)));
            }
        }
    }
    if ((v = anpi_ytree_get(a, "notify"))) {
        sub(q, sizeof(q), p, "notify");
        char *g = group_name(L, v, q);
        if (g) {
            free(r->notify_group);
            r->notify_group = g;
        }
    }
    if ((v = anpi_ytree_get(a, "resend_if_stronger"))) {
        sub(q, sizeof(q), p, "resend_if_stronger");
        boolean(L, v, q, &r->resend_if_stronger);
    }
    if ((v = anpi_ytree_get(a, "template")))
        *notice_tmpl = v;
}

static void
parse_approval(struct loader *L, const struct anpi_ynode *n, const char *path,
               struct anpi_rule *r, const struct anpi_ynode **approval_tmpl)
{
    static const char *const keys[] = { "required", "roles", "group", "timeout", "on_timeout",
                                        "escalate_to", "expiry", "template", NULL };
    char p[256], sb[80];
    if (n->kind == ANPI_Y_SCALAR) {
        if (strcmp(n->value, "none") == 0)
            r->approval_required = false;
        else
            err(L, n, path, "expected none or a mapping {required, group, timeout, ...}, got \"%s\"",
                shown(n, sb, sizeof(sb)));
        return;
    }
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *v;
    int64_t i64;
    if ((v = anpi_ytree_get(n, "required"))) {
        sub(p, sizeof(p), path, "required");
        if (want(L, v, p, ANPI_Y_SCALAR)) {
            int rc = anpi_parse_int64(v->value, INT64_MIN, INT64_MAX, &i64);
            if (rc == ANPI_EPARSE)
                err(L, v, p, "expected a whole number, got \"%s\"", shown(v, sb, sizeof(sb)));
            else if (rc != ANPI_OK || i64 < 1)
                err(L, v, p, "must be at least 1 (write approval: none to send without "
                    "approval), got %s", shown(v, sb, sizeof(sb)));
            else if (i64 > 10)
                err(L, v, p, "at most 10 approvals, got %s", shown(v, sb, sizeof(sb)));
            else
                r->approvals_required = (int)i64;
        }
    }
    const struct anpi_ynode *g = anpi_ytree_get(n, "group"), *roles = anpi_ytree_get(n, "roles");
    if (g && roles) {
        err(L, roles, path, "give group or roles, not both");
    } else if (g || roles) {
        sub(p, sizeof(p), path, g ? "group" : "roles");
        char **list = NULL;
        size_t nlist = 0;
        bool ok = group_list(L, g ? g : roles, p, &list, &nlist);
        if (ok && nlist != 1) {
            err(L, g ? g : roles, p, "exactly one approver group, got %zu (use escalate_to for a "
                "second one)", nlist);
        } else if (ok) {
            free(r->approver_group);
            r->approver_group = list[0];
            list[0] = NULL;
        }
        for (size_t i = 0; i < nlist; i++)
            free(list[i]);
        free(list);
    }
    if ((v = anpi_ytree_get(n, "timeout"))) {
        sub(p, sizeof(p), path, "timeout");
        duration(L, v, p, 1, &r->approval_timeout_s);
    }
    if ((v = anpi_ytree_get(n, "expiry"))) {
        sub(p, sizeof(p), path, "expiry");
        duration(L, v, p, 60, &r->expiry_s);
    }
    if ((v = anpi_ytree_get(n, "escalate_to"))) {
        sub(p, sizeof(p), path, "escalate_to");
        r->escalate_group = group_name(L, v, p);
    }
    if ((v = anpi_ytree_get(n, "on_timeout"))) {
        sub(p, sizeof(p), path, "on_timeout");
        const char *s = str(L, v, p);
        if (s && strcmp(s, "hold") == 0)
            r->on_timeout = ANPI_TIMEOUT_HOLD;
        else if (s && strcmp(s, "send") == 0)
            r->on_timeout = ANPI_TIMEOUT_SEND;
        else if (s && strcmp(s, "escalate") == 0)
            r->on_timeout = ANPI_TIMEOUT_ESCALATE;
        else if (s)
            err(L, v, p, "expected hold, send or escalate, got \"%s\"", shown(v, sb, sizeof(sb)));
        if (r->on_timeout == ANPI_TIMEOUT_ESCALATE && !anpi_ytree_get(n, "escalate_to"))
            err(L, v, p, "escalate needs escalate_to: <group>");
    }
    if ((v = anpi_ytree_get(n, "template")))
        *approval_tmpl = v;
}

static void
parse_audience(struct loader *L, const struct anpi_ynode *n, const char *path,
               struct anpi_rule *r)
{
    static const char *const keys[] = { "regions", "groups", "travellers", NULL };
    char p[256], sb[80];
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *v;
    const struct anpi_ynode *regions = anpi_ytree_get(n, "regions");
    const struct anpi_ynode *groups = anpi_ytree_get(n, "groups");
    const struct anpi_ynode *travellers = anpi_ytree_get(n, "travellers");
    if (!regions && !groups && !travellers) {
        err(L, n, path, "names nobody (give regions:, groups: or travellers:)");
        return;
    }
    if ((v = travellers)) {
        sub(p, sizeof(p), path, "travellers");
        if (want(L, v, p, ANPI_Y_SCALAR)) {
            if (strcmp(v->value, "event_countries") != 0)
                err(L, v, p, "expected event_countries, got \"%s\"", shown(v, sb, sizeof(sb)));
            else if (r->event_types && !(r->event_types & (1u << ANPI_EV_OVERSEAS)))
                err(L, v, p, "travellers: event_countries needs event: overseas (other events "
                    "name no country)");
            else
                r->audience_travellers = true;
        }
    }
    /* Overseas events name no prefecture: regions: affected_prefectures would
     * always be empty, which is a rule that silently mails nobody. */
    if (regions && regions->kind == ANPI_Y_SCALAR && r->event_types &&
        !(r->event_types & PREF_TYPES)) {
        sub(p, sizeof(p), path, "regions");
        err(L, regions, p, "overseas events affect no prefecture; use travellers: event_countries "
            "or groups:");
        regions = NULL;
    }
    if ((v = regions)) {
        sub(p, sizeof(p), path, "regions");
        if (v->kind == ANPI_Y_SCALAR) {
            if (strcmp(v->value, "affected_prefectures") == 0)
                r->audience_affected_regions = true;
            else
                err(L, v, p, "expected affected_prefectures or a list of prefectures, got \"%s\"",
                    shown(v, sb, sizeof(sb)));
        } else {
            pref_list(L, v, p, &r->audience_prefs);
        }
    }
    if ((v = groups)) {
        sub(p, sizeof(p), path, "groups");
        if (want(L, v, p, ANPI_Y_SEQ))
            group_list(L, v, p, &r->audience_groups, &r->naudience_groups);
    }
}

static void
parse_questions(struct loader *L, const struct anpi_ynode *n, const char *path,
                struct anpi_rule *r)
{
    static const char *const keys[] = { "id", "text", "choices", NULL };
    char p[256], q[280], c[300];
    if (!want(L, n, path, ANPI_Y_SEQ))
        return;
    if (n->n > 20) {
        err(L, n, path, "at most 20 questions, got %zu", n->n);
        return;
    }
    r->questions = anpi_xcalloc(n->n ? n->n : 1, sizeof(*r->questions));
    for (size_t i = 0; i < n->n; i++) {
        const struct anpi_ynode *qn = n->kids[i], *v;
        idx(p, sizeof(p), path, i);
        if (!check_map(L, qn, p, keys))
            continue;
        struct anpi_question *qq = &r->questions[r->nquestions++];
        if (!(v = anpi_ytree_get(qn, "id"))) {
            err(L, qn, p, "a question needs an id");
        } else {
            sub(q, sizeof(q), p, "id");
            qq->id = ident(L, v, q, "safety");
            for (size_t j = 0; qq->id && j + 1 < r->nquestions; j++)
                if (r->questions[j].id && strcmp(r->questions[j].id, qq->id) == 0)
                    err(L, v, q, "duplicate question id \"%s\"", qq->id);
        }
        if (!(v = anpi_ytree_get(qn, "text"))) {
            err(L, qn, p, "a question needs a text");
        } else {
            sub(q, sizeof(q), p, "text");
            const char *s = str(L, v, q);
            if (s)
                qq->text = anpi_xstrdup(s);
        }
        v = anpi_ytree_get(qn, "choices");
        if (!v || (v->kind == ANPI_Y_SEQ && v->n == 0)) {
            err(L, v ? v : qn, p, "a question needs choices");
            continue;
        }
        sub(q, sizeof(q), p, "choices");
        if (!want(L, v, q, ANPI_Y_SEQ))
            continue;
        if (v->n > ANPI_RULES_MAX_CHOICES) {
            err(L, v, q, "at most %d choices, got %zu", ANPI_RULES_MAX_CHOICES, v->n);
            continue;
        }
        qq->choices = anpi_xcalloc(v->n, sizeof(char *));
        for (size_t j = 0; j < v->n; j++) {
            idx(c, sizeof(c), q, j);
            const char *s = str(L, v->kids[j], c);
            if (!s)
                continue;
            for (size_t k = 0; k < qq->nchoices; k++)
                if (strcmp(qq->choices[k], s) == 0)
                    err(L, v->kids[j], c, "duplicate choice \"%s\"", s);
            qq->choices[qq->nchoices++] = anpi_xstrdup(s);
        }
    }
}

/* An inline template (a YAML scalar of follow_up.wording) is checked like
 * a template file: an unknown or malformed variable is an error at its
 * place in the rule file when the scalar is one line, else at the scalar
 * with the line and column inside its text. */
static bool
inline_template(struct loader *L, const struct anpi_ynode *n, const char *path)
{
    struct anpi_errors te = { 0 };
    int rc = anpi_template_check(n->value, anpi_template_vars, "", &te);
    for (size_t i = 0; i < te.n; i++) {
        int line = 0, col = 0, off = 0;
        if (sscanf(te.msg[i], ":%d:%d: %n", &line, &col, &off) != 2 || off == 0) {
            err(L, n, path, "%s", te.msg[i]);
            continue;
        }
        const char *msg = te.msg[i] + off;
        if (!strchr(n->value, '\n') && line == 1)
            anpi_errors_add(L->errs, "%s:%d:%d: %s: %s", L->file, n->line,
                            n->col + (n->plain ? 0 : 1) + col - 1, path, msg);
        else
            err(L, n, path, "%s (line %d, column %d of the text)", msg, line, col);
    }
    bool ok = rc == ANPI_OK && te.n == 0;
    anpi_errors_free(&te);
    return ok;
}

/* follow_up.wording: [{subject, body}] - the template of resend round i+1. */
static void
parse_wording(struct loader *L, const struct anpi_ynode *n, const char *path,
              struct anpi_rule *r)
{
    static const char *const keys[] = { "subject", "body", NULL };
    char ip[300], p[320];
    if (!want(L, n, path, ANPI_Y_SEQ))
        return;
    if (n->n == 0) {
        err(L, n, path, "empty wording list (leave wording out to resend the message as it is)");
        return;
    }
    if (n->n > ANPI_RULES_MAX_RESENDS) {
        err(L, n, path, "at most %d entries (one per resend round), got %zu", ANPI_RULES_MAX_RESENDS,
            n->n);
        return;
    }
    r->resend_wording = anpi_xcalloc(n->n, sizeof(*r->resend_wording));
    r->nresend_wording = n->n;
    for (size_t i = 0; i < n->n; i++) {
        const struct anpi_ynode *w = n->kids[i];
        idx(ip, sizeof(ip), path, i);
        if (!check_map(L, w, ip, keys))
            continue;
        const struct anpi_ynode *subj = anpi_ytree_get(w, "subject");
        const struct anpi_ynode *body = anpi_ytree_get(w, "body");
        if (!subj)
            err(L, w, ip, "missing subject");
        if (!body)
            err(L, w, ip, "missing body");
        if (subj) {
            sub(p, sizeof(p), ip, "subject");
            const char *s = str(L, subj, p);
            if (s && (strchr(s, '\n') || strchr(s, '\r')))
                err(L, subj, p, "a subject is one line");
            else if (s && strlen(s) > ANPI_RULES_MAX_SUBJECT)
                err(L, subj, p, "longer than %d bytes", ANPI_RULES_MAX_SUBJECT);
            else if (s && inline_template(L, subj, p))
                r->resend_wording[i].subject = anpi_xstrdup(s);
        }
        if (body) {
            sub(p, sizeof(p), ip, "body");
            const char *s = str(L, body, p);
            if (s && strlen(s) > ANPI_TEMPLATE_MAX_FILE)
                err(L, body, p, "longer than %d bytes", ANPI_TEMPLATE_MAX_FILE);
            else if (s && inline_template(L, body, p))
                r->resend_wording[i].text = anpi_xstrdup(s);
        }
    }
}

static void
parse_follow_up(struct loader *L, const struct anpi_ynode *n, const char *path,
                struct anpi_rule *r)
{
    static const char *const keys[] = { "resend_unanswered_after", "max_resends", "until",
                                        "wording", NULL };
    char p[256];
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *after = anpi_ytree_get(n, "resend_unanswered_after");
    const struct anpi_ynode *max = anpi_ytree_get(n, "max_resends");
    const struct anpi_ynode *until = anpi_ytree_get(n, "until");
    const struct anpi_ynode *wording = anpi_ytree_get(n, "wording");
    int64_t v = 0;
    bool after_ok = false;
    if (after) {
        sub(p, sizeof(p), path, "resend_unanswered_after");
        if ((after_ok = duration(L, after, p, 60, &r->resend_after_s)))
            r->max_resends = 1;
    }
    if (max) {
        sub(p, sizeof(p), path, "max_resends");
        if (integer(L, max, p, 0, ANPI_RULES_MAX_RESENDS, &v))
            r->max_resends = (int)v;
        if (!after && v > 0)
            err(L, max, p, "max_resends needs resend_unanswered_after");
    }
    if (until) {
        sub(p, sizeof(p), path, "until");
        if (!after)
            err(L, until, p, "until needs resend_unanswered_after");
        else if (duration(L, until, p, 60, &r->resend_until_s) && after_ok &&
                 r->resend_until_s < r->resend_after_s)
            /* the first resend is due resend_unanswered_after after the first
             * mail: a shorter deadline would silently mean no resend at all */
            err(L, until, p, "until (%llds) is shorter than resend_unanswered_after (%llds): no "
                "resend round could start", (long long)r->resend_until_s,
                (long long)r->resend_after_s);
    }
    if (wording) {
        sub(p, sizeof(p), path, "wording");
        if (!after)
            err(L, wording, p, "wording needs resend_unanswered_after");
        parse_wording(L, wording, p, r);
        if (after_ok && r->nresend_wording > (size_t)r->max_resends)
            err(L, wording, p, "%zu entries but max_resends is %d: the entries after round %d "
                "would never be sent", r->nresend_wording, r->max_resends, r->max_resends);
    }
}

static void
parse_message(struct loader *L, const struct anpi_ynode *n, const char *path,
              struct anpi_rule *r)
{
    static const char *const keys[] = { "template", "questions", "correction", "cancellation",
                                        NULL };
    char p[256];
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *v;
    if (!(v = anpi_ytree_get(n, "template"))) {
        err(L, n, path, "missing template");
    } else {
        sub(p, sizeof(p), path, "template");
        char *name = ident(L, v, p, "safety-check");
        if (name)
            load_template(L, v, p, name, "", &r->message);
        free(name);
    }
    if ((v = anpi_ytree_get(n, "questions"))) {
        sub(p, sizeof(p), path, "questions");
        parse_questions(L, v, p, r);
    }
}

/* A template named by key tmpl (or the pack default), loaded when needed. */
static void
side_template(struct loader *L, const struct anpi_ynode *tmpl, const struct anpi_ynode *rule,
              const char *path, const char *key, const char *dflt, struct anpi_template *t)
{
    char p[256];
    if (tmpl) {
        snprintf(p, sizeof(p), "%s.%s.template", path, key);
        char *name = ident(L, tmpl, p, dflt);
        if (name)
            load_template(L, tmpl, p, name, "", t);
        free(name);
    } else {
        char why[160];
        snprintf(why, sizeof(why), " (the pack default for %s; needed by this rule)", key);
        load_template(L, rule, path, dflt, why, t);
    }
}

/* "YYYY-MM-DD" -> days since 1970-01-01 (proleptic Gregorian). */
static bool
parse_date(const char *s, int64_t *days)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1] + (m == 2 && leap))
        return false;
    /* days_from_civil (H. Hinnant) */
    int yy = m <= 2 ? y - 1 : y;
    int era = yy / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *days = (int64_t)era * 146097 + doe - 719468;
    return true;
}

static void
parse_schedule(struct loader *L, const struct anpi_ynode *n, const char *path,
               struct anpi_rule *r)
{
    static const char *const keys[] = { "every", "at", "start", NULL };
    char p[256], sb[80];
    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *every = anpi_ytree_get(n, "every"), *v;
    if (!every) {
        err(L, n, path, "missing every (a duration like 7d)");
        return;
    }
    sub(p, sizeof(p), path, "every");
    if (!duration(L, every, p, 3600, &r->schedule_every_s))
        r->schedule_every_s = 0;
    if ((v = anpi_ytree_get(n, "at"))) {
        sub(p, sizeof(p), path, "at");
        const char *s = str(L, v, p);
        int hh, mm;
        char tail;
        if (s && (strlen(s) != 5 || s[2] != ':' ||
                  sscanf(s, "%2d:%2d%c", &hh, &mm, &tail) != 2 || hh < 0 || hh > 23 || mm < 0 ||
                  mm > 59 || s[0] < '0' || s[0] > '9' || s[3] < '0' || s[3] > '9'))
            err(L, v, p, "expected a JST time like \"10:00\", got \"%s\"", shown(v, sb, sizeof(sb)));
        else if (s)
            r->schedule_at_min = hh * 60 + mm;
        if (r->schedule_every_s % 86400 != 0) {
            sub(p, sizeof(p), path, "every");
            err(L, every, p, "with at:, every must be whole days (1d, 7d, ...), got \"%s\"",
                shown(every, sb, sizeof(sb)));
        }
    }
    if ((v = anpi_ytree_get(n, "start"))) {
        sub(p, sizeof(p), path, "start");
        const char *s = str(L, v, p);
        int64_t days;
        if (s && !parse_date(s, &days))
            err(L, v, p, "expected a date like \"2025-04-07\" (2000 .. 2100), got \"%s\"",
                shown(v, sb, sizeof(sb)));
        else if (s)
            r->schedule_start = days * 86400 - 9 * 3600;   /* midnight JST */
    }
}

static bool
template_exists(struct loader *L, const char *name)
{
    char *txt = anpi_xasprintf("%s/templates/%s.ja.txt", L->dir, name);
    struct stat st;
    bool ok = stat(txt, &st) == 0;
    free(txt);
    return ok;
}

/* message.correction / message.cancellation, or the pack default. */
static void
followup_template(struct loader *L, const struct anpi_ynode *named, const struct anpi_ynode *at,
                  const char *path, const char *at_path, const char *key, const char *dflt,
                  struct anpi_template *t)
{
    char p[256];
    if (named) {
        snprintf(p, sizeof(p), "%s.message.%s", path, key);
        char *name = ident(L, named, p, dflt);
        if (name)
            load_template(L, named, p, name, "", t);
        free(name);
    } else {
        char why[200];
        snprintf(why, sizeof(why), " (the pack default for %s; needed by this rule, or name one "
                 "with message.%s)", key, key);
        load_template(L, at, at_path, dflt, why, t);
    }
}

static void
rule_free(struct anpi_rule *r)
{
    free(r->id);
    free(r->pack);
    free(r->file);
    free(r->notify_group);
    free(r->approver_group);
    free(r->escalate_group);
    for (size_t i = 0; i < r->naudience_groups; i++)
        free(r->audience_groups[i]);
    free(r->audience_groups);
    template_free(&r->message);
    template_free(&r->approval_message);
    template_free(&r->notice_message);
    for (size_t i = 0; i < r->nquestions; i++) {
        free(r->questions[i].id);
        free(r->questions[i].text);
        for (size_t j = 0; j < r->questions[i].nchoices; j++)
            free(r->questions[i].choices[j]);
        free(r->questions[i].choices);
    }
    free(r->questions);
    for (size_t i = 0; i < r->nweather_kinds; i++)
        free(r->weather_kinds[i]);
    free(r->weather_kinds);
    for (size_t i = 0; i < r->nrisk_kinds; i++)
        free(r->risk_kinds[i]);
    free(r->risk_kinds);
    free(r->countries);
    template_free(&r->correction_message);
    template_free(&r->cancellation_message);
    for (size_t i = 0; i < r->nresend_wording; i++)
        template_free(&r->resend_wording[i]);
    free(r->resend_wording);
}

static void
parse_rule(struct loader *L, const struct anpi_ynode *n, size_t i, struct anpi_rule *r)
{
    static const char *const keys[] = { "id", "description", "when", "schedule", "incident",
                                        "approval", "audience", "message", "follow_up",
                                        "on_correction", "on_cancel", "sender", NULL };
    char path[64], p[128], sb[80];
    idx(path, sizeof(path), "rules", i);

    r->pack = anpi_xstrdup(L->pack ? L->pack : "");
    r->file = anpi_xstrdup(L->file);
    r->line = n->line;
    r->statuses = 1u << ANPI_ST_ACTUAL;
    r->aftershock_window_s = 6 * 3600;
    r->aftershock_area = ANPI_AREA_SAME;
    r->notify_group = anpi_xstrdup("duty-officers");
    r->resend_if_stronger = true;
    r->approval_required = true;
    r->approvals_required = 1;
    r->approver_group = anpi_xstrdup("duty-officers");
    r->approval_timeout_s = 15 * 60;
    r->on_timeout = ANPI_TIMEOUT_HOLD;
    r->expiry_s = 0;             /* 0: the config's incidents.expiry */
    r->schedule_at_min = -1;

    if (!check_map(L, n, path, keys))
        return;
    const struct anpi_ynode *v;
    if (!(v = anpi_ytree_get(n, "id"))) {
        err(L, n, path, "missing id");
    } else {
        sub(p, sizeof(p), path, "id");
        r->id = ident(L, v, p, "quake-safety-check");
        for (size_t j = 0; r->id && j < L->rs->nrules; j++) {
            const struct anpi_rule *o = &L->rs->rules[j];
            if (o->id && strcmp(o->id, r->id) == 0) {
                err(L, v, p, "duplicate rule id \"%s\" (first defined at %s:%d)",
                    shown(v, sb, sizeof(sb)), o->file, o->line);
                break;
            }
        }
    }
    if ((v = anpi_ytree_get(n, "description"))) {
        sub(p, sizeof(p), path, "description");
        want(L, v, p, ANPI_Y_SCALAR);
    }
    const struct anpi_ynode *sched = anpi_ytree_get(n, "schedule");
    if ((v = anpi_ytree_get(n, "when"))) {
        sub(p, sizeof(p), path, "when");
        parse_when(L, v, p, r);
        if (sched) {
            sub(p, sizeof(p), path, "schedule");
            err(L, sched, p, "a rule has when: (events) or schedule: (a drill), not both");
            sched = NULL;
        }
    } else if (!sched) {
        err(L, n, path, "missing when (or schedule: for a scheduled drill)");
    }
    if (sched) {
        sub(p, sizeof(p), path, "schedule");
        parse_schedule(L, sched, p, r);
    }
    const struct anpi_ynode *notice_tmpl = NULL, *approval_tmpl = NULL;
    const struct anpi_ynode *inc = anpi_ytree_get(n, "incident");
    if (inc) {
        sub(p, sizeof(p), path, "incident");
        parse_incident(L, inc, p, r, &notice_tmpl);
    }
    const struct anpi_ynode *appr = anpi_ytree_get(n, "approval");
    if (appr) {
        sub(p, sizeof(p), path, "approval");
        parse_approval(L, appr, p, r, &approval_tmpl);
    }
    if (sched && inc) {
        sub(p, sizeof(p), path, "incident");
        err(L, inc, p, "a scheduled drill rule opens no incident (remove incident:)");
    } else if (sched && r->approval_required) {
        err(L, appr ? appr : n, path, "a scheduled drill rule is sent without approval; write "
            "approval: none");
    } else if (r->approval_required && !r->opens_incident) {
        err(L, appr ? appr : n, path, "approval is required%s but the rule has no incident: "
            "section; add one or write approval: none", appr ? "" : " (the default)");
    }
    if (!(v = anpi_ytree_get(n, "audience"))) {
        err(L, n, path, "missing audience");
    } else {
        sub(p, sizeof(p), path, "audience");
        parse_audience(L, v, p, r);
        if (sched && (r->audience_affected_regions || r->audience_travellers))
            err(L, v, p, "a scheduled drill has no event: %s cannot be resolved; name groups:",
                r->audience_travellers ? "travellers: event_countries"
                                       : "regions: affected_prefectures");
        else if (sched && r->naudience_groups == 0 && v->kind == ANPI_Y_MAP)
            err(L, v, p, "a scheduled drill rule needs groups: (who takes part in the drill)");
    }
    const struct anpi_ynode *msg = anpi_ytree_get(n, "message");
    if (!msg) {
        err(L, n, path, "missing message");
    } else {
        sub(p, sizeof(p), path, "message");
        parse_message(L, msg, p, r);
    }
    const struct anpi_ynode *corr_tmpl = msg ? anpi_ytree_get(msg, "correction") : NULL;
    const struct anpi_ynode *canc_tmpl = msg ? anpi_ytree_get(msg, "cancellation") : NULL;
    const struct anpi_ynode *on_corr = anpi_ytree_get(n, "on_correction");
    const struct anpi_ynode *on_canc = anpi_ytree_get(n, "on_cancel");
    const struct anpi_ynode *sender = anpi_ytree_get(n, "sender");
    if (sender) {
        sub(p, sizeof(p), path, "sender");
        const char *s = str(L, sender, p);
        if (s && strcmp(s, "hr") == 0)
            r->sender_hr = true;
        else if (s && strcmp(s, "safety") != 0)
            err(L, sender, p, "expected safety or hr, got \"%s\"", shown(sender, sb, sizeof(sb)));
        if (r->sender_hr && r->opens_incident)
            err(L, sender, p, "a safety check (a rule with an incident) is safety mail, not hr");
    }
    if (sched && (on_corr || on_canc)) {
        const struct anpi_ynode *k = on_corr ? on_corr : on_canc;
        sub(p, sizeof(p), path, on_corr ? "on_correction" : "on_cancel");
        err(L, k, p, "a scheduled drill has no reports to correct or cancel");
        on_corr = on_canc = NULL;
    }
    if (on_corr) {
        sub(p, sizeof(p), path, "on_correction");
        const char *s = str(L, on_corr, p);
        if (s && strcmp(s, "send") == 0)
            r->send_corrections = true;
        else if (s && strcmp(s, "ignore") != 0)
            err(L, on_corr, p, "expected send or ignore, got \"%s\"", shown(on_corr, sb, sizeof(sb)));
    }
    /* Cancellations: an incident rule tells its audience by default, but
     * only when there is something to send (the pack's template). */
    bool cancel_explicit = false;
    if (on_canc) {
        sub(p, sizeof(p), path, "on_cancel");
        const char *s = str(L, on_canc, p);
        if (s && strcmp(s, "notify") == 0)
            r->notify_cancellations = cancel_explicit = true;
        else if (s && strcmp(s, "ignore") != 0)
            err(L, on_canc, p, "expected notify or ignore, got \"%s\"", shown(on_canc, sb, sizeof(sb)));
    } else if (r->opens_incident && !sched) {
        r->notify_cancellations = canc_tmpl || template_exists(L, "cancellation-notice");
    }
    if (corr_tmpl && !r->send_corrections) {
        sub(p, sizeof(p), path, "message.correction");
        err(L, corr_tmpl, p, "a correction template is only sent with on_correction: send");
    } else if (r->send_corrections) {
        sub(p, sizeof(p), path, "on_correction");
        followup_template(L, corr_tmpl, on_corr, path, p, "correction", "correction-notice",
                          &r->correction_message);
    }
    if (canc_tmpl && !r->notify_cancellations) {
        sub(p, sizeof(p), path, "message.cancellation");
        err(L, canc_tmpl, p, "a cancellation template is only sent with on_cancel: notify%s",
            r->opens_incident ? "" : " (the default for rules without an incident is ignore)");
    } else if (r->notify_cancellations) {
        sub(p, sizeof(p), path, cancel_explicit ? "on_cancel" : "message");
        followup_template(L, canc_tmpl, cancel_explicit ? on_canc : (msg ? msg : n), path, p,
                          "cancellation", "cancellation-notice", &r->cancellation_message);
    }
    if ((v = anpi_ytree_get(n, "follow_up"))) {
        sub(p, sizeof(p), path, "follow_up");
        parse_follow_up(L, v, p, r);
    }
    if (r->approval_required && r->opens_incident)
        side_template(L, approval_tmpl, appr ? appr : n, path, "approval", "approval-request",
                      &r->approval_message);
    if (r->opens_incident)
        side_template(L, notice_tmpl, inc, path, "incident.aftershocks", "aftershock-notice",
                      &r->notice_message);
}

/* ---- files ------------------------------------------------------------- */

static void
add_rule(struct anpi_ruleset *rs, const struct anpi_rule *r)
{
    rs->rules = anpi_xrealloc(rs->rules, (rs->nrules + 1) * sizeof(*rs->rules));
    rs->rules[rs->nrules++] = *r;
}

static void
load_file(struct loader *L, const char *file)
{
    static const char *const keys[] = { "pack", "rules", NULL };
    char *text;
    size_t len;
    L->file = file;
    int rc = slurp(file, ANPI_RULES_MAX_FILE, &text, &len);
    if (rc == ANPI_ETOOBIG) {
        anpi_errors_add(L->errs, "%s:1:1: rule file larger than 1 MiB", file);
        return;
    }
    if (rc) {
        anpi_errors_add(L->errs, "%s:1:1: cannot read: %s", file, anpi_strerror(rc));
        return;
    }
    struct anpi_ynode *root;
    rc = anpi_ytree_parse(file, text, len, ANPI_RULES_MAX_DEPTH, &root, L->errs);
    free(text);
    if (rc)
        return;

    const char *slash = strrchr(file, '/');
    L->dir = slash ? anpi_xstrndup(file, (size_t)(slash - file) + (slash == file)) : anpi_xstrdup(".");
    L->pack = NULL;
    char *pack = NULL;
    if (check_map(L, root, "", keys)) {
        const struct anpi_ynode *v = anpi_ytree_get(root, "pack");
        if (!v)
            err(L, root, "", "missing pack: (the name of this rule pack)");
        else
            pack = ident(L, v, "pack", "safety-domestic");
        L->pack = pack;
        const struct anpi_ynode *rules = anpi_ytree_get(root, "rules");
        if (!rules) {
            err(L, root, "", "missing rules:");
        } else if (want(L, rules, "rules", ANPI_Y_SEQ)) {
            for (size_t i = 0; i < rules->n; i++) {
                struct anpi_rule r;
                memset(&r, 0, sizeof(r));
                parse_rule(L, rules->kids[i], i, &r);
                add_rule(L->rs, &r);
            }
        }
    }
    free(pack);
    L->pack = NULL;
    free(L->dir);
    L->dir = NULL;
    anpi_ytree_free(root);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
is_rule_file(const char *name)
{
    size_t l = strlen(name);
    return (l > 5 && strcmp(name + l - 5, ".yaml") == 0) ||
           (l > 4 && strcmp(name + l - 4, ".yml") == 0);
}

static void
add_file(struct anpi_ruleset *rs, const char *path)
{
    rs->files = anpi_xrealloc(rs->files, (rs->nfiles + 1) * sizeof(char *));
    rs->files[rs->nfiles++] = anpi_xstrdup(path);
}

/* Collect rule files under dir, sorted, recursively. */
static void
collect_dir(struct loader *L, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        anpi_errors_add(L->errs, "%s:1:1: cannot open directory: %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = anpi_xrealloc(names, (n + 1) * sizeof(char *));
        names[n++] = anpi_xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *p = anpi_xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                if (depth < MAX_DIR_DEPTH)
                    collect_dir(L, p, depth + 1);
                else
                    anpi_errors_add(L->errs, "%s:1:1: directories nested deeper than %d levels",
                                    p, MAX_DIR_DEPTH);
            } else if (S_ISREG(st.st_mode) && is_rule_file(names[i])) {
                add_file(L->rs, p);
            }
        }
        free(p);
        free(names[i]);
    }
    free(names);
}

int
anpi_rules_load(const char *const *paths, size_t npaths, struct anpi_ruleset **out,
                struct anpi_errors *errs)
{
    size_t before = errs->n;
    struct anpi_ruleset *rs = anpi_xcalloc(1, sizeof(*rs));
    struct loader L = { .errs = errs, .rs = rs };
    *out = NULL;

    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        size_t had = rs->nfiles;
        if (stat(paths[i], &st) != 0) {
            anpi_errors_add(errs, "%s:1:1: cannot open: %s", paths[i], strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            /* strip trailing slashes so messages read dir/file.yaml */
            char *d = anpi_xstrdup(paths[i]);
            size_t l = strlen(d);
            while (l > 1 && d[l - 1] == '/')
                d[--l] = '\0';
            collect_dir(&L, d, 0);
            if (rs->nfiles == had)
                anpi_errors_add(errs, "%s:1:1: no rule files (*.yaml, *.yml) found", d);
            free(d);
        } else {
            add_file(rs, paths[i]);
        }
    }
    for (size_t i = 0; i < rs->nfiles; i++)
        load_file(&L, rs->files[i]);

    if (errs->n > before || npaths == 0) {
        if (npaths == 0)
            anpi_errors_add(errs, "(rules):1:1: no rule files given");
        anpi_ruleset_free(rs);
        return ANPI_EPARSE;
    }
    *out = rs;
    return ANPI_OK;
}

void
anpi_ruleset_free(struct anpi_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->nfiles; i++)
        free(rs->files[i]);
    free(rs->files);
    free(rs);
}

const struct anpi_rule *
anpi_ruleset_find(const struct anpi_ruleset *rs, const char *id)
{
    for (size_t i = 0; rs && i < rs->nrules; i++)
        if (rs->rules[i].id && strcmp(rs->rules[i].id, id) == 0)
            return &rs->rules[i];
    return NULL;
}
