/* test_dkim.c - DKIM signatures checked by Debian's python3-dkim (an
 * independent verifier) with keys made by the openssl CLI at test time:
 * rsa-sha256 and ed25519-sha256, dual signing, relaxed canonicalization,
 * tampering detected, signing on the libuv thread pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "channels/dkim.h"
#include "channels/mime.h"
#include "engine/buf.h"
#include "engine/config.h"

static char dir[] = "/tmp/anpi-dkim-XXXXXX";
static struct anpi_dkim_key *rsa, *ed;

static int
run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256];
    while (fgets(line, sizeof(line), p))
        ;
    return pclose(p);
}

/* python3-dkim's verdict on each signature of msg, "pass,fail,...". */
static void
verify(const char *msg, size_t len, char *verdict, size_t vlen)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/signed.eml", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(msg, 1, len, f), len);
    fclose(f);
    const char *src = getenv("ANPI_SOURCE_ROOT");
    assert_non_null(src);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/unit/channels/dkim_verify.py %s "
             "sel-rsa._domainkey.example.jp=%s/rsa.der:rsa "
             "sel-ed._domainkey.example.jp=%s/ed.der:ed25519",
             src, path, dir, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    verdict[0] = '\0';
    char line[128];
    while (fgets(line, sizeof(line), p)) {
        const char *v = strchr(line, ' ');
        assert_non_null(v);
        size_t n = strlen(verdict);
        snprintf(verdict + n, vlen - n, "%s%.4s", n ? "," : "", v + 1);
    }
    int st = pclose(p);
    if (st != 0)
        fail_msg("dkim_verify.py failed (%d)", st);
}

static struct anpi_mime_msg
base_msg(void)
{
    struct anpi_mime_msg m = {
        .from = "anpi@example.jp",
        .from_name = "安否確認システム",
        .to = "taro@example.jp",
        .subject = "【安否確認】震度６弱の地震が発生しました。至急、安否を回答してください",
        .text = "試験 太郎 様\n\n石川県能登地方で震度６弱の地震が発生しました。\n"
                "次のリンクから安否を回答してください。\nhttps://anpi.example.jp/r/abc\n",
        .message_id = "b12.p34.a56@anpi.example.jp",
        .date = 1735689600,
        .auto_submitted = "auto-generated",
    };
    return m;
}

/* Build m, sign with keys, return the signed message. */
static char *
build_signed(const struct anpi_mime_msg *m, const struct anpi_dkim_key *const *keys, size_t n,
             size_t *len)
{
    char *raw, *out;
    size_t rl;
    assert_int_equal(anpi_mime_build(m, &raw, &rl), 0);
    assert_int_equal(anpi_dkim_sign(keys, n, raw, rl, &out, len), 0);
    assert_int_equal(strlen(out), *len);
    /* the original follows the signatures unchanged */
    assert_true(*len > rl);
    assert_memory_equal(out + *len - rl, raw, rl);
    free(raw);
    return out;
}

/* The value of the first DKIM-Signature with its folds removed. */
static void
sig_tags(const char *msg, char *out, size_t len)
{
    const char *p = strstr(msg, "DKIM-Signature:");
    assert_ptr_equal(p, msg);
    size_t n = 0;
    for (p += 15; *p && n + 1 < len; p++) {
        if (p[0] == '\r' && p[1] == '\n' && p[2] != '\t')
            break;
        if (*p != '\r' && *p != '\n' && *p != '\t')
            out[n++] = *p;
    }
    out[n] = '\0';
}

static void
test_rsa_base64(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    const struct anpi_dkim_key *keys[] = { rsa };
    size_t len;
    char *s = build_signed(&m, keys, 1, &len);
    assert_non_null(strstr(s, "Content-Transfer-Encoding: base64"));
    char tags[2048];
    sig_tags(s, tags, sizeof(tags));
    assert_non_null(strstr(tags, " v=1; a=rsa-sha256; c=relaxed/relaxed;d=example.jp; s=sel-rsa;"));
    assert_non_null(strstr(tags, "h=from:to:subject:date:message-id:mime-version:content-type:"
                                 "content-transfer-encoding:auto-submitted:from;"));
    assert_non_null(strstr(tags, "t="));
    /* every line of the signature stays short */
    for (const char *p = s; *p;) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        assert_true(e - p < 78);
        p = e + 2;
    }
    char v[64];
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "pass");
    free(s);
}

static void
test_rsa_qp_and_tamper(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    m.from_name = NULL;
    m.subject = "Safety check: please answer";
    m.text = "Dear Taro,\n\nPlease answer:  https://anpi.example.jp/r/abc\ntrailing space \n"
             "end\n";
    const struct anpi_dkim_key *keys[] = { rsa };
    size_t len;
    char *s = build_signed(&m, keys, 1, &len);
    assert_non_null(strstr(s, "Content-Transfer-Encoding: quoted-printable"));
    char v[64];
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "pass");

    struct anpi_buf t;
    anpi_buf_init(&t, 0);
    /* relaxed: white space changed inside and at the end of body lines,
     * empty lines added at the end, a header refolded -> still valid */
    char *subj = strstr(s, "Subject: Safety");
    char *p = strstr(s, "Dear Taro,");
    assert_non_null(subj);
    assert_non_null(p);
    assert_true(subj < p);
    anpi_buf_append(&t, s, (size_t)(subj - s));
    anpi_buf_puts(&t, "Subject:\r\n\t  Safety");
    anpi_buf_append(&t, subj + 15, (size_t)(p - (subj + 15)));
    anpi_buf_puts(&t, "Dear  \t Taro,   ");
    anpi_buf_puts(&t, p + 10);
    anpi_buf_puts(&t, "\r\n\r\n");
    verify(t.data, t.len, v, sizeof(v));
    assert_string_equal(v, "pass");

    /* one letter of the body changed -> fail */
    anpi_buf_reset(&t);
    anpi_buf_append(&t, s, len);
    p = strstr(t.data, "Dear Taro");
    p[5] = 'J';
    verify(t.data, t.len, v, sizeof(v));
    assert_string_equal(v, "fail");

    /* the subject changed -> fail */
    anpi_buf_reset(&t);
    anpi_buf_append(&t, s, len);
    p = strstr(t.data, "Subject: Safety");
    p[9] = 's';
    verify(t.data, t.len, v, sizeof(v));
    assert_string_equal(v, "fail");

    /* a second From added (From is oversigned) -> fail */
    anpi_buf_reset(&t);
    p = strstr(s, "\r\nTo: ");
    anpi_buf_append(&t, s, (size_t)(p - s) + 2);
    anpi_buf_puts(&t, "From: boss@example.com\r\n");
    anpi_buf_puts(&t, p + 2);
    verify(t.data, t.len, v, sizeof(v));
    assert_string_equal(v, "fail");
    anpi_buf_free(&t);
    free(s);
}

static void
test_ed25519_iso(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    bool used = false;
    m.iso2022jp = true;
    m.used_iso2022jp = &used;
    const struct anpi_dkim_key *keys[] = { ed };
    size_t len;
    char *s = build_signed(&m, keys, 1, &len);
    assert_true(used);
    assert_non_null(strstr(s, "charset=ISO-2022-JP"));
    char tags[2048];
    sig_tags(s, tags, sizeof(tags));
    assert_non_null(strstr(tags, "a=ed25519-sha256;"));
    assert_non_null(strstr(tags, "s=sel-ed;"));
    char v[64];
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "pass");
    /* tamper with one JIS byte of the body */
    char *p = strstr(s, "\r\n\r\n\x1b$B");
    assert_non_null(p);
    p[7] = p[7] == '0' ? '1' : '0';
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "fail");
    free(s);
}

static void
test_multipart_unsubscribe_dual(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    m.subject = "人事からのお知らせ";
    m.html = "<p>回答して<b>ください</b></p>\n";
    m.list_unsubscribe_url = "https://anpi.example.jp/u/abcdef";
    m.auto_submitted = NULL;
    const struct anpi_dkim_key *keys[] = { rsa, ed };
    size_t len;
    char *s = build_signed(&m, keys, 2, &len);
    char tags[2048];
    sig_tags(s, tags, sizeof(tags));
    assert_non_null(strstr(tags, "h=from:to:subject:date:message-id:mime-version:content-type:"
                                 "list-unsubscribe:list-unsubscribe-post:from;"));
    /* rsa first, ed25519 second */
    const char *second = strstr(s + 1, "\r\nDKIM-Signature: ");
    assert_non_null(second);
    assert_non_null(strstr(second, "a=ed25519-sha256"));
    char v[64];
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "pass,pass");
    /* the unsubscribe target changed -> both fail */
    char *p = strstr(s, "/u/abcdef>");
    assert_non_null(p);
    p[3] = 'x';
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "fail,fail");
    free(s);
}

static void
test_keys(void **state)
{
    (void)state;
    char err[256], path[256];
    snprintf(path, sizeof(path), "%s/rsa.pem", dir);
    assert_null(anpi_dkim_key_load(path, "ed25519-sha256", "example.jp", "s", err, sizeof(err)));
    assert_non_null(strstr(err, "needs an Ed25519 key"));
    assert_null(anpi_dkim_key_load(path, "rsa-sha1", "example.jp", "s", err, sizeof(err)));
    assert_non_null(strstr(err, "rsa-sha1"));
    assert_null(anpi_dkim_key_load(path, "rsa-sha256", "exa mple.jp", "s", err, sizeof(err)));
    assert_null(anpi_dkim_key_load(path, "rsa-sha256", "example.jp", "s;x", err, sizeof(err)));
    snprintf(path, sizeof(path), "%s/missing.pem", dir);
    assert_null(anpi_dkim_key_load(path, "rsa-sha256", "example.jp", "s", err, sizeof(err)));
    assert_non_null(strstr(err, "missing.pem: cannot open"));
    snprintf(path, sizeof(path), "%s/small.pem", dir);
    assert_null(anpi_dkim_key_load(path, "rsa-sha256", "example.jp", "s", err, sizeof(err)));
    assert_non_null(strstr(err, "512 bits"));
    snprintf(path, sizeof(path), "%s/enc.pem", dir);
    assert_null(anpi_dkim_key_load(path, "ed25519-sha256", "example.jp", "s", err, sizeof(err)));
    assert_non_null(strstr(err, "enc.pem: not an unencrypted PEM private key"));
    snprintf(path, sizeof(path), "%s/rsa.der", dir);     /* a public key, DER */
    assert_null(anpi_dkim_key_load(path, "rsa-sha256", "example.jp", "s", err, sizeof(err)));

    /* the TXT records match the public keys the CLI wrote */
    const struct { const struct anpi_dkim_key *k; const char *der, *pre; int tail; } c[] = {
        { rsa, "rsa.der", "v=DKIM1; k=rsa; p=", 0 },
        { ed, "ed.der", "v=DKIM1; k=ed25519; p=", 32 },
    };
    for (size_t i = 0; i < 2; i++) {
        char *txt = anpi_dkim_dns_txt(c[i].k);
        assert_non_null(txt);
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 -c 'import base64,sys; d=open(\"%s/%s\",\"rb\").read(); "
                 "d=d[-%d:] if %d else d; print(base64.b64encode(d).decode())'",
                 dir, c[i].der, c[i].tail ? c[i].tail : 1, c[i].tail);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char want[1024];
        assert_non_null(fgets(want, sizeof(want), p));
        pclose(p);
        want[strcspn(want, "\n")] = '\0';
        assert_int_equal(strncmp(txt, c[i].pre, strlen(c[i].pre)), 0);
        assert_string_equal(txt + strlen(c[i].pre), want);
        free(txt);
    }

    /* messages that cannot be signed */
    const struct anpi_dkim_key *keys[] = { rsa };
    char *out;
    size_t len;
    const char *nofrom = "To: a@example.jp\r\n\r\nbody\r\n";
    assert_int_equal(anpi_dkim_sign(keys, 1, nofrom, strlen(nofrom), &out, &len), ANPI_EPARSE);
    assert_null(out);
    const char *nocolon = "From: a@example.jp\r\nbroken line\r\n\r\nbody\r\n";
    assert_int_equal(anpi_dkim_sign(keys, 1, nocolon, strlen(nocolon), &out, &len),
                     ANPI_EPARSE);
    const char *cont = " leading fold\r\nFrom: a@example.jp\r\n\r\n";
    assert_int_equal(anpi_dkim_sign(keys, 1, cont, strlen(cont), &out, &len), ANPI_EPARSE);
}

/* ---- the dkim: key of the config file, to keys that sign ---- */

#define CONF_BASE "database:\n  conninfo: \"dbname=anpi\"\n" \
                  "public_url: \"http://127.0.0.1:8080\"\n" \
                  "api:\n  token: \"0123456789abcdef\"\n"

static int
load_conf(const char *text, struct anpi_config **cfg, struct anpi_errors *errs)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/anpid.yaml", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    *cfg = NULL;
    memset(errs, 0, sizeof(*errs));
    int rc = anpi_config_load(path, cfg, errs);
    unlink(path);
    return rc;
}

static bool
has_error(const struct anpi_errors *e, const char *part)
{
    for (size_t i = 0; i < e->n; i++) {
        if (strstr(e->msg[i], part))
            return true;
    }
    for (size_t i = 0; i < e->n; i++)
        print_message("# %s\n", e->msg[i]);
    return false;
}

static void
test_config(void **state)
{
    (void)state;
    struct anpi_config *cfg;
    struct anpi_errors errs;
    /* a list: dual signing; key paths relative to the config file */
    assert_int_equal(load_conf(CONF_BASE "dkim:\n"
                               "  - {domain: example.jp, selector: sel-rsa, key: rsa.pem}\n"
                               "  - domain: example.jp\n    selector: sel-ed\n"
                               "    key: ed.pem\n    algorithm: ed25519-sha256\n",
                               &cfg, &errs), 0);
    assert_int_equal(cfg->ndkim, 2);
    assert_string_equal(cfg->dkim[0].algorithm, "rsa-sha256");      /* the default */
    assert_string_equal(cfg->dkim[1].algorithm, "ed25519-sha256");
    assert_string_equal(cfg->dkim[1].selector, "sel-ed");
    const struct anpi_dkim_key *keys[2];
    struct anpi_dkim_key *owned[2];
    for (size_t i = 0; i < 2; i++) {
        char err[256];
        owned[i] = anpi_dkim_key_load(cfg->dkim[i].key_file, cfg->dkim[i].algorithm,
                                      cfg->dkim[i].domain, cfg->dkim[i].selector, err,
                                      sizeof(err));
        if (!owned[i])
            fail_msg("%s", err);
        keys[i] = owned[i];
    }
    anpi_config_free(cfg);
    struct anpi_mime_msg m = base_msg();
    size_t len;
    char *s = build_signed(&m, keys, 2, &len);
    char v[64];
    verify(s, len, v, sizeof(v));
    assert_string_equal(v, "pass,pass");
    free(s);
    anpi_dkim_key_free(owned[0]);
    anpi_dkim_key_free(owned[1]);

    /* a single mapping */
    assert_int_equal(load_conf(CONF_BASE "dkim: {domain: example.jp, selector: s1, key: /k.pem}\n",
                               &cfg, &errs), 0);
    assert_int_equal(cfg->ndkim, 1);
    assert_string_equal(cfg->dkim[0].key_file, "/k.pem");
    anpi_config_free(cfg);
    /* none: unsigned */
    assert_int_equal(load_conf(CONF_BASE, &cfg, &errs), 0);
    assert_int_equal(cfg->ndkim, 0);
    assert_null(cfg->dkim);
    anpi_config_free(cfg);

    /* errors, each with where */
    assert_int_equal(load_conf(CONF_BASE "dkim: {domain: example.jp, selector: s1, key: k.pem, "
                               "algorithm: rsa-sha1}\n", &cfg, &errs), ANPI_EPARSE);
    assert_true(has_error(&errs, "dkim.algorithm: expected rsa-sha256 or ed25519-sha256, got "
                                 "\"rsa-sha1\""));
    anpi_errors_free(&errs);
    assert_int_equal(load_conf(CONF_BASE "dkim:\n  - {domain: example.jp, key: k.pem}\n",
                               &cfg, &errs), ANPI_EPARSE);
    assert_true(has_error(&errs, "dkim[0].selector"));
    anpi_errors_free(&errs);
    assert_int_equal(load_conf(CONF_BASE "dkim: {domain: example.jp, selector: \"a;b\", "
                               "key: k.pem}\n", &cfg, &errs), ANPI_EPARSE);
    assert_true(has_error(&errs, "dkim.selector: letters, digits"));
    anpi_errors_free(&errs);
    assert_int_equal(load_conf(CONF_BASE "dkim: rsa.pem\n", &cfg, &errs), ANPI_EPARSE);
    assert_true(has_error(&errs, "dkim: expected a mapping or a list of mappings"));
    anpi_errors_free(&errs);
    assert_int_equal(load_conf(CONF_BASE "dkim: []\n", &cfg, &errs), ANPI_EPARSE);
    assert_true(has_error(&errs, "expected 1 to 4 signing keys"));
    anpi_errors_free(&errs);
}

/* ---- the thread-pool signer ---- */

#define NJOBS 16

struct async_state {
    int done;
    int failed;
    pthread_t loop_thread;
    bool wrong_thread;
    char *first;
    size_t first_len;
};

static void
on_signed(int status, char *msg, size_t len, void *arg)
{
    struct async_state *st = arg;
    if (!pthread_equal(pthread_self(), st->loop_thread))
        st->wrong_thread = true;
    st->done++;
    if (status != 0 || !msg || strncmp(msg, "DKIM-Signature: ", 16) != 0 ||
        strlen(msg) != len)
        st->failed++;
    if (!st->first && msg) {
        st->first = msg;
        st->first_len = len;
    } else {
        free(msg);
    }
}

static void
test_async(void **state)
{
    (void)state;
    struct anpi_mime_msg m = base_msg();
    char *raw;
    size_t rl;
    assert_int_equal(anpi_mime_build(&m, &raw, &rl), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct async_state st = { .loop_thread = pthread_self() };
    for (int i = 0; i < NJOBS; i++) {
        /* the key array is a temporary: the signer copies it */
        const struct anpi_dkim_key *keys[2] = { i % 2 ? ed : rsa, rsa };
        assert_int_equal(anpi_dkim_sign_async(&loop, keys, i % 3 == 0 ? 2 : 1, raw, rl,
                                              on_signed, &st), 0);
    }
    free(raw);                 /* the message was copied too */
    assert_int_equal(st.done, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(st.done, NJOBS);
    assert_int_equal(st.failed, 0);
    assert_false(st.wrong_thread);
    char v[64];
    verify(st.first, st.first_len, v, sizeof(v));
    assert_true(strcmp(v, "pass") == 0 || strcmp(v, "pass,pass") == 0);
    free(st.first);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(anpi_dkim_sign_async(NULL, NULL, 0, "x", 1, on_signed, &st), ANPI_EPARSE);
}

static int
setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    if (run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/rsa.pem 2>&1",
            dir) ||
        run("openssl genpkey -algorithm ED25519 -out %s/ed.pem 2>&1", dir) ||
        run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out %s/small.pem 2>&1",
            dir) ||
        run("openssl genpkey -algorithm ED25519 -aes-128-cbc -pass pass:secret -out %s/enc.pem "
            "2>&1", dir) ||
        run("openssl pkey -in %s/rsa.pem -pubout -outform DER -out %s/rsa.der 2>&1", dir, dir) ||
        run("openssl pkey -in %s/ed.pem -pubout -outform DER -out %s/ed.der 2>&1", dir, dir))
        return -1;
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/rsa.pem", dir);
    rsa = anpi_dkim_key_load(path, "rsa-sha256", "example.jp", "sel-rsa", err, sizeof(err));
    snprintf(path, sizeof(path), "%s/ed.pem", dir);
    ed = anpi_dkim_key_load(path, "ed25519-sha256", "example.jp", "sel-ed", err, sizeof(err));
    if (!rsa || !ed) {
        fprintf(stderr, "key load: %s\n", err);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    anpi_dkim_key_free(rsa);
    anpi_dkim_key_free(ed);
    static const char *const f[] = { "rsa.pem", "ed.pem", "small.pem", "enc.pem", "rsa.der",
                                     "ed.der", "signed.eml" };
    char path[256];
    for (size_t i = 0; i < ANPI_ARRAY_LEN(f); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, f[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_base64),
        cmocka_unit_test(test_rsa_qp_and_tamper),
        cmocka_unit_test(test_ed25519_iso),
        cmocka_unit_test(test_multipart_unsubscribe_dual),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_async),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
