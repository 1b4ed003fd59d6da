/* The message guard (guard.h): size budget and HMAC-SHA256 message authentication. The only
 * libcrypto user. */
#include "guard.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "secret.h"

struct of_guard {
    size_t budget;
    unsigned char *key; /* NULL: authentication off */
    size_t key_len;
};

/* ---- the budget ---- */

/* A configured byte count, or dflt when absent or not a positive decimal number. */
static size_t prop_size(const char *v, size_t dflt)
{
    if (!v || !*v) return dflt;
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || !end || *end || n == 0 || n > SIZE_MAX) return dflt;
    return (size_t)n;
}

static const char *kv_get(const of_kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].key, key) == 0) return l->items[i].value;
    return NULL;
}

size_t of_guard_budget_for(const of_config *cfg)
{
    size_t client = prop_size(kv_get(&cfg->kafka.properties, "message.max.bytes"),
                              OF_KAFKA_MESSAGE_MAX_DEFAULT);
    size_t topic =
        prop_size(kv_get(&cfg->topics.configs, "max.message.bytes"), OF_TOPIC_MESSAGE_MAX_DEFAULT);
    size_t m = client < topic ? client : topic;
    /* librdkafka's minimum message.max.bytes is 1000: keep half for the framing there. */
    return m > 2 * OF_GUARD_RESERVE ? m - OF_GUARD_RESERVE : m / 2;
}

/* ---- creation ---- */

static of_err set_key(of_guard *g, const char *key, char *errstr, size_t errstr_size)
{
    size_t len = strlen(key);
    if (len < OF_GUARD_KEY_MIN)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "the fleet key is %zu characters; use at least %d (e.g. openssl rand "
                         "-hex 32)",
                         len, OF_GUARD_KEY_MIN);
    g->key = malloc(len);
    if (!g->key) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    memcpy(g->key, key, len);
    g->key_len = len;
    return OF_OK;
}

of_err of_guard_new_raw(size_t budget, const char *key, of_guard **out, char *errstr,
                        size_t errstr_size)
{
    *out = NULL;
    of_guard *g = calloc(1, sizeof *g);
    if (!g) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    g->budget = budget ? budget : OF_KAFKA_MESSAGE_MAX_DEFAULT - OF_GUARD_RESERVE;
    if (key) {
        of_err rc = set_key(g, key, errstr, errstr_size);
        if (rc) {
            of_guard_free(g);
            return rc;
        }
    }
    *out = g;
    return OF_OK;
}

of_err of_guard_new(const of_config *cfg, const char *key_override, of_guard **out, char *errstr,
                    size_t errstr_size)
{
    *out = NULL;
    char *key = NULL;
    of_err rc = OF_OK;
    if (!key_override) {
        static const of_secret_source src = {
            .setting = "security.fleet_key_file",
            .env = OF_GUARD_KEY_ENV,
            .what = "fleet key",
            .optional = true,
        };
        rc = of_secret_load(&src, cfg->security.fleet_key_file, &key, errstr, errstr_size);
        if (rc) return rc;
    }
    const char *k = key_override ? key_override : key;
    rc = of_guard_new_raw(of_guard_budget_for(cfg), k && *k ? k : NULL, out, errstr, errstr_size);
    of_secret_free(key);
    return rc;
}

void of_guard_free(of_guard *g)
{
    if (!g) return;
    if (g->key) {
        OPENSSL_cleanse(g->key, g->key_len);
        free(g->key);
    }
    free(g);
}

size_t of_guard_budget(const of_guard *g)
{
    return g->budget;
}

size_t of_guard_request_max(const of_guard *g)
{
    size_t room =
        g->budget / 2 < OF_GUARD_REQUEST_HEADROOM ? g->budget / 2 : OF_GUARD_REQUEST_HEADROOM;
    return g->budget - room;
}

bool of_guard_auth_on(const of_guard *g)
{
    return g->key != NULL;
}

/* ---- authentication ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Lengths are framed so (topic "a", key "bc") and (topic "ab", key "c") differ. */
static void be64(uint64_t v, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* HMAC-SHA256 over "octofleet-auth/1", then each part as an 8-byte big-endian length and its
 * bytes. Returns false only if libcrypto fails (out of memory). */
static bool mac(const of_guard *g, const char *topic, const void *key, size_t key_len,
                const void *value, size_t value_len, unsigned char out[32])
{
    static const char domain[] = "octofleet-auth/1";
    const void *parts[4] = {domain, topic, key, value};
    size_t lens[4] = {sizeof domain - 1, strlen(topic), key ? key_len : 0, value ? value_len : 0};
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end()};
    bool ok = ctx && EVP_MAC_init(ctx, g->key, g->key_len, params) == 1;
    for (size_t i = 0; ok && i < 4; i++) {
        unsigned char len8[8];
        be64(lens[i], len8);
        ok = EVP_MAC_update(ctx, len8, sizeof len8) == 1 &&
             (lens[i] == 0 || EVP_MAC_update(ctx, parts[i], lens[i]) == 1);
    }
    size_t outl = 0;
    ok = ok && EVP_MAC_final(ctx, out, &outl, 32) == 1 && outl == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok;
}

void of_guard_sign(const of_guard *g, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t value_len, char out[OF_GUARD_TAG_SIZE])
{
    out[0] = '\0';
    unsigned char d[32];
    if (!g->key || !mac(g, topic, key, key_len, value, value_len, d)) return;
    memcpy(out, "v1:", 3);
    hex(d, sizeof d, out + 3);
}

of_err of_guard_verify(const of_guard *g, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t value_len, const void *tag, size_t tag_len,
                       char *errstr, size_t errstr_size)
{
    if (!g->key) return OF_OK;
    if (!tag)
        return of_seterr(errstr, errstr_size, OF_ERR_AUTH,
                         "not authenticated: no " OF_GUARD_AUTH_HEADER " header");
    char want[OF_GUARD_TAG_SIZE];
    of_guard_sign(g, topic, key, key_len, value, value_len, want);
    if (!want[0]) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    if (tag_len != OF_GUARD_TAG_SIZE - 1 || CRYPTO_memcmp(tag, want, tag_len) != 0)
        return of_seterr(errstr, errstr_size, OF_ERR_AUTH,
                         "not authenticated: the " OF_GUARD_AUTH_HEADER
                         " tag does not match (forged, altered, moved from another topic, or "
                         "signed with another fleet key)");
    return OF_OK;
}

/* ---- sizes ---- */

size_t of_guard_dlq_keep(const of_guard *g, size_t key_len, size_t value_len)
{
    size_t room = key_len < g->budget ? g->budget - key_len : 0;
    return value_len <= room ? value_len : room;
}

void of_sha256_hex(const void *data, size_t len, char out[OF_SHA256_HEX_SIZE])
{
    unsigned char d[32];
    unsigned int n = 0;
    if (EVP_Digest(len ? data : "", len, d, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        out[0] = '\0';
        return;
    }
    hex(d, sizeof d, out);
}
