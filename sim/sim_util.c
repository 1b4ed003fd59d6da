/* Small helpers for the simulator: a string map, strings, times, JSON. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "clock.h"
#include "sim_int.h"

/* The simulator is a test tool: running out of memory is not a case worth
 * threading through every renderer, so allocation failure aborts loudly. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    OF_ASSERT(p != NULL);
    return p;
}

const char *sim_unknown_key(json_t *obj, const char *const *allowed, bool comments)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        bool ok = comments && key[0] == '_';
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) return key;
    }
    return NULL;
}

char *sim_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

of_err sim_vfxerr(char *errstr, size_t errsz, const char *path, const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return of_seterr(errstr, errsz, OF_ERR_CONFIG, "fixture %s: %s", path, msg);
}

void sim_pathf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

char *sim_strfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    OF_ASSERT(n >= 0);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

char *sim_slug(const char *name)
{
    size_t n = strlen(name);
    char *out = xmalloc(n + 1);
    size_t o = 0;
    bool dash = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c)) {
            if (dash && o > 0) out[o++] = '-';
            dash = false;
            out[o++] = (char)tolower(c);
        } else {
            dash = true;
        }
    }
    out[o] = '\0';
    return out;
}

bool sim_icontains(const char *hay, const char *needle)
{
    if (!needle || !*needle) return true;
    if (!hay) return false;
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return false;
}

int sim_namecmp(const char *a, const char *b)
{
    int c = strcasecmp(a, b);
    return c ? c : strcmp(a, b);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void sim_pct_decode(char *s, bool plus_is_space)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else if (*p == '+' && plus_is_space) {
            *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* The one percent-encoder (of_buf_append_pct), keeping ',' literal as Octopus does in its
 * Links ("ids=ServerTasks-1,ServerTasks-2"). */
of_err sim_pct_encode(const char *s, char *out, size_t out_size)
{
    if (!out_size) return OF_ERR_TOO_LARGE;
    of_buf b;
    of_buf_init(&b, out_size - 1);
    of_err rc = of_buf_append_pct(&b, s, ",");
    if (!rc && b.len)
        memcpy(out, b.data, b.len + 1);
    else
        out[0] = '\0';
    of_buf_clear(&b);
    return rc;
}

/* Octopus writes offsets as "+00:00"; clients must parse that, so we do too. */
void sim_fmt_time(int64_t wall_ms, char *out, size_t out_size)
{
    char z[40];
    of_rfc3339(wall_ms, z, sizeof z);
    size_t n = strlen(z);
    if (n > 0 && z[n - 1] == 'Z') z[n - 1] = '\0';
    snprintf(out, out_size, "%s+00:00", z);
}

json_t *sim_json_time(int64_t wall_ms)
{
    if (wall_ms <= 0) return json_null();
    char buf[48];
    sim_fmt_time(wall_ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *sim_json_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

int64_t sim_rand_range(uint64_t *state, int64_t lo, int64_t hi)
{
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(of_rand_next(state) % span);
}

/* ---- string map -------------------------------------------------------- */

static uint64_t hash_ci(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over lower-cased bytes */
    for (; *s; s++) {
        h ^= (uint64_t)(unsigned char)tolower((unsigned char)*s);
        h *= 1099511628211ULL;
    }
    return h;
}

int sim_strmap_get(const sim_strmap *m, const char *key)
{
    if (!m->cap || !key) return -1;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)hash_ci(key) & mask;; i = (i + 1) & mask) {
        if (!m->keys[i]) return -1;
        if (strcasecmp(m->keys[i], key) == 0) return m->vals[i];
    }
}

static void strmap_insert(sim_strmap *m, char *key, int val)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_ci(key) & mask;
    while (m->keys[i])
        i = (i + 1) & mask;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

of_err sim_strmap_put(sim_strmap *m, const char *key, int val)
{
    if (!key || sim_strmap_get(m, key) >= 0) return OF_ERR_INVALID; /* none, or a duplicate */
    if ((m->n + 1) * 2 > m->cap) {                                  /* keep load <= 1/2 */
        sim_strmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 16;
        m->keys = calloc(m->cap, sizeof *m->keys);
        m->vals = calloc(m->cap, sizeof *m->vals);
        OF_ASSERT(m->keys && m->vals);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i]) strmap_insert(m, old.keys[i], old.vals[i]);
        free(old.keys);
        free(old.vals);
    }
    char *copy = sim_strdup(key);
    OF_ASSERT(copy); /* key is not NULL; says so to the optimiser too */
    strmap_insert(m, copy, val);
    return OF_OK;
}

void sim_strmap_clear(sim_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- task states --------------------------------------------------------- */

static const char *const tstate_names[SIM_TSTATE__COUNT] = {
    [SIM_QUEUED] = "Queued",     [SIM_EXECUTING] = "Executing", [SIM_CANCELLING] = "Cancelling",
    [SIM_SUCCESS] = "Success",   [SIM_FAILED] = "Failed",       [SIM_CANCELED] = "Canceled",
    [SIM_TIMEDOUT] = "TimedOut",
};

const char *sim_tstate_name(sim_tstate s)
{
    return (unsigned)s < SIM_TSTATE__COUNT ? tstate_names[s] : "Unknown";
}

int sim_tstate_parse(const char *s)
{
    for (int i = 0; i < SIM_TSTATE__COUNT; i++)
        if (strcasecmp(s, tstate_names[i]) == 0) return i;
    return -1;
}

bool sim_tstate_done(sim_tstate s)
{
    return s == SIM_SUCCESS || s == SIM_FAILED || s == SIM_CANCELED || s == SIM_TIMEDOUT;
}
